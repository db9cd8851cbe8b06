-- touch: kv.touch and kv.get_and_touch (sliding expiry) on one node; the
-- merge of touches with concurrent writes is in merge_rule, the zones in
-- TAP 030
SELECT kv.create_namespace('touch');
SELECT kv.put('touch', 'session', '{"user": 42}', 60);
SELECT version AS v0, expires_at AS e0 FROM kv.get_versioned('touch', 'session') \gset

-- a new expiry, the value and anything else untouched, a new version
SELECT kv.touch('touch', 'session', 3600);
SELECT value, version <> :'v0' AS new_version,
       ceil(extract(epoch FROM expires_at - now())) BETWEEN 3590 AND 3600 AS expires_in_an_hour
  FROM kv.get_versioned('touch', 'session');
SELECT kv.get_and_touch('touch', 'session', 120);
SELECT ceil(extract(epoch FROM expires_at - now())) BETWEEN 110 AND 120 AS expires_in_two_minutes
  FROM kv.get_versioned('touch', 'session');

-- a document without expiry gets one
SELECT kv.put('touch', 'forever', '{"a": 1}');
SELECT kv.touch('touch', 'forever', 60), (SELECT expires_at IS NOT NULL FROM kv.get_versioned('touch', 'forever'));

-- missing, deleted, expired: false / NULL, and nothing is written
SELECT kv.touch('touch', 'nobody', 60), kv.get_and_touch('touch', 'nobody', 60);
SELECT stored_rows('touch') AS rows_before_missing_touch;
SELECT kv.put('touch', 'gone', '{"a": 1}');
SELECT kv.delete('touch', 'gone');
SELECT kv.touch('touch', 'gone', 60), kv.get_and_touch('touch', 'gone', 60);
SELECT kv.put('touch', 'short', '{"a": 1}', 1);
SELECT pg_sleep(1.2);
SELECT kv.touch('touch', 'short', 3600), kv.get_and_touch('touch', 'short', 3600), kv.get('touch', 'short');
SELECT stored_rows('touch') AS rows_after;

-- counters keep their state across a touch, and count on after it
SELECT kv.patch_numeric('touch', 'hits', '{"n": 5}');
SELECT kv.patch_numeric('touch', 'hits', '{"n": 2}');
SELECT kv.get_and_touch('touch', 'hits', 600);
SELECT kv.patch_numeric('touch', 'hits', '{"n": 1}');
SELECT kv.get('touch', 'hits');

-- bad input: GK errors, nothing written
SELECT try($$SELECT kv.touch('touch', 'session', 0)$$);
SELECT try($$SELECT kv.touch('touch', 'session', -5)$$);
SELECT try($$SELECT kv.touch('touch', 'session', NULL)$$);
SELECT try($$SELECT kv.touch('touch', '', 60)$$);
SELECT try($$SELECT kv.get_and_touch('no_such_ns', 'k', 60)$$);
SELECT ceil(extract(epoch FROM expires_at - now())) BETWEEN 110 AND 120 AS expiry_unchanged
  FROM kv.get_versioned('touch', 'session');

-- a client may touch
SET ROLE globalkv_client;
SELECT kv.touch('touch', 'session', 300);
RESET ROLE;
SELECT kv.drop_namespace('touch') > 0 AS dropped;
