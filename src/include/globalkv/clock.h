/*-------------------------------------------------------------------------
 *
 * clock.h
 *	  The node's hybrid logical clock, versions, and the change sequences
 *	  that stamp every stored row (src/clock/hlc.c).
 *
 * A clock value is 64 bits: unix milliseconds in the high 48 bits, a
 * logical counter in the low 16.
 *
 * src/include/globalkv/clock.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_CLOCK_H
#define GLOBALKV_CLOCK_H

#include "datatype/timestamp.h"

#define GKV_HLC_LOGICAL_BITS 16
#define GkvHlcPhysicalMs(hlc) ((int64) ((uint64) (hlc) >> GKV_HLC_LOGICAL_BITS))
#define GkvHlcFromMs(ms) ((uint64) (ms) << GKV_HLC_LOGICAL_BITS)

/*
 * A version: (hlc, origin node id).  The greater version wins, compared
 * lexicographically; never "apply remote on a tie".
 */
typedef struct GkvVersion
{
	uint64		hlc;
	int32		origin;
} GkvVersion;

static inline int
GkvVersionCompare(GkvVersion a, GkvVersion b)
{
	if (a.hlc != b.hlc)
		return a.hlc < b.hlc ? -1 : 1;
	if (a.origin != b.origin)
		return a.origin < b.origin ? -1 : 1;
	return 0;
}

/* shared memory */
extern int	GkvProcSlotCount(void);
extern void GkvClockShmemRequest(void);
extern Size GkvClockShmemSize(void);
extern void GkvClockShmemInit(void);
extern void GkvClockRegisterXactCallbacks(void);

/* wall time, with globalkv.debug_clock_offset applied */
extern int64 GkvUnixMsNow(void);
extern TimestampTz GkvUnixMsToTimestamp(int64 ms);
extern int64 GkvTimestampToUnixMs(TimestampTz ts);

/* the clock */
extern uint64 GkvClockNow(void);
extern uint64 GkvClockTick(void);
extern void GkvClockObserve(uint64 remote_hlc);
extern void GkvClockPersistFloor(uint64 value);

/*
 * Start-up: before the first tick after a postmaster start, whoever knows
 * the greatest value stored anywhere (storage: GkvStartClockPastStoredRows)
 * hands it to GkvClockStartPast, which also starts past the persisted floor.
 */
extern bool GkvClockStarted(void);
extern void GkvClockStartPast(uint64 greatest_stored);

/* change sequences and the safe horizon */
extern uint64 GkvStampSequence(int shard);
extern void GkvShardSeqAdvance(int shard, uint64 seq);
extern uint64 GkvShardSeqMax(int shard);
extern bool GkvTransactionHasWritten(void);
extern uint64 GkvSafeHorizon(void);

/*
 * A set of shards as a bit mask: shards share bits modulo 63 (a shared bit
 * costs a waiter a wasted look, nothing more); bit 63 is the catalog.
 */
extern uint64 GkvShardBit(int shard);

/*
 * Called when a transaction's in-flight slot is cleared (its rows are
 * visible, or it aborted): written_mask is the shards it stamped rows in
 * (0 when it aborted), released the slot's value.  Replication sets it to
 * wake the pulls waiting for changes; the clock knows nothing of them.
 */
typedef void (*GkvSlotReleasedHook) (uint64 written_mask, uint64 released);
extern GkvSlotReleasedHook gkv_slot_released_hook;

#endif							/* GLOBALKV_CLOCK_H */
