-- kv.add_node, as in 0.1, and: when a node joins a zone that already has
-- nodes, the zone's current default placements are written down first,
-- so that the newcomer (even with a smaller id) takes no shard until a
-- move or rebalance gives it one.
CREATE OR REPLACE FUNCTION kv.add_node(node_id integer, node_name text, zone_name text, conninfo text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
    me integer := (SELECT g.node_id FROM globalkv.node g);
BEGIN
    IF node_id IS NULL OR node_id < 1 THEN
        RAISE EXCEPTION 'node id must be a positive integer' USING ERRCODE = 'GK009';
    END IF;
    PERFORM globalkv.check_name('node', node_name);
    PERFORM globalkv.check_name('zone', zone_name);
    IF coalesce(conninfo, '') = '' THEN
        RAISE EXCEPTION 'node connection string must not be empty' USING ERRCODE = 'GK009';
    END IF;
    PERFORM 1 FROM globalkv.nodes n
     WHERE n.node_name = add_node.node_name AND n.node_id <> add_node.node_id AND NOT n.dropped;
    IF FOUND THEN
        RAISE EXCEPTION 'another node is already named "%"', node_name USING ERRCODE = 'GK011';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM globalkv.nodes n WHERE n.node_id = add_node.node_id AND NOT n.dropped)
       AND EXISTS (SELECT 1 FROM globalkv.nodes n WHERE n.zone_name = add_node.zone_name AND NOT n.dropped)
    THEN
        v := globalkv.stamp();
        INSERT INTO globalkv.placements AS p (shard_id, zone_name, node_id, hlc, origin, seq, dropped)
        SELECT m.shard_id, m.zone_name, m.node_id, v, me, v, false
          FROM globalkv.placement_map m
         WHERE m.zone_name = add_node.zone_name
        ON CONFLICT ON CONSTRAINT placements_pkey DO UPDATE
           SET node_id = EXCLUDED.node_id, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
               seq = EXCLUDED.seq, dropped = false
         WHERE p.dropped;
    END IF;
    v := globalkv.stamp();
    INSERT INTO globalkv.nodes AS n (node_id, node_name, zone_name, conninfo, hlc, origin, seq, dropped)
    VALUES (add_node.node_id, add_node.node_name, add_node.zone_name, add_node.conninfo,
            v, me, v, false)
    ON CONFLICT ON CONSTRAINT nodes_pkey DO UPDATE
       SET node_name = EXCLUDED.node_name, zone_name = EXCLUDED.zone_name,
           conninfo = EXCLUDED.conninfo, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
           seq = EXCLUDED.seq, dropped = false;
END
$fn$;
