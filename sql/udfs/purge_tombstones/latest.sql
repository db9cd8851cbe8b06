-- globalkv.purge_tombstones runs one pass of the tombstone purge, as the
-- housekeeping worker does: per shard, up to max_rows tombstones older than
-- min_age that every peer of the shard has acknowledged, and up to max_rows
-- older than the retention whether acknowledged or not (marking the peers
-- that missed them for a resync).  0.3: in C (src/expiry/tombstone_purge.c),
-- where the clock's bit layout and the purge lock are defined.
CREATE OR REPLACE FUNCTION globalkv.purge_tombstones(retention_seconds integer, min_age_seconds integer,
                                                     max_rows integer)
RETURNS bigint
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'gkv_purge_tombstones';
