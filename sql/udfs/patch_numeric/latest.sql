CREATE FUNCTION kv.patch_numeric(namespace text, key text, offsets text,
                                 expiry_policy text DEFAULT 'NO_EXPIRE')
RETURNS jsonb AS 'MODULE_PATHNAME', 'gkv_patch_numeric' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.patch_numeric(namespace text, key text, offsets jsonb,
                                 expiry_policy text DEFAULT 'NO_EXPIRE')
RETURNS jsonb AS 'MODULE_PATHNAME', 'gkv_patch_numeric' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.patch_numeric(namespace text, key text, offsets text, ttl_seconds bigint)
RETURNS jsonb AS 'MODULE_PATHNAME', 'gkv_patch_numeric' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.patch_numeric(namespace text, key text, offsets jsonb, ttl_seconds bigint)
RETURNS jsonb AS 'MODULE_PATHNAME', 'gkv_patch_numeric' LANGUAGE C VOLATILE PARALLEL UNSAFE;
