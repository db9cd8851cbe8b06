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

#include "gkv_hash.h"

#include "globalkv/catalog.h"
#include "globalkv/errcodes.h"
#include "globalkv/guc.h"
#include "globalkv/storage.h"

/* GkvKeyIsValid: a key is 1..globalkv.max_key_length bytes, without NUL */
bool
GkvKeyIsValid(text *key)
{
	int			len = VARSIZE_ANY_EXHDR(key);

	return len > 0 && len <= GkvMaxKeyLength && memchr(VARDATA_ANY(key), '\0', len) == NULL;
}

/* GkvCheckKey: raises the error that says why a key is not valid */
void
GkvCheckKey(text *key)
{
	int			len = VARSIZE_ANY_EXHDR(key);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_KEY),
				 errmsg("key must not be empty")));
	if (len > GkvMaxKeyLength)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_KEY),
				 errmsg("key is too long (%d bytes)", len),
				 errdetail("The limit is globalkv.max_key_length = %d bytes.",
						   GkvMaxKeyLength)));
	if (memchr(VARDATA_ANY(key), '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_KEY),
				 errmsg("key must not contain a NUL byte")));
}

/* GkvCheckDocument: a document is a JSON object within globalkv.max_document_size */
void
GkvCheckDocument(Jsonb *doc)
{
	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_DOCUMENT),
				 errmsg("document must be a JSON object"),
				 errdetail("globalkv stores JSON objects: wrap other values, e.g. {\"value\": 42}.")));
	if (VARSIZE(doc) > (Size) GkvMaxDocumentSize)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_DOCUMENT_TOO_LARGE),
				 errmsg("document is too large (%zu bytes)", (Size) VARSIZE(doc)),
				 errdetail("The limit is globalkv.max_document_size = %d bytes.",
						   GkvMaxDocumentSize)));
}

/* GkvShardOfKey: the shard (namespace, key) belongs to */
int
GkvShardOfKey(text *ns, text *key)
{
	uint32		h = gkv_key_hash(VARDATA_ANY(ns), VARSIZE_ANY_EXHDR(ns),
								 VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));

	return GkvShardForHash(h, GkvShardCount());
}
