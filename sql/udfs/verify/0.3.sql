-- kv.verify(shard, peer) compares this node's copy of each shard it holds
-- (or only 'shard') with the holder of that shard in every other zone (or
-- only node 'peer'), by digests of key buckets descended only where they
-- differ (src/operations/anti_entropy.c).  One row per shard and peer;
-- differing_keys = 0 everywhere means in sync.  Progress: a NOTICE a shard.
CREATE FUNCTION kv.verify(shard integer DEFAULT NULL, peer integer DEFAULT NULL,
    OUT shard_id integer, OUT peer_node integer, OUT peer_name text,
    OUT local_rows bigint, OUT peer_rows bigint, OUT differing_buckets integer,
    OUT differing_keys bigint, OUT bytes bigint)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_verify' LANGUAGE C VOLATILE;
