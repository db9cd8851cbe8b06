-- scan: kv.scan, prefix scans in key order (C collation), resumable,
-- tombstones and expired documents never returned, prefix and after_key
-- taken as data
SELECT kv.create_namespace('scan');
SELECT count(*) FROM kv.put_many('scan',
    ARRAY(SELECT 'user:42:' || lpad(i::text, 3, '0') FROM generate_series(1, 250) i),
    ARRAY(SELECT jsonb_build_object('i', i) FROM generate_series(1, 250) i));
SELECT count(*) FROM kv.put_many('scan',
    ARRAY['user:4', 'user:41:x', 'user:420', 'user:43:a', 'user:42', 'user:42:%', 'user:42:_', 'user_42:a',
          'a', 'é', 'éa', 'ê', 'z' || chr(1114111), 'z' || chr(1114111) || 'a', 'za'],
    ARRAY(SELECT '{}'::jsonb FROM generate_series(1, 15)));
SELECT kv.delete('scan', 'user:42:007');
SELECT kv.put('scan', 'user:42:008', '{"i": 8}', 1);
SELECT pg_sleep(1.2);

-- the first page, then resumed from its last key until an empty page
SELECT count(*), min(key), max(key) FROM kv.scan('scan', 'user:42:', NULL, 100);
SELECT count(*), min(key), max(key) FROM kv.scan('scan', 'user:42:', 'user:42:101', 100);
SELECT count(*), min(key), max(key) FROM kv.scan('scan', 'user:42:', 'user:42:201', 100);
SELECT count(*) FROM kv.scan('scan', 'user:42:', 'user:42:250', 100);
-- every page together: each live key once, in order, nothing deleted or expired
WITH RECURSIVE pages(n, last, keys) AS (
    SELECT 1, max(key), array_agg(key ORDER BY key) FROM kv.scan('scan', 'user:42:', NULL, 7)
  UNION ALL
    SELECT p.n + 1, s.last, s.keys
      FROM pages p, LATERAL (SELECT max(key) AS last, array_agg(key ORDER BY key) AS keys
                               FROM kv.scan('scan', 'user:42:', p.last, 7)) s
     WHERE s.last IS NOT NULL)
SELECT count(*) AS pages, sum(cardinality(keys)) AS keys,
       (SELECT array_agg(k ORDER BY n, o) FROM pages, unnest(keys) WITH ORDINALITY u(k, o))
       = (SELECT array_agg(k ORDER BY k COLLATE "C") FROM (SELECT DISTINCT unnest(keys) k FROM pages) x) AS in_order
  FROM pages;
SELECT count(*) FROM kv.scan('scan', 'user:42:', NULL, 1000) WHERE key IN ('user:42:007', 'user:42:008');

-- % and _ are data; the prefix is exact
SELECT key FROM kv.scan('scan', 'user:42:%') ORDER BY key;
SELECT key FROM kv.scan('scan', 'user:42:_') ORDER BY key;
SELECT key FROM kv.scan('scan', 'user:4', NULL, 1000) WHERE key NOT LIKE 'user:42:0%' AND key NOT LIKE 'user:42:1%' AND key NOT LIKE 'user:42:2%';
-- non-ASCII prefixes, and one ending in the last code point
SELECT key FROM kv.scan('scan', 'é');
SELECT replace(key, chr(1114111), '<U+10FFFF>') AS key FROM kv.scan('scan', 'z' || chr(1114111));
SELECT count(*) FROM kv.scan('scan', '', NULL, 1000);
SELECT key FROM kv.scan('scan', 'nothing here');

-- the values come along
SELECT key, value FROM kv.scan('scan', 'user:42:1', 'user:42:105', 3);

-- bad input: GK errors
SELECT try($$SELECT * FROM kv.scan('no_such_ns', 'a')$$);
SELECT try($$SELECT * FROM kv.scan('scan', NULL)$$);
SELECT try($$SELECT * FROM kv.scan('scan', 'a', NULL, 0)$$);
SELECT try($$SELECT * FROM kv.scan('scan', 'a', NULL, 100001)$$);

-- a client may scan
SET ROLE globalkv_client;
SELECT count(*) FROM kv.scan('scan', 'user:42:0', NULL, 5);
RESET ROLE;
SELECT kv.drop_namespace('scan') > 0 AS dropped;
