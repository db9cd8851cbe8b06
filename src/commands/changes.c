/*-------------------------------------------------------------------------
 *
 * changes.c
 *	  kv.changes: a namespace's change feed, from any node of a zone, with
 *	  a resumable cursor and a bounded wait instead of tight polling
 *	  (docs/api.md "Change feed").
 *
 * A feed is replication's own stream read by a client: every row a node
 * stores gets the next value of the node's change sequence (seq), and
 * globalkv.pull returns, per shard, the rows with cursor < seq <= the safe
 * horizon, in seq order, waiting on its latch when there are none (it
 * never hands out a cursor past a write still in flight, so nothing is
 * skipped).  globalkv.changes_part is that pull reduced to one namespace;
 * kv.changes asks it of every node of the zone holding shards -- the
 * others all at once, then this one -- and returns the rows, then one row
 * with key NULL carrying the cursor of the next call.
 *
 * The cursor is text: "gkv1" then, per shard, "/shard:holder:seq".  A
 * shard whose holder in this zone changed since the cursor was made (a
 * shard move) starts over on its new holder: its documents come once more.
 *
 * With other nodes in the zone, each round waits at most
 * CHANGES_SLICE_MS on every node, then the rounds repeat until wait_ms:
 * a change on another node is seen within a slice.
 *
 * src/commands/changes.c
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
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "globalkv/catalog.h"
#include "globalkv/connection.h"
#include "globalkv/errcodes.h"
#include "globalkv/guc.h"
#include "globalkv/storage.h"

PG_FUNCTION_INFO_V1(gkv_changes);

#define CURSOR_MAGIC "gkv1"
#define CHANGES_SLICE_MS 100
#define MAX_WAIT_MS 60000

/* a node's part, here (SPI) or there (libpq): every column as text */
#define CHANGES_PART_SQL \
	"SELECT shard::text, seq::text, key, value::text, hlc::text, origin::text, expires_at::text" \
	" FROM globalkv.changes_part($1, $2::integer[], $3::bigint[], $4::integer, $5::integer)"

typedef struct ShardPosition
{
	int32		holder;			/* this zone's holder when the cursor was made */
	int64		seq;
} ShardPosition;

/* one change: a data row, or (key NULL) a shard's new cursor */
typedef struct Change
{
	int			shard;
	int64		seq;
	int64		horizon;		/* cursor rows: the horizon the pull read to */
	char	   *key;
	char	   *value;			/* JSON text; NULL: deleted */
	char	   *version;
	char	   *expires_at;
} Change;

typedef struct ChangeList
{
	Change	   *items;
	int			n;
	int			cap;
} ChangeList;

static Change *NewChange(ChangeList *list);

static void
ParseCursor(const char *cursor, ShardPosition *pos, int nshards)
{
	const char *p = cursor;

	for (int s = 0; s < nshards; s++)
		pos[s].holder = -1;		/* from the start */
	if (cursor == NULL)
		return;
	if (strncmp(p, CURSOR_MAGIC, strlen(CURSOR_MAGIC)) != 0)
		goto bad;
	p += strlen(CURSOR_MAGIC);
	while (*p == '/')
	{
		int			shard,
					holder,
					used = 0;
		long long	seq;

		if (sscanf(p, "/%d:%d:%lld%n", &shard, &holder, &seq, &used) != 3 || used == 0 ||
			shard < 0 || seq < 0)
			goto bad;
		if (shard < nshards)
		{
			pos[shard].holder = holder;
			pos[shard].seq = seq;
		}
		p += used;
	}
	if (*p == '\0')
		return;
bad:
	ereport(ERROR,
			(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
			 errmsg("invalid change feed cursor \"%s\"", cursor),
			 errhint("Pass NULL to start from the beginning, or the cursor the last call returned.")));
}

static char *
FormatCursor(const ShardPosition *pos, int nshards)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, CURSOR_MAGIC);
	for (int s = 0; s < nshards; s++)
		if (pos[s].holder >= 0)
			appendStringInfo(&buf, "/%d:%d:" INT64_FORMAT, s, pos[s].holder, pos[s].seq);
	return buf.data;
}

/*
 * AddChange appends a row of CHANGES_PART_SQL, given as its seven text
 * columns (NULL for SQL NULL), whichever side ran it.
 */
static void
AddChange(ChangeList *list, const char *const *col)
{
	Change	   *c = NewChange(list);

	c->shard = atoi(col[0]);
	c->seq = strtoll(col[1], NULL, 10);
	c->key = col[2] ? pstrdup(col[2]) : NULL;
	c->value = col[3] ? pstrdup(col[3]) : NULL;
	c->version = c->key ? psprintf("%s:%s", col[4], col[5]) : NULL;
	c->horizon = c->key ? 0 : strtoll(col[4], NULL, 10);
	c->expires_at = col[6] ? pstrdup(col[6]) : NULL;
}

/* the request of one node: its shards and their cursors, as array literals */
static void
PartArgs(const int *shards, int n, const ShardPosition *pos, int32 holder, char **shards_lit,
		 char **cursors_lit)
{
	StringInfoData a,
				b;

	initStringInfo(&a);
	initStringInfo(&b);
	for (int i = 0; i < n; i++)
	{
		int			s = shards[i];

		appendStringInfo(&a, "%s%d", i ? "," : "{", s);
		appendStringInfo(&b, "%s" INT64_FORMAT, i ? "," : "{",
						 pos[s].holder == holder ? pos[s].seq : (int64) 0);
	}
	appendStringInfoChar(&a, '}');
	appendStringInfoChar(&b, '}');
	*shards_lit = a.data;
	*cursors_lit = b.data;
}

static Change *
NewChange(ChangeList *list)
{
	if (list->n == list->cap)
	{
		list->cap = list->cap ? list->cap * 2 : 64;
		list->items = list->items ? repalloc(list->items, sizeof(Change) * list->cap) :
			palloc(sizeof(Change) * list->cap);
	}
	return &list->items[list->n++];
}

/* this node's part, through the same SQL a remote node runs */
static void
LocalPart(const char *const *values, ChangeList *list)
{
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[5];
	MemoryContext caller = CurrentMemoryContext;

	for (int i = 0; i < 5; i++)
		args[i] = CStringGetTextDatum(values[i]);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(CHANGES_PART_SQL, 5, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "kv.changes: the local part failed");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		const char *col[7];
		MemoryContext old = MemoryContextSwitchTo(caller);

		for (int i = 0; i < 7; i++)
			col[i] = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, i + 1);
		AddChange(list, col);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
}

/*
 * kv.changes(namespace, cursor, max_rows, wait_ms)
 *	 -> (key, value, version, expires_at, cursor)
 */
Datum
gkv_changes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *ns;
	int			max_rows,
				wait_ms;
	int			nshards = GkvShardCount();
	ShardPosition *pos = palloc(sizeof(ShardPosition) * (nshards + 1));
	int32	   *holder = palloc(sizeof(int32) * (nshards + 1));
	int32	   *nodes = palloc(sizeof(int32) * (nshards + 1));
	int			nnodes = 0;
	ChangeList	list = {NULL, 0, 0};
	TimestampTz deadline;
	char		size[16];
	bool		reading_on = false;	/* the last round stopped short: no waiting */

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("namespace, max_rows and wait_ms of kv.changes must not be null")));
	ns = PG_GETARG_TEXT_PP(0);
	max_rows = PG_GETARG_INT32(2);
	wait_ms = PG_GETARG_INT32(3);
	GkvRequireNamespace(ns);
	if (max_rows < 1 || max_rows > GkvMaxBatchKeys)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("max_rows must be between 1 and globalkv.max_batch_keys (%d), not %d",
						GkvMaxBatchKeys, max_rows)));
	if (wait_ms < 0 || wait_ms > MAX_WAIT_MS)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("wait_ms must be between 0 and %d, not %d", MAX_WAIT_MS, wait_ms)));
	ParseCursor(PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)), pos, nshards);
	snprintf(size, sizeof(size), "%d", max_rows);

	/* the nodes of this zone holding shards, this one first */
	for (int s = 0; s < nshards; s++)
	{
		bool		seen = false;

		holder[s] = GkvServesShard(s) ? GkvLocalNodeId() : GkvShardHolderHere(s);
		if (holder[s] <= 0 && !GkvServesShard(s))
			ereport(ERROR,
					(errcode(ERRCODE_GKV_NO_HOLDER),
					 errmsg("shard %d has no holder in this zone", s)));
		for (int i = 0; i < nnodes; i++)
			seen |= nodes[i] == holder[s];
		if (!seen)
			nodes[nnodes++] = holder[s];
	}

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);
	for (;;)
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		char		wait[16];
		bool		local = false;
		const char *local_values[5];
		bool		any_rows = false;
		bool		behind = false;

		/* alone in the zone: wait all the time here; else a slice on every node */
		if (left < 0 || reading_on)
			left = 0;
		snprintf(wait, sizeof(wait), "%ld", nnodes == 1 ? left : Min(left, CHANGES_SLICE_MS));
		list.n = 0;
		for (int i = 0; i < nnodes; i++)
		{
			int		   *part = palloc(sizeof(int) * nshards);
			int			npart = 0;
			const char *values[5];
			char	   *shards_lit,
					   *cursors_lit;

			for (int s = 0; s < nshards; s++)
				if (holder[s] == nodes[i])
					part[npart++] = s;
			PartArgs(part, npart, pos, nodes[i], &shards_lit, &cursors_lit);
			values[0] = text_to_cstring(ns);
			values[1] = shards_lit;
			values[2] = cursors_lit;
			values[3] = size;
			values[4] = wait;
			if (nodes[i] == GkvLocalNodeId() && GkvServesShard(part[0]))
			{
				memcpy(local_values, values, sizeof(values));
				local = true;
			}
			else if (!GkvNodeSend(nodes[i], CHANGES_PART_SQL, 5, values))
				ereport(ERROR,
						(errcode(ERRCODE_GKV_NO_HOLDER),
						 errmsg("kv.changes: node %d of this zone cannot be reached", nodes[i]),
						 errhint("The feed follows this zone's holders; call again once it is back.")));
		}
		if (local)
			LocalPart(local_values, &list);
		for (int i = 0; i < nnodes; i++)
		{
			PGresult   *res;

			if (nodes[i] == GkvLocalNodeId() && local)
				continue;
			res = GkvNodeReceive(nodes[i], GkvForwardTimeoutMs + wait_ms);
			if (res == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_GKV_NO_HOLDER),
						 errmsg("kv.changes: lost the connection to node %d of this zone", nodes[i]),
						 errhint("Nothing was consumed: call again with the same cursor.")));
			for (int r = 0; r < PQntuples(res); r++)
			{
				const char *col[7];

				for (int i = 0; i < 7; i++)
					col[i] = PQgetisnull(res, r, i) ? NULL : PQgetvalue(res, r, i);
				AddChange(&list, col);
			}
			PQclear(res);
		}

		/*
		 * The shards' new positions.  A pull stops after max_rows rows of
		 * every namespace: a shard whose cursor stopped short of the
		 * horizon has more to read, perhaps of this namespace -- read on at
		 * once, so that an empty answer always means "nothing new".
		 */
		for (int i = 0; i < list.n; i++)
		{
			Change	   *c = &list.items[i];

			if (c->key != NULL)
				any_rows = true;
			else
			{
				pos[c->shard].holder = holder[c->shard];
				pos[c->shard].seq = c->seq;
				behind |= c->seq < c->horizon;
			}
		}
		if (any_rows)
			break;
		if (!behind && TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline) <= 0)
			break;
		reading_on = behind;
		CHECK_FOR_INTERRUPTS();
	}

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < list.n; i++)
	{
		Change	   *c = &list.items[i];
		Datum		values[5];
		bool		nulls[5] = {false, c->value == NULL, false, c->expires_at == NULL, true};

		if (c->key == NULL)
			continue;
		values[0] = CStringGetTextDatum(c->key);
		values[1] = c->value ? DirectFunctionCall1(jsonb_in, CStringGetDatum(c->value)) : (Datum) 0;
		values[2] = CStringGetTextDatum(c->version);
		values[3] = c->expires_at ?
			DirectFunctionCall3(timestamptz_in, CStringGetDatum(c->expires_at),
								ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)) : (Datum) 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	{
		Datum		values[5] = {0, 0, 0, 0, CStringGetTextDatum(FormatCursor(pos, nshards))};
		bool		nulls[5] = {true, true, true, true, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
