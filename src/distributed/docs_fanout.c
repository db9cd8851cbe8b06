/*-------------------------------------------------------------------------
 *
 * docs_fanout.c
 *	  Running a fragment of a query on kv.docs on every node of the zone.
 *
 * The planner (docs_planner.c) makes the fragment: a SELECT on kv.docs with
 * the conditions and columns it could push down.  globalkv.docs_fanout
 * sends it to every other node of this zone that holds placements, through
 * the backend's connection cache (whose sessions run with
 * globalkv.docs_scope = node, so there kv.docs means that node's
 * placements), all at once; runs it here meanwhile (with docs_scope = node
 * for the duration); then collects the answers into one result.  Each
 * node's answer is read whole before any of it is returned.
 *
 * Fragments are signed with a key drawn at postmaster start and kept in
 * shared memory (HMAC-SHA-256): the function is callable by clients (a
 * query on kv.docs runs it as its caller), so it must refuse SQL that its
 * planner did not write.
 *
 * A node of the zone that cannot be reached, or whose connection breaks
 * before its whole answer arrived, is stood in for by the holders of its
 * shards in the other zones (ReadElsewhere), with a NOTICE.
 *
 * src/distributed/docs_fanout.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "globalkv/catalog.h"
#include "globalkv/connection.h"
#include "globalkv/distributed.h"
#include "globalkv/errcodes.h"
#include "globalkv/guc.h"
#include "globalkv/metrics.h"
#include "globalkv/routing.h"

#include "docs_shared.h"

#define SIGNATURE_KEY_BYTES 32
#define SIGNATURE_BYTES PG_SHA256_DIGEST_LENGTH

typedef struct DocsShared
{
	uint8		key[SIGNATURE_KEY_BYTES];
} DocsShared;

static DocsShared *Shared = NULL;

Size
GkvDocsShmemSize(void)
{
	return sizeof(DocsShared);
}

void
GkvDocsShmemInit(void)
{
	bool		found;

	Shared = ShmemInitStruct("globalkv kv.docs signing key", sizeof(DocsShared), &found);
	if (!found && !pg_strong_random(Shared->key, SIGNATURE_KEY_BYTES))
		elog(FATAL, "could not draw the key that signs kv.docs fragments");
}

/* HMAC-SHA-256 of the fragment, as hex (2 * SIGNATURE_BYTES + 1 bytes) */
static void
Sign(const char *fragment, char *hex)
{
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);
	uint8		digest[SIGNATURE_BYTES];

	if (ctx == NULL ||
		pg_hmac_init(ctx, Shared->key, SIGNATURE_KEY_BYTES) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) fragment, strlen(fragment)) < 0 ||
		pg_hmac_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not sign a kv.docs fragment: %s", pg_hmac_error(ctx));
	pg_hmac_free(ctx);
	hex_encode((const char *) digest, SIGNATURE_BYTES, hex);
	hex[2 * SIGNATURE_BYTES] = '\0';
}

char *
GkvDocsSignFragment(const char *fragment)
{
	char	   *hex = palloc(2 * SIGNATURE_BYTES + 1);

	Sign(fragment, hex);
	return hex;
}

static void
VerifyFragment(const char *fragment, const char *signature)
{
	char		expected[2 * SIGNATURE_BYTES + 1];
	int			diff = 0;

	Sign(fragment, expected);
	if (strlen(signature) != 2 * SIGNATURE_BYTES)
		diff = 1;
	else
		for (int i = 0; i < 2 * SIGNATURE_BYTES; i++)
			diff |= expected[i] ^ signature[i];
	if (diff != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("globalkv.docs_fanout runs only the fragments globalkv's planner writes"),
				 errhint("Query kv.docs instead.")));
}

/* the input functions of the fragment's columns, for the text of remote rows */
typedef struct RowReader
{
	int			natts;
	FmgrInfo   *in;
	Oid		   *ioparams;
	int32	   *typmods;
	Datum	   *values;
	bool	   *nulls;
} RowReader;

static void
RowReaderInit(RowReader *r, TupleDesc desc)
{
	r->natts = desc->natts;
	r->in = palloc(sizeof(FmgrInfo) * Max(r->natts, 1));
	r->ioparams = palloc(sizeof(Oid) * Max(r->natts, 1));
	r->typmods = palloc(sizeof(int32) * Max(r->natts, 1));
	r->values = palloc(sizeof(Datum) * Max(r->natts, 1));
	r->nulls = palloc(sizeof(bool) * Max(r->natts, 1));
	for (int i = 0; i < r->natts; i++)
	{
		Oid			infunc;

		getTypeInputInfo(TupleDescAttr(desc, i)->atttypid, &infunc, &r->ioparams[i]);
		fmgr_info(infunc, &r->in[i]);
		r->typmods[i] = TupleDescAttr(desc, i)->atttypmod;
	}
}

/* stores a node's answer; returns the bytes of values it held */
static int64
StoreRemoteRows(PGresult *res, const char *node_name, RowReader *r, ReturnSetInfo *rsinfo)
{
	int			nrows = PQntuples(res);
	int64		bytes = 0;
	/* what the input functions allocate for a row is gone once it is stored */
	MemoryContext row_context = AllocSetContextCreate(CurrentMemoryContext, "kv.docs remote row",
													  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = CurrentMemoryContext;

	if (PQnfields(res) != r->natts)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("node \"%s\" answered a kv.docs fragment with %d columns instead of %d",
						node_name, PQnfields(res), r->natts)));
	for (int row = 0; row < nrows; row++)
	{
		MemoryContextReset(row_context);
		MemoryContextSwitchTo(row_context);
		for (int c = 0; c < r->natts; c++)
		{
			r->nulls[c] = PQgetisnull(res, row, c);
			r->values[c] = r->nulls[c] ? (Datum) 0 :
				InputFunctionCall(&r->in[c], PQgetvalue(res, row, c), r->ioparams[c],
								  r->typmods[c]);
			bytes += PQgetlength(res, row, c);
		}
		MemoryContextSwitchTo(old);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, r->values, r->nulls);
	}
	MemoryContextDelete(row_context);
	return bytes;
}

static double
MillisecondsSince(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_MILLISEC(now);
}

/*
 * StoreAndClear keeps a node's whole answer, and notes it as a task for
 * EXPLAIN ANALYZE (shards: how many it was asked for, 0 for all it holds).
 */
static void
StoreAndClear(PGresult *res, int32 node_id, const char *fragment, int shards, bool stand_in,
			  instr_time sent, RowReader *r, ReturnSetInfo *rsinfo)
{
	const GkvNodeInfo *node = GkvNodeById(node_id);
	DocsExplainTask task = {node_id, false, stand_in, shards, PQntuples(res), 0, MillisecondsSince(sent)};

	PG_TRY();
	{
		task.bytes = StoreRemoteRows(res, node ? node->name : "?", r, rsinfo);
	}
	PG_FINALLY();
	{
		PQclear(res);
	}
	PG_END_TRY();
	GkvDocsExplainTaskDone(fragment, &task);
}

/*
 * FragmentWhere: where the fragment's conditions start -- the first
 * GKV_DOCS_FRAGMENT_WHERE outside quotes (the fragment's own expressions
 * come before it, and a string or a name among them may hold that text).
 * NULL if there is none.
 */
static const char *
FragmentWhere(const char *fragment)
{
	size_t		len = strlen(GKV_DOCS_FRAGMENT_WHERE);
	char		quote = 0;

	for (const char *p = fragment; *p; p++)
	{
		if (quote != 0)
		{
			if (*p == quote)
				quote = 0;		/* a doubled quote closes and reopens */
		}
		else if (*p == '\'' || *p == '"')
			quote = *p;
		else if (strncmp(p, GKV_DOCS_FRAGMENT_WHERE, len) == 0)
			return p;
	}
	return NULL;
}

/*
 * ReadElsewhere: the nodes of this zone marked failed could not be reached,
 * or lost their connection before their whole answer arrived (none of it
 * was kept).  Their shards are read instead from the shards' holders in
 * the other zones, nearest first (globalkv.zone_order), each node asked
 * only for the shards it stands in for; a NOTICE says so.  Those copies
 * are as fresh as replication has made them.
 */
static void
ReadElsewhere(const char *fragment, const int32 *holders, const bool *failed, int nholders,
			  RowReader *reader, ReturnSetInfo *rsinfo)
{
	int			nshards = GkvShardCount();
	int32	   *stand_in = palloc0(sizeof(int32) * nshards);
	int32	   *nodes = palloc(sizeof(int32) * Max(nshards, 1));
	int		   *counts = palloc0(sizeof(int) * Max(nshards, 1));
	int			nnodes = 0;
	const char *where = FragmentWhere(fragment);
	instr_time	sent;

	if (where == NULL)
		elog(ERROR, "unexpected kv.docs fragment: %s", fragment);
	for (int shard = 0; shard < nshards; shard++)
	{
		int32		holder = GkvShardHolderHere(shard);
		int32		candidates[64];
		int			n;
		bool		lost = false;

		for (int i = 0; i < nholders; i++)
			lost |= failed[i] && holders[i] == holder;
		if (!lost)
			continue;
		n = GkvRouteCandidates(shard, candidates, lengthof(candidates));
		for (int c = 0; c < n && stand_in[shard] == 0; c++)
			if (candidates[c] != holder)
				stand_in[shard] = candidates[c];
		if (stand_in[shard] == 0)
		{
			const GkvNodeInfo *node = GkvNodeById(holder);

			ereport(ERROR,
					(errcode(ERRCODE_GKV_NO_HOLDER),
					 errmsg("node \"%s\" of this zone cannot be reached and no other zone holds its shard %d: kv.docs cannot be read whole",
							node ? node->name : "?", shard)));
		}
	}
	for (int shard = 0; shard < nshards; shard++)
	{
		bool		seen = stand_in[shard] == 0;

		for (int i = 0; i < nnodes && !seen; i++)
			seen = nodes[i] == stand_in[shard];
		if (!seen)
			nodes[nnodes++] = stand_in[shard];
	}

	/* each stand-in gets the fragment narrowed to the shards it stands in for */
	INSTR_TIME_SET_CURRENT(sent);
	for (int i = 0; i < nnodes; i++)
	{
		StringInfoData sql;
		StringInfoData list;
		const GkvNodeInfo *node = GkvNodeById(nodes[i]);
		int			count = 0;

		initStringInfo(&list);
		for (int shard = 0; shard < nshards; shard++)
			if (stand_in[shard] == nodes[i])
			{
				appendStringInfo(&list, "%s%d", count > 0 ? "," : "", shard);
				count++;
			}
		counts[i] = count;
		/*
		 * The shard condition goes first in the WHERE clause: the planner
		 * joins conditions with AND, each in parentheses when it needs
		 * them, and whatever follows them (GROUP BY, ORDER BY, LIMIT)
		 * stays where it is.
		 */
		initStringInfo(&sql);
		appendBinaryStringInfo(&sql, fragment, where - fragment);
		appendStringInfo(&sql, GKV_DOCS_FRAGMENT_WHERE "(kv.key_shard(docs.namespace, docs.key)).shard"
						 " OPERATOR(pg_catalog.=) ANY ('{%s}'::pg_catalog.int4[]) AND %s",
						 list.data, where + strlen(GKV_DOCS_FRAGMENT_WHERE));
		ereport(NOTICE,
				(errmsg("kv.docs: %d shards of an unreachable node of this zone are read from node \"%s\" of zone \"%s\"",
						count, node ? node->name : "?", node ? node->zone : "?")));
		if (!GkvNodeSend(nodes[i], sql.data, 0, NULL))
			ereport(ERROR,
					(errcode(ERRCODE_GKV_NO_HOLDER),
					 errmsg("node \"%s\" cannot be reached either: kv.docs cannot be read whole",
							node ? node->name : "?")));
	}
	for (int i = 0; i < nnodes; i++)
	{
		const GkvNodeInfo *node = GkvNodeById(nodes[i]);
		PGresult   *res = GkvNodeReceive(nodes[i], GKV_WAIT_WHILE_IT_RUNS);

		if (res == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_GKV_NO_HOLDER),
					 errmsg("node \"%s\" dropped its connection while it read kv.docs",
							node ? node->name : "?")));
		StoreAndClear(res, nodes[i], fragment, counts[i], true, sent, reader, rsinfo);
	}
}

/*
 * BeginSignedCall: the SQL argument of globalkv.docs_fanout or
 * docs_repartition, after checking its signature; the result set is made,
 * with the columns the planner declared at the call.
 */
static char *
BeginSignedCall(FunctionCallInfo fcinfo, const char *function, RowReader *reader)
{
	char	   *sql;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("%s needs a query and its signature", function)));
	sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
	VerifyFragment(sql, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	RowReaderInit(reader, ((ReturnSetInfo *) fcinfo->resultinfo)->setDesc);
	return sql;
}

/*
 * ReceiveAnswers keeps the whole answer of each node that was sent the
 * fragment (not failed[]); a node whose connection broke before its whole
 * answer arrived is marked failed -- nothing of its answer is kept, its
 * outcome is unknown.
 */
static void
ReceiveAnswers(const int32 *nodes, int nnodes, bool *failed, const char *fragment,
			   instr_time sent, RowReader *reader, ReturnSetInfo *rsinfo)
{
	for (int i = 0; i < nnodes; i++)
	{
		PGresult   *res;

		if (failed[i])
			continue;
		res = GkvNodeReceive(nodes[i], GKV_WAIT_WHILE_IT_RUNS);
		if (res == NULL)
		{
			failed[i] = true;
			continue;
		}
		StoreAndClear(res, nodes[i], fragment, 0, false, sent, reader, rsinfo);
	}
}

/* set while a bucket of a repartitioned query runs here (docs_shared.h) */
static bool running_bucket = false;

bool
GkvDocsRunningBucket(void)
{
	return running_bucket;
}

/*
 * RunQueryHere runs a query on kv.docs in this backend, with kv.docs meaning
 * scope ("node": this node's placements; "zone": all of them, planned as a
 * bucket of a repartitioned query, with $1 = bucket and $2 = buckets), its
 * rows into the result.  Returns how many rows it gave.
 */
static uint64
RunQueryHere(const char *sql, const char *scope, int bucket, int buckets, RowReader *r,
			 ReturnSetInfo *rsinfo)
{
	Oid			argtypes[2] = {INT4OID, INT4OID};
	Datum		args[2] = {Int32GetDatum(bucket), Int32GetDatum(buckets)};
	int			nestlevel = NewGUCNestLevel();
	bool		was_bucket = running_bucket;
	uint64		rows;

	(void) set_config_option("globalkv.docs_scope", scope, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	running_bucket = strcmp(scope, "zone") == 0;
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if ((buckets == 0 ? SPI_execute(sql, true, 0) :
			 SPI_execute_with_args(sql, 2, argtypes, args, NULL, true, 0)) != SPI_OK_SELECT)
			elog(ERROR, "could not run a kv.docs fragment here");
		if (SPI_tuptable->tupdesc->natts != r->natts)
			elog(ERROR, "a kv.docs fragment returned %d columns instead of %d",
				 SPI_tuptable->tupdesc->natts, r->natts);
		for (uint64 row = 0; row < SPI_processed; row++)
		{
			for (int c = 0; c < r->natts; c++)
				r->values[c] = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, c + 1,
											 &r->nulls[c]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, r->values, r->nulls);
		}
		rows = SPI_processed;
		SPI_finish();
	}
	PG_FINALLY();
	{
		running_bucket = was_bucket;
	}
	PG_END_TRY();
	AtEOXact_GUC(true, nestlevel);
	return rows;
}

/* runs the fragment on this node's placements, into the result */
static void
RunHere(const char *fragment, RowReader *r, ReturnSetInfo *rsinfo)
{
	DocsExplainTask task = {GkvLocalNodeId(), true, false, 0, 0, 0, 0};
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	task.rows = RunQueryHere(fragment, "node", 0, 0, r, rsinfo);
	task.ms = MillisecondsSince(start);
	GkvDocsExplainTaskDone(fragment, &task);
}

/* the nodes of this zone holding placements, each once, in order of id */
static int
ZoneHolders(int32 *nodes)
{
	int			nshards = GkvShardCount();
	int			n = 0;

	for (int shard = 0; shard < nshards; shard++)
	{
		int32		holder = GkvShardHolderHere(shard);
		int			i;

		if (holder == 0)
			continue;
		for (i = 0; i < n && nodes[i] < holder; i++)
			;
		if (i < n && nodes[i] == holder)
			continue;
		memmove(&nodes[i + 1], &nodes[i], sizeof(int32) * (n - i));
		nodes[i] = holder;
		n++;
	}
	return n;
}

PG_FUNCTION_INFO_V1(gkv_docs_fanout);

/* globalkv.docs_fanout(fragment, signature): see the header */
Datum
gkv_docs_fanout(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RowReader	reader;
	char	   *fragment = BeginSignedCall(fcinfo, "globalkv.docs_fanout", &reader);
	int32		me = GkvLocalNodeId();
	int32	   *holders = palloc(sizeof(int32) * Max(GkvShardCount(), 1));
	int			nholders = ZoneHolders(holders);
	bool		here = false;
	bool	   *failed;
	instr_time	sent;

	/* this node's part runs here, not over a connection */
	for (int i = 0; i < nholders; i++)
		if (holders[i] == me)
		{
			here = true;
			memmove(&holders[i], &holders[i + 1], sizeof(int32) * (nholders - i - 1));
			nholders--;
			break;
		}

	GkvStatsAdd(GKV_STAT_DOCS_FANOUT, 1);
	GkvStatsAdd(GKV_STAT_DOCS_TASKS, nholders + (here ? 1 : 0));

	/* every other node starts at once; this node's part runs meanwhile */
	failed = palloc0(sizeof(bool) * Max(nholders, 1));
	INSTR_TIME_SET_CURRENT(sent);
	for (int i = 0; i < nholders; i++)
		failed[i] = !GkvNodeSend(holders[i], fragment, 0, NULL);
	if (here)
		RunHere(fragment, &reader, rsinfo);
	ReceiveAnswers(holders, nholders, failed, fragment, sent, &reader, rsinfo);
	for (int i = 0; i < nholders; i++)
		if (failed[i])
		{
			ReadElsewhere(fragment, holders, failed, nholders, &reader, rsinfo);
			break;
		}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(gkv_docs_repartition);

/*
 * globalkv.docs_repartition(query, signature): node i of the n nodes of
 * this zone holding placements runs the query with $1 = i, $2 = n through
 * globalkv.docs_bucket -- this node too, over a connection of its own, so
 * that every bucket runs at once and this backend's connections stay free.
 * A node that cannot be reached, or whose connection breaks, has its
 * bucket run here afterwards (its shards then come from other zones, as
 * any fan-out's would), with a NOTICE.
 */
Datum
gkv_docs_repartition(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RowReader	reader;
	char	   *query = BeginSignedCall(fcinfo, "globalkv.docs_repartition", &reader);
	int32	   *nodes = palloc(sizeof(int32) * Max(GkvShardCount(), 1));
	int			nnodes;
	bool	   *failed;
	StringInfoData call;
	instr_time	sent;

	/* SELECT * FROM globalkv.docs_bucket($1, $2, $3) AS b(c1 type, ...) */
	initStringInfo(&call);
	appendStringInfoString(&call, "SELECT * FROM globalkv.docs_bucket($1, $2::pg_catalog.int4, $3::pg_catalog.int4) AS b(");
	for (int c = 0; c < rsinfo->setDesc->natts; c++)
	{
		Form_pg_attribute att = TupleDescAttr(rsinfo->setDesc, c);

		appendStringInfo(&call, "%sc%d %s", c > 0 ? ", " : "", c + 1,
						 format_type_with_typemod(att->atttypid, att->atttypmod));
	}
	appendStringInfoChar(&call, ')');

	nnodes = ZoneHolders(nodes);
	GkvStatsAdd(GKV_STAT_DOCS_REPARTITION, 1);
	GkvStatsAdd(GKV_STAT_DOCS_TASKS, nnodes);
	failed = palloc0(sizeof(bool) * Max(nnodes, 1));
	INSTR_TIME_SET_CURRENT(sent);
	for (int i = 0; i < nnodes; i++)
	{
		const char *values[3] = {query, psprintf("%d", i), psprintf("%d", nnodes)};

		failed[i] = !GkvNodeSend(nodes[i], call.data, 3, values);
	}
	ReceiveAnswers(nodes, nnodes, failed, query, sent, &reader, rsinfo);
	for (int i = 0; i < nnodes; i++)
	{
		const GkvNodeInfo *node = GkvNodeById(nodes[i]);
		DocsExplainTask task = {GkvLocalNodeId(), true, true, 0, 0, 0, 0};
		instr_time	start;

		if (!failed[i])
			continue;
		ereport(NOTICE,
				(errmsg("kv.docs: bucket %d of %d of a repartitioned query runs here: node \"%s\" cannot be reached",
						i, nnodes, node ? node->name : "?")));
		INSTR_TIME_SET_CURRENT(start);
		task.rows = RunQueryHere(query, "zone", i, nnodes, &reader, rsinfo);
		task.ms = MillisecondsSince(start);
		GkvDocsExplainTaskDone(query, &task);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(gkv_docs_bucket);

/* globalkv.docs_bucket(query, bucket, buckets): a bucket of a repartitioned query, run here */
Datum
gkv_docs_bucket(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RowReader	reader;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_GETARG_INT32(2) < 1 ||
		PG_GETARG_INT32(1) < 0 || PG_GETARG_INT32(1) >= PG_GETARG_INT32(2))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("globalkv.docs_bucket needs a query and a bucket number below the number of buckets")));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	RowReaderInit(&reader, rsinfo->setDesc);
	(void) RunQueryHere(text_to_cstring(PG_GETARG_TEXT_PP(0)), "zone", PG_GETARG_INT32(1),
						PG_GETARG_INT32(2), &reader, rsinfo);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(gkv_docs_unplanned);

/* globalkv.docs_unplanned(): kv.docs read without globalkv's planner */
Datum
gkv_docs_unplanned(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("kv.docs was read by a plan globalkv's planner did not make"),
			 errdetail("This happens when kv.docs is used inside a SQL function that PostgreSQL inlines while planning."),
			 errhint("Query kv.docs in the statement itself, or make the function LANGUAGE plpgsql.")));
	PG_RETURN_NULL();
}
