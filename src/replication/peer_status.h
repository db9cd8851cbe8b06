/*-------------------------------------------------------------------------
 *
 * peer_status.h
 *	  Shared-memory state of each replication stream (peer_status.c).
 *
 * src/replication/peer_status.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GKV_PEER_STATUS_H
#define GKV_PEER_STATUS_H

#include "storage/spin.h"

typedef struct GkvPeerStatus
{
	slock_t		mutex;
	bool		in_use;			/* everything below is reset on claim */
	int32		peer_node_id;
	char		peer_name[64];
	bool		connected;
	int32		pid;
	uint64		min_cursor;		/* lowest per-shard cursor */
	int64		lag_ms;			/* source horizon - what we have, in ms */
	int64		lag_rows;		/* rows known to be waiting (0 when caught up) */
	uint64		rows_applied;
	uint64		conflicts;		/* applied rows already covered here */
	uint64		batches;
	int64		max_clock_skew_ms;	/* greatest lead of a peer hlc over our clock */
	TimestampTz last_contact;
	char		last_error[256];
	TimestampTz last_error_time;
} GkvPeerStatus;

extern GkvPeerStatus *GkvPeerStatusSlot(int32 peer_node_id);
extern void GkvPeerStatusRelease(int32 peer_node_id);

#endif							/* GKV_PEER_STATUS_H */
