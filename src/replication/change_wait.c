/*-------------------------------------------------------------------------
 *
 * change_wait.c
 *	  Pulls that found nothing new wait for a commit that wrote the shards
 *	  they follow, instead of polling.
 *
 * A replication pull that finds nothing new waits, for a bounded time, on
 * its latch instead of returning at once: every transaction that stored
 * globalkv rows sets the latches of the registered waiters when it commits
 * (after its rows became visible and its in-flight slot cleared).  This is
 * what gives low replication lag without tight polling.
 *
 * A committing writer wakes only the waiters of the shards it wrote.  That
 * alone stalls a waiter whose rows are committed but above the horizon:
 * the transaction holding the horizon back may write other shards, and
 * its commit would not wake it -- the waiter slept to its timeout (up to a
 * second; the "bursts after a stall" a reader saw).  So a waiter that finds
 * nothing while the horizon is held back publishes that horizon H, and a
 * backend clearing its slot (commit or abort) wakes every waiter held at
 * H >= its slot - 1: it was the one holding them.  The waiter publishes H,
 * then recomputes the horizon; the writer clears its slot, then reads H:
 * with a barrier on each side, one of them always sees the other.
 *
 * The clock tells us when a transaction's in-flight slot is cleared
 * (gkv_slot_released_hook), with the shards it wrote and the slot's value.
 *
 * src/replication/change_wait.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"

#include "globalkv/clock.h"
#include "globalkv/replication.h"

#define GKV_MAX_CHANGE_WAITERS 64

typedef struct GkvWaitShared
{
	/* pgprocno + 1 of processes waiting for new changes, 0 = free slot */
	pg_atomic_uint32 waiters[GKV_MAX_CHANGE_WAITERS];
	/* shards a waiter waits for (GkvShardBit); all bits while free */
	pg_atomic_uint64 waiter_masks[GKV_MAX_CHANGE_WAITERS];
	/* horizon a waiter found held back by an in-flight slot, 0 = not held */
	pg_atomic_uint64 waiter_blocked[GKV_MAX_CHANGE_WAITERS];
} GkvWaitShared;

static GkvWaitShared *WaitShared = NULL;

static void WakeWaitersFor(uint64 mask, uint64 released);

Size
GkvChangeWaitShmemSize(void)
{
	return sizeof(GkvWaitShared);
}

void
GkvChangeWaitShmemInit(void)
{
	bool		found;

	WaitShared = ShmemInitStruct("globalkv change waiters", sizeof(GkvWaitShared), &found);
	if (!found)
	{
		for (int i = 0; i < GKV_MAX_CHANGE_WAITERS; i++)
		{
			pg_atomic_init_u32(&WaitShared->waiters[i], 0);
			pg_atomic_init_u64(&WaitShared->waiter_masks[i], PG_UINT64_MAX);
			pg_atomic_init_u64(&WaitShared->waiter_blocked[i], 0);
		}
	}
}

/* a cleared in-flight slot (see the header) */
static void
SlotReleased(uint64 written_mask, uint64 released)
{
	if (WaitShared != NULL)
		WakeWaitersFor(written_mask, released);
}

/* from _PG_init: listen to the clock's cleared slots */
void
GkvChangeWaitInit(void)
{
	gkv_slot_released_hook = SlotReleased;
}

/*
 * GkvRegisterChangeWaiter adds this process to the waiters, woken by
 * commits that wrote any shard in mask; false when all slots are taken
 * (the caller then polls with its timeout).  A free slot's mask is all
 * bits, so a writer that sees the slot taken before its mask is written
 * wakes the waiter once too often, never too rarely.
 */
bool
GkvRegisterChangeWaiter(uint64 mask)
{
	uint32		me = (uint32) MyProc->pgprocno + 1;

	for (int i = 0; i < GKV_MAX_CHANGE_WAITERS; i++)
	{
		uint32		expected = 0;

		if (pg_atomic_compare_exchange_u32(&WaitShared->waiters[i], &expected, me))
		{
			pg_atomic_write_u64(&WaitShared->waiter_masks[i], mask);
			pg_memory_barrier();
			return true;
		}
	}
	return false;
}

void
GkvUnregisterChangeWaiter(void)
{
	uint32		me = (uint32) MyProc->pgprocno + 1;

	for (int i = 0; i < GKV_MAX_CHANGE_WAITERS; i++)
	{
		if (pg_atomic_read_u32(&WaitShared->waiters[i]) != me)
			continue;
		pg_atomic_write_u64(&WaitShared->waiter_masks[i], PG_UINT64_MAX);
		pg_atomic_write_u64(&WaitShared->waiter_blocked[i], 0);
		pg_memory_barrier();
		pg_atomic_write_u32(&WaitShared->waiters[i], 0);
	}
}

/*
 * GkvChangeWaiterHeldAt: this registered waiter found nothing new while
 * the horizon was 'horizon'.  Returns true when it may sleep: the horizon
 * is still there, and whoever holds it back will wake us when it clears
 * its slot.  False: the horizon moved meanwhile, look again now.
 */
bool
GkvChangeWaiterHeldAt(uint64 horizon)
{
	uint32		me = (uint32) MyProc->pgprocno + 1;
	bool		held = horizon < GkvClockNow();

	for (int i = 0; i < GKV_MAX_CHANGE_WAITERS; i++)
		if (pg_atomic_read_u32(&WaitShared->waiters[i]) == me)
			pg_atomic_write_u64(&WaitShared->waiter_blocked[i], held ? Max(horizon, 1) : 0);
	pg_memory_barrier();
	return !held || GkvSafeHorizon() == horizon;
}

/*
 * WakeWaitersFor sets the latch of every waiter for a shard in 'mask', and
 * of every waiter held back by a slot of value 'released' (0: none).
 */
static void
WakeWaitersFor(uint64 mask, uint64 released)
{
	for (int i = 0; i < GKV_MAX_CHANGE_WAITERS; i++)
	{
		uint32		w = pg_atomic_read_u32(&WaitShared->waiters[i]);
		uint64		blocked;

		pg_memory_barrier();
		if (w == 0)
			continue;
		blocked = pg_atomic_read_u64(&WaitShared->waiter_blocked[i]);
		if ((pg_atomic_read_u64(&WaitShared->waiter_masks[i]) & mask) != 0 ||
			(released != 0 && blocked != 0 && released <= blocked + 1))
			SetLatch(&ProcGlobal->allProcs[w - 1].procLatch);
	}
}

/* wake every waiter (a fence went up: a fenced shard reads past the horizon) */
void
GkvWakeChangeWaiters(void)
{
	WakeWaitersFor(PG_UINT64_MAX, 0);
}

