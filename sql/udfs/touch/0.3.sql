-- kv.touch(namespace, key, ttl_seconds): a new expiry for a live document,
-- now + ttl_seconds, its value untouched; false (nothing written) when the
-- document is missing, deleted or expired.  A versioned write: it
-- replicates, and every zone expires the key at the same instant.
CREATE FUNCTION kv.touch(namespace text, key text, ttl_seconds bigint)
RETURNS boolean AS 'MODULE_PATHNAME', 'gkv_touch' LANGUAGE C VOLATILE PARALLEL UNSAFE;
