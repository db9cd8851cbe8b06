-- globalkv.peer_needs_resync: did this node purge tombstones the peer had
-- not acknowledged?  Such a peer may hold documents those tombstones
-- deleted, so this node neither serves it incremental changes nor pulls
-- from it until it has resynced in full (kv.resync() on that peer).
CREATE FUNCTION globalkv.peer_needs_resync(peer integer)
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT EXISTS (SELECT 1 FROM globalkv.peer_acks a
                    WHERE a.peer_node_id = peer AND a.cursor < a.resync_below)
$fn$;
