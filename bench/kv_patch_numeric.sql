-- (e) kv.patch_numeric on documents that also hold string fields.
\set k random(1, :nkeys)
SELECT kv.patch_numeric('bench', :k, '{"clicks":1}', 'NO_EXPIRE');
