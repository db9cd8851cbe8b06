-- globalkv.lock_shards_against_writes takes a SHARE lock on every shard
-- table: it waits for writers in flight, and holds new ones until commit.
CREATE FUNCTION globalkv.lock_shards_against_writes()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT table_name FROM globalkv.shards ORDER BY shard_id LOOP
        EXECUTE format('LOCK TABLE globalkv_data.%I IN SHARE MODE', t);
    END LOOP;
END
$fn$;
