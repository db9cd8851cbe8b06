-- apply_catalog_row, as in 0.1, plus placements and shard moves.  Their
-- stream key is "<shard>/<zone>".
CREATE OR REPLACE FUNCTION globalkv.apply_catalog_row(tbl text, k text, val jsonb,
                                                      p_hlc bigint, p_origin integer)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    cur_hlc bigint;
    cur_origin integer;
    v bigint;
    k_shard integer;
    k_zone text;
BEGIN
    IF tbl IN ('placements', 'shard_moves') THEN
        k_shard := split_part(k, '/', 1)::integer;
        k_zone := substr(k, length(split_part(k, '/', 1)) + 2);
    END IF;
    IF tbl = 'namespaces' THEN
        SELECT hlc, origin INTO cur_hlc, cur_origin FROM globalkv.namespaces WHERE name = k FOR UPDATE;
    ELSIF tbl = 'expiry_policies' THEN
        SELECT hlc, origin INTO cur_hlc, cur_origin FROM globalkv.expiry_policies WHERE name = k FOR UPDATE;
    ELSIF tbl = 'nodes' THEN
        SELECT hlc, origin INTO cur_hlc, cur_origin FROM globalkv.nodes WHERE node_id = k::integer FOR UPDATE;
    ELSIF tbl = 'placements' THEN
        SELECT hlc, origin INTO cur_hlc, cur_origin FROM globalkv.placements
         WHERE shard_id = k_shard AND zone_name = k_zone FOR UPDATE;
    ELSIF tbl = 'shard_moves' THEN
        SELECT hlc, origin INTO cur_hlc, cur_origin FROM globalkv.shard_moves
         WHERE shard_id = k_shard AND zone_name = k_zone FOR UPDATE;
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
    ELSIF tbl = 'nodes' THEN
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
    ELSIF tbl = 'placements' THEN
        INSERT INTO globalkv.placements AS t (shard_id, zone_name, node_id, hlc, origin, seq, dropped)
        VALUES (k_shard, k_zone, coalesce((val->>'node_id')::integer, 1), p_hlc, p_origin, v, val IS NULL)
        ON CONFLICT ON CONSTRAINT placements_pkey DO UPDATE
           SET node_id = CASE WHEN EXCLUDED.dropped THEN t.node_id ELSE EXCLUDED.node_id END,
               hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
               seq = EXCLUDED.seq, dropped = EXCLUDED.dropped
         WHERE (t.hlc, t.origin) < (EXCLUDED.hlc, EXCLUDED.origin);
    ELSE
        INSERT INTO globalkv.shard_moves AS t (shard_id, zone_name, source_node, target_node, state,
                                               started_at, hlc, origin, seq, dropped)
        VALUES (k_shard, k_zone, coalesce((val->>'source_node')::integer, 1),
                coalesce((val->>'target_node')::integer, 2), coalesce(val->>'state', 'copying'),
                coalesce((val->>'started_at')::timestamptz, now()), p_hlc, p_origin, v, val IS NULL)
        ON CONFLICT ON CONSTRAINT shard_moves_pkey DO UPDATE
           SET source_node = CASE WHEN EXCLUDED.dropped THEN t.source_node ELSE EXCLUDED.source_node END,
               target_node = CASE WHEN EXCLUDED.dropped THEN t.target_node ELSE EXCLUDED.target_node END,
               state = CASE WHEN EXCLUDED.dropped THEN t.state ELSE EXCLUDED.state END,
               started_at = CASE WHEN EXCLUDED.dropped THEN t.started_at ELSE EXCLUDED.started_at END,
               hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
               seq = EXCLUDED.seq, dropped = EXCLUDED.dropped
         WHERE (t.hlc, t.origin) < (EXCLUDED.hlc, EXCLUDED.origin);
    END IF;
    RETURN true;
END
$fn$;
