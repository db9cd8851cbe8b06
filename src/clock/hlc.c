/*-------------------------------------------------------------------------
 *
 * hlc.c
 *	  The node's hybrid logical clock and the in-flight change sequences
 *	  that define replication's safe horizon.
 *
 * THE CLOCK
 *
 * One 64-bit value in shared memory: unix milliseconds in the high 48 bits,
 * a logical counter in the low 16.  GkvClockTick() returns a value strictly
 * greater than every value it returned before and than every remote hlc
 * observed with GkvClockObserve(), and at least the current wall clock.  A
 * compare-and-swap loop makes it lock-free.
 *
 * After a restart the wall clock may be behind the last value handed out
 * (NTP step, a node restored on another host).  The clock must never go
 * back, because the change sequence (seq) of every shard row is a clock
 * value and replication cursors depend on it growing.  So before the first
 * tick after startup storage reads max(seq) of every shard table (an index
 * probe each) and the greatest catalog version, and the clock starts past
 * them: GkvClockStartPast, called by GkvStartClockPastStoredRows.  (Catalog
 * versions too: a catalog change is stamped with the next tick and must win
 * over every version it replaces, including one written by a peer whose
 * clock runs ahead.)
 *
 * A restart must also never hand out a sequence at or below a cursor a
 * peer already holds, or that peer would skip the rows stamped with it.
 * Peers learn cursors only from pulls, and a pull's cursors are at most the
 * clock's value when it ran -- a value that may be above every stored seq
 * (the clock moved past a remote version whose apply was not flushed yet,
 * or rolled back).  So before a pull hands out a cursor, the clock's floor
 * is made durable in $PGDATA/globalkv_clock (GkvClockPersistFloor): 4 s
 * ahead of what is needed, so one fsync covers 4 s of cursors (an fsync
 * per second was measured adding ~1 ms to the next commit of an idle node).
 * After a restart the clock starts above that floor too.
 *
 * THE SAFE HORIZON
 *
 * A peer pulls rows with seq in (cursor, horizon].  The horizon must be a
 * value such that every row stamped with a seq <= horizon is already
 * committed (or aborted), or a pull could skip a row that commits later
 * with a smaller seq.  Each backend owns a slot; before stamping its first
 * seq in a transaction it publishes the clock's current value there, and
 * the slot is cleared when the transaction ends.  Because the stamp is taken
 * by a later tick, every seq the transaction stamps is > its published
 * value.  The horizon is min(published) - 1, or the clock's current value
 * when no slot is set.  Two orderings make this sound:
 *
 *	- a writer publishes before it ticks (the tick's compare-and-swap is a
 *	  full barrier), so a horizon computed after the tick sees the slot;
 *	- PostgreSQL 15 runs XACT_EVENT_COMMIT callbacks after
 *	  ProcArrayEndTransaction, so a cleared slot means the rows are visible
 *	  to any snapshot taken afterwards.  A puller computes the horizon first
 *	  and then takes the snapshot that reads the rows.
 *
 * Prepared transactions would break the second point (the slot would clear
 * at PREPARE while rows become visible only at COMMIT PREPARED), so globalkv
 * writes are refused in a transaction that is being prepared.
 *
 * src/clock/hlc.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "access/twophase.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "globalkv/clock.h"
#include "globalkv/guc.h"

/* milliseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch) */
#define GKV_PG_EPOCH_UNIX_MS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000)

/* highest seq stamped per shard, shards folded modulo this (conservative) */
#define GKV_SHARD_SEQ_SLOTS 1024

#define GKV_CLOCK_FILE "globalkv_clock"
#define GKV_CLOCK_FLOOR_AHEAD_MS 4000	/* below max_clock_skew: no skew warning after a restart */

typedef struct GkvClockShared
{
	pg_atomic_uint64 clock;
	pg_atomic_uint64 persisted_floor;	/* durable in GKV_CLOCK_FILE */
	LWLock	   *floor_lock;		/* one writer of the file at a time */
	pg_atomic_uint32 initialized;	/* clock moved past stored seqs */
	/* GkvShardSeqAdvance: the highest seq stamped in each shard slot */
	pg_atomic_uint64 shard_max_seq[GKV_SHARD_SEQ_SLOTS];
	int			nslots;
	pg_atomic_uint64 inflight[FLEXIBLE_ARRAY_MEMBER];	/* 0 = none */
} GkvClockShared;

static GkvClockShared *ClockShared = NULL;

static void GkvClockShmemExit(int code, Datum arg);

/* this backend's published slot value, 0 when none (mirrors shared slot) */
static uint64 MyInflightSeq = 0;

/* shards this transaction stamped rows in (GkvShardBit) */
static uint64 MyWrittenMask = 0;

static void ChangeSequenceBeginWrite(void);

/*
 * GkvProcSlotCount: one slot per PGPROC (pgprocno), including auxiliary
 * processes and prepared-transaction dummies.  Valid once MaxBackends is
 * known (from shmem_request_hook on).
 */
int
GkvProcSlotCount(void)
{
	return MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts;
}

void
GkvClockShmemRequest(void)
{
	RequestNamedLWLockTranche("globalkv clock floor", 1);
}

Size
GkvClockShmemSize(void)
{
	return add_size(offsetof(GkvClockShared, inflight),
					mul_size(sizeof(pg_atomic_uint64), GkvProcSlotCount()));
}

void
GkvClockShmemInit(void)
{
	bool		found;

	ClockShared = ShmemInitStruct("globalkv clock", GkvClockShmemSize(), &found);
	if (!found)
	{
		pg_atomic_init_u64(&ClockShared->clock, 0);
		pg_atomic_init_u64(&ClockShared->persisted_floor, 0);
		ClockShared->floor_lock = &(GetNamedLWLockTranche("globalkv clock floor"))->lock;
		pg_atomic_init_u32(&ClockShared->initialized, 0);
		ClockShared->nslots = GkvProcSlotCount();
		for (int i = 0; i < GKV_SHARD_SEQ_SLOTS; i++)
			pg_atomic_init_u64(&ClockShared->shard_max_seq[i], 0);
		for (int i = 0; i < ClockShared->nslots; i++)
			pg_atomic_init_u64(&ClockShared->inflight[i], 0);
	}
}

int64
GkvUnixMsNow(void)
{
	return GetCurrentTimestamp() / 1000 + GKV_PG_EPOCH_UNIX_MS + GkvDebugClockOffsetMs;
}

TimestampTz
GkvUnixMsToTimestamp(int64 ms)
{
	return (ms - GKV_PG_EPOCH_UNIX_MS) * 1000;
}

int64
GkvTimestampToUnixMs(TimestampTz ts)
{
	/* floor division, so that times before 2000 round down too */
	int64		us = ts;
	int64		ms = us / 1000;

	if (us < 0 && us % 1000 != 0)
		ms--;
	return ms + GKV_PG_EPOCH_UNIX_MS;
}

/*
 * GkvClockNow returns the clock's current value without advancing it.
 */
uint64
GkvClockNow(void)
{
	return pg_atomic_read_u64(&ClockShared->clock);
}

/*
 * GkvClockAdvanceTo moves the clock to at least 'floor' + 1 and returns the
 * new value, which is unique to the caller.
 */
static uint64
GkvClockAdvanceTo(uint64 floor)
{
	uint64		physical = GkvHlcFromMs(GkvUnixMsNow());
	uint64		old = pg_atomic_read_u64(&ClockShared->clock);

	for (;;)
	{
		uint64		next = Max(physical, Max(old, floor) + 1);

		if (pg_atomic_compare_exchange_u64(&ClockShared->clock, &old, next))
			return next;
	}
}

/*
 * GkvClockTick returns a new clock value, greater than any handed out
 * before, for a local write.
 */
uint64
GkvClockTick(void)
{
	return GkvClockAdvanceTo(0);
}

/*
 * GkvClockObserve moves the clock past a remote version, so that a later
 * local write always wins over what this node has already seen.
 */
void
GkvClockObserve(uint64 remote_hlc)
{
	uint64		old = pg_atomic_read_u64(&ClockShared->clock);

	while (old < remote_hlc)
	{
		if (pg_atomic_compare_exchange_u64(&ClockShared->clock, &old, remote_hlc))
			break;
	}
}

/* the floor stored in GKV_CLOCK_FILE, 0 when there is none */
static uint64
ReadPersistedFloor(void)
{
	uint64		floor = 0;
	int			fd = OpenTransientFile(GKV_CLOCK_FILE, O_RDONLY | PG_BINARY);

	if (fd < 0)
	{
		if (errno != ENOENT)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open file \"%s\": %m", GKV_CLOCK_FILE)));
		return 0;
	}
	if (read(fd, &floor, sizeof(floor)) != sizeof(floor))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("file \"%s\" is damaged", GKV_CLOCK_FILE),
				 errhint("Remove it only after making sure the node's clock is past every replication cursor its peers hold.")));
	CloseTransientFile(fd);
	pg_atomic_write_u64(&ClockShared->persisted_floor, floor);
	return floor;
}

/*
 * GkvClockPersistFloor makes sure that after a restart the clock starts
 * above 'value' (see the header): cheap when an earlier call already
 * covered it, otherwise one small file written and fsynced, covering
 * GKV_CLOCK_FLOOR_AHEAD_MS more.
 */
void
GkvClockPersistFloor(uint64 value)
{
	char		tmp[MAXPGPATH];
	uint64		floor;
	int			fd;

	if (value <= pg_atomic_read_u64(&ClockShared->persisted_floor))
		return;
	LWLockAcquire(ClockShared->floor_lock, LW_EXCLUSIVE);
	if (value <= pg_atomic_read_u64(&ClockShared->persisted_floor))
	{
		LWLockRelease(ClockShared->floor_lock);
		return;
	}
	/* ahead of the clock, never moving it: it only bounds a restart */
	floor = value + GkvHlcFromMs(GKV_CLOCK_FLOOR_AHEAD_MS);
	snprintf(tmp, sizeof(tmp), "%s.tmp", GKV_CLOCK_FILE);
	fd = OpenTransientFile(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd < 0 ||
		write(fd, &floor, sizeof(floor)) != sizeof(floor) ||
		pg_fsync(fd) != 0 ||
		CloseTransientFile(fd) != 0 ||
		durable_rename(tmp, GKV_CLOCK_FILE, ERROR) != 0)
	{
		int			save_errno = errno;

		LWLockRelease(ClockShared->floor_lock);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", GKV_CLOCK_FILE)));
	}
	pg_atomic_write_u64(&ClockShared->persisted_floor, floor);
	LWLockRelease(ClockShared->floor_lock);
}

/* GkvClockStarted: has the clock been moved past what is stored yet? */
bool
GkvClockStarted(void)
{
	return pg_atomic_read_u32(&ClockShared->initialized) != 0;
}

/*
 * GkvClockStartPast moves the clock past 'greatest_stored' (the greatest
 * seq or version stored anywhere on this node, which storage knows) and
 * past the persisted floor, once per postmaster lifetime (see the header
 * comment).  Must be called inside a transaction, before the first tick of
 * a write.  No lock: callers that race here each bring a correct value,
 * the clock only moves forward, and none of them ticks before its own call
 * returns.
 */
void
GkvClockStartPast(uint64 greatest_stored)
{
	GkvClockObserve(greatest_stored);
	GkvClockObserve(ReadPersistedFloor());
	pg_memory_barrier();
	pg_atomic_write_u32(&ClockShared->initialized, 1);
	elog(DEBUG1, "globalkv: clock started past stored value " UINT64_FORMAT,
		 greatest_stored);
}

/*
 * GkvStampSequence returns a fresh change sequence for a row of the shard
 * (GKV_CATALOG_SHARD for a catalog row) about to be stored: the backend's
 * in-flight slot is published first (see THE SAFE HORIZON), the shard is
 * noted for waking its waiters at commit, and the shard's highest stamped
 * seq is advanced.  The one way every row, document or catalog, is stamped.
 */
uint64
GkvStampSequence(int shard)
{
	uint64		seq;

	ChangeSequenceBeginWrite();
	MyWrittenMask |= GkvShardBit(shard);
	seq = GkvClockTick();
	GkvShardSeqAdvance(shard, seq);
	return seq;
}

/*
 * GkvShardSeqAdvance records that 'seq' was stamped on a row of the shard:
 * a pull skips a shard whose highest stamped seq is at or below its cursor,
 * without opening it.  Called after the tick and before the commit that
 * lets the horizon pass the seq, so a puller that computed a horizon >= seq
 * sees it (GkvShardSeqMax after GkvSafeHorizon).
 */
void
GkvShardSeqAdvance(int shard, uint64 seq)
{
	pg_atomic_uint64 *slot = &ClockShared->shard_max_seq[(uint32) shard % GKV_SHARD_SEQ_SLOTS];
	uint64		old = pg_atomic_read_u64(slot);

	while (old < seq && !pg_atomic_compare_exchange_u64(slot, &old, seq))
		;
}

/* GkvShardSeqMax: no row of the shard has a seq above this */
uint64
GkvShardSeqMax(int shard)
{
	pg_memory_barrier();
	return pg_atomic_read_u64(&ClockShared->shard_max_seq[(uint32) shard % GKV_SHARD_SEQ_SLOTS]);
}

/*
 * ChangeSequenceBeginWrite publishes this backend's in-flight slot before
 * the transaction stamps its first seq.  Cheap after the first call in a
 * transaction.
 */
static void
ChangeSequenceBeginWrite(void)
{
	uint64		published;

	static bool exit_hook_registered = false;

	if (MyInflightSeq != 0)
		return;
	Assert(MyProc != NULL);
	if (!exit_hook_registered)
	{
		/* a backend that exits mid-transaction must not pin the horizon */
		before_shmem_exit(GkvClockShmemExit, (Datum) 0);
		exit_hook_registered = true;
	}

	/*
	 * Publish the current value; the caller's later tick returns something
	 * strictly greater.  Use at least 1 so that 0 keeps meaning "empty".
	 */
	published = Max(GkvClockNow(), 1);
	pg_atomic_write_u64(&ClockShared->inflight[MyProc->pgprocno], published);
	pg_memory_barrier();
	MyInflightSeq = published;
}

GkvSlotReleasedHook gkv_slot_released_hook = NULL;

/*
 * ClearInflightSlot clears this backend's slot and tells whoever listens
 * (gkv_slot_released_hook: replication's change waiters) which shards the
 * transaction wrote and which slot value stopped holding the horizon.
 */
static void
ClearInflightSlot(uint64 written_mask)
{
	uint64		released = MyInflightSeq;

	if (MyInflightSeq != 0 && MyProc != NULL)
	{
		pg_atomic_write_u64(&ClockShared->inflight[MyProc->pgprocno], 0);
		MyInflightSeq = 0;
		pg_memory_barrier();
		if (gkv_slot_released_hook)
			gkv_slot_released_hook(written_mask, released);
	}
}

static void
GkvClockXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			if (MyInflightSeq != 0 && event == XACT_EVENT_PRE_PREPARE)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has written globalkv documents"),
						 errdetail("Replication could skip rows of a prepared transaction.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			ClearInflightSlot(MyWrittenMask != 0 ? MyWrittenMask : PG_UINT64_MAX);
			MyWrittenMask = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			ClearInflightSlot(0);
			MyWrittenMask = 0;
			break;
		default:
			break;
	}
}

static void
GkvClockShmemExit(int code, Datum arg)
{
	ClearInflightSlot(0);
}

void
GkvClockRegisterXactCallbacks(void)
{
	RegisterXactCallback(GkvClockXactCallback, NULL);
}

/*
 * GkvSafeHorizon returns the highest seq at or below which every stamped
 * row is already committed or aborted.  Call it before taking the snapshot
 * that will read the rows.
 */
uint64
GkvSafeHorizon(void)
{
	uint64		horizon;
	uint64		lowest = PG_UINT64_MAX;

	/* read the clock first: a writer that publishes later stamps above it */
	horizon = GkvClockNow();
	pg_memory_barrier();
	for (int i = 0; i < ClockShared->nslots; i++)
	{
		uint64		v = pg_atomic_read_u64(&ClockShared->inflight[i]);

		if (v != 0 && v < lowest)
			lowest = v;
	}
	if (lowest != PG_UINT64_MAX && lowest - 1 < horizon)
		horizon = lowest - 1;
	return horizon;
}

/*
 * GkvShardBit: the bit of a shard (GKV_CATALOG_SHARD, -1, for the catalog)
 * in a mask of shards.  Shards share bits modulo 63: a shared bit only
 * costs a waiter a wasted look.
 */
uint64
GkvShardBit(int shard)
{
	return shard < 0 ? (UINT64CONST(1) << 63) : (UINT64CONST(1) << (shard % 63));
}

/*
 * GkvTransactionHasWritten: has this transaction stamped a change sequence
 * (written a document or a catalog row) yet?
 */
bool
GkvTransactionHasWritten(void)
{
	return MyInflightSeq != 0;
}

PG_FUNCTION_INFO_V1(gkv_hlc_at);

/*
 * globalkv.hlc_at(timestamptz): the lowest clock value of that instant, so
 * that SQL compares rows' hlc with a time without knowing the bit layout.
 */
Datum
gkv_hlc_at(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) GkvHlcFromMs(GkvTimestampToUnixMs(PG_GETARG_TIMESTAMPTZ(0))));
}
