-- kv.docs: every live document of the zone as one relation.  On a single
-- node the planner reads this node's shard tables directly (PostgreSQL
-- plans the rest); a query pinning namespace and key reads one document
-- as kv.get does.  Multi-node plans: TAP 022_docs.
SELECT column_name, data_type FROM information_schema.columns
 WHERE table_schema = 'kv' AND table_name = 'docs' ORDER BY ordinal_position;
SELECT kv.create_namespace('shop');
SELECT kv.create_namespace('crm');
SELECT kv.put_many('shop', ARRAY['o1', 'o2', 'o3', 'o4', 'o5'],
                   ARRAY['{"customer": "c1", "total": 10, "paid": true}',
                         '{"customer": "c1", "total": 25.5, "paid": false}',
                         '{"customer": "c2", "total": 7, "paid": true}',
                         '{"customer": "c3", "total": 100}',
                         '{"customer": "c9", "total": 1, "paid": true}']::jsonb[]);
SELECT kv.put_many('crm', ARRAY['c1', 'c2', 'c3'],
                   ARRAY['{"name": "Ann"}', '{"name": "Bo"}', '{"name": "Cy"}']::jsonb[]);
-- a deleted document and an expired one are not there
SELECT kv.put('shop', 'gone', '{"customer": "c1", "total": 1000}');
SELECT kv.delete('shop', 'gone');
SELECT kv.put('shop', 'old', '{"customer": "c1", "total": 2000}', 3600);
DO $$
DECLARE t text;
BEGIN
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = (kv.key_shard('shop', 'old')).shard;
    EXECUTE format('UPDATE globalkv_data.%I SET expires_at = now() - interval ''1 second''
                     WHERE namespace = ''shop'' AND key = ''old''', t);
END
$$;
SELECT namespace, count(*) FROM kv.docs WHERE namespace IN ('shop', 'crm') GROUP BY namespace ORDER BY namespace;
SELECT key FROM kv.docs WHERE namespace = 'shop' ORDER BY key;

-- one document: read where kv.get reads it
EXPLAIN (COSTS OFF) SELECT value FROM kv.docs WHERE namespace = 'shop' AND key = 'o1';
SELECT value, version = (SELECT version FROM kv.get_versioned('shop', 'o1')) AS same_version
  FROM kv.docs WHERE namespace = 'shop' AND key = 'o1';
SELECT count(*) FROM kv.docs WHERE namespace = 'shop' AND key = 'gone';
SELECT count(*) FROM kv.docs WHERE namespace = 'shop' AND key = 'old';
SELECT count(*) FROM kv.docs WHERE namespace = 'nosuch' AND key = 'o1';
SELECT count(*) FROM kv.docs WHERE namespace = 'shop' AND key = '';
-- with parameters, in custom and generic plans alike
PREPARE one(text, text) AS SELECT value->>'customer' FROM kv.docs WHERE namespace = $1 AND key = $2;
EXECUTE one('shop', 'o1'); EXECUTE one('shop', 'o2'); EXECUTE one('shop', 'o3');
EXECUTE one('shop', 'o4'); EXECUTE one('shop', 'o5'); EXECUTE one('shop', 'o1');
EXECUTE one('crm', 'c2');
DEALLOCATE one;
-- a key computed from parameters is known when the statement starts: routed too
PREPARE two(int) AS SELECT value->>'customer' FROM kv.docs WHERE namespace = 'shop' AND key = 'o' || $1;
EXPLAIN (COSTS OFF) EXECUTE two(1);
EXECUTE two(1); EXECUTE two(2); EXECUTE two(3); EXECUTE two(4); EXECUTE two(5); EXECUTE two(3);
DEALLOCATE two;
-- a key from another table is not: this node's shard tables, joined
EXPLAIN (COSTS OFF) SELECT d.key FROM (VALUES ('o1')) v(k), kv.docs d WHERE d.namespace = 'shop' AND d.key = v.k;

-- anything else: this node's shard tables, planned by PostgreSQL
SELECT value->>'customer' AS customer, count(*), sum((value->>'total')::numeric) AS total,
       bool_and((value->>'paid')::boolean) AS all_paid
  FROM kv.docs WHERE namespace = 'shop' GROUP BY 1 HAVING count(*) >= 1 ORDER BY 1;
SELECT count(DISTINCT value->>'customer') FROM kv.docs WHERE namespace = 'shop';
-- joins of two namespaces on a field: inner, left, anti
SELECT o.key, c.value->>'name' AS name
  FROM kv.docs o JOIN kv.docs c ON c.namespace = 'crm' AND c.key = o.value->>'customer'
 WHERE o.namespace = 'shop' ORDER BY o.key;
SELECT o.key, c.value->>'name' AS name
  FROM kv.docs o LEFT JOIN kv.docs c ON c.namespace = 'crm' AND c.key = o.value->>'customer'
 WHERE o.namespace = 'shop' ORDER BY o.key;
SELECT c.key FROM kv.docs c
 WHERE c.namespace = 'crm'
   AND NOT EXISTS (SELECT 1 FROM kv.docs o WHERE o.namespace = 'shop' AND o.value->>'customer' = c.key)
 ORDER BY c.key;
WITH big AS (SELECT key FROM kv.docs WHERE namespace = 'shop' AND (value->>'total')::numeric > 9)
SELECT string_agg(key, ',' ORDER BY key) FROM big;
SELECT key FROM kv.docs WHERE namespace = 'shop' ORDER BY (value->>'total')::numeric DESC LIMIT 2;

-- writes: every row is a kv.put or a kv.delete (merge, new version, replication)
INSERT INTO kv.docs (namespace, key, value) VALUES ('shop', 'o6', '{"customer": "c2", "total": 3}')
RETURNING namespace, key, value, version IS NOT NULL AS versioned, expires_at;
SELECT kv.get('shop', 'o6');
INSERT INTO kv.docs (namespace, key, value, expires_at)
VALUES ('shop', 'o7', '{"total": 1}', now() + interval '1 hour')
RETURNING key, expires_at > now() AS expires;
UPDATE kv.docs SET value = value || '{"paid": true}' WHERE namespace = 'shop' AND key = 'o2'
RETURNING key, value;
SELECT (kv.get_versioned('shop', 'o7')).expires_at IS NOT NULL AS expiry_kept_before;
UPDATE kv.docs SET value = value || '{"seen": true}' WHERE namespace = 'shop' AND key = 'o7';
SELECT (kv.get_versioned('shop', 'o7')).expires_at IS NOT NULL AS expiry_kept_after;
WITH u AS (UPDATE kv.docs SET value = value || '{"vip": true}'
            WHERE namespace = 'shop' AND value->>'customer' = 'c1' RETURNING key)
SELECT key FROM u ORDER BY key;
WITH d AS (DELETE FROM kv.docs WHERE namespace = 'shop' AND (value->>'total')::numeric < 5 RETURNING key)
SELECT key FROM d ORDER BY key;
SELECT key, value FROM kv.docs WHERE namespace = 'shop' ORDER BY key;
-- bad writes are refused, nothing written
SELECT try($$UPDATE kv.docs SET key = 'o99' WHERE namespace = 'shop' AND key = 'o1'$$);
SELECT try($$INSERT INTO kv.docs (namespace, key, value) VALUES ('shop', 'x', NULL)$$);
SELECT try($$INSERT INTO kv.docs (namespace, key, value, version) VALUES ('shop', 'x', '{}', '1:1')$$);
SELECT try($$INSERT INTO kv.docs (namespace, key, value) VALUES ('nosuch', 'x', '{}')$$);
SELECT try($$INSERT INTO kv.docs (namespace, key, value, expires_at) VALUES ('shop', 'x', '{}', now() - interval '1 day')$$);
SELECT try($$INSERT INTO kv.docs (namespace, key, value) VALUES ('shop', 'x', '[1]')$$);
SELECT count(*) FROM kv.docs WHERE namespace = 'shop' AND key IN ('x', 'o99');

-- the functions behind kv.docs refuse to be used for anything else
SELECT try($$SELECT * FROM globalkv.docs_fanout('SELECT key FROM kv.docs docs WHERE true', 'bad') AS f(key text)$$);
SELECT try($$SELECT * FROM globalkv.docs_unplanned()$$);

-- permissions: clients read and write through kv.docs, never the shard tables
CREATE ROLE docs_client IN ROLE globalkv_client;
CREATE ROLE docs_stranger;
SET ROLE docs_client;
SELECT count(*) FROM kv.docs WHERE namespace = 'crm';
INSERT INTO kv.docs (namespace, key, value) VALUES ('crm', 'c4', '{"name": "Di"}');
UPDATE kv.docs SET value = '{"name": "Dee"}' WHERE namespace = 'crm' AND key = 'c4' RETURNING value;
DELETE FROM kv.docs WHERE namespace = 'crm' AND key = 'c3' RETURNING key;
SELECT key FROM kv.docs WHERE namespace = 'crm' ORDER BY key;
SELECT try($$SELECT count(*) FROM globalkv_data.shard_0000$$);
SET ROLE docs_stranger;
SELECT try($$SELECT count(*) FROM kv.docs$$);
RESET ROLE;
DROP ROLE docs_client;
DROP ROLE docs_stranger;
SELECT kv.drop_namespace('shop');
SELECT kv.drop_namespace('crm');
