/*-------------------------------------------------------------------------
 *
 * pull.c
 *	  The source side of replication: globalkv.pull() returns the rows a
 *	  peer has not seen yet, and globalkv.ack() records what it has.
 *
 * THE PULL
 *
 *	globalkv.pull(peer int, resyncing bool, shards int[], cursors bigint[],
 *				  max_rows int, wait_ms int
 *				  [, covered_above bigint, covered bigint[]])
 *
 * For each requested shard, in order, returns the rows with
 * cursor < seq <= horizon, in seq order, until max_rows rows are out; then
 * one cursor row per requested shard (key IS NULL) carrying the cursor the
 * peer may store for it: the horizon for a shard scanned to the end, the
 * last returned seq for the shard where max_rows cut the scan, the old
 * cursor for shards not reached.  The peer stores those cursors in the same
 * transaction as the rows it applies, so a crash never loses or repeats a
 * batch (and a repeated batch would be harmless anyway: merging is
 * idempotent).
 *
 * The horizon (clock/hlc.c) is computed first, and only then a fresh
 * snapshot is taken to read the rows: not the statement's snapshot, which
 * predates the horizon.  Rows of every origin are returned, not only this
 * node's own, which is what makes changes relay along any path.
 *
 * When nothing is new and wait_ms > 0, the pull waits on its latch, which
 * every committing writer sets, and looks again: a change reaches the peer
 * a few milliseconds after it commits, without polling.
 *
 * A peer that missed tombstones this node purged after the retention
 * (globalkv.peer_needs_resync) gets GK016 instead of rows, unless it is
 * resyncing in full (kv.resync() on that peer): incremental changes would
 * never tell it about those deletes.
 *
 * COVERED ROWS ARE LEFT OUT. 'covered' lists (origin, shard, upto)
 * triples: the peer already holds every state 'origin' stored in 'shard'
 * with a seq up to 'upto' -- today only claims about its own writes
 * (replication/coverage.c says what makes such a claim true, and why it
 * survives a crash).  A row without counter state,
 * with an hlc above covered_above, whose version (hlc, origin) falls under
 * a claim for its shard is not sent -- it is an echo of the peer's own
 * write or a copy it already has from that origin -- but the cursor moves
 * past it as if it had been.  A round that found only covered rows does
 * not answer: it waits for more, as if it had found nothing.  The 6-
 * argument form (a peer of an older version) leaves nothing out.
 *
 * Pseudo-shard -1 is the catalog (namespaces, expiry policies, nodes): its
 * rows travel in the same stream, see catalog_sync.c.
 *
 * src/replication/pull.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "globalkv/catalog.h"
#include "globalkv/clock.h"
#include "globalkv/errcodes.h"
#include "globalkv/guc.h"
#include "globalkv/pull_format.h"
#include "globalkv/replication.h"
#include "globalkv/storage.h"

/*
 * OpenSeqIndex returns the shard table's single-column btree index on seq.
 */
static Relation
OpenSeqIndex(Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);

		if (idx->rd_index->indnatts == 1 &&
			idx->rd_index->indkey.values[0] == Anum_shard_seq &&
			idx->rd_indpred == NIL && idx->rd_rel->relam == BTREE_AM_OID)
			return idx;
		index_close(idx, AccessShareLock);
	}
	elog(ERROR, "shard table \"%s\" has no index on seq", RelationGetRelationName(rel));
	return NULL;				/* keep compiler quiet */
}

/* a claim of the peer about one shard: it holds origin's states up to upto */
typedef struct CoverClaim
{
	int32		origin;
	uint64		upto;
} CoverClaim;

/* the claims about one requested shard */
typedef struct ShardClaims
{
	int			n;
	CoverClaim *claims;
} ShardClaims;

/* does a claim cover this stored row?  See COVERED ROWS ARE LEFT OUT. */
static bool
RowCovered(TupleTableSlot *slot, const ShardClaims *claims, uint64 covered_above)
{
	uint64		hlc;
	int32		origin;

	if (claims == NULL || claims->n == 0 || !slot->tts_isnull[Anum_shard_crdt - 1])
		return false;
	hlc = (uint64) DatumGetInt64(slot->tts_values[Anum_shard_hlc - 1]);
	if (hlc <= covered_above)
		return false;
	origin = DatumGetInt32(slot->tts_values[Anum_shard_origin - 1]);
	for (int i = 0; i < claims->n; i++)
		if (claims->claims[i].origin == origin && hlc <= claims->claims[i].upto)
			return true;
	return false;
}

/*
 * ScanShard appends rows of one shard with cursor < seq <= horizon to the
 * tuplestore, at most 'budget' of them, leaving out the rows the peer's
 * claims cover; it reads at most *reads rows, and takes those it read off
 * *reads.  Returns how many it
 * appended; *last_seq is the seq of the last row read, *complete says
 * whether the scan reached the horizon, and *left_out counts the covered
 * rows it left out.
 */
static int64
ScanShard(int shard_id, uint64 cursor, uint64 horizon, Snapshot snapshot,
		  int64 budget, int64 *reads, const ShardClaims *claims, uint64 covered_above,
		  Tuplestorestate *store, TupleDesc desc, uint64 *last_seq, bool *complete,
		  int64 *left_out)
{
	Relation	rel = table_open(GkvShardRelid(shard_id), AccessShareLock);
	Relation	idx = OpenSeqIndex(rel);
	IndexScanDesc scan;
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	ScanKeyData keys[2];
	int64		n = 0;

	*complete = false;
	ScanKeyInit(&keys[0], 1, BTGreaterStrategyNumber, F_INT8GT,
				Int64GetDatum((int64) cursor));
	ScanKeyInit(&keys[1], 1, BTLessEqualStrategyNumber, F_INT8LE,
				Int64GetDatum((int64) horizon));
	scan = index_beginscan(rel, idx, snapshot, 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	for (;;)
	{
		Datum		values[GKV_PULL_NATTS];
		bool		nulls[GKV_PULL_NATTS];

		if (n >= budget || *reads <= 0)
			break;
		if (!index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			*complete = true;
			break;
		}
		(*reads)--;
		slot_getallattrs(slot);
		*last_seq = (uint64) DatumGetInt64(slot->tts_values[Anum_shard_seq - 1]);
		CHECK_FOR_INTERRUPTS();
		if (RowCovered(slot, claims, covered_above))
		{
			(*left_out)++;
			continue;
		}
		values[GKV_PULL_SHARD] = Int32GetDatum(shard_id);
		nulls[GKV_PULL_SHARD] = false;
		for (int att = 1; att <= Natts_shard; att++)
		{
			values[GkvPullColumnOfAttr(att)] = slot->tts_values[att - 1];
			nulls[GkvPullColumnOfAttr(att)] = slot->tts_isnull[att - 1];
		}
		tuplestore_putvalues(store, desc, values, nulls);
		n++;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return n;
}

/*
 * ReadClaims sorts the (origin, shard, upto) triples of 'covered' by the
 * requested shard they are about; claims about shards not requested are
 * ignored.
 */
static ShardClaims *
ReadClaims(ArrayType *covered, int nshards, const Datum *shard_d, const bool *shard_n)
{
	Datum	   *d;
	bool	   *isnull;
	int			n;
	ShardClaims *claims = palloc0(sizeof(ShardClaims) * nshards);

	deconstruct_array(covered, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &d, &isnull, &n);
	if (n % 3 != 0 || n / 3 > 64 * Max(nshards, 1))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("invalid globalkv.pull request: covered must hold at most %d (origin, shard, upto) triples",
						64 * Max(nshards, 1))));
	for (int t = 0; t < n; t += 3)
	{
		int64		shard;

		if (isnull[t] || isnull[t + 1] || isnull[t + 2])
			ereport(ERROR,
					(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
					 errmsg("invalid globalkv.pull request: covered must not hold nulls")));
		shard = DatumGetInt64(d[t + 1]);
		for (int i = 0; i < nshards; i++)
		{
			ShardClaims *c = &claims[i];

			if (shard_n[i] || DatumGetInt32(shard_d[i]) != shard || shard < 0)
				continue;
			if (c->claims == NULL)
				c->claims = palloc(sizeof(CoverClaim) * (n / 3));
			c->claims[c->n].origin = (int32) DatumGetInt64(d[t]);
			c->claims[c->n].upto = (uint64) DatumGetInt64(d[t + 2]);
			c->n++;
			break;
		}
	}
	return claims;
}

static void
PutCursorRow(Tuplestorestate *store, TupleDesc desc, int shard_id, uint64 cursor,
			 uint64 horizon, int64 left_out)
{
	Datum		values[GKV_PULL_NATTS] = {0};
	bool		nulls[GKV_PULL_NATTS];

	for (int i = 0; i < GKV_PULL_NATTS; i++)
		nulls[i] = true;
	values[GKV_PULL_SHARD] = Int32GetDatum(shard_id);
	nulls[GKV_PULL_SHARD] = false;
	values[GKV_PULL_HLC] = Int64GetDatum((int64) horizon);
	nulls[GKV_PULL_HLC] = false;
	values[GKV_PULL_SEQ] = Int64GetDatum((int64) cursor);
	nulls[GKV_PULL_SEQ] = false;
	values[GKV_PULL_ORIGIN] = Int32GetDatum((int32) Min(left_out, PG_INT32_MAX));
	nulls[GKV_PULL_ORIGIN] = false;
	tuplestore_putvalues(store, desc, values, nulls);
}

/*
 * CheckPullColumns: the SQL declaration of globalkv.pull has the columns
 * of pull_format.h, in order (a mismatch would make peers misread rows).
 */
static void
CheckPullColumns(TupleDesc desc)
{
	static const char *const names[GKV_PULL_NATTS] = {GKV_PULL_COLUMN_NAMES};

	if (desc->natts != GKV_PULL_NATTS)
		elog(ERROR, "globalkv.pull is declared with %d columns, this library sends %d",
			 desc->natts, GKV_PULL_NATTS);
	for (int i = 0; i < GKV_PULL_NATTS; i++)
		if (strcmp(NameStr(TupleDescAttr(desc, i)->attname), names[i]) != 0)
			elog(ERROR, "column %d of globalkv.pull is \"%s\", this library sends \"%s\" there",
				 i + 1, NameStr(TupleDescAttr(desc, i)->attname), names[i]);
}

PG_FUNCTION_INFO_V1(gkv_pull);

/* when this backend last answered a pull with rows (one peer per backend) */
static TimestampTz LastAnswer = 0;

Datum
gkv_pull(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *shards_arr,
			   *cursors_arr;
	Datum	   *shard_d,
			   *cursor_d;
	bool	   *shard_n,
			   *cursor_n;
	int			nshards,
				ncursors;
	int64		max_rows;
	int			wait_ms;
	uint64	   *new_cursors;
	TimestampTz deadline;
	bool		registered = false;
	uint64		horizon = 0;
	uint64		highest_seq = 0;	/* of the rows returned */
	uint64		highest_cursor = 0; /* of the cursors handed out */
	uint64		covered_above = 0;
	ShardClaims *claims = NULL;
	int64	   *left_out;

	for (int i = 0; i < PG_NARGS(); i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
					 errmsg("globalkv.pull arguments must not be null")));
	if (!PG_GETARG_BOOL(1) && GkvPeerNeedsResync(PG_GETARG_INT32(0)))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_RESYNC_REQUIRED),
				 errmsg("node %d must resync: this node purged tombstones it had not acknowledged",
						PG_GETARG_INT32(0)),
				 errhint("Run SELECT kv.resync() on node %d.", PG_GETARG_INT32(0))));
	shards_arr = PG_GETARG_ARRAYTYPE_P(2);
	cursors_arr = PG_GETARG_ARRAYTYPE_P(3);
	max_rows = PG_GETARG_INT32(4);
	wait_ms = PG_GETARG_INT32(5);
	deconstruct_array(shards_arr, INT4OID, 4, true, TYPALIGN_INT, &shard_d, &shard_n, &nshards);
	deconstruct_array(cursors_arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &cursor_d, &cursor_n, &ncursors);
	if (nshards != ncursors || max_rows < 1 || wait_ms < 0 || wait_ms > 60000)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("invalid globalkv.pull request")));

	if (PG_NARGS() >= 8)
	{
		covered_above = (uint64) PG_GETARG_INT64(6);
		claims = ReadClaims(PG_GETARG_ARRAYTYPE_P(7), nshards, shard_d, shard_n);
	}

	InitMaterializedSRF(fcinfo, 0);
	CheckPullColumns(rsinfo->setDesc);

	/* where each shard's scan goes on from; moved past covered rows too */
	new_cursors = palloc(sizeof(uint64) * (nshards + 1));
	left_out = palloc0(sizeof(int64) * (nshards + 1));
	for (int i = 0; i < nshards; i++)
		new_cursors[i] = cursor_n[i] ? 0 : (uint64) DatumGetInt64(cursor_d[i]);

	/*
	 * After a restart the clock is 0 until initialized past the stored
	 * sequences; a horizon read before that would hide the whole backlog
	 * of a node that takes no new writes.
	 */
	GkvStartClockPastStoredRows();

	/*
	 * Rows travel in batches, not one round trip each: a peer that was
	 * answered less than replication_batch_delay ago waits out the rest of
	 * it before we look, so a steady stream of writes is sent a few
	 * milliseconds' worth at a time.  Every round has fixed costs on both
	 * sides (a snapshot, a transaction, the network); at thousands of
	 * writes a second they, not the rows, would use the CPU.  An idle
	 * stream is not delayed: its last answer is long past.
	 */
	if (wait_ms > 0 && GkvReplicationBatchDelayMs > 0)
	{
		TimestampTz until = TimestampTzPlusMilliseconds(LastAnswer, GkvReplicationBatchDelayMs);

		for (TimestampTz now = GetCurrentTimestamp(); now < until; now = GetCurrentTimestamp())
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Max(1, TimestampDifferenceMilliseconds(now, until)), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);

	for (;;)
	{
		int64		emitted = 0;
		int64		reads = 4 * max_rows;	/* covered rows are cheap, not free */
		bool		any_fenced = false;
		bool		cut_short = false;
		Snapshot	snapshot;

		/* register before looking, so a commit in between still wakes us */
		if (wait_ms > 0 && !registered)
		{
			/* only commits that wrote a requested shard wake us */
			uint64		mask = 0;

			for (int i = 0; i < nshards; i++)
				if (!shard_n[i])
					mask |= GkvShardBit(DatumGetInt32(shard_d[i]));
			registered = GkvRegisterChangeWaiter(mask);
		}

		/* the horizon first, then the snapshot: see the header comment */
		horizon = GkvSafeHorizon();
		snapshot = RegisterSnapshot(GetLatestSnapshot());

		for (int i = 0; i < nshards; i++)
		{
			int			shard_id;
			uint64		cursor = new_cursors[i];
			uint64		last = cursor;
			int64		n;
			bool		fenced;
			bool		complete = true;

			if (shard_n[i] || cursor_n[i])
				continue;
			shard_id = DatumGetInt32(shard_d[i]);

			/*
			 * A fenced shard (a move's last step, replication/fence.c) has no
			 * write in flight: it is read to its end, past the horizon, and
			 * every later write of it will get a greater sequence.
			 */
			fenced = shard_id != GKV_CATALOG_SHARD && GkvShardFenced(shard_id);
			any_fenced |= fenced;
			if ((!fenced && cursor >= horizon) || emitted >= max_rows)
				continue;
			if (reads <= 0)
			{
				cut_short = true;	/* not looked at: answer, and be asked again */
				continue;
			}

			/* nothing stamped past the cursor: done without opening the shard */
			if (!fenced && GkvShardSeqMax(shard_id) <= cursor)
			{
				new_cursors[i] = horizon;
				continue;
			}
			if (shard_id == GKV_CATALOG_SHARD)
			{
				n = GkvCatalogPull(cursor, horizon, snapshot, max_rows - emitted,
								   rsinfo->setResult, rsinfo->setDesc, &last);
				complete = emitted + n < max_rows;
			}
			else
				n = ScanShard(shard_id, cursor, fenced ? (uint64) PG_INT64_MAX : horizon, snapshot,
							  max_rows - emitted, &reads, claims ? &claims[i] : NULL, covered_above,
							  rsinfo->setResult, rsinfo->setDesc, &last, &complete, &left_out[i]);
			emitted += n;
			cut_short |= !complete;
			new_cursors[i] = complete ? Max(horizon, last) : last;
			if (n > 0)
				highest_seq = Max(highest_seq, last);
			/* the persisted floor covers every cursor handed out, past-horizon ones too */
			highest_cursor = Max(highest_cursor, new_cursors[i]);
		}
		UnregisterSnapshot(snapshot);

		/*
		 * A mover waits for our cursor of a fenced shard: answer now.  A
		 * round cut short by covered rows answers too, with its cursors,
		 * so that one call never reads without bound.
		 */
		if (emitted > 0 || any_fenced || cut_short || wait_ms == 0 ||
			GetCurrentTimestamp() >= deadline)
			break;

		/*
		 * Nothing new.  When an in-flight writer holds the horizon back,
		 * its end must wake us even if it writes none of our shards; and
		 * if the horizon moved while we said so, look again at once.
		 */
		if (registered && !GkvChangeWaiterHeldAt(horizon))
			continue;

		/* nothing new: wait for a commit (or the deadline), then look again */
		pgstat_report_activity(STATE_RUNNING, "globalkv pull: waiting for changes");
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(1, Min(registered ? 1000 : 10,
									TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline))),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	if (registered)
		GkvUnregisterChangeWaiter();

	/* no cursor we hand out may be reused after a restart (clock/hlc.c) */
	GkvClockPersistFloor(Max(Max(horizon, highest_seq), highest_cursor));

	if (highest_seq > 0)
		LastAnswer = GetCurrentTimestamp();
	for (int i = 0; i < nshards; i++)
		if (!shard_n[i])
			PutCursorRow(rsinfo->setResult, rsinfo->setDesc, DatumGetInt32(shard_d[i]),
						 new_cursors[i], horizon, left_out[i]);
	return (Datum) 0;
}
