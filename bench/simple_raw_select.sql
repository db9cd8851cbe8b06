-- bench/outside_in.sh, -M simple: raw_select.sql with the key quoted.
\set k random(1, :nkeys)
SELECT value FROM bench_raw WHERE namespace = 'bench' AND key = ':k';
