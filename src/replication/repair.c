/*-------------------------------------------------------------------------
 *
 * repair.c
 *	  globalkv.apply_row(): merge a document state given as SQL values,
 *	  through exactly the path replication uses.
 *
 * Operators use it to repair a placement from another one's rows
 * (globalkv.shard_rows() on one node, apply_row on the other); the
 * convergence tests use it to apply recorded states in shuffled order and
 * with duplicates.  Because it is the replication apply path, what these
 * show holds for replication too.
 *
 * src/replication/repair.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "globalkv/errcodes.h"
#include "globalkv/storage.h"

PG_FUNCTION_INFO_V1(gkv_apply_row);

Datum
gkv_apply_row(PG_FUNCTION_ARGS)
{
	text	   *ns,
			   *key;
	GkvDocState incoming;
	GkvShardWriter *w;
	GkvWriteResult r;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("namespace, key, hlc and origin must not be null")));
	ns = PG_GETARG_TEXT_PP(0);
	key = PG_GETARG_TEXT_PP(1);
	incoming.value = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	incoming.version.hlc = (uint64) PG_GETARG_INT64(3);
	incoming.version.origin = PG_GETARG_INT32(4);
	incoming.has_expiry = !PG_ARGISNULL(5);
	incoming.expires_at = incoming.has_expiry ? PG_GETARG_TIMESTAMPTZ(5) : 0;
	incoming.crdt = PG_ARGISNULL(6) ? NULL : GkvCounterStateDeserialize(PG_GETARG_BYTEA_PP(6));
	GkvCheckRemoteState(key, &incoming, "globalkv.apply_row's caller");

	w = GkvShardWriterOpen(GkvShardOfKey(ns, key));
	r = GkvApplyRemoteState(w, ns, key, &incoming, NULL);
	GkvShardWriterClose(w);
	PG_RETURN_TEXT_P(cstring_to_text(GkvWriteResultName(r)));
}
