/*-------------------------------------------------------------------------
 *
 * scan.c
 *	  kv.scan: the live documents whose key starts with a prefix, in key
 *	  order, a page at a time, across every shard of the zone.
 *
 * A page is [prefix, next) ∩ (after_key, ∞), at most page_size keys, where
 * next is the prefix with its last character incremented: in UTF-8,
 * bytewise order is code point order and no encoded character is a prefix
 * of another, so exactly the keys that start with the prefix lie in the
 * range (PrefixEnd).  prefix and after_key are data, compared, never
 * matched as patterns.
 *
 * Each shard's primary key (namespace, key COLLATE "C") is read in order
 * from the start of the range, at most page_size rows (a kept plan per
 * shard table); the shards this node does not hold are asked of their
 * holders in this zone, one request per node with its list of shards
 * (globalkv.scan_shards), all nodes at once, failing over shard by shard
 * to the holders in the other zones.  The node that got the call merges
 * and keeps the first page_size: memory is page_size per shard at most.
 * kv.scan once ran as a kv.docs query; planning a 16-way UNION ALL cost
 * 4x a kv.get_many of the same keys, so it has this direct path.
 *
 * src/commands/scan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "libpq-fe.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "globalkv/catalog.h"
#include "globalkv/connection.h"
#include "globalkv/errcodes.h"
#include "globalkv/guc.h"
#include "globalkv/metrics.h"
#include "globalkv/routing.h"
#include "globalkv/storage.h"

PG_FUNCTION_INFO_V1(gkv_scan);
PG_FUNCTION_INFO_V1(gkv_scan_shards);

#define MAX_SCAN_CANDIDATES 16

typedef struct ScanRow
{
	text	   *key;
	Jsonb	   *value;
} ScanRow;

typedef struct ScanRange
{
	text	   *ns;
	text	   *prefix;
	text	   *end;			/* exclusive; NULL: no end */
	text	   *after;			/* exclusive; NULL: from the prefix */
	int			page_size;
} ScanRange;

/*
 * PrefixEnd: the least string greater than every string that starts with
 * the prefix, NULL when there is none (an empty prefix, or one made only of
 * the greatest character).
 */
static text *
PrefixEnd(text *prefix)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(prefix);
	int			len = VARSIZE_ANY_EXHDR(prefix);
	bool		utf8 = GetDatabaseEncoding() == PG_UTF8;

	while (len > 0)
	{
		int			start = len - 1;
		unsigned char buf[8];
		int			blen;
		text	   *end;

		if (utf8)
		{
			pg_wchar	c;

			while (start > 0 && (p[start] & 0xC0) == 0x80)
				start--;
			c = utf8_to_unicode(p + start);
			if (c >= 0x10FFFF)
			{
				len = start;
				continue;
			}
			c++;
			if (c >= 0xD800 && c <= 0xDFFF)
				c = 0xE000;		/* surrogates are not characters */
			unicode_to_utf8(c, buf);
			blen = pg_utf_mblen(buf);
		}
		else
		{
			/* a single-byte encoding: the next byte */
			if (p[start] == 0xFF)
			{
				len = start;
				continue;
			}
			buf[0] = p[start] + 1;
			blen = 1;
		}
		end = palloc(VARHDRSZ + start + blen);
		SET_VARSIZE(end, VARHDRSZ + start + blen);
		memcpy(VARDATA(end), p, start);
		memcpy(VARDATA(end) + start, buf, blen);
		return end;
	}
	return NULL;
}

static int
ScanRowCompare(const void *a, const void *b)
{
	return GkvKeyCompare(((const ScanRow *) a)->key, ((const ScanRow *) b)->key);
}

/*
 * ScanShard appends to rows[] (room for page_size more) the first live
 * documents of the range in one shard held here; returns how many.
 * The plans are kept per shard and kind (with or without an end).
 */
static int
ScanShard(int shard, const ScanRange *r, ScanRow *rows, MemoryContext out)
{
	static SPIPlanPtr *plans = NULL;
	static int	nplans = 0;
	int			nshards = GkvShardCount();
	int			slot = shard * 2 + (r->end != NULL);
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZOID, TEXTOID};
	Datum		args[6];
	int			n;

	if (plans == NULL || nplans != nshards * 2)
	{
		/* the shard count changed (only ever while nothing is stored) */
		if (plans)
			for (int i = 0; i < nplans; i++)
				if (plans[i])
					SPI_freeplan(plans[i]);
		plans = MemoryContextAllocZero(TopMemoryContext, sizeof(SPIPlanPtr) * nshards * 2);
		nplans = nshards * 2;
	}
	if (plans[slot] == NULL)
	{
		char	   *sql = psprintf("SELECT key, value FROM globalkv_data.%s"
								   " WHERE namespace = $1 AND key >= $2 AND key > $3"
								   " AND value IS NOT NULL AND (expires_at IS NULL OR expires_at > $5)%s"
								   " ORDER BY key LIMIT $4",
								   quote_identifier(get_rel_name(GkvShardRelid(shard))),
								   r->end ? " AND key < $6" : "");
		SPIPlanPtr	plan = SPI_prepare(sql, r->end ? 6 : 5, types);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "kv.scan: could not prepare the scan of shard %d", shard);
		plans[slot] = plan;
	}
	args[0] = PointerGetDatum(r->ns);
	args[1] = PointerGetDatum(r->prefix);
	/* every key is longer than "": after nothing, from the prefix */
	args[2] = PointerGetDatum(r->after ? r->after : cstring_to_text(""));
	args[3] = Int32GetDatum(r->page_size);
	args[4] = TimestampTzGetDatum(GetCurrentTimestamp());
	args[5] = PointerGetDatum(r->end);
	if (SPI_execute_plan(plans[slot], args, NULL, true, r->page_size) != SPI_OK_SELECT)
		elog(ERROR, "kv.scan: the scan of shard %d failed", shard);
	n = (int) SPI_processed;
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		HeapTuple	t = SPI_tuptable->vals[i];
		MemoryContext old = MemoryContextSwitchTo(out);

		rows[i].key = DatumGetTextPCopy(SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &isnull));
		rows[i].value = DatumGetJsonbPCopy(SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &isnull));
		MemoryContextSwitchTo(old);
	}
	SPI_freetuptable(SPI_tuptable);
	return n;
}

/* the local part: the listed shards, which this node must hold */
static int
ScanLocalShards(const int *shards, int nshards, const ScanRange *r, ScanRow *rows)
{
	MemoryContext out = CurrentMemoryContext;
	int			n = 0;

	if (nshards == 0)
		return 0;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int i = 0; i < nshards; i++)
	{
		CHECK_FOR_INTERRUPTS();
		n += ScanShard(shards[i], r, rows + n, out);
	}
	SPI_finish();
	return n;
}

static ScanRange
RangeFromArgs(FunctionCallInfo fcinfo)
{
	ScanRange	r;

	for (int i = 0; i < 4; i++)
		if (i != 2 && PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
					 errmsg("namespace, prefix and page_size of kv.scan must not be null")));
	r.ns = PG_GETARG_TEXT_PP(0);
	r.prefix = PG_GETARG_TEXT_PP(1);
	r.after = PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2);
	r.page_size = PG_GETARG_INT32(3);
	if (r.page_size < 1 || r.page_size > GkvMaxBatchKeys)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("page_size must be between 1 and globalkv.max_batch_keys (%d), not %d",
						GkvMaxBatchKeys, r.page_size)));
	r.end = PrefixEnd(r.prefix);
	return r;
}

/* the rows of a remote answer (key text, value jsonb text), appended */
static int
RowsFromResult(PGresult *res, ScanRow *rows, int room)
{
	int			n = Min(PQntuples(res), room);

	for (int i = 0; i < n; i++)
	{
		rows[i].key = cstring_to_text(PQgetvalue(res, i, 0));
		rows[i].value = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
														   CStringGetDatum(PQgetvalue(res, i, 1))));
	}
	return n;
}

static char *
ShardArrayLiteral(const int *shards, int n)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%d", i > 0 ? "," : "", shards[i]);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

#define SCAN_SHARDS_SQL \
	"SELECT key, value FROM globalkv.scan_shards($1, $2, $3, $4::integer, $5::integer[])"

/* sends the scan of the listed shards to a node; false when not sent */
static bool
SendScan(int32 node, const ScanRange *r, const int *shards, int n)
{
	char		size[16];
	const char *values[5];

	snprintf(size, sizeof(size), "%d", r->page_size);
	values[0] = text_to_cstring(r->ns);
	values[1] = text_to_cstring(r->prefix);
	values[2] = r->after ? text_to_cstring(r->after) : NULL;
	values[3] = size;
	values[4] = ShardArrayLiteral(shards, n);
	return GkvNodeSend(node, SCAN_SHARDS_SQL, 5, values);
}

/*
 * kv.scan(namespace, prefix, after_key, page_size) -> (key, value)
 */
Datum
gkv_scan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ScanRange	r;
	int			nshards = GkvShardCount();
	int		   *local = palloc(sizeof(int) * nshards);
	int			nlocal = 0;
	int32	   *node_of = palloc(sizeof(int32) * nshards);	/* first choice, 0: here */
	int32	   *sent = palloc0(sizeof(int32) * (nshards + 1));	/* nodes asked */
	int			nsent = 0;
	ScanRow    *rows;
	int			nrows = 0;
	int			room;

	r = RangeFromArgs(fcinfo);
	if (!GkvNamespaceKnown(r.ns))
		GkvRequireNamespace(r.ns);
	room = r.page_size * nshards;
	rows = palloc(sizeof(ScanRow) * (room + 1));

	for (int s = 0; s < nshards; s++)
	{
		int32		cand[MAX_SCAN_CANDIDATES];

		if (GkvServesShard(s))
		{
			node_of[s] = 0;
			local[nlocal++] = s;
		}
		else
			node_of[s] = GkvRouteCandidates(s, cand, MAX_SCAN_CANDIDATES) > 0 ? cand[0] : -1;
	}

	/* every other node's part goes out first, so that they all work at once */
	for (int s = 0; s < nshards; s++)
	{
		int		   *part;
		int			npart = 0;
		bool		seen = false;

		if (node_of[s] <= 0)
			continue;
		for (int i = 0; i < nsent; i++)
			seen |= sent[i] == node_of[s];
		if (seen)
			continue;
		part = palloc(sizeof(int) * nshards);
		for (int t = s; t < nshards; t++)
			if (node_of[t] == node_of[s])
				part[npart++] = t;
		if (SendScan(node_of[s], &r, part, npart))
			sent[nsent++] = node_of[s];
		else
			for (int i = 0; i < npart; i++)
				node_of[part[i]] = -1;	/* not sent: fail over below */
	}

	nrows += ScanLocalShards(local, nlocal, &r, rows);

	for (int i = 0; i < nsent; i++)
	{
		PGresult   *res = GkvNodeReceive(sent[i], GkvForwardTimeoutMs);

		if (res == NULL)
		{
			for (int s = 0; s < nshards; s++)
				if (node_of[s] == sent[i])
					node_of[s] = -1;	/* lost on the way: fail over below */
			continue;
		}
		nrows += RowsFromResult(res, rows + nrows, room - nrows);
		PQclear(res);
	}

	/* shards whose holder here could not answer: the other zones', one by one */
	for (int s = 0; s < nshards; s++)
	{
		int32		cand[MAX_SCAN_CANDIDATES];
		int			ncand;
		bool		done = false;

		if (node_of[s] != -1)
			continue;
		ncand = GkvRouteCandidates(s, cand, MAX_SCAN_CANDIDATES);
		for (int c = 1; c < ncand && !done; c++)
		{
			PGresult   *res;

			if (!SendScan(cand[c], &r, &s, 1) || (res = GkvNodeReceive(cand[c], GkvForwardTimeoutMs)) == NULL)
				continue;
			nrows += RowsFromResult(res, rows + nrows, room - nrows);
			PQclear(res);
			GkvStatsAdd(GKV_STAT_FAILOVERS, 1);
			ereport(NOTICE,
					(errmsg("kv.scan read shard %d from node %d of another zone: its holder in this zone could not be reached",
							s, cand[c])));
			done = true;
		}
		if (!done)
			ereport(ERROR,
					(errcode(ERRCODE_GKV_NO_HOLDER),
					 errmsg("kv.scan: no node holding shard %d can be reached", s)));
	}

	qsort(rows, nrows, sizeof(ScanRow), ScanRowCompare);
	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < nrows && i < r.page_size; i++)
	{
		Datum		values[2] = {PointerGetDatum(rows[i].key), JsonbPGetDatum(rows[i].value)};
		bool		nulls[2] = {false, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * globalkv.scan_shards(namespace, prefix, after_key, page_size, shards[])
 * -> (key, value): the part of a kv.scan page in the listed shards, which
 * this node must hold (GK017 otherwise: the caller's map is stale), in key
 * order.
 */
Datum
gkv_scan_shards(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ScanRange	r = RangeFromArgs(fcinfo);
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int		   *shards;
	ScanRow    *rows;
	int			nrows;

	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("the shards of globalkv.scan_shards must not be null")));
	arr = PG_GETARG_ARRAYTYPE_P(4);
	deconstruct_array(arr, INT4OID, 4, true, TYPALIGN_INT, &elems, &nulls, &n);
	shards = palloc(sizeof(int) * (n + 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i] || DatumGetInt32(elems[i]) < 0 || DatumGetInt32(elems[i]) >= GkvShardCount())
			ereport(ERROR,
					(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
					 errmsg("no shard %s", nulls[i] ? "NULL" : psprintf("%d", DatumGetInt32(elems[i])))));
		shards[i] = DatumGetInt32(elems[i]);
		if (!GkvServesShard(shards[i]))
			GkvRejectStale(shards[i]);
	}
	rows = palloc(sizeof(ScanRow) * ((Size) r.page_size * n + 1));
	nrows = ScanLocalShards(shards, n, &r, rows);
	qsort(rows, nrows, sizeof(ScanRow), ScanRowCompare);
	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < nrows && i < r.page_size; i++)
	{
		Datum		values[2] = {PointerGetDatum(rows[i].key), JsonbPGetDatum(rows[i].value)};
		bool		isnull[2] = {false, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	return (Datum) 0;
}
