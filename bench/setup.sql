-- Schema for bench/run.sh (run once on the fresh instance, as superuser).
CREATE EXTENSION globalkv;
SELECT kv.create_namespace('bench');

-- The baseline table, exactly as docs/ANCHORS.md describes it.
CREATE TABLE bench_raw (
    namespace text,
    key text COLLATE "C",
    ts timestamptz,
    origin int,
    value jsonb,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX bench_raw_ts ON bench_raw (ts);

-- bench_doc(g): the document of key g, 150 bytes of JSON text
-- (length(bench_doc(g)::text) = 150 for every g < 10^10): one numeric
-- counter that kv.patch_numeric increments, one other number, and strings.
CREATE FUNCTION bench_doc(g bigint) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT jsonb_build_object(
        'clicks', 0,
        'views', 100 + g % 900,
        'user', 'user-' || lpad(g::text, 10, '0'),
        'email', 'u' || lpad(g::text, 10, '0') || '@example.com',
        'city', (ARRAY['Berlin', 'Lisbon', 'Nagoya', 'Denver'])[1 + g % 4],
        'plan', 'premium',
        'note', 'lorem ipsum')
$fn$;
