-- kv.set_node sets this node's identity.  Only while no document is
-- stored: the id is the origin of every version this node has written.
CREATE FUNCTION kv.set_node(node_id integer, node_name text, zone_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
    n bigint;
BEGIN
    IF node_id IS NULL OR node_id < 1 THEN
        RAISE EXCEPTION 'node id must be a positive integer' USING ERRCODE = 'GK009';
    END IF;
    IF coalesce(node_name, '') = '' OR coalesce(zone_name, '') = '' THEN
        RAISE EXCEPTION 'node and zone names must not be empty' USING ERRCODE = 'GK010';
    END IF;
    IF (SELECT g.node_id FROM globalkv.node g) <> set_node.node_id THEN
        FOR t IN SELECT table_name FROM globalkv.shards LOOP
            EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM globalkv_data.%I LIMIT 1) s', t) INTO n;
            IF n > 0 THEN
                RAISE EXCEPTION 'cannot change the id of a node that stores documents'
                    USING ERRCODE = 'GK012';
            END IF;
        END LOOP;
    END IF;
    UPDATE globalkv.node g
       SET node_id = set_node.node_id, node_name = set_node.node_name,
           zone_name = set_node.zone_name;
END
$fn$;
