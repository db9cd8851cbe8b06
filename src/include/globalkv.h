/*-------------------------------------------------------------------------
 *
 * globalkv.h
 *	  Declarations shared by every subsystem of the globalkv extension.
 *
 * Vocabulary (see docs/data-layout.md for the long form):
 *
 *	document	(namespace, key) -> jsonb object, with a version, an optional
 *				absolute expiry time and possibly counter state.
 *	version		(hlc, origin node id).  The greater version wins,
 *				compared lexicographically; never "apply remote on a tie".
 *	shard		a fixed slice of the 32-bit hash space of (namespace, key).
 *				Each shard is one table in schema globalkv_data.
 *	seq			the local change sequence: this node's hlc at the moment a
 *				row was last stored.  Replication pulls rows by seq.
 *
 * src/include/globalkv.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_H
#define GLOBALKV_H

#include "postgres.h"

#include "access/attnum.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

/* ----------------------------------------------------------------
 * Error codes: class "GK" is globalkv's own.  docs/errors.md lists them.
 * ----------------------------------------------------------------
 */
#define ERRCODE_GKV_UNKNOWN_NAMESPACE	MAKE_SQLSTATE('G','K','0','0','1')
#define ERRCODE_GKV_UNKNOWN_POLICY		MAKE_SQLSTATE('G','K','0','0','2')
#define ERRCODE_GKV_INVALID_KEY			MAKE_SQLSTATE('G','K','0','0','3')
#define ERRCODE_GKV_INVALID_DOCUMENT	MAKE_SQLSTATE('G','K','0','0','4')
#define ERRCODE_GKV_DOCUMENT_TOO_LARGE	MAKE_SQLSTATE('G','K','0','0','5')
#define ERRCODE_GKV_INVALID_OFFSET		MAKE_SQLSTATE('G','K','0','0','6')
#define ERRCODE_GKV_NUMERIC_OVERFLOW	MAKE_SQLSTATE('G','K','0','0','7')
#define ERRCODE_GKV_FIELD_NOT_NUMERIC	MAKE_SQLSTATE('G','K','0','0','8')
#define ERRCODE_GKV_INVALID_ARGUMENT	MAKE_SQLSTATE('G','K','0','0','9')
#define ERRCODE_GKV_INVALID_NAME		MAKE_SQLSTATE('G','K','0','1','0')
#define ERRCODE_GKV_DUPLICATE_OBJECT	MAKE_SQLSTATE('G','K','0','1','1')
#define ERRCODE_GKV_OBJECT_IN_USE		MAKE_SQLSTATE('G','K','0','1','2')
#define ERRCODE_GKV_NOT_INITIALIZED		MAKE_SQLSTATE('G','K','0','1','3')
#define ERRCODE_GKV_READ_ONLY			MAKE_SQLSTATE('G','K','0','1','4')
#define ERRCODE_GKV_INVALID_VERSION		MAKE_SQLSTATE('G','K','0','1','5')
#define ERRCODE_GKV_RESYNC_REQUIRED		MAKE_SQLSTATE('G','K','0','1','6')
#define ERRCODE_GKV_STALE_MAP			MAKE_SQLSTATE('G','K','0','1','7')
#define ERRCODE_GKV_NO_HOLDER			MAKE_SQLSTATE('G','K','0','1','8')

/* ----------------------------------------------------------------
 * Settings (src/globalkv.c declares them, in one sorted table)
 * ----------------------------------------------------------------
 */
extern char *GkvDatabaseName;
extern int	GkvDebugClockOffsetMs;
extern char *GkvDebugBlockPullFrom;
extern int	GkvExpiryIntervalMs;
extern int	GkvExpiryRowsPerSecond;
extern int	GkvMaxDocumentSize;
extern int	GkvMaxKeyLength;
extern int	GkvTombstoneRetentionS;
extern int	GkvTombstoneMinAgeS;

/* ----------------------------------------------------------------
 * Clock (src/clock/hlc.c)
 *
 * 64 bits: unix milliseconds in the high 48 bits, a logical counter in the
 * low 16 bits.
 * ----------------------------------------------------------------
 */
#define GKV_HLC_LOGICAL_BITS 16
#define GkvHlcPhysicalMs(hlc) ((int64) ((uint64) (hlc) >> GKV_HLC_LOGICAL_BITS))
#define GkvHlcFromMs(ms) ((uint64) (ms) << GKV_HLC_LOGICAL_BITS)

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

extern int	GkvProcSlotCount(void);
extern Size GkvClockShmemSize(void);
extern void GkvClockShmemInit(void);
extern uint64 GkvClockNow(void);
extern uint64 GkvClockTick(void);
extern void GkvClockObserve(uint64 remote_hlc);
extern void GkvClockEnsureInitialized(void);
extern void GkvClockPersistFloor(uint64 value);
extern uint64 GkvStampSequence(int shard);
extern void GkvShardSeqAdvance(int shard, uint64 seq);
extern uint64 GkvShardSeqMax(int shard);
extern void GkvClockShmemRequest(void);
extern void GkvChangeSequenceBeginWrite(void);
extern bool GkvTransactionHasWritten(void);
extern void GkvClockRegisterXactCallbacks(void);
extern uint64 GkvSafeHorizon(void);
extern bool GkvRegisterChangeWaiter(uint64 mask);
extern uint64 GkvShardWaitBit(int shard);
extern void GkvNoteWrittenShard(int shard);
extern void GkvUnregisterChangeWaiter(void);
extern bool GkvChangeWaiterHeldAt(uint64 horizon);
extern void GkvWakeChangeWaiters(void);
extern int64 GkvUnixMsNow(void);
extern TimestampTz GkvUnixMsToTimestamp(int64 ms);
extern int64 GkvTimestampToUnixMs(TimestampTz ts);

/* ----------------------------------------------------------------
 * Documents and the merge rule (src/storage/document.c)
 * ----------------------------------------------------------------
 */

/* One origin's running contribution to one counter field. */
typedef struct GkvContribution
{
	int32		origin;
	uint64		hlc;			/* origin's hlc when it last changed sum */
	Numeric		sum;
} GkvContribution;

/* A numeric field touched by patch_numeric since the document's reset. */
typedef struct GkvCounterField
{
	char	   *name;
	int			namelen;
	GkvVersion	epoch;			/* reset that started this field's life */
	Numeric		base;			/* value at the epoch; NULL = absent */
	int			ncontrib;
	GkvContribution *contrib;	/* sorted by origin */
} GkvCounterField;

typedef struct GkvCounterState
{
	GkvVersion	reset;			/* version of the last put/delete */
	bool		reset_deleted;	/* that reset was a delete */
	int			nfields;
	GkvCounterField *fields;	/* sorted by name */
} GkvCounterState;

/*
 * A document's full state, as stored in one shard row.
 *
 * value is the materialized document: what kv.get returns.  NULL means the
 * row is a tombstone.  crdt is NULL when no counter has been touched since
 * the last put/delete; then the reset version is the version itself.
 */
typedef struct GkvDocState
{
	Jsonb	   *value;
	GkvVersion	version;
	bool		has_expiry;
	TimestampTz expires_at;
	GkvCounterState *crdt;
} GkvDocState;

extern bool GkvDocIsExpiredAt(const GkvDocState *doc, int64 unix_ms);
extern bool GkvDocIsLive(const GkvDocState *doc, int64 unix_ms);
extern GkvVersion GkvDocResetVersion(const GkvDocState *doc, bool *deleted);
extern bool GkvDocMerge(const GkvDocState *stored, const GkvDocState *incoming,
						GkvDocState *result);
extern void GkvDocBuildPatch(const GkvDocState *current, Jsonb *offsets,
							 GkvVersion version, bool has_expiry,
							 TimestampTz expires_at, GkvDocState *delta);
extern bytea *GkvCounterStateSerialize(const GkvCounterState *crdt);
extern GkvCounterState *GkvCounterStateDeserialize(bytea *data);
extern void GkvValidateOffsets(Jsonb *offsets);

/* ----------------------------------------------------------------
 * Shard storage (src/storage/shard_store.c)
 * ----------------------------------------------------------------
 */

/* Column numbers of a shard table; sql/globalkv--0.1.sql creates them. */
#define Anum_shard_namespace	1
#define Anum_shard_key			2
#define Anum_shard_value		3
#define Anum_shard_hlc			4
#define Anum_shard_origin		5
#define Anum_shard_expires_at	6
#define Anum_shard_crdt			7
#define Anum_shard_seq			8
#define Natts_shard				8

typedef enum GkvWriteResult
{
	GKV_WRITE_INSERT,			/* no live document was there */
	GKV_WRITE_UPDATE,			/* a live document was replaced/merged */
	GKV_WRITE_CONFLICT			/* the stored state already covers it */
} GkvWriteResult;

extern const char *GkvWriteResultName(GkvWriteResult r);

/*
 * A write operation: given the current state (NULL when the key has no
 * row) and the write's fresh change sequence, produce the incoming state to
 * merge, or return false to leave the row alone (compare-and-set mismatch).
 */
typedef bool (*GkvBuildIncoming) (const GkvDocState *current, uint64 seq,
								  void *arg, GkvDocState *incoming);

typedef struct GkvShardWriter GkvShardWriter;

extern GkvShardWriter *GkvShardWriterOpen(int shard_id);
extern GkvWriteResult GkvShardWrite(GkvShardWriter *writer, text *ns, text *key,
									GkvBuildIncoming build, void *arg,
									GkvDocState *final_state);
extern void GkvShardWriterClose(GkvShardWriter *writer);
extern GkvWriteResult GkvApplyRemoteState(GkvShardWriter *writer, text *ns, text *key,
										  const GkvDocState *incoming);
extern int	GkvShardOfKey(text *ns, text *key);
extern uint64 GkvShardMaxSequence(int shard_id);

/* hints for the housekeeping worker (src/storage/housekeeping.c) */
extern Size GkvHousekeepingShmemSize(void);
extern void GkvHousekeepingShmemInit(void);
extern void GkvHousekeepingNoteStored(bool tombstone, bool has_expiry, TimestampTz expires_at);
extern void GkvHousekeepingRegisterWorker(void);
extern TimestampTz GkvHousekeepingPlanWake(TimestampTz when);
extern TimestampTz GkvHousekeepingWakeAt(void);
extern TimestampTz GkvHousekeepingLastTombstone(void);

typedef struct GkvShardReader GkvShardReader;

extern GkvShardReader *GkvShardReaderOpen(int shard_id);
extern bool GkvShardRead(GkvShardReader *reader, text *ns, text *key,
						 GkvDocState *out);
extern void GkvShardReaderClose(GkvShardReader *reader);

/* ----------------------------------------------------------------
 * Catalog cache (src/metadata/catalog_cache.c)
 * ----------------------------------------------------------------
 */
typedef struct GkvPolicy
{
	bool		expires;
	Interval	ttl;
} GkvPolicy;

extern int	GkvCatalogCacheSizeKb;
extern void GkvCatalogCacheInit(void);
extern Size GkvCatalogShmemSize(void);
extern void GkvCatalogShmemRequest(void);
extern void GkvCatalogShmemInit(void);
extern void GkvCatalogNoteExtensionChange(void);
extern int32 GkvLocalNodeId(void);
extern int	GkvShardCount(void);
extern Oid	GkvShardRelid(int shard_id);
extern bool GkvNamespaceExists(const char *name);
extern void GkvRequireNamespace(text *ns);
extern const GkvPolicy *GkvLookupPolicy(const char *name);
extern const GkvPolicy *GkvFindPolicy(const char *name);
extern bool GkvNamespaceKnown(text *ns);
extern uint64 GkvCatalogMaxHlc(void);
extern int	GkvShardForHash(uint32 hash, int nshards);

/* the parade as the catalog describes it (placements, nodes, moves) */
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
extern void GkvCatalogInvalidate(void);

/* ----------------------------------------------------------------
 * Routing (src/routing/)
 * ----------------------------------------------------------------
 */
typedef enum GkvRoutingMode
{
	GKV_ROUTING_FORWARD,		/* forward calls for shards held elsewhere */
	GKV_ROUTING_DIRECT			/* refuse them with GK017 (client library) */
} GkvRoutingMode;

extern int	GkvRouting;
extern char *GkvZoneOrder;
extern int	GkvForwardTimeoutMs;

extern int	GkvRouteCandidates(int shard_id, int32 *nodes, int max_nodes);
extern void GkvRejectStale(int shard_id);
extern void GkvRouterWarmUp(int shard_id);
extern bool GkvRouterSend(int32 node_id, const char *sql, int nparams,
						  const char *const *values);
extern struct pg_result *GkvRouterReceive(int32 node_id);
extern Datum GkvForwardCall(FunctionCallInfo fcinfo, int shard_id, bool idempotent);

typedef enum GkvCatalogNameKind
{
	GKV_CATALOG_NAMESPACE,
	GKV_CATALOG_POLICY
} GkvCatalogNameKind;

extern int	GkvCatalogCatchupTimeoutMs;
extern bool GkvAwaitCatalogName(GkvCatalogNameKind kind, const char *name);
typedef struct GkvBatchForward GkvBatchForward;
extern GkvBatchForward *GkvBatchForwardStart(FunctionCallInfo fcinfo, int nout, int npos,
											 const int *pos, const int *shard);
extern char **GkvBatchForwardFinish(GkvBatchForward *b);
extern Size GkvFenceShmemSize(void);
extern void GkvFenceShmemInit(void);
extern bool GkvShardFenced(int shard_id);

/* ----------------------------------------------------------------
 * Replication (src/replication/)
 * ----------------------------------------------------------------
 */
#define GKV_CATALOG_SHARD (-1)	/* pseudo-shard carrying catalog rows */
/* advisory lock (two int4 keys) ordering applies against tombstone purges */
#define GKV_PURGE_LOCK_KEY1 18251	/* "GK" */
#define GKV_PURGE_LOCK_KEY2 1

#include "utils/snapshot.h"
#include "utils/tuplestore.h"
#include "access/tupdesc.h"

extern int64 GkvCatalogPull(uint64 cursor, uint64 horizon, Snapshot snapshot,
							int64 budget, Tuplestorestate *store, TupleDesc desc,
							uint64 *last_seq);
extern bool GkvPeerNeedsResync(int32 peer_node_id);
extern bool GkvCatalogApply(const char *table, const char *key, Jsonb *value,
							GkvVersion version);
extern PGDLLEXPORT void GkvReplicationLauncherMain(Datum main_arg);
extern PGDLLEXPORT void GkvApplyWorkerMain(Datum main_arg);
extern Size GkvPeerStatusShmemSize(void);
extern void GkvPeerStatusShmemInit(void);
extern int	GkvMaxClockSkewMs;
extern int	GkvReplicationBatchDelayMs;
extern int	GkvReplicationBatchRows;
extern int	GkvReplicationWaitMs;

/* ----------------------------------------------------------------
 * Statistics (src/metrics/stats.c)
 * ----------------------------------------------------------------
 */
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

/* ----------------------------------------------------------------
 * Expiry worker (src/expiry/expiry_worker.c)
 * ----------------------------------------------------------------
 */
extern bool GkvExtensionInstalled(void);
extern void GkvWorkerTransactionBegin(void);
extern void GkvWorkerTransactionEnd(void);
extern void GkvWorkerConnect(const char *appname);
struct _SPI_plan;
extern struct _SPI_plan *GkvKeptPlan(struct _SPI_plan **slot, const char *sql, int nargs,
									 const Oid *argtypes);
struct BackgroundWorker;
extern void GkvFillWorker(struct BackgroundWorker *worker, const char *function,
						  const char *name, const char *type, int restart_seconds);
extern void GkvRegisterStaticWorker(const char *function, const char *name,
									const char *type, int restart_seconds);
extern PGDLLEXPORT void GkvExpiryWorkerMain(Datum main_arg);

/* ----------------------------------------------------------------
 * Input checks shared by the API (src/commands/api.c)
 * ----------------------------------------------------------------
 */
extern void GkvCheckKey(text *key);
extern void GkvCheckDocument(Jsonb *doc);

/* The shared hash (src/common/gkv_hash.c), also built into the client. */
#include "gkv_hash.h"

#endif							/* GLOBALKV_H */
