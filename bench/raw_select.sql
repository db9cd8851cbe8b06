-- (b) raw primary-key read of the value: the baseline for kv.get.
\set k random(1, :nkeys)
SELECT value FROM bench_raw WHERE namespace = 'bench' AND key = :k;
