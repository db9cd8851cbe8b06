-- globalkv.verify_fetch: the stored state of some keys of a shard, as a jsonb
-- array of rows that globalkv.verify_apply takes on another node (kv.repair,
-- src/operations/anti_entropy.c).  keys: [[namespace, key], ...].
CREATE FUNCTION globalkv.verify_fetch(shard integer, keys jsonb)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text := (SELECT table_name FROM globalkv.shards s WHERE s.shard_id = shard);
    result jsonb;
BEGIN
    IF t IS NULL OR jsonb_typeof(keys) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'invalid verify request: shard %', shard USING ERRCODE = 'GK009';
    END IF;
    EXECUTE format(
        'SELECT coalesce(jsonb_agg(jsonb_build_object(''namespace'', d.namespace, ''key'', d.key,'
        '           ''value'', d.value, ''hlc'', d.hlc, ''origin'', d.origin,'
        '           ''expires_at'', d.expires_at, ''crdt'', encode(d.crdt, ''hex''))), ''[]'')'
        '  FROM globalkv_data.%I d'
        '  JOIN jsonb_array_elements($1) k ON d.namespace = k->>0 AND d.key = k->>1', t)
    INTO result USING keys;
    RETURN result;
END
$fn$;
