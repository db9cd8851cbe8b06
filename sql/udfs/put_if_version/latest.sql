CREATE FUNCTION kv.put_if_version(namespace text, key text, value text,
                                  expected_version text,
                                  expiry_policy text DEFAULT 'NO_EXPIRE')
RETURNS text AS 'MODULE_PATHNAME', 'gkv_put_if_version' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.put_if_version(namespace text, key text, value jsonb,
                                  expected_version text,
                                  expiry_policy text DEFAULT 'NO_EXPIRE')
RETURNS text AS 'MODULE_PATHNAME', 'gkv_put_if_version' LANGUAGE C VOLATILE PARALLEL UNSAFE;
