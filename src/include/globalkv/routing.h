/*-------------------------------------------------------------------------
 *
 * routing.h
 *	  Server-side routing (src/routing/router.c): forwarding a call to the
 *	  node holding its shard, failover to other zones, batch splitting,
 *	  waiting for a catalog name another node just created.
 *
 * src/include/globalkv/routing.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_ROUTING_H
#define GLOBALKV_ROUTING_H

#include "fmgr.h"

extern int	GkvRouteCandidates(int shard_id, int32 *nodes, int max_nodes);
extern void GkvRejectStale(int shard_id);
extern void GkvRouterWarmUp(int shard_id);
extern Datum GkvForwardCall(FunctionCallInfo fcinfo, int shard_id, bool idempotent);

/* batch calls: one forwarded call per node, sent in parallel */
typedef struct GkvBatchForward GkvBatchForward;
extern GkvBatchForward *GkvBatchForwardStart(FunctionCallInfo fcinfo, int nout, int npos,
											 const int *pos, const int *shard);
extern char **GkvBatchForwardFinish(GkvBatchForward *b);

/* a namespace or policy this node does not know (yet) */
typedef enum GkvCatalogNameKind
{
	GKV_CATALOG_NAMESPACE,
	GKV_CATALOG_POLICY
} GkvCatalogNameKind;

extern bool GkvAwaitCatalogName(GkvCatalogNameKind kind, const char *name);

#endif							/* GLOBALKV_ROUTING_H */
