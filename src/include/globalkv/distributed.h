/*-------------------------------------------------------------------------
 *
 * distributed.h
 *	  SQL over every document of the zone: the planner of kv.docs
 *	  (src/distributed/docs_planner.c) and the fan-out that runs a query
 *	  fragment on every node of the zone (src/distributed/docs_fanout.c).
 *
 * src/include/globalkv/distributed.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_DISTRIBUTED_H
#define GLOBALKV_DISTRIBUTED_H

/* the planner hook (docs_planner.c) and the EXPLAIN hook (docs_explain.c) */
extern void GkvDocsPlannerInit(void);
extern void GkvDocsExplainInit(void);

/* CREATE INDEX and DROP INDEX on kv.docs (docs_ddl.c) */
extern void GkvDocsDdlInit(void);

/*
 * Every fragment reads kv.docs as "docs" and has its conditions right after
 * this: a stand-in node's fragment is narrowed to its shards there.
 */
#define GKV_DOCS_FRAGMENT_WHERE " FROM kv.docs docs WHERE "

/* signed fragments (docs_fanout.c) */
extern Size GkvDocsShmemSize(void);
extern void GkvDocsShmemInit(void);
extern char *GkvDocsSignFragment(const char *fragment);

#endif							/* GLOBALKV_DISTRIBUTED_H */
