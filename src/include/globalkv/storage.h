/*-------------------------------------------------------------------------
 *
 * storage.h
 *	  Documents, the merge rule, and shard rows (src/storage/).
 *
 *	document	(namespace, key) -> jsonb object, with a version, an optional
 *				absolute expiry time and possibly counter state.
 *	shard		a fixed slice of the 32-bit hash space of (namespace, key);
 *				one table in schema globalkv_data each.
 *	seq			the local change sequence: this node's clock value when a
 *				row was last stored.  Replication pulls rows by seq.
 *
 * docs/data-layout.md and docs/merge-rule.md have the long form.
 *
 * src/include/globalkv/storage.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_STORAGE_H
#define GLOBALKV_STORAGE_H

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "globalkv/clock.h"

/* ----------------------------------------------------------------
 * Documents and the merge rule (document.c)
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

extern text *GkvVersionToText(GkvVersion v);
extern GkvVersion GkvVersionFromText(text *t);
extern bool GkvDocIsExpiredAt(const GkvDocState *doc, int64 unix_ms);
extern bool GkvDocIsLive(const GkvDocState *doc, int64 unix_ms);
extern GkvVersion GkvDocResetVersion(const GkvDocState *doc, bool *deleted);
extern bool GkvDocMerge(const GkvDocState *stored, const GkvDocState *incoming,
						GkvDocState *result);
extern void GkvDocBuildPatch(const GkvDocState *current, Jsonb *offsets,
							 GkvVersion version, bool has_expiry,
							 TimestampTz expires_at, GkvDocState *delta);
extern bool GkvDocBuildTouch(const GkvDocState *current, GkvVersion version,
							 TimestampTz expires_at, GkvDocState *touch);
extern bytea *GkvCounterStateSerialize(const GkvCounterState *crdt);
extern GkvCounterState *GkvCounterStateDeserialize(bytea *data);
extern void GkvValidateOffsets(Jsonb *offsets);

/* ----------------------------------------------------------------
 * The keyspace: what a key and a document may be, which shard a key is
 * in (keyspace.c)
 * ----------------------------------------------------------------
 */
/* what is wrong with a key or a document, for reporting without raising */
typedef struct GkvInputProblem
{
	int			sqlstate;		/* the GK code the check raises */
	const char *message;
	const char *detail;			/* or NULL */
} GkvInputProblem;

extern bool GkvKeyIsValid(text *key);
extern bool GkvKeyProblem(text *key, GkvInputProblem *problem);
extern bool GkvDocumentProblem(Jsonb *doc, GkvInputProblem *problem);
extern void GkvRaiseProblem(const GkvInputProblem *problem) pg_attribute_noreturn();
extern void GkvCheckKey(text *key);
extern void GkvCheckDocument(Jsonb *doc);
extern int	GkvKeyCompare(const text *a, const text *b);
extern void GkvDeconstructBatch(ArrayType *arr, const char *what, Datum **elems, bool **nulls,
								int *n);
extern void GkvCheckRemoteState(text *key, const GkvDocState *incoming, const char *from);
extern int	GkvShardOfKey(text *ns, text *key);

/* ----------------------------------------------------------------
 * Shard rows (shard_store.c)
 * ----------------------------------------------------------------
 */

/* Column numbers of a shard table; sql/ creates them in this order. */
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
/* what a row held before a remote state was merged into it */
typedef struct GkvPreviousState
{
	bool		exists;
	bool		has_value;		/* false: a tombstone */
	bool		counter;		/* it had counter state */
	GkvVersion	version;
} GkvPreviousState;

extern GkvWriteResult GkvApplyRemoteState(GkvShardWriter *writer, text *ns, text *key,
										  const GkvDocState *incoming,
										  GkvPreviousState *previous);

typedef struct GkvShardReader GkvShardReader;

extern GkvShardReader *GkvShardReaderOpen(int shard_id);
extern bool GkvShardRead(GkvShardReader *reader, text *ns, text *key,
						 GkvDocState *out);
extern void GkvShardReaderClose(GkvShardReader *reader);

/*
 * Before the first change sequence is stamped after a postmaster start:
 * moves the clock past every stored seq and catalog version.  Needs a
 * transaction; cheap after the first call.
 */
extern void GkvStartClockPastStoredRows(void);

/* ----------------------------------------------------------------
 * What stored rows tell the housekeeping worker (housekeeping.c)
 * ----------------------------------------------------------------
 */
extern Size GkvHousekeepingShmemSize(void);
extern void GkvHousekeepingShmemInit(void);
extern void GkvHousekeepingNoteStored(bool tombstone, bool has_expiry, TimestampTz expires_at);
extern void GkvHousekeepingRegisterWorker(void);
extern TimestampTz GkvHousekeepingPlanWake(TimestampTz when);
extern TimestampTz GkvHousekeepingWakeAt(void);
extern TimestampTz GkvHousekeepingLastTombstone(void);

#endif							/* GLOBALKV_STORAGE_H */
