-- globalkv.apply_catalog_row applies a replicated catalog row when its
-- version is newer than the local one; true when it changed something.
CREATE FUNCTION globalkv.apply_catalog_row(tbl text, k text, val jsonb,
                                           p_hlc bigint, p_origin integer)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    cur_hlc bigint;
    cur_origin integer;
    v bigint;
BEGIN
    IF tbl = 'namespaces' THEN
        SELECT hlc, origin INTO cur_hlc, cur_origin FROM globalkv.namespaces WHERE name = k FOR UPDATE;
    ELSIF tbl = 'expiry_policies' THEN
        SELECT hlc, origin INTO cur_hlc, cur_origin FROM globalkv.expiry_policies WHERE name = k FOR UPDATE;
    ELSIF tbl = 'nodes' THEN
        SELECT hlc, origin INTO cur_hlc, cur_origin FROM globalkv.nodes WHERE node_id = k::integer FOR UPDATE;
    ELSE
        RAISE EXCEPTION 'unknown catalog table "%" in the replication stream', tbl
            USING ERRCODE = 'XX001';
    END IF;
    IF FOUND AND (cur_hlc, cur_origin) >= (p_hlc, p_origin) THEN
        RETURN false;
    END IF;
    v := globalkv.stamp();
    IF tbl = 'namespaces' THEN
        INSERT INTO globalkv.namespaces AS t (name, created_at, hlc, origin, seq, dropped)
        VALUES (k, coalesce((val->>'created_at')::timestamptz, now()), p_hlc, p_origin, v, val IS NULL)
        ON CONFLICT ON CONSTRAINT namespaces_pkey DO UPDATE
           SET created_at = EXCLUDED.created_at, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
               seq = EXCLUDED.seq, dropped = EXCLUDED.dropped
         WHERE (t.hlc, t.origin) < (EXCLUDED.hlc, EXCLUDED.origin);
        IF val IS NULL THEN
            PERFORM globalkv.lock_shards_against_writes();
            PERFORM globalkv.remove_namespace_documents(k);
        END IF;
    ELSIF tbl = 'expiry_policies' THEN
        INSERT INTO globalkv.expiry_policies AS t (name, ttl, hlc, origin, seq, dropped)
        VALUES (k, (val->>'ttl')::interval, p_hlc, p_origin, v, val IS NULL)
        ON CONFLICT ON CONSTRAINT expiry_policies_pkey DO UPDATE
           SET ttl = EXCLUDED.ttl, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
               seq = EXCLUDED.seq, dropped = EXCLUDED.dropped
         WHERE (t.hlc, t.origin) < (EXCLUDED.hlc, EXCLUDED.origin);
    ELSE
        INSERT INTO globalkv.nodes AS t (node_id, node_name, zone_name, conninfo, hlc, origin, seq, dropped)
        VALUES (k::integer, coalesce(val->>'node_name', 'node' || k), coalesce(val->>'zone_name', 'unknown'),
                coalesce(val->>'conninfo', ''), p_hlc, p_origin, v, val IS NULL)
        ON CONFLICT ON CONSTRAINT nodes_pkey DO UPDATE
           SET node_name = CASE WHEN EXCLUDED.dropped THEN t.node_name ELSE EXCLUDED.node_name END,
               zone_name = CASE WHEN EXCLUDED.dropped THEN t.zone_name ELSE EXCLUDED.zone_name END,
               conninfo = CASE WHEN EXCLUDED.dropped THEN t.conninfo ELSE EXCLUDED.conninfo END,
               hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
               seq = EXCLUDED.seq, dropped = EXCLUDED.dropped
         WHERE (t.hlc, t.origin) < (EXCLUDED.hlc, EXCLUDED.origin);
    END IF;
    RETURN true;
END
$fn$;
