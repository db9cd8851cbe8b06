-- 0.3: the same pull with the puller's claims (covered_above, covered:
-- (origin, shard, upto) triples), so that the source leaves out the rows
-- the puller already holds -- its own writes coming back, and rows it has
-- from their origin already (src/replication/coverage.c).  The 6-argument
-- form stays for peers of an older version: it leaves nothing out.
CREATE FUNCTION globalkv.pull(peer integer, resyncing boolean,
    shards integer[], cursors bigint[], max_rows integer, wait_ms integer,
    covered_above bigint, covered bigint[],
    OUT shard integer, OUT namespace text, OUT key text, OUT value jsonb,
    OUT hlc bigint, OUT origin integer, OUT expires_at timestamptz,
    OUT crdt bytea, OUT seq bigint)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_pull' LANGUAGE C VOLATILE;
