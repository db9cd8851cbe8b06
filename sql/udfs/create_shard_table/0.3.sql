-- create_shard_table creates one shard's table; the column order is fixed
-- by src/include/globalkv.h (Anum_shard_*).  0.3: tombstones get a partial
-- index, so that the purge (src/expiry/tombstone_purge.c) finds them
-- without reading the whole table at every pass.
CREATE OR REPLACE FUNCTION globalkv.create_shard_table(p_shard_id integer, p_shard_count integer,
                                            p_in_create_extension boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tname text := format('shard_%s', lpad(p_shard_id::text, 4, '0'));
BEGIN
    EXECUTE format($ddl$
        CREATE TABLE globalkv_data.%1$I (
            namespace text COLLATE "C" NOT NULL,
            key text COLLATE "C" NOT NULL,
            value jsonb,
            hlc bigint NOT NULL,
            origin integer NOT NULL,
            expires_at timestamptz,
            crdt bytea,
            seq bigint NOT NULL,
            PRIMARY KEY (namespace, key)
        );
        CREATE INDEX %2$I ON globalkv_data.%1$I (seq);
        CREATE INDEX %3$I ON globalkv_data.%1$I (expires_at) WHERE expires_at IS NOT NULL;
        CREATE INDEX %4$I ON globalkv_data.%1$I (hlc) WHERE value IS NULL;
        $ddl$, tname, tname || '_seq', tname || '_expires_at', tname || '_tombstones');
    INSERT INTO globalkv.shards (shard_id, table_name, hash_min, hash_max)
    VALUES (p_shard_id, tname,
            ceil(p_shard_id * 4294967296.0 / p_shard_count)::bigint,
            ceil((p_shard_id + 1) * 4294967296.0 / p_shard_count)::bigint - 1);
    -- tables created by CREATE EXTENSION belong to it: have pg_dump dump
    -- their rows (tables created later are ordinary tables, dumped anyway)
    IF p_in_create_extension THEN
        PERFORM pg_catalog.pg_extension_config_dump(format('globalkv_data.%I', tname)::regclass, '');
    END IF;
END
$fn$;
