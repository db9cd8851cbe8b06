-- bench/outside_in.sh, -M simple: kv_put.sql with the key and the document
-- quoted (the document holds no single quote); the server parses the
-- document with jsonb_in on every call, as with -M prepared.
\set k random(1, :nkeys)
SELECT kv.put('bench', ':k', ':doc'::jsonb, 'NO_EXPIRE');
