/*-------------------------------------------------------------------------
 *
 * peer_status.c
 *	  Per-peer replication state in shared memory, and the function behind
 *	  the kv.replication_status view.
 *
 * Each apply worker owns one slot (found or claimed by peer node id) and
 * updates it after every round; readers copy a slot under its spinlock.
 * The state is volatile: after a restart it is rebuilt within a round.
 * Durable replication progress is the cursor table, not this.
 *
 * src/replication/peer_status.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "globalkv/replication.h"
#include "peer_status.h"

#define GKV_MAX_PEERS 64

typedef struct GkvPeerStatusShared
{
	GkvPeerStatus slots[GKV_MAX_PEERS];
} GkvPeerStatusShared;

static GkvPeerStatusShared *PeerShared = NULL;

Size
GkvPeerStatusShmemSize(void)
{
	return sizeof(GkvPeerStatusShared);
}

void
GkvPeerStatusShmemInit(void)
{
	bool		found;

	PeerShared = ShmemInitStruct("globalkv peer status", GkvPeerStatusShmemSize(), &found);
	if (!found)
	{
		memset(PeerShared, 0, sizeof(GkvPeerStatusShared));
		for (int i = 0; i < GKV_MAX_PEERS; i++)
			SpinLockInit(&PeerShared->slots[i].mutex);
	}
}

/*
 * GkvPeerStatusSlot returns the slot of a peer, claiming a free one;
 * NULL when all are taken (status is then simply not shown).  Two workers
 * starting together may pick the same free slot: the one that loses looks
 * again rather than giving up ("too many peers" with slots to spare).
 */
GkvPeerStatus *
GkvPeerStatusSlot(int32 peer_node_id)
{
	for (int attempt = 0; attempt < GKV_MAX_PEERS; attempt++)
	{
		GkvPeerStatus *free_slot = NULL;

		for (int i = 0; i < GKV_MAX_PEERS; i++)
		{
			GkvPeerStatus *s = &PeerShared->slots[i];
			bool		mine;

			SpinLockAcquire(&s->mutex);
			mine = s->in_use && s->peer_node_id == peer_node_id;
			if (!s->in_use && free_slot == NULL)
				free_slot = s;
			SpinLockRelease(&s->mutex);
			if (mine)
				return s;
		}
		if (free_slot == NULL)
			return NULL;
		SpinLockAcquire(&free_slot->mutex);
		if (!free_slot->in_use)
		{
			memset(((char *) free_slot) + offsetof(GkvPeerStatus, in_use), 0,
				   sizeof(GkvPeerStatus) - offsetof(GkvPeerStatus, in_use));
			free_slot->in_use = true;
			free_slot->peer_node_id = peer_node_id;
			SpinLockRelease(&free_slot->mutex);
			return free_slot;
		}
		SpinLockRelease(&free_slot->mutex);
	}
	return NULL;
}

void
GkvPeerStatusRelease(int32 peer_node_id)
{
	for (int i = 0; i < GKV_MAX_PEERS; i++)
	{
		GkvPeerStatus *s = &PeerShared->slots[i];

		SpinLockAcquire(&s->mutex);
		if (s->in_use && s->peer_node_id == peer_node_id)
			s->in_use = false;
		SpinLockRelease(&s->mutex);
	}
}

/* GkvPeerReports copies up to 'max' streams' state; returns how many */
int
GkvPeerReports(GkvPeerReport *out, int max)
{
	int			n = 0;

	for (int i = 0; i < GKV_MAX_PEERS && n < max; i++)
	{
		GkvPeerStatus copy;

		SpinLockAcquire(&PeerShared->slots[i].mutex);
		copy = PeerShared->slots[i];
		SpinLockRelease(&PeerShared->slots[i].mutex);
		if (!copy.in_use)
			continue;
		out[n].peer_node_id = copy.peer_node_id;
		strlcpy(out[n].peer_name, copy.peer_name, sizeof(out[n].peer_name));
		out[n].connected = copy.connected;
		out[n].lag_ms = copy.lag_ms;
		out[n].lag_rows = copy.lag_rows;
		out[n].rows_applied = copy.rows_applied;
		out[n].conflicts = copy.conflicts;
		out[n].batches = copy.batches;
		out[n].max_clock_skew_ms = copy.max_clock_skew_ms;
		n++;
	}
	return n;
}

PG_FUNCTION_INFO_V1(gkv_replication_status);

/*
 * gkv_replication_status returns one row per peer this node pulls from.
 */
Datum
gkv_replication_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < GKV_MAX_PEERS; i++)
	{
		GkvPeerStatus copy;
		Datum		values[14];
		bool		nulls[14] = {0};

		SpinLockAcquire(&PeerShared->slots[i].mutex);
		copy = PeerShared->slots[i];
		SpinLockRelease(&PeerShared->slots[i].mutex);
		if (!copy.in_use)
			continue;

		values[0] = Int32GetDatum(copy.peer_node_id);
		values[1] = CStringGetTextDatum(copy.peer_name);
		values[2] = BoolGetDatum(copy.connected);
		values[3] = Int32GetDatum(copy.pid);
		values[4] = Int64GetDatum((int64) copy.min_cursor);
		values[5] = Int64GetDatum(copy.lag_ms);
		values[6] = Int64GetDatum(copy.lag_rows);
		values[7] = Int64GetDatum((int64) copy.rows_applied);
		values[8] = Int64GetDatum((int64) copy.conflicts);
		values[9] = Int64GetDatum((int64) copy.batches);
		values[10] = Int64GetDatum(copy.max_clock_skew_ms);
		if (copy.last_contact == 0)
			nulls[11] = true;
		else
			values[11] = TimestampTzGetDatum(copy.last_contact);
		if (copy.last_error[0] == '\0')
		{
			nulls[12] = true;
			nulls[13] = true;
		}
		else
		{
			values[12] = CStringGetTextDatum(copy.last_error);
			values[13] = TimestampTzGetDatum(copy.last_error_time);
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
