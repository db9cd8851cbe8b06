-- globalkv 0.1 -> 0.2: shard placements, routing, online shard moves.
-- See docs/routing.md and docs/shard-moves.md.
\echo Use "ALTER EXTENSION globalkv UPDATE TO '0.2'" to load this file. \quit

-- ---------------------------------------------------------------------
-- Placements: which node of a zone holds a shard
-- ---------------------------------------------------------------------

-- An explicit placement of one shard in one zone.  Replicated like the
-- rest of the catalog (versioned, "dropped" tombstone).  A (shard, zone)
-- without a live row here belongs to the zone's node with the smallest id:
-- see globalkv.placement_map.
CREATE TABLE globalkv.placements (
    shard_id integer NOT NULL CHECK (shard_id >= 0),
    zone_name text NOT NULL,
    node_id integer NOT NULL CHECK (node_id > 0),
    hlc bigint NOT NULL DEFAULT 0,
    origin integer NOT NULL DEFAULT 0,
    seq bigint NOT NULL DEFAULT 0,
    dropped boolean NOT NULL DEFAULT false,
    PRIMARY KEY (shard_id, zone_name)
);

-- A shard move in progress (or, while "switched", draining its source):
-- the target pulls the shard from the source until the move is complete.
-- Replicated, so the source counts the target among the shard's peers
-- when it purges tombstones.
CREATE TABLE globalkv.shard_moves (
    shard_id integer NOT NULL CHECK (shard_id >= 0),
    zone_name text NOT NULL,
    source_node integer NOT NULL,
    target_node integer NOT NULL,
    state text NOT NULL CHECK (state IN ('copying', 'switched')),
    started_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    hlc bigint NOT NULL DEFAULT 0,
    origin integer NOT NULL DEFAULT 0,
    seq bigint NOT NULL DEFAULT 0,
    dropped boolean NOT NULL DEFAULT false,
    PRIMARY KEY (shard_id, zone_name),
    CHECK (source_node <> target_node)
);
SELECT pg_catalog.pg_extension_config_dump('globalkv.placements', '');
SELECT pg_catalog.pg_extension_config_dump('globalkv.shard_moves', '');
CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON globalkv.placements FOR EACH STATEMENT EXECUTE FUNCTION globalkv.catalog_changed();
CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON globalkv.shard_moves FOR EACH STATEMENT EXECUTE FUNCTION globalkv.catalog_changed();

-- The one definition of "who holds shard s in zone z": the live explicit
-- placement on a live node of that zone, else the zone's smallest node id.
-- The C catalog cache (routing, replication pairing) reads this view too.
CREATE VIEW globalkv.placement_map AS
    SELECT s.shard_id, z.zone_name,
           coalesce((SELECT p.node_id
                       FROM globalkv.placements p
                       JOIN globalkv.nodes n ON n.node_id = p.node_id AND NOT n.dropped
                                             AND n.zone_name = p.zone_name
                      WHERE p.shard_id = s.shard_id AND p.zone_name = z.zone_name
                        AND NOT p.dropped),
                    z.first_node) AS node_id
      FROM globalkv.shards s
      CROSS JOIN (SELECT zone_name, min(node_id) AS first_node
                    FROM globalkv.nodes WHERE NOT dropped GROUP BY zone_name) z;

-- Placements for people: one row per shard and zone.
CREATE VIEW kv.placements AS
    SELECT m.shard_id, m.zone_name, m.node_id, n.node_name,
           m.node_id = g.node_id AS is_local,
           mv.target_node AS moving_to, mv.state AS move_state
      FROM globalkv.placement_map m
      JOIN globalkv.nodes n ON n.node_id = m.node_id
      CROSS JOIN globalkv.node g
      LEFT JOIN globalkv.shard_moves mv
             ON mv.shard_id = m.shard_id AND mv.zone_name = m.zone_name AND NOT mv.dropped;

#include "udfs/shard_peers/0.2.sql"

#include "udfs/set_placement/0.2.sql"

#include "udfs/add_node/0.2.sql"

#include "udfs/init_shards/0.2.sql"

#include "udfs/apply_catalog_row/0.2.sql"

#include "udfs/catalog_row/0.2.sql"

#include "udfs/purge_tombstones/0.2.sql"

-- ---------------------------------------------------------------------
-- Routing (src/routing/)
-- ---------------------------------------------------------------------

#include "udfs/shard_map/0.2.sql"

-- ---------------------------------------------------------------------
-- Online shard moves (docs/shard-moves.md).  The `globalkv shard move`
-- command drives these steps; each is safe to repeat.
-- ---------------------------------------------------------------------

#include "udfs/fence_shard/0.2.sql"

#include "udfs/move_prepare/0.2.sql"

#include "udfs/move_progress/0.2.sql"

#include "udfs/move_fence/0.2.sql"

#include "udfs/move_switch/0.2.sql"

#include "udfs/move_drain_point/0.2.sql"

#include "udfs/move_complete/0.2.sql"

#include "udfs/move_cleanup/0.2.sql"

#include "udfs/move_abort/0.2.sql"

-- ---------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA kv FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA globalkv FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kv.shard_map() TO globalkv_client;
GRANT SELECT ON kv.placements TO globalkv_client;
GRANT SELECT ON globalkv.placements, globalkv.shard_moves, globalkv.placement_map
    TO globalkv_client, globalkv_replication;
GRANT EXECUTE ON FUNCTION
    kv.set_placement(integer, integer), globalkv.shard_peers(integer),
    globalkv.catalog_row(text, text),
    globalkv.move_prepare(integer, integer), globalkv.move_progress(integer),
    globalkv.move_fence(integer), globalkv.move_switch(integer, integer, jsonb),
    globalkv.move_drain_point(integer), globalkv.move_complete(integer),
    globalkv.move_cleanup(integer), globalkv.move_abort(integer)
  TO globalkv_admin;
