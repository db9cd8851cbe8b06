-- kv.init_shards, as in 0.1, and it forgets placements and moves of the
-- old shard layout.
CREATE OR REPLACE FUNCTION kv.init_shards(shard_count integer)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
    n bigint;
BEGIN
    IF shard_count IS NULL OR shard_count < 1 OR shard_count > 4096 THEN
        RAISE EXCEPTION 'shard count must be between 1 and 4096'
            USING ERRCODE = 'GK009';
    END IF;
    -- lock out every writer first, so "empty" stays true until we commit
    FOR t IN SELECT table_name FROM globalkv.shards ORDER BY shard_id LOOP
        EXECUTE format('LOCK TABLE globalkv_data.%I IN ACCESS EXCLUSIVE MODE', t);
    END LOOP;
    FOR t IN SELECT table_name FROM globalkv.shards ORDER BY shard_id LOOP
        EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM globalkv_data.%I LIMIT 1) s', t) INTO n;
        IF n > 0 THEN
            RAISE EXCEPTION 'cannot change the shard count of a node that stores documents'
                USING ERRCODE = 'GK012',
                      DETAIL = format('Shard table %s is not empty.', t);
        END IF;
    END LOOP;
    FOR t IN SELECT table_name FROM globalkv.shards LOOP
        -- tables made by CREATE EXTENSION belong to it: detach, then drop
        IF EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = format('globalkv_data.%I', t)::regclass
                      AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e') THEN
            EXECUTE format('ALTER EXTENSION globalkv DROP TABLE globalkv_data.%I', t);
        END IF;
        EXECUTE format('DROP TABLE globalkv_data.%I', t);
    END LOOP;
    DELETE FROM globalkv.shards;
    DELETE FROM globalkv.placements;
    DELETE FROM globalkv.shard_moves;
    FOR i IN 0 .. shard_count - 1 LOOP
        PERFORM globalkv.create_shard_table(i, shard_count);
    END LOOP;
    RETURN shard_count;
END
$fn$;
