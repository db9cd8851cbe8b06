CREATE FUNCTION globalkv.stats(
    OUT puts bigint, OUT gets bigint, OUT deletes bigint, OUT patches bigint,
    OUT inserts bigint, OUT updates bigint, OUT conflicts bigint,
    OUT expired_rows bigint, OUT replicated_rows bigint, OUT replication_conflicts bigint,
    OUT purged_tombstones bigint,
    OUT hlc bigint, OUT hlc_time timestamptz)
RETURNS record AS 'MODULE_PATHNAME', 'gkv_stats' LANGUAGE C VOLATILE;
