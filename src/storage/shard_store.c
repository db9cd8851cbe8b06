/*-------------------------------------------------------------------------
 *
 * shard_store.c
 *	  Reading and writing one document in a shard table, without SQL.
 *
 * Every write goes through GkvShardWrite: find the row by primary key, lock
 * it, merge the incoming state with GkvDocMerge, store the result with a new
 * change sequence.  The table AM and executor index routines are used
 * directly (as ON CONFLICT DO UPDATE does internally), which is what lets
 * kv.put match a raw prepared upsert: no parse, plan or executor start per
 * call.  Every index on the shard table, including expression and partial
 * indexes added later, is maintained through ExecInsertIndexTuples.
 *
 * CONCURRENCY
 *
 * The row lookup uses a dirty snapshot, so rows inserted or updated by
 * transactions still in progress are seen; when one is found we wait for
 * that transaction and look again.  An existing row is then locked with
 * table_tuple_lock; if it was updated or deleted meanwhile we start over.
 *
 * "Not found" is not authoritative: a btree scan copies a leaf page's
 * entries and checks the heap later, so an updater can add the new
 * version's index entry and commit in between, and another writer may be
 * inserting the same new key right now.  So a new row is inserted
 * speculatively, exactly as INSERT ... ON CONFLICT does: the heap tuple
 * carries a speculative token, the primary-key insertion reports a
 * conflict instead of raising a unique violation, and on conflict the
 * tuple is killed and the whole write starts over (and finds the row).
 *
 * src/storage/shard_store.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "globalkv/catalog.h"
#include "globalkv/clock.h"
#include "globalkv/errcodes.h"
#include "globalkv/storage.h"

/*
 * Readers and writers remember the memory context they were opened in and
 * run every scan call in it: btree allocates scan state lazily (for example
 * the list of dead items to kill), and the caller's per-row context may be
 * reset between two calls.
 */
struct GkvShardReader
{
	MemoryContext cxt;
	Relation	rel;
	Relation	pkindex;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	Snapshot	snapshot;
};

struct GkvShardWriter
{
	MemoryContext cxt;
	Relation	rel;
	Relation	pkindex;
	EState	   *estate;
	ResultRelInfo *rri;
	IndexScanDesc scan;
	TupleTableSlot *found;		/* the row as found/locked */
	TupleTableSlot *store;		/* the row to store */
	SnapshotData dirty;
	int			shard_id;
};

const char *
GkvWriteResultName(GkvWriteResult r)
{
	switch (r)
	{
		case GKV_WRITE_INSERT:
			return "INSERT";
		case GKV_WRITE_UPDATE:
			return "UPDATE";
		case GKV_WRITE_CONFLICT:
			return "CONFLICT";
	}
	return "?";
}

static void
SetKeyScanKeys(ScanKeyData *keys, text *ns, text *key)
{
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(ns));
	keys[0].sk_collation = C_COLLATION_OID;
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(key));
	keys[1].sk_collation = C_COLLATION_OID;
}

static Relation
OpenPrimaryKey(Relation rel, LOCKMODE mode)
{
	Oid			pk = RelationGetPrimaryKeyIndex(rel);

	if (!OidIsValid(pk))
		elog(ERROR, "shard table \"%s\" has no primary key",
			 RelationGetRelationName(rel));
	return index_open(pk, mode);
}

/*
 * DecodeSlot fills *doc from a shard row.  Values are copied into the
 * current memory context, so they outlive the slot.
 */
static void
DecodeSlot(TupleTableSlot *slot, GkvDocState *doc)
{
	bool		isnull;
	Datum		d;

	slot_getallattrs(slot);
	d = slot_getattr(slot, Anum_shard_value, &isnull);
	doc->value = isnull ? NULL : DatumGetJsonbPCopy(d);
	doc->version.hlc = (uint64) DatumGetInt64(slot_getattr(slot, Anum_shard_hlc, &isnull));
	doc->version.origin = DatumGetInt32(slot_getattr(slot, Anum_shard_origin, &isnull));
	d = slot_getattr(slot, Anum_shard_expires_at, &isnull);
	doc->has_expiry = !isnull;
	doc->expires_at = isnull ? 0 : DatumGetTimestampTz(d);
	d = slot_getattr(slot, Anum_shard_crdt, &isnull);
	doc->crdt = isnull ? NULL : GkvCounterStateDeserialize(DatumGetByteaPP(d));
}

/* ----------------------------------------------------------------
 * Reading
 * ----------------------------------------------------------------
 */

/*
 * GkvShardReaderOpen prepares point reads of one shard.  Reads see the
 * latest committed state and this transaction's own writes (a fresh
 * snapshot, not the statement's): the same state writes act on, so
 * kv.delete(k) followed by kv.get(k) in one statement reads the deletion.
 * Close it with GkvShardReaderClose in the same transaction.
 */
GkvShardReader *
GkvShardReaderOpen(int shard_id)
{
	GkvShardReader *r = palloc0(sizeof(GkvShardReader));

	r->cxt = CurrentMemoryContext;

	r->rel = table_open(GkvShardRelid(shard_id), AccessShareLock);
	r->pkindex = OpenPrimaryKey(r->rel, AccessShareLock);
	/*
	 * In READ COMMITTED, before this transaction wrote any document, the
	 * statement's snapshot already is the latest state it can see: use it
	 * and save a second snapshot per read.  Otherwise take a fresh one.
	 */
	if (!IsolationUsesXactSnapshot() && !GkvTransactionHasWritten() && ActiveSnapshotSet())
		r->snapshot = RegisterSnapshot(GetActiveSnapshot());
	else
		r->snapshot = RegisterSnapshot(GetLatestSnapshot());
	r->slot = table_slot_create(r->rel, NULL);
	r->scan = index_beginscan(r->rel, r->pkindex, r->snapshot, 2, 0);
	return r;
}

/*
 * GkvShardRead looks a key up; false when the shard has no row for it.
 * Tombstones and expired rows are returned too: the caller decides.
 */
bool
GkvShardRead(GkvShardReader *r, text *ns, text *key, GkvDocState *out)
{
	ScanKeyData keys[2];
	MemoryContext caller = MemoryContextSwitchTo(r->cxt);
	bool		found;

	SetKeyScanKeys(keys, ns, key);
	index_rescan(r->scan, keys, 2, NULL, 0);
	found = index_getnext_slot(r->scan, ForwardScanDirection, r->slot);
	MemoryContextSwitchTo(caller);
	if (!found)
		return false;
	DecodeSlot(r->slot, out);
	ExecClearTuple(r->slot);
	return true;
}

void
GkvShardReaderClose(GkvShardReader *r)
{
	index_endscan(r->scan);
	ExecDropSingleTupleTableSlot(r->slot);
	index_close(r->pkindex, AccessShareLock);
	table_close(r->rel, AccessShareLock);
	UnregisterSnapshot(r->snapshot);
	pfree(r);
}

/* ----------------------------------------------------------------
 * Writing
 * ----------------------------------------------------------------
 */

/*
 * InitWriterRangeTable gives the writer's EState a one-entry range table
 * naming the columns an update changes (everything but the primary key).
 * ExecInsertIndexTuples reads it to tell btree which indexes an update
 * leaves logically unchanged, so the primary key gets bottom-up deletion of
 * old versions instead of page splits under update-heavy load.
 */
static void
InitWriterRangeTable(GkvShardWriter *w)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(w->rel);
	rte->relkind = RELKIND_RELATION;
	rte->rellockmode = RowExclusiveLock;
	for (AttrNumber att = Anum_shard_value; att <= Natts_shard; att++)
		rte->updatedCols = bms_add_member(rte->updatedCols,
										  att - FirstLowInvalidHeapAttributeNumber);
	ExecInitRangeTable(w->estate, list_make1(rte));
}

GkvShardWriter *
GkvShardWriterOpen(int shard_id)
{
	GkvShardWriter *w = palloc0(sizeof(GkvShardWriter));

	w->cxt = CurrentMemoryContext;
	w->shard_id = shard_id;

	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_GKV_READ_ONLY),
				 errmsg("cannot write globalkv documents during recovery")));
	PreventCommandIfReadOnly("globalkv write");

	w->rel = table_open(GkvShardRelid(shard_id), RowExclusiveLock);
	w->estate = CreateExecutorState();
	InitWriterRangeTable(w);
	w->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(w->rri, w->rel, 1, NULL, 0);
	ExecOpenIndices(w->rri, true);	/* speculative: unique info for the PK */
	w->pkindex = NULL;
	for (int i = 0; i < w->rri->ri_NumIndices; i++)
	{
		Relation	idx = w->rri->ri_IndexRelationDescs[i];

		if (idx->rd_index->indisprimary)
			w->pkindex = idx;
	}
	if (w->pkindex == NULL)
		elog(ERROR, "shard table \"%s\" has no primary key",
			 RelationGetRelationName(w->rel));
	w->found = table_slot_create(w->rel, NULL);
	w->store = table_slot_create(w->rel, NULL);
	InitDirtySnapshot(w->dirty);
	w->scan = index_beginscan(w->rel, w->pkindex, &w->dirty, 2, 0);

	GkvStartClockPastStoredRows();
	return w;
}

void
GkvShardWriterClose(GkvShardWriter *w)
{
	index_endscan(w->scan);
	ExecDropSingleTupleTableSlot(w->found);
	ExecDropSingleTupleTableSlot(w->store);
	ExecCloseIndices(w->rri);
	FreeExecutorState(w->estate);
	table_close(w->rel, NoLock);
	pfree(w);
}

/*
 * LookupDirty finds the key's row with the dirty snapshot.  On return,
 * *xwait is a transaction to wait for before trusting the answer.
 */
static bool
LookupDirty(GkvShardWriter *w, text *ns, text *key, TransactionId *xwait)
{
	ScanKeyData keys[2];
	MemoryContext caller = MemoryContextSwitchTo(w->cxt);
	bool		found;

	*xwait = InvalidTransactionId;
	SetKeyScanKeys(keys, ns, key);
	index_rescan(w->scan, keys, 2, NULL, 0);
	found = index_getnext_slot(w->scan, ForwardScanDirection, w->found);
	MemoryContextSwitchTo(caller);
	if (!found)
		return false;
	if (TransactionIdIsValid(w->dirty.xmin))
		*xwait = w->dirty.xmin;
	else if (TransactionIdIsValid(w->dirty.xmax))
		*xwait = w->dirty.xmax;
	return true;
}

static void
FillStoreSlot(GkvShardWriter *w, text *ns, text *key, const GkvDocState *doc,
			  uint64 seq)
{
	TupleTableSlot *s = w->store;

	ExecClearTuple(s);
	memset(s->tts_isnull, 0, sizeof(bool) * Natts_shard);
	s->tts_values[Anum_shard_namespace - 1] = PointerGetDatum(ns);
	s->tts_values[Anum_shard_key - 1] = PointerGetDatum(key);
	if (doc->value)
		s->tts_values[Anum_shard_value - 1] = JsonbPGetDatum(doc->value);
	else
		s->tts_isnull[Anum_shard_value - 1] = true;
	s->tts_values[Anum_shard_hlc - 1] = Int64GetDatum((int64) doc->version.hlc);
	s->tts_values[Anum_shard_origin - 1] = Int32GetDatum(doc->version.origin);
	if (doc->has_expiry)
		s->tts_values[Anum_shard_expires_at - 1] = TimestampTzGetDatum(doc->expires_at);
	else
		s->tts_isnull[Anum_shard_expires_at - 1] = true;
	if (doc->crdt)
		s->tts_values[Anum_shard_crdt - 1] =
			PointerGetDatum(GkvCounterStateSerialize(doc->crdt));
	else
		s->tts_isnull[Anum_shard_crdt - 1] = true;
	s->tts_values[Anum_shard_seq - 1] = Int64GetDatum((int64) seq);
	ExecStoreVirtualTuple(s);
	GkvHousekeepingNoteStored(doc->value == NULL, doc->has_expiry, doc->expires_at);
}

/*
 * NextSequence returns this write's change sequence, after publishing the
 * backend's in-flight slot (see clock/hlc.c on the safe horizon).
 */
static uint64
NextSequence(GkvShardWriter *w)
{
	return GkvStampSequence(w->shard_id);
}

/*
 * GkvShardWrite merges build()'s incoming state into the key's row and
 * stores the result.  The build callback runs with the current state
 * locked, so it may derive the incoming state from it (patch,
 * compare-and-set); it gets the write's fresh change sequence, which a
 * local operation uses as its version's hlc.  The final state is returned
 * in *final_state when not NULL.
 */
static GkvWriteResult ShardWrite(GkvShardWriter *w, text *ns, text *key,
								 GkvBuildIncoming build, void *arg,
								 GkvDocState *final_state, bool skip_if_covered);

GkvWriteResult
GkvShardWrite(GkvShardWriter *w, text *ns, text *key, GkvBuildIncoming build,
			  void *arg, GkvDocState *final_state)
{
	return ShardWrite(w, ns, key, build, arg, final_state, false);
}

/*
 * ShardWrite does GkvShardWrite's work.  With skip_if_covered (a state
 * written elsewhere, whose build ignores the sequence), a committed row
 * that already covers the incoming state ends the write before the row is
 * locked or a sequence stamped: states only grow in the merge's order, so
 * whatever later becomes of the row covers the incoming state too.  This
 * is the common case in replication (a row arriving a second time through
 * another peer), and it then costs no lock, no WAL and does not hold the
 * safe horizon back.
 */
static GkvWriteResult
ShardWrite(GkvShardWriter *w, text *ns, text *key, GkvBuildIncoming build,
		   void *arg, GkvDocState *final_state, bool skip_if_covered)
{
	CommandId	cid = GetCurrentCommandId(true);

	for (;;)
	{
		TransactionId xwait;
		GkvDocState current;
		GkvDocState incoming;
		GkvDocState merged;
		bool		live;
		uint64		seq;

		CHECK_FOR_INTERRUPTS();

		if (LookupDirty(w, ns, key, &xwait))
		{
			TM_FailureData tmfd;
			TM_Result	res;
			ItemPointerData tid;
			bool		update_indexes;
			LockTupleMode lockmode;

			if (TransactionIdIsValid(xwait))
			{
				XactLockTableWait(xwait, w->rel, &w->found->tts_tid, XLTW_Lock);
				continue;
			}
			if (skip_if_covered)
			{
				DecodeSlot(w->found, &current);
				if (build(&current, 0, arg, &incoming) &&
					!GkvDocMerge(&current, &incoming, &merged))
				{
					if (final_state)
						*final_state = current;
					return GKV_WRITE_CONFLICT;
				}
			}
			tid = w->found->tts_tid;
			res = table_tuple_lock(w->rel, &tid, GetLatestSnapshot(), w->found,
								   cid, LockTupleExclusive, LockWaitBlock, 0,
								   &tmfd);
			if (res == TM_Updated || res == TM_Deleted)
				continue;
			if (res != TM_Ok)
				elog(ERROR, "could not lock a row of \"%s\" (result %d)",
					 RelationGetRelationName(w->rel), (int) res);

			DecodeSlot(w->found, &current);
			live = GkvDocIsLive(&current, GkvUnixMsNow());
			seq = NextSequence(w);
			if (!build(&current, seq, arg, &incoming))
			{
				if (final_state)
					*final_state = current;
				return GKV_WRITE_CONFLICT;
			}
			if (!GkvDocMerge(&current, &incoming, &merged))
			{
				if (final_state)
					*final_state = current;
				return GKV_WRITE_CONFLICT;
			}
			FillStoreSlot(w, ns, key, &merged, seq);
			res = table_tuple_update(w->rel, &tid, w->store, cid,
									 GetLatestSnapshot(), InvalidSnapshot,
									 true, &tmfd, &lockmode, &update_indexes);
			if (res != TM_Ok)
				elog(ERROR, "could not update a locked row of \"%s\" (result %d)",
					 RelationGetRelationName(w->rel), (int) res);
			if (update_indexes)
				ExecInsertIndexTuples(w->rri, w->store, w->estate, true, false,
									  NULL, NIL);
			CommandCounterIncrement();
			if (final_state)
				*final_state = merged;
			return live ? GKV_WRITE_UPDATE : GKV_WRITE_INSERT;
		}
		else
		{
			uint32		spec_token;
			bool		conflict = false;
			List	   *arbiters = list_make1_oid(RelationGetRelid(w->pkindex));

			seq = NextSequence(w);
			if (!build(NULL, seq, arg, &incoming))
			{
				if (final_state)
					memset(final_state, 0, sizeof(GkvDocState));
				return GKV_WRITE_CONFLICT;
			}
			(void) GkvDocMerge(NULL, &incoming, &merged);
			FillStoreSlot(w, ns, key, &merged, seq);

			/* speculative insertion: see CONCURRENCY in the header */
			spec_token = SpeculativeInsertionLockAcquire(GetCurrentTransactionId());
			table_tuple_insert_speculative(w->rel, w->store, cid, 0, NULL, spec_token);
			ExecInsertIndexTuples(w->rri, w->store, w->estate, false, true,
								  &conflict, arbiters);
			table_tuple_complete_speculative(w->rel, w->store, spec_token, !conflict);
			SpeculativeInsertionLockRelease(GetCurrentTransactionId());
			list_free(arbiters);
			if (conflict)
				continue;		/* someone else's row exists: start over */
			CommandCounterIncrement();
			if (final_state)
				*final_state = merged;
			return GKV_WRITE_INSERT;
		}
	}
}

/*
 * ShardMaxSequence returns the greatest seq stored in a shard, counting
 * dead and uncommitted rows too (their sequences were handed out as well),
 * with one backward probe of the seq index.  0 for an empty shard.
 */
static uint64
ShardMaxSequence(int shard_id)
{
	Relation	rel = table_open(GkvShardRelid(shard_id), AccessShareLock);
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	uint64		max_seq = 0;
	bool		found_index = false;

	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);

		if (idx->rd_index->indnatts == 1 &&
			idx->rd_index->indkey.values[0] == Anum_shard_seq &&
			idx->rd_indpred == NIL && idx->rd_rel->relam == BTREE_AM_OID)
		{
			IndexScanDesc scan = index_beginscan(rel, idx, SnapshotAny, 0, 0);
			TupleTableSlot *slot = table_slot_create(rel, NULL);

			index_rescan(scan, NULL, 0, NULL, 0);
			if (index_getnext_slot(scan, BackwardScanDirection, slot))
			{
				bool		isnull;
				Datum		d = slot_getattr(slot, Anum_shard_seq, &isnull);

				if (!isnull)
					max_seq = (uint64) DatumGetInt64(d);
			}
			index_endscan(scan);
			ExecDropSingleTupleTableSlot(slot);
			found_index = true;
		}
		index_close(idx, AccessShareLock);
		if (found_index)
			break;
	}
	table_close(rel, AccessShareLock);
	if (!found_index)
		elog(ERROR, "shard %d has no index on seq", shard_id);
	return max_seq;
}

typedef struct RemoteArg
{
	const GkvDocState *incoming;
	GkvPreviousState *previous; /* NULL: not wanted */
} RemoteArg;

static bool
BuildRemote(const GkvDocState *current, uint64 seq, void *arg, GkvDocState *incoming)
{
	RemoteArg  *a = (RemoteArg *) arg;

	*incoming = *a->incoming;
	if (a->previous)
	{
		a->previous->exists = current != NULL;
		if (current)
		{
			a->previous->version = current->version;
			a->previous->has_value = current->value != NULL;
			a->previous->counter = current->crdt != NULL;
		}
	}
	return true;
}

/*
 * GkvApplyRemoteState merges a state written elsewhere (a replicated row,
 * or a repair) into the key's row.  The clock first moves past the state's
 * version, so later local writes win over it.  *previous (when not NULL)
 * tells what the row held before: the conflict journal's input.
 */
GkvWriteResult
GkvApplyRemoteState(GkvShardWriter *writer, text *ns, text *key,
					const GkvDocState *incoming, GkvPreviousState *previous)
{
	RemoteArg	arg = {incoming, previous};

	if (previous)
		previous->exists = false;
	GkvClockObserve(incoming->version.hlc);
	return ShardWrite(writer, ns, key, BuildRemote, &arg, NULL, true);
}

/*
 * GkvStartClockPastStoredRows moves the clock past every seq stored in the
 * shard tables and every catalog version, once per postmaster lifetime,
 * before the first change sequence is stamped (src/clock/hlc.c says why).
 * It also seeds each shard's highest stamped seq, which lets a pull skip
 * shards without opening them.  Needs a transaction.
 */
void
GkvStartClockPastStoredRows(void)
{
	uint64		greatest = 0;
	int			nshards;

	if (GkvClockStarted())
		return;
	nshards = GkvShardCount();
	for (int shard = 0; shard < nshards; shard++)
	{
		uint64		shard_seq = ShardMaxSequence(shard);

		GkvShardSeqAdvance(shard, shard_seq);
		greatest = Max(greatest, shard_seq);
	}
	/* catalog versions too: a catalog change made here must win over them */
	greatest = Max(greatest, GkvCatalogMaxHlc());
	GkvClockStartPast(greatest);
	/* catalog rows: any seq handed out so far (their tables are not probed) */
	GkvShardSeqAdvance(GKV_CATALOG_SHARD, GkvClockNow());
}
