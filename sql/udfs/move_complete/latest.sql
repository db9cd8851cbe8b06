-- Step 5, on the target: the move is complete (it stops pulling the shard
-- from the source).
CREATE FUNCTION globalkv.move_complete(p_shard integer)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    me integer := (SELECT node_id FROM globalkv.node);
    z text := (SELECT zone_name FROM globalkv.nodes WHERE node_id = me AND NOT dropped);
    v bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM globalkv.shard_moves
                    WHERE shard_id = p_shard AND zone_name = z AND NOT dropped
                      AND state = 'switched' AND target_node = me) THEN
        RETURN;
    END IF;
    v := globalkv.stamp();
    UPDATE globalkv.shard_moves SET dropped = true, hlc = v, origin = me, seq = v
     WHERE shard_id = p_shard AND zone_name = z;
    RAISE LOG 'globalkv: move of shard % to this node complete', p_shard;
END
$fn$;
