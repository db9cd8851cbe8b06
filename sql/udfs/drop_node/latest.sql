-- kv.drop_node removes a node from the parade everywhere; every node stops
-- replicating from it.
CREATE FUNCTION kv.drop_node(node_id integer)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
BEGIN
    PERFORM 1 FROM globalkv.nodes n WHERE n.node_id = drop_node.node_id AND NOT n.dropped FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'node % is not in the parade', node_id USING ERRCODE = 'GK009';
    END IF;
    v := globalkv.stamp();
    UPDATE globalkv.nodes n
       SET dropped = true, hlc = v, origin = (SELECT g.node_id FROM globalkv.node g), seq = v
     WHERE n.node_id = drop_node.node_id;
    DELETE FROM globalkv.peer_cursors c WHERE c.peer_node_id = drop_node.node_id;
    DELETE FROM globalkv.peer_acks a WHERE a.peer_node_id = drop_node.node_id;
END
$fn$;
