/*-------------------------------------------------------------------------
 *
 * catalog.h
 *	  The catalog as this backend sees it: namespaces, expiry policies,
 *	  nodes, zones, shards and their placements, moves in progress
 *	  (src/metadata/catalog_cache.c).
 *
 * One copy lives in shared memory, stamped with a generation that every
 * committed catalog change moves; each backend copies it when it is stale.
 * Nothing here reads documents.
 *
 * src/include/globalkv/catalog.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_CATALOG_H
#define GLOBALKV_CATALOG_H

#include "datatype/timestamp.h"
#include "fmgr.h"

/* the pseudo-shard that carries catalog rows in change sequences and pulls */
#define GKV_CATALOG_SHARD (-1)

typedef struct GkvPolicy
{
	bool		expires;
	Interval	ttl;
} GkvPolicy;

/* shared memory and invalidation */
extern Size GkvCatalogShmemSize(void);
extern void GkvCatalogShmemRequest(void);
extern void GkvCatalogShmemInit(void);
extern void GkvCatalogCacheInit(void);
extern void GkvCatalogNoteExtensionChange(void);
extern void GkvCatalogInvalidate(void);

/* this node, shards, namespaces and policies */
extern int32 GkvLocalNodeId(void);
extern int	GkvShardCount(void);
extern Oid	GkvShardRelid(int shard_id);
extern int	GkvShardForHash(uint32 hash, int nshards);
extern bool GkvNamespaceExists(const char *name);
extern bool GkvNamespaceKnown(text *ns);
extern void GkvRequireNamespace(text *ns);
extern const GkvPolicy *GkvLookupPolicy(const char *name);
extern const GkvPolicy *GkvFindPolicy(const char *name);
extern uint64 GkvCatalogMaxHlc(void);

/* the parade: nodes, zones, placements, moves */
typedef struct GkvNodeInfo
{
	int32		node_id;
	char		name[64];
	char		zone[64];
	char	   *conninfo;
} GkvNodeInfo;

extern const char *GkvLocalZone(void);
extern const GkvNodeInfo *GkvNodeById(int32 node_id);
extern int	GkvNodeCount(void);
extern const GkvNodeInfo *GkvNodeByIndex(int i);
extern int	GkvZoneCount(void);
extern const char *GkvZoneName(int zone_index);
extern int32 GkvShardHolder(int shard_id, int zone_index);
extern int32 GkvShardHolderHere(int shard_id);
extern bool GkvServesShard(int shard_id);
extern int32 GkvShardMoveSourceForMe(int shard_id);
extern int32 GkvShardMoveTargetFromMe(int shard_id);

#endif							/* GLOBALKV_CATALOG_H */
