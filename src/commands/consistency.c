/*-------------------------------------------------------------------------
 *
 * consistency.c
 *	  Consistency per call, for callers who want to bound staleness in an
 *	  eventually consistent store (docs/api.md "Consistency per call"):
 *
 *	  kv.get(namespace, key, consistency => 'zone' | 'all'): 'all' asks the
 *	  key's holder in every zone and returns the document of the greatest
 *	  version -- a NOTICE names the zones that could not be reached;
 *
 *	  kv.wait_replicated(namespace, key, version, zones, timeout_ms): waits
 *	  until the key's holder in that many zones (all by default) stores
 *	  that version or a newer one, GK019 when it does not happen in time.
 *
 * Both ask each zone's holder for the key's stored state, tombstones
 * included (globalkv.get_state): an 'all' read must not let an older live
 * copy in one zone outvote a newer delete in another.
 *
 * src/commands/consistency.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "globalkv/catalog.h"
#include "globalkv/clock.h"
#include "globalkv/connection.h"
#include "globalkv/errcodes.h"
#include "globalkv/guc.h"
#include "globalkv/routing.h"
#include "globalkv/storage.h"

PG_FUNCTION_INFO_V1(gkv_get_state);
PG_FUNCTION_INFO_V1(gkv_get_consistent);
PG_FUNCTION_INFO_V1(gkv_wait_replicated);

#define GET_STATE_SQL "SELECT value, version, expires_at FROM globalkv.get_state($1, $2)"
#define MAX_WAIT_MS (10 * 60 * 1000)

/* the parade's zones; a node outside any parade is a zone of its own */
static int
ZoneCount(void)
{
	return Max(GkvZoneCount(), 1);
}

static const char *
ZoneName(int z)
{
	return GkvZoneCount() == 0 ? "(this node)" : GkvZoneName(z);
}

/* what one zone's holder of the key stores */
typedef struct ZoneAnswer
{
	bool		asked;
	bool		answered;
	bool		found;			/* a row, live or not */
	GkvDocState doc;
} ZoneAnswer;

/* the stored state of the key on this node, tombstones included */
static bool
ReadStored(text *ns, text *key, int shard, GkvDocState *doc)
{
	GkvShardReader *r = GkvShardReaderOpen(shard);
	bool		found = GkvShardRead(r, ns, key, doc);

	GkvShardReaderClose(r);
	return found;
}

static void
AnswerFromResult(PGresult *res, ZoneAnswer *a)
{
	a->answered = true;
	a->found = PQntuples(res) == 1;
	if (!a->found)
		return;
	a->doc.value = PQgetisnull(res, 0, 0) ? NULL :
		DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(PQgetvalue(res, 0, 0))));
	a->doc.version = GkvVersionFromText(cstring_to_text(PQgetvalue(res, 0, 1)));
	a->doc.has_expiry = !PQgetisnull(res, 0, 2);
	a->doc.expires_at = a->doc.has_expiry ?
		DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(PQgetvalue(res, 0, 2)),
												ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1))) : 0;
	a->doc.crdt = NULL;
}

/*
 * AskZones fills answers[z] for every zone z with want[z]: this node reads
 * its own copy, every other holder is asked at once.  A zone without a
 * holder, or whose holder cannot be reached in globalkv.forward_timeout,
 * stays unanswered.
 */
static void
AskZones(text *ns, text *key, int shard, const bool *want, ZoneAnswer *answers)
{
	int			nzones = ZoneCount();
	int32	   *holder = palloc0(sizeof(int32) * nzones);
	const char *values[2] = {text_to_cstring(ns), text_to_cstring(key)};

	for (int z = 0; z < nzones; z++)
	{
		memset(&answers[z], 0, sizeof(ZoneAnswer));
		if (!want[z])
			continue;
		answers[z].asked = true;
		holder[z] = GkvZoneCount() == 0 ? GkvLocalNodeId() : GkvShardHolder(shard, z);
		if (holder[z] <= 0 && GkvZoneCount() > 0)
			continue;
		if (holder[z] == GkvLocalNodeId())
		{
			answers[z].answered = true;
			answers[z].found = ReadStored(ns, key, shard, &answers[z].doc);
			holder[z] = 0;
		}
		else if (!GkvNodeSend(holder[z], GET_STATE_SQL, 2, values))
			holder[z] = 0;
	}
	for (int z = 0; z < nzones; z++)
	{
		PGresult   *res;

		if (holder[z] <= 0)
			continue;
		res = GkvNodeReceive(holder[z], GkvForwardTimeoutMs);
		if (res == NULL)
			continue;
		AnswerFromResult(res, &answers[z]);
		PQclear(res);
	}
}

/* "zone1", "zone3": the zones asked that did not answer */
static char *
Unanswered(const ZoneAnswer *answers)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int z = 0; z < ZoneCount(); z++)
		if (answers[z].asked && !answers[z].answered)
			appendStringInfo(&buf, "%s\"%s\"", buf.len > 0 ? ", " : "", ZoneName(z));
	return buf.data;
}

static void
CheckKeyCall(text *ns, text *key)
{
	GkvRequireNamespace(ns);
	GkvCheckKey(key);
}

/*
 * globalkv.get_state(namespace, key) -> 0 or 1 row (value, version,
 * expires_at): the stored state of a key on this node, which must hold its
 * shard (GK017 otherwise); value NULL for a tombstone.
 */
Datum
gkv_get_state(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *ns = PG_GETARG_TEXT_PP(0);
	text	   *key = PG_GETARG_TEXT_PP(1);
	int			shard;
	GkvDocState doc;

	CheckKeyCall(ns, key);
	shard = GkvShardOfKey(ns, key);
	if (!GkvServesShard(shard))
		GkvRejectStale(shard);
	InitMaterializedSRF(fcinfo, 0);
	if (ReadStored(ns, key, shard, &doc))
	{
		Datum		values[3];
		bool		nulls[3] = {doc.value == NULL, false, !doc.has_expiry};

		values[0] = doc.value ? JsonbPGetDatum(doc.value) : (Datum) 0;
		values[1] = PointerGetDatum(GkvVersionToText(doc.version));
		values[2] = TimestampTzGetDatum(doc.expires_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * kv.get(namespace, key, consistency) -> the document or NULL.  'zone' is
 * kv.get; 'all' returns the greatest version stored in any zone that
 * answered (NULL when that is a delete or has expired).
 */
Datum
gkv_get_consistent(PG_FUNCTION_ARGS)
{
	text	   *ns,
			   *key;
	char	   *consistency;
	int			nzones = ZoneCount();
	bool	   *want;
	ZoneAnswer *answers;
	const GkvDocState *best = NULL;
	bool		any = false;
	char	   *missing;

	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
					 errmsg("argument %d of kv.get must not be null", i + 1)));
	ns = PG_GETARG_TEXT_PP(0);
	key = PG_GETARG_TEXT_PP(1);
	consistency = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(consistency, "zone") != 0 && strcmp(consistency, "all") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("consistency must be 'zone' or 'all', not \"%s\"", consistency)));
	CheckKeyCall(ns, key);
	if (strcmp(consistency, "zone") == 0)
	{
		/* kv.get: here, or the same call on this zone's holder */
		int			shard = GkvShardOfKey(ns, key);
		GkvDocState doc;

		if (!GkvServesShard(shard))
			return GkvForwardCall(fcinfo, shard, true);
		if (!ReadStored(ns, key, shard, &doc) || !GkvDocIsLive(&doc, GkvUnixMsNow()))
			PG_RETURN_NULL();
		PG_RETURN_JSONB_P(doc.value);
	}

	want = palloc(sizeof(bool) * nzones);
	answers = palloc(sizeof(ZoneAnswer) * nzones);
	for (int z = 0; z < nzones; z++)
		want[z] = true;
	AskZones(ns, key, GkvShardOfKey(ns, key), want, answers);
	for (int z = 0; z < nzones; z++)
	{
		any |= answers[z].answered;
		if (answers[z].found &&
			(best == NULL || GkvVersionCompare(answers[z].doc.version, best->version) > 0))
			best = &answers[z].doc;
	}
	if (!any)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_NO_HOLDER),
				 errmsg("no zone's holder of the key could be reached")));
	missing = Unanswered(answers);
	if (missing[0] != '\0')
		ereport(NOTICE,
				(errmsg("kv.get with consistency 'all': zone(s) %s could not be reached", missing),
				 errdetail("The document is the newest of the zones that answered.")));
	if (best == NULL || !GkvDocIsLive(best, GkvUnixMsNow()))
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(best->value);
}

/*
 * kv.wait_replicated(namespace, key, version, zones, timeout_ms) -> how many
 * zones store that version of the key or a newer one, once at least
 * 'zones' of them (NULL: every zone) do; GK019 after timeout_ms.
 */
Datum
gkv_wait_replicated(PG_FUNCTION_ARGS)
{
	text	   *ns,
			   *key;
	GkvVersion	version;
	int			nzones = ZoneCount();
	int			need;
	int			timeout_ms;
	bool	   *want;
	ZoneAnswer *answers;
	TimestampTz deadline;
	long		delay_ms = 1;
	int			have = 0;

	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
					 errmsg("argument %d of kv.wait_replicated must not be null", i + 1)));
	ns = PG_GETARG_TEXT_PP(0);
	key = PG_GETARG_TEXT_PP(1);
	version = GkvVersionFromText(PG_GETARG_TEXT_PP(2));
	need = PG_ARGISNULL(3) ? nzones : PG_GETARG_INT32(3);
	timeout_ms = PG_ARGISNULL(4) ? 5000 : PG_GETARG_INT32(4);
	if (need < 1 || need > nzones)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("zones must be between 1 and the parade's %d zones, not %d", nzones, need)));
	if (timeout_ms < 0 || timeout_ms > MAX_WAIT_MS)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("timeout_ms must be between 0 and %d, not %d", MAX_WAIT_MS, timeout_ms)));
	CheckKeyCall(ns, key);

	want = palloc(sizeof(bool) * nzones);
	answers = palloc(sizeof(ZoneAnswer) * nzones);
	for (int z = 0; z < nzones; z++)
		want[z] = true;
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	for (;;)
	{
		long		left;

		CHECK_FOR_INTERRUPTS();
		AskZones(ns, key, GkvShardOfKey(ns, key), want, answers);
		for (int z = 0; z < nzones; z++)
			if (want[z] && answers[z].found &&
				GkvVersionCompare(answers[z].doc.version, version) >= 0)
			{
				want[z] = false;	/* it has it: no need to ask again */
				have++;
			}
		if (have >= need)
			PG_RETURN_INT32(have);
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (left <= 0)
		{
			StringInfoData waiting;

			initStringInfo(&waiting);
			for (int z = 0; z < nzones; z++)
				if (want[z])
					appendStringInfo(&waiting, "%s\"%s\"%s", waiting.len > 0 ? ", " : "", ZoneName(z),
									 answers[z].answered ? "" : " (unreachable)");
			ereport(ERROR,
					(errcode(ERRCODE_GKV_REPLICATION_TIMEOUT),
					 errmsg("version %s of the key reached %d of the %d zones asked for within %d ms",
							text_to_cstring(PG_GETARG_TEXT_PP(2)), have, need, timeout_ms),
					 errdetail("Not yet in: %s.", waiting.data),
					 errhint("The write is not lost: it goes on replicating. Wait longer, or read with consistency 'all'.")));
		}
		/* replication takes milliseconds: look again soon, then less often */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(delay_ms, left), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		delay_ms = Min(delay_ms * 2, 50);
	}
}
