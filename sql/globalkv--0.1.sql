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
    -- what peers log in as (a LOGIN role made a member of it): may pull
    -- changes and acknowledge them, nothing else
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'globalkv_replication') THEN
        CREATE ROLE globalkv_replication NOLOGIN;
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

-- Replicated catalog tables carry a version (hlc, origin), a local change
-- sequence, and a "dropped" tombstone flag: see src/replication/catalog_sync.c.
-- Rows created by this script have version (0, 0) on every node.
CREATE TABLE globalkv.namespaces (
    name text COLLATE "C" PRIMARY KEY
        CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$'),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    hlc bigint NOT NULL DEFAULT 0,
    origin integer NOT NULL DEFAULT 0,
    seq bigint NOT NULL DEFAULT 0,
    dropped boolean NOT NULL DEFAULT false
);
INSERT INTO globalkv.namespaces (name) VALUES ('DEFAULT');

-- ttl NULL: documents written under the policy never expire.
CREATE TABLE globalkv.expiry_policies (
    name text COLLATE "C" PRIMARY KEY
        CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$'),
    ttl interval CHECK (ttl IS NULL OR ttl > interval '0'),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    hlc bigint NOT NULL DEFAULT 0,
    origin integer NOT NULL DEFAULT 0,
    seq bigint NOT NULL DEFAULT 0,
    dropped boolean NOT NULL DEFAULT false
);
INSERT INTO globalkv.expiry_policies (name, ttl) VALUES ('NO_EXPIRE', NULL);

-- The parade: every node of every zone, this one included.
CREATE TABLE globalkv.nodes (
    node_id integer PRIMARY KEY CHECK (node_id > 0),
    node_name text NOT NULL,
    zone_name text NOT NULL,
    conninfo text NOT NULL,
    hlc bigint NOT NULL DEFAULT 0,
    origin integer NOT NULL DEFAULT 0,
    seq bigint NOT NULL DEFAULT 0,
    dropped boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX nodes_live_name ON globalkv.nodes (node_name) WHERE NOT dropped;

-- How far this node has applied each peer's changes, per shard (-1: the
-- catalog).  Written in the same transaction as the applied rows.
CREATE TABLE globalkv.peer_cursors (
    peer_node_id integer NOT NULL,
    shard_id integer NOT NULL,
    cursor bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    full_resync boolean NOT NULL DEFAULT false, -- set by kv.resync() until caught up
    PRIMARY KEY (peer_node_id, shard_id)
);

-- How far each peer says it has applied this node's changes: tombstones
-- below every peer's acknowledgement can be purged.
CREATE TABLE globalkv.peer_acks (
    peer_node_id integer NOT NULL,
    shard_id integer NOT NULL,
    cursor bigint NOT NULL,
    acked_at timestamptz NOT NULL,
    -- tombstones up to this seq were purged before the peer acknowledged
    -- them: until its cursor passes it, the peer must resync in full
    resync_below bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (peer_node_id, shard_id)
);
SELECT pg_catalog.pg_extension_config_dump('globalkv.node', '');
SELECT pg_catalog.pg_extension_config_dump('globalkv.shards', '');
SELECT pg_catalog.pg_extension_config_dump('globalkv.namespaces', '');
SELECT pg_catalog.pg_extension_config_dump('globalkv.expiry_policies', '');
SELECT pg_catalog.pg_extension_config_dump('globalkv.nodes', '');
SELECT pg_catalog.pg_extension_config_dump('globalkv.peer_cursors', '');
SELECT pg_catalog.pg_extension_config_dump('globalkv.peer_acks', '');

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
CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON globalkv.nodes FOR EACH STATEMENT EXECUTE FUNCTION globalkv.catalog_changed();

-- globalkv.stamp() returns a fresh clock tick for a catalog change: the
-- change's hlc and its local sequence.
CREATE FUNCTION globalkv.stamp() RETURNS bigint
    AS 'MODULE_PATHNAME', 'gkv_stamp' LANGUAGE C VOLATILE;

-- ---------------------------------------------------------------------
-- Shard tables (docs/data-layout.md)
-- ---------------------------------------------------------------------

-- create_shard_table creates one shard's table; the column order is fixed
-- by src/include/globalkv.h (Anum_shard_*).
CREATE FUNCTION globalkv.create_shard_table(p_shard_id integer, p_shard_count integer,
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
        $ddl$, tname, tname || '_seq', tname || '_expires_at');
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
    FOR i IN 0 .. shard_count - 1 LOOP
        PERFORM globalkv.create_shard_table(i, shard_count);
    END LOOP;
    RETURN shard_count;
END
$fn$;

SELECT globalkv.create_shard_table(i, 16, true) FROM generate_series(0, 15) AS i;

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
RETURNS text AS 'MODULE_PATHNAME', 'gkv_put' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.put(namespace text, key text, value jsonb, ttl_seconds bigint)
RETURNS text AS 'MODULE_PATHNAME', 'gkv_put' LANGUAGE C VOLATILE PARALLEL UNSAFE;

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
RETURNS jsonb AS 'MODULE_PATHNAME', 'gkv_patch_numeric' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.patch_numeric(namespace text, key text, offsets jsonb, ttl_seconds bigint)
RETURNS jsonb AS 'MODULE_PATHNAME', 'gkv_patch_numeric' LANGUAGE C VOLATILE PARALLEL UNSAFE;

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
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_put_many' LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION kv.get_many(namespace text, keys text[], OUT key text, OUT value jsonb)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_get_many' LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION kv.key_shard(namespace text, key text, OUT hash bigint, OUT shard integer)
RETURNS record AS 'MODULE_PATHNAME', 'gkv_key_shard' LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- ---------------------------------------------------------------------
-- Catalog administration (role globalkv_admin)
-- ---------------------------------------------------------------------

-- Every catalog change below is stamped with globalkv.stamp() and this
-- node's id, and a drop only marks the row: the change replicates.
CREATE FUNCTION globalkv.check_name(kind text, name text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid % name "%"', kind, name
            USING ERRCODE = 'GK010',
                  DETAIL = 'Names have 1 to 63 characters: letters, digits, "_", "." and "-", not starting with "." or "-".';
    END IF;
END
$fn$;

CREATE FUNCTION kv.create_namespace(name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
BEGIN
    PERFORM globalkv.check_name('namespace', name);
    PERFORM 1 FROM globalkv.namespaces n WHERE n.name = create_namespace.name AND NOT n.dropped;
    IF FOUND THEN
        RAISE EXCEPTION 'namespace "%" already exists', name USING ERRCODE = 'GK011';
    END IF;
    v := globalkv.stamp();
    INSERT INTO globalkv.namespaces AS n (name, created_at, hlc, origin, seq, dropped)
    VALUES (create_namespace.name, now(), v, (SELECT node_id FROM globalkv.node), v, false)
    ON CONFLICT ON CONSTRAINT namespaces_pkey DO UPDATE
       SET created_at = EXCLUDED.created_at, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
           seq = EXCLUDED.seq, dropped = false;
END
$fn$;

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

-- kv.drop_namespace removes the namespace and all of its documents, on
-- every node of the parade; returns how many rows this node removed.
CREATE FUNCTION kv.drop_namespace(name text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
    total bigint;
BEGIN
    IF name = 'DEFAULT' THEN
        RAISE EXCEPTION 'namespace "DEFAULT" cannot be dropped' USING ERRCODE = 'GK012';
    END IF;
    PERFORM 1 FROM globalkv.namespaces n WHERE n.name = drop_namespace.name AND NOT n.dropped FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'namespace "%" does not exist', name USING ERRCODE = 'GK001';
    END IF;
    -- wait out writers in flight and hold new ones until we commit; they
    -- re-check the namespace once they get their table lock
    PERFORM globalkv.lock_shards_against_writes();
    v := globalkv.stamp();
    UPDATE globalkv.namespaces n
       SET dropped = true, hlc = v, origin = (SELECT node_id FROM globalkv.node), seq = v
     WHERE n.name = drop_namespace.name;
    total := globalkv.remove_namespace_documents(name);
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
DECLARE
    v bigint;
BEGIN
    PERFORM globalkv.check_name('expiry policy', name);
    IF ttl IS NOT NULL AND ttl <= interval '0' THEN
        RAISE EXCEPTION 'expiry policy TTL must be positive, not %', ttl USING ERRCODE = 'GK009';
    END IF;
    PERFORM 1 FROM globalkv.expiry_policies p WHERE p.name = create_expiry_policy.name AND NOT p.dropped;
    IF FOUND THEN
        RAISE EXCEPTION 'expiry policy "%" already exists', name USING ERRCODE = 'GK011';
    END IF;
    v := globalkv.stamp();
    INSERT INTO globalkv.expiry_policies AS p (name, ttl, created_at, hlc, origin, seq, dropped)
    VALUES (create_expiry_policy.name, ttl, now(), v, (SELECT node_id FROM globalkv.node), v, false)
    ON CONFLICT ON CONSTRAINT expiry_policies_pkey DO UPDATE
       SET ttl = EXCLUDED.ttl, created_at = EXCLUDED.created_at, hlc = EXCLUDED.hlc,
           origin = EXCLUDED.origin, seq = EXCLUDED.seq, dropped = false;
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
DECLARE
    v bigint;
BEGIN
    IF name = 'NO_EXPIRE' THEN
        RAISE EXCEPTION 'expiry policy "NO_EXPIRE" cannot be changed' USING ERRCODE = 'GK012';
    END IF;
    IF ttl IS NOT NULL AND ttl <= interval '0' THEN
        RAISE EXCEPTION 'expiry policy TTL must be positive, not %', ttl USING ERRCODE = 'GK009';
    END IF;
    PERFORM 1 FROM globalkv.expiry_policies p
     WHERE p.name = alter_expiry_policy.name AND NOT p.dropped FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'expiry policy "%" does not exist', name USING ERRCODE = 'GK002';
    END IF;
    v := globalkv.stamp();
    UPDATE globalkv.expiry_policies p
       SET ttl = alter_expiry_policy.ttl, hlc = v, origin = (SELECT node_id FROM globalkv.node), seq = v
     WHERE p.name = alter_expiry_policy.name;
END
$fn$;

CREATE FUNCTION kv.drop_expiry_policy(name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
BEGIN
    IF name = 'NO_EXPIRE' THEN
        RAISE EXCEPTION 'expiry policy "NO_EXPIRE" cannot be dropped' USING ERRCODE = 'GK012';
    END IF;
    PERFORM 1 FROM globalkv.expiry_policies p
     WHERE p.name = drop_expiry_policy.name AND NOT p.dropped FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'expiry policy "%" does not exist', name USING ERRCODE = 'GK002';
    END IF;
    v := globalkv.stamp();
    UPDATE globalkv.expiry_policies p
       SET dropped = true, hlc = v, origin = (SELECT node_id FROM globalkv.node), seq = v
     WHERE p.name = drop_expiry_policy.name;
END
$fn$;

-- kv.add_node adds a node to the parade (or changes its name, zone or
-- connection string).  Made on any node, the change reaches every node, and
-- each starts replicating from the new node within seconds.
CREATE FUNCTION kv.add_node(node_id integer, node_name text, zone_name text, conninfo text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
BEGIN
    IF node_id IS NULL OR node_id < 1 THEN
        RAISE EXCEPTION 'node id must be a positive integer' USING ERRCODE = 'GK009';
    END IF;
    PERFORM globalkv.check_name('node', node_name);
    PERFORM globalkv.check_name('zone', zone_name);
    IF coalesce(conninfo, '') = '' THEN
        RAISE EXCEPTION 'node connection string must not be empty' USING ERRCODE = 'GK009';
    END IF;
    PERFORM 1 FROM globalkv.nodes n
     WHERE n.node_name = add_node.node_name AND n.node_id <> add_node.node_id AND NOT n.dropped;
    IF FOUND THEN
        RAISE EXCEPTION 'another node is already named "%"', node_name USING ERRCODE = 'GK011';
    END IF;
    v := globalkv.stamp();
    INSERT INTO globalkv.nodes AS n (node_id, node_name, zone_name, conninfo, hlc, origin, seq, dropped)
    VALUES (add_node.node_id, add_node.node_name, add_node.zone_name, add_node.conninfo,
            v, (SELECT g.node_id FROM globalkv.node g), v, false)
    ON CONFLICT ON CONSTRAINT nodes_pkey DO UPDATE
       SET node_name = EXCLUDED.node_name, zone_name = EXCLUDED.zone_name,
           conninfo = EXCLUDED.conninfo, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
           seq = EXCLUDED.seq, dropped = false;
END
$fn$;

-- kv.drop_node removes a node from the parade everywhere; every node stops
-- replicating from it.
CREATE FUNCTION kv.drop_node(node_id integer)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
BEGIN
    PERFORM 1 FROM globalkv.nodes n WHERE n.node_id = drop_node.node_id AND NOT n.dropped FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'node % is not in the parade', node_id USING ERRCODE = 'GK009';
    END IF;
    v := globalkv.stamp();
    UPDATE globalkv.nodes n
       SET dropped = true, hlc = v, origin = (SELECT g.node_id FROM globalkv.node g), seq = v
     WHERE n.node_id = drop_node.node_id;
    DELETE FROM globalkv.peer_cursors c WHERE c.peer_node_id = drop_node.node_id;
    DELETE FROM globalkv.peer_acks a WHERE a.peer_node_id = drop_node.node_id;
END
$fn$;

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

-- ---------------------------------------------------------------------
-- Tombstones (docs/replication.md)
-- ---------------------------------------------------------------------

-- globalkv.peer_needs_resync: did this node purge tombstones the peer had
-- not acknowledged?  Such a peer may hold documents those tombstones
-- deleted, so this node neither serves it incremental changes nor pulls
-- from it until it has resynced in full (kv.resync() on that peer).
CREATE FUNCTION globalkv.peer_needs_resync(peer integer)
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT EXISTS (SELECT 1 FROM globalkv.peer_acks a
                    WHERE a.peer_node_id = peer AND a.cursor < a.resync_below)
$fn$;

-- globalkv.purge_tombstones removes, per shard, up to max_rows tombstones
-- older than min_age that every live peer has acknowledged, and up to max_rows tombstones older
-- than the retention whether acknowledged or not (marking the peers that
-- missed them).  The expiry worker calls it once a second.
CREATE FUNCTION globalkv.purge_tombstones(retention_seconds integer, min_age_seconds integer,
                                          max_rows integer)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s record;
    local_id integer := (SELECT node_id FROM globalkv.node);
    safe bigint;
    cutoff bigint := ((extract(epoch FROM now() - make_interval(secs => retention_seconds)) * 1000)::bigint << 16);
    min_age_cutoff bigint := ((extract(epoch FROM now() - make_interval(secs => min_age_seconds)) * 1000)::bigint << 16);
    n bigint;
    maxseq bigint;
    found boolean;
    total bigint := 0;
BEGIN
    FOR s IN SELECT shard_id, table_name FROM globalkv.shards ORDER BY shard_id LOOP
        SELECT min(coalesce(a.cursor, 0)) INTO safe
          FROM globalkv.nodes p
          LEFT JOIN globalkv.peer_acks a ON a.peer_node_id = p.node_id AND a.shard_id = s.shard_id
         WHERE NOT p.dropped AND p.node_id <> local_id;
        safe := coalesce(safe, 9223372036854775807);   -- no peers: nobody to wait for
        EXECUTE format(
            'WITH gone AS (DELETE FROM globalkv_data.%1$I WHERE ctid = ANY(ARRAY(
                 SELECT ctid FROM globalkv_data.%1$I WHERE value IS NULL AND seq <= $1 AND hlc < $3
                  LIMIT $2 FOR UPDATE SKIP LOCKED)) AND value IS NULL RETURNING 1)
             SELECT count(*) FROM gone', s.table_name) INTO n USING safe, max_rows, min_age_cutoff;
        total := total + n;

        -- past the retention: only when there is something to purge, and
        -- under the advisory lock whose shared form apply workers take
        -- before checking for peers that need a resync (apply_worker.c)
        n := 0;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM globalkv_data.%I WHERE value IS NULL AND hlc < $1)',
                       s.table_name) INTO found USING cutoff;
        IF found THEN
            PERFORM pg_advisory_xact_lock(18251, 1);
            EXECUTE format(
                'WITH gone AS (DELETE FROM globalkv_data.%1$I WHERE ctid = ANY(ARRAY(
                     SELECT ctid FROM globalkv_data.%1$I WHERE value IS NULL AND hlc < $1
                      LIMIT $2 FOR UPDATE SKIP LOCKED)) AND value IS NULL RETURNING seq)
                 SELECT count(*), max(seq) FROM gone', s.table_name) INTO n, maxseq USING cutoff, max_rows;
        END IF;
        IF n > 0 THEN
            total := total + n;
            INSERT INTO globalkv.peer_acks AS a (peer_node_id, shard_id, cursor, acked_at, resync_below)
            SELECT p.node_id, s.shard_id, 0, now(), maxseq
              FROM globalkv.nodes p WHERE NOT p.dropped AND p.node_id <> local_id
            ON CONFLICT (peer_node_id, shard_id) DO UPDATE
               SET resync_below = greatest(a.resync_below, EXCLUDED.resync_below)
             WHERE a.cursor < EXCLUDED.resync_below;
            IF FOUND THEN
                RAISE LOG 'globalkv: purged % tombstones of shard % older than the retention; peers that had not acknowledged them must resync',
                    n, s.shard_id;
            END IF;
        END IF;
    END LOOP;
    RETURN total;
END
$fn$;

-- kv.resync() makes this node start over from its peers: it removes every
-- row older than the tombstone retention (the ones a purged tombstone may
-- have deleted elsewhere) and pulls everything again from every peer.
-- Rows written here more recently stay, and replicate as usual.
CREATE FUNCTION kv.resync()
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
    n bigint;
    total bigint := 0;
    cutoff bigint := ((extract(epoch FROM now() - current_setting('globalkv.tombstone_retention')::interval)
                       * 1000)::bigint << 16);
BEGIN
    PERFORM globalkv.lock_shards_against_writes();
    FOR t IN SELECT table_name FROM globalkv.shards ORDER BY shard_id LOOP
        EXECUTE format('DELETE FROM globalkv_data.%I WHERE hlc < $1', t) USING cutoff;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END LOOP;
    DELETE FROM globalkv.peer_cursors;
    INSERT INTO globalkv.peer_cursors (peer_node_id, shard_id, cursor, updated_at, full_resync)
    SELECT p.node_id, sh.shard_id, 0, now(), true
      FROM globalkv.nodes p
      CROSS JOIN (SELECT -1 AS shard_id UNION ALL SELECT shard_id FROM globalkv.shards) sh
     WHERE NOT p.dropped AND p.node_id <> (SELECT node_id FROM globalkv.node);
    -- apply workers hold cursors in memory: restart them (the launcher does)
    PERFORM pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE backend_type = 'globalkv apply' AND datname = current_database();
    RAISE LOG 'globalkv: resync started, % old rows removed, pulling everything from every peer', total;
    RETURN total;
END
$fn$;

-- ---------------------------------------------------------------------
-- Replication, source side (src/replication/pull.c)
-- ---------------------------------------------------------------------
CREATE FUNCTION globalkv.pull(peer integer, resyncing boolean,
    shards integer[], cursors bigint[], max_rows integer, wait_ms integer,
    OUT shard integer, OUT namespace text, OUT key text, OUT value jsonb,
    OUT hlc bigint, OUT origin integer, OUT expires_at timestamptz,
    OUT crdt bytea, OUT seq bigint)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_pull' LANGUAGE C VOLATILE;

-- globalkv.ack records how far a peer has applied this node's changes.
CREATE FUNCTION globalkv.ack(peer integer, shards integer[], cursors bigint[])
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF peer IS NULL OR array_length(shards, 1) IS DISTINCT FROM array_length(cursors, 1) THEN
        RAISE EXCEPTION 'invalid acknowledgement' USING ERRCODE = 'GK009';
    END IF;
    INSERT INTO globalkv.peer_acks AS a (peer_node_id, shard_id, cursor, acked_at)
    SELECT peer, s, c, now() FROM unnest(shards, cursors) AS u(s, c)
    ON CONFLICT (peer_node_id, shard_id) DO UPDATE
       SET cursor = greatest(a.cursor, EXCLUDED.cursor), acked_at = EXCLUDED.acked_at;
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
    OUT crdt bytea, OUT seq bigint)
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
                    crdt, seq
               FROM globalkv_data.%I', s.table_name) USING s.shard_id;
    END LOOP;
END
$fn$;

-- globalkv.digest() fingerprints this node's documents (tombstones and
-- counter state included, local sequences not): equal digests on two nodes
-- mean identical copies.  Per shard with globalkv.shard_digests().
CREATE FUNCTION globalkv.shard_digests(ns text DEFAULT NULL,
    OUT shard_id integer, OUT rows bigint, OUT digest text)
RETURNS SETOF record
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT r.shard_id, count(*),
           md5(string_agg(concat_ws('|', r.namespace, r.key, r.value::text, r.hlc, r.origin,
                                    (extract(epoch FROM r.expires_at) * 1000000)::bigint,
                                    encode(r.crdt, 'hex')),
                          E'\n' ORDER BY r.namespace COLLATE "C", r.key COLLATE "C"))
      FROM globalkv.shard_rows() r
     WHERE ns IS NULL OR r.namespace = ns
     GROUP BY r.shard_id
$fn$;

CREATE FUNCTION globalkv.digest(ns text DEFAULT NULL)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT md5(coalesce(string_agg(shard_id || ':' || digest, ',' ORDER BY shard_id), ''))
      FROM globalkv.shard_digests(ns)
$fn$;

-- globalkv.apply_row merges a document state through the replication
-- apply path (repairs, tests); returns INSERT, UPDATE or CONFLICT.
CREATE FUNCTION globalkv.apply_row(namespace text, key text, value jsonb, hlc bigint,
                                   origin integer, expires_at timestamptz, crdt bytea)
RETURNS text AS 'MODULE_PATHNAME', 'gkv_apply_row' LANGUAGE C VOLATILE;

-- ---------------------------------------------------------------------
-- Views
-- ---------------------------------------------------------------------

CREATE FUNCTION globalkv.stats(
    OUT puts bigint, OUT gets bigint, OUT deletes bigint, OUT patches bigint,
    OUT inserts bigint, OUT updates bigint, OUT conflicts bigint,
    OUT expired_rows bigint, OUT replicated_rows bigint, OUT replication_conflicts bigint,
    OUT purged_tombstones bigint,
    OUT hlc bigint, OUT hlc_time timestamptz)
RETURNS record AS 'MODULE_PATHNAME', 'gkv_stats' LANGUAGE C VOLATILE;

-- Operation counts since the server started, and the node's clock.
CREATE VIEW kv.stats AS SELECT * FROM globalkv.stats();

CREATE VIEW kv.namespaces AS
    SELECT name, created_at FROM globalkv.namespaces WHERE NOT dropped;
CREATE VIEW kv.expiry_policies AS
    SELECT name, ttl, created_at FROM globalkv.expiry_policies WHERE NOT dropped;
-- the parade's nodes (connection strings are for admins: kv.nodes_admin)
CREATE VIEW kv.nodes AS
    SELECT n.node_id, n.node_name, n.zone_name, n.node_id = g.node_id AS is_local
      FROM globalkv.nodes n CROSS JOIN globalkv.node g
     WHERE NOT n.dropped;
CREATE VIEW kv.nodes_admin AS
    SELECT n.node_id, n.node_name, n.zone_name, n.conninfo, n.node_id = g.node_id AS is_local
      FROM globalkv.nodes n CROSS JOIN globalkv.node g
     WHERE NOT n.dropped;

CREATE FUNCTION globalkv.replication_status(
    OUT peer_node_id integer, OUT peer_name text, OUT connected boolean, OUT pid integer,
    OUT cursor bigint, OUT lag_ms bigint, OUT lag_rows bigint, OUT rows_applied bigint,
    OUT conflicts bigint, OUT batches bigint, OUT max_clock_skew_ms bigint,
    OUT last_contact timestamptz, OUT last_error text, OUT last_error_at timestamptz)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_replication_status' LANGUAGE C VOLATILE;

-- One row per peer this node pulls from: connection state, how far behind
-- it is, what it has applied, the last error.
CREATE VIEW kv.replication_status AS
    SELECT s.*, a.acked_cursor AS peer_acked_cursor
      FROM globalkv.replication_status() s
      LEFT JOIN (SELECT peer_node_id, min(cursor) AS acked_cursor
                   FROM globalkv.peer_acks GROUP BY peer_node_id) a USING (peer_node_id);
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
GRANT SELECT ON kv.stats, kv.namespaces, kv.expiry_policies, kv.node, kv.nodes TO globalkv_client;
GRANT SELECT ON globalkv.nodes TO globalkv_client;

-- peers: pull and acknowledge; the catalog pull reads the catalog tables
GRANT USAGE ON SCHEMA globalkv TO globalkv_replication;
GRANT SELECT ON globalkv.node, globalkv.shards, globalkv.namespaces,
    globalkv.expiry_policies, globalkv.nodes TO globalkv_replication;
GRANT EXECUTE ON FUNCTION globalkv.pull(integer, boolean, integer[], bigint[], integer, integer),
    globalkv.ack(integer, integer[], bigint[]), globalkv.peer_needs_resync(integer)
    TO globalkv_replication;
GRANT SELECT ON globalkv.peer_acks TO globalkv_replication;

GRANT EXECUTE ON FUNCTION
    kv.create_namespace(text), kv.drop_namespace(text),
    kv.create_expiry_policy(text, interval), kv.alter_expiry_policy(text, interval),
    kv.drop_expiry_policy(text), kv.set_node(integer, text, text),
    kv.init_shards(integer), kv.add_node(integer, text, text, text), kv.drop_node(integer),
    kv.resync(),
    globalkv.shard_rows(), globalkv.replication_status(),
    globalkv.shard_digests(text), globalkv.digest(text),
    globalkv.apply_row(text, text, jsonb, bigint, integer, timestamptz, bytea)
  TO globalkv_admin;
GRANT USAGE ON SCHEMA globalkv TO globalkv_admin;
GRANT SELECT ON kv.nodes_admin, kv.replication_status, globalkv.peer_acks, globalkv.peer_cursors
    TO globalkv_admin;
