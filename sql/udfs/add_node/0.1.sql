-- kv.add_node adds a node to the parade (or changes its name, zone or
-- connection string).  Made on any node, the change reaches every node, and
-- each starts replicating from the new node within seconds.
CREATE FUNCTION kv.add_node(node_id integer, node_name text, zone_name text, conninfo text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
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
    v := globalkv.stamp();
    INSERT INTO globalkv.nodes AS n (node_id, node_name, zone_name, conninfo, hlc, origin, seq, dropped)
    VALUES (add_node.node_id, add_node.node_name, add_node.zone_name, add_node.conninfo,
            v, (SELECT g.node_id FROM globalkv.node g), v, false)
    ON CONFLICT ON CONSTRAINT nodes_pkey DO UPDATE
       SET node_name = EXCLUDED.node_name, zone_name = EXCLUDED.zone_name,
           conninfo = EXCLUDED.conninfo, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
           seq = EXCLUDED.seq, dropped = false;
END
$fn$;
