/*-------------------------------------------------------------------------
 *
 * connection_cache.c
 *	  This backend's connections to the other nodes of the parade: one per
 *	  node, kept open, its remote transaction in step with ours.
 *
 * Routing forwards calls through it, and so will every other piece that
 * runs statements on other nodes inside a client's transaction (shard
 * moves, the distributed executor).  A connection is made on first use and
 * kept for the backend's life; statements sent on it are prepared once per
 * text (at most MAX_PREPARED per connection, then sent unprepared).
 *
 * Transactions.  Outside a transaction block a statement commits on its
 * node when it returns, like any single statement.  Inside one (BEGIN ...
 * COMMIT) the first statement sent to a node opens a transaction there,
 * which commits when ours commits (before it, so a failure aborts ours
 * too) and rolls back when ours rolls back; its savepoints follow ours
 * (NodeSubXactCallback), so ROLLBACK TO SAVEPOINT undoes what was sent
 * inside it too.  This is not a two-phase commit: if a node fails between
 * the remote COMMIT and the local one, the remote part stays committed.
 *
 * Unreachable nodes.  A node that cannot be reached, or whose connection
 * breaks, is marked down for NODE_DOWN_MS: GkvNodeSend returns false for
 * it at once, so a caller with other candidates (routing's failover) does
 * not wait for a connect timeout on every call.  Errors of class 08 are
 * absorbed that way only outside a remote transaction, which cannot move
 * to another node.
 *
 * src/connection/connection_cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "globalkv/catalog.h"
#include "globalkv/connection.h"
#include "globalkv/errcodes.h"
#include "globalkv/guc.h"

#define NODE_DOWN_MS 2000
#define CONNECT_TIMEOUT_MS 5000
#define MAX_PREPARED 64			/* statements prepared per connection */

/*
 * The sessions serve another node: calls for shards held elsewhere are
 * refused, not forwarded again (routing=direct); kv.docs means that node's
 * placements (docs_scope=node); values print in one unambiguous form, as
 * postgres_fdw sets them.
 */
#define SESSION_OPTIONS \
	"-c globalkv.routing=direct -c globalkv.docs_scope=node" \
	" -c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3"

/* one other node, as this backend talks to it */
typedef struct RemoteNode
{
	int32		node_id;
	char		name[64];
	char	   *conninfo;		/* the conninfo the connection was made with */
	PGconn	   *conn;
	TimestampTz down_until;
	bool		in_xact;		/* a remote transaction is open for ours */
	int			xact_depth;		/* our nesting level its savepoints mirror */
	bool		busy;			/* a request was sent, its result not read */
	int			nprepared;
	char	  **prepared;		/* statement texts prepared on conn */
	char	  **prepared_names; /* and their names, "gkv_fwd_<index>" */
} RemoteNode;

static RemoteNode *Remotes = NULL;
static int	NumRemotes = 0;
static int	MaxRemotes = 0;
static bool XactCallbackRegistered = false;

/*
 * A rolled-back savepoint could not be rolled back on a node: that node's
 * part of the transaction no longer matches ours, so ours must not commit.
 * Holds the node's name; empty when all is well.
 */
static char RemoteXactLost[64] = "";

static void
Disconnect(RemoteNode *r)
{
	/*
	 * A request still running there (our statement was cancelled, timed
	 * out or failed) is cancelled first: closing the connection alone
	 * would leave it running until it next tries to send a row.
	 */
	if (r->conn != NULL && r->busy)
	{
		PGcancel   *cancel = PQgetCancel(r->conn);
		char		errbuf[256];

		if (cancel != NULL)
		{
			if (!PQcancel(cancel, errbuf, sizeof(errbuf)))
				ereport(LOG,
						(errmsg("globalkv: could not cancel a statement on node \"%s\": %s",
								r->name, errbuf)));
			PQfreeCancel(cancel);
		}
	}
	if (r->conn != NULL)
		GkvRemoteDisconnect(r->conn);
	r->conn = NULL;
	r->in_xact = false;
	r->xact_depth = 0;
	r->busy = false;
	for (int i = 0; i < r->nprepared; i++)
	{
		pfree(r->prepared[i]);
		if (r->prepared_names[i])
			pfree(r->prepared_names[i]);
		r->prepared_names[i] = NULL;
	}
	r->nprepared = 0;
}

static void
MarkDown(RemoteNode *r)
{
	Disconnect(r);
	r->down_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), NODE_DOWN_MS);
}

/*
 * NodeXactCallback commits the remote transactions opened for a
 * transaction block just before the local commit, and drops them (the
 * node rolls back when the connection closes) on abort.
 */
static void
NodeXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_COMMIT && RemoteXactLost[0] != '\0')
	{
		char		node[64];

		strlcpy(node, RemoteXactLost, sizeof(node));
		RemoteXactLost[0] = '\0';
		ereport(ERROR,
				(errcode(ERRCODE_TRANSACTION_RESOLUTION_UNKNOWN),
				 errmsg("cannot commit: a rolled-back savepoint could not be rolled back on node \"%s\"", node),
				 errdetail("Calls forwarded to that node inside the savepoint might otherwise stay.")));
	}
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
		RemoteXactLost[0] = '\0';
	for (int i = 0; i < NumRemotes; i++)
	{
		RemoteNode *r = &Remotes[i];

		/* an error between a send and its receive leaves a result behind */
		if (r->busy && (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT))
			Disconnect(r);
		if (!r->in_xact)
			continue;
		if (event == XACT_EVENT_PRE_COMMIT)
		{
			r->in_xact = false;
			PQclear(GkvRemoteQuery(r->conn, r->name, "COMMIT", 0, NULL, 0, GkvForwardTimeoutMs));
		}
		else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
			Disconnect(r);
	}
}

/*
 * NodeSubXactCallback keeps each remote transaction's savepoints in step
 * with ours (as postgres_fdw does): a savepoint is opened on a node the
 * first time a call is forwarded there inside it (EnsureSavepoints),
 * released with ours, and rolled back with ours -- so a forwarded write
 * inside SAVEPOINT ... ROLLBACK TO, or inside a PL/pgSQL block that caught
 * an error, is undone on its node too.  A node where the rollback fails
 * makes the whole transaction fail at commit (RemoteXactLost): never a
 * write silently kept.
 */
static void
NodeSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();

	if (event != SUBXACT_EVENT_PRE_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
		return;
	for (int i = 0; i < NumRemotes; i++)
	{
		RemoteNode *r = &Remotes[i];
		char		sql[96];

		if (!r->in_xact || r->xact_depth < level)
			continue;
		if (event == SUBXACT_EVENT_PRE_COMMIT_SUB)
		{
			snprintf(sql, sizeof(sql), "RELEASE SAVEPOINT gkv_s%d", level);
			PQclear(GkvRemoteQuery(r->conn, r->name, sql, 0, NULL, 0, GkvForwardTimeoutMs));
		}
		else
		{
			snprintf(sql, sizeof(sql), "ROLLBACK TO SAVEPOINT gkv_s%d; RELEASE SAVEPOINT gkv_s%d",
					 level, level);
			if (r->busy || !GkvRemoteCommandQuietly(r->conn, sql, GkvForwardTimeoutMs))
			{
				strlcpy(RemoteXactLost, r->name, sizeof(RemoteXactLost));
				Disconnect(r);
				continue;
			}
		}
		r->xact_depth = level - 1;
	}
}

/*
 * EnsureSavepoints opens, on r's remote transaction, a savepoint for each
 * of our subtransaction levels it does not mirror yet.
 */
static void
EnsureSavepoints(RemoteNode *r)
{
	int			level = GetCurrentTransactionNestLevel();

	while (r->xact_depth < level)
	{
		char		sql[64];

		snprintf(sql, sizeof(sql), "SAVEPOINT gkv_s%d", r->xact_depth + 1);
		PQclear(GkvRemoteQuery(r->conn, r->name, sql, 0, NULL, 0, GkvForwardTimeoutMs));
		r->xact_depth++;
	}
}

static void
RegisterCallbacksOnce(void)
{
	if (!XactCallbackRegistered)
	{
		RegisterXactCallback(NodeXactCallback, NULL);
		RegisterSubXactCallback(NodeSubXactCallback, NULL);
		XactCallbackRegistered = true;
	}
}

static RemoteNode *
GetRemote(const GkvNodeInfo *node)
{
	RemoteNode *r = NULL;

	for (int i = 0; i < NumRemotes; i++)
		if (Remotes[i].node_id == node->node_id)
			r = &Remotes[i];
	if (r == NULL)
	{
		if (NumRemotes == MaxRemotes)
		{
			MaxRemotes = Max(8, MaxRemotes * 2);
			Remotes = Remotes == NULL ?
				MemoryContextAllocZero(TopMemoryContext, sizeof(RemoteNode) * MaxRemotes) :
				repalloc(Remotes, sizeof(RemoteNode) * MaxRemotes);
			memset(&Remotes[NumRemotes], 0, sizeof(RemoteNode) * (MaxRemotes - NumRemotes));
		}
		r = &Remotes[NumRemotes++];
		r->node_id = node->node_id;
		r->prepared = MemoryContextAllocZero(TopMemoryContext, sizeof(char *) * MAX_PREPARED);
		r->prepared_names = MemoryContextAllocZero(TopMemoryContext, sizeof(char *) * MAX_PREPARED);
	}
	strlcpy(r->name, node->name, sizeof(r->name));
	if (r->conninfo == NULL || strcmp(r->conninfo, node->conninfo) != 0)
	{
		if (r->in_xact)
			ereport(ERROR,
					(errcode(ERRCODE_GKV_STALE_MAP),
					 errmsg("the connection string of node \"%s\" changed during this transaction",
							node->name)));
		Disconnect(r);
		if (r->conninfo)
			pfree(r->conninfo);
		r->conninfo = MemoryContextStrdup(TopMemoryContext, node->conninfo);
	}
	return r;
}

/* is this error one of a broken or unreachable connection (class 08)? */
static bool
IsConnectionError(int sqlerrcode)
{
	return ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_CONNECTION_EXCEPTION;
}

/*
 * AbsorbConnectionError, in a PG_CATCH around talking to r: an error of a
 * broken or unreachable connection (class 08) is logged and swallowed and
 * the node marked down, so the caller can try another node; any other
 * error, or any error inside a remote transaction (which cannot move to
 * another node), is re-thrown.
 */
static void
AbsorbConnectionError(RemoteNode *r, MemoryContext cxt, const char *what)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	if (!IsConnectionError(edata->sqlerrcode) || r->in_xact)
		PG_RE_THROW();
	FlushErrorState();
	ereport(LOG,
			(errmsg("globalkv: node \"%s\" %s; routing around it for %d ms",
					r->name, what, NODE_DOWN_MS),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0));
	FreeErrorData(edata);
	MarkDown(r);
}

/*
 * Connect makes sure r has a working connection, with a remote transaction
 * open when the caller is in a transaction block.  Returns false, with the
 * node marked down, when the node cannot be reached; the request has not
 * been sent then.  Other errors are raised.
 */
static bool
Connect(RemoteNode *r)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	if (r->conn != NULL && PQstatus(r->conn) != CONNECTION_OK)
	{
		if (r->in_xact)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("lost the connection to node \"%s\" inside a transaction", r->name)));
		Disconnect(r);
	}
	if (r->conn != NULL && r->in_xact)
	{
		EnsureSavepoints(r);
		return true;
	}
	if (r->conn != NULL && !IsTransactionBlock())
		return true;
	if (r->conn == NULL && r->down_until > GetCurrentTimestamp())
		return false;

	PG_TRY();
	{
		if (r->conn == NULL)
		{
			char		appname[NAMEDATALEN];

			snprintf(appname, sizeof(appname), "globalkv router of node %d", GkvLocalNodeId());
			r->conn = GkvRemoteConnect(r->conninfo, r->name, appname,
									   SESSION_OPTIONS, CONNECT_TIMEOUT_MS);
		}
		if (IsTransactionBlock() && !r->in_xact)
		{
			PQclear(GkvRemoteQuery(r->conn, r->name, "BEGIN", 0, NULL, 0, GkvForwardTimeoutMs));
			r->in_xact = true;
			r->xact_depth = 1;
		}
	}
	PG_CATCH();
	{
		AbsorbConnectionError(r, cxt, "is unreachable");
		ok = false;
	}
	PG_END_TRY();
	if (ok && r->in_xact)
		EnsureSavepoints(r);
	return ok;
}

/*
 * Prepared returns the name of the statement prepared for sql on r,
 * preparing it first if needed, or NULL when r has no room for another
 * (then sql is sent unprepared).  The name lives as long as r's
 * connection (Disconnect frees it).
 */
static const char *
Prepared(RemoteNode *r, const char *sql)
{
	int			i;

	for (i = 0; i < r->nprepared; i++)
		if (strcmp(r->prepared[i], sql) == 0)
			return r->prepared_names[i];
	if (r->nprepared == MAX_PREPARED)
		return NULL;			/* unusual: send it unprepared */
	r->prepared_names[i] = MemoryContextStrdup(TopMemoryContext, psprintf("gkv_fwd_%d", i));
	GkvRemotePrepare(r->conn, r->name, r->prepared_names[i], sql, GkvForwardTimeoutMs);
	r->prepared[r->nprepared++] = MemoryContextStrdup(TopMemoryContext, sql);
	return r->prepared_names[i];
}

/*
 * GkvNodeSend sends sql with text parameters to a node.  Returns false,
 * with the node marked down, when the node could not be reached or the
 * request could not be sent (the node did not get it).
 */
bool
GkvNodeSend(int32 node_id, const char *sql, int nparams, const char *const *values)
{
	const GkvNodeInfo *node = GkvNodeById(node_id);
	RemoteNode *r;
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	if (node == NULL)
		return false;
	RegisterCallbacksOnce();
	r = GetRemote(node);
	if (!Connect(r))
		return false;
	PG_TRY();
	{
		const char *stmt = Prepared(r, sql);

		GkvRemoteSend(r->conn, r->name, stmt, sql, nparams, values, 0);
		r->busy = true;
	}
	PG_CATCH();
	{
		AbsorbConnectionError(r, cxt, "could not be sent a forwarded call");
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * GkvNodeReceive returns the result of the request sent last to the node
 * (the caller PQclears it).  Remote errors are raised with their SQLSTATE.
 * When the connection broke after the request went out, returns NULL and
 * marks the node down: the outcome is unknown.  timeout_ms bounds the wait
 * (GkvForwardTimeoutMs for a forwarded call); GKV_WAIT_WHILE_IT_RUNS waits
 * as long as the statement runs here, for work as long as the query's own
 * (a kv.docs fragment, a bucket, an index build).
 */
PGresult *
GkvNodeReceive(int32 node_id, long timeout_ms)
{
	RemoteNode *r = NULL;
	MemoryContext cxt = CurrentMemoryContext;
	PGresult   *volatile res = NULL;

	for (int i = 0; i < NumRemotes; i++)
		if (Remotes[i].node_id == node_id)
			r = &Remotes[i];
	if (r == NULL || r->conn == NULL)
		elog(ERROR, "globalkv: nothing was sent to node %d", node_id);
	PG_TRY();
	{
		res = GkvRemoteReceive(r->conn, r->name, timeout_ms);
		r->busy = false;
	}
	PG_CATCH();
	{
		AbsorbConnectionError(r, cxt, "dropped the connection during a forwarded call");
		res = NULL;
	}
	PG_END_TRY();
	return res;
}

/*
 * GkvNodeConnectAhead opens the connection to a node now, outside a
 * transaction block, so that a later GkvNodeSend does not wait for it.
 * A node that cannot be reached is only marked down.
 */
void
GkvNodeConnectAhead(int32 node_id)
{
	const GkvNodeInfo *node = GkvNodeById(node_id);
	RemoteNode *r;

	if (node == NULL || IsTransactionBlock())
		return;
	RegisterCallbacksOnce();
	r = GetRemote(node);
	if (r->conn == NULL)
		(void) Connect(r);
}
