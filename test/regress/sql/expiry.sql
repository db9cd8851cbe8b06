-- expiry: an expired document is never returned, whether or not the
-- expiry worker has removed it yet
SELECT kv.create_namespace('exp');
-- stop the expiry worker from racing this test: it only removes rows
-- in pg_stat-visible batches, so hold a lock it has to skip instead
SELECT kv.put('exp', 'live', '{"v": "live"}', 3600);
SELECT kv.put('exp', 'gone', '{"v": "gone"}', 3600);
-- age 'gone' by moving its expiry into the past, as replication from a
-- zone that wrote it long ago would
BEGIN;
DO $$
DECLARE t text;
BEGIN
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = (kv.key_shard('exp', 'gone')).shard;
    EXECUTE format('UPDATE globalkv_data.%I SET expires_at = now() - interval ''1 second''
                     WHERE namespace = ''exp'' AND key = ''gone''', t);
END
$$;
-- the row is still there (this transaction holds it locked), yet invisible
SELECT stored_rows('exp');
SELECT kv.get('exp', 'gone') IS NULL AS expired_is_null;
SELECT count(*) FROM kv.get_versioned('exp', 'gone');
SELECT * FROM kv.get_many('exp', ARRAY['gone', 'live']);
-- writing an expired key counts as an insert
SELECT kv.put_if_version('exp', 'gone', '{"v": "reborn"}', NULL);
COMMIT;
SELECT kv.get('exp', 'gone');

-- patch_numeric on an expired counter starts a new life: old counts are gone
SELECT kv.patch_numeric('exp', 'ctr', '{"n": 5}', 3600);
BEGIN;
DO $$
DECLARE t text;
BEGIN
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = (kv.key_shard('exp', 'ctr')).shard;
    EXECUTE format('UPDATE globalkv_data.%I SET expires_at = now() - interval ''1 second''
                     WHERE namespace = ''exp'' AND key = ''ctr''', t);
END
$$;
SELECT kv.get('exp', 'ctr') IS NULL AS expired_counter_is_null;
SELECT kv.patch_numeric('exp', 'ctr', '{"n": 1}', 3600);
COMMIT;
SELECT kv.get('exp', 'ctr');
-- the expiry comes with each write: a NO_EXPIRE patch clears it
SELECT kv.patch_numeric('exp', 'ctr', '{"n": 1}', 'NO_EXPIRE');
SELECT expires_at IS NULL AS no_expiry FROM kv.get_versioned('exp', 'ctr');
