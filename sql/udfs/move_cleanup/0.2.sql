-- Step 6, on the source: forget the shard (its rows now live on the
-- target).  Refused while this node holds the shard or a move from it is
-- still draining.
CREATE FUNCTION globalkv.move_cleanup(p_shard integer)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    me integer := (SELECT node_id FROM globalkv.node);
    z text := (SELECT zone_name FROM globalkv.nodes WHERE node_id = me AND NOT dropped);
    t text;
    n bigint;
BEGIN
    IF (SELECT node_id FROM globalkv.placement_map WHERE shard_id = p_shard AND zone_name = z) = me THEN
        RAISE EXCEPTION 'this node holds shard %', p_shard USING ERRCODE = 'GK012';
    END IF;
    IF EXISTS (SELECT 1 FROM globalkv.shard_moves
                WHERE shard_id = p_shard AND zone_name = z AND NOT dropped AND source_node = me) THEN
        RAISE EXCEPTION 'the move of shard % from this node is not complete', p_shard
            USING ERRCODE = 'GK012';
    END IF;
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = p_shard;
    EXECUTE format('SELECT count(*) FROM globalkv_data.%I', t) INTO n;
    EXECUTE format('TRUNCATE globalkv_data.%I', t);
    DELETE FROM globalkv.peer_cursors WHERE shard_id = p_shard;
    DELETE FROM globalkv.peer_acks WHERE shard_id = p_shard;
    RAISE LOG 'globalkv: removed % rows of shard %, which moved away', n, p_shard;
    RETURN n;
END
$fn$;
