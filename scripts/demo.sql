-- scripts/demo.sql: the demo workload of `make demo`.
\pset footer off
\echo
\echo '--- a namespace and an expiry policy, created at run time'
SELECT kv.create_namespace('shop');
SELECT kv.create_expiry_policy('SESSION', interval '2 seconds');

\echo '--- put and get JSON documents (pg_global_kv call shapes)'
SELECT kv.put('shop', 'user:42', '{"name": "Ada", "plan": "pro", "visits": 1}', 'NO_EXPIRE') AS put;
SELECT kv.get('shop', 'user:42') AS get;
SELECT kv.put('shop', 'user:42', '{"name": "Ada", "plan": "team", "visits": 1}') AS put_again;
SELECT value, version, expires_at FROM kv.get_versioned('shop', 'user:42');

\echo '--- counters: patch_numeric adds to numeric fields and leaves the rest alone'
SELECT kv.patch_numeric('shop', 'user:42', '{"visits": 1, "spent": 19.99}') AS after_patch;
SELECT kv.patch_numeric('shop', 'user:42', '{"visits": 1, "spent": 0.01}') AS after_second_patch;

\echo '--- 10,000 increments from one statement: none lost'
SELECT count(kv.patch_numeric('shop', 'page:home', '{"hits": 1}')) AS increments
  FROM generate_series(1, 10000);
SELECT kv.get('shop', 'page:home') AS counter;

\echo '--- batches: many keys in one call'
SELECT result, count(*) FROM kv.put_many('shop',
    (SELECT array_agg('item:' || i) FROM generate_series(1, 1000) i),
    (SELECT array_agg(jsonb_build_object('sku', i, 'price', i * 1.5)) FROM generate_series(1, 1000) i))
 GROUP BY result;
SELECT * FROM kv.get_many('shop', ARRAY['item:1', 'item:999', 'item:missing']);

\echo '--- compare-and-set on a version'
SELECT kv.put_if_version('shop', 'user:42', '{"name": "Ada", "plan": "enterprise"}',
                         (SELECT version FROM kv.get_versioned('shop', 'user:42'))) AS cas_with_current_version;
SELECT kv.put_if_version('shop', 'user:42', '{"name": "Mallory"}', '1:1') AS cas_with_stale_version;

\echo '--- delete: a tombstone that reads as missing'
SELECT kv.delete('shop', 'item:1') AS deleted, kv.get('shop', 'item:1') IS NULL AS reads_as_missing;

\echo '--- expiry: a session document with a 2 second policy'
SELECT kv.put('shop', 'session:abc', '{"cart": [1, 2, 3]}', 'SESSION') AS put;
SELECT kv.get('shop', 'session:abc') AS now_visible;
SELECT pg_sleep(2.5);
SELECT kv.get('shop', 'session:abc') IS NULL AS expired_and_gone;

\echo '--- bad input gets a clear error with a globalkv SQLSTATE'
\set VERBOSITY default
\set ON_ERROR_STOP 0
SELECT kv.put('shop', 'user:1', '[1, 2]');
SELECT kv.put('nowhere', 'user:1', '{}');
SELECT kv.patch_numeric('shop', 'user:42', '{"name": 1}');
\set ON_ERROR_STOP 1

\echo '--- operation counts and the node clock'
SELECT * FROM kv.stats;
