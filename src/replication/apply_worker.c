/*-------------------------------------------------------------------------
 *
 * apply_worker.c
 *	  One background worker per (this node, peer node): pulls the peer's
 *	  changes and applies them through the same merge as kv.put.
 *
 * A ROUND
 *
 *	1. send globalkv.pull(shards, cursors, batch, wait) to the peer; the
 *	   peer answers at once when it has changes, or waits up to
 *	   globalkv.replication_wait for one (pull.c);
 *	2. in one local transaction, apply every row with GkvShardWrite (the
 *	   merge decides; rows already covered change nothing and are counted
 *	   as conflicts); once a second (at every batch for a shard being moved
 *	   here), the new cursors are stored in globalkv.peer_cursors in that
 *	   same transaction -- never ahead of the rows they cover, so a crash
 *	   repeats at most a second of batches, and a repeated batch is
 *	   harmless (the merge is idempotent);
 *	3. at most once a second, tell the peer how far we got
 *	   (globalkv.ack), which lets it purge tombstones.
 *
 * DURABILITY WITHOUT A FLUSH PER BATCH
 *
 * Apply transactions commit with synchronous_commit off, as PostgreSQL's
 * own logical-replication apply workers do: waiting for a WAL flush per
 * batch would put an fsync between every commit on the source and its
 * visibility here.  What makes that safe:
 *
 *	- a stored cursor is never ahead of the rows it covers (it commits with
 *	  them or after them, and WAL is flushed in order), so a crash that
 *	  loses an unflushed batch loses its cursors too: after the restart the
 *	  worker re-pulls from the older stored cursor, and the source still has
 *	  every row (it purges nothing we have not acknowledged, next point);
 *	- an acknowledgement reports only what is flushed: before sending one
 *	  (once a second) the worker flushes the WAL up to the current insert
 *	  position, which covers every batch it applied and every state that
 *	  made the merge skip a row.  So a tombstone is never purged on the
 *	  strength of an apply a crash can undo;
 *	- a batch whose rows the merge all skips (echoes of our own writes,
 *	  rows relayed twice) writes nothing and commits nothing, unless it is
 *	  the one that stores the cursors this second.
 *
 * docs/replication.md has the full argument.
 *
 * Rows of every origin come through, and applying stamps them with a new
 * local seq, so our own peers pull them from us in turn: changes relay.
 * A row that changes nothing here is not re-stamped, so relays stop.
 *
 * Errors (peer down, network, a failed batch) are caught in the loop: the
 * transaction is rolled back, the error is shown in kv.replication_status,
 * and the worker reconnects with exponential backoff (0.1 s to 10 s).
 *
 * src/replication/apply_worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <setjmp.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_bswap.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "globalkv/catalog.h"
#include "globalkv/clock.h"
#include "globalkv/connection.h"
#include "globalkv/errcodes.h"
#include "globalkv/guc.h"
#include "globalkv/metrics.h"
#include "globalkv/pull_format.h"
#include "globalkv/replication.h"
#include "globalkv/storage.h"
#include "globalkv/utils.h"
#include "peer_status.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define ACK_EVERY_MS 1000
#define CURSOR_STORE_EVERY_MS 1000
/* an idle stream's cursors only move with the peer's clock: rarely worth a write */
#define IDLE_EVERY_MS 30000

/* every column, in the order of pull_format.h (gkv_pull checks its own) */
#define PULL_SQL \
	"SELECT * FROM globalkv.pull($1::int, $2::bool, $3::int[], $4::bigint[], $5::int, $6::int," \
	" $7::bigint, $8::bigint[])"
#define ACK_SQL "SELECT globalkv.ack($1::int, $2::int[], $3::bigint[])"
#define SKEW_WARN_EVERY_MS 60000

/* everything the loop keeps across rounds (static: survives longjmp) */
static int32 PeerId;
static char PeerName[64];
static char *PeerConninfo = NULL;
static PGconn *PeerConn = NULL;
static int	NumShards = 0;
static uint64 *Cursors = NULL;	/* index 0: catalog, 1..S: shards 0..S-1 */
static bool *CursorDirty = NULL;
static bool *Wanted = NULL;		/* same indexes: pulled from this peer */
static TimestampTz LastCursorStore = 0;
static SPIPlanPtr StoreCursorPlan = NULL;	/* kept for the worker's life */
static GkvPeerStatus *Status = NULL;
static long BackoffMs = 0;
static TimestampTz LastAck = 0;
static bool AppliedSinceAck = false;	/* rows arrived since the last ack */
static bool LeftOutSinceAck = false;	/* ... or the source left out covered ones */
static bool AppliedSinceStore = false;	/* ... since cursors were stored */
static TimestampTz LastSkewWarning = 0;
static MemoryContext RoundContext = NULL;
static int32 MyNodeId = 0;
static bool Resyncing = false;	/* kv.resync() ran: pulling everything again */
static TimestampTz LastLoad = 0;

#define RELOAD_PEER_EVERY_MS 5000

#define CURSOR_INDEX(shard) ((shard) + 1)

static void
StatusSetError(const char *msg)
{
	if (Status == NULL)
		return;
	SpinLockAcquire(&Status->mutex);
	strlcpy(Status->last_error, msg, sizeof(Status->last_error));
	Status->last_error_time = GetCurrentTimestamp();
	Status->connected = false;
	SpinLockRelease(&Status->mutex);
}

/*
 * LoadPeer reads the peer's name and connection string and this node's
 * shard count and cursors.  Returns false when the peer is gone (dropped,
 * or it is this node), in which case the worker exits.
 */
static bool
LoadPeer(void)
{
	bool		found = false;
	int			ret;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(PeerId)};

	GkvWorkerTransactionBegin();
	ret = SPI_execute_with_args(
								"SELECT node_name, conninfo FROM globalkv.nodes"
								" WHERE node_id = $1 AND NOT dropped"
								"   AND node_id <> (SELECT node_id FROM globalkv.node)",
								1, argtypes, args, NULL, true, 1);
	if (ret == SPI_OK_SELECT && SPI_processed == 1)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		char	   *name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		char	   *conninfo = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

		strlcpy(PeerName, name, sizeof(PeerName));
		if (PeerConninfo != NULL && strcmp(PeerConninfo, conninfo) != 0 && PeerConn != NULL)
		{
			elog(LOG, "globalkv: connection string of node \"%s\" changed, reconnecting", PeerName);
			GkvRemoteDisconnect(PeerConn);
			PeerConn = NULL;
		}
		if (PeerConninfo)
			pfree(PeerConninfo);
		PeerConninfo = pstrdup(conninfo);
		MemoryContextSwitchTo(old);
		found = true;
	}

	if (found)
	{
		int			nshards = GkvShardCount();

		MyNodeId = GkvLocalNodeId();

		if (nshards != NumShards)
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			NumShards = nshards;
			Cursors = palloc0(sizeof(uint64) * (NumShards + 1));
			CursorDirty = palloc0(sizeof(bool) * (NumShards + 1));
			Wanted = palloc0(sizeof(bool) * (NumShards + 1));
			MemoryContextSwitchTo(old);
			ret = SPI_execute_with_args(
										"SELECT shard_id, cursor FROM globalkv.peer_cursors WHERE peer_node_id = $1",
										1, argtypes, args, NULL, true, 0);
			if (ret != SPI_OK_SELECT)
				elog(ERROR, "could not read globalkv.peer_cursors");
			for (uint64 i = 0; i < SPI_processed; i++)
			{
				bool		isnull;
				int			shard = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
																SPI_tuptable->tupdesc, 1, &isnull));
				int64		c = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
															SPI_tuptable->tupdesc, 2, &isnull));

				if (shard >= GKV_CATALOG_SHARD && shard < NumShards)
					Cursors[CURSOR_INDEX(shard)] = (uint64) c;
			}
		}
		ret = SPI_execute_with_args(
									"SELECT coalesce(bool_or(full_resync), false) FROM globalkv.peer_cursors WHERE peer_node_id = $1",
									1, argtypes, args, NULL, true, 1);
		if (ret == SPI_OK_SELECT && SPI_processed == 1)
		{
			bool		isnull;

			Resyncing = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1, &isnull));
		}
	}
	GkvWorkerTransactionEnd();
	LastLoad = GetCurrentTimestamp();
	return found;
}

/*
 * PullsShard: is this shard pulled from this peer?  Every shard this node
 * holds in its zone is pulled from every other node -- from the holders in
 * other zones (replication proper), and from nodes of its own zone, whose
 * copy is empty unless the shard just moved away from them or a stale
 * catalog let a write land there: that is how such rows come home.  And a
 * shard being moved here is pulled from the move's source.
 */
static bool
PullsShard(int shard)
{
	return GkvServesShard(shard) || GkvShardMoveSourceForMe(shard) == PeerId;
}

/* the cursor stored for this peer and shard (SPI connected), 0 if none */
static uint64
StoredCursor(int shard)
{
	Oid			argtypes[2] = {INT4OID, INT4OID};
	Datum		args[2] = {Int32GetDatum(PeerId), Int32GetDatum(shard)};
	bool		isnull;

	if (SPI_execute_with_args("SELECT cursor FROM globalkv.peer_cursors"
							  " WHERE peer_node_id = $1 AND shard_id = $2",
							  2, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read globalkv.peer_cursors");
	if (SPI_processed == 0)
		return 0;
	return (uint64) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												1, &isnull));
}

/* ComputeWanted decides, for this round, which cursors are pulled */
static void
ComputeWanted(void)
{
	Wanted[0] = true;			/* the catalog, always */
	for (int s = 0; s < NumShards; s++)
	{
		bool		wanted = PullsShard(s);

		/*
		 * A shard we start pulling (again): its cursor is whatever the
		 * table says now, not what this worker remembers from the last
		 * time it held the shard -- a move here empties the shard and
		 * forgets its cursors, and must copy it from the start.
		 */
		if (wanted && !Wanted[CURSOR_INDEX(s)])
			Cursors[CURSOR_INDEX(s)] = StoredCursor(s);
		Wanted[CURSOR_INDEX(s)] = wanted;
	}
}

/*
 * Coverage (replication/coverage.c): what this node holds, told to the
 * peer with each pull so that it leaves out our own writes coming back.
 */

/* a shard this node serves and is not receiving in a move: claims hold */
static bool
ClaimsHold(int shard)
{
	return Wanted[CURSOR_INDEX(shard)] && GkvServesShard(shard) &&
		GkvShardMoveSourceForMe(shard) == 0;
}

/*
 * CoverageClaims: the (origin, shard, upto) triples of this round, as an
 * int8 array literal: all our own writes, in every shard we serve (a peer
 * can only hold one it pulled, so one that committed here: coverage.c).
 * Catalog connected (transaction open).
 */
static char *
CoverageClaims(void)
{
	StringInfoData buf;
	char	   *text;

	initStringInfo(&buf);
	for (int s = 0; s < NumShards; s++)
		if (ClaimsHold(s))
			appendStringInfo(&buf, "%s%d,%d," INT64_FORMAT, buf.len > 0 ? "," : "",
							 MyNodeId, s, PG_INT64_MAX);
	text = psprintf("{%s}", buf.data);
	pfree(buf.data);
	return text;
}

/* the wanted shard ids (cursors NULL) or those cursors, as an array literal */
static char *
ArrayText(int n, const uint64 *cursors)
{
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < n; i++)
	{
		if (!Wanted[i])
			continue;
		if (!first)
			appendStringInfoChar(&buf, ',');
		first = false;
		if (cursors)
			appendStringInfo(&buf, UINT64_FORMAT, cursors[i]);
		else
			appendStringInfo(&buf, "%d", i - 1);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* a binary value of the size its column's type has, or a protocol error */
static const char *
GetFixed(PGresult *res, int row, int col, int size)
{
	if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != size)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("node \"%s\" sent a malformed value in column %d of a pull row", PeerName, col + 1)));
	return PQgetvalue(res, row, col);
}

static int64
GetInt8(PGresult *res, int row, int col)
{
	uint64		v;

	memcpy(&v, GetFixed(res, row, col, 8), 8);
	return (int64) pg_ntoh64(v);
}

static int32
GetInt4(PGresult *res, int row, int col)
{
	uint32		v;

	memcpy(&v, GetFixed(res, row, col, 4), 4);
	return (int32) pg_ntoh32(v);
}

/*
 * CheckPullTypes: a pull result must have the columns of pull_format.h with
 * their types, in binary: what a peer sends is decoded by size below, and a
 * peer is not trusted to get it right.
 */
static void
CheckPullTypes(PGresult *res)
{
	static const Oid types[GKV_PULL_NATTS] = {
		[GKV_PULL_SHARD] = INT4OID,[GKV_PULL_NAMESPACE] = TEXTOID,[GKV_PULL_KEY] = TEXTOID,
		[GKV_PULL_VALUE] = JSONBOID,[GKV_PULL_HLC] = INT8OID,[GKV_PULL_ORIGIN] = INT4OID,
		[GKV_PULL_EXPIRES_AT] = TIMESTAMPTZOID,[GKV_PULL_CRDT] = BYTEAOID,[GKV_PULL_SEQ] = INT8OID
	};

	for (int i = 0; i < GKV_PULL_NATTS; i++)
		if (PQftype(res, i) != types[i] || PQfformat(res, i) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("node \"%s\" sent column %d of a pull row as type %u, format %d; expected type %u in binary",
							PeerName, i + 1, PQftype(res, i), PQfformat(res, i), types[i]),
					 errhint("Run the same globalkv version on every node.")));
}

/*
 * DecodeJsonb turns a binary-format jsonb column (a version byte, then the
 * text) into a Jsonb.
 */
static Jsonb *
DecodeJsonb(PGresult *res, int row, int col)
{
	const char *p = PQgetvalue(res, row, col);

	if (PQgetlength(res, row, col) < 1 || p[0] != 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("unsupported jsonb format from node \"%s\"", PeerName)));
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(p + 1)));
}

static void
CheckClockSkew(uint64 remote_hlc)
{
	int64		skew = GkvHlcPhysicalMs(remote_hlc) - GkvUnixMsNow();

	if (skew <= 0)
		return;
	if (Status && skew > Status->max_clock_skew_ms)
	{
		SpinLockAcquire(&Status->mutex);
		Status->max_clock_skew_ms = Max(Status->max_clock_skew_ms, skew);
		SpinLockRelease(&Status->mutex);
	}
	if (skew > GkvMaxClockSkewMs &&
		TimestampDifferenceExceeds(LastSkewWarning, GetCurrentTimestamp(), SKEW_WARN_EVERY_MS))
	{
		ereport(WARNING,
				(errcode(ERRCODE_GKV_INVALID_VERSION),
				 errmsg("globalkv: node \"%s\" wrote a version " INT64_FORMAT " ms ahead of this node's clock",
						PeerName, skew),
				 errdetail("The limit is globalkv.max_clock_skew = %d ms. Rows still converge; check the clocks.",
						   GkvMaxClockSkewMs)));
		LastSkewWarning = GetCurrentTimestamp();
	}
}

/* a document row of a pull result, for applying in (shard, key) order */
typedef struct ApplyItem
{
	int			row;
	int			shard;
	text	   *ns;
	text	   *key;
} ApplyItem;

static int
ApplyItemCompare(const void *a, const void *b)
{
	const ApplyItem *x = (const ApplyItem *) a;
	const ApplyItem *y = (const ApplyItem *) b;
	int			c;

	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	c = GkvKeyCompare(x->ns, y->ns);
	if (c == 0)
		c = GkvKeyCompare(x->key, y->key);
	if (c != 0)
		return c;
	return (x->row > y->row) - (x->row < y->row);
}

/*
 * ApplyBatch applies one pull result in one transaction, cursors included.
 * Returns the number of document and catalog rows in it.
 */
static int
ApplyBatch(PGresult *res, uint64 *horizon_out, uint64 *applied, uint64 *conflicts)
{
	int			nrows = PQntuples(res);
	int			ndata = 0;
	GkvShardWriter **writers;
	MemoryContext rowcxt;
	ApplyItem  *items;
	int			nitems = 0;
	int			ret;
	bool		any_dirty;
	bool		moving_dirty;
	bool		stored = false;
	const char *from;

	*horizon_out = 0;
	if (PQnfields(res) != GKV_PULL_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("node \"%s\" sent pull rows of %d columns, expected %d",
						PeerName, PQnfields(res), GKV_PULL_NATTS),
				 errhint("Run the same globalkv version on every node.")));
	CheckPullTypes(res);
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	/*
	 * A peer that missed tombstones we purged may hold documents they
	 * deleted: never apply its rows until it has resynced.  The shared lock
	 * orders this check against purge_tombstones, which takes the same lock
	 * exclusively before purging past the retention.
	 */
	{
		LOCKTAG		tag;

		SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, GKV_PURGE_LOCK_KEY1, GKV_PURGE_LOCK_KEY2, 2);
		(void) LockAcquire(&tag, ShareLock, false, false);
		if (GkvPeerNeedsResync(PeerId))
			ereport(ERROR,
					(errcode(ERRCODE_GKV_RESYNC_REQUIRED),
					 errmsg("not pulling from node \"%s\": it missed tombstones this node purged", PeerName),
					 errhint("Run SELECT kv.resync() on node \"%s\".", PeerName)));
	}
	writers = palloc0(sizeof(GkvShardWriter *) * Max(GkvShardCount(), 1));
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "globalkv apply row",
								   ALLOCSET_DEFAULT_SIZES);

	/*
	 * First pass: cursor rows and catalog rows, and the document rows to
	 * apply.  Documents are then applied in (shard, key) order -- the order
	 * kv.put_many uses too -- so apply workers pulling from different peers
	 * lock rows in one global order and never deadlock each other.
	 */
	items = palloc(sizeof(ApplyItem) * (nrows + 1));
	from = psprintf("node \"%s\"", PeerName);
	for (int r = 0; r < nrows; r++)
	{
		int32		shard = GetInt4(res, r, GKV_PULL_SHARD);

		if (PQgetisnull(res, r, GKV_PULL_KEY))
		{
			/* a cursor row: where we may continue from for this shard */
			uint64		cursor = (uint64) GetInt8(res, r, GKV_PULL_SEQ);

			*horizon_out = (uint64) GetInt8(res, r, GKV_PULL_HLC);
			if (!PQgetisnull(res, r, GKV_PULL_ORIGIN) && GetInt4(res, r, GKV_PULL_ORIGIN) > 0)
				LeftOutSinceAck = true;
			if (shard >= GKV_CATALOG_SHARD && shard < NumShards &&
				cursor > Cursors[CURSOR_INDEX(shard)])
			{
				Cursors[CURSOR_INDEX(shard)] = cursor;
				CursorDirty[CURSOR_INDEX(shard)] = true;
			}
			continue;
		}
		ndata++;
		if (shard == GKV_CATALOG_SHARD)
		{
			MemoryContext old = MemoryContextSwitchTo(rowcxt);
			GkvVersion	version;
			Jsonb	   *value = PQgetisnull(res, r, GKV_PULL_VALUE) ? NULL : DecodeJsonb(res, r, GKV_PULL_VALUE);

			version.hlc = (uint64) GetInt8(res, r, GKV_PULL_HLC);
			version.origin = GetInt4(res, r, GKV_PULL_ORIGIN);
			CheckClockSkew(version.hlc);
			if (!GkvCatalogApply(PQgetvalue(res, r, GKV_PULL_NAMESPACE), PQgetvalue(res, r, GKV_PULL_KEY), value, version))
				(*conflicts)++;
			(*applied)++;
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
			continue;
		}
		if (PQgetisnull(res, r, GKV_PULL_NAMESPACE))
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("node \"%s\" sent a document row without a namespace", PeerName)));
		items[nitems].row = r;
		items[nitems].ns = cstring_to_text_with_len(PQgetvalue(res, r, GKV_PULL_NAMESPACE), PQgetlength(res, r, GKV_PULL_NAMESPACE));
		items[nitems].key = cstring_to_text_with_len(PQgetvalue(res, r, GKV_PULL_KEY), PQgetlength(res, r, GKV_PULL_KEY));
		items[nitems].shard = GkvShardOfKey(items[nitems].ns, items[nitems].key);
		nitems++;
	}
	qsort(items, nitems, sizeof(ApplyItem), ApplyItemCompare);

	for (int n = 0; n < nitems; n++)
	{
		ApplyItem  *item = &items[n];
		int			r = item->row;
		GkvDocState incoming;
		GkvPreviousState previous;
		GkvWriteResult result;
		MemoryContext old;

		if (writers[item->shard] == NULL)
			writers[item->shard] = GkvShardWriterOpen(item->shard);

		/*
		 * Checked under the shard table's lock: a shard that moved away
		 * since the round began is no longer ours to keep (its new holder
		 * pulls the same rows from the peer itself).
		 */
		if (!PullsShard(item->shard))
			continue;
		old = MemoryContextSwitchTo(rowcxt);
		incoming.version.hlc = (uint64) GetInt8(res, r, GKV_PULL_HLC);
		incoming.version.origin = GetInt4(res, r, GKV_PULL_ORIGIN);
		CheckClockSkew(incoming.version.hlc);
		incoming.value = PQgetisnull(res, r, GKV_PULL_VALUE) ? NULL : DecodeJsonb(res, r, GKV_PULL_VALUE);
		incoming.has_expiry = !PQgetisnull(res, r, GKV_PULL_EXPIRES_AT);
		incoming.expires_at = incoming.has_expiry ? (TimestampTz) GetInt8(res, r, GKV_PULL_EXPIRES_AT) : 0;
		if (PQgetisnull(res, r, GKV_PULL_CRDT))
			incoming.crdt = NULL;
		else
		{
			int			len = PQgetlength(res, r, GKV_PULL_CRDT);
			bytea	   *b = palloc(len + VARHDRSZ);

			SET_VARSIZE(b, len + VARHDRSZ);
			memcpy(VARDATA(b), PQgetvalue(res, r, GKV_PULL_CRDT), len);
			incoming.crdt = GkvCounterStateDeserialize(b);
		}
		GkvCheckRemoteState(item->key, &incoming, from);
		result = GkvApplyRemoteState(writers[item->shard], item->ns, item->key, &incoming,
									 &previous);
		if (result == GKV_WRITE_CONFLICT)
			(*conflicts)++;
		(*applied)++;
		MemoryContextSwitchTo(old);
		GkvConflictNote(item->ns, item->key, &incoming, &previous, result, PeerId);
		MemoryContextReset(rowcxt);
	}

	for (int s = 0; s < GkvShardCount(); s++)
		if (writers[s] != NULL)
			GkvShardWriterClose(writers[s]);
	GkvConflictFlush(true);		/* the batch's conflicts, journaled with it */

	/*
	 * Cursors are stored at most once a second (and at every batch while
	 * resyncing), in the transaction of whichever batch comes then: never
	 * ahead of the rows they cover, which committed in this transaction or
	 * an earlier one.  A crash re-pulls at most a second of rows, and the
	 * merge skips what it already has.  See DURABILITY.
	 *
	 * A shard being moved here from this peer has its cursor stored at
	 * every batch that moves it: the mover (src/operations/shard_move.c)
	 * waits for that cursor while its fence blocks the shard's writers on
	 * the peer, and waiting for the once-a-second store would add up to a
	 * second to the write stall of every move.
	 */
	any_dirty = false;
	moving_dirty = false;
	for (int i = 0; i <= NumShards; i++)
	{
		any_dirty |= CursorDirty[i];
		moving_dirty |= CursorDirty[i] && i > 0 && GkvShardMoveSourceForMe(i - 1) == PeerId;
	}
	AppliedSinceStore |= ndata > 0;
	if (any_dirty &&
		(Resyncing || moving_dirty ||
		 TimestampDifferenceExceeds(LastCursorStore, GetCurrentTimestamp(),
									AppliedSinceStore ? CURSOR_STORE_EVERY_MS : IDLE_EVERY_MS)))
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		(void) GkvKeptPlan(&StoreCursorPlan,
						   "INSERT INTO globalkv.peer_cursors AS c (peer_node_id, shard_id, cursor, updated_at)"
						   " VALUES ($1, $2, $3, now())"
						   " ON CONFLICT (peer_node_id, shard_id) DO UPDATE"
						   " SET cursor = greatest(c.cursor, EXCLUDED.cursor), updated_at = now()",
						   3, (Oid[]) {INT4OID, INT4OID, INT8OID});
		for (int i = 0; i <= NumShards; i++)
		{
			Datum		args[3];

			if (!CursorDirty[i])
				continue;
			args[0] = Int32GetDatum(PeerId);
			args[1] = Int32GetDatum(i - 1);
			args[2] = Int64GetDatum((int64) Cursors[i]);
			ret = SPI_execute_plan(StoreCursorPlan, args, NULL, false, 0);
			if (ret != SPI_OK_INSERT)
				elog(ERROR, "could not store the replication cursor");
		}
		SPI_finish();
		stored = true;
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	if (stored)
	{
		for (int i = 0; i <= NumShards; i++)
			CursorDirty[i] = false;
		LastCursorStore = GetCurrentTimestamp();
		AppliedSinceStore = false;
	}
	if (*applied > 0)
	{
		GkvStatsAdd(GKV_STAT_REPLICATED_ROWS, *applied);
		GkvStatsAdd(GKV_STAT_REPLICATION_CONFLICTS, *conflicts);
	}
	return ndata;
}

/*
 * EndOfInsertedWal: the end of the WAL inserted so far, the position to
 * flush.  GetXLogInsertRecPtr() is where the next record would start: just
 * past a page header when the last record ended on a page boundary, which
 * is beyond the WAL generated -- XLogFlush refuses that ("request to flush
 * past end of generated WAL"), so step back over the header.
 */
static XLogRecPtr
EndOfInsertedWal(void)
{
	XLogRecPtr	pos = GetXLogInsertRecPtr();
	uint32		in_page = pos % XLOG_BLCKSZ;

	if (XLogSegmentOffset(pos, wal_segment_size) == SizeOfXLogLongPHD)
		return pos - SizeOfXLogLongPHD;
	if (in_page == SizeOfXLogShortPHD)
		return pos - SizeOfXLogShortPHD;
	return pos;
}

static void
SendAck(void)
{
	char		node_id[16];
	char	   *shards;
	char	   *cursors;
	const char *params[3];
	PGresult   *res;

	/*
	 * Acknowledge only what a crash cannot undo: flush the WAL first (see
	 * DURABILITY).  Everything the applied batches wrote, and every state
	 * that made the merge skip a row, is before the insert position.  At
	 * most one flush a second, usually a no-op: the WAL writer got there.
	 */
	XLogFlush(EndOfInsertedWal());
	shards = ArrayText(NumShards + 1, NULL);
	cursors = ArrayText(NumShards + 1, Cursors);
	snprintf(node_id, sizeof(node_id), "%d", MyNodeId);
	params[0] = node_id;
	params[1] = shards;
	params[2] = cursors;
	GkvRemoteSend(PeerConn, PeerName, "gkv_ack", NULL, 3, params, 0);
	res = GkvRemoteReceive(PeerConn, PeerName, 30000);
	PQclear(res);
	LastAck = GetCurrentTimestamp();
	AppliedSinceAck = false;
	LeftOutSinceAck = false;
}

/* FinishResync: a full pull from this peer is complete */
static void
FinishResync(void)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(PeerId)};

	GkvWorkerTransactionBegin();
	if (SPI_execute_with_args("UPDATE globalkv.peer_cursors SET full_resync = false WHERE peer_node_id = $1",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not finish the resync");
	GkvWorkerTransactionEnd();
	Resyncing = false;
	elog(LOG, "globalkv: full resync from node \"%s\" complete", PeerName);
	LastAck = 0;				/* tell the peer at once */
}

/* PullBlocked: is this peer listed in globalkv.debug_block_pull_from? */
static bool
PullBlocked(void)
{
	const char *p = GkvDebugBlockPullFrom;

	while (p != NULL && *p != '\0')
	{
		char	   *end;
		long		id = strtol(p, &end, 10);

		if (end != p && id == PeerId)
			return true;
		p = (*end == '\0') ? end : end + 1;
	}
	return false;
}

/*
 * Round runs one pull and apply.
 */
static void
Round(void)
{
	char	   *shards;
	char	   *cursors;
	char		batch[16];
	char		wait[16];
	const char *params[8];
	char		me[16];
	char		floor_text[24];
	uint64		covered_above;
	char	   *covered;
	PGresult   *res;
	uint64		horizon;
	uint64		applied = 0;
	uint64		conflicts = 0;
	int			ndata;
	uint64		min_cursor = PG_UINT64_MAX;
	bool		caught_up = true;

	if (PeerConn != NULL &&
		TimestampDifferenceExceeds(LastLoad, GetCurrentTimestamp(), RELOAD_PEER_EVERY_MS) &&
		!LoadPeer())
	{
		elog(LOG, "globalkv: node %d is no longer a peer, apply worker exits", PeerId);
		GkvPeerStatusRelease(PeerId);
		proc_exit(0);
	}
	if (PullBlocked())
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("pulling from node %d is blocked by globalkv.debug_block_pull_from", PeerId)));
	if (PeerConn == NULL)
	{
		char		appname[NAMEDATALEN];

		if (!LoadPeer())
		{
			elog(LOG, "globalkv: node %d is no longer a peer, apply worker exits", PeerId);
			GkvPeerStatusRelease(PeerId);
			proc_exit(0);
		}
		snprintf(appname, sizeof(appname), "globalkv apply to node %d", MyNodeId);
		PeerConn = GkvRemoteConnect(PeerConninfo, PeerName, appname, NULL, 15000);
		/* parsed and planned once per connection, not once per round */
		GkvRemotePrepare(PeerConn, PeerName, "gkv_pull", PULL_SQL, 30000);
		GkvRemotePrepare(PeerConn, PeerName, "gkv_ack", ACK_SQL, 30000);
		elog(LOG, "globalkv: connected to node \"%s\" (id %d)", PeerName, PeerId);
		SpinLockAcquire(&Status->mutex);
		strlcpy(Status->peer_name, PeerName, sizeof(Status->peer_name));
		Status->connected = true;
		Status->pid = MyProcPid;
		SpinLockRelease(&Status->mutex);
	}

	GkvWorkerTransactionBegin();	/* the catalog cache may need a reload */
	ComputeWanted();
	GkvStartClockPastStoredRows();	/* before the coverage floor is read */
	covered_above = GkvCoverageFloor();
	covered = CoverageClaims();
	GkvWorkerTransactionEnd();
	shards = ArrayText(NumShards + 1, NULL);
	cursors = ArrayText(NumShards + 1, Cursors);
	snprintf(floor_text, sizeof(floor_text), UINT64_FORMAT, covered_above);
	snprintf(batch, sizeof(batch), "%d", GkvReplicationBatchRows);
	snprintf(wait, sizeof(wait), "%d", GkvReplicationWaitMs);
	snprintf(me, sizeof(me), "%d", MyNodeId);
	params[0] = me;
	params[1] = Resyncing ? "true" : "false";
	params[2] = shards;
	params[3] = cursors;
	params[4] = batch;
	params[5] = wait;
	params[6] = floor_text;
	params[7] = covered;
	pgstat_report_activity(STATE_RUNNING, "pulling changes");
	GkvRemoteSend(PeerConn, PeerName, "gkv_pull", NULL, 8, params, 1);
	res = GkvRemoteReceive(PeerConn, PeerName, GkvReplicationWaitMs + 60000L);
	pgstat_report_activity(STATE_RUNNING, "applying changes");
	PG_TRY();
	{
		ndata = ApplyBatch(res, &horizon, &applied, &conflicts);
	}
	PG_FINALLY();
	{
		PQclear(res);
	}
	PG_END_TRY();

	for (int i = 0; i <= NumShards; i++)
	{
		if (!Wanted[i])
			continue;
		min_cursor = Min(min_cursor, Cursors[i]);
		if (Cursors[i] < horizon)
			caught_up = false;
	}
	SpinLockAcquire(&Status->mutex);
	Status->connected = true;
	Status->rows_applied += applied;
	Status->conflicts += conflicts;
	Status->batches++;
	Status->min_cursor = min_cursor;
	Status->last_contact = GetCurrentTimestamp();
	Status->lag_ms = caught_up ? 0 :
		Max(0, GkvHlcPhysicalMs(horizon) - GkvHlcPhysicalMs(min_cursor));
	Status->lag_rows = caught_up ? 0 : ndata;
	Status->last_error[0] = '\0';
	SpinLockRelease(&Status->mutex);
	BackoffMs = 0;

	if (Resyncing && caught_up)
		FinishResync();
	/*
	 * Acknowledgements let the peer purge tombstones: due once a second
	 * while rows arrive -- or rows the peer left out because we hold them
	 * (our own writes coming back: their tombstones wait for this ack) --
	 * and otherwise only as a slow heartbeat.
	 */
	AppliedSinceAck |= ndata > 0;
	if (TimestampDifferenceExceeds(LastAck, GetCurrentTimestamp(),
								   AppliedSinceAck || LeftOutSinceAck ? ACK_EVERY_MS : IDLE_EVERY_MS))
		SendAck();
}

void
GkvApplyWorkerMain(Datum main_arg)
{
	sigjmp_buf	local_sigjmp_buf;

	PeerId = DatumGetInt32(main_arg);
	snprintf(PeerName, sizeof(PeerName), "%d", PeerId);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	{
		char		appname[NAMEDATALEN];

		snprintf(appname, sizeof(appname), "globalkv apply from node %d", PeerId);
		GkvWorkerConnect(appname);
	}
	/* see DURABILITY WITHOUT A FLUSH PER BATCH */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	Status = GkvPeerStatusSlot(PeerId);
	if (Status == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("globalkv: too many peers to track")));
	RoundContext = AllocSetContextCreate(TopMemoryContext, "globalkv apply round",
										 ALLOCSET_DEFAULT_SIZES);

	/* errors come back here: roll back, show the error, back off, retry */
	if (sigsetjmp(local_sigjmp_buf, 1) != 0)
	{
		ErrorData  *edata;

		error_context_stack = NULL;
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		EmitErrorReport();
		AbortOutOfAnyTransaction();
		GkvConflictFlush(false);	/* their memory went with the transaction */
		FlushErrorState();
		/* the reason too: "could not connect" alone says little (TLS, auth, ...) */
		StatusSetError(edata->detail ? psprintf("%s: %s", edata->message, edata->detail) : edata->message);
		FreeErrorData(edata);
		GkvRemoteDisconnect(PeerConn);
		PeerConn = NULL;
		NumShards = 0;			/* reload cursors from the table */
		MemoryContextReset(RoundContext);
		RESUME_INTERRUPTS();

		BackoffMs = BackoffMs == 0 ? BACKOFF_MIN_MS : Min(BackoffMs * 2, BACKOFF_MAX_MS);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 BackoffMs, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	PG_exception_stack = &local_sigjmp_buf;

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextSwitchTo(RoundContext);
		Round();
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(RoundContext);
	}
}
