-- bench/outside_in.sh, -M simple: raw_upsert.sql (the baseline for kv.put)
-- with the key and the document quoted.
\set k random(1, :nkeys)
INSERT INTO bench_raw AS t (namespace, key, ts, origin, value)
VALUES ('bench', ':k', now(), 1, ':doc'::jsonb)
ON CONFLICT (namespace, key) DO UPDATE
   SET ts = EXCLUDED.ts, origin = EXCLUDED.origin, value = EXCLUDED.value
 WHERE t.ts <= EXCLUDED.ts;
