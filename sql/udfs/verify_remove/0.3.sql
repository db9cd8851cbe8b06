-- globalkv.verify_remove: kv.repair removes live documents that the other
-- side lacks and that are older than the newest tombstone the other side
-- purged in their shard (its purge horizon): a purged delete may have
-- removed them there, and copying them back would resurrect them
-- (docs/operations.md).  keys: [[namespace, key, hlc], ...]; a row is removed
-- only if it still has that version.  Removal writes no version, as a purge.
CREATE FUNCTION globalkv.verify_remove(shard integer, keys jsonb)
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text := (SELECT table_name FROM globalkv.shards s WHERE s.shard_id = shard);
    n bigint;
BEGIN
    IF t IS NULL OR jsonb_typeof(keys) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'invalid verify request: shard %', shard USING ERRCODE = 'GK009';
    END IF;
    EXECUTE format(
        'DELETE FROM globalkv_data.%I d USING jsonb_array_elements($1) k'
        ' WHERE d.namespace = k->>0 AND d.key = k->>1 AND d.hlc = (k->>2)::bigint', t)
    USING keys;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;
