-- catalog_merge: replicated catalog rows are merged by the library
-- (GkvCatalogApply), with the comparison documents use: the greater
-- (hlc, origin) wins, a tie or an older version changes nothing.
-- globalkv.apply_catalog_row is that merge, reached from SQL.
\set h 111411200000000000
-- a namespace arrives from node 5
SELECT globalkv.apply_catalog_row('namespaces', 'merged', '{"created_at": "2023-11-14 22:13:20+00"}', :h, 5);
SELECT name, hlc = :h AS at_h, origin, dropped FROM globalkv.namespaces WHERE name = 'merged';
-- the same row again: nothing changes (idempotent)
SELECT globalkv.apply_catalog_row('namespaces', 'merged', '{"created_at": "2023-11-14 22:13:20+00"}', :h, 5);
-- an older drop loses, whichever order it arrives in
SELECT globalkv.apply_catalog_row('namespaces', 'merged', NULL, :h - 1, 9);
-- at the same hlc the greater origin wins; the lesser one loses
SELECT globalkv.apply_catalog_row('namespaces', 'merged', NULL, :h, 4);
SELECT name, dropped FROM globalkv.namespaces WHERE name = 'merged';
-- documents written into it, then a newer drop wins and takes them along
SELECT kv.put('merged', 'doc', '{"a": 1}');
SELECT globalkv.apply_catalog_row('namespaces', 'merged', NULL, :h, 6);
SELECT name, origin, dropped FROM globalkv.namespaces WHERE name = 'merged';
SELECT try($$SELECT kv.get('merged', 'doc')$$);
SELECT stored_rows('merged');
-- and a later re-creation wins over the drop
SELECT globalkv.apply_catalog_row('namespaces', 'merged', '{"created_at": "2023-11-15 00:00:00+00"}', :h + 1, 5);
SELECT name, dropped FROM globalkv.namespaces WHERE name = 'merged';

-- the other catalog tables: policies, nodes, placements (key "<shard>/<zone>")
SELECT globalkv.apply_catalog_row('expiry_policies', 'MERGED', '{"ttl": "00:10:00"}', :h, 5);
SELECT globalkv.apply_catalog_row('expiry_policies', 'MERGED', '{"ttl": "00:20:00"}', :h - 5, 5);
SELECT name, ttl FROM kv.expiry_policies WHERE name = 'MERGED';
SELECT globalkv.apply_catalog_row('nodes', '55', '{"node_name": "far", "zone_name": "zoneF", "conninfo": "host=127.0.0.1 port=1"}', :h, 5);
-- a drop keeps the node's last description
SELECT globalkv.apply_catalog_row('nodes', '55', NULL, :h + 1, 5);
SELECT node_id, node_name, zone_name, dropped FROM globalkv.nodes WHERE node_id = 55;
SELECT globalkv.apply_catalog_row('placements', '3/zoneF', '{"node_id": 55}', :h, 5);
SELECT globalkv.apply_catalog_row('placements', '3/zoneF', '{"node_id": 56}', :h, 4);
SELECT shard_id, zone_name, node_id FROM globalkv.placements WHERE zone_name = 'zoneF';
SELECT globalkv.apply_catalog_row('placements', '3/zoneF', NULL, :h + 2, 5);

-- rows the stream cannot carry are refused, nothing written
SELECT try($$SELECT globalkv.apply_catalog_row('tables', 'x', NULL, 1, 1)$$);
SELECT try($$SELECT globalkv.apply_catalog_row('nodes', 'x', NULL, 1, 1)$$);
SELECT try($$SELECT globalkv.apply_catalog_row('placements', '3', NULL, 1, 1)$$);
SELECT try($$SELECT globalkv.apply_catalog_row('placements', 'a/zoneF', NULL, 1, 1)$$);
SELECT try($$SELECT globalkv.apply_catalog_row('namespaces', 'x', NULL, NULL, 1)$$);

-- the clock's bit layout, as SQL sees it through globalkv.hlc_at
SELECT globalkv.hlc_at('2023-11-14 22:13:20+00') = :h AS same_layout;

-- the tombstone purge (in the library): a lone node has no peers to wait
-- for, so a tombstone older than the minimum age goes at once
SELECT kv.create_namespace('purged');
SELECT kv.put('purged', 'gone', '{"a": 1}');
SELECT kv.delete('purged', 'gone');
SELECT stored_rows('purged');
SELECT pg_sleep(0.01);  -- the tombstone's clock value is now below the purge's start
SELECT globalkv.purge_tombstones(3600, 0, 1000) >= 1 AS purged_some;
SELECT stored_rows('purged');
SELECT try($$SELECT globalkv.purge_tombstones(-1, 0, 10)$$);
SELECT try($$SELECT globalkv.purge_tombstones(10, 0, 0)$$);

-- (last: it leaves this node's clock a minute ahead, as it must)
-- a row from a node whose clock runs a minute ahead moves our clock past it:
-- a catalog change made here afterwards wins over it
SELECT globalkv.apply_catalog_row('namespaces', 'future', '{}', globalkv.hlc_at(now() + interval '1 minute'), 5);
SELECT kv.drop_namespace('future');
SELECT name, dropped, origin <> 5 AS written_here FROM globalkv.namespaces WHERE name = 'future';
