/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  Operation counters in shared memory, summed by the kv.stats view.
 *
 * Every PGPROC owns one row of counters and is the only process that writes
 * it, so an increment is a plain (non-locked) 64-bit store: no cache line is
 * shared between two writing backends.  Readers sum the rows; a read may be
 * a few operations behind, never torn (64-bit stores are atomic on every
 * platform PostgreSQL 15 supports with native 64-bit atomics).  Counters
 * start from zero when the postmaster starts, like pg_stat_* views after a
 * crash.
 *
 * src/metrics/stats.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"

#include "globalkv/clock.h"
#include "globalkv/metrics.h"

typedef struct GkvBackendStats
{
	pg_atomic_uint64 counters[GKV_STAT_NUM_COUNTERS];
	pg_atomic_uint64 results[GKV_OP_NUM][GKV_RESULT_NUM];
	pg_atomic_uint64 latency[GKV_OP_NUM][GKV_LATENCY_BUCKETS];
	pg_atomic_uint64 latency_sum_us[GKV_OP_NUM];
	char		pad[64];		/* keep neighbours off this cache line */
} GkvBackendStats;

const char *const GkvOpNames[GKV_OP_NUM] = {"get", "put", "delete", "patch", "touch"};
const char *const GkvOpResultNames[GKV_RESULT_NUM] = {"found", "missing", "insert", "update", "conflict", "deleted"};
const int64 GkvLatencyBoundsUs[GKV_LATENCY_BUCKETS - 1] = {GKV_LATENCY_BOUNDS_US};

StaticAssertDecl(lengthof(((int64[]) {GKV_LATENCY_BOUNDS_US})) == GKV_LATENCY_BUCKETS - 1,
				 "GKV_LATENCY_BUCKETS is the number of bounds plus one");

/* when the current API call began (GkvStatsCallStart); zero: not timed */
static instr_time CallStart;

static GkvBackendStats *StatsShared = NULL;
static int	StatsSlots = 0;

Size
GkvStatsShmemSize(void)
{
	return mul_size(sizeof(GkvBackendStats), GkvProcSlotCount());
}

void
GkvStatsShmemInit(void)
{
	bool		found;

	StatsSlots = GkvProcSlotCount();
	StatsShared = ShmemInitStruct("globalkv stats", GkvStatsShmemSize(), &found);
	if (!found)
	{
		for (int i = 0; i < StatsSlots; i++)
		{
			GkvBackendStats *b = &StatsShared[i];

			for (int c = 0; c < GKV_STAT_NUM_COUNTERS; c++)
				pg_atomic_init_u64(&b->counters[c], 0);
			for (int op = 0; op < GKV_OP_NUM; op++)
			{
				for (int r = 0; r < GKV_RESULT_NUM; r++)
					pg_atomic_init_u64(&b->results[op][r], 0);
				for (int k = 0; k < GKV_LATENCY_BUCKETS; k++)
					pg_atomic_init_u64(&b->latency[op][k], 0);
				pg_atomic_init_u64(&b->latency_sum_us[op], 0);
			}
		}
	}
}

void
GkvStatsAdd(GkvStatCounter counter, uint64 n)
{
	pg_atomic_uint64 *slot;

	if (MyProc == NULL || StatsShared == NULL)
		return;
	slot = &StatsShared[MyProc->pgprocno].counters[counter];
	/* single writer: read-modify-write without a locked instruction */
	pg_atomic_write_u64(slot, pg_atomic_read_u64(slot) + n);
}

/* single writer (this backend's slot): add without a locked instruction */
static inline void
SlotAdd(pg_atomic_uint64 *slot, uint64 n)
{
	pg_atomic_write_u64(slot, pg_atomic_read_u64(slot) + n);
}

/* GkvStatsCallStart: an API call begins; GkvStatsOp times it */
void
GkvStatsCallStart(void)
{
	INSTR_TIME_SET_CURRENT(CallStart);
}

/* GkvStatsOp counts n operations of one kind that ended as 'result' */
void
GkvStatsOp(GkvOp op, GkvOpResult result, uint64 n)
{
	if (MyProc == NULL || StatsShared == NULL)
		return;
	SlotAdd(&StatsShared[MyProc->pgprocno].results[op][result], n);
}

/*
 * GkvStatsOpLatency puts the time since GkvStatsCallStart in the
 * operation's latency histogram, once per call (a batch call is one
 * observation); nothing when the call was not started.
 */
void
GkvStatsOpLatency(GkvOp op)
{
	GkvBackendStats *b;
	instr_time	now;
	int64		us;
	int			k = 0;

	if (MyProc == NULL || StatsShared == NULL || INSTR_TIME_IS_ZERO(CallStart))
		return;
	b = &StatsShared[MyProc->pgprocno];
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, CallStart);
	INSTR_TIME_SET_ZERO(CallStart);
	us = (int64) INSTR_TIME_GET_MICROSEC(now);
	while (k < GKV_LATENCY_BUCKETS - 1 && us > GkvLatencyBoundsUs[k])
		k++;
	SlotAdd(&b->latency[op][k], 1);
	SlotAdd(&b->latency_sum_us[op], (uint64) Max(us, 0));
}

/* GkvStatsOpTotals sums one operation's counters over every backend */
void
GkvStatsOpTotals(GkvOp op, GkvOpTotals *totals)
{
	memset(totals, 0, sizeof(GkvOpTotals));
	for (int i = 0; i < StatsSlots; i++)
	{
		GkvBackendStats *b = &StatsShared[i];

		for (int r = 0; r < GKV_RESULT_NUM; r++)
			totals->results[r] += pg_atomic_read_u64(&b->results[op][r]);
		for (int k = 0; k < GKV_LATENCY_BUCKETS; k++)
		{
			uint64		c = pg_atomic_read_u64(&b->latency[op][k]);

			totals->buckets[k] += c;
			totals->count += c;
		}
		totals->sum_us += pg_atomic_read_u64(&b->latency_sum_us[op]);
	}
}

uint64
GkvStatsTotal(GkvStatCounter counter)
{
	uint64		total = 0;

	for (int i = 0; i < StatsSlots; i++)
		total += pg_atomic_read_u64(&StatsShared[i].counters[counter]);
	return total;
}

PG_FUNCTION_INFO_V1(gkv_stats);

/*
 * gkv_stats returns one row of counters; kv.stats is a view over it.
 */
Datum
gkv_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[GKV_STAT_KV_STATS_COLUMNS + 2];
	bool		nulls[GKV_STAT_KV_STATS_COLUMNS + 2] = {0};
	uint64		hlc = GkvClockNow();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	for (int c = 0; c < GKV_STAT_KV_STATS_COLUMNS; c++)
		values[c] = Int64GetDatum((int64) GkvStatsTotal(c));
	values[GKV_STAT_KV_STATS_COLUMNS] = Int64GetDatum((int64) hlc);
	if (hlc == 0)
		nulls[GKV_STAT_KV_STATS_COLUMNS + 1] = true;
	else
		values[GKV_STAT_KV_STATS_COLUMNS + 1] =
			TimestampTzGetDatum(GkvUnixMsToTimestamp(GkvHlcPhysicalMs(hlc)));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
