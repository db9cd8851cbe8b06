--
-- first_call: a new connection's first API call costs no SQL of its own
-- when the catalog is unchanged (it copies the shared-memory catalog), and
-- no internal query is ever JIT-compiled, even with JIT forced on.
--
SELECT kv.create_namespace('firstcall');
SELECT kv.put('firstcall', 'k', '{"v": 1}', 'NO_EXPIRE');

-- a transaction that changes the catalog reads it from the tables (an
-- empty UPDATE fires the catalog trigger); JIT is on for every query that
-- costs more than 10, which every catalog query does, the calls below not
\c
SET jit = on;
SET jit_above_cost = 10;
SET jit_inline_above_cost = 10;
SET jit_optimize_above_cost = 10;
SET client_min_messages = debug1;
BEGIN;
UPDATE globalkv.namespaces SET name = name WHERE false;
SELECT kv.get('firstcall', 'k');
COMMIT;
-- the commit moved the generation: read again, and published for others
SELECT kv.get('firstcall', 'k');
RESET client_min_messages;
-- llvmjit is loaded into a backend the first time it compiles a query
SELECT position('llvmjit' IN pg_read_file('/proc/self/maps')) = 0 AS no_jit_in_internal_queries;

-- a new backend copies what the previous one read and published
\c
SET client_min_messages = debug1;
SELECT kv.get('firstcall', 'k');
SELECT kv.put('firstcall', 'k2', '{"v": 2}', 'NO_EXPIRE');
RESET client_min_messages;

-- a catalog change made in this session is visible to it at once
BEGIN;
SELECT kv.create_namespace('firstcall2');
SELECT kv.put('firstcall2', 'a', '{}', 'NO_EXPIRE');
ROLLBACK;
-- rolled back: the namespace is gone again, for this backend too
SELECT kv.put('firstcall2', 'a', '{}', 'NO_EXPIRE');
-- and a new backend never saw it
\c
SELECT kv.put('firstcall2', 'a', '{}', 'NO_EXPIRE');
