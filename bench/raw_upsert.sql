-- (a) raw upsert: the baseline for kv.put and kv.patch_numeric (docs/ANCHORS.md).
-- :nkeys and :doc come from pgbench -D; with -M prepared :k and :doc are
-- sent as parameters, so the document is parsed by jsonb_in on every call.
\set k random(1, :nkeys)
INSERT INTO bench_raw AS t (namespace, key, ts, origin, value)
VALUES ('bench', :k, now(), 1, :doc::jsonb)
ON CONFLICT (namespace, key) DO UPDATE
   SET ts = EXCLUDED.ts, origin = EXCLUDED.origin, value = EXCLUDED.value
 WHERE t.ts <= EXCLUDED.ts;
