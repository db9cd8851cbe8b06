-- kv.resync() calls this after it removed rows: from now on no peer leaves
-- out of a pull a row this node may no longer hold (src/replication/coverage.c).
CREATE FUNCTION globalkv.coverage_reset()
RETURNS void AS 'MODULE_PATHNAME', 'gkv_coverage_reset' LANGUAGE C VOLATILE;
