CREATE FUNCTION kv.key_shard(namespace text, key text, OUT hash bigint, OUT shard integer)
RETURNS record AS 'MODULE_PATHNAME', 'gkv_key_shard' LANGUAGE C STABLE STRICT PARALLEL SAFE;
