/*-------------------------------------------------------------------------
 *
 * replication.h
 *	  Multi-master replication (src/replication/): the pull a peer calls
 *	  (pull.c), the apply worker per peer (apply_worker.c) and their
 *	  launcher, catalog rows in the stream (catalog_sync.c), per-peer
 *	  status, repair, shard fences, and the waits of pulls for changes.
 *
 * src/include/globalkv/replication.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_REPLICATION_H
#define GLOBALKV_REPLICATION_H

#include "access/tupdesc.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/snapshot.h"
#include "utils/tuplestore.h"

#include "globalkv/clock.h"
#include "globalkv/storage.h"

/* advisory lock (two int4 keys) ordering applies against tombstone purges */
#define GKV_PURGE_LOCK_KEY1 18251	/* "GK" */
#define GKV_PURGE_LOCK_KEY2 1

/* background workers */
extern PGDLLEXPORT void GkvReplicationLauncherMain(Datum main_arg);
extern PGDLLEXPORT void GkvApplyWorkerMain(Datum main_arg);

/* catalog rows in the stream (catalog_sync.c) */
extern int64 GkvCatalogPull(uint64 cursor, uint64 horizon, Snapshot snapshot,
							int64 budget, Tuplestorestate *store, TupleDesc desc,
							uint64 *last_seq);
extern bool GkvCatalogApply(const char *table, const char *key, Jsonb *value,
							GkvVersion version);

/* peers (peer_status.c) */
typedef struct GkvPeerReport	/* one replication stream, for the metrics */
{
	int32		peer_node_id;
	char		peer_name[64];
	bool		connected;
	int64		lag_ms;
	int64		lag_rows;
	uint64		rows_applied;
	uint64		conflicts;
	uint64		batches;
	int64		max_clock_skew_ms;
} GkvPeerReport;

extern int	GkvPeerReports(GkvPeerReport *out, int max);
extern Size GkvPeerStatusShmemSize(void);
extern void GkvPeerStatusShmemInit(void);
extern bool GkvPeerNeedsResync(int32 peer_node_id);

/* what this node holds, told to its sources: echo suppression (coverage.c) */
extern Size GkvCoverageShmemSize(void);
extern void GkvCoverageShmemInit(void);
extern uint64 GkvCoverageFloor(void);
extern void GkvCoverageRaiseFloor(void);

/* the conflict journal (conflict_journal.c) */
extern void GkvConflictNote(text *ns, text *key, const GkvDocState *incoming,
							const GkvPreviousState *previous, GkvWriteResult result, int32 peer);
extern void GkvConflictFlush(bool write);

/* waiting for changes (change_wait.c) */
extern Size GkvChangeWaitShmemSize(void);
extern void GkvChangeWaitShmemInit(void);
extern void GkvChangeWaitInit(void);
extern bool GkvRegisterChangeWaiter(uint64 mask);
extern void GkvUnregisterChangeWaiter(void);
extern bool GkvChangeWaiterHeldAt(uint64 horizon);
extern void GkvWakeChangeWaiters(void);

/* shard fences of online moves (fence.c): a fenced shard reads to its end */
extern Size GkvFenceShmemSize(void);
extern void GkvFenceShmemInit(void);
extern bool GkvShardFenced(int shard_id);

#endif							/* GLOBALKV_REPLICATION_H */
