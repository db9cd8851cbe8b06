CREATE FUNCTION kv.create_namespace(name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
BEGIN
    PERFORM globalkv.check_name('namespace', name);
    PERFORM 1 FROM globalkv.namespaces n WHERE n.name = create_namespace.name AND NOT n.dropped;
    IF FOUND THEN
        RAISE EXCEPTION 'namespace "%" already exists', name USING ERRCODE = 'GK011';
    END IF;
    v := globalkv.stamp();
    INSERT INTO globalkv.namespaces AS n (name, created_at, hlc, origin, seq, dropped)
    VALUES (create_namespace.name, now(), v, (SELECT node_id FROM globalkv.node), v, false)
    ON CONFLICT ON CONSTRAINT namespaces_pkey DO UPDATE
       SET created_at = EXCLUDED.created_at, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
           seq = EXCLUDED.seq, dropped = false;
END
$fn$;
