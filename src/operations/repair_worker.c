/*-------------------------------------------------------------------------
 *
 * repair_worker.c
 *	  The background repair: with globalkv.repair_interval > 0, a worker
 *	  repairs this node's shards against the other zones one shard at a
 *	  time, one shard every interval, round after round; its progress is
 *	  kv.repair_status.  Off (0) by default: the worker then sleeps on its
 *	  latch until the setting changes, and costs nothing.
 *
 * Each step is kv.repair of one shard (anti_entropy.c) in a transaction of
 * its own: copies that agree cost one digest each way, so a parade in sync
 * pays a few hundred bytes a shard per interval.  A step that fails (a
 * peer down) is logged, shown in the view, and the round goes on with the
 * next shard.
 *
 * src/operations/repair_worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "globalkv/catalog.h"
#include "globalkv/guc.h"
#include "globalkv/metrics.h"
#include "globalkv/operations.h"
#include "globalkv/utils.h"

typedef struct RepairStatus
{
	slock_t		mutex;
	int32		pid;
	int64		rounds;			/* finished */
	int32		shard;			/* being repaired now, -1: none */
	int32		shards_done;	/* in this round */
	int32		shards_total;
	int64		differing_this_round;
	int64		mended_this_round;
	int64		differing_last_round;
	int64		mended_last_round;
	uint64		bytes_total;
	TimestampTz round_started;
	TimestampTz last_round_finished;
	TimestampTz last_error_at;
	char		last_error[256];
} RepairStatus;

static RepairStatus *Status = NULL;

Size
GkvRepairStatusShmemSize(void)
{
	return sizeof(RepairStatus);
}

void
GkvRepairStatusShmemInit(void)
{
	bool		found;

	Status = ShmemInitStruct("globalkv repair status", sizeof(RepairStatus), &found);
	if (!found)
	{
		memset(Status, 0, sizeof(RepairStatus));
		SpinLockInit(&Status->mutex);
		Status->shard = -1;
	}
}

/* sleeps on the latch: 'ms' < 0 without a timeout */
static void
Sleep(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (ms >= 0 ? WL_TIMEOUT : 0),
					 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/* the shards this node serves, or -1 when globalkv is not installed */
static int
ServedShards(int *shards, int max)
{
	int			n = 0;

	GkvWorkerTransactionBegin();
	if (!GkvExtensionReady())
		n = -1;
	else
		for (int s = 0; s < GkvShardCount() && n < max; s++)
			if (GkvServesShard(s))
				shards[n++] = s;
	GkvWorkerTransactionEnd();
	return n;
}

typedef struct RepairStepArg
{
	int			shard;
	GkvAntiEntropyTotals totals;
} RepairStepArg;

static void
RepairShard(void *arg)
{
	RepairStepArg *a = (RepairStepArg *) arg;

	GkvAntiEntropyShard(a->shard, true, &a->totals);
}

/* one shard's repair, in a transaction of its own; errors are kept, not raised */
static void
RepairStep(int shard)
{
	RepairStepArg a = {shard};
	GkvAntiEntropyTotals totals;
	char	   *error;

	SpinLockAcquire(&Status->mutex);
	Status->shard = shard;
	SpinLockRelease(&Status->mutex);
	pgstat_report_activity(STATE_RUNNING, "repairing a shard");
	error = GkvWorkerTryTransaction(RepairShard, &a);
	totals = a.totals;
	if (error != NULL)
	{
		ereport(LOG,
				(errmsg("globalkv background repair: shard %d: %s", shard, error)));
		SpinLockAcquire(&Status->mutex);
		strlcpy(Status->last_error, error, sizeof(Status->last_error));
		Status->last_error_at = GetCurrentTimestamp();
		SpinLockRelease(&Status->mutex);
	}
	pgstat_report_activity(STATE_IDLE, NULL);
	if (totals.mended > 0)
		ereport(LOG,
				(errmsg("globalkv background repair: shard %d: " INT64_FORMAT " differing keys, " INT64_FORMAT " mended",
						shard, totals.differing_keys, totals.mended)));
	SpinLockAcquire(&Status->mutex);
	Status->shard = -1;
	Status->shards_done++;
	Status->differing_this_round += totals.differing_keys;
	Status->mended_this_round += totals.mended;
	Status->bytes_total += totals.bytes;
	SpinLockRelease(&Status->mutex);
}

void
GkvRepairWorkerMain(Datum main_arg)
{
	int		   *shards;
	MemoryContext roundcxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	GkvWorkerConnect("globalkv background repair");
	SpinLockAcquire(&Status->mutex);
	Status->pid = MyProcPid;
	SpinLockRelease(&Status->mutex);
	roundcxt = AllocSetContextCreate(TopMemoryContext, "globalkv repair round", ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		int			n;
		MemoryContext old;

		if (GkvRepairIntervalS == 0)
		{
			Sleep(-1);			/* off: until the setting changes */
			continue;
		}
		old = MemoryContextSwitchTo(roundcxt);
		shards = palloc(sizeof(int) * Max(GkvShardCount(), 1));
		n = ServedShards(shards, GkvShardCount());
		if (n <= 0)
		{
			MemoryContextSwitchTo(old);
			MemoryContextReset(roundcxt);
			Sleep(GkvRepairIntervalS * 1000L);
			continue;
		}
		SpinLockAcquire(&Status->mutex);
		Status->shards_done = 0;
		Status->shards_total = n;
		Status->differing_this_round = 0;
		Status->mended_this_round = 0;
		Status->round_started = GetCurrentTimestamp();
		SpinLockRelease(&Status->mutex);
		for (int i = 0; i < n && GkvRepairIntervalS > 0; i++)
		{
			RepairStep(shards[i]);
			Sleep(GkvRepairIntervalS * 1000L);	/* throttled: one shard an interval */
		}
		SpinLockAcquire(&Status->mutex);
		Status->rounds++;
		Status->differing_last_round = Status->differing_this_round;
		Status->mended_last_round = Status->mended_this_round;
		Status->last_round_finished = GetCurrentTimestamp();
		SpinLockRelease(&Status->mutex);
		GkvStatsAdd(GKV_STAT_REPAIR_ROUNDS, 1);
		MemoryContextSwitchTo(old);
		MemoryContextReset(roundcxt);
	}
}

PG_FUNCTION_INFO_V1(gkv_repair_status);

/* globalkv.repair_status(): the view kv.repair_status */
Datum
gkv_repair_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	RepairStatus copy;
	Datum		values[12];
	bool		nulls[12] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	SpinLockAcquire(&Status->mutex);
	copy = *Status;
	SpinLockRelease(&Status->mutex);
	values[0] = BoolGetDatum(GkvRepairIntervalS > 0);
	values[1] = Int32GetDatum(GkvRepairIntervalS);
	values[2] = Int64GetDatum(copy.rounds);
	values[3] = Int32GetDatum(copy.shard);
	nulls[3] = copy.shard < 0;
	values[4] = Int32GetDatum(copy.shards_done);
	values[5] = Int32GetDatum(copy.shards_total);
	values[6] = Int64GetDatum(copy.differing_this_round);
	values[7] = Int64GetDatum(copy.differing_last_round);
	values[8] = Int64GetDatum(copy.mended_last_round);
	values[9] = TimestampTzGetDatum(copy.last_round_finished);
	nulls[9] = copy.last_round_finished == 0;
	values[10] = CStringGetTextDatum(copy.last_error);
	nulls[10] = copy.last_error[0] == '\0';
	values[11] = Int64GetDatum((int64) copy.bytes_total);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
