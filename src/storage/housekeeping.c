/*-------------------------------------------------------------------------
 *
 * housekeeping.c
 *	  What the stored rows tell the housekeeping worker (expiry/), so that
 *	  it sleeps until there is work instead of scanning on a timer.
 *
 * Every row is stored through one function (shard_store.c), which reports
 * here the two facts housekeeping needs:
 *
 *	- a row with an expiry time: if it expires before the worker means to
 *	  wake up, the wake-up time moves earlier and the worker's latch is set;
 *	- a tombstone: the time of the latest one, so the worker knows when
 *	  tombstones may be waiting for their purge.
 *
 * The worker publishes when it means to wake (GkvHousekeepingPlanWake).
 * Before it looks for the earliest expiry it sets the plan to "never", so
 * a row stored while it looks moves the plan and sets its latch: no expiry
 * can be missed, at the price of a spare wake-up.
 *
 * src/storage/housekeeping.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "globalkv/storage.h"

typedef struct HousekeepingShared
{
	pg_atomic_uint64 wake_at;	/* TimestampTz the worker wakes at */
	pg_atomic_uint64 last_tombstone;	/* TimestampTz of the latest tombstone */
	pg_atomic_uint32 worker;	/* pgprocno + 1 of the worker, 0 = none */
} HousekeepingShared;

static HousekeepingShared *Housekeeping = NULL;

Size
GkvHousekeepingShmemSize(void)
{
	return sizeof(HousekeepingShared);
}

void
GkvHousekeepingShmemInit(void)
{
	bool		found;

	Housekeeping = ShmemInitStruct("globalkv housekeeping", sizeof(HousekeepingShared), &found);
	if (!found)
	{
		pg_atomic_init_u64(&Housekeeping->wake_at, 0);
		/* after a restart tombstones may be there: treat them as recent */
		pg_atomic_init_u64(&Housekeeping->last_tombstone, (uint64) GetCurrentTimestamp());
		pg_atomic_init_u32(&Housekeeping->worker, 0);
	}
}

/*
 * GkvHousekeepingNoteStored: a row was stored (a tombstone when value is
 * NULL; with an expiry when has_expiry).  Cheap: atomic reads, and a write
 * only when something changes.
 */
void
GkvHousekeepingNoteStored(bool tombstone, bool has_expiry, TimestampTz expires_at)
{
	if (Housekeeping == NULL)
		return;
	if (tombstone)
	{
		TimestampTz now = GetCurrentTimestamp();

		/* one write per second at most: the worker needs seconds, not more */
		if (now - (TimestampTz) pg_atomic_read_u64(&Housekeeping->last_tombstone) > USECS_PER_SEC)
			pg_atomic_write_u64(&Housekeeping->last_tombstone, (uint64) now);
	}
	if (has_expiry)
	{
		uint64		planned = pg_atomic_read_u64(&Housekeeping->wake_at);
		uint64		when = (uint64) Max(expires_at, 0);

		if (when >= planned)
			return;
		while (when < planned &&
			   !pg_atomic_compare_exchange_u64(&Housekeeping->wake_at, &planned, when))
			;
		{
			uint32		w = pg_atomic_read_u32(&Housekeeping->worker);

			if (w != 0)
				SetLatch(&ProcGlobal->allProcs[w - 1].procLatch);
		}
	}
}

/* GkvHousekeepingRegisterWorker: this process is the worker to wake */
void
GkvHousekeepingRegisterWorker(void)
{
	pg_atomic_write_u32(&Housekeeping->worker, (uint32) MyProc->pgprocno + 1);
}

/*
 * GkvHousekeepingPlanWake sets when the worker wakes next (DT_NOEND:
 * when told).  Returns the plan now in force, which rows stored meanwhile
 * may have moved earlier.
 */
TimestampTz
GkvHousekeepingPlanWake(TimestampTz when)
{
	uint64		planned = pg_atomic_read_u64(&Housekeeping->wake_at);
	uint64		w = (uint64) Max(when, 0);

	if (when == DT_NOEND)
	{
		pg_atomic_write_u64(&Housekeeping->wake_at, PG_UINT64_MAX);
		pg_memory_barrier();
		return DT_NOEND;
	}
	while (w < planned &&
		   !pg_atomic_compare_exchange_u64(&Housekeeping->wake_at, &planned, w))
		;
	planned = pg_atomic_read_u64(&Housekeeping->wake_at);
	return planned == PG_UINT64_MAX ? DT_NOEND : (TimestampTz) planned;
}

/* GkvHousekeepingWakeAt: when the worker is to wake (DT_NOEND: when told) */
TimestampTz
GkvHousekeepingWakeAt(void)
{
	uint64		planned = pg_atomic_read_u64(&Housekeeping->wake_at);

	return planned == PG_UINT64_MAX ? DT_NOEND : (TimestampTz) planned;
}

/* GkvHousekeepingLastTombstone: when the latest tombstone was stored */
TimestampTz
GkvHousekeepingLastTombstone(void)
{
	return (TimestampTz) pg_atomic_read_u64(&Housekeeping->last_tombstone);
}
