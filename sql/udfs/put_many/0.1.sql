CREATE FUNCTION kv.put_many(namespace text, keys text[], "values" jsonb[],
                            expiry_policy text DEFAULT 'NO_EXPIRE',
                            OUT key text, OUT result text)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_put_many' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.put_many(namespace text, keys text[], "values" text[],
                            expiry_policy text DEFAULT 'NO_EXPIRE',
                            OUT key text, OUT result text)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_put_many' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kv.put_many(namespace text, keys text[], "values" jsonb[], ttl_seconds bigint,
                            OUT key text, OUT result text)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_put_many' LANGUAGE C VOLATILE PARALLEL UNSAFE;
