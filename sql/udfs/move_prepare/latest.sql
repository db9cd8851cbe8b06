-- Step 1, on the target: record the move (state "copying"); from then on
-- the target's apply worker pulls the shard from the source, from
-- cursor 0.  Repeating it for the same move changes nothing (resume).
CREATE FUNCTION globalkv.move_prepare(p_shard integer, p_source integer)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    me integer := (SELECT node_id FROM globalkv.node);
    z text := (SELECT zone_name FROM globalkv.nodes WHERE node_id = me AND NOT dropped);
    src_zone text;
    holder integer;
    mv record;
    t text;
    v bigint;
BEGIN
    IF z IS NULL THEN
        RAISE EXCEPTION 'this node is not in a parade' USING ERRCODE = 'GK013';
    END IF;
    SELECT zone_name INTO src_zone FROM globalkv.nodes WHERE node_id = p_source AND NOT dropped;
    IF src_zone IS DISTINCT FROM z THEN
        RAISE EXCEPTION 'node % is not in zone "%"', p_source, z USING ERRCODE = 'GK009',
            HINT = 'A shard moves between nodes of one zone.';
    END IF;
    SELECT node_id INTO holder FROM globalkv.placement_map WHERE shard_id = p_shard AND zone_name = z;
    IF holder IS NULL THEN
        RAISE EXCEPTION 'shard % does not exist', p_shard USING ERRCODE = 'GK009';
    END IF;
    SELECT * INTO mv FROM globalkv.shard_moves WHERE shard_id = p_shard AND zone_name = z AND NOT dropped;
    IF FOUND THEN
        IF mv.source_node = p_source AND mv.target_node = me THEN
            RETURN mv.state;                       -- resuming
        END IF;
        RAISE EXCEPTION 'shard % of zone "%" is already moving from node % to node %',
            p_shard, z, mv.source_node, mv.target_node USING ERRCODE = 'GK012';
    END IF;
    IF holder <> p_source THEN
        RAISE EXCEPTION 'shard % of zone "%" is on node %, not on node %', p_shard, z, holder, p_source
            USING ERRCODE = 'GK009';
    END IF;
    -- start from nothing: whatever this node has of the shard is stale
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = p_shard;
    EXECUTE format('TRUNCATE globalkv_data.%I', t);
    DELETE FROM globalkv.peer_cursors WHERE shard_id = p_shard;
    DELETE FROM globalkv.peer_acks WHERE shard_id = p_shard;
    v := globalkv.stamp();
    INSERT INTO globalkv.shard_moves AS m (shard_id, zone_name, source_node, target_node, state,
                                           started_at, hlc, origin, seq, dropped)
    VALUES (p_shard, z, p_source, me, 'copying', now(), v, me, v, false)
    ON CONFLICT ON CONSTRAINT shard_moves_pkey DO UPDATE
       SET source_node = EXCLUDED.source_node, target_node = EXCLUDED.target_node,
           state = EXCLUDED.state, started_at = EXCLUDED.started_at, hlc = EXCLUDED.hlc,
           origin = EXCLUDED.origin, seq = EXCLUDED.seq, dropped = false;
    RAISE LOG 'globalkv: move of shard % (zone "%") from node % to this node started', p_shard, z, p_source;
    RETURN 'copying';
END
$fn$;
