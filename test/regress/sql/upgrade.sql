--
-- The 0.1 -> 0.2 upgrade path (placements, routing, shard moves): a node
-- installed at 0.1 keeps its documents and its catalog, and gains the new
-- catalog and functions.  Runs last: it reinstalls the extension.
--
DROP EXTENSION globalkv CASCADE;
CREATE EXTENSION globalkv VERSION '0.1';
SELECT kv.set_node(7, 'upgrader', 'zoneU');
SELECT kv.create_namespace('up');
SELECT kv.put('up', 'k1', '{"v": 1}');
SELECT kv.patch_numeric('up', 'k2', '{"n": 5}', 'NO_EXPIRE');
-- 0.1 has no placements
SELECT count(*) FROM pg_class WHERE relname = 'placements' AND relnamespace = 'globalkv'::regnamespace;

ALTER EXTENSION globalkv UPDATE TO '0.2';
SELECT extversion FROM pg_extension WHERE extname = 'globalkv';
-- documents and catalog survived
SELECT kv.get('up', 'k1'), kv.get('up', 'k2');
SELECT node_id, node_name, zone_name FROM kv.node;
-- the new catalog works: a one-node parade holds every shard itself
SELECT kv.add_node(7, 'upgrader', 'zoneU', 'host=127.0.0.1 port=1 dbname=regression');
SELECT count(*) AS placements, count(*) FILTER (WHERE node_id = 7 AND is_local) AS held_here
  FROM kv.placements;
SELECT split_part(kv.shard_map(), E'\n', 1) AS header,
       (SELECT count(*) FROM regexp_split_to_table(kv.shard_map(), E'\n') l WHERE l LIKE 'placement%') AS placement_lines;
-- writes after the upgrade route to this node and replicate as before
SELECT kv.put('up', 'k1', '{"v": 2}');
SELECT kv.get('up', 'k1');
-- moves refuse bad requests, and nothing is half-written
SELECT public.try($$SELECT globalkv.move_prepare(0, 42)$$);
SELECT public.try($$SELECT globalkv.move_prepare(99999, 7)$$);
SELECT public.try($$SELECT globalkv.move_abort(0)$$);
SELECT count(*) FROM globalkv.shard_moves;
