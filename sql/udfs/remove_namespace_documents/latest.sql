-- globalkv.remove_namespace_documents physically removes a dropped
-- namespace's documents from this node's shards; returns the row count.
CREATE FUNCTION globalkv.remove_namespace_documents(ns text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
    n bigint;
    total bigint := 0;
BEGIN
    FOR t IN SELECT table_name FROM globalkv.shards ORDER BY shard_id LOOP
        EXECUTE format('DELETE FROM globalkv_data.%I WHERE namespace = $1', t) USING ns;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END LOOP;
    RETURN total;
END
$fn$;
