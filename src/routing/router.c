/*-------------------------------------------------------------------------
 *
 * router.c
 *	  Server-side routing: a call for a key whose shard this node does not
 *	  hold is forwarded to the node of this zone that does; when that node
 *	  is down, to the shard's holder in the nearest other zone.
 *
 * Any node accepts any API call, so psql, pgbench and every Postgres
 * driver work against any node (docs/routing.md).  A forwarded call is the
 * same kv.* function, sent with its arguments as text over a libpq
 * connection this backend keeps open per node and prepares once per
 * statement shape.  The receiving session runs with globalkv.routing =
 * direct: a node there that does not hold the shard answers GK017 ("stale
 * shard map") instead of forwarding again, so a call is forwarded at most
 * once; on GK017 this node reloads its catalog and tries again (twice at
 * most).
 *
 * Errors of the remote call come back with the remote SQLSTATE, message,
 * detail and hint, with the node named in the error context.
 *
 * Transactions.  Calls are sent through this backend's connection cache
 * (src/connection/connection_cache.c): inside a transaction block a
 * forwarded call joins a remote transaction that commits and rolls back,
 * savepoints included, with the caller's.
 *
 * Failover.  A node that cannot be reached is marked down for a moment
 * (by the connection cache) and the call goes to the next candidate: the
 * shard's holders in the other zones, in globalkv.zone_order.  Reaching
 * another node is safe for any call whose request was not sent; once sent
 * and lost, only idempotent calls (put, get, delete, their batch forms) are
 * retried elsewhere; patch_numeric and put_if_version report SQLSTATE
 * 08007 (outcome unknown) rather than risk applying twice.
 *
 * src/routing/router.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "gkv_hash.h"

#include "globalkv/catalog.h"
#include "globalkv/connection.h"
#include "globalkv/errcodes.h"
#include "globalkv/guc.h"
#include "globalkv/metrics.h"
#include "globalkv/routing.h"

#define STALE_RETRIES 2
#define MAX_CANDIDATES 64

/*
 * GkvRouterWarmUp: while a shard this node holds is being moved away, a
 * backend serving it opens its connection to the move's target ahead of
 * time, so that the calls it forwards after the switch do not wait for a
 * connection to be made (part of the write stall a move causes).  Errors
 * are ignored: the forward itself will report them.
 */
void
GkvRouterWarmUp(int shard_id)
{
	int32		target = GkvShardMoveTargetFromMe(shard_id);

	if (target != 0)
		GkvNodeConnectAhead(target);
}

/* a zone's name, for gkv_sort_zones_by_rank */
static const char *
CatalogZoneName(int zone, const void *arg)
{
	return GkvZoneName(zone);
}

/*
 * GkvRouteCandidates lists, best first, the nodes that may serve a call
 * for the shard: its holder in this zone, then its holders in the other
 * zones in failover order.  This node is never listed.
 */
int
GkvRouteCandidates(int shard_id, int32 *nodes, int max_nodes)
{
	int			n = 0;
	int32		me = GkvLocalNodeId();
	int32		here = GkvShardHolderHere(shard_id);
	int			nzones = GkvZoneCount();
	int			order[MAX_CANDIDATES];
	int			nz = 0;
	const char *local_zone = GkvLocalZone();

	if (here != me && n < max_nodes)
		nodes[n++] = here;
	for (int z = 0; z < nzones && nz < MAX_CANDIDATES; z++)
		if (strcmp(GkvZoneName(z), local_zone) != 0)
			order[nz++] = z;
	/* the same failover order as the client library's (src/common) */
	gkv_sort_zones_by_rank(order, nz, GkvZoneOrder, CatalogZoneName, NULL);
	for (int i = 0; i < nz && n < max_nodes; i++)
	{
		int32		holder = GkvShardHolder(shard_id, order[i]);

		if (holder != 0 && holder != me)
			nodes[n++] = holder;
	}
	return n;
}

/*
 * GkvRejectStale raises GK017, naming this zone's holder of the shard: a
 * call arrived in direct mode (a forwarded call, or the client library) for
 * a shard this node does not hold, so the caller's shard map is stale.
 */
void
GkvRejectStale(int shard_id)
{
	const GkvNodeInfo *holder = GkvNodeById(GkvShardHolderHere(shard_id));

	ereport(ERROR,
			(errcode(ERRCODE_GKV_STALE_MAP),
			 errmsg("node %d does not hold shard %d of zone \"%s\"",
					GkvLocalNodeId(), shard_id, GkvLocalZone()),
			 holder ? errdetail("Node \"%s\" (id %d) holds it.", holder->name, holder->node_id) : 0,
			 errhint("Refresh the shard map (kv.shard_map()) and send the call there.")));
}

/* ----------------------------------------------------------------
 * Forwarding one API call
 * ----------------------------------------------------------------
 */

/* the statement that repeats a call of the function on another node */
static char *
ForwardSql(Oid fn_oid, int nargs, bool retset)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	Form_pg_proc proc;
	StringInfoData buf;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fn_oid);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT %s%s.%s(", retset ? "* FROM " : "",
					 quote_identifier(get_namespace_name(proc->pronamespace)),
					 quote_identifier(NameStr(proc->proname)));
	for (int i = 0; i < nargs; i++)
		appendStringInfo(&buf, "%s$%d::%s", i > 0 ? ", " : "", i + 1,
						 format_type_be(proc->proargtypes.values[i]));
	appendStringInfoChar(&buf, ')');
	ReleaseSysCache(tup);
	return buf.data;
}

static Datum
TextToDatum(const char *s, Oid type, int32 typmod)
{
	Oid			input;
	Oid			ioparam;

	getTypeInputInfo(type, &input, &ioparam);
	return OidInputFunctionCall(input, (char *) s, ioparam, typmod);
}

/* ForwardedResult turns the remote result into this call's result */
static Datum
ForwardedResult(FunctionCallInfo fcinfo, PGresult *res)
{
	if (fcinfo->flinfo->fn_retset)
	{
		ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
		TupleDesc	desc;

		InitMaterializedSRF(fcinfo, 0);
		desc = rsinfo->setDesc;
		if (PQnfields(res) != desc->natts)
			elog(ERROR, "forwarded call returned %d columns, expected %d",
				 PQnfields(res), desc->natts);
		for (int row = 0; row < PQntuples(res); row++)
		{
			Datum	   *values = palloc(sizeof(Datum) * desc->natts);
			bool	   *nulls = palloc(sizeof(bool) * desc->natts);

			for (int col = 0; col < desc->natts; col++)
			{
				Form_pg_attribute att = TupleDescAttr(desc, col);

				nulls[col] = PQgetisnull(res, row, col);
				values[col] = nulls[col] ? (Datum) 0 :
					TextToDatum(PQgetvalue(res, row, col), att->atttypid, att->atttypmod);
			}
			tuplestore_putvalues(rsinfo->setResult, desc, values, nulls);
		}
		return (Datum) 0;
	}
	if (PQntuples(res) != 1 || PQnfields(res) != 1)
		elog(ERROR, "forwarded call returned an unexpected result shape");
	if (PQgetisnull(res, 0, 0))
	{
		fcinfo->isnull = true;
		return (Datum) 0;
	}
	return TextToDatum(PQgetvalue(res, 0, 0), get_func_rettype(fcinfo->flinfo->fn_oid), -1);
}

/*
 * What forwarding a function needs, worked out once per call site and kept
 * in fn_extra: the statement, and the argument output functions.
 */
typedef struct ForwardPlan
{
	char	   *sql;
	FmgrInfo   *out;
} ForwardPlan;

static ForwardPlan *
GetForwardPlan(FunctionCallInfo fcinfo)
{
	ForwardPlan *plan = (ForwardPlan *) fcinfo->flinfo->fn_extra;
	MemoryContext old;
	int			nargs = PG_NARGS();

	if (plan != NULL)
		return plan;
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	plan = palloc0(sizeof(ForwardPlan));
	plan->sql = ForwardSql(fcinfo->flinfo->fn_oid, nargs, fcinfo->flinfo->fn_retset);
	plan->out = palloc0(sizeof(FmgrInfo) * (nargs + 1));
	for (int i = 0; i < nargs; i++)
	{
		Oid			output;
		bool		varlena;

		getTypeOutputInfo(get_fn_expr_argtype(fcinfo->flinfo, i), &output, &varlena);
		fmgr_info(output, &plan->out[i]);
	}
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = plan;
	return plan;
}

/*
 * GkvForwardCall sends the current call to the node serving its shard and
 * returns that node's answer as its own.  'idempotent': the call may be
 * repeated on another node when the first one was lost after sending.
 */
Datum
GkvForwardCall(FunctionCallInfo fcinfo, int shard_id, bool idempotent)
{
	int			nargs = PG_NARGS();
	const char **values = palloc0(sizeof(char *) * (nargs + 1));
	ForwardPlan *plan = GetForwardPlan(fcinfo);
	char	   *sql = plan->sql;
	StringInfoData tried;

	if (GkvRouting == GKV_ROUTING_DIRECT)
		GkvRejectStale(shard_id);

	for (int i = 0; i < nargs; i++)
		if (!PG_ARGISNULL(i))
			values[i] = OutputFunctionCall(&plan->out[i], PG_GETARG_DATUM(i));

	initStringInfo(&tried);
	for (int attempt = 0; attempt <= STALE_RETRIES; attempt++)
	{
		int32		nodes[MAX_CANDIDATES];
		int			n = GkvRouteCandidates(shard_id, nodes, MAX_CANDIDATES);
		bool		stale = false;

		for (int c = 0; c < n && !stale; c++)
		{
			const GkvNodeInfo *node = GkvNodeById(nodes[c]);
			PGresult   *res;
			MemoryContext cxt = CurrentMemoryContext;

			if (node == NULL)
				continue;
			appendStringInfo(&tried, "%s\"%s\"", tried.len > 0 ? ", " : "", node->name);
			if (!GkvNodeSend(nodes[c], sql, nargs, values))
				continue;		/* not sent: try the next candidate */
			PG_TRY();
			{
				res = GkvNodeReceive(nodes[c], GkvForwardTimeoutMs);
			}
			PG_CATCH();
			{
				ErrorData  *edata;

				MemoryContextSwitchTo(cxt);
				edata = CopyErrorData();
				if (edata->sqlerrcode != ERRCODE_GKV_STALE_MAP || attempt == STALE_RETRIES)
					PG_RE_THROW();
				FlushErrorState();
				FreeErrorData(edata);
				res = NULL;
				stale = true;
			}
			PG_END_TRY();
			if (stale)
				break;
			if (res == NULL)
			{
				if (!idempotent)
					ereport(ERROR,
							(errcode(ERRCODE_TRANSACTION_RESOLUTION_UNKNOWN),
							 errmsg("lost the connection to node \"%s\" after forwarding the call to it",
									node->name),
							 errdetail("The call may or may not have taken effect there."),
							 errhint("Read the document to find out before repeating the call.")));
				continue;
			}
			{
				Datum		d = ForwardedResult(fcinfo, res);

				PQclear(res);
				GkvStatsAdd(GKV_STAT_FORWARDS, 1);
				if (c > 0)		/* the first choice could not answer */
					GkvStatsAdd(GKV_STAT_FAILOVERS, 1);
				return d;
			}
		}
		if (!stale)
			break;
		/* the node we chose says another holds the shard: reload, retry */
		GkvCatalogInvalidate();
	}
	ereport(ERROR,
			(errcode(ERRCODE_GKV_NO_HOLDER),
			 errmsg("no node holding shard %d can be reached", shard_id),
			 tried.len > 0 ? errdetail("Tried %s.", tried.data) :
			 errdetail("No zone has a node for it.")));
	return (Datum) 0;
}

/* ----------------------------------------------------------------
 * Forwarding the remote part of a batch call
 * ----------------------------------------------------------------
 */

/*
 * A batch call (put_many, get_many) whose keys live on several nodes is
 * split: each node gets the same function with every array argument cut
 * down to its keys, all nodes at once (GkvBatchForwardStart sends, the
 * caller does its local part, GkvBatchForwardFinish collects).  Results
 * come back per position in the caller's arrays.  Batch calls are
 * idempotent, so a lost node's keys are resent to their next candidate.
 */
/* where one key of a forwarded batch is */
typedef enum BatchItemState
{
	BATCH_ITEM_PENDING,			/* not sent yet, or to be sent again */
	BATCH_ITEM_SENT,			/* sent to a node, answer not read */
	BATCH_ITEM_DONE				/* answered */
} BatchItemState;

struct GkvBatchForward
{
	FunctionCallInfo fcinfo;
	char	   *sql;
	int			npos;
	int		   *pos;			/* caller positions forwarded */
	int		   *shard;
	int		   *attempt;		/* candidate index in use, per position */
	int		   *group;			/* group of a position in the current round */
	int32	   *node_of_group;
	bool	   *group_sent;		/* the group's request went out */
	BatchItemState *state;		/* per position */
	int			ngroups;
	int			stale_retries;
	char	  **out;			/* per caller position: column 2 of its row */
	int			nout;
};

/* the node that serves position i now, or 0 when none is left */
static int32
BatchCandidate(GkvBatchForward *b, int i)
{
	int32		nodes[MAX_CANDIDATES];
	int			n = GkvRouteCandidates(b->shard[i], nodes, MAX_CANDIDATES);

	return b->attempt[i] < n ? nodes[b->attempt[i]] : 0;
}

/* the array argument cut down to the positions of one group */
static Datum
SubArray(GkvBatchForward *b, int argno, int g)
{
	ArrayType  *arr = DatumGetArrayTypeP(b->fcinfo->args[argno].value);
	Oid			elemtype = ARR_ELEMTYPE(arr);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Datum	   *sub = palloc(sizeof(Datum) * (b->npos + 1));
	bool	   *subnulls = palloc(sizeof(bool) * (b->npos + 1));
	int			k = 0;
	int			dims[1];
	int			lbs[1] = {1};

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
	for (int i = 0; i < b->npos; i++)
		if (b->group[i] == g && b->pos[i] < n)
		{
			sub[k] = elems[b->pos[i]];
			subnulls[k++] = nulls[b->pos[i]];
		}
	dims[0] = k;
	return PointerGetDatum(construct_md_array(sub, subnulls, 1, dims, lbs,
											  elemtype, typlen, typbyval, typalign));
}

/*
 * SendRound sends every pending position to its current candidate,
 * grouped by node.  A group that cannot be sent moves its positions on to
 * their next candidate; they stay pending for the next round.
 */
static void
SendRound(GkvBatchForward *b)
{
	int			nargs = b->fcinfo->nargs;

	b->ngroups = 0;
	for (int i = 0; i < b->npos; i++)
	{
		int32		node;
		int			g;

		b->group[i] = -1;
		if (b->state[i] != BATCH_ITEM_PENDING)
			continue;
		node = BatchCandidate(b, i);
		if (node == 0)
			ereport(ERROR,
					(errcode(ERRCODE_GKV_NO_HOLDER),
					 errmsg("no node holding shard %d can be reached", b->shard[i])));
		for (g = 0; g < b->ngroups; g++)
			if (b->node_of_group[g] == node)
				break;
		if (g == b->ngroups)
			b->node_of_group[b->ngroups++] = node;
		b->group[i] = g;
	}
	for (int g = 0; g < b->ngroups; g++)
	{
		const char **values = palloc0(sizeof(char *) * (nargs + 1));

		for (int a = 0; a < nargs; a++)
		{
			Oid			type = get_fn_expr_argtype(b->fcinfo->flinfo, a);
			Oid			output;
			bool		varlena;
			Datum		d;

			if (b->fcinfo->args[a].isnull)
				continue;
			d = type_is_array(type) ? SubArray(b, a, g) : b->fcinfo->args[a].value;
			getTypeOutputInfo(type, &output, &varlena);
			values[a] = OidOutputFunctionCall(output, d);
		}
		b->group_sent[g] = GkvNodeSend(b->node_of_group[g], b->sql, nargs, values);
		for (int i = 0; i < b->npos; i++)
			if (b->group[i] == g)
			{
				if (b->group_sent[g])
					b->state[i] = BATCH_ITEM_SENT;
				else
					b->attempt[i]++;
			}
	}
}

GkvBatchForward *
GkvBatchForwardStart(FunctionCallInfo fcinfo, int nout, int npos, const int *pos,
					 const int *shard)
{
	GkvBatchForward *b = palloc0(sizeof(GkvBatchForward));

	if (GkvRouting == GKV_ROUTING_DIRECT)
		GkvRejectStale(shard[0]);
	b->fcinfo = fcinfo;
	b->sql = ForwardSql(fcinfo->flinfo->fn_oid, fcinfo->nargs, true);
	b->npos = npos;
	b->pos = palloc(sizeof(int) * (npos + 1));
	b->shard = palloc(sizeof(int) * (npos + 1));
	memcpy(b->pos, pos, sizeof(int) * npos);
	memcpy(b->shard, shard, sizeof(int) * npos);
	b->attempt = palloc0(sizeof(int) * (npos + 1));
	b->group = palloc0(sizeof(int) * (npos + 1));
	b->node_of_group = palloc0(sizeof(int32) * (npos + 1));
	b->group_sent = palloc0(sizeof(bool) * (npos + 1));
	b->state = palloc(sizeof(BatchItemState) * (npos + 1));
	for (int i = 0; i < npos; i++)
		b->state[i] = BATCH_ITEM_PENDING;
	b->out = palloc0(sizeof(char *) * (nout + 1));
	b->nout = nout;
	SendRound(b);
	return b;
}

/*
 * GkvBatchForwardFinish collects every node's answer; returns, per caller
 * position, the second column of its row (NULL for SQL NULL and for
 * positions served locally).
 */
char	  **
GkvBatchForwardFinish(GkvBatchForward *b)
{
	for (;;)
	{
		bool		pending = false;

		for (int g = 0; g < b->ngroups; g++)
		{
			MemoryContext cxt = CurrentMemoryContext;
			PGresult   *volatile res = NULL;
			volatile bool stale = false;
			int			row = 0;

			if (!b->group_sent[g])
				continue;
			PG_TRY();
			{
				res = GkvNodeReceive(b->node_of_group[g], GkvForwardTimeoutMs);
			}
			PG_CATCH();
			{
				ErrorData  *edata;

				MemoryContextSwitchTo(cxt);
				edata = CopyErrorData();
				if (edata->sqlerrcode != ERRCODE_GKV_STALE_MAP || b->stale_retries >= STALE_RETRIES)
					PG_RE_THROW();
				FlushErrorState();
				FreeErrorData(edata);
				stale = true;
			}
			PG_END_TRY();
			if (stale)
			{
				/* the node says another holds the shard: reload, resend */
				b->stale_retries++;
				GkvCatalogInvalidate();
			}
			for (int i = 0; i < b->npos; i++)
			{
				if (b->group[i] != g || b->state[i] != BATCH_ITEM_SENT)
					continue;
				if (res == NULL)
				{
					b->state[i] = BATCH_ITEM_PENDING;
					if (!stale)
						b->attempt[i]++;	/* lost: the next candidate */
					continue;
				}
				if (row >= PQntuples(res))
					elog(ERROR, "forwarded batch returned too few rows");
				b->out[b->pos[i]] = PQgetisnull(res, row, 1) ? NULL :
					pstrdup(PQgetvalue(res, row, 1));
				b->state[i] = BATCH_ITEM_DONE;
				row++;
			}
			if (res)
				PQclear(res);
		}
		for (int i = 0; i < b->npos; i++)
			pending |= b->state[i] == BATCH_ITEM_PENDING;
		if (!pending)
			return b->out;
		SendRound(b);
	}
}

/* ----------------------------------------------------------------
 * The shard map, for the client library
 * ----------------------------------------------------------------
 */

/* value of one conninfo keyword, "" when absent; tabs and newlines dropped */
static void
AppendConninfoValue(StringInfo buf, PQconninfoOption *opts, const char *keyword)
{
	for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
	{
		if (strcmp(o->keyword, keyword) != 0 || o->val == NULL)
			continue;
		for (const char *c = o->val; *c; c++)
			if (*c != '\t' && *c != '\n' && *c != '\r')
				appendStringInfoChar(buf, *c);
	}
}

PG_FUNCTION_INFO_V1(gkv_shard_map);

/*
 * kv.shard_map() -> text, in the format of docs/routing.md.  Host, port
 * and database come from each node's connection string; nothing else of
 * it (user, passfile, ...) is shown.
 */
Datum
gkv_shard_map(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	int			nshards = GkvShardCount();
	int			nzones = GkvZoneCount();

	initStringInfo(&buf);
	appendStringInfo(&buf, "globalkv shard map 1\nshards\t%d\nzone\t%s\n", nshards, GkvLocalZone());
	for (int i = 0; i < GkvNodeCount(); i++)
	{
		const GkvNodeInfo *n = GkvNodeByIndex(i);
		char	   *err = NULL;
		PQconninfoOption *opts = PQconninfoParse(n->conninfo, &err);

		if (err)
			PQfreemem(err);
		appendStringInfo(&buf, "node\t%d\t%s\t%s\t", n->node_id, n->name, n->zone);
		AppendConninfoValue(&buf, opts, "host");
		appendStringInfoChar(&buf, '\t');
		AppendConninfoValue(&buf, opts, "port");
		appendStringInfoChar(&buf, '\t');
		AppendConninfoValue(&buf, opts, "dbname");
		appendStringInfoChar(&buf, '\n');
		if (opts)
			PQconninfoFree(opts);
	}
	for (int s = 0; s < nshards; s++)
		for (int z = 0; z < nzones; z++)
		{
			int32		holder = GkvShardHolder(s, z);

			if (holder != 0)
				appendStringInfo(&buf, "placement\t%d\t%s\t%d\n", s, GkvZoneName(z), holder);
		}
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}

/* ----------------------------------------------------------------
 * Catalog names another node knows first
 *
 * A namespace or expiry policy created on one node reaches the others
 * through the catalog stream, milliseconds later.  A call that arrives in
 * between -- forwarded by the node that created it, or sent straight here
 * by a client that just created it elsewhere -- must not fail with "does
 * not exist".  So a name this node does not know is not reported at once:
 * GkvAwaitCatalogName asks every other node of the parade, in parallel,
 * whether the name exists there; if one says yes, this node waits (at
 * most globalkv.catalog_catchup_timeout) until its own catalog has it,
 * which the stream brings (the creating commit woke the pulls waiting on
 * it).  Only a name no reachable node knows is reported as unknown.  The
 * hot path pays nothing: this runs only when a name is not found.
 * ----------------------------------------------------------------
 */

static bool
CatalogNameKnownHere(GkvCatalogNameKind kind, const char *name)
{
	return kind == GKV_CATALOG_NAMESPACE ? GkvNamespaceExists(name) : GkvFindPolicy(name) != NULL;
}

/*
 * GkvAwaitCatalogName returns true once this node's catalog has the name,
 * false when no other reachable node has it either (or it did not arrive in
 * time).  Unreachable nodes count as not knowing it.
 */
bool
GkvAwaitCatalogName(GkvCatalogNameKind kind, const char *name)
{
	const char *sql = kind == GKV_CATALOG_NAMESPACE
		? "SELECT 1 FROM globalkv.namespaces WHERE name = $1 AND NOT dropped"
		: "SELECT 1 FROM globalkv.expiry_policies WHERE name = $1 AND NOT dropped";
	int32		me = GkvLocalNodeId();
	int			nnodes = GkvNodeCount();
	int32	   *asked = palloc(sizeof(int32) * Max(nnodes, 1));
	int			nasked = 0;
	bool		known_elsewhere = false;
	TimestampTz deadline;

	for (int i = 0; i < nnodes; i++)
	{
		int32		id = GkvNodeByIndex(i)->node_id;

		if (id != me && GkvNodeSend(id, sql, 1, &name))
			asked[nasked++] = id;
	}
	for (int i = 0; i < nasked; i++)
	{
		PGresult   *res = GkvNodeReceive(asked[i], GkvForwardTimeoutMs);

		if (res != NULL && PQntuples(res) > 0)
			known_elsewhere = true;
		if (res != NULL)
			PQclear(res);
	}
	pfree(asked);
	if (!known_elsewhere)
		return false;

	ereport(DEBUG1,
			(errmsg("globalkv: %s \"%s\" is known elsewhere in the parade, waiting for it to arrive",
					kind == GKV_CATALOG_NAMESPACE ? "namespace" : "expiry policy", name)));
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), GkvCatalogCatchupTimeoutMs);
	while (!CatalogNameKnownHere(kind, name))
	{
		if (GetCurrentTimestamp() >= deadline)
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 2,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return true;
}
