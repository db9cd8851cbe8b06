/*-------------------------------------------------------------------------
 *
 * metrics_text.c
 *	  The body of GET /metrics: this node's counters in Prometheus' text
 *	  exposition format 0.0.4.
 *
 * Naming follows Prometheus' conventions: the globalkv_ prefix, base units
 * (seconds, rows), _total on counters, one globalkv_build_info.  Labels
 * hold only fixed words and the names an operator gave nodes and zones,
 * never a key or anything from a document.  docs/operations.md lists every
 * metric.
 *
 * Everything comes from shared memory except the node's own name and zone
 * (the catalog cache) and the two backlogs, which are counted by reading
 * the shard tables at most every globalkv.metrics_backlog_interval -- a
 * scrape in between reports the last count and when it was taken.
 *
 * src/monitoring/metrics_text.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "globalkv/catalog.h"
#include "globalkv/guc.h"
#include "globalkv/metrics.h"
#include "globalkv/monitoring.h"
#include "globalkv/replication.h"

#define MAX_REPORTED_PEERS 64

/* the last backlog count, kept between scrapes (this worker only) */
static TimestampTz BacklogCountedAt = 0;
static int64 TombstoneBacklog = -1;
static int64 ExpiryBacklog = -1;

static void
Header(StringInfo out, const char *name, const char *type, const char *help)
{
	appendStringInfo(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* a label value, escaped as the format asks (backslash, quote, newline) */
static void
LabelValue(StringInfo out, const char *value)
{
	for (const char *p = value; *p; p++)
	{
		if (*p == '\\' || *p == '"')
			appendStringInfoChar(out, '\\');
		if (*p == '\n')
			appendStringInfoString(out, "\\n");
		else
			appendStringInfoChar(out, *p);
	}
}

static void
PeerSample(StringInfo out, const char *name, const GkvPeerReport *peer, const char *value)
{
	appendStringInfo(out, "%s{peer=\"", name);
	LabelValue(out, peer->peer_name);
	appendStringInfo(out, "\",peer_id=\"%d\"} %s\n", peer->peer_node_id, value);
}

static void
Counter(StringInfo out, const char *name, const char *help, GkvStatCounter c)
{
	Header(out, name, "counter", help);
	appendStringInfo(out, "%s " UINT64_FORMAT "\n", name, GkvStatsTotal(c));
}

/* the results each operation can end with */
static bool
ResultApplies(GkvOp op, GkvOpResult r)
{
	switch (op)
	{
		case GKV_OP_GET:
			return r == GKV_RESULT_FOUND || r == GKV_RESULT_MISSING;
		case GKV_OP_DELETE:
			return r == GKV_RESULT_DELETED || r == GKV_RESULT_MISSING || r == GKV_RESULT_CONFLICT;
		default:
			return r == GKV_RESULT_INSERT || r == GKV_RESULT_UPDATE || r == GKV_RESULT_CONFLICT;
	}
}

static void
Operations(StringInfo out)
{
	GkvOpTotals totals[GKV_OP_NUM];

	for (int op = 0; op < GKV_OP_NUM; op++)
		GkvStatsOpTotals(op, &totals[op]);

	Header(out, "globalkv_operations_total", "counter",
		   "Client API operations run on this node, by kind and result (batch calls count every key).");
	for (int op = 0; op < GKV_OP_NUM; op++)
		for (int r = 0; r < GKV_RESULT_NUM; r++)
			if (ResultApplies(op, r))
				appendStringInfo(out, "globalkv_operations_total{operation=\"%s\",result=\"%s\"} " UINT64_FORMAT "\n",
								 GkvOpNames[op], GkvOpResultNames[r], totals[op].results[r]);

	Header(out, "globalkv_operation_duration_seconds", "histogram",
		   "Time a client API call took on this node, from its start to its result (a batch call is one observation).");
	for (int op = 0; op < GKV_OP_NUM; op++)
	{
		uint64		cumulative = 0;

		for (int k = 0; k < GKV_LATENCY_BUCKETS; k++)
		{
			cumulative += totals[op].buckets[k];
			if (k < GKV_LATENCY_BUCKETS - 1)
				appendStringInfo(out, "globalkv_operation_duration_seconds_bucket{operation=\"%s\",le=\"%g\"} " UINT64_FORMAT "\n",
								 GkvOpNames[op], GkvLatencyBoundsUs[k] / 1e6, cumulative);
			else
				appendStringInfo(out, "globalkv_operation_duration_seconds_bucket{operation=\"%s\",le=\"+Inf\"} " UINT64_FORMAT "\n",
								 GkvOpNames[op], cumulative);
		}
		appendStringInfo(out, "globalkv_operation_duration_seconds_sum{operation=\"%s\"} %.6f\n",
						 GkvOpNames[op], totals[op].sum_us / 1e6);
		appendStringInfo(out, "globalkv_operation_duration_seconds_count{operation=\"%s\"} " UINT64_FORMAT "\n",
						 GkvOpNames[op], cumulative);
	}
}

/* the figures of a replication stream that become metrics */
typedef enum PeerField
{
	PEER_CONNECTED,
	PEER_LAG_SECONDS,
	PEER_LAG_ROWS,
	PEER_APPLIED,
	PEER_CONFLICTS,
	PEER_BATCHES,
	PEER_SKEW_SECONDS
} PeerField;

/* one metric with a sample per peer */
static void
PeerMetric(StringInfo out, const char *name, const char *type, const char *help,
		   const GkvPeerReport *peers, int n, PeerField field)
{
	Header(out, name, type, help);
	for (int i = 0; i < n; i++)
	{
		const GkvPeerReport *p = &peers[i];
		char		value[64];

		switch (field)
		{
			case PEER_CONNECTED:
				snprintf(value, sizeof(value), "%d", p->connected ? 1 : 0);
				break;
			case PEER_LAG_SECONDS:
				snprintf(value, sizeof(value), "%.3f", p->lag_ms / 1000.0);
				break;
			case PEER_LAG_ROWS:
				snprintf(value, sizeof(value), INT64_FORMAT, p->lag_rows);
				break;
			case PEER_APPLIED:
				snprintf(value, sizeof(value), UINT64_FORMAT, p->rows_applied);
				break;
			case PEER_CONFLICTS:
				snprintf(value, sizeof(value), UINT64_FORMAT, p->conflicts);
				break;
			case PEER_BATCHES:
				snprintf(value, sizeof(value), UINT64_FORMAT, p->batches);
				break;
			case PEER_SKEW_SECONDS:
				snprintf(value, sizeof(value), "%.3f", p->max_clock_skew_ms / 1000.0);
				break;
		}
		PeerSample(out, name, p, value);
	}
}

static void
Replication(StringInfo out)
{
	GkvPeerReport *peers = palloc(sizeof(GkvPeerReport) * MAX_REPORTED_PEERS);
	int			n = GkvPeerReports(peers, MAX_REPORTED_PEERS);

	PeerMetric(out, "globalkv_replication_connected", "gauge",
			   "1 when this node's apply worker for the peer is connected, else 0.",
			   peers, n, PEER_CONNECTED);
	PeerMetric(out, "globalkv_replication_lag_seconds", "gauge",
			   "How far this node's copy is behind the peer's changes (0 when caught up), at batch granularity.",
			   peers, n, PEER_LAG_SECONDS);
	PeerMetric(out, "globalkv_replication_lag_rows", "gauge",
			   "Rows known to be waiting at the peer (a lower bound: the last batch's size while behind, 0 when caught up).",
			   peers, n, PEER_LAG_ROWS);
	PeerMetric(out, "globalkv_replication_applied_rows_total", "counter",
			   "Rows pulled from the peer and merged here since this node started.",
			   peers, n, PEER_APPLIED);
	PeerMetric(out, "globalkv_replication_covered_rows_total", "counter",
			   "Rows from the peer that changed nothing here: this node already held that state or a newer one.",
			   peers, n, PEER_CONFLICTS);
	PeerMetric(out, "globalkv_replication_batches_total", "counter",
			   "Pull rounds answered by the peer and applied here.",
			   peers, n, PEER_BATCHES);
	PeerMetric(out, "globalkv_replication_clock_skew_seconds", "gauge",
			   "Greatest lead of a version from the peer over this node's clock seen since start (0: never ahead).",
			   peers, n, PEER_SKEW_SECONDS);
	pfree(peers);
}

/*
 * CountBacklogs counts tombstones and expired rows still stored, reading
 * every shard table (SPI connected, in a transaction); at most every
 * globalkv.metrics_backlog_interval.
 */
static void
CountBacklogs(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		tombstones = 0;
	int64		expired = 0;

	if (GkvMetricsBacklogIntervalS == 0 ||
		(BacklogCountedAt != 0 &&
		 !TimestampDifferenceExceeds(BacklogCountedAt, now, GkvMetricsBacklogIntervalS * 1000)))
		return;
	if (SPI_execute("SELECT table_name FROM globalkv.shards ORDER BY shard_id", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read globalkv.shards");
	{
		SPITupleTable *tables = SPI_tuptable;
		uint64		ntables = SPI_processed;

		for (uint64 i = 0; i < ntables; i++)
		{
			char	   *table = SPI_getvalue(tables->vals[i], tables->tupdesc, 1);
			char	   *sql = psprintf("SELECT count(*) FILTER (WHERE value IS NULL),"
									   " count(*) FILTER (WHERE expires_at <= pg_catalog.clock_timestamp())"
									   " FROM globalkv_data.%s", quote_identifier(table));
			bool		isnull;

			if (SPI_execute(sql, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "could not count the backlogs of %s", table);
			tombstones += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			expired += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		}
	}
	TombstoneBacklog = tombstones;
	ExpiryBacklog = expired;
	BacklogCountedAt = now;
}

static void
Housekeeping(StringInfo out)
{
	Counter(out, "globalkv_expired_rows_removed_total",
			"Expired documents this node removed (removal writes nothing: every node does it on its own).",
			GKV_STAT_EXPIRED_ROWS);
	Header(out, "globalkv_conflicts_total", "counter",
		   "Writes of one key on two nodes within globalkv.conflict_window of each other, settled here with one lost (kv.conflicts).");
	appendStringInfo(out, "globalkv_conflicts_total{resolution=\"newer_version\"} " UINT64_FORMAT "\n",
					 GkvStatsTotal(GKV_STAT_CONFLICTS_NEWER));
	appendStringInfo(out, "globalkv_conflicts_total{resolution=\"same_clock_node_id\"} " UINT64_FORMAT "\n",
					 GkvStatsTotal(GKV_STAT_CONFLICTS_SAME_CLOCK));
	Counter(out, "globalkv_conflict_journal_dropped_total",
			"Conflicts counted but not written to kv.conflicts: over globalkv.conflict_journal_rate.",
			GKV_STAT_CONFLICT_JOURNAL_DROPPED);
	Counter(out, "globalkv_anti_entropy_bytes_total",
			"Bytes kv.verify, kv.repair and the background repair exchanged with peers (docs/operations.md).",
			GKV_STAT_ANTI_ENTROPY_BYTES);
	Counter(out, "globalkv_anti_entropy_differing_keys_total",
			"Keys they found differing between this node and a peer.",
			GKV_STAT_ANTI_ENTROPY_DIFFERING);
	Counter(out, "globalkv_anti_entropy_mended_keys_total",
			"Keys kv.repair and the background repair sent, received, removed or wrote anew.",
			GKV_STAT_ANTI_ENTROPY_MENDED);
	Counter(out, "globalkv_repair_rounds_total",
			"Rounds of the background repair (globalkv.repair_interval) over every shard of this node.",
			GKV_STAT_REPAIR_ROUNDS);
	Counter(out, "globalkv_tombstones_purged_total",
			"Tombstones this node purged once every peer had acknowledged them (or past the retention).",
			GKV_STAT_PURGED_TOMBSTONES);
	if (TombstoneBacklog < 0)
		return;					/* never counted (metrics_backlog_interval = 0) */
	Header(out, "globalkv_tombstone_backlog_rows", "gauge",
		   "Tombstones stored on this node, waiting for their peers' acknowledgements and min age.");
	appendStringInfo(out, "globalkv_tombstone_backlog_rows " INT64_FORMAT "\n", TombstoneBacklog);
	Header(out, "globalkv_expiry_backlog_rows", "gauge",
		   "Expired documents still stored on this node (invisible; removed once every peer has acknowledged them).");
	appendStringInfo(out, "globalkv_expiry_backlog_rows " INT64_FORMAT "\n", ExpiryBacklog);
	Header(out, "globalkv_backlog_counted_timestamp_seconds", "gauge",
		   "When the two backlogs were last counted (unix time; see globalkv.metrics_backlog_interval).");
	appendStringInfo(out, "globalkv_backlog_counted_timestamp_seconds %.3f\n",
					 (double) GkvTimestampToUnixMs(BacklogCountedAt) / 1000.0);
}

static void
Routing(StringInfo out)
{
	Counter(out, "globalkv_forwarded_calls_total",
			"Calls this node sent to the node holding their key's shard and got an answer for.",
			GKV_STAT_FORWARDS);
	Counter(out, "globalkv_failovers_total",
			"Forwarded calls answered by another node than the first choice (its holder was down or unreachable).",
			GKV_STAT_FAILOVERS);
	Header(out, "globalkv_docs_queries_total", "counter",
		   "Queries on kv.docs planned here, by the strategy that ran them (docs/sql.md).");
	appendStringInfo(out, "globalkv_docs_queries_total{strategy=\"router\"} " UINT64_FORMAT "\n",
					 GkvStatsTotal(GKV_STAT_DOCS_ROUTER));
	appendStringInfo(out, "globalkv_docs_queries_total{strategy=\"fanout\"} " UINT64_FORMAT "\n",
					 GkvStatsTotal(GKV_STAT_DOCS_FANOUT));
	appendStringInfo(out, "globalkv_docs_queries_total{strategy=\"repartition\"} " UINT64_FORMAT "\n",
					 GkvStatsTotal(GKV_STAT_DOCS_REPARTITION));
	Counter(out, "globalkv_docs_tasks_total",
			"Tasks the fan-out and repartitioned kv.docs queries of this node ran, one per node per query.",
			GKV_STAT_DOCS_TASKS);
}

/*
 * GkvMetricsText appends the whole exposition to 'out'.  In a transaction
 * with SPI connected (the catalog cache and the backlog count need it).
 */
void
GkvMetricsText(StringInfo out)
{
	const GkvNodeInfo *me = GkvNodeById(GkvLocalNodeId());

	Header(out, "globalkv_build_info", "gauge",
		   "globalkv's version and the PostgreSQL it runs in; always 1.");
	appendStringInfo(out, "globalkv_build_info{version=\"%s\",postgresql=\"%s\"} 1\n",
					 GKV_SQL_VERSION, PG_VERSION);
	if (me != NULL)
	{
		Header(out, "globalkv_node_info", "gauge", "This node's id, name and zone; always 1.");
		appendStringInfo(out, "globalkv_node_info{node_id=\"%d\",node=\"", me->node_id);
		LabelValue(out, me->name);
		appendStringInfoString(out, "\",zone=\"");
		LabelValue(out, me->zone);
		appendStringInfoString(out, "\"} 1\n");
	}
	Operations(out);
	Routing(out);
	Replication(out);
	CountBacklogs();
	Housekeeping(out);
}
