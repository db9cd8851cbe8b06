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
#include "udfs/catalog_changed/0.1.sql"
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

#include "udfs/stamp/0.1.sql"

-- ---------------------------------------------------------------------
-- Shard tables (docs/data-layout.md)
-- ---------------------------------------------------------------------

#include "udfs/create_shard_table/0.1.sql"

#include "udfs/init_shards/0.1.sql"

SELECT globalkv.create_shard_table(i, 16, true) FROM generate_series(0, 15) AS i;

-- ---------------------------------------------------------------------
-- The document API (src/commands/api.c).  Reads and writes act on the
-- latest committed state plus the caller's own writes, whatever the
-- transaction's isolation level: they are VOLATILE for that reason.
-- ---------------------------------------------------------------------

#include "udfs/put/0.1.sql"

#include "udfs/put_if_version/0.1.sql"

#include "udfs/get/0.1.sql"

#include "udfs/get_versioned/0.1.sql"

#include "udfs/delete/0.1.sql"

#include "udfs/patch_numeric/0.1.sql"

#include "udfs/put_many/0.1.sql"

#include "udfs/get_many/0.1.sql"

#include "udfs/key_shard/0.1.sql"

-- ---------------------------------------------------------------------
-- Catalog administration (role globalkv_admin)
-- ---------------------------------------------------------------------

#include "udfs/check_name/0.1.sql"

#include "udfs/create_namespace/0.1.sql"

#include "udfs/lock_shards_against_writes/0.1.sql"

#include "udfs/remove_namespace_documents/0.1.sql"

#include "udfs/drop_namespace/0.1.sql"

#include "udfs/create_expiry_policy/0.1.sql"

#include "udfs/alter_expiry_policy/0.1.sql"

#include "udfs/drop_expiry_policy/0.1.sql"

#include "udfs/add_node/0.1.sql"

#include "udfs/drop_node/0.1.sql"

#include "udfs/apply_catalog_row/0.1.sql"

-- ---------------------------------------------------------------------
-- Tombstones (docs/replication.md)
-- ---------------------------------------------------------------------

#include "udfs/peer_needs_resync/0.1.sql"

#include "udfs/purge_tombstones/0.1.sql"

#include "udfs/resync/0.1.sql"

-- ---------------------------------------------------------------------
-- Replication, source side (src/replication/pull.c)
-- ---------------------------------------------------------------------
#include "udfs/pull/0.1.sql"

#include "udfs/ack/0.1.sql"

#include "udfs/set_node/0.1.sql"

#include "udfs/shard_rows/0.1.sql"

#include "udfs/shard_digests/0.1.sql"

#include "udfs/digest/0.1.sql"

#include "udfs/apply_row/0.1.sql"

-- ---------------------------------------------------------------------
-- Views
-- ---------------------------------------------------------------------

#include "udfs/stats/0.1.sql"

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

#include "udfs/replication_status/0.1.sql"

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
