-- kv.drop_namespace removes the namespace and all of its documents, on
-- every node of the parade; returns how many rows this node removed.
CREATE FUNCTION kv.drop_namespace(name text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
    total bigint;
BEGIN
    IF name = 'DEFAULT' THEN
        RAISE EXCEPTION 'namespace "DEFAULT" cannot be dropped' USING ERRCODE = 'GK012';
    END IF;
    PERFORM 1 FROM globalkv.namespaces n WHERE n.name = drop_namespace.name AND NOT n.dropped FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'namespace "%" does not exist', name USING ERRCODE = 'GK001';
    END IF;
    -- wait out writers in flight and hold new ones until we commit; they
    -- re-check the namespace once they get their table lock
    PERFORM globalkv.lock_shards_against_writes();
    v := globalkv.stamp();
    UPDATE globalkv.namespaces n
       SET dropped = true, hlc = v, origin = (SELECT node_id FROM globalkv.node), seq = v
     WHERE n.name = drop_namespace.name;
    total := globalkv.remove_namespace_documents(name);
    RAISE LOG 'globalkv: dropped namespace "%" with % rows', name, total;
    RETURN total;
END
$fn$;
