/*-------------------------------------------------------------------------
 *
 * docs_shared.h
 *	  What the planner, the fan-out and the EXPLAIN hook of kv.docs share
 *	  (room-private to src/distributed/).
 *
 * Repartitioned queries: a bucket of one runs on a node as a query on
 * kv.docs of its own, which must not be repartitioned again.
 *
 * While EXPLAIN plans a query, the planner notes each kv.docs it plans
 * (strategy, what it pushed down, the fragment); while EXPLAIN ANALYZE runs
 * it, the fan-out notes each task (node, rows, bytes received, time).  The
 * hook prints them after the plan.  Outside EXPLAIN nothing is noted.
 *
 * src/distributed/docs_shared.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_DOCS_SHARED_H
#define GLOBALKV_DOCS_SHARED_H

extern bool GkvDocsRunningBucket(void);

/* ---- EXPLAIN ---- */

/* one task of a fan-out, as EXPLAIN ANALYZE reports it */
typedef struct DocsExplainTask
{
	int32		node_id;
	bool		here;			/* run on this node, nothing travelled */
	bool		stand_in;		/* read from another zone for a lost node */
	int			shards;			/* the shards it read (0: every one the node holds) */
	int64		rows;
	int64		bytes;			/* bytes of values received */
	double		ms;				/* from sending the fragment to its whole answer */
} DocsExplainTask;

extern bool GkvDocsExplaining(void);
extern void GkvDocsExplainPlanned(const char *strategy, const char *pushed_down,
								  const char *fragment);
extern void GkvDocsExplainTaskDone(const char *fragment, const DocsExplainTask *task);

#endif							/* GLOBALKV_DOCS_SHARED_H */
