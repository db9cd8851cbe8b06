CREATE FUNCTION kv.put(namespace text, key text, value text,
                       expiry_policy text DEFAULT 'NO_EXPIRE')
RETURNS text AS 'MODULE_PATHNAME', 'gkv_put' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.put(namespace text, key text, value jsonb,
                       expiry_policy text DEFAULT 'NO_EXPIRE')
RETURNS text AS 'MODULE_PATHNAME', 'gkv_put' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.put(namespace text, key text, value text, ttl_seconds bigint)
RETURNS text AS 'MODULE_PATHNAME', 'gkv_put' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.put(namespace text, key text, value jsonb, ttl_seconds bigint)
RETURNS text AS 'MODULE_PATHNAME', 'gkv_put' LANGUAGE C VOLATILE PARALLEL UNSAFE;
