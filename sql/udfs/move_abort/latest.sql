-- Roll back a move that has not switched, on the target: stop copying and
-- drop what was copied.  After the switch a move can only be finished (or
-- followed by a move back).
CREATE FUNCTION globalkv.move_abort(p_shard integer)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    me integer := (SELECT node_id FROM globalkv.node);
    z text := (SELECT zone_name FROM globalkv.nodes WHERE node_id = me AND NOT dropped);
    mv record;
    t text;
    v bigint;
BEGIN
    SELECT * INTO mv FROM globalkv.shard_moves
     WHERE shard_id = p_shard AND zone_name = z AND NOT dropped FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF mv.target_node <> me THEN
        RAISE EXCEPTION 'the move of shard % goes to node %, not this node', p_shard, mv.target_node
            USING ERRCODE = 'GK009';
    END IF;
    IF mv.state <> 'copying' THEN
        RAISE EXCEPTION 'the move of shard % has switched and cannot be rolled back', p_shard
            USING ERRCODE = 'GK012',
                  HINT = 'Finish it (run the same move again), then move the shard back if needed.';
    END IF;
    v := globalkv.stamp();
    UPDATE globalkv.shard_moves SET dropped = true, hlc = v, origin = me, seq = v
     WHERE shard_id = p_shard AND zone_name = z;
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = p_shard;
    EXECUTE format('TRUNCATE globalkv_data.%I', t);
    DELETE FROM globalkv.peer_cursors WHERE shard_id = p_shard;
    DELETE FROM globalkv.peer_acks WHERE shard_id = p_shard;
    RAISE LOG 'globalkv: move of shard % from node % rolled back', p_shard, mv.source_node;
END
$fn$;
