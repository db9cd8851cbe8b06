/*-------------------------------------------------------------------------
 *
 * metrics.h
 *	  Operation counters in shared memory (src/metrics/stats.c), shown by
 *	  kv.stats.
 *
 * src/include/globalkv/metrics.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_METRICS_H
#define GLOBALKV_METRICS_H

typedef enum GkvStatCounter
{
	GKV_STAT_PUTS,
	GKV_STAT_GETS,
	GKV_STAT_DELETES,
	GKV_STAT_PATCHES,
	GKV_STAT_INSERTS,
	GKV_STAT_UPDATES,
	GKV_STAT_CONFLICTS,
	GKV_STAT_EXPIRED_ROWS,
	GKV_STAT_REPLICATED_ROWS,	/* rows applied from peers */
	GKV_STAT_REPLICATION_CONFLICTS, /* of those, already covered here */
	GKV_STAT_PURGED_TOMBSTONES,
	GKV_STAT_NUM_COUNTERS
} GkvStatCounter;

extern Size GkvStatsShmemSize(void);
extern void GkvStatsShmemInit(void);
extern void GkvStatsAdd(GkvStatCounter counter, uint64 n);
extern uint64 GkvStatsTotal(GkvStatCounter counter);

#endif							/* GLOBALKV_METRICS_H */
