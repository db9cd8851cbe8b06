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
#include "utils/builtins.h"

#include "globalkv/clock.h"
#include "globalkv/metrics.h"

typedef struct GkvBackendStats
{
	pg_atomic_uint64 counters[GKV_STAT_NUM_COUNTERS];
	char		pad[64];		/* keep neighbours off this cache line */
} GkvBackendStats;

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
			for (int c = 0; c < GKV_STAT_NUM_COUNTERS; c++)
				pg_atomic_init_u64(&StatsShared[i].counters[c], 0);
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
	Datum		values[GKV_STAT_NUM_COUNTERS + 2];
	bool		nulls[GKV_STAT_NUM_COUNTERS + 2] = {0};
	uint64		hlc = GkvClockNow();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	for (int c = 0; c < GKV_STAT_NUM_COUNTERS; c++)
		values[c] = Int64GetDatum((int64) GkvStatsTotal(c));
	values[GKV_STAT_NUM_COUNTERS] = Int64GetDatum((int64) hlc);
	if (hlc == 0)
		nulls[GKV_STAT_NUM_COUNTERS + 1] = true;
	else
		values[GKV_STAT_NUM_COUNTERS + 1] =
			TimestampTzGetDatum(GkvUnixMsToTimestamp(GkvHlcPhysicalMs(hlc)));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
