--
-- routing: which node serves a key, as one node sees it (docs/routing.md,
-- src/routing/router.c): key -> shard, the placements, kv.shard_map(), a
-- shard held elsewhere refused (direct) or forwarded (forward), failover
-- order, batch splitting.  The other nodes registered here do not run
-- (port 1): forwarding to live nodes, failover to a live zone and shard
-- moves are in TAP 020_sharding.  Ends as it started: not in a parade.
--

-- try_detail(): like try(), with the error's detail (who holds the shard,
-- which nodes were tried)
CREATE FUNCTION public.try_detail(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    d text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' | ' || nullif(d, ''), '');
END
$$;
SELECT kv.create_namespace('rt');

-- ---- key -> shard ----------------------------------------------------------
-- 16 shards covering the 32-bit hash space without gaps or overlaps
SELECT count(*) AS shards,
       min(hash_min) AS first_hash, max(hash_max) AS last_hash,
       bool_and(hash_min = coalesce(lag_max + 1, 0)) AS contiguous
  FROM (SELECT hash_min, hash_max, lag(hash_max) OVER (ORDER BY shard_id) AS lag_max
          FROM globalkv.shards) s;
-- the hash and shard of a key match the shared test vectors
CREATE TEMP TABLE vectors (ns text, key text, hash bigint, s1 int, s16 int, s64 int);
\copy vectors FROM 'test/vectors/hash_vectors.txt' WITH (FORMAT text, DELIMITER E'\t', HEADER true)
SELECT count(*) AS vectors,
       count(*) FILTER (WHERE (kv.key_shard(ns, key)).hash = hash) AS hash_matches,
       count(*) FILTER (WHERE (kv.key_shard(ns, key)).shard = s16) AS shard_matches
  FROM vectors;
-- and the shard's hash range contains the key's hash
SELECT count(*) AS outside_range
  FROM vectors v JOIN globalkv.shards s ON s.shard_id = (kv.key_shard(v.ns, v.key)).shard
 WHERE v.hash NOT BETWEEN s.hash_min AND s.hash_max;
-- shard = floor(hash * S / 2^32), for keys beyond the vectors too
SELECT count(*) AS keys,
       count(*) FILTER (WHERE (ks).shard = floor((ks).hash * 16 / 4294967296.0)) AS by_the_formula,
       count(*) FILTER (WHERE (ks).hash BETWEEN 0 AND 4294967295) AS hash_in_32_bits
  FROM (SELECT kv.key_shard('rt', 'f' || i) AS ks FROM generate_series(1, 1000) i) x;
-- the hash covers namespace || 0x00 || key: moving the boundary changes it
SELECT (kv.key_shard('ab', 'c')).hash <> (kv.key_shard('a', 'bc')).hash AS boundary_counts;

-- ---- not in a parade: this node serves every shard ------------------------
SELECT count(*) AS placements FROM kv.placements;
SELECT line FROM regexp_split_to_table(kv.shard_map(), E'\n') WITH ORDINALITY l(line, n)
 WHERE line <> '' ORDER BY n;
-- a batch over every shard is written here, each row in its hash's shard table
SELECT result, count(*) FROM kv.put_many('rt',
         (SELECT array_agg('bulk:' || i) FROM generate_series(1, 2000) i),
         (SELECT array_agg(jsonb_build_object('i', i)) FROM generate_series(1, 2000) i))
 GROUP BY result;
SELECT count(DISTINCT (kv.key_shard('rt', 'bulk:' || i)).shard) AS shards_used
  FROM generate_series(1, 2000) i;
SELECT count(*) FILTER (WHERE namespace = 'rt') AS rt_rows,
       count(*) FILTER (WHERE shard_id <> (kv.key_shard(namespace, key)).shard) AS misplaced
  FROM globalkv.shard_rows();
-- direct mode refuses nothing: no other node holds anything
SET globalkv.routing = direct;
SELECT kv.get('rt', 'bulk:7');
RESET globalkv.routing;

-- ---- a parade of one node: it holds every shard ---------------------------
-- the map shows host, port and dbname of a conninfo, nothing else of it,
-- and no tab or newline that would break its lines
SELECT kv.add_node(1, 'node-one', 'zone-a',
                   E'host=127.0.0.1 port=1 dbname=''regr\tession'' user=gkv password=secret');
SELECT count(*) AS placements, count(*) FILTER (WHERE node_id = 1 AND is_local) AS held_here
  FROM kv.placements;
SELECT line FROM regexp_split_to_table(kv.shard_map(), E'\n') WITH ORDINALITY l(line, n)
 WHERE line NOT LIKE 'placement%' AND line <> '' ORDER BY n;
SELECT count(*) AS placement_lines,
       count(*) FILTER (WHERE line = format(E'placement\t%s\tzone-a\t1', s)) AS on_node_one
  FROM regexp_split_to_table(kv.shard_map(), E'\n') line
  JOIN generate_series(0, 15) s ON split_part(line, E'\t', 2) = s::text
 WHERE line LIKE 'placement%';
SELECT position('secret' IN kv.shard_map()) = 0 AS no_password,
       position('gkv' IN kv.shard_map()) = 0 AS no_user;
-- a second node joining the zone takes no shard: the zone's placements are
-- pinned first, although its id is smaller
SELECT kv.add_node(3, 'small-id', 'zone-a', 'host=127.0.0.1 port=1 dbname=regression');
SELECT count(*) FILTER (WHERE node_id = 1) AS on_node_one, count(*) FILTER (WHERE node_id = 3) AS on_small
  FROM kv.placements;
SELECT kv.get('rt', 'bulk:7');
-- placement errors
SELECT try($$SELECT kv.set_placement(99999, 1)$$);
SELECT try($$SELECT kv.set_placement(-1, 1)$$);
SELECT try($$SELECT kv.set_placement(0, 42)$$);

-- ---- a shard held by another node of the zone -----------------------------
SELECT kv.put('rt', 'away', '{"v": "away"}');
SELECT (kv.key_shard('rt', 'away')).shard AS away_shard,
       (kv.key_shard('rt', 'here')).shard AS here_shard,
       (kv.key_shard('rt', 'near')).shard AS near_shard;
SELECT kv.set_placement((kv.key_shard('rt', 'away')).shard, 3);
SELECT shard_id, node_id, node_name, is_local FROM kv.placements
 WHERE shard_id = (kv.key_shard('rt', 'away')).shard;
SELECT line FROM regexp_split_to_table(kv.shard_map(), E'\n') line
 WHERE line LIKE format(E'placement\t%s\t%%', (kv.key_shard('rt', 'away')).shard);
SELECT kv.put('rt', 'here', '{"v": "here"}'), kv.put('rt', 'near', '{"v": "near"}');
-- direct: every call for that shard is refused with GK017, naming the holder,
-- before the document is even looked at (the holder checks it)
SET globalkv.routing = direct;
SELECT try_detail($$SELECT kv.get('rt', 'away')$$);
SELECT try_detail($$SELECT kv.put('rt', 'away', '{"v": 2}')$$);
SELECT try_detail($$SELECT kv.put('rt', 'away', '[]')$$);
SELECT try_detail($$SELECT kv.delete('rt', 'away')$$);
SELECT try_detail($$SELECT kv.patch_numeric('rt', 'away', '{"n": 1}', 'NO_EXPIRE')$$);
SELECT try_detail($$SELECT kv.put_if_version('rt', 'away', '{}', NULL)$$);
SELECT try_detail($$SELECT * FROM kv.get_versioned('rt', 'away')$$);
-- a batch with one key there is refused whole; one without is served
SELECT try_detail($$SELECT * FROM kv.get_many('rt', ARRAY['here', 'away'])$$);
SELECT try_detail($$SELECT * FROM kv.put_many('rt', ARRAY['here', 'away'], ARRAY['{}', '{}']::jsonb[])$$);
SELECT * FROM kv.get_many('rt', ARRAY['near', 'missing', 'here']);
-- the other shards are still served here
SELECT kv.get('rt', 'here');
RESET globalkv.routing;
-- forward: the holder is unreachable and no other zone has a node, so the
-- call fails with GK018, saying whom it tried -- a call whose request never
-- left (patch_numeric, put_if_version too) is not "outcome unknown"
SELECT try_detail($$SELECT kv.get('rt', 'away')$$);
SELECT try_detail($$SELECT kv.patch_numeric('rt', 'away', '{"n": 1}', 'NO_EXPIRE')$$);
SELECT try_detail($$SELECT kv.put_if_version('rt', 'away', '{}', NULL)$$);
-- a batch is split: its local part alone is answered here; with a key on the
-- unreachable node it fails whole, and its local keys are not written
SELECT * FROM kv.get_many('rt', ARRAY['here', 'missing', 'near']);
SELECT try_detail($$SELECT * FROM kv.put_many('rt', ARRAY['here', 'away', 'near'],
                                              ARRAY['{"b": 1}', '{"b": 2}', '{"b": 3}']::jsonb[])$$);
SELECT kv.get('rt', 'here'), kv.get('rt', 'near');

-- ---- failover order: the shard's holders in the other zones ---------------
SELECT kv.add_node(6, 'c-node', 'zone-c', 'host=127.0.0.1 port=1 dbname=regression');
SELECT kv.add_node(5, 'b-node', 'zone-b', 'host=127.0.0.1 port=1 dbname=regression');
-- unlisted zones follow by name; globalkv.zone_order puts its zones first
SELECT try_detail($$SELECT kv.get('rt', 'away')$$);
SET globalkv.zone_order = 'zone-c';
SELECT try_detail($$SELECT kv.get('rt', 'away')$$);
RESET globalkv.zone_order;
-- a placement in another zone takes nothing away from this node
SELECT kv.set_placement((kv.key_shard('rt', 'here')).shard, 5);
SELECT zone_name, node_id, is_local FROM kv.placements
 WHERE shard_id = (kv.key_shard('rt', 'here')).shard ORDER BY zone_name;
SET globalkv.routing = direct;
SELECT kv.get('rt', 'here');
RESET globalkv.routing;

-- ---- the placement back: the documents stored here are served again -------
SELECT kv.set_placement((kv.key_shard('rt', 'away')).shard, 1);
SELECT kv.get('rt', 'away');
SELECT * FROM kv.put_many('rt', ARRAY['here', 'away'], ARRAY['{"b": 1}', '{"b": 2}']::jsonb[]);

-- ---- out of the parade again: every shard is served here -------------------
SELECT kv.drop_node(n) FROM unnest(ARRAY[3, 5, 6, 1]) n;
SELECT count(*) AS placements FROM kv.placements;
SET globalkv.routing = direct;
SELECT * FROM kv.get_many('rt', ARRAY['here', 'away', 'near']);
RESET globalkv.routing;
SELECT kv.drop_namespace('rt');
DROP FUNCTION public.try_detail(text);
