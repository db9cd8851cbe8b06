-- setup: helpers shared by the regression tests (they run in one database,
-- in schedule order).  try() runs a statement and reports its SQLSTATE and
-- message instead of aborting, so each error's code is part of the
-- expected output.
CREATE FUNCTION public.try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- rows stored for a namespace, across all shard tables, tombstones included
CREATE FUNCTION public.stored_rows(ns text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    t text;
    n bigint;
    total bigint := 0;
BEGIN
    FOR t IN SELECT table_name FROM globalkv.shards LOOP
        EXECUTE format('SELECT count(*) FROM globalkv_data.%I WHERE namespace = $1', t)
            INTO n USING ns;
        total := total + n;
    END LOOP;
    RETURN total;
END
$$;

SELECT extname, extversion FROM pg_extension WHERE extname = 'globalkv';
SELECT node_id, node_name, zone_name, shard_count FROM kv.node;
SELECT name FROM kv.namespaces ORDER BY name;
SELECT name, ttl FROM kv.expiry_policies ORDER BY name;
