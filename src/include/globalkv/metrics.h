/*-------------------------------------------------------------------------
 *
 * metrics.h
 *	  Operation counters and latency histograms in shared memory
 *	  (src/metrics/stats.c), shown by kv.stats and by the Prometheus
 *	  endpoint (src/monitoring/).
 *
 * src/include/globalkv/metrics.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_METRICS_H
#define GLOBALKV_METRICS_H


typedef enum GkvStatCounter
{
	GKV_STAT_PUTS,
	GKV_STAT_GETS,
	GKV_STAT_DELETES,
	GKV_STAT_PATCHES,
	GKV_STAT_INSERTS,
	GKV_STAT_UPDATES,
	GKV_STAT_CONFLICTS,
	GKV_STAT_EXPIRED_ROWS,
	GKV_STAT_REPLICATED_ROWS,	/* rows applied from peers */
	GKV_STAT_REPLICATION_CONFLICTS, /* of those, already covered here */
	GKV_STAT_PURGED_TOMBSTONES,
	/* the columns of kv.stats end here */
	GKV_STAT_FORWARDS,			/* calls sent to the node holding their shard */
	GKV_STAT_FAILOVERS,			/* ... answered by another than the first choice */
	GKV_STAT_DOCS_ROUTER,		/* kv.docs queries by strategy */
	GKV_STAT_DOCS_FANOUT,
	GKV_STAT_DOCS_REPARTITION,
	GKV_STAT_DOCS_TASKS,		/* remote tasks those queries ran */
	GKV_STAT_CONFLICTS_NEWER,	/* conflicts the newer version settled */
	GKV_STAT_CONFLICTS_SAME_CLOCK,	/* ... the node id settled (same hlc) */
	GKV_STAT_CONFLICT_JOURNAL_DROPPED,	/* not journaled: over the rate */
	GKV_STAT_ANTI_ENTROPY_BYTES,	/* kv.verify, kv.repair and the background repair */
	GKV_STAT_ANTI_ENTROPY_DIFFERING,
	GKV_STAT_ANTI_ENTROPY_MENDED,
	GKV_STAT_REPAIR_ROUNDS,		/* rounds of the background repair finished */
	GKV_STAT_NUM_COUNTERS
} GkvStatCounter;

#define GKV_STAT_KV_STATS_COLUMNS (GKV_STAT_PURGED_TOMBSTONES + 1)

/* the client API's operations, and what each ended as */
typedef enum GkvOp
{
	GKV_OP_GET,
	GKV_OP_PUT,
	GKV_OP_DELETE,
	GKV_OP_PATCH,
	GKV_OP_TOUCH,
	GKV_OP_NUM
} GkvOp;

typedef enum GkvOpResult
{
	GKV_RESULT_FOUND,			/* reads */
	GKV_RESULT_MISSING,
	GKV_RESULT_INSERT,			/* writes: as kv.put reports them */
	GKV_RESULT_UPDATE,
	GKV_RESULT_CONFLICT,
	GKV_RESULT_DELETED,			/* a delete that removed a live document */
	GKV_RESULT_NUM
} GkvOpResult;

/* upper bounds of the latency histogram's buckets, microseconds; +Inf after */
#define GKV_LATENCY_BOUNDS_US \
	50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000
#define GKV_LATENCY_BUCKETS 14	/* the bounds above and +Inf */

extern const char *const GkvOpNames[GKV_OP_NUM];
extern const char *const GkvOpResultNames[GKV_RESULT_NUM];
extern const int64 GkvLatencyBoundsUs[GKV_LATENCY_BUCKETS - 1];

/* one operation's outcome, for a reader of the counters */
typedef struct GkvOpTotals
{
	uint64		results[GKV_RESULT_NUM];
	uint64		buckets[GKV_LATENCY_BUCKETS];	/* not cumulative */
	uint64		sum_us;
	uint64		count;			/* calls timed */
} GkvOpTotals;

extern Size GkvStatsShmemSize(void);
extern void GkvStatsShmemInit(void);
extern void GkvStatsAdd(GkvStatCounter counter, uint64 n);
extern uint64 GkvStatsTotal(GkvStatCounter counter);
extern void GkvStatsCallStart(void);
extern void GkvStatsOp(GkvOp op, GkvOpResult result, uint64 n);
extern void GkvStatsOpLatency(GkvOp op);
extern void GkvStatsOpTotals(GkvOp op, GkvOpTotals *totals);

#endif							/* GLOBALKV_METRICS_H */
