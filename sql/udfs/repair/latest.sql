-- kv.repair(shard, peer) finds what kv.verify finds and mends it: each
-- differing document goes to the side that lacks it or holds an older
-- state, through the replication merge (a newer version wins, counters
-- merge); documents one side lacks that are older than that side's purge
-- horizon are removed from the other instead (no resurrection); one
-- version stored with two contents is written anew from this node's copy.
-- One row per shard and peer: row_bytes are the rows moved (as JSON), bytes
-- everything sent to and received from the peer; rerun it after an
-- interruption.
CREATE FUNCTION kv.repair(shard integer DEFAULT NULL, peer integer DEFAULT NULL,
    OUT shard_id integer, OUT peer_node integer, OUT peer_name text,
    OUT differing_keys bigint, OUT sent bigint, OUT received bigint,
    OUT removed bigint, OUT rewritten bigint, OUT row_bytes bigint, OUT bytes bigint)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_repair' LANGUAGE C VOLATILE;
