-- globalkv 0.2 -> 0.3: the catalog merge and the tombstone purge in C, the
-- clock's bit layout no longer retyped in SQL, shard moves driven by the
-- server.
\echo Use "ALTER EXTENSION globalkv UPDATE TO '0.3'" to load this file. \quit

-- ---------------------------------------------------------------------
-- the catalog merge and the tombstone purge in the library; the clock's
-- bit layout known to SQL only through globalkv.hlc_at
-- ---------------------------------------------------------------------
#include "udfs/apply_catalog_row/0.3.sql"
#include "udfs/purge_tombstones/0.3.sql"
#include "udfs/hlc_at/0.3.sql"
REVOKE EXECUTE ON FUNCTION globalkv.hlc_at(timestamptz) FROM PUBLIC;
#include "udfs/coverage_reset/0.3.sql"
REVOKE EXECUTE ON FUNCTION globalkv.coverage_reset() FROM PUBLIC;
#include "udfs/resync/0.3.sql"

-- ---------------------------------------------------------------------
-- tombstones indexed: the purge and the expiry passes no longer read
-- whole shard tables
-- ---------------------------------------------------------------------
#include "udfs/create_shard_table/0.3.sql"
DO $do$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT table_name FROM globalkv.shards ORDER BY shard_id LOOP
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON globalkv_data.%I (hlc) WHERE value IS NULL',
                       t || '_tombstones', t);
    END LOOP;
END
$do$;

-- ---------------------------------------------------------------------
-- echo and relay suppression: the puller tells the source what it holds
-- ---------------------------------------------------------------------
#include "udfs/pull/0.3.sql"
REVOKE EXECUTE ON FUNCTION globalkv.pull(integer, boolean, integer[], bigint[], integer, integer,
    bigint, bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION globalkv.pull(integer, boolean, integer[], bigint[], integer, integer,
    bigint, bigint[]) TO globalkv_replication;

-- ---------------------------------------------------------------------
-- kv.docs: SQL over every document of the zone (docs/sql.md)
-- ---------------------------------------------------------------------
#include "udfs/docs_unplanned/0.3.sql"
#include "udfs/docs_router/0.3.sql"
#include "udfs/docs_fanout/0.3.sql"
#include "udfs/docs_repartition/0.3.sql"
#include "udfs/docs_bucket/0.3.sql"
#include "udfs/docs_write/0.3.sql"
#include "views/docs/0.3.sql"
REVOKE EXECUTE ON FUNCTION globalkv.docs_unplanned(), globalkv.docs_router(text, text, boolean),
    globalkv.docs_fanout(text, text), globalkv.docs_repartition(text, text),
    globalkv.docs_bucket(text, integer, integer), globalkv.docs_write() FROM PUBLIC;
-- a query on kv.docs runs these as its caller: clients may, nobody else
GRANT EXECUTE ON FUNCTION globalkv.docs_unplanned(), globalkv.docs_router(text, text, boolean),
    globalkv.docs_fanout(text, text), globalkv.docs_repartition(text, text),
    globalkv.docs_write() TO globalkv_client;
-- a bucket of a repartitioned query arrives from another node
GRANT EXECUTE ON FUNCTION globalkv.docs_bucket(text, integer, integer) TO globalkv_replication;
GRANT SELECT, INSERT, UPDATE, DELETE ON kv.docs TO globalkv_client;

-- ---------------------------------------------------------------------
-- indexes on kv.docs: CREATE INDEX ... ON kv.docs builds one on every
-- shard table of every node (src/distributed/docs_ddl.c); the catalog
-- keeps them, so that a node away at the time builds them when the
-- catalog reaches it.  Replicated like every catalog table.
-- ---------------------------------------------------------------------
CREATE TABLE globalkv.docs_indexes (
    name text COLLATE "C" PRIMARY KEY CHECK (name ~ '^[a-z0-9_]{1,40}$'),
    definition text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    hlc bigint NOT NULL DEFAULT 0,
    origin integer NOT NULL DEFAULT 0,
    seq bigint NOT NULL DEFAULT 0,
    dropped boolean NOT NULL DEFAULT false
);
SELECT pg_catalog.pg_extension_config_dump('globalkv.docs_indexes', '');
GRANT SELECT ON globalkv.docs_indexes TO globalkv_replication;
CREATE VIEW kv.docs_indexes AS
    SELECT name, definition, created_at FROM globalkv.docs_indexes WHERE NOT dropped;
COMMENT ON VIEW kv.docs_indexes IS
    'the indexes of kv.docs, each built on every shard table of every node (docs/sql.md)';
GRANT SELECT ON kv.docs_indexes TO globalkv_client, globalkv_admin;
#include "udfs/docs_index_apply/0.3.sql"
REVOKE EXECUTE ON FUNCTION globalkv.docs_index_apply(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION globalkv.docs_index_apply(text, text) TO globalkv_admin, globalkv_replication;

-- ---------------------------------------------------------------------
-- shard moves driven by the server
-- ---------------------------------------------------------------------
-- kv.move_shard drives a move from start to end (src/operations/); the
-- CLI's `globalkv shard move` and `globalkv rebalance` call it.  Watch a
-- move from any session in kv.shard_moves_in_progress (docs/shard-moves.md).
-- ---------------------------------------------------------------------

#include "udfs/shard_last_seq/0.3.sql"

#include "udfs/peer_cursor/0.3.sql"

#include "udfs/move_apply_catalog_row/0.3.sql"

#include "udfs/move_status/0.3.sql"

#include "udfs/move_shard/0.3.sql"

-- One row per move in progress: every move this node's catalog knows of
-- (the catalog is replicated: every node sees every move, as copying or
-- switched) and every move a backend of this node is driving now.  The
-- columns from the mover (mover_pid .. updated_at) are filled on the node
-- that runs kv.move_shard; rows_copied also on the move's target, which
-- counts them itself.
CREATE VIEW kv.shard_moves_in_progress AS
    SELECT coalesce(m.shard_id, s.shard_id) AS shard_id,
           coalesce(m.zone_name, s.zone_name) AS zone_name,
           coalesce(m.source_node, s.source_node) AS source_node,
           sn.node_name AS source_name,
           coalesce(m.target_node, s.target_node) AS target_node,
           tn.node_name AS target_name,
           m.state,
           coalesce(m.started_at, s.started_at) AS started_at,
           s.pid AS mover_pid,
           s.phase,
           coalesce(s.rows_copied,
                    -- the target counts them (CASE: only there, the count is not free)
                    CASE WHEN m.target_node = (SELECT g.node_id FROM globalkv.node g)
                         THEN (SELECT pr.rows_copied FROM globalkv.move_progress(m.shard_id) pr) END)
             AS rows_copied,
           s.behind_ms,
           s.write_stall_ms,
           s.updated_at
      FROM (SELECT * FROM globalkv.shard_moves WHERE NOT dropped) m
      FULL JOIN globalkv.move_status() s
             ON s.shard_id = m.shard_id AND s.zone_name = m.zone_name
      LEFT JOIN globalkv.nodes sn ON sn.node_id = coalesce(m.source_node, s.source_node)
      LEFT JOIN globalkv.nodes tn ON tn.node_id = coalesce(m.target_node, s.target_node);

REVOKE EXECUTE ON FUNCTION kv.move_shard(integer, integer, boolean), globalkv.move_status(),
    globalkv.shard_last_seq(integer), globalkv.peer_cursor(integer, integer),
    globalkv.move_apply_catalog_row(text, text, jsonb, bigint, integer)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kv.move_shard(integer, integer, boolean), globalkv.move_status(),
    globalkv.shard_last_seq(integer), globalkv.peer_cursor(integer, integer),
    globalkv.move_apply_catalog_row(text, text, jsonb, bigint, integer)
  TO globalkv_admin;
GRANT SELECT ON kv.shard_moves_in_progress TO globalkv_admin;
-- The mover runs the steps on the source and the target under the login of
-- the catalog's connection strings, the one replication uses: that login
-- may run the steps (and still neither reads the shard tables nor calls the
-- admin functions in kv).
GRANT EXECUTE ON FUNCTION
    globalkv.move_prepare(integer, integer), globalkv.move_progress(integer),
    globalkv.move_fence(integer), globalkv.move_switch(integer, integer, jsonb),
    globalkv.move_drain_point(integer), globalkv.move_complete(integer),
    globalkv.move_cleanup(integer), globalkv.move_abort(integer),
    globalkv.catalog_row(text, text),
    globalkv.move_apply_catalog_row(text, text, jsonb, bigint, integer),
    globalkv.shard_last_seq(integer), globalkv.peer_cursor(integer, integer)
  TO globalkv_replication;

-- ---------------------------------------------------------------------
-- anti-entropy: kv.verify and kv.repair (src/operations/anti_entropy.c,
-- docs/operations.md)
-- ---------------------------------------------------------------------
-- The newest tombstone this node purged, per shard: kv.repair never copies
-- here a document older than it that this node lacks (a purged delete may
-- have removed it).  Written by the tombstone purge.
CREATE TABLE globalkv.purge_horizons (
    shard_id integer PRIMARY KEY,
    hlc      bigint NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('globalkv.purge_horizons', '');
#include "udfs/verify_digest/0.3.sql"
#include "udfs/verify_rows/0.3.sql"
#include "udfs/verify_fetch/0.3.sql"
#include "udfs/verify_apply/0.3.sql"
#include "udfs/verify_remove/0.3.sql"
#include "udfs/verify/0.3.sql"
#include "udfs/repair/0.3.sql"
REVOKE ALL ON globalkv.purge_horizons FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION globalkv.verify_digest(integer, integer, integer),
    globalkv.verify_rows(integer, integer[], integer[]), globalkv.verify_fetch(integer, jsonb),
    globalkv.verify_apply(jsonb), globalkv.verify_remove(integer, jsonb),
    kv.verify(integer, integer), kv.repair(integer, integer) FROM PUBLIC;
-- the node running kv.verify / kv.repair calls these on its peers, under the
-- login of the catalog's connection strings (the one replication uses)
GRANT SELECT ON globalkv.purge_horizons TO globalkv_replication, globalkv_admin;
GRANT EXECUTE ON FUNCTION globalkv.verify_digest(integer, integer, integer),
    globalkv.verify_rows(integer, integer[], integer[]), globalkv.verify_fetch(integer, jsonb),
    globalkv.verify_apply(jsonb), globalkv.verify_remove(integer, jsonb)
  TO globalkv_replication, globalkv_admin;
GRANT EXECUTE ON FUNCTION kv.verify(integer, integer), kv.repair(integer, integer) TO globalkv_admin;

-- ---------------------------------------------------------------------
-- the conflict journal (src/replication/conflict_journal.c)
-- ---------------------------------------------------------------------
-- Recent conflicts this node's apply workers resolved: two writes of a key
-- on two nodes less than globalkv.conflict_window apart, one kept, one
-- lost.  At most globalkv.conflict_journal_size rows (the oldest go), at
-- most globalkv.conflict_journal_rate a second per apply worker.
CREATE TABLE globalkv.conflict_journal (
    id             bigserial PRIMARY KEY,
    noted_at       timestamptz NOT NULL DEFAULT now(),
    namespace      text COLLATE "C" NOT NULL,
    key            text COLLATE "C" NOT NULL,
    kept_version   text NOT NULL,
    kept_is_delete boolean NOT NULL,
    lost_version   text NOT NULL,
    lost_is_delete boolean NOT NULL,
    reason         text NOT NULL,
    via_node       integer NOT NULL
);
CREATE VIEW kv.conflicts AS
    SELECT j.noted_at, j.namespace, j.key, j.kept_version, j.kept_is_delete,
           j.lost_version, j.lost_is_delete, j.reason,
           n.node_name AS arrived_from
      FROM globalkv.conflict_journal j
      LEFT JOIN globalkv.nodes n ON n.node_id = j.via_node;
REVOKE ALL ON globalkv.conflict_journal, kv.conflicts FROM PUBLIC;
-- keys are the application's data: for administrators only
GRANT SELECT ON kv.conflicts TO globalkv_admin;

-- ---------------------------------------------------------------------
-- bulk load (globalkv load, docs/operations.md)
-- ---------------------------------------------------------------------
#include "udfs/load_parse/0.3.sql"
REVOKE EXECUTE ON FUNCTION globalkv.load_parse(bigint, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION globalkv.load_parse(bigint, text[]) TO globalkv_client;
#include "udfs/load_lines/0.3.sql"
REVOKE EXECUTE ON FUNCTION kv.load_lines(text, bigint, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kv.load_lines(text, bigint, text[]) TO globalkv_client;

-- ---------------------------------------------------------------------
-- the background repair (globalkv.repair_interval)
-- ---------------------------------------------------------------------
#include "udfs/repair_status/0.3.sql"
CREATE VIEW kv.repair_status AS SELECT * FROM globalkv.repair_status();
REVOKE EXECUTE ON FUNCTION globalkv.repair_status() FROM PUBLIC;
REVOKE ALL ON kv.repair_status FROM PUBLIC;
GRANT EXECUTE ON FUNCTION globalkv.repair_status() TO globalkv_admin;
GRANT SELECT ON kv.repair_status TO globalkv_admin;

-- ---------------------------------------------------------------------
-- sliding expiry (docs/api.md "Sliding expiry")
-- ---------------------------------------------------------------------
#include "udfs/touch/0.3.sql"
#include "udfs/get_and_touch/0.3.sql"
REVOKE EXECUTE ON FUNCTION kv.touch(text, text, bigint), kv.get_and_touch(text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kv.touch(text, text, bigint), kv.get_and_touch(text, text, bigint) TO globalkv_client;

-- ---------------------------------------------------------------------
-- prefix scans (docs/api.md "Prefix scans")
-- ---------------------------------------------------------------------
#include "udfs/scan/0.3.sql"
#include "udfs/scan_shards/0.3.sql"
REVOKE EXECUTE ON FUNCTION kv.scan(text, text, text, integer),
    globalkv.scan_shards(text, text, text, integer, integer[]) FROM PUBLIC;
-- a page's part on another node of the zone runs as the forwarding login,
-- which is a client too
GRANT EXECUTE ON FUNCTION kv.scan(text, text, text, integer),
    globalkv.scan_shards(text, text, text, integer, integer[]) TO globalkv_client;

-- ---------------------------------------------------------------------
-- consistency per call (docs/api.md "Consistency per call")
-- ---------------------------------------------------------------------
#include "udfs/get_state/0.3.sql"
#include "udfs/get_consistent/0.3.sql"
#include "udfs/wait_replicated/0.3.sql"
REVOKE EXECUTE ON FUNCTION globalkv.get_state(text, text), kv.get(text, text, text),
    kv.wait_replicated(text, text, text, integer, integer) FROM PUBLIC;
-- each zone's holder is asked as the forwarding login, which is a client
GRANT EXECUTE ON FUNCTION globalkv.get_state(text, text), kv.get(text, text, text),
    kv.wait_replicated(text, text, text, integer, integer) TO globalkv_client;

-- ---------------------------------------------------------------------
-- the change feed (docs/api.md "Change feed")
-- ---------------------------------------------------------------------
#include "udfs/changes_part/0.3.sql"
#include "udfs/changes/0.3.sql"
REVOKE EXECUTE ON FUNCTION globalkv.changes_part(text, integer[], bigint[], integer, integer),
    kv.changes(text, text, integer, integer) FROM PUBLIC;
-- a node's part runs as the forwarding login, which is a client
GRANT EXECUTE ON FUNCTION globalkv.changes_part(text, integer[], bigint[], integer, integer),
    kv.changes(text, text, integer, integer) TO globalkv_client;
