/*-------------------------------------------------------------------------
 *
 * move_status.c
 *	  The progress of the shard moves this node's backends drive, in
 *	  shared memory, read by globalkv.move_status() and so by the view
 *	  kv.shard_moves_in_progress.
 *
 * A move runs for seconds to hours inside one call of kv.move_shard, in
 * one transaction; nothing it learns can be seen through the catalog until
 * it ends (and the catalog only knows "copying" or "switched").  So, as
 * PostgreSQL's pg_stat_progress_* views do, the mover publishes what it is
 * doing in a slot of shared memory that any session may read: the phase,
 * rows copied, how far behind the target is, the write stall.
 *
 * One slot per backend that drives a move, claimed when the move starts
 * and freed when it ends -- on error through the caller's PG_FINALLY, and
 * on FATAL (terminated, client gone) by a before_shmem_exit callback, so a
 * slot never outlives its backend.
 *
 * src/operations/move_status.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "globalkv/operations.h"

/* moves driven from one node at once; each is one backend */
#define GKV_MAX_MOVERS 32

typedef struct GkvMoveSlot
{
	int			pid;			/* 0: free */
	int32		shard_id;
	char		zone[64];
	int32		source_node;
	int32		target_node;
	char		phase[32];
	int64		rows_copied;	/* -1: not known yet */
	int64		behind_ms;		/* -1: not known yet */
	double		write_stall_ms;
	TimestampTz started_at;
	TimestampTz updated_at;
} GkvMoveSlot;

typedef struct GkvMoveStatusShared
{
	slock_t		mutex;
	GkvMoveSlot slots[GKV_MAX_MOVERS];
} GkvMoveStatusShared;

static GkvMoveStatusShared *MoveStatus = NULL;
static int	MySlot = -1;
static bool ExitCallbackRegistered = false;

Size
GkvMoveStatusShmemSize(void)
{
	return sizeof(GkvMoveStatusShared);
}

void
GkvMoveStatusShmemInit(void)
{
	bool		found;

	MoveStatus = ShmemInitStruct("globalkv shard moves", sizeof(GkvMoveStatusShared), &found);
	if (!found)
	{
		memset(MoveStatus, 0, sizeof(GkvMoveStatusShared));
		SpinLockInit(&MoveStatus->mutex);
	}
}

static void
MoveStatusExit(int code, Datum arg)
{
	GkvMoveStatusEnd();
}

/*
 * GkvMoveStatusBegin claims a slot for the move this backend starts to
 * drive.  Raises an ERROR, before the move has done anything, when every
 * slot is taken.
 */
void
GkvMoveStatusBegin(int32 shard_id, const char *zone, int32 source_node, int32 target_node)
{
	TimestampTz now = GetCurrentTimestamp();
	int			slot = -1;

	Assert(MySlot < 0);
	if (!ExitCallbackRegistered)
	{
		before_shmem_exit(MoveStatusExit, (Datum) 0);
		ExitCallbackRegistered = true;
	}
	SpinLockAcquire(&MoveStatus->mutex);
	for (int i = 0; i < GKV_MAX_MOVERS && slot < 0; i++)
		if (MoveStatus->slots[i].pid == 0)
			slot = i;
	if (slot >= 0)
	{
		GkvMoveSlot *s = &MoveStatus->slots[slot];

		s->pid = MyProcPid;
		s->shard_id = shard_id;
		strlcpy(s->zone, zone, sizeof(s->zone));
		s->source_node = source_node;
		s->target_node = target_node;
		strlcpy(s->phase, "starting", sizeof(s->phase));
		s->rows_copied = -1;
		s->behind_ms = -1;
		s->write_stall_ms = 0;
		s->started_at = now;
		s->updated_at = now;
	}
	SpinLockRelease(&MoveStatus->mutex);
	if (slot < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many shard moves driven from this node at once (at most %d)",
						GKV_MAX_MOVERS)));
	MySlot = slot;
}

void
GkvMoveStatusPhase(const char *phase)
{
	if (MySlot < 0)
		return;
	SpinLockAcquire(&MoveStatus->mutex);
	strlcpy(MoveStatus->slots[MySlot].phase, phase, sizeof(MoveStatus->slots[MySlot].phase));
	MoveStatus->slots[MySlot].updated_at = GetCurrentTimestamp();
	SpinLockRelease(&MoveStatus->mutex);
}

void
GkvMoveStatusCopy(int64 rows_copied, int64 behind_ms)
{
	if (MySlot < 0)
		return;
	SpinLockAcquire(&MoveStatus->mutex);
	MoveStatus->slots[MySlot].rows_copied = rows_copied;
	MoveStatus->slots[MySlot].behind_ms = behind_ms;
	MoveStatus->slots[MySlot].updated_at = GetCurrentTimestamp();
	SpinLockRelease(&MoveStatus->mutex);
}

void
GkvMoveStatusStall(double write_stall_ms)
{
	if (MySlot < 0)
		return;
	SpinLockAcquire(&MoveStatus->mutex);
	MoveStatus->slots[MySlot].write_stall_ms = write_stall_ms;
	MoveStatus->slots[MySlot].updated_at = GetCurrentTimestamp();
	SpinLockRelease(&MoveStatus->mutex);
}

/* frees this backend's slot, if it has one; safe to call twice */
void
GkvMoveStatusEnd(void)
{
	if (MySlot < 0 || MoveStatus == NULL)
		return;
	SpinLockAcquire(&MoveStatus->mutex);
	MoveStatus->slots[MySlot].pid = 0;
	SpinLockRelease(&MoveStatus->mutex);
	MySlot = -1;
}

PG_FUNCTION_INFO_V1(gkv_move_status);

/*
 * globalkv.move_status(): one row per move a backend of this node is
 * driving now.  Copies the slots under the spinlock, then builds the rows.
 */
Datum
gkv_move_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	GkvMoveSlot copy[GKV_MAX_MOVERS];

	InitMaterializedSRF(fcinfo, 0);
	SpinLockAcquire(&MoveStatus->mutex);
	memcpy(copy, MoveStatus->slots, sizeof(copy));
	SpinLockRelease(&MoveStatus->mutex);

	for (int i = 0; i < GKV_MAX_MOVERS; i++)
	{
		GkvMoveSlot *s = &copy[i];
		Datum		values[11];
		bool		nulls[11] = {0};

		if (s->pid == 0)
			continue;
		values[0] = Int32GetDatum(s->pid);
		values[1] = Int32GetDatum(s->shard_id);
		values[2] = CStringGetTextDatum(s->zone);
		values[3] = Int32GetDatum(s->source_node);
		values[4] = Int32GetDatum(s->target_node);
		values[5] = CStringGetTextDatum(s->phase);
		values[6] = Int64GetDatum(s->rows_copied);
		nulls[6] = s->rows_copied < 0;
		values[7] = Int64GetDatum(s->behind_ms);
		nulls[7] = s->behind_ms < 0;
		values[8] = Int64GetDatum((int64) s->write_stall_ms);
		values[9] = TimestampTzGetDatum(s->started_at);
		values[10] = TimestampTzGetDatum(s->updated_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
