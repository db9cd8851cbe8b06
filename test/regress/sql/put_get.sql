-- put_get: the basic document API
SELECT kv.create_namespace('pg');

-- pg_global_kv call shapes: untyped literals, a named policy
SELECT kv.put('pg', 'user:1', '{"name": "Ann", "visits": 1}', 'NO_EXPIRE');
SELECT kv.get('pg', 'user:1');
SELECT kv.put('pg', 'user:1', '{"name": "Ann", "visits": 2}');
SELECT kv.get('pg', 'user:1');
-- jsonb values, and a three-argument put (policy defaults to NO_EXPIRE)
SELECT kv.put('pg', 'user:2', jsonb_build_object('tags', jsonb_build_array('a', 'b'), 'n', 1.50));
SELECT kv.get('pg', 'user:2');
-- missing keys read as NULL
SELECT kv.get('pg', 'nobody') IS NULL AS missing_is_null;

-- versions: (hlc, origin); a put makes a newer version
SELECT version LIKE '%:1' AS origin_is_node_1, expires_at IS NULL AS never_expires
  FROM kv.get_versioned('pg', 'user:1');
CREATE TEMP TABLE v1 AS SELECT version FROM kv.get_versioned('pg', 'user:1');
SELECT kv.put('pg', 'user:1', '{"name": "Ann", "visits": 3}');
SELECT split_part((SELECT version FROM kv.get_versioned('pg', 'user:1')), ':', 1)::numeric >
       split_part((SELECT version FROM v1), ':', 1)::numeric AS version_grew;
SELECT count(*) AS rows_for_missing FROM kv.get_versioned('pg', 'nobody');

-- delete: a tombstone that reads as missing; deleting again reports false
SELECT kv.delete('pg', 'user:2');
SELECT kv.get('pg', 'user:2') IS NULL AS deleted_is_null;
SELECT kv.delete('pg', 'b-same') AS d, kv.put('pg', 'b-same', '{"s": 1}') AS p, kv.get('pg', 'b-same') AS read_own_write_in_same_statement;
SELECT count(*) AS rows_for_deleted FROM kv.get_versioned('pg', 'user:2');
SELECT kv.delete('pg', 'user:2');
SELECT kv.delete('pg', 'never-existed');
-- the tombstones are rows (they replicate); a put revives the key
SELECT stored_rows('pg');
SELECT kv.put('pg', 'user:2', '{"back": true}');
SELECT kv.get('pg', 'user:2');

-- compare-and-set
CREATE TEMP TABLE v2 AS SELECT version FROM kv.get_versioned('pg', 'user:1');
SELECT kv.put_if_version('pg', 'user:1', '{"cas": 1}', (SELECT version FROM v2));
SELECT kv.put_if_version('pg', 'user:1', '{"cas": 2}', (SELECT version FROM v2));
SELECT kv.get('pg', 'user:1');
SELECT kv.put_if_version('pg', 'fresh', '{"cas": "new"}', NULL);
SELECT kv.put_if_version('pg', 'fresh', '{"cas": "again"}', NULL);
SELECT kv.get('pg', 'fresh');
SELECT kv.delete('pg', 'fresh');
SELECT kv.put_if_version('pg', 'fresh', '{"cas": "after delete"}', NULL);
SELECT kv.put_if_version('pg', 'user:1', '{"cas": 3}', '1:1');

-- batches: put_many and get_many, results in the caller's order
SELECT * FROM kv.put_many('pg', ARRAY['b1', 'b2', 'user:1'],
                          ARRAY['{"i": 1}', '{"i": 2}', '{"i": 3}']::jsonb[]);
SELECT * FROM kv.put_many('pg', ARRAY['b3', 'b1'], ARRAY['{"t": "text form"}', '{"i": 10}']);
SELECT * FROM kv.get_many('pg', ARRAY['b2', 'missing', 'b1', 'user:1', 'b3']);
SELECT count(*) FROM kv.put_many('pg', ARRAY[]::text[], ARRAY[]::jsonb[]);
-- a bigger batch
SELECT result, count(*) FROM kv.put_many('pg',
         (SELECT array_agg('bulk:' || i) FROM generate_series(1, 2000) i),
         (SELECT array_agg(jsonb_build_object('i', i)) FROM generate_series(1, 2000) i))
 GROUP BY result;
SELECT sum((value->>'i')::int) FROM kv.get_many('pg',
         (SELECT array_agg('bulk:' || i) FROM generate_series(1, 2000) i));

