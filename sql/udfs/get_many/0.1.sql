CREATE FUNCTION kv.get_many(namespace text, keys text[], OUT key text, OUT value jsonb)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_get_many' LANGUAGE C VOLATILE PARALLEL UNSAFE;
