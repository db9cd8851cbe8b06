/*-------------------------------------------------------------------------
 *
 * api.c
 *	  The document API in schema kv: put, get, delete, patch_numeric,
 *	  their batch forms and compare-and-set.
 *
 * Every function here validates all of its input first and raises a GKxxx
 * error for anything wrong; writes happen only after that, inside the
 * caller's transaction, so a failing call leaves nothing behind.  Writes
 * go through GkvShardWrite and so through the one merge rule.
 *
 * Values arrive either as jsonb or as text.  The text forms exist so that
 * an invalid JSON literal is reported with globalkv's SQLSTATE (GK004), and
 * because an untyped literal in kv.put('ns', 'k', '{"a":1}') resolves to
 * text; the jsonb forms take already-parsed documents without re-parsing.
 *
 * src/commands/api.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "gkv_hash.h"

#include "globalkv/catalog.h"
#include "globalkv/clock.h"
#include "globalkv/errcodes.h"
#include "globalkv/guc.h"
#include "globalkv/metrics.h"
#include "globalkv/routing.h"
#include "globalkv/storage.h"

/*
 * ParseJsonText turns text into jsonb, reporting invalid JSON as GK004 with
 * the parser's message as detail.  Other errors (out of memory, cancel) are
 * re-thrown unchanged.
 */
static Jsonb *
ParseJsonText(text *t, int errcode_on_invalid, const char *what)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *s = text_to_cstring(t);
	Jsonb	   *volatile result = NULL;

	PG_TRY();
	{
		result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_INVALID_TEXT_REPRESENTATION &&
			edata->sqlerrcode != ERRCODE_UNTRANSLATABLE_CHARACTER &&
			edata->sqlerrcode != ERRCODE_UNTRANSLATABLE_CHARACTER &&
			edata->sqlerrcode != ERRCODE_PROGRAM_LIMIT_EXCEEDED)
			PG_RE_THROW();
		FlushErrorState();
		ereport(ERROR,
				(errcode(errcode_on_invalid),
				 errmsg("%s is not valid JSON", what),
				 edata->detail ? errdetail("%s %s", edata->message, edata->detail)
				 : errdetail("%s", edata->message)));
	}
	PG_END_TRY();
	pfree(s);
	return result;
}

static Jsonb *
DocumentFromText(text *t)
{
	return ParseJsonText(t, ERRCODE_GKV_INVALID_DOCUMENT, "document");
}

/* ----------------------------------------------------------------
 * Expiry and versions
 * ----------------------------------------------------------------
 */

typedef struct GkvExpirySpec
{
	bool		has_expiry;
	TimestampTz expires_at;
} GkvExpirySpec;

/*
 * RequireNamespace raises GK001 unless ns names a namespace known here or,
 * once it has arrived, elsewhere in the parade (GkvAwaitCatalogName).
 */
static void
RequireNamespace(text *ns)
{
	if (GkvNamespaceKnown(ns))
		return;
	if (VARSIZE_ANY_EXHDR(ns) > 0)
		(void) GkvAwaitCatalogName(GKV_CATALOG_NAMESPACE, text_to_cstring(ns));
	GkvRequireNamespace(ns);
}

static GkvExpirySpec
ExpiryFromPolicy(text *policy_name)
{
	GkvExpirySpec spec = {false, 0};
	char	   *name = text_to_cstring(policy_name);
	const GkvPolicy *policy;

	/* like RequireNamespace: a policy just created elsewhere is awaited */
	if (GkvFindPolicy(name) == NULL)
		(void) GkvAwaitCatalogName(GKV_CATALOG_POLICY, name);
	policy = GkvLookupPolicy(name);

	if (policy->expires)
	{
		spec.has_expiry = true;
		spec.expires_at = DatumGetTimestampTz(
											  DirectFunctionCall2(timestamptz_pl_interval,
																  TimestampTzGetDatum(GetCurrentTimestamp()),
																  IntervalPGetDatum(&policy->ttl)));
	}
	pfree(name);
	return spec;
}

static GkvExpirySpec
ExpiryFromSeconds(int64 seconds)
{
	GkvExpirySpec spec;

	/* a century: far beyond any session or cache, far from overflow */
	if (seconds <= 0 || seconds > INT64CONST(100) * 366 * SECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("TTL must be between 1 second and 100 years, not " INT64_FORMAT,
						seconds),
				 errhint("Use the NO_EXPIRE policy for documents that never expire.")));
	spec.has_expiry = true;
	spec.expires_at = GetCurrentTimestamp() + seconds * USECS_PER_SEC;
	return spec;
}

/*
 * ExpiryArg reads the expiry argument of a call: an expiry policy name
 * (text) or a TTL in seconds (bigint), whichever overload was called.
 */
static GkvExpirySpec
ExpiryArg(FunctionCallInfo fcinfo, int argno)
{
	if (get_fn_expr_argtype(fcinfo->flinfo, argno) == INT8OID)
		return ExpiryFromSeconds(PG_GETARG_INT64(argno));
	return ExpiryFromPolicy(PG_GETARG_TEXT_PP(argno));
}

/* ----------------------------------------------------------------
 * Write operations (build callbacks for GkvShardWrite)
 * ----------------------------------------------------------------
 */

typedef enum GkvCasMode
{
	GKV_CAS_NONE,
	GKV_CAS_ABSENT,				/* write only if no live document */
	GKV_CAS_VERSION				/* write only if the live version matches */
} GkvCasMode;

typedef struct PutOp
{
	Jsonb	   *value;			/* NULL: delete */
	GkvExpirySpec expiry;
	GkvCasMode	cas;
	GkvVersion	expected;
} PutOp;

static bool
BuildPut(const GkvDocState *current, uint64 seq, void *arg, GkvDocState *incoming)
{
	PutOp	   *op = (PutOp *) arg;

	if (op->cas != GKV_CAS_NONE)
	{
		bool		live = current && GkvDocIsLive(current, GkvUnixMsNow());

		if (op->cas == GKV_CAS_ABSENT && live)
			return false;
		if (op->cas == GKV_CAS_VERSION &&
			(!live || GkvVersionCompare(current->version, op->expected) != 0))
			return false;
	}
	incoming->value = op->value;
	incoming->version.hlc = seq;
	incoming->version.origin = GkvLocalNodeId();
	incoming->has_expiry = op->value != NULL && op->expiry.has_expiry;
	incoming->expires_at = incoming->has_expiry ? op->expiry.expires_at : 0;
	incoming->crdt = NULL;
	return true;
}

typedef struct PatchOp
{
	Jsonb	   *offsets;
	GkvExpirySpec expiry;
} PatchOp;

static bool
BuildPatch(const GkvDocState *current, uint64 seq, void *arg, GkvDocState *incoming)
{
	PatchOp    *op = (PatchOp *) arg;
	GkvVersion	version;

	version.hlc = seq;
	version.origin = GkvLocalNodeId();
	GkvDocBuildPatch(current, op->offsets, version, op->expiry.has_expiry,
					 op->expiry.expires_at, incoming);
	return true;
}

typedef struct TouchOp
{
	GkvExpirySpec expiry;
} TouchOp;

/* false, writing nothing, when the document is missing, deleted or expired */
static bool
BuildTouch(const GkvDocState *current, uint64 seq, void *arg, GkvDocState *incoming)
{
	TouchOp    *op = (TouchOp *) arg;
	GkvVersion	version;

	version.hlc = seq;
	version.origin = GkvLocalNodeId();
	return GkvDocBuildTouch(current, version, op->expiry.expires_at, incoming);
}

/*
 * WriteOne writes one key through the merge.  Returns false, writing
 * nothing, when this node turns out not to hold the key's shard once it
 * has the shard table's lock: a move switched it away while we waited
 * (replication/fence.c); the caller forwards the call then.
 */
static bool
WriteOne(text *ns, text *key, int shard, GkvBuildIncoming build, void *arg,
		 GkvDocState *final_state, GkvWriteResult *result)
{
	GkvShardWriter *w = GkvShardWriterOpen(shard);

	if (!GkvServesShard(shard))
	{
		GkvShardWriterClose(w);
		return false;
	}
	/* a drop_namespace may have committed while we waited for the table */
	GkvRequireNamespace(ns);
	*result = GkvShardWrite(w, ns, key, build, arg, final_state);

	GkvShardWriterClose(w);
	return true;
}

/* forward the call when another node holds the key's shard */
#define ROUTE(fcinfo, shard, idempotent) \
	do { \
		if (!GkvServesShard(shard)) \
			return GkvForwardCall((fcinfo), (shard), (idempotent)); \
		GkvRouterWarmUp(shard); \
	} while (0)

/*
 * CountWrite counts one write (kv.stats and the metrics); 'timed': it ends
 * a single-key call, whose latency goes into the histogram.
 */
static void
CountWrite(GkvStatCounter op, GkvWriteResult r, bool timed)
{
	GkvOp		kind = op == GKV_STAT_PATCHES ? GKV_OP_PATCH :
		op == GKV_STAT_DELETES ? GKV_OP_DELETE : GKV_OP_PUT;

	GkvStatsAdd(op, 1);
	GkvStatsAdd(r == GKV_WRITE_INSERT ? GKV_STAT_INSERTS :
				r == GKV_WRITE_UPDATE ? GKV_STAT_UPDATES : GKV_STAT_CONFLICTS, 1);
	GkvStatsOp(kind, r == GKV_WRITE_INSERT ? GKV_RESULT_INSERT :
			   r == GKV_WRITE_UPDATE ? GKV_RESULT_UPDATE : GKV_RESULT_CONFLICT, 1);
	if (timed)
		GkvStatsOpLatency(kind);
}

/* PutCommon: the result text, or NULL when the shard moved away */
static text *
PutCommon(text *ns, text *key, int shard, Jsonb *value, GkvExpirySpec expiry,
		  GkvCasMode cas, GkvVersion expected)
{
	PutOp		op;
	GkvWriteResult r;

	op.value = value;
	op.expiry = expiry;
	op.cas = cas;
	op.expected = expected;
	if (!WriteOne(ns, key, shard, BuildPut, &op, NULL, &r))
		return NULL;
	CountWrite(GKV_STAT_PUTS, r, true);
	return cstring_to_text(GkvWriteResultName(r));
}

/*
 * Argument checks common to every single-key call; the document, when
 * given, is checked too.  Namespace first: the most common mistake.
 */
static void
CheckCall(text *ns, text *key, Jsonb *doc)
{
	RequireNamespace(ns);
	GkvCheckKey(key);
	if (doc)
		GkvCheckDocument(doc);
}

static Jsonb *
DocumentArg(FunctionCallInfo fcinfo, int argno)
{
	if (get_fn_expr_argtype(fcinfo->flinfo, argno) == JSONBOID)
		return PG_GETARG_JSONB_P(argno);
	return DocumentFromText(PG_GETARG_TEXT_PP(argno));
}

/* every API function starts with it: the latency histogram's start, too */
#define REQUIRE_ARGS(n) \
	do { \
		GkvStatsCallStart(); \
		for (int i_ = 0; i_ < (n); i_++) \
			if (PG_ARGISNULL(i_)) \
				ereport(ERROR, \
						(errcode(ERRCODE_GKV_INVALID_ARGUMENT), \
						 errmsg("argument %d of kv.%s must not be null", i_ + 1, \
								get_func_name(fcinfo->flinfo->fn_oid)))); \
	} while (0)

/* ----------------------------------------------------------------
 * SQL-callable functions
 * ----------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(gkv_put);
PG_FUNCTION_INFO_V1(gkv_put_if_version);
PG_FUNCTION_INFO_V1(gkv_get);
PG_FUNCTION_INFO_V1(gkv_get_versioned);
PG_FUNCTION_INFO_V1(gkv_docs_router);
PG_FUNCTION_INFO_V1(gkv_delete);
PG_FUNCTION_INFO_V1(gkv_patch_numeric);
PG_FUNCTION_INFO_V1(gkv_put_many);
PG_FUNCTION_INFO_V1(gkv_get_many);
PG_FUNCTION_INFO_V1(gkv_key_shard);
PG_FUNCTION_INFO_V1(gkv_touch);
PG_FUNCTION_INFO_V1(gkv_get_and_touch);

/*
 * kv.put(namespace, key, value, expiry_policy | ttl_seconds)
 *	-> INSERT | UPDATE | CONFLICT
 */
Datum
gkv_put(PG_FUNCTION_ARGS)
{
	int			shard;
	text	   *ns,
			   *key;
	Jsonb	   *doc;
	GkvExpirySpec expiry;
	GkvVersion	none = {0, 0};
	text	   *result;

	REQUIRE_ARGS(4);
	ns = PG_GETARG_TEXT_PP(0);
	key = PG_GETARG_TEXT_PP(1);
	RequireNamespace(ns);
	GkvCheckKey(key);
	/* the holder checks the document and the expiry: not parsed twice */
	shard = GkvShardOfKey(ns, key);
	ROUTE(fcinfo, shard, true);
	doc = DocumentArg(fcinfo, 2);
	GkvCheckDocument(doc);
	expiry = ExpiryArg(fcinfo, 3);
	result = PutCommon(ns, key, shard, doc, expiry, GKV_CAS_NONE, none);
	if (result == NULL)
		return GkvForwardCall(fcinfo, shard, true);
	PG_RETURN_TEXT_P(result);
}

/*
 * kv.put_if_version(namespace, key, value, expected_version, expiry_policy)
 * writes only if the live document's version is expected_version, or, when
 * expected_version is NULL, only if there is no live document.  Returns
 * CONFLICT, without writing, otherwise.
 */
Datum
gkv_put_if_version(PG_FUNCTION_ARGS)
{
	int			shard;
	text	   *ns,
			   *key;
	Jsonb	   *doc;
	GkvExpirySpec expiry;
	GkvVersion	expected = {0, 0};
	GkvCasMode	mode = GKV_CAS_ABSENT;
	text	   *result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("only expected_version may be null in kv.put_if_version")));
	ns = PG_GETARG_TEXT_PP(0);
	key = PG_GETARG_TEXT_PP(1);
	RequireNamespace(ns);
	GkvCheckKey(key);
	shard = GkvShardOfKey(ns, key);
	ROUTE(fcinfo, shard, false);	/* the holder checks the rest */
	doc = DocumentArg(fcinfo, 2);
	GkvCheckDocument(doc);
	if (!PG_ARGISNULL(3))
	{
		expected = GkvVersionFromText(PG_GETARG_TEXT_PP(3));
		mode = GKV_CAS_VERSION;
	}
	expiry = ExpiryFromPolicy(PG_GETARG_TEXT_PP(4));
	result = PutCommon(ns, key, shard, doc, expiry, mode, expected);
	if (result == NULL)
		return GkvForwardCall(fcinfo, shard, false);
	PG_RETURN_TEXT_P(result);
}

/*
 * ReadOne fetches the live document of a key into *doc; false when the key
 * is missing, deleted or expired.
 */
typedef enum ReadOutcome
{
	READ_MISSING,
	READ_FOUND,
	READ_MOVED					/* the shard moved away: forward the call */
} ReadOutcome;

static ReadOutcome
ReadOne(text *ns, text *key, int shard, GkvDocState *doc)
{
	GkvShardReader *r = GkvShardReaderOpen(shard);
	bool		found;

	/* a move's cleanup may have emptied the table while we waited for it */
	if (!GkvServesShard(shard))
	{
		GkvShardReaderClose(r);
		return READ_MOVED;
	}
	found = GkvShardRead(r, ns, key, doc);
	GkvShardReaderClose(r);
	found = found && GkvDocIsLive(doc, GkvUnixMsNow());
	GkvStatsAdd(GKV_STAT_GETS, 1);
	GkvStatsOp(GKV_OP_GET, found ? GKV_RESULT_FOUND : GKV_RESULT_MISSING, 1);
	GkvStatsOpLatency(GKV_OP_GET);
	return found ? READ_FOUND : READ_MISSING;
}

/*
 * ReadOrForward reads the live document of a key when this node holds its
 * shard; when it does not (or the shard moved away meanwhile) it runs the
 * same call on the node that does, puts its result in *forwarded and
 * returns READ_MOVED.
 */
static ReadOutcome
ReadOrForward(FunctionCallInfo fcinfo, text *ns, text *key, GkvDocState *doc, Datum *forwarded)
{
	int			shard = GkvShardOfKey(ns, key);
	ReadOutcome outcome = READ_MOVED;

	if (GkvServesShard(shard))
	{
		GkvRouterWarmUp(shard);
		outcome = ReadOne(ns, key, shard, doc);
	}
	if (outcome == READ_MOVED)
		*forwarded = GkvForwardCall(fcinfo, shard, true);
	return outcome;
}

/* kv.get(namespace, key) -> value or NULL */
Datum
gkv_get(PG_FUNCTION_ARGS)
{
	Datum		forwarded;
	text	   *ns,
			   *key;
	GkvDocState doc;

	REQUIRE_ARGS(2);
	ns = PG_GETARG_TEXT_PP(0);
	key = PG_GETARG_TEXT_PP(1);
	CheckCall(ns, key, NULL);
	switch (ReadOrForward(fcinfo, ns, key, &doc, &forwarded))
	{
		case READ_MOVED:
			return forwarded;
		case READ_MISSING:
			PG_RETURN_NULL();
		case READ_FOUND:
			break;
	}
	PG_RETURN_JSONB_P(doc.value);
}

/* kv.get_versioned(namespace, key) -> (value, version, expires_at), 0 or 1 row */
Datum
gkv_get_versioned(PG_FUNCTION_ARGS)
{
	Datum		forwarded;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *ns,
			   *key;
	GkvDocState doc;
	ReadOutcome outcome;

	REQUIRE_ARGS(2);
	ns = PG_GETARG_TEXT_PP(0);
	key = PG_GETARG_TEXT_PP(1);
	CheckCall(ns, key, NULL);
	outcome = ReadOrForward(fcinfo, ns, key, &doc, &forwarded);
	if (outcome == READ_MOVED)
		return forwarded;
	InitMaterializedSRF(fcinfo, 0);
	if (outcome == READ_FOUND)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, !doc.has_expiry};

		values[0] = JsonbPGetDatum(doc.value);
		values[1] = PointerGetDatum(GkvVersionToText(doc.version));
		values[2] = TimestampTzGetDatum(doc.expires_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * globalkv.docs_router(namespace, key, with_value): kv.docs reduced to the
 * one document a query pins (src/distributed/docs_planner.c), read where
 * kv.get reads it.  A namespace or key no document can have matches no row,
 * as any condition on a relation would.
 */
Datum
gkv_docs_router(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *ns,
			   *key;
	Datum		forwarded;
	GkvDocState doc;
	ReadOutcome outcome = READ_MISSING;

	GkvStatsAdd(GKV_STAT_DOCS_ROUTER, 1);
	if (!PG_ARGISNULL(0) && !PG_ARGISNULL(1) &&
		GkvNamespaceKnown(PG_GETARG_TEXT_PP(0)) && GkvKeyIsValid(PG_GETARG_TEXT_PP(1)))
	{
		ns = PG_GETARG_TEXT_PP(0);
		key = PG_GETARG_TEXT_PP(1);
		outcome = ReadOrForward(fcinfo, ns, key, &doc, &forwarded);
		if (outcome == READ_MOVED)
			return forwarded;
	}
	InitMaterializedSRF(fcinfo, 0);
	if (outcome == READ_FOUND)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, !doc.has_expiry};

		values[0] = PointerGetDatum(PG_GETARG_TEXT_PP(0));
		values[1] = PointerGetDatum(PG_GETARG_TEXT_PP(1));
		values[2] = JsonbPGetDatum(doc.value);
		nulls[2] = PG_ARGISNULL(2) || !PG_GETARG_BOOL(2);
		values[3] = PointerGetDatum(GkvVersionToText(doc.version));
		values[4] = TimestampTzGetDatum(doc.expires_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* kv.delete(namespace, key) -> true when a live document was deleted */
Datum
gkv_delete(PG_FUNCTION_ARGS)
{
	int			shard;
	text	   *ns,
			   *key;
	PutOp		op = {0};
	GkvWriteResult r;

	REQUIRE_ARGS(2);
	ns = PG_GETARG_TEXT_PP(0);
	key = PG_GETARG_TEXT_PP(1);
	CheckCall(ns, key, NULL);
	shard = GkvShardOfKey(ns, key);
	ROUTE(fcinfo, shard, true);
	op.value = NULL;
	op.cas = GKV_CAS_NONE;
	if (!WriteOne(ns, key, shard, BuildPut, &op, NULL, &r))
		return GkvForwardCall(fcinfo, shard, true);
	GkvStatsAdd(GKV_STAT_DELETES, 1);
	if (r == GKV_WRITE_CONFLICT)
		GkvStatsAdd(GKV_STAT_CONFLICTS, 1);
	GkvStatsOp(GKV_OP_DELETE, r == GKV_WRITE_CONFLICT ? GKV_RESULT_CONFLICT :
			   r == GKV_WRITE_UPDATE ? GKV_RESULT_DELETED : GKV_RESULT_MISSING, 1);
	GkvStatsOpLatency(GKV_OP_DELETE);
	PG_RETURN_BOOL(r == GKV_WRITE_UPDATE);
}

/* kv.patch_numeric(namespace, key, offsets, expiry_policy | ttl_seconds) -> new document */
Datum
gkv_patch_numeric(PG_FUNCTION_ARGS)
{
	int			shard;
	text	   *ns,
			   *key;
	PatchOp		op;
	GkvDocState final_state;
	GkvWriteResult r;

	REQUIRE_ARGS(4);
	ns = PG_GETARG_TEXT_PP(0);
	key = PG_GETARG_TEXT_PP(1);
	CheckCall(ns, key, NULL);
	shard = GkvShardOfKey(ns, key);
	ROUTE(fcinfo, shard, false);	/* the holder checks offsets and expiry */
	op.expiry = ExpiryArg(fcinfo, 3);
	op.offsets = get_fn_expr_argtype(fcinfo->flinfo, 2) == JSONBOID ?
		PG_GETARG_JSONB_P(2) :
		ParseJsonText(PG_GETARG_TEXT_PP(2), ERRCODE_GKV_INVALID_OFFSET, "offsets");
	GkvValidateOffsets(op.offsets);
	if (!WriteOne(ns, key, shard, BuildPatch, &op, &final_state, &r))
		return GkvForwardCall(fcinfo, shard, false);
	CountWrite(GKV_STAT_PATCHES, r, true);
	if (final_state.value == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(final_state.value);
}

/*
 * kv.touch(namespace, key, ttl_seconds) -> true when a live document got the
 * new expiry; kv.get_and_touch(namespace, key, ttl_seconds) -> its value
 * (NULL when there was none).  A touch is a versioned write of a new expiry
 * only (GkvDocBuildTouch); on a missing, deleted or expired key it writes
 * nothing.  Retrying it is harmless (the expiry is set, not extended), so
 * a forward may be retried.
 */
static Datum
TouchCommon(FunctionCallInfo fcinfo, bool return_value)
{
	int			shard;
	text	   *ns,
			   *key;
	TouchOp		op;
	GkvDocState final_state;
	GkvWriteResult r;
	bool		touched;

	REQUIRE_ARGS(3);
	ns = PG_GETARG_TEXT_PP(0);
	key = PG_GETARG_TEXT_PP(1);
	CheckCall(ns, key, NULL);
	shard = GkvShardOfKey(ns, key);
	ROUTE(fcinfo, shard, true);
	op.expiry = ExpiryFromSeconds(PG_GETARG_INT64(2));
	if (!WriteOne(ns, key, shard, BuildTouch, &op, &final_state, &r))
		return GkvForwardCall(fcinfo, shard, true);
	/* CONFLICT here only ever means "nothing live to touch" */
	touched = r != GKV_WRITE_CONFLICT;
	GkvStatsOp(GKV_OP_TOUCH, touched ? GKV_RESULT_UPDATE : GKV_RESULT_MISSING, 1);
	GkvStatsOpLatency(GKV_OP_TOUCH);
	if (!return_value)
		PG_RETURN_BOOL(touched);
	if (!touched)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(final_state.value);
}

Datum
gkv_touch(PG_FUNCTION_ARGS)
{
	return TouchCommon(fcinfo, false);
}

Datum
gkv_get_and_touch(PG_FUNCTION_ARGS)
{
	return TouchCommon(fcinfo, true);
}

/* ----------------------------------------------------------------
 * Batch forms
 * ----------------------------------------------------------------
 */

/* a batch element, for writing in (shard, key) order */
typedef struct BatchItem
{
	int			index;			/* position in the caller's arrays */
	int			shard;
	text	   *key;
} BatchItem;

/* batch elements in the caller's order */
static int
BatchItemIndexCompare(const void *a, const void *b)
{
	int			x = ((const BatchItem *) a)->index,
				y = ((const BatchItem *) b)->index;

	return (x > y) - (x < y);
}

static int
BatchItemCompare(const void *a, const void *b)
{
	const BatchItem *x = (const BatchItem *) a;
	const BatchItem *y = (const BatchItem *) b;
	int			c;

	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	c = GkvKeyCompare(x->key, y->key);
	if (c != 0)
		return c;
	/* the same key twice: the caller's order decides (the later one wins) */
	return (x->index > y->index) - (x->index < y->index);
}

/*
 * Routing a batch: the positions whose shard another node holds are sent
 * there (all nodes in parallel) before the local part is done, and their
 * answers collected after it.
 */
typedef struct RoutedBatch
{
	bool	   *remote;			/* per caller position: answered elsewhere */
	char	  **out;			/* per caller position: the remote answer */
	GkvBatchForward *forward;
	BatchItem  *moved;			/* found moved only under the table lock */
	int			nmoved;
} RoutedBatch;

/* the batch's keys, in the caller's order, with their shards */
static BatchItem *
BatchItems(text *ns, Datum *keys, int nkeys)
{
	BatchItem  *items = palloc(sizeof(BatchItem) * (nkeys + 1));

	for (int i = 0; i < nkeys; i++)
	{
		items[i].index = i;
		items[i].key = DatumGetTextPP(keys[i]);
		items[i].shard = GkvShardOfKey(ns, items[i].key);
	}
	return items;
}

static RoutedBatch
RouteBatch(FunctionCallInfo fcinfo, BatchItem *items, int nkeys)
{
	RoutedBatch rb;
	int		   *pos = palloc(sizeof(int) * (nkeys + 1));
	int		   *shard = palloc(sizeof(int) * (nkeys + 1));
	int			npos = 0;

	rb.remote = palloc0(sizeof(bool) * (nkeys + 1));
	rb.out = NULL;
	rb.forward = NULL;
	rb.moved = palloc(sizeof(BatchItem) * (nkeys + 1));
	rb.nmoved = 0;
	/* items are still in the caller's order here */
	for (int i = 0; i < nkeys; i++)
		if (!GkvServesShard(items[i].shard))
		{
			rb.remote[i] = true;
			pos[npos] = i;
			shard[npos++] = items[i].shard;
		}
	if (npos > 0)
		rb.forward = GkvBatchForwardStart(fcinfo, nkeys, npos, pos, shard);
	return rb;
}

static void
BatchMovedItem(RoutedBatch *rb, BatchItem *item)
{
	rb->remote[item->index] = true;
	rb->moved[rb->nmoved++] = *item;
}

static void
BatchFinish(FunctionCallInfo fcinfo, RoutedBatch *rb, int nkeys)
{
	char	  **moved_out;
	int		   *pos;
	int		   *shard;

	rb->out = rb->forward ? GkvBatchForwardFinish(rb->forward) :
		palloc0(sizeof(char *) * (nkeys + 1));
	if (rb->nmoved == 0)
		return;
	/* caller order within the moved ones: the later of a repeated key wins */
	qsort(rb->moved, rb->nmoved, sizeof(BatchItem), BatchItemIndexCompare);
	pos = palloc(sizeof(int) * rb->nmoved);
	shard = palloc(sizeof(int) * rb->nmoved);
	for (int i = 0; i < rb->nmoved; i++)
	{
		pos[i] = rb->moved[i].index;
		shard[i] = rb->moved[i].shard;
	}
	moved_out = GkvBatchForwardFinish(GkvBatchForwardStart(fcinfo, nkeys, rb->nmoved, pos, shard));
	for (int i = 0; i < rb->nmoved; i++)
		rb->out[pos[i]] = moved_out[pos[i]];
}

/*
 * kv.put_many(namespace, keys[], values[], expiry_policy | ttl_seconds)
 *	-> (key, result) per key, in the caller's order
 *
 * Keys are written in (shard, key) order: neighbouring keys share index
 * pages, and two concurrent batches always lock rows in the same order, so
 * they cannot deadlock each other.
 */
Datum
gkv_put_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *ns;
	ArrayType  *keys_arr;
	ArrayType  *vals_arr;
	bool		values_are_jsonb;
	Datum	   *keys,
			   *vals;
	bool	   *key_nulls,
			   *val_nulls;
	int			nkeys,
				nvals;
	Jsonb	  **docs;
	GkvShardWriter **writers;
	int			nshards;
	BatchItem  *items;
	GkvWriteResult *results;
	MemoryContext rowcxt,
				oldcxt;
	GkvExpirySpec expiry;
	RoutedBatch routed;

	REQUIRE_ARGS(4);
	ns = PG_GETARG_TEXT_PP(0);
	keys_arr = PG_GETARG_ARRAYTYPE_P(1);
	vals_arr = PG_GETARG_ARRAYTYPE_P(2);
	values_are_jsonb = ARR_ELEMTYPE(vals_arr) == JSONBOID;
	RequireNamespace(ns);
	expiry = ExpiryArg(fcinfo, 3);
	GkvDeconstructBatch(keys_arr, "keys", &keys, &key_nulls, &nkeys);
	GkvDeconstructBatch(vals_arr, "values", &vals, &val_nulls, &nvals);
	if (nkeys != nvals)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("keys and values have different lengths (%d and %d)", nkeys, nvals)));

	/* validate everything before the first write */
	docs = palloc(sizeof(Jsonb *) * (nkeys + 1));
	for (int i = 0; i < nkeys; i++)
	{
		if (key_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_GKV_INVALID_KEY),
					 errmsg("key %d of the batch is null", i + 1)));
		GkvCheckKey(DatumGetTextPP(keys[i]));
		if (val_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_GKV_INVALID_DOCUMENT),
					 errmsg("value %d of the batch is null", i + 1),
					 errhint("Use kv.delete to delete a document.")));
		docs[i] = values_are_jsonb ? DatumGetJsonbP(vals[i]) :
			DocumentFromText(DatumGetTextPP(vals[i]));
		GkvCheckDocument(docs[i]);
	}

	nshards = GkvShardCount();
	writers = palloc0(sizeof(GkvShardWriter *) * nshards);
	results = palloc(sizeof(GkvWriteResult) * (nkeys + 1));
	items = BatchItems(ns, keys, nkeys);
	routed = RouteBatch(fcinfo, items, nkeys);
	InitMaterializedSRF(fcinfo, 0);
	qsort(items, nkeys, sizeof(BatchItem), BatchItemCompare);

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "globalkv batch row",
								   ALLOCSET_DEFAULT_SIZES);
	for (int n = 0; n < nkeys; n++)
	{
		BatchItem  *item = &items[n];
		PutOp		op;

		CHECK_FOR_INTERRUPTS();
		if (routed.remote[item->index])
			continue;
		if (writers[item->shard] == NULL)
		{
			writers[item->shard] = GkvShardWriterOpen(item->shard);
			/* a drop_namespace may have committed while we waited */
			GkvRequireNamespace(ns);
		}
		if (!GkvServesShard(item->shard))
		{
			/* moved away while we waited for the table: forward it too */
			BatchMovedItem(&routed, item);
			continue;
		}
		op.value = docs[item->index];
		op.expiry = expiry;
		op.cas = GKV_CAS_NONE;
		oldcxt = MemoryContextSwitchTo(rowcxt);
		results[item->index] = GkvShardWrite(writers[item->shard], ns, item->key,
											 BuildPut, &op, NULL);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
		CountWrite(GKV_STAT_PUTS, results[item->index], false);
	}
	for (int s = 0; s < nshards; s++)
		if (writers[s] != NULL)
			GkvShardWriterClose(writers[s]);
	BatchFinish(fcinfo, &routed, nkeys);
	GkvStatsOpLatency(GKV_OP_PUT);

	for (int i = 0; i < nkeys; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = keys[i];
		values[1] = PointerGetDatum(cstring_to_text(routed.remote[i] ?
													(routed.out[i] ? routed.out[i] : "") :
													GkvWriteResultName(results[i])));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* kv.get_many(namespace, keys[]) -> (key, value), in the order of keys */
Datum
gkv_get_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *ns;
	Datum	   *keys;
	bool	   *key_nulls;
	int			nkeys;
	GkvShardReader **readers;
	int			nshards;
	int64		now_ms = GkvUnixMsNow();
	BatchItem  *items;
	RoutedBatch routed;
	GkvDocState *found;
	bool	   *live;

	REQUIRE_ARGS(2);
	ns = PG_GETARG_TEXT_PP(0);
	RequireNamespace(ns);
	GkvDeconstructBatch(PG_GETARG_ARRAYTYPE_P(1), "keys", &keys, &key_nulls, &nkeys);
	for (int i = 0; i < nkeys; i++)
	{
		if (key_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_GKV_INVALID_KEY),
					 errmsg("key %d of the batch is null", i + 1)));
		GkvCheckKey(DatumGetTextPP(keys[i]));
	}

	nshards = GkvShardCount();
	items = BatchItems(ns, keys, nkeys);
	routed = RouteBatch(fcinfo, items, nkeys);
	InitMaterializedSRF(fcinfo, 0);
	readers = palloc0(sizeof(GkvShardReader *) * nshards);
	found = palloc0(sizeof(GkvDocState) * (nkeys + 1));
	live = palloc0(sizeof(bool) * (nkeys + 1));
	for (int i = 0; i < nkeys; i++)
	{
		int			shard = items[i].shard;

		CHECK_FOR_INTERRUPTS();
		if (routed.remote[i])
			continue;
		if (readers[shard] == NULL)
			readers[shard] = GkvShardReaderOpen(shard);
		if (!GkvServesShard(shard))
		{
			BatchMovedItem(&routed, &items[i]);
			continue;
		}
		live[i] = GkvShardRead(readers[shard], ns, items[i].key, &found[i]) &&
			GkvDocIsLive(&found[i], now_ms);
	}
	GkvStatsAdd(GKV_STAT_GETS, nkeys);
	{
		uint64		local = 0,
					hits = 0;

		for (int i = 0; i < nkeys; i++)
			if (!routed.remote[i])
			{
				local++;
				hits += live[i] ? 1 : 0;
			}
		GkvStatsOp(GKV_OP_GET, GKV_RESULT_FOUND, hits);
		GkvStatsOp(GKV_OP_GET, GKV_RESULT_MISSING, local - hits);
	}
	for (int s = 0; s < nshards; s++)
		if (readers[s] != NULL)
			GkvShardReaderClose(readers[s]);
	BatchFinish(fcinfo, &routed, nkeys);
	GkvStatsOpLatency(GKV_OP_GET);

	for (int i = 0; i < nkeys; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, true};

		values[0] = keys[i];
		if (routed.remote[i] && routed.out[i] != NULL)
		{
			values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(routed.out[i]));
			nulls[1] = false;
		}
		else if (!routed.remote[i] && live[i])
		{
			values[1] = JsonbPGetDatum(found[i].value);
			nulls[1] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * kv.key_shard(namespace, key) -> (hash, shard): where a key lives.  Also
 * what the client library's test vectors are checked against.
 */
Datum
gkv_key_shard(PG_FUNCTION_ARGS)
{
	text	   *ns = PG_GETARG_TEXT_PP(0);
	text	   *key = PG_GETARG_TEXT_PP(1);
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	uint32		h = gkv_key_hash(VARDATA_ANY(ns), VARSIZE_ANY_EXHDR(ns),
								 VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = Int64GetDatum((int64) h);
	values[1] = Int32GetDatum(GkvShardForHash(h, GkvShardCount()));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
