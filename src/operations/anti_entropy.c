/*-------------------------------------------------------------------------
 *
 * anti_entropy.c
 *	  kv.verify and kv.repair: do this node's shards hold what their
 *	  holders in the other zones hold, and mend them when not.
 *
 * Replication converges when every row travels; these find what something
 * outside globalkv broke (a restored backup, a manual edit, a disk fault).
 *
 * VERIFY descends a tree of digests, computed on demand from the shard
 * tables by globalkv.verify_digest on both sides (the same SQL, so the same
 * bytes): the shard (depth 0), its 256 buckets by the first byte of
 * md5(namespace/key) (depth 1), and inside a differing bucket of more than
 * BIG_BUCKET rows its 256 sub-buckets by the second byte (depth 2).  Only
 * differing buckets are opened, and their rows compared key by key
 * (globalkv.verify_rows: namespace, key, version, a hash of the state),
 * many small buckets in one read.
 * Two copies that agree cost one digest per shard each way: a few dozen
 * bytes per shard, whatever the data's size.  Digests are computed on
 * demand, not maintained: nothing is added to the write path, and a verify
 * reads each shard table once per depth it opens (docs/operations.md).
 * Tombstones and expired documents are left out of the digests -- every
 * node removes them on its own schedule -- and a key dead on both sides is
 * never a difference; a tombstone still matters where the other side holds
 * the document live.
 *
 * REPAIR finds the same keys and moves only them, in batches of 500:
 *	- held by both, no counter state: the greater version goes to the
 *	  other side; with counter state: each side's state goes to the other
 *	  (the merge unions the increments);
 *	- the same version with two contents (an edit behind globalkv's back):
 *	  this node's copy is written anew, with a new version, and replicates;
 *	- held by one side only: copied to the other through the merge --
 *	  unless it is older than the other side's purge horizon (the newest
 *	  tombstone it purged in that shard, globalkv.purge_horizons), in which
 *	  case a purged delete may have removed it there, and it is removed
 *	  here instead: repair never resurrects a deleted key.
 * Everything goes through globalkv.apply_row, the replication apply path,
 * so a newer version always wins and an interrupted repair can simply be
 * run again.
 *
 * src/operations/anti_entropy.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "globalkv/catalog.h"
#include "globalkv/connection.h"
#include "globalkv/errcodes.h"
#include "globalkv/metrics.h"
#include "globalkv/operations.h"
#include "globalkv/utils.h"

#define BATCH_KEYS 500
#define PEER_TIMEOUT_MS (10 * 60 * 1000L)

/* a query result, both sides alike: text cells, NULL for SQL NULL */
typedef struct Table
{
	int			nrows;
	int			ncols;
	char	  **cells;
} Table;

#define CELL(t, r, c) ((t)->cells[(r) * (t)->ncols + (c)])

/* one comparison: a shard of this node against its holder in another zone */
typedef struct Pair
{
	int			shard;
	int32		peer;
	const char *peer_name;
	bool		repair;
	uint64		bytes;			/* sent to and received from the peer */
	uint64		row_bytes;		/* of those, the rows repair moved */
	int64		local_rows;
	int64		peer_rows;
	int			differing_buckets;
	int64		differing_keys;
	int64		sent;
	int64		received;
	int64		removed;
	int64		rewritten;
	int64		local_horizon;	/* newest tombstone purged here, this shard */
	int64		peer_horizon;
	/* repairs waiting for their batch: JSON arrays, and their sizes */
	StringInfoData to_peer,
				to_local,
				remove_here,
				remove_there,
				rewrite;
	int			n_to_peer,
				n_to_local,
				n_remove_here,
				n_remove_there,
				n_rewrite;
} Pair;

static Table
RunLocal(const char *sql, int nparams, const char *const *values)
{
	Oid		   *types = palloc(sizeof(Oid) * Max(nparams, 1));
	Datum	   *args = palloc(sizeof(Datum) * Max(nparams, 1));
	char	   *nulls = palloc(Max(nparams, 1) + 1);
	Table		t;

	for (int i = 0; i < nparams; i++)
	{
		types[i] = TEXTOID;
		args[i] = values[i] ? CStringGetTextDatum(values[i]) : (Datum) 0;
		nulls[i] = values[i] ? ' ' : 'n';
	}
	if (SPI_execute_with_args(sql, nparams, types, args, nulls, false, 0) < 0)
		elog(ERROR, "kv.verify: local statement failed: %s", sql);
	t.nrows = (int) SPI_processed;
	t.ncols = SPI_tuptable ? SPI_tuptable->tupdesc->natts : 0;
	t.cells = palloc0(sizeof(char *) * Max(t.nrows * t.ncols, 1));
	for (int r = 0; r < t.nrows; r++)
		for (int c = 0; c < t.ncols; c++)
			CELL(&t, r, c) = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c + 1);
	return t;
}

static Table
RunPeer(Pair *p, const char *sql, int nparams, const char *const *values)
{
	PGresult   *res;
	Table		t;

	p->bytes += strlen(sql);
	for (int i = 0; i < nparams; i++)
		p->bytes += values[i] ? strlen(values[i]) : 0;
	if (!GkvNodeSend(p->peer, sql, nparams, values))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_NO_HOLDER),
				 errmsg("node \"%s\" cannot be reached", p->peer_name)));
	res = GkvNodeReceive(p->peer, PEER_TIMEOUT_MS);
	if (res == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_NO_HOLDER),
				 errmsg("lost the connection to node \"%s\"", p->peer_name),
				 errhint("Run it again: what was done stays done, and the rest is found again.")));
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		char	   *msg = pstrdup(PQresultErrorMessage(res));

		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_GKV_NO_HOLDER),
				 errmsg("node \"%s\" failed a verify step: %s", p->peer_name, msg)));
	}
	t.nrows = PQntuples(res);
	t.ncols = PQnfields(res);
	t.cells = palloc0(sizeof(char *) * Max(t.nrows * t.ncols, 1));
	for (int r = 0; r < t.nrows; r++)
		for (int c = 0; c < t.ncols; c++)
		{
			p->bytes += PQgetlength(res, r, c);
			if (!PQgetisnull(res, r, c))
				CELL(&t, r, c) = pstrdup(PQgetvalue(res, r, c));
		}
	PQclear(res);
	return t;
}

/* runs the same statement on both sides */
static void
RunBoth(Pair *p, const char *sql, int nparams, const char *const *values, Table *local, Table *peer)
{
	*local = RunLocal(sql, nparams, values);
	*peer = RunPeer(p, sql, nparams, values);
}

static int64
Int8Cell(const Table *t, int r, int c)
{
	const char *v = CELL(t, r, c);

	return v ? strtoll(v, NULL, 10) : 0;
}

/*
 * DifferingBuckets: the buckets whose digest differs between the two
 * sorted digest lists (bucket, rows, digest), or that only one side has.
 */
static int
DifferingBuckets(const Table *a, const Table *b, int *out)
{
	int			i = 0,
				j = 0,
				n = 0;

	while (i < a->nrows || j < b->nrows)
	{
		int			ba = i < a->nrows ? atoi(CELL(a, i, 0)) : INT_MAX;
		int			bb = j < b->nrows ? atoi(CELL(b, j, 0)) : INT_MAX;

		if (ba == bb)
		{
			if (strcmp(CELL(a, i, 2), CELL(b, j, 2)) != 0)
				out[n++] = ba;
			i++, j++;
		}
		else if (ba < bb)
			out[n++] = ba, i++;
		else
			out[n++] = bb, j++;
	}
	return n;
}

/* appends a JSON array element [namespace, key(, hlc)] to a batch */
static void
AddKey(StringInfo batch, int *n, const char *ns, const char *key, const char *hlc)
{
	appendStringInfoChar(batch, *n == 0 ? '[' : ',');
	appendStringInfoChar(batch, '[');
	escape_json(batch, ns);
	appendStringInfoChar(batch, ',');
	escape_json(batch, key);
	if (hlc)
		appendStringInfo(batch, ",%s", hlc);
	appendStringInfoChar(batch, ']');
	(*n)++;
}

static void
Reset(StringInfo batch, int *n)
{
	resetStringInfo(batch);
	*n = 0;
}

/* moves the states of the batch's keys from one side to the other */
static void
Copy(Pair *p, StringInfo batch, int *n, bool to_peer)
{
	char		shard[16];
	const char *fetch = "SELECT globalkv.verify_fetch($1::int, $2::jsonb)";
	const char *apply = "SELECT globalkv.verify_apply($1::jsonb)";
	Table		rows;

	if (*n == 0)
		return;
	appendStringInfoChar(batch, ']');
	snprintf(shard, sizeof(shard), "%d", p->shard);
	if (to_peer)
	{
		rows = RunLocal(fetch, 2, (const char *const[]) {shard, batch->data});
		(void) RunPeer(p, apply, 1, (const char *const[]) {CELL(&rows, 0, 0)});
		p->sent += *n;
		p->row_bytes += strlen(CELL(&rows, 0, 0));
	}
	else
	{
		rows = RunPeer(p, fetch, 2, (const char *const[]) {shard, batch->data});
		(void) RunLocal(apply, 1, (const char *const[]) {CELL(&rows, 0, 0)});
		p->received += *n;
		p->row_bytes += strlen(CELL(&rows, 0, 0));
	}
	Reset(batch, n);
}

static void
Remove(Pair *p, StringInfo batch, int *n, bool on_peer)
{
	char		shard[16];
	const char *sql = "SELECT globalkv.verify_remove($1::int, $2::jsonb)";
	const char *params[2] = {shard, NULL};

	if (*n == 0)
		return;
	appendStringInfoChar(batch, ']');
	snprintf(shard, sizeof(shard), "%d", p->shard);
	params[1] = batch->data;
	if (on_peer)
		(void) RunPeer(p, sql, 2, params);
	else
		(void) RunLocal(sql, 2, params);
	p->removed += *n;
	Reset(batch, n);
}

/*
 * Rewrite writes this node's copy of the batch's keys anew, with a new
 * version (kv.put or kv.delete as its own call), which then replicates:
 * one version stored with two contents cannot be settled by the merge.
 */
static void
Rewrite(Pair *p, StringInfo batch, int *n)
{
	char		shard[16];
	Table		rows;

	if (*n == 0)
		return;
	appendStringInfoChar(batch, ']');
	snprintf(shard, sizeof(shard), "%d", p->shard);
	rows = RunLocal("SELECT CASE WHEN r.value IS NULL THEN kv.delete(r.namespace, r.key)::text"
					" WHEN r.expires_at IS NULL THEN kv.put(r.namespace, r.key, r.value)"
					" ELSE kv.put(r.namespace, r.key, r.value,"
					"   greatest(1, ceil(extract(epoch FROM r.expires_at - now())))::bigint) END"
					"  FROM jsonb_to_recordset(globalkv.verify_fetch($1::int, $2::jsonb))"
					"    AS r(namespace text, key text, value jsonb, expires_at timestamptz)",
					2, (const char *const[]) {shard, batch->data});
	p->rewritten += rows.nrows;
	Reset(batch, n);
}

static void
FlushRepairs(Pair *p, bool all)
{
	if (all || p->n_to_peer >= BATCH_KEYS)
		Copy(p, &p->to_peer, &p->n_to_peer, true);
	if (all || p->n_to_local >= BATCH_KEYS)
		Copy(p, &p->to_local, &p->n_to_local, false);
	if (all || p->n_remove_here >= BATCH_KEYS)
		Remove(p, &p->remove_here, &p->n_remove_here, false);
	if (all || p->n_remove_there >= BATCH_KEYS)
		Remove(p, &p->remove_there, &p->n_remove_there, true);
	if (all || p->n_rewrite >= BATCH_KEYS)
		Rewrite(p, &p->rewrite, &p->n_rewrite);
}

/* verify_rows columns */
enum
{
	ROW_NAMESPACE, ROW_KEY, ROW_HLC, ROW_ORIGIN, ROW_LIVE, ROW_COUNTER, ROW_HASH
};

static bool
IsTrue(const char *v)
{
	return v != NULL && v[0] == 't';
}

/* compares (hlc, origin) of row a of 'x' and row b of 'y' */
static int
VersionCompare(const Table *x, int a, const Table *y, int b)
{
	int64		ha = Int8Cell(x, a, ROW_HLC),
				hb = Int8Cell(y, b, ROW_HLC);
	int64		oa = Int8Cell(x, a, ROW_ORIGIN),
				ob = Int8Cell(y, b, ROW_ORIGIN);

	if (ha != hb)
		return ha < hb ? -1 : 1;
	return (oa > ob) - (oa < ob);
}

/*
 * CompareKey settles one key: l/r are its rows on this node and the peer
 * (-1: absent).  Counts it when it differs, and queues its repair.
 */
static void
CompareKey(Pair *p, const Table *lt, int l, const Table *rt, int r)
{
	bool		l_live = l >= 0 && IsTrue(CELL(lt, l, ROW_LIVE));
	bool		r_live = r >= 0 && IsTrue(CELL(rt, r, ROW_LIVE));
	const Table *t = l >= 0 ? lt : rt;
	int			row = l >= 0 ? l : r;
	const char *ns = CELL(t, row, ROW_NAMESPACE);
	const char *key = CELL(t, row, ROW_KEY);

	if (!l_live && !r_live)
		return;					/* dead on both sides: nothing to read differs */
	if (l >= 0 && r >= 0 && strcmp(CELL(lt, l, ROW_HASH), CELL(rt, r, ROW_HASH)) == 0)
		return;
	p->differing_keys++;
	if (!p->repair)
		return;
	if (l >= 0 && r >= 0)
	{
		int			cmp = VersionCompare(lt, l, rt, r);

		if (IsTrue(CELL(lt, l, ROW_COUNTER)) || IsTrue(CELL(rt, r, ROW_COUNTER)))
		{
			AddKey(&p->to_peer, &p->n_to_peer, ns, key, NULL);
			AddKey(&p->to_local, &p->n_to_local, ns, key, NULL);
		}
		else if (cmp > 0)
			AddKey(&p->to_peer, &p->n_to_peer, ns, key, NULL);
		else if (cmp < 0)
			AddKey(&p->to_local, &p->n_to_local, ns, key, NULL);
		else
			AddKey(&p->rewrite, &p->n_rewrite, ns, key, NULL);
	}
	else if (l >= 0)
	{
		/* only here: copied there, unless the peer may have purged its delete */
		if (Int8Cell(lt, l, ROW_HLC) < p->peer_horizon)
			AddKey(&p->remove_here, &p->n_remove_here, ns, key, CELL(lt, l, ROW_HLC));
		else
			AddKey(&p->to_peer, &p->n_to_peer, ns, key, NULL);
	}
	else
	{
		if (Int8Cell(rt, r, ROW_HLC) < p->local_horizon)
			AddKey(&p->remove_there, &p->n_remove_there, ns, key, CELL(rt, r, ROW_HLC));
		else
			AddKey(&p->to_local, &p->n_to_local, ns, key, NULL);
	}
	FlushRepairs(p, false);
}

/* an int[] literal of n bucket numbers */
static char *
BucketList(const int *buckets, int n)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%d", i > 0 ? "," : "", buckets[i]);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * CompareRows compares, key by key, the rows of some buckets: b1s, or
 * with b2s the sub-buckets b2s of the one bucket in b1s (both sides return
 * them sorted in C order).
 */
static void
CompareRows(Pair *p, const char *b1s, const char *b2s)
{
	char		s[16];
	Table		lt,
				rt;
	int			i = 0,
				j = 0;

	snprintf(s, sizeof(s), "%d", p->shard);
	RunBoth(p, "SELECT * FROM globalkv.verify_rows($1::int, $2::int[], $3::int[])", 3,
			(const char *const[]) {s, b1s, b2s}, &lt, &rt);
	while (i < lt.nrows || j < rt.nrows)
	{
		int			c;

		CHECK_FOR_INTERRUPTS();
		if (i >= lt.nrows)
			c = 1;
		else if (j >= rt.nrows)
			c = -1;
		else
		{
			c = strcmp(CELL(&lt, i, ROW_NAMESPACE), CELL(&rt, j, ROW_NAMESPACE));
			if (c == 0)
				c = strcmp(CELL(&lt, i, ROW_KEY), CELL(&rt, j, ROW_KEY));
		}
		if (c == 0)
			CompareKey(p, &lt, i++, &rt, j++);
		else if (c < 0)
			CompareKey(p, &lt, i++, &rt, -1);
		else
			CompareKey(p, &lt, -1, &rt, j++);
	}
}

/* the larger of the two sides' row counts of a bucket in digest lists */
static int64
BucketRows(const Table *a, const Table *b, int bucket)
{
	int64		n = 0;

	for (int i = 0; i < a->nrows; i++)
		if (atoi(CELL(a, i, 0)) == bucket)
			n = Max(n, Int8Cell(a, i, 1));
	for (int i = 0; i < b->nrows; i++)
		if (atoi(CELL(b, i, 0)) == bucket)
			n = Max(n, Int8Cell(b, i, 1));
	return n;
}

/*
 * CompareShard descends the digests of one shard.  Differing depth-1
 * buckets of up to BIG_BUCKET rows are compared row by row, together, in
 * reads of up to ROWS_PER_READ rows; a bigger one is first split by its
 * depth-2 digests, so that a few bad keys in a large shard cost their
 * sub-buckets' rows, not the bucket's.
 */
#define BIG_BUCKET 2000
#define ROWS_PER_READ 50000

static void
CompareShard(Pair *p)
{
	const char *sql = "SELECT bucket, rows, digest FROM globalkv.verify_digest($1::int, $2::int, $3::int)";
	char		s[16],
				b[16];
	Table		l0,
				r0,
				l1,
				r1;
	int			diff1[512];
	int			small[512];
	int			n1,
				nsmall = 0;
	int64		small_rows = 0;

	snprintf(s, sizeof(s), "%d", p->shard);
	RunBoth(p, sql, 3, (const char *const[]) {s, "0", NULL}, &l0, &r0);
	p->local_rows = l0.nrows > 0 ? Int8Cell(&l0, 0, 1) : 0;
	p->peer_rows = r0.nrows > 0 ? Int8Cell(&r0, 0, 1) : 0;

	/*
	 * Equal digests: in sync.  (They leave out tombstones, but a tombstone
	 * here over a document live there still differs: the live side's
	 * digest holds the document.)
	 */
	if (DifferingBuckets(&l0, &r0, diff1) == 0)
		return;
	if (p->repair)
	{
		Table		lh,
					rh;

		RunBoth(p, "SELECT coalesce((SELECT hlc FROM globalkv.purge_horizons WHERE shard_id = $1::int), 0)",
				1, (const char *const[]) {s}, &lh, &rh);
		p->local_horizon = Int8Cell(&lh, 0, 0);
		p->peer_horizon = Int8Cell(&rh, 0, 0);
	}
	RunBoth(p, sql, 3, (const char *const[]) {s, "1", NULL}, &l1, &r1);
	n1 = DifferingBuckets(&l1, &r1, diff1);
	p->differing_buckets = n1;
	for (int i = 0; i < n1; i++)
	{
		int64		rows = BucketRows(&l1, &r1, diff1[i]);

		CHECK_FOR_INTERRUPTS();
		if (rows > BIG_BUCKET)
		{
			Table		l2,
						r2;
			int			diff2[512];
			int			n2;

			snprintf(b, sizeof(b), "%d", diff1[i]);
			RunBoth(p, sql, 3, (const char *const[]) {s, "2", b}, &l2, &r2);
			n2 = DifferingBuckets(&l2, &r2, diff2);
			CompareRows(p, BucketList(&diff1[i], 1), BucketList(diff2, n2));
			continue;
		}
		if (small_rows + rows > ROWS_PER_READ && nsmall > 0)
		{
			CompareRows(p, BucketList(small, nsmall), NULL);
			nsmall = 0;
			small_rows = 0;
		}
		small[nsmall++] = diff1[i];
		small_rows += rows;
	}
	if (nsmall > 0)
		CompareRows(p, BucketList(small, nsmall), NULL);
	if (p->repair)
		FlushRepairs(p, true);
}

/*
 * ShardWithPeers compares (or mends) one shard of this node with its
 * holder in every other zone (or only 'only_peer'); one row per peer into
 * rsinfo when given; the sums into *totals.  SPI connected.
 */
static void
ShardWithPeers(int s, int32 only_peer, bool repair, ReturnSetInfo *rsinfo, GkvAntiEntropyTotals *totals)
{
	const char *local_zone = GkvLocalZone();
	const char *what = repair ? "kv.repair" : "kv.verify";

	for (int z = 0; z < GkvZoneCount(); z++)
	{
		int32		holder;
		Pair		p = {0};
		Datum		values[11];
		bool		nulls[11] = {0};

		if (local_zone != NULL && strcmp(GkvZoneName(z), local_zone) == 0)
			continue;
		holder = GkvShardHolder(s, z);
		if (holder == 0 || (only_peer != 0 && holder != only_peer))
			continue;
		p.shard = s;
		p.peer = holder;
		p.peer_name = GkvNodeById(holder)->name;
		p.repair = repair;
		initStringInfo(&p.to_peer);
		initStringInfo(&p.to_local);
		initStringInfo(&p.remove_here);
		initStringInfo(&p.remove_there);
		initStringInfo(&p.rewrite);
		CompareShard(&p);

		totals->compared++;
		totals->differing_keys += p.differing_keys;
		totals->mended += p.sent + p.received + p.removed + p.rewritten;
		totals->bytes += p.bytes;
		GkvStatsAdd(GKV_STAT_ANTI_ENTROPY_BYTES, p.bytes);
		GkvStatsAdd(GKV_STAT_ANTI_ENTROPY_DIFFERING, (uint64) p.differing_keys);
		if (repair)
			GkvStatsAdd(GKV_STAT_ANTI_ENTROPY_MENDED, (uint64) (p.sent + p.received + p.removed + p.rewritten));
		if (rsinfo == NULL)
			continue;
		ereport(NOTICE,
				(errmsg("%s: shard %d with node \"%s\": " INT64_FORMAT " differing keys" "%s",
						what, s, p.peer_name, p.differing_keys,
						repair ? psprintf(", " INT64_FORMAT " sent, " INT64_FORMAT " received, "
										  INT64_FORMAT " removed, " INT64_FORMAT " rewritten",
										  p.sent, p.received, p.removed, p.rewritten) : "")));
		values[0] = Int32GetDatum(s);
		values[1] = Int32GetDatum(holder);
		values[2] = CStringGetTextDatum(p.peer_name);
		if (!repair)
		{
			values[3] = Int64GetDatum(p.local_rows);
			values[4] = Int64GetDatum(p.peer_rows);
			values[5] = Int32GetDatum(p.differing_buckets);
			values[6] = Int64GetDatum(p.differing_keys);
			values[7] = Int64GetDatum((int64) p.bytes);
		}
		else
		{
			values[3] = Int64GetDatum(p.differing_keys);
			values[4] = Int64GetDatum(p.sent);
			values[5] = Int64GetDatum(p.received);
			values[6] = Int64GetDatum(p.removed);
			values[7] = Int64GetDatum(p.rewritten);
			values[8] = Int64GetDatum((int64) p.row_bytes);
			values[9] = Int64GetDatum((int64) p.bytes);
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * GkvAntiEntropyShard mends (or only compares) one shard with its holders
 * in the other zones: the background repair's step (repair_worker.c).
 * Needs a transaction.
 */
void
GkvAntiEntropyShard(int shard, bool repair, GkvAntiEntropyTotals *totals)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (GkvServesShard(shard))
		ShardWithPeers(shard, 0, repair, NULL, totals);
	SPI_finish();
}

/* runs kv.verify or kv.repair */
static Datum
AntiEntropy(FunctionCallInfo fcinfo, bool repair)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			only_shard = PG_ARGISNULL(0) ? -1 : PG_GETARG_INT32(0);
	int32		only_peer = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	int			nshards;
	GkvAntiEntropyTotals totals = {0};

	GkvRequireBuiltVersion();
	InitMaterializedSRF(fcinfo, 0);
	nshards = GkvShardCount();
	if (only_shard >= nshards)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("shard %d does not exist: there are %d shards", only_shard, nshards)));
	if (only_peer != 0 && (GkvNodeById(only_peer) == NULL || only_peer == GkvLocalNodeId()))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("node %d is not a peer of this node", only_peer)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int s = 0; s < nshards; s++)
		if ((only_shard < 0 || s == only_shard) && GkvServesShard(s))
			ShardWithPeers(s, only_peer, repair, rsinfo, &totals);
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(gkv_verify);
PG_FUNCTION_INFO_V1(gkv_repair);

Datum
gkv_verify(PG_FUNCTION_ARGS)
{
	return AntiEntropy(fcinfo, false);
}

Datum
gkv_repair(PG_FUNCTION_ARGS)
{
	return AntiEntropy(fcinfo, true);
}
