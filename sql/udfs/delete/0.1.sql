CREATE FUNCTION kv.delete(namespace text, key text)
RETURNS boolean AS 'MODULE_PATHNAME', 'gkv_delete' LANGUAGE C VOLATILE PARALLEL UNSAFE;
