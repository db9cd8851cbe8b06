-- Step 4, on the source after the switch: wait out writers that started
-- before this node learned of the switch, and return the shard's last
-- change sequence here; the move is drained when the target's cursor on
-- this node has reached it.
CREATE FUNCTION globalkv.move_drain_point(p_shard integer)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    me integer := (SELECT node_id FROM globalkv.node);
    z text := (SELECT zone_name FROM globalkv.nodes WHERE node_id = me AND NOT dropped);
    t text;
    last bigint;
BEGIN
    IF (SELECT node_id FROM globalkv.placement_map WHERE shard_id = p_shard AND zone_name = z) = me THEN
        RAISE EXCEPTION 'this node still holds shard %', p_shard USING ERRCODE = 'GK012';
    END IF;
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = p_shard;
    EXECUTE format('LOCK TABLE globalkv_data.%I IN SHARE MODE', t);
    EXECUTE format('SELECT coalesce(max(seq), 0) FROM globalkv_data.%I', t) INTO last;
    RETURN last;
END
$fn$;
