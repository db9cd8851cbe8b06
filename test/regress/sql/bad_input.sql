-- bad_input: every rejected call has a globalkv SQLSTATE (class GK) and
-- leaves nothing behind
SELECT kv.create_namespace('bad');
SELECT kv.put('bad', 'keep', '{"v": 1}');

-- unknown namespace and policy
SELECT try($$SELECT kv.put('no_such_ns', 'k', '{}')$$);
SELECT try($$SELECT kv.get('no_such_ns', 'k')$$);
SELECT try($$SELECT kv.delete('no_such_ns', 'k')$$);
SELECT try($$SELECT kv.patch_numeric('no_such_ns', 'k', '{"a": 1}')$$);
SELECT try($$SELECT kv.put('', 'k', '{}')$$);
SELECT try($$SELECT kv.put('bad', 'k', '{}', 'NO_SUCH_POLICY')$$);
SELECT try($$SELECT kv.patch_numeric('bad', 'k', '{"a": 1}', 'NO_SUCH_POLICY')$$);
SELECT try($$SELECT * FROM kv.put_many('bad', ARRAY['k'], ARRAY['{}']::jsonb[], 'NO_SUCH_POLICY')$$);

-- keys: empty, too long (globalkv.max_key_length), NULL
SELECT try($$SELECT kv.put('bad', '', '{}')$$);
SELECT try($$SELECT kv.get('bad', '')$$);
SHOW globalkv.max_key_length;
SELECT try(format($$SELECT kv.put('bad', %L, '{}')$$, repeat('k', 1024)));
SELECT try(format($$SELECT kv.put('bad', %L, '{}')$$, repeat('k', 1025)));
SET globalkv.max_key_length = 8;
SELECT try($$SELECT kv.put('bad', '123456789', '{}')$$);
SELECT try($$SELECT kv.put('bad', 'multibyt€', '{}')$$);
RESET globalkv.max_key_length;
SELECT try($$SELECT kv.put('bad', NULL, '{}')$$);
SELECT try($$SELECT kv.put(NULL, 'k', '{}')$$);
SELECT try($$SELECT kv.get('bad', NULL)$$);
-- a NUL byte cannot reach a key: PostgreSQL text refuses it first
SELECT try($$SELECT kv.put('bad', convert_from('\x610062'::bytea, 'UTF8'), '{}')$$);

-- documents: invalid JSON, not an object, NULL, too large
SELECT try($$SELECT kv.put('bad', 'k', '{"a": ')$$);
SELECT try($$SELECT kv.put('bad', 'k', 'not json')$$);
SELECT try($$SELECT kv.put('bad', 'k', '[1, 2]')$$);
SELECT try($$SELECT kv.put('bad', 'k', '42')$$);
SELECT try($$SELECT kv.put('bad', 'k', '"text"')$$);
SELECT try($$SELECT kv.put('bad', 'k', 'null')$$);
SELECT try($$SELECT kv.put('bad', 'k', '[]'::jsonb)$$);
SELECT try($$SELECT kv.put('bad', 'k', NULL::jsonb)$$);
SET globalkv.max_document_size = 100;
SELECT try(format($$SELECT kv.put('bad', 'k', %L)$$, jsonb_build_object('s', repeat('x', 200))));
SELECT try(format($$SELECT kv.put('bad', 'k', %L)$$, jsonb_build_object('s', repeat('x', 10))));
RESET globalkv.max_document_size;

-- TTLs
SELECT try($$SELECT kv.put('bad', 'k', '{}', 0)$$);
SELECT try($$SELECT kv.put('bad', 'k', '{}', -5)$$);
SELECT try($$SELECT kv.put('bad', 'k', '{}', 99999999999)$$);
SELECT try($$SELECT kv.patch_numeric('bad', 'k', '{"a": 1}', 0)$$);

-- versions for compare-and-set
SELECT try($$SELECT kv.put_if_version('bad', 'keep', '{}', 'garbage')$$);
SELECT try($$SELECT kv.put_if_version('bad', 'keep', '{}', '12:')$$);
SELECT try($$SELECT kv.put_if_version('bad', 'keep', '{}', '-1:1')$$);
SELECT try($$SELECT kv.put_if_version('bad', 'keep', '{}', '12:0')$$);
SELECT try($$SELECT kv.put_if_version('bad', 'keep', '{}', '12:1x')$$);

-- batches are validated whole before the first write: nothing is written
SELECT try($$SELECT * FROM kv.put_many('bad', ARRAY['b1', 'b2', 'b3'], ARRAY['{}', '[]', '{}'])$$);
SELECT try($$SELECT * FROM kv.put_many('bad', ARRAY['b1', 'b2', 'b3'], ARRAY['{}', '{', '{}'])$$);
SELECT try($$SELECT * FROM kv.put_many('bad', ARRAY['b1', '', 'b3'], ARRAY['{}', '{}', '{}'])$$);
SELECT try($$SELECT * FROM kv.put_many('bad', ARRAY['b1', NULL], ARRAY['{}', '{}'])$$);
SELECT try($$SELECT * FROM kv.put_many('bad', ARRAY['b1', 'b2'], ARRAY['{}', NULL])$$);
SELECT try($$SELECT * FROM kv.put_many('bad', ARRAY['b1', 'b2'], ARRAY['{}'])$$);
SELECT try($$SELECT * FROM kv.put_many('bad', ARRAY[['b1'], ['b2']], ARRAY[['{}'], ['{}']])$$);
SELECT try($$SELECT * FROM kv.get_many('bad', ARRAY['b1', ''])$$);
-- an error in the middle of a multi-statement transaction rolls everything back
BEGIN;
SELECT kv.put('bad', 'txn1', '{"in": "txn"}');
SELECT kv.put('bad', 'txn2', '[]');
ROLLBACK;
SELECT kv.get('bad', 'txn1') IS NULL AS rolled_back;

-- what a peer sends (here through globalkv.apply_row, the same check as
-- the apply worker's) is checked like a client's call, and its version must
-- not be far ahead: a version 10 years out would win every conflict
SELECT try($$SELECT globalkv.apply_row('bad', '', '{}', 1000, 1, NULL, NULL)$$);
SELECT try($$SELECT globalkv.apply_row('bad', 'k', '[1]', 1000, 1, NULL, NULL)$$);
SELECT try($$SELECT globalkv.apply_row('bad', 'k', '{}', 1000, 0, NULL, NULL)$$);
SELECT regexp_replace(try(format($$SELECT globalkv.apply_row('bad', 'k', '{}', %s, 1, NULL, NULL)$$,
           globalkv.hlc_at(now() + interval '10 years'))), '\d+ s ahead', 'N s ahead') AS far_ahead;

-- the only document of the namespace is the one written at the start
SELECT stored_rows('bad');
SELECT kv.get('bad', 'keep');

-- writes are refused in read-only transactions and in prepared transactions
BEGIN READ ONLY;
SELECT try($$SELECT kv.put('bad', 'ro', '{}')$$);
ROLLBACK;
BEGIN;
SELECT kv.put('bad', 'twophase', '{}');
PREPARE TRANSACTION 'gkv_2pc';
SELECT kv.get('bad', 'twophase') IS NULL AS not_written;
