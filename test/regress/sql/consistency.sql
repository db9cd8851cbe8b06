-- consistency: kv.get(..., consistency) and kv.wait_replicated on one node
-- (one zone); the zones, and a zone down, are in TAP 030
SELECT kv.create_namespace('cons');
SELECT kv.put('cons', 'k', '{"a": 1}');
SELECT kv.get('cons', 'k', 'zone'), kv.get('cons', 'k', 'all'), kv.get('cons', 'nobody', 'all');
SELECT kv.delete('cons', 'k');
SELECT kv.get('cons', 'k', 'all') AS deleted_reads_null;
SELECT value IS NULL AS tombstone, version IS NOT NULL AS has_version FROM globalkv.get_state('cons', 'k');
SELECT kv.put('cons', 'k', '{"a": 2}');
SELECT version AS v FROM kv.get_versioned('cons', 'k') \gset
SELECT kv.wait_replicated('cons', 'k', :'v') AS zones_with_it, kv.wait_replicated('cons', 'k', :'v', 1, 0) AS at_once;
-- an older version is covered by the newer one stored
SELECT kv.wait_replicated('cons', 'k', '1:1', 1, 0) AS older_covered;
-- a version from the future is not there yet: GK019 once the time is up
SELECT regexp_replace(try(format($$SELECT kv.wait_replicated('cons', 'k', '%s:1', 1, 30)$$,
           (split_part(:'v', ':', 1)::numeric + 1000000000)::text)), 'version \d+:1', 'version <future>') AS timed_out;
-- bad input
SELECT try($$SELECT kv.get('cons', 'k', 'quorum')$$);
SELECT try($$SELECT kv.get('cons', 'k', NULL::text)$$);
SELECT try($$SELECT kv.wait_replicated('cons', 'k', 'not a version')$$);
SELECT try($$SELECT kv.wait_replicated('cons', 'k', '1:1', 2)$$);
SELECT try($$SELECT kv.wait_replicated('cons', 'k', '1:1', 1, -1)$$);
SELECT try($$SELECT kv.get('no_such_ns', 'k', 'all')$$);
SET ROLE globalkv_client;
SELECT kv.get('cons', 'k', 'all') AS a_client_may;
RESET ROLE;
SELECT kv.drop_namespace('cons') > 0 AS dropped;
