-- bench/replication.sh: kv.put of a ~150-byte document, over the keys
-- k1 .. k:nkeys loaded in part 1, that carries its write time: "t" is the
-- writing node's clock_timestamp() in unix ms, read again on the other
-- nodes to compute each row's replication lag (bench.lag in repl_setup.sql).
\set k random(1, :nkeys)
SELECT kv.put('DEFAULT', 'k' || :k,
              jsonb_build_object('t', round(extract(epoch FROM clock_timestamp()) * 1000, 3),
                                 'user', 'user-' || lpad(:k, 10, '0'),
                                 'email', 'u' || lpad(:k, 10, '0') || '@example.com',
                                 'city', 'Berlin', 'plan', 'premium', 'note', 'lorem ipsum do'));
