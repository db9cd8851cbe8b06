-- globalkv.repair_status(): the background repair's progress
-- (src/operations/repair_worker.c), shown by kv.repair_status.
CREATE FUNCTION globalkv.repair_status(
    OUT enabled boolean, OUT interval_seconds integer, OUT rounds bigint,
    OUT shard_now integer, OUT shards_done integer, OUT shards_total integer,
    OUT differing_this_round bigint, OUT differing_last_round bigint,
    OUT mended_last_round bigint, OUT last_round_finished timestamptz,
    OUT last_error text, OUT bytes bigint)
RETURNS record AS 'MODULE_PATHNAME', 'gkv_repair_status' LANGUAGE C VOLATILE;
