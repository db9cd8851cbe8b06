-- (d) kv.get of one document.
\set k random(1, :nkeys)
SELECT kv.get('bench', :k);
