/*-------------------------------------------------------------------------
 *
 * fence.c
 *	  Shard fences for online moves: which shards a transaction on this
 *	  node has closed to writers.
 *
 * A move's last step holds LOCK TABLE ... IN SHARE MODE on the source's
 * shard table (globalkv.move_fence) while the target pulls the rest.  The
 * lock waits out every writer of the shard and keeps new ones out, so
 * every change of the shard is committed: a pull may read the shard to its
 * end instead of stopping at the clock horizon.  That matters because the
 * horizon can be held back by a writer of *another* shard that now waits
 * for the fence (an apply worker's batch spans shards): without this, the
 * target could never catch up while the fence stands.
 *
 * The fences live in shared memory, so the pull (another backend) can see
 * them; each is cleared when its transaction ends.
 *
 * src/replication/fence.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "globalkv/catalog.h"
#include "globalkv/errcodes.h"
#include "globalkv/replication.h"

#define GKV_MAX_FENCES 64

typedef struct GkvFenceShared
{
	slock_t		mutex;
	int32		shard[GKV_MAX_FENCES];
	int			pid[GKV_MAX_FENCES];	/* 0: free slot */
} GkvFenceShared;

static GkvFenceShared *FenceShared = NULL;
static bool CallbacksRegistered = false;
static bool HoldingFences = false;

Size
GkvFenceShmemSize(void)
{
	return sizeof(GkvFenceShared);
}

void
GkvFenceShmemInit(void)
{
	bool		found;

	FenceShared = ShmemInitStruct("globalkv shard fences", sizeof(GkvFenceShared), &found);
	if (!found)
	{
		memset(FenceShared, 0, sizeof(GkvFenceShared));
		SpinLockInit(&FenceShared->mutex);
	}
}

static void
ReleaseMyFences(void)
{
	if (!HoldingFences || FenceShared == NULL)
		return;
	SpinLockAcquire(&FenceShared->mutex);
	for (int i = 0; i < GKV_MAX_FENCES; i++)
		if (FenceShared->pid[i] == MyProcPid)
			FenceShared->pid[i] = 0;
	SpinLockRelease(&FenceShared->mutex);
	HoldingFences = false;
}

static void
FenceXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		ReleaseMyFences();
}

static void
FenceExit(int code, Datum arg)
{
	ReleaseMyFences();
}

/* is a write fence standing on this shard of this node? */
bool
GkvShardFenced(int shard_id)
{
	bool		fenced = false;

	if (FenceShared == NULL)
		return false;
	SpinLockAcquire(&FenceShared->mutex);
	for (int i = 0; i < GKV_MAX_FENCES && !fenced; i++)
		fenced = FenceShared->pid[i] != 0 && FenceShared->shard[i] == shard_id;
	SpinLockRelease(&FenceShared->mutex);
	return fenced;
}

PG_FUNCTION_INFO_V1(gkv_fence_shard);

/*
 * globalkv.fence_shard(shard): records the fence of the current
 * transaction, which must already hold the shard table's SHARE lock.
 */
Datum
gkv_fence_shard(PG_FUNCTION_ARGS)
{
	int32		shard = PG_GETARG_INT32(0);
	Oid			relid = GkvShardRelid(shard);
	int			slot = -1;

	if (!CheckRelationOidLockedByMe(relid, ShareLock, true))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("shard %d is not locked against writers by this transaction", shard),
				 errhint("Use globalkv.move_fence().")));
	if (!CallbacksRegistered)
	{
		RegisterXactCallback(FenceXactCallback, NULL);
		before_shmem_exit(FenceExit, (Datum) 0);
		CallbacksRegistered = true;
	}
	SpinLockAcquire(&FenceShared->mutex);
	for (int i = 0; i < GKV_MAX_FENCES && slot < 0; i++)
		if (FenceShared->pid[i] == 0)
			slot = i;
	if (slot >= 0)
	{
		FenceShared->shard[slot] = shard;
		FenceShared->pid[slot] = MyProcPid;
	}
	SpinLockRelease(&FenceShared->mutex);
	if (slot < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many shard fences at once (at most %d)", GKV_MAX_FENCES)));
	HoldingFences = true;
	/* pulls waiting for changes look again now: this shard reads to its end */
	GkvWakeChangeWaiters();
	PG_RETURN_VOID();
}
