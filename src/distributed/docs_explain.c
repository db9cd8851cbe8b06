/*-------------------------------------------------------------------------
 *
 * docs_explain.c
 *	  EXPLAIN of a query on kv.docs: the strategy, the tasks per node, what
 *	  was pushed down; with ANALYZE, each task's rows, bytes and time.
 *
 * An ExplainOneQuery hook plans and explains the query as PostgreSQL does,
 * with noting switched on (docs_shared.h), then prints what was noted as
 * a group of its own after the plan, in EXPLAIN's format:
 *
 *	kv.docs:
 *	  Strategy: fan-out
 *	  Pushed Down: WHERE, GROUP BY, aggregates
 *	  Nodes: 2
 *	  Placements: node1 (here, 8 shards), node2 (8 shards)
 *	  Task: node1 (here), 4 rows, 1.902 ms
 *	  Task: node2, 4 rows, 112 bytes, 2.430 ms
 *
 * (each task a group in JSON, XML and YAML, which stay well-formed: the
 * group follows the query's own).  EXECUTE of a prepared statement is
 * explained without it: PostgreSQL calls no hook there.
 *
 * src/distributed/docs_explain.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/explain.h"
#include "executor/instrument.h"
#include "lib/stringinfo.h"
#include "portability/instr_time.h"
#include "tcop/tcopprot.h"

#include "globalkv/catalog.h"
#include "globalkv/distributed.h"

#include "docs_shared.h"

/* a kv.docs the planner planned */
typedef struct DocsExplainCall
{
	const char *strategy;
	char	   *pushed_down;
	char	   *fragment;		/* NULL unless a fan-out */
	List	   *tasks;			/* DocsExplainTask, when it ran */
} DocsExplainCall;

static ExplainOneQuery_hook_type prev_explain_hook = NULL;

/* noting is on while this is set: the context of the EXPLAIN being made */
static MemoryContext explain_context = NULL;
static List *explain_calls = NIL;

bool
GkvDocsExplaining(void)
{
	return explain_context != NULL;
}

void
GkvDocsExplainPlanned(const char *strategy, const char *pushed_down, const char *fragment)
{
	MemoryContext old;
	DocsExplainCall *call;

	if (explain_context == NULL)
		return;
	old = MemoryContextSwitchTo(explain_context);
	call = palloc0(sizeof(DocsExplainCall));
	call->strategy = strategy;
	call->pushed_down = pushed_down ? pstrdup(pushed_down) : NULL;
	call->fragment = fragment ? pstrdup(fragment) : NULL;
	explain_calls = lappend(explain_calls, call);
	MemoryContextSwitchTo(old);
}

/* a task of a fan-out ran: noted on the call with the same fragment */
void
GkvDocsExplainTaskDone(const char *fragment, const DocsExplainTask *task)
{
	ListCell   *lc;

	if (explain_context == NULL)
		return;
	foreach(lc, explain_calls)
	{
		DocsExplainCall *call = lfirst(lc);
		MemoryContext old;
		DocsExplainTask *copy;

		if (call->fragment == NULL || strcmp(call->fragment, fragment) != 0)
			continue;
		old = MemoryContextSwitchTo(explain_context);
		copy = palloc(sizeof(DocsExplainTask));
		*copy = *task;
		call->tasks = lappend(call->tasks, copy);
		MemoryContextSwitchTo(old);
		return;
	}
}

/* the nodes of this zone a fan-out sends its fragment to, and their shards */
static void
ExplainZoneNodes(ExplainState *es)
{
	int			nshards = GkvShardCount();
	int32		me = GkvLocalNodeId();
	int32	   *nodes = palloc0(sizeof(int32) * Max(nshards, 1));
	int		   *shards = palloc0(sizeof(int) * Max(nshards, 1));
	int			nnodes = 0;
	StringInfoData buf;

	for (int shard = 0; shard < nshards; shard++)
	{
		int32		holder = GkvShardHolderHere(shard);
		int			i;

		if (holder == 0)
			continue;
		for (i = 0; i < nnodes && nodes[i] != holder; i++)
			;
		if (i == nnodes)
			nodes[nnodes++] = holder;
		shards[i]++;
	}
	ExplainPropertyInteger("Nodes", NULL, nnodes, es);
	initStringInfo(&buf);
	for (int i = 0; i < nnodes; i++)
	{
		const GkvNodeInfo *node = GkvNodeById(nodes[i]);

		appendStringInfo(&buf, "%s%s (%s%d shards)", i > 0 ? ", " : "", node ? node->name : "?",
						 nodes[i] == me ? "here, " : "", shards[i]);
	}
	ExplainPropertyText("Placements", buf.data, es);
}

static void
ExplainTask(const DocsExplainTask *task, ExplainState *es)
{
	const GkvNodeInfo *node = GkvNodeById(task->node_id);
	const char *name = node ? node->name : "?";

	if (es->format == EXPLAIN_FORMAT_TEXT)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfo(&buf, "%s%s", name, task->here ? " (here)" :
						 task->stand_in ? psprintf(" (zone %s, standing in)", node ? node->zone : "?") : "");
		if (task->shards > 0)
			appendStringInfo(&buf, ", %d shards", task->shards);
		appendStringInfo(&buf, ", " INT64_FORMAT " rows", task->rows);
		if (!task->here)
			appendStringInfo(&buf, ", " INT64_FORMAT " bytes", task->bytes);
		appendStringInfo(&buf, ", %.3f ms", task->ms);
		ExplainPropertyText("Task", buf.data, es);
		return;
	}
	ExplainOpenGroup("Task", NULL, true, es);
	ExplainPropertyText("Node", name, es);
	ExplainPropertyText("Zone", node ? node->zone : "?", es);
	ExplainPropertyBool("Here", task->here, es);
	ExplainPropertyBool("Standing In", task->stand_in, es);
	ExplainPropertyInteger("Rows", NULL, task->rows, es);
	ExplainPropertyInteger("Bytes", NULL, task->bytes, es);
	ExplainPropertyFloat("Time", "ms", task->ms, 3, es);
	ExplainCloseGroup("Task", NULL, true, es);
}

static void
ExplainCalls(List *calls, ExplainState *es)
{
	ListCell   *lc;

	foreach(lc, calls)
	{
		DocsExplainCall *call = lfirst(lc);
		ListCell   *lc2;

		ExplainOpenGroup("Distributed Query", NULL, true, es);
		if (es->format == EXPLAIN_FORMAT_TEXT)
		{
			appendStringInfoSpaces(es->str, es->indent * 2);
			appendStringInfoString(es->str, "kv.docs:\n");
			es->indent++;
		}
		else
			ExplainPropertyText("Relation Name", "kv.docs", es);
		ExplainPropertyText("Strategy", call->strategy, es);
		if (call->pushed_down != NULL)
			ExplainPropertyText("Pushed Down", call->pushed_down, es);
		if (call->fragment != NULL)
		{
			ExplainZoneNodes(es);
			if (es->analyze)
			{
				if (es->format != EXPLAIN_FORMAT_TEXT)
					ExplainOpenGroup("Tasks", "Tasks", false, es);
				foreach(lc2, call->tasks)
					ExplainTask(lfirst(lc2), es);
				if (es->format != EXPLAIN_FORMAT_TEXT)
					ExplainCloseGroup("Tasks", "Tasks", false, es);
			}
		}
		if (es->format == EXPLAIN_FORMAT_TEXT)
			es->indent--;
		ExplainCloseGroup("Distributed Query", NULL, true, es);
	}
}

/* PostgreSQL's own ExplainOneQuery, with noting on around it */
static void
GkvExplainOneQuery(Query *query, int cursorOptions, IntoClause *into, ExplainState *es,
				   const char *queryString, ParamListInfo params, QueryEnvironment *queryEnv)
{
	MemoryContext saved_context = explain_context;
	List	   *saved_calls = explain_calls;
	List	   *calls;

	explain_context = CurrentMemoryContext;
	explain_calls = NIL;
	PG_TRY();
	{
		if (prev_explain_hook)
			prev_explain_hook(query, cursorOptions, into, es, queryString, params, queryEnv);
		else
		{
			PlannedStmt *plan;
			instr_time	planstart,
						planduration;
			BufferUsage bufusage_start,
						bufusage;

			if (es->buffers)
				bufusage_start = pgBufferUsage;
			INSTR_TIME_SET_CURRENT(planstart);
			plan = pg_plan_query(query, queryString, cursorOptions, params);
			INSTR_TIME_SET_CURRENT(planduration);
			INSTR_TIME_SUBTRACT(planduration, planstart);
			if (es->buffers)
			{
				memset(&bufusage, 0, sizeof(BufferUsage));
				BufferUsageAccumDiff(&bufusage, &pgBufferUsage, &bufusage_start);
			}
			ExplainOnePlan(plan, into, es, queryString, params, queryEnv,
						   &planduration, (es->buffers ? &bufusage : NULL));
		}
	}
	PG_FINALLY();
	{
		calls = explain_calls;
		explain_context = saved_context;
		explain_calls = saved_calls;
	}
	PG_END_TRY();
	ExplainCalls(calls, es);
}

void
GkvDocsExplainInit(void)
{
	prev_explain_hook = ExplainOneQuery_hook;
	ExplainOneQuery_hook = GkvExplainOneQuery;
}
