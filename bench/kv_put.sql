-- (c) kv.put of a whole document (same document and parameters as raw_upsert.sql).
\set k random(1, :nkeys)
SELECT kv.put('bench', :k, :doc::jsonb, 'NO_EXPIRE');
