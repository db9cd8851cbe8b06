/*-------------------------------------------------------------------------
 *
 * keyspace.c
 *	  What a key and a document may be, and which shard a key is in.
 *
 * The kv API and repair check their input here, with the limits set by
 * globalkv.max_key_length and globalkv.max_document_size.  The key hash is
 * shared with the client library (src/common/gkv_hash.c), so a client
 * computes the same shard as the server.
 *
 * src/storage/keyspace.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"

#include "gkv_hash.h"

#include "globalkv/catalog.h"
#include "globalkv/clock.h"
#include "globalkv/errcodes.h"
#include "globalkv/guc.h"
#include "globalkv/storage.h"

/* GkvKeyIsValid: a key is 1..globalkv.max_key_length bytes, without NUL */
bool
GkvKeyIsValid(text *key)
{
	GkvInputProblem problem;

	return !GkvKeyProblem(key, &problem);
}

/*
 * GkvKeyProblem says why a key is not valid (false when it is), without
 * raising: a bulk load reports a bad line and goes on.  GkvCheckKey raises
 * the same problem as an error.
 */
bool
GkvKeyProblem(text *key, GkvInputProblem *problem)
{
	int			len = VARSIZE_ANY_EXHDR(key);

	problem->sqlstate = ERRCODE_GKV_INVALID_KEY;
	problem->detail = NULL;
	if (len == 0)
		problem->message = "key must not be empty";
	else if (len > GkvMaxKeyLength)
	{
		problem->message = psprintf("key is too long (%d bytes)", len);
		problem->detail = psprintf("The limit is globalkv.max_key_length = %d bytes.",
								   GkvMaxKeyLength);
	}
	else if (memchr(VARDATA_ANY(key), '\0', len) != NULL)
		problem->message = "key must not contain a NUL byte";
	else
		return false;
	return true;
}

/* GkvDocumentProblem: a document is a JSON object within globalkv.max_document_size */
bool
GkvDocumentProblem(Jsonb *doc, GkvInputProblem *problem)
{
	problem->detail = NULL;
	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
	{
		problem->sqlstate = ERRCODE_GKV_INVALID_DOCUMENT;
		problem->message = "document must be a JSON object";
		problem->detail = "globalkv stores JSON objects: wrap other values, e.g. {\"value\": 42}.";
	}
	else if (VARSIZE(doc) > (Size) GkvMaxDocumentSize)
	{
		problem->sqlstate = ERRCODE_GKV_DOCUMENT_TOO_LARGE;
		problem->message = psprintf("document is too large (%zu bytes)", (Size) VARSIZE(doc));
		problem->detail = psprintf("The limit is globalkv.max_document_size = %d bytes.",
								   GkvMaxDocumentSize);
	}
	else
		return false;
	return true;
}

/* GkvRaiseProblem raises what GkvKeyProblem or GkvDocumentProblem found */
void
GkvRaiseProblem(const GkvInputProblem *problem)
{
	ereport(ERROR,
			(errcode(problem->sqlstate),
			 errmsg_internal("%s", problem->message),
			 problem->detail ? errdetail_internal("%s", problem->detail) : 0));
}

/* GkvCheckKey: raises the error that says why a key is not valid */
void
GkvCheckKey(text *key)
{
	GkvInputProblem problem;

	if (GkvKeyProblem(key, &problem))
		GkvRaiseProblem(&problem);
}

/* GkvCheckDocument: raises the error that says why a document is not valid */
void
GkvCheckDocument(Jsonb *doc)
{
	GkvInputProblem problem;

	if (GkvDocumentProblem(doc, &problem))
		GkvRaiseProblem(&problem);
}

/*
 * GkvCheckRemoteState: what a peer (or globalkv.apply_row) sends is checked
 * as a client's call would be -- the key, the document -- and its version
 * must be an origin's and not far in the future (globalkv.max_version_ahead):
 * a row failing any of it raises, and the batch holding it stores nothing.
 * 'from' names the sender for the message.
 */
void
GkvCheckRemoteState(text *key, const GkvDocState *incoming, const char *from)
{
	GkvInputProblem problem;
	int64		ahead;

	if (GkvKeyProblem(key, &problem) ||
		(incoming->value != NULL && GkvDocumentProblem(incoming->value, &problem)))
		ereport(ERROR,
				(errcode(problem.sqlstate),
				 errmsg("%s sent a row globalkv cannot store: %s", from, problem.message),
				 problem.detail ? errdetail_internal("%s", problem.detail) : 0));
	if (incoming->version.origin <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_VERSION),
				 errmsg("%s sent a row whose version has no origin node (%d)", from,
						incoming->version.origin)));
	ahead = GkvHlcPhysicalMs(incoming->version.hlc) - GkvUnixMsNow();
	if (GkvMaxVersionAheadMs > 0 && ahead > GkvMaxVersionAheadMs)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_VERSION),
				 errmsg("%s sent a version " INT64_FORMAT " s ahead of this node's clock", from, ahead / 1000),
				 errdetail("The limit is globalkv.max_version_ahead = %d ms: such a version would win every conflict until then.",
						   GkvMaxVersionAheadMs),
				 errhint("Fix the clock of the node that wrote it, then raise the limit for as long as its rows are still ahead.")));
}

/*
 * GkvDeconstructBatch takes apart a batch argument (keys, values, lines:
 * 'what' names it in errors) of a variable-length element type: one
 * dimension, at most globalkv.max_batch_keys elements -- refused before
 * anything is taken apart, so that one call cannot hog a node.
 */
void
GkvDeconstructBatch(ArrayType *arr, const char *what, Datum **elems, bool **nulls, int *n)
{
	int			count;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("%s must be a one-dimensional array", what)));
	count = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	if (count > GkvMaxBatchKeys)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("a batch of %d %s is too large: the limit is globalkv.max_batch_keys = %d",
						count, what, GkvMaxBatchKeys),
				 errhint("Split it into several calls.")));
	deconstruct_array(arr, ARR_ELEMTYPE(arr), -1, false, TYPALIGN_INT, elems, nulls, n);
}

/* GkvKeyCompare: keys in byte order, as the "C" collation of the primary key sorts them */
int
GkvKeyCompare(const text *a, const text *b)
{
	int			la = VARSIZE_ANY_EXHDR(a),
				lb = VARSIZE_ANY_EXHDR(b);
	int			c = memcmp(VARDATA_ANY(a), VARDATA_ANY(b), Min(la, lb));

	if (c != 0)
		return c;
	return (la > lb) - (la < lb);
}

/* GkvShardOfKey: the shard (namespace, key) belongs to */
int
GkvShardOfKey(text *ns, text *key)
{
	uint32		h = gkv_key_hash(VARDATA_ANY(ns), VARSIZE_ANY_EXHDR(ns),
								 VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));

	return GkvShardForHash(h, GkvShardCount());
}
