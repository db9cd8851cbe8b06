-- kv.set_placement puts shard s of node's zone on that node, everywhere.
-- It moves no data: the new holder pulls the shard from the old one like
-- from any peer, so reads on it miss documents until it has caught up.
-- For a parade being created; to move a shard holding data, use
-- `globalkv shard move` (docs/shard-moves.md).
CREATE FUNCTION kv.set_placement(shard_id integer, node_id integer)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    z text;
    v bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM globalkv.shards s WHERE s.shard_id = set_placement.shard_id) THEN
        RAISE EXCEPTION 'shard % does not exist', shard_id USING ERRCODE = 'GK009',
            HINT = format('Shards are numbered 0 to %s.', (SELECT count(*) - 1 FROM globalkv.shards));
    END IF;
    SELECT n.zone_name INTO z FROM globalkv.nodes n
     WHERE n.node_id = set_placement.node_id AND NOT n.dropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'node % is not in the parade', node_id USING ERRCODE = 'GK009';
    END IF;
    IF EXISTS (SELECT 1 FROM globalkv.shard_moves mv
                WHERE mv.shard_id = set_placement.shard_id AND mv.zone_name = z AND NOT mv.dropped) THEN
        RAISE EXCEPTION 'shard % of zone "%" is being moved', shard_id, z USING ERRCODE = 'GK012',
            HINT = 'Finish or roll back the move first (globalkv shard move).';
    END IF;
    v := globalkv.stamp();
    INSERT INTO globalkv.placements AS p (shard_id, zone_name, node_id, hlc, origin, seq, dropped)
    VALUES (set_placement.shard_id, z, set_placement.node_id, v,
            (SELECT g.node_id FROM globalkv.node g), v, false)
    ON CONFLICT ON CONSTRAINT placements_pkey DO UPDATE
       SET node_id = EXCLUDED.node_id, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
           seq = EXCLUDED.seq, dropped = false;
END
$fn$;
