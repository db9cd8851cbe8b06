/*-------------------------------------------------------------------------
 *
 * coverage.c
 *	  What this node already holds, told to the peers it pulls from, so
 *	  that they do not send it back: echo and relay suppression.
 *
 * Every applied row gets a new local seq, so the peers of this node pull
 * it from us again: our own writes come back (echoes) and a row of a third
 * node arrives once directly and once through every other zone (relays).
 * The merge skips them, but each one is scanned, sent, decoded and merged
 * for nothing: in a 3-zone mesh a put on one node cost four such
 * deliveries besides its two real applies.  With each pull the apply
 * worker now tells the source what this node holds, and the source leaves
 * out rows the list covers (pull.c).
 *
 * A CLAIM is (origin node X, shard s, upto): this node holds, committed, a
 * state that covers every state X stored in shard s with a seq <= upto.
 * A row covered by a claim is left out only when
 *	- it carries no counter state: its state is then exactly the write of
 *	  its version (value, version, expiry), and a local write's version is
 *	  its seq on the node that made it (shard_store.c), so "X stored seq
 *	  h in shard s" and "the version (h, X)" are the same event;
 *	  a row with counter state is a merge of several nodes' increments,
 *	  whose version names only the last of them, so it always travels;
 *	- its hlc is above this node's coverage floor (below).
 *
 * The claims are
 *	- for this node's own writes: (this node, s, no limit), for every shard
 *	  it serves.  A peer holds a write of ours only because it pulled it,
 *	  directly or through other peers, and pulls return committed rows: so
 *	  every such write committed here before the peer could hold it, and
 *	  before the commit that will move our cursor past its echo;
 *	- for every other peer X: (X, s, cursor) where cursor is the apply
 *	  worker's cursor for X and s after the commit of the batch that
 *	  moved it (published here only once CommitTransactionCommand
 *	  returned), for every shard this node serves.
 * Only shards this node serves (and is not receiving in a move) are
 * claimed: a shard being moved here was emptied first, and claims about
 * it would be false.
 *
 * WHY A CLAIM SURVIVES A CRASH. Apply transactions commit without waiting
 * for their flush (apply_worker.c), and a client may too, so a claim may
 * rest on a commit a crash undoes.  The source leaves a covered row out
 * and the puller's cursor moves past it; but that cursor is stored by a
 * commit that comes after every commit the claim rested on, in WAL order.
 * Recovery replays a prefix of the WAL: if the cursor survives, so does
 * what the claim rested on; if it does not, the row is pulled again.
 *
 * THE FLOOR. Own writes a crash undid may still be held by peers (they
 * pulled them before the crash); the echo is then the only way back, and
 * after the restart the horizon is above them again.  So no row with an
 * hlc at or below the floor is ever left out, and the floor is this
 * node's clock when the first apply worker of this run of the server
 * asks for it: above every seq handed out before the crash (the clock
 * restarts above the persisted floor, clock/hlc.c).  kv.resync() raises
 * it to the clock of its own time, since it removes rows on purpose.
 *
 * docs/replication.md has the argument for operators.
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
#include "storage/spin.h"

#include "globalkv/clock.h"
#include "globalkv/replication.h"
#include "globalkv/storage.h"

/* peers with claims, and shards with claims (higher shards travel always) */
#define COVERAGE_PEERS 64
#define COVERAGE_SHARDS 1024

typedef struct CoverageSlot
{
	int32		peer_node_id;	/* 0: free; set under the mutex */
	pg_atomic_uint64 upto[COVERAGE_SHARDS];
} CoverageSlot;

typedef struct CoverageShared
{
	slock_t		mutex;
	pg_atomic_uint64 floor;		/* 0 until the first apply worker asks */
	CoverageSlot slots[COVERAGE_PEERS];
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
	{
		SpinLockInit(&Coverage->mutex);
		pg_atomic_init_u64(&Coverage->floor, 0);
		for (int i = 0; i < COVERAGE_PEERS; i++)
		{
			Coverage->slots[i].peer_node_id = 0;
			for (int s = 0; s < COVERAGE_SHARDS; s++)
				pg_atomic_init_u64(&Coverage->slots[i].upto[s], 0);
		}
	}
}

/* the slot of a peer, claimed (and emptied) when it has none; NULL if full */
static CoverageSlot *
SlotOf(int32 peer_node_id, bool claim)
{
	CoverageSlot *slot = NULL;

	SpinLockAcquire(&Coverage->mutex);
	for (int i = 0; i < COVERAGE_PEERS && slot == NULL; i++)
		if (Coverage->slots[i].peer_node_id == peer_node_id)
			slot = &Coverage->slots[i];
	for (int i = 0; i < COVERAGE_PEERS && slot == NULL && claim; i++)
		if (Coverage->slots[i].peer_node_id == 0)
		{
			slot = &Coverage->slots[i];
			for (int s = 0; s < COVERAGE_SHARDS; s++)
				pg_atomic_write_u64(&slot->upto[s], 0);
			slot->peer_node_id = peer_node_id;
		}
	SpinLockRelease(&Coverage->mutex);
	return slot;
}

/*
 * GkvCoveragePublish: the apply worker for this peer holds, committed,
 * every row of the peer's shard up to 'cursor' (0: claims nothing).
 */
void
GkvCoveragePublish(int32 peer_node_id, int shard, uint64 cursor)
{
	CoverageSlot *slot;

	if (shard < 0 || shard >= COVERAGE_SHARDS)
		return;
	slot = SlotOf(peer_node_id, cursor != 0);
	if (slot != NULL)
		pg_atomic_write_u64(&slot->upto[shard], cursor);
}

/* GkvCoverageForget: the peer is gone; claim nothing about it */
void
GkvCoverageForget(int32 peer_node_id)
{
	SpinLockAcquire(&Coverage->mutex);
	for (int i = 0; i < COVERAGE_PEERS; i++)
		if (Coverage->slots[i].peer_node_id == peer_node_id)
			Coverage->slots[i].peer_node_id = 0;
	SpinLockRelease(&Coverage->mutex);
}

/*
 * GkvCoverageClaims appends to 'buf' (an int8 array literal being built,
 * without braces) the claims this node makes to 'source' about one shard:
 * every other peer's published cursor above the floor.  Returns how many.
 */
int
GkvCoverageClaims(int32 source, int shard, uint64 floor, StringInfo buf)
{
	int			n = 0;

	if (shard < 0 || shard >= COVERAGE_SHARDS)
		return 0;
	for (int i = 0; i < COVERAGE_PEERS; i++)
	{
		CoverageSlot *slot = &Coverage->slots[i];
		int32		peer = slot->peer_node_id;
		uint64		upto;

		if (peer == 0 || peer == source)
			continue;
		upto = pg_atomic_read_u64(&slot->upto[shard]);
		if (upto <= floor)
			continue;
		appendStringInfo(buf, "%s%d,%d," UINT64_FORMAT, buf->len > 0 ? "," : "",
						 peer, shard, upto);
		n++;
	}
	return n;
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
		uint64		now = Max(GkvClockNow(), 1);

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
