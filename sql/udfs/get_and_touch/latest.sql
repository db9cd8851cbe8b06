-- kv.get_and_touch(namespace, key, ttl_seconds): kv.touch that returns the
-- document (Redis GETEX, Couchbase getAndTouch); NULL when there was none.
CREATE FUNCTION kv.get_and_touch(namespace text, key text, ttl_seconds bigint)
RETURNS jsonb AS 'MODULE_PATHNAME', 'gkv_get_and_touch' LANGUAGE C VOLATILE PARALLEL UNSAFE;
