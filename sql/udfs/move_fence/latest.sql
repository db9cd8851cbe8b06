-- Step 2, on the source, in a transaction the mover keeps open: block
-- writes to the shard (readers go on), and return the last change
-- sequence of the shard and this node's cursors for it.  While fenced,
-- a pull of this shard reads to its end without waiting for the clock
-- horizon (no write of it can be in flight).
CREATE FUNCTION globalkv.move_fence(p_shard integer, OUT last_seq bigint, OUT cursors jsonb)
RETURNS record
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
BEGIN
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = p_shard;
    IF t IS NULL THEN
        RAISE EXCEPTION 'shard % does not exist', p_shard USING ERRCODE = 'GK009';
    END IF;
    EXECUTE format('LOCK TABLE globalkv_data.%I IN SHARE MODE', t);
    PERFORM globalkv.fence_shard(p_shard);
    EXECUTE format('SELECT coalesce(max(seq), 0) FROM globalkv_data.%I', t) INTO last_seq;
    SELECT coalesce(jsonb_object_agg(c.peer_node_id::text, c.cursor), '{}'::jsonb) INTO cursors
      FROM globalkv.peer_cursors c WHERE c.shard_id = p_shard;
END
$fn$;
