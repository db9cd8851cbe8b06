-- globalkv.changes_part(namespace, shards[], cursors[], max_rows, wait_ms):
-- replication's pull (globalkv.pull, in full: no peer, nothing left out)
-- reduced to one namespace -- the rows of the listed shards with
-- cursor < seq <= the safe horizon, in seq order, then one row per shard
-- (key NULL) with its new cursor in seq; waits up to wait_ms for a change
-- when there is none.  What kv.changes asks of each node of its zone.  It
-- runs the pull as its owner: clients may not pull.
CREATE FUNCTION globalkv.changes_part(namespace text, shards integer[], cursors bigint[],
    max_rows integer, wait_ms integer,
    OUT shard integer, OUT seq bigint, OUT key text, OUT value jsonb, OUT hlc bigint,
    OUT origin integer, OUT expires_at timestamptz)
RETURNS SETOF record
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT p.shard, p.seq, p.key, p.value, p.hlc, p.origin, p.expires_at
      FROM globalkv.pull(0, true, shards, cursors, max_rows, wait_ms) p
     WHERE p.key IS NULL OR p.namespace = changes_part.namespace
$fn$;
