/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  Every globalkv setting.  All are defined, with their defaults, limits
 *	  and descriptions, in one sorted table in src/guc.c; docs/settings.md
 *	  explains them for operators.
 *
 * src/include/globalkv/guc.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_GUC_H
#define GLOBALKV_GUC_H

/* globalkv.routing */
typedef enum GkvRoutingMode
{
	GKV_ROUTING_FORWARD,		/* forward calls for shards held elsewhere */
	GKV_ROUTING_DIRECT			/* refuse them with GK017 (client library) */
} GkvRoutingMode;

/* globalkv.docs_scope: what kv.docs means in this session */
typedef enum GkvDocsScopeMode
{
	GKV_DOCS_ZONE,				/* every placement of the zone (clients) */
	GKV_DOCS_NODE				/* this node's placements (a fragment from another node) */
} GkvDocsScopeMode;

extern int	GkvCatalogCacheSizeKb;
extern int	GkvCatalogCatchupTimeoutMs;
extern int	GkvConflictJournalRate;
extern int	GkvConflictJournalSize;
extern int	GkvConflictWindowMs;
extern char *GkvDatabaseName;
extern int	GkvDocsScope;
extern int	GkvDebugClockOffsetMs;
extern char *GkvDebugBlockPullFrom;
extern int	GkvExpiryIntervalMs;
extern int	GkvExpiryRowsPerSecond;
extern int	GkvForwardTimeoutMs;
extern int	GkvMaxClockSkewMs;
extern int	GkvMaxVersionAheadMs;
extern int	GkvMaxDocumentSize;
extern int	GkvMaxBatchKeys;
extern int	GkvMaxKeyLength;
extern int	GkvMetricsBacklogIntervalS;
extern char *GkvMetricsListenAddress;
extern int	GkvMetricsPort;
extern int	GkvRepairIntervalS;
extern int	GkvReplicationBatchDelayMs;
extern int	GkvReplicationBatchRows;
extern int	GkvReplicationWaitMs;
extern int	GkvRouting;
extern int	GkvTombstoneMinAgeS;
extern int	GkvTombstoneRetentionS;
extern char *GkvZoneOrder;

extern void GkvDefineSettings(void);

#endif							/* GLOBALKV_GUC_H */
