-- globalkv.peer_cursor(peer, shard): how far this node has pulled the shard
-- from the peer (0: not at all).  The mover of kv.move_shard polls it on the
-- target while the fence stands; it is cheaper than move_progress, which
-- counts the rows.
CREATE FUNCTION globalkv.peer_cursor(p_peer integer, p_shard integer)
RETURNS bigint
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT coalesce(max(c.cursor), 0) FROM globalkv.peer_cursors c
     WHERE c.peer_node_id = p_peer AND c.shard_id = p_shard
$fn$;
