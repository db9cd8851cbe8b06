-- Step 3, on the target, once it has pulled the fenced shard to last_seq:
-- take over the source's cursors for the shard, make this node the
-- shard's holder in its zone, and mark the move "switched".  Returns the
-- new placement's stream key for copying it to the source at once.
CREATE FUNCTION globalkv.move_switch(p_shard integer, p_source integer, p_cursors jsonb)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    me integer := (SELECT node_id FROM globalkv.node);
    z text := (SELECT zone_name FROM globalkv.nodes WHERE node_id = me AND NOT dropped);
    mv record;
    v bigint;
BEGIN
    SELECT * INTO mv FROM globalkv.shard_moves
     WHERE shard_id = p_shard AND zone_name = z AND NOT dropped FOR UPDATE;
    IF NOT FOUND OR mv.target_node <> me OR mv.source_node <> p_source THEN
        RAISE EXCEPTION 'no move of shard % from node % to this node', p_shard, p_source
            USING ERRCODE = 'GK009';
    END IF;
    IF mv.state = 'copying' THEN
        INSERT INTO globalkv.peer_cursors AS c (peer_node_id, shard_id, cursor, updated_at)
        SELECT e.key::integer, p_shard, e.value::bigint, now()
          FROM jsonb_each_text(p_cursors) e
         WHERE e.key::integer NOT IN (me, p_source)
        ON CONFLICT (peer_node_id, shard_id) DO UPDATE
           SET cursor = greatest(c.cursor, EXCLUDED.cursor), updated_at = now();
        v := globalkv.stamp();
        INSERT INTO globalkv.placements AS p (shard_id, zone_name, node_id, hlc, origin, seq, dropped)
        VALUES (p_shard, z, me, v, me, v, false)
        ON CONFLICT ON CONSTRAINT placements_pkey DO UPDATE
           SET node_id = EXCLUDED.node_id, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
               seq = EXCLUDED.seq, dropped = false;
        v := globalkv.stamp();
        UPDATE globalkv.shard_moves SET state = 'switched', hlc = v, origin = me, seq = v
         WHERE shard_id = p_shard AND zone_name = z;
        RAISE LOG 'globalkv: shard % of zone "%" switched from node % to this node', p_shard, z, p_source;
    END IF;
    RETURN p_shard || '/' || z;
END
$fn$;
