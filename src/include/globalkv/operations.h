/*-------------------------------------------------------------------------
 *
 * operations.h
 *	  Operations on the parade that a server drives from start to end
 *	  over connections of its own to other nodes (src/operations/): the
 *	  online shard move behind kv.move_shard (shard_move.c) and the
 *	  progress of the moves this node drives, in shared memory, for
 *	  kv.shard_moves_in_progress (move_status.c).
 *
 * src/include/globalkv/operations.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_OPERATIONS_H
#define GLOBALKV_OPERATIONS_H

#include "datatype/timestamp.h"

/*
 * The session advisory lock (two int4 keys: this one and the shard) a
 * mover holds on the source node for the whole move, so that two sessions
 * never drive moves of one shard of one zone at once.  Distinct from
 * GKV_PURGE_LOCK_KEY1 (replication.h), whose second key is a constant.
 */
#define GKV_MOVE_LOCK_KEY1 18252

/* the outcome of a move, a row of kv.move_shard */
typedef struct GkvMoveResult
{
	int32		shard_id;
	char		zone[64];
	int32		source_node;
	int32		target_node;
	const char *state;			/* "complete", "rolled back" or "none" */
	int64		rows_copied;	/* rows of the shard on the target at the end */
	double		write_stall_ms; /* how long the fence stood (0: no fence) */
	double		elapsed_ms;
} GkvMoveResult;

extern void GkvMoveShard(int32 shard_id, int32 target_node, bool rollback,
						 GkvMoveResult *result);

/* progress of the moves driven by this node's backends (move_status.c) */
/* anti-entropy (anti_entropy.c, repair_worker.c) */
typedef struct GkvAntiEntropyTotals
{
	int64		compared;		/* (shard, peer) pairs */
	int64		differing_keys;
	int64		mended;
	uint64		bytes;
} GkvAntiEntropyTotals;

extern void GkvAntiEntropyShard(int shard, bool repair, GkvAntiEntropyTotals *totals);
extern PGDLLEXPORT void GkvRepairWorkerMain(Datum main_arg);
extern Size GkvRepairStatusShmemSize(void);
extern void GkvRepairStatusShmemInit(void);

extern Size GkvMoveStatusShmemSize(void);
extern void GkvMoveStatusShmemInit(void);
extern void GkvMoveStatusBegin(int32 shard_id, const char *zone, int32 source_node,
							   int32 target_node);
extern void GkvMoveStatusPhase(const char *phase);
extern void GkvMoveStatusCopy(int64 rows_copied, int64 behind_ms);
extern void GkvMoveStatusStall(double write_stall_ms);
extern void GkvMoveStatusEnd(void);

#endif							/* GLOBALKV_OPERATIONS_H */
