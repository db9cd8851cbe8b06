/*-------------------------------------------------------------------------
 *
 * coverage.c
 *	  What this node holds, told to the peers it pulls from, so that they
 *	  do not send its own writes back: echo suppression.
 *
 * Every applied row gets a new local seq, so the peers of this node pull
 * it from us again: our own writes came back from every peer (echoes).
 * The merge skipped them, but each was scanned, sent, decoded and merged
 * for nothing: in a 3-zone mesh two such deliveries per put, about a fifth
 * of the parade's CPU under a stream of puts.  With each pull the apply
 * worker now tells the source what this node holds, and the source leaves
 * out the rows that covers (pull.c).
 *
 * A CLAIM is (origin node X, shard s, upto): this node holds, committed, a
 * state that covers every state X stored in shard s with a seq <= upto.
 * The only claims made are about this node's OWN writes, without limit,
 * for every shard it serves (and is not receiving in a move): a peer can
 * hold a write of ours only because it pulled it, directly or through
 * other peers, and pulls return committed rows -- so every such write
 * committed here before the peer could hold it, and before the commit that
 * will move our cursor past its echo.  A row is left out only when
 *	- it carries no counter state: its state is then exactly the write of
 *	  its version, and a local write's version is its seq on the node that
 *	  made it (shard_store.c); a row with counter state is a merge of
 *	  several nodes' increments, whose version names only the last of them,
 *	  so it always travels;
 *	- its hlc is above this node's coverage floor (below).
 *
 * Claims about OTHER peers' rows (up to the cursors this node's apply
 * workers hold for them) would cut relays too, but they are not made: a
 * cursor only says "I read that node's table up to here", and a node that
 * empties a shard without writing anything newer in its place (a shard
 * move's cleanup or abort, kv.resync, a dropped namespace) lets the cursor
 * pass rows the puller never received.  Leaving out their relays would
 * lose them for good.  docs/replication.md, "Relays", says what would make
 * such claims safe.
 *
 * WHY A CLAIM SURVIVES A CRASH. Apply transactions commit without waiting
 * for their flush (apply_worker.c), and a client may too, so a claim may
 * rest on a commit a crash undoes.  The source leaves a covered row out
 * and the puller's cursor moves past it; but that cursor is stored by a
 * commit that comes after every commit the claim rested on, in WAL order.
 * Recovery replays a prefix of the WAL: if the cursor survives, so does
 * what the claim rested on; if it does not, the row is pulled again.
 *
 * THE FLOOR. Own writes a crash took from their writer may still be held
 * by peers (they pulled them before the crash); the echo is then the only
 * way back.  So no row with an hlc at or below the floor is ever left out,
 * and the floor is set when the first apply worker of this run of the
 * server asks for it: the greater of this node's clock (which restarts
 * above the persisted floor of every cursor it handed out, clock/hlc.c)
 * and the wall clock (so that a node restored from an older backup, whose
 * persisted floor is older too, does not claim the writes it lost).
 * kv.resync() raises it to the clock of its own time, since it removes
 * rows on purpose.
 *
 * src/replication/coverage.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/shmem.h"

#include "globalkv/clock.h"
#include "globalkv/replication.h"
#include "globalkv/storage.h"

typedef struct CoverageShared
{
	pg_atomic_uint64 floor;		/* 0 until the first apply worker asks */
} CoverageShared;

static CoverageShared *Coverage = NULL;

Size
GkvCoverageShmemSize(void)
{
	return sizeof(CoverageShared);
}

void
GkvCoverageShmemInit(void)
{
	bool		found;

	Coverage = ShmemInitStruct("globalkv coverage", GkvCoverageShmemSize(), &found);
	if (!found)
		pg_atomic_init_u64(&Coverage->floor, 0);
}

/*
 * GkvCoverageFloor: no row with an hlc at or below this is left out of a
 * pull for us (see THE FLOOR).  The clock must have been started past the
 * stored rows (GkvStartClockPastStoredRows) before the first call.
 */
uint64
GkvCoverageFloor(void)
{
	uint64		floor = pg_atomic_read_u64(&Coverage->floor);

	if (floor == 0)
	{
		uint64		now = Max(Max(GkvClockNow(), GkvHlcFromMs(GkvUnixMsNow())), 1);

		if (!pg_atomic_compare_exchange_u64(&Coverage->floor, &floor, now))
			return floor;		/* another worker set it first */
		floor = now;
	}
	return floor;
}

/* GkvCoverageRaiseFloor: rows were removed on purpose (kv.resync) */
void
GkvCoverageRaiseFloor(void)
{
	uint64		now = GkvClockNow();
	uint64		old = pg_atomic_read_u64(&Coverage->floor);

	while (old < now && !pg_atomic_compare_exchange_u64(&Coverage->floor, &old, now))
		;
}

PG_FUNCTION_INFO_V1(gkv_coverage_reset);

/*
 * globalkv.coverage_reset(): called by kv.resync() after it removed rows,
 * so that no peer leaves out a row this node no longer holds.
 */
Datum
gkv_coverage_reset(PG_FUNCTION_ARGS)
{
	GkvStartClockPastStoredRows();
	GkvCoverageRaiseFloor();
	PG_RETURN_VOID();
}
