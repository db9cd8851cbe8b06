/*-------------------------------------------------------------------------
 *
 * conflict_journal.c
 *	  A bounded record of recent conflict resolutions, kv.conflicts.
 *
 * A CONFLICT here is two writes of one key made on different nodes close
 * enough in time that neither is likely to have seen the other -- their
 * versions less than globalkv.conflict_window apart -- where the merge kept
 * one and the other was lost: the version rule decided (docs/merge-rule.md),
 * and an operator may want to know it did.  Without a causal history per
 * key that is a heuristic, and it is documented as one: two writes a
 * window apart that did see each other are journaled too; two concurrent
 * writes further apart (a partition) are not.  Counter states merge
 * without losing increments and are not journaled; two deletes lose
 * nothing either.
 *
 * Each node journals what its apply workers see: a write that arrives and
 * loses to the stored one, or wins over it.  Every conflict is counted in
 * the metrics; the journal keeps at most globalkv.conflict_journal_size
 * rows (the oldest go, in the inserting transaction) and each apply worker
 * writes at most globalkv.conflict_journal_rate entries a second, so a
 * conflict storm costs a bounded amount of disk and WAL (the rest is only
 * counted, as dropped).
 *
 * src/replication/conflict_journal.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "globalkv/clock.h"
#include "globalkv/guc.h"
#include "globalkv/metrics.h"
#include "globalkv/replication.h"
#include "globalkv/utils.h"

typedef struct JournalEntry
{
	char	   *ns;
	char	   *key;
	GkvVersion	kept;
	bool		kept_value;
	GkvVersion	lost;
	bool		lost_value;
	const char *reason;
	int32		peer;
} JournalEntry;

/* entries of the current apply batch, written before it commits */
static List *Pending = NIL;

/* the rate limit: entries allowed so far in the current second */
static TimestampTz WindowStart = 0;
static int	WrittenThisSecond = 0;

static char *
VersionText(GkvVersion v)
{
	return psprintf(UINT64_FORMAT ":%d", v.hlc, v.origin);
}

/*
 * GkvConflictNote looks at one merged remote state (what the row held
 * before, what came, how the merge ended) and notes a conflict if it is
 * one.  Called in the apply transaction; allocates in its context.
 */
void
GkvConflictNote(text *ns, text *key, const GkvDocState *incoming,
				const GkvPreviousState *previous, GkvWriteResult result, int32 peer)
{
	int64		apart_ms;
	bool		incoming_won;
	JournalEntry *e;
	TimestampTz now;

	if (!previous->exists || previous->counter || incoming->crdt != NULL)
		return;					/* nothing stored, or counters: merged, not lost */
	if (previous->version.origin == incoming->version.origin ||
		GkvVersionCompare(previous->version, incoming->version) == 0)
		return;					/* one node's writes, or the same write again */
	if (!previous->has_value && incoming->value == NULL)
		return;					/* two deletes: nothing lost */
	apart_ms = GkvHlcPhysicalMs(previous->version.hlc) - GkvHlcPhysicalMs(incoming->version.hlc);
	if (apart_ms < 0)
		apart_ms = -apart_ms;
	if (apart_ms > GkvConflictWindowMs)
		return;					/* far enough apart to be one after the other */

	incoming_won = result != GKV_WRITE_CONFLICT;
	GkvStatsAdd(previous->version.hlc == incoming->version.hlc ?
				GKV_STAT_CONFLICTS_SAME_CLOCK : GKV_STAT_CONFLICTS_NEWER, 1);
	if (GkvConflictJournalSize == 0)
		return;
	now = GetCurrentTimestamp();
	if (TimestampDifferenceExceeds(WindowStart, now, 1000))
	{
		WindowStart = now;
		WrittenThisSecond = 0;
	}
	if (WrittenThisSecond >= GkvConflictJournalRate)
	{
		GkvStatsAdd(GKV_STAT_CONFLICT_JOURNAL_DROPPED, 1);
		return;
	}
	WrittenThisSecond++;

	e = palloc(sizeof(JournalEntry));
	e->ns = text_to_cstring(ns);
	e->key = text_to_cstring(key);
	e->kept = incoming_won ? incoming->version : previous->version;
	e->kept_value = incoming_won ? incoming->value != NULL : previous->has_value;
	e->lost = incoming_won ? previous->version : incoming->version;
	e->lost_value = incoming_won ? previous->has_value : incoming->value != NULL;
	e->reason = previous->version.hlc == incoming->version.hlc ?
		"same clock: the higher node id wins" : "the newer version wins";
	e->peer = peer;
	Pending = lappend(Pending, e);
}

/*
 * GkvConflictFlush writes the batch's entries and trims the journal to its
 * size, in the apply transaction (SPI not connected).  Forgets them when
 * the batch failed (the transaction's memory is gone with it).
 */
void
GkvConflictFlush(bool write)
{
	static SPIPlanPtr insert_plan = NULL;
	static SPIPlanPtr trim_plan = NULL;
	ListCell   *lc;

	if (Pending == NIL)
		return;
	if (!write)
	{
		Pending = NIL;
		return;
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) GkvKeptPlan(&insert_plan,
					   "INSERT INTO globalkv.conflict_journal"
					   " (namespace, key, kept_version, kept_is_delete, lost_version, lost_is_delete, reason, via_node)"
					   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
					   8, (Oid[]) {TEXTOID, TEXTOID, TEXTOID, BOOLOID, TEXTOID, BOOLOID, TEXTOID, INT4OID});
	foreach(lc, Pending)
	{
		JournalEntry *e = lfirst(lc);
		Datum		args[8];

		args[0] = CStringGetTextDatum(e->ns);
		args[1] = CStringGetTextDatum(e->key);
		args[2] = CStringGetTextDatum(VersionText(e->kept));
		args[3] = BoolGetDatum(!e->kept_value);
		args[4] = CStringGetTextDatum(VersionText(e->lost));
		args[5] = BoolGetDatum(!e->lost_value);
		args[6] = CStringGetTextDatum(e->reason);
		args[7] = Int32GetDatum(e->peer);
		if (SPI_execute_plan(insert_plan, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not write the conflict journal");
	}
	(void) GkvKeptPlan(&trim_plan,
					   "DELETE FROM globalkv.conflict_journal"
					   " WHERE id <= (SELECT max(id) FROM globalkv.conflict_journal) - $1",
					   1, (Oid[]) {INT8OID});
	if (SPI_execute_plan(trim_plan, (Datum[]) {Int64GetDatum((int64) GkvConflictJournalSize)},
						 NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not trim the conflict journal");
	SPI_finish();
	Pending = NIL;
}
