/*-------------------------------------------------------------------------
 *
 * shard_move.c
 *	  The online shard move, driven by the server: kv.move_shard(shard,
 *	  target, rollback) takes one placement of a shard to another node of
 *	  its zone while writes go on (docs/shard-moves.md).
 *
 * The steps are the globalkv.move_* functions, each run on the node it
 * concerns and safe to repeat:
 *
 *	1. prepare   the target records the move and pulls the shard from the
 *				 source with the replication pull itself, from cursor 0;
 *	2. copy      we report progress until the target is nearly caught up;
 *	3. fence     on the source, in a transaction we keep open, writes to
 *				 the shard are blocked (reads go on) and the target pulls
 *				 the rest; then the target takes the source's cursors and
 *				 the placement, the source gets the new placement, and the
 *				 commit ends the fence: writers waiting on it are forwarded
 *				 to the target.  The time the fence stands is the write
 *				 stall;
 *	4. drain     writes that reached the source after the switch (a node
 *				 with a stale catalog) are pulled by the target;
 *	5. cleanup   the move is marked complete and the source forgets the
 *				 shard.
 *
 * Every node's part commits there as the move goes -- whatever the
 * caller's transaction does afterwards: its ROLLBACK undoes nothing of a
 * move -- so running the call again resumes from what the target's
 * catalog says, and the rollback form undoes a move that has not switched.
 *
 * The mover reaches the source and the target with the connection strings
 * of the catalog -- the ones replication uses -- through remote.c's
 * interruptible calls, on connections of its own: not the per-transaction
 * connection cache, whose remote transactions follow the caller's, because
 * the fence must stand in a remote transaction of its own while the other
 * connection works, and must end when the mover does.  Both connections
 * are closed on every way out: PG_FINALLY on an error or a cancel, and the
 * end of the process on FATAL (terminated, or its client gone); a remote
 * session whose client is gone ends its transaction, and so the fence.
 *
 * The request is checked on this node's catalog first (the shard and the
 * target exist), then on the target's, which decides: a move to it is
 * recorded there; and the source is asked whether it still holds the
 * shard.  Nothing is written anywhere before every check passed and both
 * nodes answered.
 *
 * src/operations/shard_move.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "globalkv/catalog.h"
#include "globalkv/connection.h"
#include "globalkv/errcodes.h"
#include "globalkv/operations.h"

/* one statement of a step on a node; the steps themselves are short */
#define STEP_TIMEOUT_MS 60000L
#define CONNECT_TIMEOUT_MS 15000L
/*
 * How often a session of the move -- ours, and ours on the nodes -- checks
 * that its client is still there: a move whose client is gone stops, and
 * a remote session whose mover is gone ends, ending the fence.
 */
#define CLIENT_CHECK_MS "1000"
#define REMOTE_OPTIONS "-c client_connection_check_interval=" CLIENT_CHECK_MS

/* copy phase: report every second; done within 0.5 s of the source */
#define PROGRESS_EVERY_MS 1000
#define COPY_POLL_MS 200
#define CAUGHT_UP_MS 500
/* the copy has failed when the target gets no closer for this long */
#define COPY_STALL_MS 60000

/*
 * Writers queue behind a fence that waits for its lock, so the fence
 * waits at most 100 ms at a time (a background worker's pass over the
 * shard) and tries again: a short stall, repeated, rather than a long one.
 */
#define FENCE_LOCK_TIMEOUT "100ms"
#define FENCE_LOCK_ATTEMPTS 100
/* the fence stands at most this long waiting for the target, then is lifted */
#define FENCE_CATCH_UP_MS 5000
#define FENCE_POLL_MS 2
#define FENCE_ATTEMPTS 5

#define DRAIN_TIMEOUT_MS 60000
#define DRAIN_POLL_MS 20

/*
 * Everything the mover runs on a node, checked before anything is written:
 * the steps, copying the move's catalog rows from one node to the other,
 * and the progress.  (The login of the catalog's connection strings may
 * run these, and need not read the shard tables: sql/globalkv--0.2--0.3.sql.)
 */
#define MOVE_FUNCTIONS \
	"{\"globalkv.move_prepare(integer,integer)\", \"globalkv.move_progress(integer)\"," \
	" \"globalkv.move_fence(integer)\", \"globalkv.move_switch(integer,integer,jsonb)\"," \
	" \"globalkv.move_drain_point(integer)\", \"globalkv.move_complete(integer)\"," \
	" \"globalkv.move_cleanup(integer)\", \"globalkv.move_abort(integer)\"," \
	" \"globalkv.catalog_row(text,text)\"," \
	" \"globalkv.move_apply_catalog_row(text,text,jsonb,bigint,integer)\"," \
	" \"globalkv.shard_last_seq(integer)\", \"globalkv.peer_cursor(integer,integer)\"}"

/* one node of the move and the mover's connection to it */
typedef struct MoveNode
{
	int32		id;
	char		id_text[12];
	char		name[64];
	char		zone[64];
	char	   *conninfo;
	PGconn	   *conn;
} MoveNode;

typedef struct Move
{
	int32		shard;
	char		shard_text[12];
	char	   *key;			/* "<shard>/<zone>": its catalog rows' stream key */
	MoveNode	source;
	MoveNode	target;
	TimestampTz started;
	double		stall_ms;
	/* where the last stall went: taking the lock, the target's catch-up */
	double		lock_ms;
	double		catch_up_ms;
} Move;

/* a node's catalog about one shard of one zone */
typedef struct ShardView
{
	bool		known;			/* the node knows the shard and the zone */
	char		state[16];		/* "none", "copying" or "switched" */
	int32		move_source;
	int32		move_target;
	int32		holder;
} ShardView;

static double
MsSince(TimestampTz t)
{
	return (double) (GetCurrentTimestamp() - t) / 1000.0;
}

/* MoveSleep waits ms on the latch, serving interrupts */
static void
MoveSleep(long ms)
{
	int			rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							   ms, PG_WAIT_EXTENSION);

	if (rc & WL_LATCH_SET)
		ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/*
 * WatchClient makes this session check every CLIENT_CHECK_MS, for the
 * length of the move, that its client is still there -- PostgreSQL's own
 * client_connection_check_interval, which serves every wait that serves
 * interrupts, the remote calls' included.  A mover whose client is gone
 * then stops with FATAL, as any backend does: nobody would see the
 * outcome, and its connections, so the fence, end with the process.
 * Returns the GUC nest level to pop when the move ends.
 */
static int
WatchClient(void)
{
	int			nestlevel = NewGUCNestLevel();

	if (whereToSendOutput == DestRemote)
	{
		(void) set_config_option("client_connection_check_interval", CLIENT_CHECK_MS,
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		/* PostgreSQL arms it when a statement starts: this one has */
		if (!get_timeout_active(CLIENT_CONNECTION_CHECK_TIMEOUT))
			enable_timeout_after(CLIENT_CONNECTION_CHECK_TIMEOUT, client_connection_check_interval);
	}
	return nestlevel;
}

/* LoadNode copies what this node's catalog says of a node */
static void
LoadNode(MoveNode *n, int32 node_id)
{
	const GkvNodeInfo *info = GkvNodeById(node_id);

	if (info == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("node %d is not in the parade", node_id)));
	n->id = node_id;
	snprintf(n->id_text, sizeof(n->id_text), "%d", node_id);
	strlcpy(n->name, info->name, sizeof(n->name));
	strlcpy(n->zone, info->zone, sizeof(n->zone));
	/* the catalog copy may be reloaded by the next lookup: keep our own */
	n->conninfo = pstrdup(info->conninfo);
	n->conn = NULL;
}

static PGresult *
NodeQuery(MoveNode *n, const char *sql, int nparams, const char *const *values)
{
	return GkvRemoteQuery(n->conn, n->name, sql, nparams, values, 0, STEP_TIMEOUT_MS);
}

/* the first value of a statement's result, palloc'd; NULL for SQL NULL or no row */
static char *
NodeValue(MoveNode *n, const char *sql, int nparams, const char *const *values)
{
	PGresult   *res = NodeQuery(n, sql, nparams, values);
	char	   *v = NULL;

	if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
		v = pstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static int64
NodeInt(MoveNode *n, const char *sql, int nparams, const char *const *values)
{
	char	   *v = NodeValue(n, sql, nparams, values);

	return v ? strtoll(v, NULL, 10) : 0;
}

static void
NodeCommand(MoveNode *n, const char *sql)
{
	PQclear(NodeQuery(n, sql, 0, NULL));
}

/*
 * ConnectNode connects to a node with its catalog connection string, and
 * makes sure that it is the node the catalog says, and that the login may
 * run every step: so a wrong connection string or a login without the
 * rights fails before anything is written.
 */
static void
ConnectNode(Move *mv, MoveNode *n)
{
	char		appname[64];
	char	   *me;
	char	   *missing;

	snprintf(appname, sizeof(appname), "globalkv move of shard %d", mv->shard);
	n->conn = GkvRemoteConnect(n->conninfo, n->name, appname, REMOTE_OPTIONS,
							   CONNECT_TIMEOUT_MS);
	me = NodeValue(n, "SELECT node_id FROM globalkv.node", 0, NULL);
	if (me == NULL || strcmp(me, n->id_text) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_NOT_INITIALIZED),
				 errmsg("the connection string of node %d (\"%s\") reaches node %s", n->id, n->name,
						me ? me : "(none)"),
				 errhint("Correct it with kv.add_node().")));
	missing = NodeValue(n, "SELECT string_agg(f, ', ') FROM unnest($1::text[]) f"
						" WHERE NOT pg_catalog.has_function_privilege(f, 'EXECUTE')",
						1, (const char *const[]) {MOVE_FUNCTIONS});
	if (missing != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the login of node \"%s\"'s connection string may not run the steps of a shard move",
						n->name),
				 errdetail("It may not execute %s.", missing),
				 errhint("Moves run under the login of the catalog's connection strings; see docs/shard-moves.md.")));
}

/*
 * ReadView reads a node's catalog about the shard in the target's zone.
 * The same statement serves every node, so that each one's view is read
 * the same way.
 */
static void
ReadView(Move *mv, MoveNode *n, ShardView *v)
{
	PGresult   *res = NodeQuery(n,
								"SELECT coalesce(m.state, 'none'), m.source_node, m.target_node,"
								" p.node_id"
								" FROM globalkv.placement_map p"
								" LEFT JOIN globalkv.shard_moves m ON m.shard_id = p.shard_id"
								"  AND m.zone_name = p.zone_name AND NOT m.dropped"
								" WHERE p.shard_id = $1::integer AND p.zone_name = $2",
								2, (const char *const[]) {mv->shard_text, mv->target.zone});

	memset(v, 0, sizeof(*v));
	v->known = PQntuples(res) == 1;
	if (v->known)
	{
		strlcpy(v->state, PQgetvalue(res, 0, 0), sizeof(v->state));
		v->move_source = PQgetisnull(res, 0, 1) ? 0 : atoi(PQgetvalue(res, 0, 1));
		v->move_target = PQgetisnull(res, 0, 2) ? 0 : atoi(PQgetvalue(res, 0, 2));
		v->holder = atoi(PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	if (!v->known)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_NOT_INITIALIZED),
				 errmsg("node \"%s\" does not know shard %d of zone \"%s\"", n->name, mv->shard,
						mv->target.zone)));
}

/*
 * CopyCatalogRow copies the target's row of the move or of the placement
 * to the source at once, instead of waiting for replication: the source
 * must know of the move before it is fenced (it counts the target among
 * the shard's peers when purging tombstones), and of the new placement
 * inside the fence transaction, so that the writers the fence releases are
 * forwarded to the target.
 */
static void
CopyCatalogRow(Move *mv, const char *table)
{
	PGresult   *res = NodeQuery(&mv->target, "SELECT val, hlc, origin FROM globalkv.catalog_row($1, $2)",
								2, (const char *const[]) {table, mv->key});
	char	   *val = PQgetisnull(res, 0, 0) ? NULL : pstrdup(PQgetvalue(res, 0, 0));
	char	   *hlc = pstrdup(PQgetvalue(res, 0, 1));
	char	   *origin = pstrdup(PQgetvalue(res, 0, 2));

	PQclear(res);
	NodeValue(&mv->source, "SELECT globalkv.move_apply_catalog_row($1, $2, $3::jsonb, $4::bigint, $5::int)",
			  5, (const char *const[]) {table, mv->key, val, hlc, origin});
}

/* the shard's last change sequence on the source */
static int64
SourceLastSeq(Move *mv)
{
	return NodeInt(&mv->source, "SELECT globalkv.shard_last_seq($1::integer)",
				   1, (const char *const[]) {mv->shard_text});
}

/* how far the target has pulled the shard from the source */
static int64
TargetCursor(Move *mv)
{
	return NodeInt(&mv->target, "SELECT globalkv.peer_cursor($1::integer, $2::integer)",
				   2, (const char *const[]) {mv->source.id_text, mv->shard_text});
}

/*
 * the rows of the shard stored on the target, tombstones included (while
 * the move is recorded there: move_progress counts them)
 */
static int64
TargetRows(Move *mv)
{
	return NodeInt(&mv->target, "SELECT rows_copied FROM globalkv.move_progress($1::integer)",
				   1, (const char *const[]) {mv->shard_text});
}

/*
 * WaitForCopy reports the copy's progress until the target is within
 * CAUGHT_UP_MS of the source.  A change sequence is a clock reading whose
 * high bits are milliseconds: the distance between the source's last one
 * and the target's cursor is how far behind the target is.  Fails when
 * the target has got no closer for COPY_STALL_MS.
 */
static void
WaitForCopy(Move *mv)
{
	TimestampTz last_report = 0;
	TimestampTz best_at = GetCurrentTimestamp();
	int64		best_behind = PG_INT64_MAX;

	GkvMoveStatusPhase("copying");
	for (;;)
	{
		int64		last = SourceLastSeq(mv);
		int64		rows = TargetRows(mv);
		int64		cursor = TargetCursor(mv);
		int64		behind_ms = cursor >= last ? 0 : (last >> 16) - (cursor >> 16);
		bool		caught_up = cursor >= last || behind_ms < CAUGHT_UP_MS;

		/* before the first batch arrives, "behind" would be the clock's age */
		GkvMoveStatusCopy(rows, cursor == 0 && !caught_up ? -1 : behind_ms);
		if (caught_up || MsSince(last_report) >= PROGRESS_EVERY_MS)
		{
			if (cursor == 0)
				ereport(NOTICE,
						(errmsg("copying: starting (%s has " INT64_FORMAT " rows of the shard so far)",
								mv->target.name, rows)));
			else
				ereport(NOTICE,
						(errmsg("copying: " INT64_FORMAT " rows on %s, " INT64_FORMAT " ms behind %s",
								rows, mv->target.name, behind_ms, mv->source.name)));
			last_report = GetCurrentTimestamp();
		}
		/* an empty shard (last = 0) has nothing to copy */
		if (caught_up)
			return;
		if (behind_ms < best_behind)
		{
			best_behind = behind_ms;
			best_at = GetCurrentTimestamp();
		}
		else if (MsSince(best_at) > COPY_STALL_MS)
			ereport(ERROR,
					(errcode(ERRCODE_GKV_OBJECT_IN_USE),
					 errmsg("shard %d: %s has not got closer to %s for %d s", mv->shard,
							mv->target.name, mv->source.name, COPY_STALL_MS / 1000),
					 errdetail("It is " INT64_FORMAT " ms behind; kv.replication_status on %s shows its pulls.",
							   behind_ms, mv->target.name),
					 errhint("The move stays in its copy phase: run the same kv.move_shard again to resume, "
							 "or with rollback => true to undo it.")));
		MoveSleep(COPY_POLL_MS);
	}
}

/*
 * TryFence runs move_fence in the source's open transaction; false when
 * its lock waited longer than FENCE_LOCK_TIMEOUT (the remote transaction
 * is then aborted: the caller rolls it back).  Any other error goes on.
 */
static bool
TryFence(Move *mv, int64 *last_seq, char **cursors)
{
	MemoryContext cxt = CurrentMemoryContext;
	PGresult   *volatile res = NULL;

	PG_TRY();
	{
		res = NodeQuery(&mv->source, "SELECT last_seq, cursors FROM globalkv.move_fence($1::integer)",
						1, (const char *const[]) {mv->shard_text});
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			PG_RE_THROW();
		FlushErrorState();
		FreeErrorData(edata);
	}
	PG_END_TRY();
	if (res == NULL)
		return false;
	*last_seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*cursors = pstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	return true;
}

/*
 * FenceAndSwitch fences the shard on the source, waits for the target to
 * pull it to its end, switches, and ends the fence.  Returns the stall in
 * ms, or -1 when the target did not catch up within FENCE_CATCH_UP_MS
 * (the fence is lifted; the caller tries again).
 */
static double
FenceAndSwitch(Move *mv)
{
	MoveNode   *src = &mv->source;
	int64		last = 0;
	char	   *cursors = NULL;
	TimestampTz t0;
	double		stall;

	for (int attempt = 0;; attempt++)
	{
		NodeCommand(src, "BEGIN");
		NodeCommand(src, "SET LOCAL lock_timeout = '" FENCE_LOCK_TIMEOUT "'");
		t0 = GetCurrentTimestamp();
		if (TryFence(mv, &last, &cursors))
			break;
		NodeCommand(src, "ROLLBACK");
		if (attempt == FENCE_LOCK_ATTEMPTS)
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("shard %d: could not fence it on %s: its writers held it %d times running",
							mv->shard, src->name, FENCE_LOCK_ATTEMPTS),
					 errhint("The move stays in its copy phase: run the same kv.move_shard again to resume.")));
		MoveSleep(50);
	}
	mv->lock_ms = MsSince(t0);
	/* fenced: the rest of the switch may wait for catalog row locks */
	NodeCommand(src, "SET LOCAL lock_timeout = '30s'");
	GkvMoveStatusPhase("fenced");
	ereport(NOTICE,
			(errmsg("fence: writes to shard %d wait on %s while %s pulls the rest",
					mv->shard, src->name, mv->target.name)));
	while (TargetCursor(mv) < last)
	{
		if (MsSince(t0) > FENCE_CATCH_UP_MS)
		{
			NodeCommand(src, "ROLLBACK");
			return -1;
		}
		MoveSleep(FENCE_POLL_MS);
	}
	mv->catch_up_ms = MsSince(t0) - mv->lock_ms;
	NodeValue(&mv->target, "SELECT globalkv.move_switch($1::integer, $2::integer, $3::jsonb)",
			  3, (const char *const[]) {mv->shard_text, src->id_text, cursors});
	CopyCatalogRow(mv, "placements");
	CopyCatalogRow(mv, "shard_moves");
	NodeCommand(src, "COMMIT");
	stall = MsSince(t0);
	GkvMoveStatusStall(stall);
	return stall;
}

/* steps 2 and 3: copy, then fence and switch, a few times if need be */
static void
CopyAndSwitch(Move *mv)
{
	int			attempt;

	WaitForCopy(mv);
	for (attempt = 0; attempt < FENCE_ATTEMPTS; attempt++)
	{
		mv->stall_ms = FenceAndSwitch(mv);
		if (mv->stall_ms >= 0)
			break;
		GkvMoveStatusPhase("copying");
		ereport(NOTICE,
				(errmsg("%s did not catch up under the fence in %d ms; lifted it, trying again",
						mv->target.name, FENCE_CATCH_UP_MS)));
		WaitForCopy(mv);
	}
	if (attempt == FENCE_ATTEMPTS)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_OBJECT_IN_USE),
				 errmsg("shard %d: %s could not catch up under the fence %d times", mv->shard,
						mv->target.name, FENCE_ATTEMPTS),
				 errhint("The move stays in its copy phase: run the same kv.move_shard again to resume, "
						 "or with rollback => true to undo it.")));
	ereport(NOTICE,
			(errmsg("switched: %s holds shard %d; writes were blocked for %.0f ms",
					mv->target.name, mv->shard, mv->stall_ms),
			 errdetail("Fencing took %.0f ms, the target's catch-up %.0f ms, the switch %.0f ms.",
					   mv->lock_ms, mv->catch_up_ms, mv->stall_ms - mv->lock_ms - mv->catch_up_ms)));
}

/* step 4: whatever reached the source after the switch */
static void
Drain(Move *mv)
{
	int64		drain;
	TimestampTz t0 = GetCurrentTimestamp();

	GkvMoveStatusPhase("draining");
	drain = NodeInt(&mv->source, "SELECT globalkv.move_drain_point($1::integer)",
					1, (const char *const[]) {mv->shard_text});
	while (drain > 0 && TargetCursor(mv) < drain)
	{
		if (MsSince(t0) > DRAIN_TIMEOUT_MS)
			ereport(ERROR,
					(errcode(ERRCODE_GKV_OBJECT_IN_USE),
					 errmsg("shard %d: %s has not pulled the last changes from %s within %d s",
							mv->shard, mv->target.name, mv->source.name, DRAIN_TIMEOUT_MS / 1000),
					 errhint("The move has switched: run the same kv.move_shard again to finish it.")));
		MoveSleep(DRAIN_POLL_MS);
	}
	ereport(NOTICE,
			(errmsg("drained: %s has pulled the last changes of shard %d from %s",
					mv->target.name, mv->shard, mv->source.name)));
}

/* the rollback form: undo a move that has not switched, on the target */
static void
RollBack(Move *mv, GkvMoveResult *result)
{
	GkvMoveStatusPhase("rolling back");
	NodeValue(&mv->target, "SELECT globalkv.move_abort($1::integer)",
			  1, (const char *const[]) {mv->shard_text});
	CopyCatalogRow(mv, "shard_moves");
	ereport(NOTICE,
			(errmsg("rolled back: the move of shard %d of zone \"%s\" from %s to %s; %s holds it",
					mv->shard, mv->target.zone, mv->source.name, mv->target.name, mv->source.name)));
	result->state = "rolled back";
}

/*
 * DriveMove: everything after the local checks, with the connections
 * open; the caller closes them whatever happens.
 */
static void
DriveMove(Move *mv, bool rollback, GkvMoveResult *result)
{
	ShardView	tv;
	ShardView	sv;
	char	   *state;
	char	   *locked;
	bool		resuming;

	ConnectNode(mv, &mv->target);
	ReadView(mv, &mv->target, &tv);
	if (strcmp(tv.state, "none") != 0 && tv.move_target != mv->target.id)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_OBJECT_IN_USE),
				 errmsg("shard %d of zone \"%s\" is being moved to node %d", mv->shard,
						mv->target.zone, tv.move_target),
				 errhint("Finish that move first (kv.move_shard(%d, %d)), or roll it back if it has not switched.",
						 mv->shard, tv.move_target)));
	resuming = strcmp(tv.state, "none") != 0;
	result->source_node = resuming ? tv.move_source : tv.holder;
	if (!resuming && rollback)
	{
		ereport(NOTICE,
				(errmsg("shard %d of zone \"%s\": no move to %s to roll back", mv->shard,
						mv->target.zone, mv->target.name)));
		result->state = "none";
		return;
	}
	if (!resuming && tv.holder == mv->target.id)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("node %d already holds shard %d of zone \"%s\"", mv->target.id, mv->shard,
						mv->target.zone)));

	LoadNode(&mv->source, result->source_node);
	if (strcmp(mv->source.zone, mv->target.zone) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("node %d is not in zone \"%s\"", mv->source.id, mv->target.zone),
				 errhint("A shard moves between nodes of one zone.")));
	ConnectNode(mv, &mv->source);
	locked = NodeValue(&mv->source, "SELECT pg_try_advisory_lock($1::integer, $2::integer)::text",
					   2, (const char *const[]) {CppAsString2(GKV_MOVE_LOCK_KEY1), mv->shard_text});
	if (locked == NULL || strcmp(locked, "true") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_OBJECT_IN_USE),
				 errmsg("another session is moving shard %d of zone \"%s\"", mv->shard, mv->target.zone),
				 errhint("kv.shard_moves_in_progress on the node driving it shows it.")));

	/*
	 * The source is the judge of whether it still holds the shard: the
	 * target's catalog may not have heard yet of a move that took the
	 * shard elsewhere.  (Under the lock, no other mover can change that.)
	 */
	ReadView(mv, &mv->source, &sv);
	if (!resuming && sv.holder != mv->source.id)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_OBJECT_IN_USE),
				 errmsg("shard %d of zone \"%s\" is no longer on node %d", mv->shard,
						mv->target.zone, mv->source.id),
				 errdetail("The catalog of node %d is behind.", mv->target.id),
				 errhint("Try again in a moment.")));

	GkvMoveStatusBegin(mv->shard, mv->target.zone, mv->source.id, mv->target.id);
	if (rollback)
	{
		RollBack(mv, result);
		return;
	}
	ereport(NOTICE,
			(errmsg("shard %d of zone \"%s\": %s -> %s%s", mv->shard, mv->target.zone,
					mv->source.name, mv->target.name, resuming ? " (resuming)" : "")));

	/* 1. prepare (on a resume, move_prepare returns the state it is in) */
	GkvMoveStatusPhase("preparing");
	state = NodeValue(&mv->target, "SELECT globalkv.move_prepare($1::integer, $2::integer)",
					  2, (const char *const[]) {mv->shard_text, mv->source.id_text});
	CopyCatalogRow(mv, "shard_moves");

	/* 2. and 3. */
	if (state != NULL && strcmp(state, "copying") == 0)
		CopyAndSwitch(mv);
	else
	{
		/* resuming after the switch: make sure the source knows */
		CopyCatalogRow(mv, "placements");
		ereport(NOTICE, (errmsg("already switched; finishing")));
	}

	/* 4. */
	Drain(mv);

	/* 5. */
	GkvMoveStatusPhase("cleaning up");
	result->rows_copied = TargetRows(mv);
	NodeValue(&mv->target, "SELECT globalkv.move_complete($1::integer)",
			  1, (const char *const[]) {mv->shard_text});
	CopyCatalogRow(mv, "shard_moves");
	NodeValue(&mv->source, "SELECT globalkv.move_cleanup($1::integer)",
			  1, (const char *const[]) {mv->shard_text});
	result->state = "complete";
	ereport(NOTICE,
			(errmsg("done: shard %d moved to %s: " INT64_FORMAT " rows (tombstones included) in %.1f s, "
					"longest write stall %.0f ms",
					mv->shard, mv->target.name, result->rows_copied,
					MsSince(mv->started) / 1000.0, mv->stall_ms)));
}

/*
 * GkvMoveShard moves shard_id of target_node's zone to target_node, or
 * with rollback undoes a move there that has not switched.  Fills result.
 */
void
GkvMoveShard(int32 shard_id, int32 target_node, bool rollback, GkvMoveResult *result)
{
	Move	   *mv;
	int			nestlevel;

	if (shard_id < 0 || shard_id >= GkvShardCount())
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("shard %d does not exist", shard_id),
				 errhint("Shards are numbered 0 to %d.", GkvShardCount() - 1)));

	mv = palloc0(sizeof(Move));
	mv->shard = shard_id;
	snprintf(mv->shard_text, sizeof(mv->shard_text), "%d", shard_id);
	mv->started = GetCurrentTimestamp();
	LoadNode(&mv->target, target_node);
	mv->key = psprintf("%d/%s", shard_id, mv->target.zone);

	memset(result, 0, sizeof(*result));
	result->shard_id = shard_id;
	strlcpy(result->zone, mv->target.zone, sizeof(result->zone));
	result->target_node = target_node;

	nestlevel = WatchClient();
	PG_TRY();
	{
		DriveMove(mv, rollback, result);
	}
	PG_FINALLY();
	{
		/* closing ends whatever transaction, fence or lock we hold there */
		GkvMoveStatusEnd();
		GkvRemoteDisconnect(mv->source.conn);
		mv->source.conn = NULL;
		GkvRemoteDisconnect(mv->target.conn);
		mv->target.conn = NULL;
	}
	PG_END_TRY();
	/* (on an error, the abort of the transaction pops the level) */
	AtEOXact_GUC(true, nestlevel);
	result->write_stall_ms = mv->stall_ms;
	result->elapsed_ms = MsSince(mv->started);
}

PG_FUNCTION_INFO_V1(gkv_move_shard);

/*
 * kv.move_shard(shard_id, target_node, rollback) -> (shard, zone, source,
 * target, state, rows_copied, write_stall_ms, elapsed_ms)
 */
Datum
gkv_move_shard(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	GkvMoveResult r;
	Datum		values[8];
	bool		nulls[8] = {0};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("the arguments of kv.move_shard must not be NULL")));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "kv.move_shard must return a row");

	GkvMoveShard(PG_GETARG_INT32(0), PG_GETARG_INT32(1), PG_GETARG_BOOL(2), &r);

	values[0] = Int32GetDatum(r.shard_id);
	values[1] = CStringGetTextDatum(r.zone);
	values[2] = Int32GetDatum(r.source_node);
	values[3] = Int32GetDatum(r.target_node);
	values[4] = CStringGetTextDatum(r.state);
	values[5] = Int64GetDatum(r.rows_copied);
	values[6] = Int64GetDatum((int64) (r.write_stall_ms + 0.5));
	values[7] = Int64GetDatum((int64) (r.elapsed_ms + 0.5));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
