CREATE FUNCTION globalkv.pull(peer integer, resyncing boolean,
    shards integer[], cursors bigint[], max_rows integer, wait_ms integer,
    OUT shard integer, OUT namespace text, OUT key text, OUT value jsonb,
    OUT hlc bigint, OUT origin integer, OUT expires_at timestamptz,
    OUT crdt bytea, OUT seq bigint)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_pull' LANGUAGE C VOLATILE;
