--
-- The upgrade path 0.1 -> 0.2 -> 0.3: a node installed at 0.1 keeps its
-- documents and its catalog, and gains the new catalog and functions.
-- Runs last: it reinstalls the extension.
--
DROP EXTENSION globalkv CASCADE;
CREATE EXTENSION globalkv VERSION '0.1';
-- the library works only on the SQL of its own version, and says what to do
SELECT public.try($$SELECT kv.put('up', 'k1', '{"v": 1}')$$);
SELECT public.try($$SELECT kv.create_namespace('up')$$);
-- what a 0.1 library left behind, written as it wrote it: the node's
-- identity (kv.set_node calls no library function), a namespace and two
-- documents.  ('up', 'k1') is in shard 15 of 16 and ('up', 'k2') in shard 9
-- (the key hash of src/common/gkv_hash.c); 111411200000000000 is the clock
-- value of 2023-11-14 22:13:20 UTC.
SELECT kv.set_node(7, 'upgrader', 'zoneU');
INSERT INTO globalkv.namespaces (name, hlc, origin, seq) VALUES ('up', 111411200000000000, 7, 111411200000000000);
INSERT INTO globalkv_data.shard_0015 (namespace, key, value, hlc, origin, seq)
VALUES ('up', 'k1', '{"v": 1}', 111411200000000001, 7, 111411200000000001);
INSERT INTO globalkv_data.shard_0009 (namespace, key, value, hlc, origin, seq)
VALUES ('up', 'k2', '{"n": 5}', 111411200000000002, 7, 111411200000000002);
-- 0.1 has no placements
SELECT count(*) FROM pg_class WHERE relname = 'placements' AND relnamespace = 'globalkv'::regnamespace;

ALTER EXTENSION globalkv UPDATE TO '0.2';
SELECT extversion FROM pg_extension WHERE extname = 'globalkv';
SELECT public.try($$SELECT kv.get('up', 'k1')$$);
ALTER EXTENSION globalkv UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'globalkv';
-- documents and catalog survived, each in the shard the library computes
SELECT kv.get('up', 'k1'), kv.get('up', 'k2');
SELECT (kv.key_shard('up', 'k1')).shard AS k1_shard, (kv.key_shard('up', 'k2')).shard AS k2_shard;
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
