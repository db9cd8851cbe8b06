-- kv.shard_map() -> the shard map as the client library reads it
-- (format in docs/routing.md).
CREATE FUNCTION kv.shard_map() RETURNS text
    AS 'MODULE_PATHNAME', 'gkv_shard_map' LANGUAGE C STABLE;
