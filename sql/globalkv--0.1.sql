/*
 * globalkv--0.1.sql
 *	  Install script of globalkv 0.1.  Never edit a released script: changes
 *	  go into an upgrade script globalkv--0.1--0.2.sql.
 *
 * Schemas:
 *	kv				the API: what applications call (role globalkv_client) and
 *					the catalog admin functions (role globalkv_admin)
 *	globalkv		the catalog: this node, shards, namespaces, expiry policies
 *	globalkv_data	one table per shard; nobody but the owner touches them
 */
\echo Use "CREATE EXTENSION globalkv" to load this file. \quit

-- ---------------------------------------------------------------------
-- Roles.  Roles are cluster-wide, so they may already exist from another
-- database; dropping the extension leaves them.
-- ---------------------------------------------------------------------
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'globalkv_client') THEN
        CREATE ROLE globalkv_client NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'globalkv_admin') THEN
        CREATE ROLE globalkv_admin NOLOGIN;
    END IF;
END
$roles$;
GRANT globalkv_client TO globalkv_admin;

CREATE SCHEMA kv;
CREATE SCHEMA globalkv;
CREATE SCHEMA globalkv_data;

-- ---------------------------------------------------------------------
-- Catalog
-- ---------------------------------------------------------------------

-- This node's identity.  node_id is the origin in every version this node
-- writes, so it must be unique across the parade.
CREATE TABLE globalkv.node (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    node_id integer NOT NULL CHECK (node_id BETWEEN 1 AND 2147483647),
    node_name text NOT NULL,
    zone_name text NOT NULL
);
INSERT INTO globalkv.node (node_id, node_name, zone_name) VALUES (1, 'node1', 'zone1');

-- Shards: equal ranges of the 32-bit key hash (src/common/gkv_hash.h).
CREATE TABLE globalkv.shards (
    shard_id integer PRIMARY KEY CHECK (shard_id >= 0),
    table_name text NOT NULL UNIQUE,
    hash_min bigint NOT NULL,
    hash_max bigint NOT NULL,
    CHECK (hash_min <= hash_max)
);

CREATE TABLE globalkv.namespaces (
    name text COLLATE "C" PRIMARY KEY
        CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$'),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
INSERT INTO globalkv.namespaces (name) VALUES ('DEFAULT');

-- ttl NULL: documents written under the policy never expire.
CREATE TABLE globalkv.expiry_policies (
    name text COLLATE "C" PRIMARY KEY
        CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$'),
    ttl interval CHECK (ttl IS NULL OR ttl > interval '0'),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
INSERT INTO globalkv.expiry_policies (name, ttl) VALUES ('NO_EXPIRE', NULL);

SELECT pg_catalog.pg_extension_config_dump('globalkv.node', '');
SELECT pg_catalog.pg_extension_config_dump('globalkv.shards', '');
SELECT pg_catalog.pg_extension_config_dump('globalkv.namespaces', '');
SELECT pg_catalog.pg_extension_config_dump('globalkv.expiry_policies', '');

-- Every backend caches the catalog; this trigger tells them to reload.
CREATE FUNCTION globalkv.catalog_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'gkv_catalog_changed' LANGUAGE C;
CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON globalkv.node FOR EACH STATEMENT EXECUTE FUNCTION globalkv.catalog_changed();
CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON globalkv.shards FOR EACH STATEMENT EXECUTE FUNCTION globalkv.catalog_changed();
CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON globalkv.namespaces FOR EACH STATEMENT EXECUTE FUNCTION globalkv.catalog_changed();
CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON globalkv.expiry_policies FOR EACH STATEMENT EXECUTE FUNCTION globalkv.catalog_changed();

-- ---------------------------------------------------------------------
-- Shard tables (docs/data-layout.md)
-- ---------------------------------------------------------------------

-- create_shard_table creates one shard's table; the column order is fixed
-- by src/include/globalkv.h (Anum_shard_*).
CREATE FUNCTION globalkv.create_shard_table(p_shard_id integer, p_shard_count integer)
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
        $ddl$, tname, tname || '_seq', tname || '_expires_at');
    INSERT INTO globalkv.shards (shard_id, table_name, hash_min, hash_max)
    VALUES (p_shard_id, tname,
            ceil(p_shard_id * 4294967296.0 / p_shard_count)::bigint,
            ceil((p_shard_id + 1) * 4294967296.0 / p_shard_count)::bigint - 1);
    -- tables created by CREATE EXTENSION belong to it: have pg_dump dump
    -- their rows (outside CREATE EXTENSION this raises, and is not needed)
    BEGIN
        PERFORM pg_catalog.pg_extension_config_dump(format('globalkv_data.%I', tname)::regclass, '');
    EXCEPTION WHEN object_not_in_prerequisite_state THEN
        NULL;
    END;
END
$fn$;

-- kv.init_shards(n) sets the number of shards.  Only while no document is
-- stored: shard boundaries move every key.
CREATE FUNCTION kv.init_shards(shard_count integer)
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
    FOR t IN SELECT table_name FROM globalkv.shards LOOP
        EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM globalkv_data.%I LIMIT 1) s', t) INTO n;
        IF n > 0 THEN
            RAISE EXCEPTION 'cannot change the shard count of a node that stores documents'
                USING ERRCODE = 'GK012',
                      DETAIL = format('Shard table %s is not empty.', t);
        END IF;
    END LOOP;
    FOR t IN SELECT table_name FROM globalkv.shards LOOP
        EXECUTE format('DROP TABLE globalkv_data.%I', t);
    END LOOP;
    DELETE FROM globalkv.shards;
    FOR i IN 0 .. shard_count - 1 LOOP
        PERFORM globalkv.create_shard_table(i, shard_count);
    END LOOP;
    RETURN shard_count;
END
$fn$;

SELECT globalkv.create_shard_table(i, 16) FROM generate_series(0, 15) AS i;

-- ---------------------------------------------------------------------
-- The document API (src/commands/api.c).  Reads and writes act on the
-- latest committed state plus the caller's own writes, whatever the
-- transaction's isolation level: they are VOLATILE for that reason.
-- ---------------------------------------------------------------------

CREATE FUNCTION kv.put(namespace text, key text, value text,
                       expiry_policy text DEFAULT 'NO_EXPIRE')
RETURNS text AS 'MODULE_PATHNAME', 'gkv_put' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.put(namespace text, key text, value jsonb,
                       expiry_policy text DEFAULT 'NO_EXPIRE')
RETURNS text AS 'MODULE_PATHNAME', 'gkv_put' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.put(namespace text, key text, value text, ttl_seconds bigint)
RETURNS text AS 'MODULE_PATHNAME', 'gkv_put_ttl' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.put(namespace text, key text, value jsonb, ttl_seconds bigint)
RETURNS text AS 'MODULE_PATHNAME', 'gkv_put_ttl' LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION kv.put_if_version(namespace text, key text, value text,
                                  expected_version text,
                                  expiry_policy text DEFAULT 'NO_EXPIRE')
RETURNS text AS 'MODULE_PATHNAME', 'gkv_put_if_version' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.put_if_version(namespace text, key text, value jsonb,
                                  expected_version text,
                                  expiry_policy text DEFAULT 'NO_EXPIRE')
RETURNS text AS 'MODULE_PATHNAME', 'gkv_put_if_version' LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION kv.get(namespace text, key text)
RETURNS jsonb AS 'MODULE_PATHNAME', 'gkv_get' LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION kv.get_versioned(namespace text, key text,
                                 OUT value jsonb, OUT version text,
                                 OUT expires_at timestamptz)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_get_versioned'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1;

CREATE FUNCTION kv.delete(namespace text, key text)
RETURNS boolean AS 'MODULE_PATHNAME', 'gkv_delete' LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION kv.patch_numeric(namespace text, key text, offsets text,
                                 expiry_policy text DEFAULT 'NO_EXPIRE')
RETURNS jsonb AS 'MODULE_PATHNAME', 'gkv_patch_numeric' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.patch_numeric(namespace text, key text, offsets jsonb,
                                 expiry_policy text DEFAULT 'NO_EXPIRE')
RETURNS jsonb AS 'MODULE_PATHNAME', 'gkv_patch_numeric' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.patch_numeric(namespace text, key text, offsets text, ttl_seconds bigint)
RETURNS jsonb AS 'MODULE_PATHNAME', 'gkv_patch_numeric_ttl' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.patch_numeric(namespace text, key text, offsets jsonb, ttl_seconds bigint)
RETURNS jsonb AS 'MODULE_PATHNAME', 'gkv_patch_numeric_ttl' LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION kv.put_many(namespace text, keys text[], "values" jsonb[],
                            expiry_policy text DEFAULT 'NO_EXPIRE',
                            OUT key text, OUT result text)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_put_many' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.put_many(namespace text, keys text[], "values" text[],
                            expiry_policy text DEFAULT 'NO_EXPIRE',
                            OUT key text, OUT result text)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_put_many' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.put_many(namespace text, keys text[], "values" jsonb[], ttl_seconds bigint,
                            OUT key text, OUT result text)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_put_many_ttl' LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION kv.get_many(namespace text, keys text[], OUT key text, OUT value jsonb)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_get_many' LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION kv.key_shard(namespace text, key text, OUT hash bigint, OUT shard integer)
RETURNS record AS 'MODULE_PATHNAME', 'gkv_key_shard' LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- ---------------------------------------------------------------------
-- Catalog administration (role globalkv_admin)
-- ---------------------------------------------------------------------

CREATE FUNCTION kv.create_namespace(name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid namespace name "%"', name
            USING ERRCODE = 'GK010',
                  DETAIL = 'Names have 1 to 63 characters: letters, digits, "_", "." and "-", not starting with "." or "-".';
    END IF;
    INSERT INTO globalkv.namespaces (name) VALUES (create_namespace.name);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'namespace "%" already exists', name USING ERRCODE = 'GK011';
END
$fn$;

-- kv.drop_namespace removes the namespace and all of its documents;
-- returns how many rows were removed.
CREATE FUNCTION kv.drop_namespace(name text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
    n bigint;
    total bigint := 0;
BEGIN
    IF name = 'DEFAULT' THEN
        RAISE EXCEPTION 'namespace "DEFAULT" cannot be dropped' USING ERRCODE = 'GK012';
    END IF;
    DELETE FROM globalkv.namespaces ns WHERE ns.name = drop_namespace.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'namespace "%" does not exist', name USING ERRCODE = 'GK001';
    END IF;
    FOR t IN SELECT table_name FROM globalkv.shards ORDER BY shard_id LOOP
        EXECUTE format('DELETE FROM globalkv_data.%I WHERE namespace = $1', t) USING name;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END LOOP;
    RAISE LOG 'globalkv: dropped namespace "%" with % rows', name, total;
    RETURN total;
END
$fn$;

CREATE FUNCTION kv.create_expiry_policy(name text, ttl interval)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid expiry policy name "%"', name
            USING ERRCODE = 'GK010',
                  DETAIL = 'Names have 1 to 63 characters: letters, digits, "_", "." and "-", not starting with "." or "-".';
    END IF;
    IF ttl IS NOT NULL AND ttl <= interval '0' THEN
        RAISE EXCEPTION 'expiry policy TTL must be positive, not %', ttl USING ERRCODE = 'GK009';
    END IF;
    INSERT INTO globalkv.expiry_policies (name, ttl) VALUES (create_expiry_policy.name, ttl);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'expiry policy "%" already exists', name USING ERRCODE = 'GK011';
END
$fn$;

-- kv.alter_expiry_policy changes the TTL used by later writes; documents
-- already written keep the expiry time they were given.
CREATE FUNCTION kv.alter_expiry_policy(name text, ttl interval)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF name = 'NO_EXPIRE' THEN
        RAISE EXCEPTION 'expiry policy "NO_EXPIRE" cannot be changed' USING ERRCODE = 'GK012';
    END IF;
    IF ttl IS NOT NULL AND ttl <= interval '0' THEN
        RAISE EXCEPTION 'expiry policy TTL must be positive, not %', ttl USING ERRCODE = 'GK009';
    END IF;
    UPDATE globalkv.expiry_policies p SET ttl = alter_expiry_policy.ttl
     WHERE p.name = alter_expiry_policy.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'expiry policy "%" does not exist', name USING ERRCODE = 'GK002';
    END IF;
END
$fn$;

CREATE FUNCTION kv.drop_expiry_policy(name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF name = 'NO_EXPIRE' THEN
        RAISE EXCEPTION 'expiry policy "NO_EXPIRE" cannot be dropped' USING ERRCODE = 'GK012';
    END IF;
    DELETE FROM globalkv.expiry_policies p WHERE p.name = drop_expiry_policy.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'expiry policy "%" does not exist', name USING ERRCODE = 'GK002';
    END IF;
END
$fn$;

-- kv.set_node sets this node's identity.  Only while no document is
-- stored: the id is the origin of every version this node has written.
CREATE FUNCTION kv.set_node(node_id integer, node_name text, zone_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
    n bigint;
BEGIN
    IF node_id IS NULL OR node_id < 1 THEN
        RAISE EXCEPTION 'node id must be a positive integer' USING ERRCODE = 'GK009';
    END IF;
    IF coalesce(node_name, '') = '' OR coalesce(zone_name, '') = '' THEN
        RAISE EXCEPTION 'node and zone names must not be empty' USING ERRCODE = 'GK010';
    END IF;
    IF (SELECT g.node_id FROM globalkv.node g) <> set_node.node_id THEN
        FOR t IN SELECT table_name FROM globalkv.shards LOOP
            EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM globalkv_data.%I LIMIT 1) s', t) INTO n;
            IF n > 0 THEN
                RAISE EXCEPTION 'cannot change the id of a node that stores documents'
                    USING ERRCODE = 'GK012';
            END IF;
        END LOOP;
    END IF;
    UPDATE globalkv.node g
       SET node_id = set_node.node_id, node_name = set_node.node_name,
           zone_name = set_node.zone_name;
END
$fn$;

-- globalkv.shard_rows() lists every stored row of every shard on this node,
-- tombstones and expired rows included: for operators, digests and tests.
CREATE FUNCTION globalkv.shard_rows(
    OUT shard_id integer, OUT namespace text, OUT key text, OUT value jsonb,
    OUT hlc bigint, OUT origin integer, OUT expires_at timestamptz,
    OUT has_counters boolean, OUT seq bigint)
RETURNS SETOF record
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT g.shard_id, g.table_name FROM globalkv.shards g ORDER BY g.shard_id LOOP
        RETURN QUERY EXECUTE format(
            'SELECT $1, namespace::text, key::text, value, hlc, origin, expires_at,
                    crdt IS NOT NULL, seq
               FROM globalkv_data.%I', s.table_name) USING s.shard_id;
    END LOOP;
END
$fn$;

-- ---------------------------------------------------------------------
-- Views
-- ---------------------------------------------------------------------

CREATE FUNCTION globalkv.stats(
    OUT puts bigint, OUT gets bigint, OUT deletes bigint, OUT patches bigint,
    OUT inserts bigint, OUT updates bigint, OUT conflicts bigint,
    OUT expired_rows bigint, OUT hlc bigint, OUT hlc_time timestamptz)
RETURNS record AS 'MODULE_PATHNAME', 'gkv_stats' LANGUAGE C VOLATILE;

-- Operation counts since the server started, and the node's clock.
CREATE VIEW kv.stats AS SELECT * FROM globalkv.stats();

CREATE VIEW kv.namespaces AS
    SELECT name, created_at FROM globalkv.namespaces;
CREATE VIEW kv.expiry_policies AS
    SELECT name, ttl, created_at FROM globalkv.expiry_policies;
CREATE VIEW kv.node AS
    SELECT node_id, node_name, zone_name, (SELECT count(*) FROM globalkv.shards) AS shard_count
      FROM globalkv.node;

-- ---------------------------------------------------------------------
-- Privileges: clients call functions, never touch tables.
-- ---------------------------------------------------------------------
REVOKE ALL ON SCHEMA globalkv, globalkv_data FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA kv FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA globalkv FROM PUBLIC;

GRANT USAGE ON SCHEMA kv TO globalkv_client;
-- the API's C functions read the catalog (not the data) as the caller
GRANT USAGE ON SCHEMA globalkv TO globalkv_client;
GRANT SELECT ON globalkv.node, globalkv.shards, globalkv.namespaces,
    globalkv.expiry_policies TO globalkv_client;
GRANT EXECUTE ON FUNCTION
    kv.put(text, text, text, text), kv.put(text, text, jsonb, text),
    kv.put(text, text, text, bigint), kv.put(text, text, jsonb, bigint),
    kv.put_if_version(text, text, text, text, text),
    kv.put_if_version(text, text, jsonb, text, text),
    kv.get(text, text), kv.get_versioned(text, text),
    kv.delete(text, text),
    kv.patch_numeric(text, text, text, text), kv.patch_numeric(text, text, jsonb, text),
    kv.patch_numeric(text, text, text, bigint), kv.patch_numeric(text, text, jsonb, bigint),
    kv.put_many(text, text[], jsonb[], text), kv.put_many(text, text[], text[], text),
    kv.put_many(text, text[], jsonb[], bigint),
    kv.get_many(text, text[]), kv.key_shard(text, text),
    globalkv.stats()
  TO globalkv_client;
GRANT SELECT ON kv.stats, kv.namespaces, kv.expiry_policies, kv.node TO globalkv_client;

GRANT EXECUTE ON FUNCTION
    kv.create_namespace(text), kv.drop_namespace(text),
    kv.create_expiry_policy(text, interval), kv.alter_expiry_policy(text, interval),
    kv.drop_expiry_policy(text), kv.set_node(integer, text, text),
    kv.init_shards(integer)
  TO globalkv_admin;
