/*-------------------------------------------------------------------------
 *
 * expiry_worker.c
 *	  Background worker that physically removes expired documents.
 *
 * Expiry is part of a document's version: the absolute expiry time is
 * computed once by the node that wrote it and replicated, and reads never
 * return an expired document.  Physical removal is therefore only storage
 * housekeeping: each node does it on its own, without tombstones, because
 * every node reaches the same conclusion about every row.
 *
 * Passes run every expiry_interval; together they remove at most
 * expiry_rows_per_second rows per second, oldest expiry first, shard by shard, skipping rows that a writer holds
 * locked (that writer is about to replace the row anyway).  Both settings
 * are reloaded on SIGHUP.
 *
 * src/expiry/expiry_worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "globalkv/clock.h"
#include "globalkv/expiry.h"
#include "globalkv/guc.h"
#include "globalkv/metrics.h"
#include "globalkv/storage.h"
#include "globalkv/utils.h"

#define EXPIRY_LOG_EVERY_MS (60 * 1000)

/*
 * does the shard table (quoted name) hold a row expired at 'now'?  SPI is
 * connected.  'now' is a parameter, not clock_timestamp(): a volatile
 * function in the condition would keep the planner off the expires_at
 * index and read the whole table at every pass.
 */
static bool
HasExpiredRows(const char *table, TimestampTz now)
{
	char	   *sql = psprintf("SELECT 1 FROM globalkv_data.%s WHERE expires_at <= $1 LIMIT 1", table);
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		args[1] = {TimestampTzGetDatum(now)};

	if (SPI_execute_with_args(sql, 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look for expired rows in %s", table);
	pfree(sql);
	return SPI_processed > 0;
}

/*
 * ExpiryPass removes up to 'budget' expired rows across all shards and
 * returns how many it removed.  Runs in its own transaction.
 *
 * An expired row is removed only on a tombstone's terms
 * (tombstone_purge.c): once every peer of its shard has acknowledged it,
 * and when its version is older than globalkv.tombstone_min_age.  Until
 * then it stays, invisible, and keeps its place in the merge: removed at
 * once, an older version of the document still on its way from a peer
 * that has not seen the expired one -- held up by a partition, relayed --
 * would find no row, be stored, and bring the document back on this node
 * alone.  *found_unsafe tells the loop that expired rows are waiting.
 */
static int64
ExpiryPass(int64 budget, bool *found_unsafe)
{
	int64		removed = 0;
	int			ret;
	uint64		nshards;
	char	  **tables;
	int		   *shard_ids;
	int64		min_age_cutoff;
	TimestampTz now = GetCurrentTimestamp();

	*found_unsafe = false;
	GkvWorkerTransactionBegin();

	if (!GkvExtensionReady())
	{
		/* not created (yet) in this database: nothing to do */
		GkvWorkerTransactionEnd();
		return 0;
	}

	ret = SPI_execute("SELECT shard_id, table_name FROM globalkv.shards ORDER BY shard_id", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read globalkv.shards");
	nshards = SPI_processed;
	tables = palloc(sizeof(char *) * (nshards + 1));
	shard_ids = palloc(sizeof(int) * (nshards + 1));
	for (uint64 i = 0; i < nshards; i++)
	{
		bool		isnull;

		shard_ids[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
												   &isnull));
		tables[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	}
	min_age_cutoff = (int64) GkvHlcFromMs(GkvTimestampToUnixMs(GetCurrentTransactionStartTimestamp())
										  - (int64) GkvTombstoneMinAgeS * 1000);

	for (uint64 i = 0; i < nshards && removed < budget; i++)
	{
		StringInfoData sql;
		const char *t = quote_identifier(tables[i]);
		Oid			argtypes[4] = {INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID};
		Datum		args[4];

		/*
		 * Look before deleting: the DELETE takes a RowExclusiveLock on the
		 * shard until this pass commits, which would hold up a shard move's
		 * fence (and the writers queued behind it) for nothing.
		 */
		if (!HasExpiredRows(t, now))
			continue;
		initStringInfo(&sql);
		args[0] = Int64GetDatum(budget - removed);
		args[1] = Int64GetDatum(GkvShardAckedSeq(shard_ids[i]));
		args[2] = Int64GetDatum(min_age_cutoff);
		args[3] = TimestampTzGetDatum(now);
		appendStringInfo(&sql,
						 "WITH victims AS ("
						 " SELECT ctid FROM globalkv_data.%s"
						 " WHERE expires_at <= $4"
						 " AND seq <= $2 AND hlc < $3"
						 " ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
						 " DELETE FROM globalkv_data.%s s USING victims v"
						 " WHERE s.ctid = v.ctid", t, t);
		ret = SPI_execute_with_args(sql.data, 4, argtypes, args, NULL, false, 0);
		if (ret != SPI_OK_DELETE)
			elog(ERROR, "could not remove expired rows from %s", tables[i]);
		removed += (int64) SPI_processed;
		/* the budget did not stop it: what is still expired has to wait */
		if (removed < budget && HasExpiredRows(t, now))
			*found_unsafe = true;
		pfree(sql.data);
	}

	GkvWorkerTransactionEnd();
	if (removed > 0)
		GkvStatsAdd(GKV_STAT_EXPIRED_ROWS, (uint64) removed);
	return removed;
}

/*
 * PurgeTombstones runs one pass of the tombstone purge (tombstone_purge.c)
 * in a transaction of its own.  It goes through its SQL function, so that
 * each pass is counted where operators look for statements
 * (pg_stat_statements; TAP 013 waits for passes that way).
 */
static int64
PurgeTombstones(void)
{
	static SPIPlanPtr plan = NULL;
	int64		purged = 0;

	GkvWorkerTransactionBegin();
	if (GkvExtensionReady())
	{
		Oid			argtypes[2] = {INT4OID, INT4OID};
		Datum		args[2] = {Int32GetDatum(GkvTombstoneRetentionS),
		Int32GetDatum(GkvTombstoneMinAgeS)};
		bool		isnull;

		if (SPI_execute_plan(GkvKeptPlan(&plan, "SELECT globalkv.purge_tombstones($1, $2, 10000)",
										 2, argtypes),
							 args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not purge tombstones");
		purged = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											 1, &isnull));
	}
	GkvWorkerTransactionEnd();
	if (purged > 0)
		GkvStatsAdd(GKV_STAT_PURGED_TOMBSTONES, (uint64) purged);
	return purged;
}

/*
 * EarliestExpiry returns the earliest expiry time stored in any shard
 * (one probe of each shard's expires_at index), DT_NOEND when none.
 */
static TimestampTz
EarliestExpiry(void)
{
	TimestampTz earliest = DT_NOEND;
	StringInfoData sql;

	GkvWorkerTransactionBegin();
	if (GkvExtensionReady())
	{
		int			ret = SPI_execute("SELECT table_name FROM globalkv.shards ORDER BY shard_id", true, 0);

		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read globalkv.shards");
		initStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT min(m) FROM (");
		for (uint64 i = 0; i < SPI_processed; i++)
			appendStringInfo(&sql, "%s(SELECT min(expires_at) AS m FROM globalkv_data.%s)",
							 i > 0 ? " UNION ALL " : "",
							 quote_identifier(SPI_getvalue(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1)));
		appendStringInfoString(&sql, ") t");
		if (SPI_processed > 0)
		{
			bool		isnull;
			Datum		d;

			if (SPI_execute(sql.data, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "could not look for the earliest expiry");
			d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			if (!isnull)
				earliest = DatumGetTimestampTz(d);
		}
	}
	GkvWorkerTransactionEnd();
	return earliest;
}

/*
 * THE LOOP
 *
 * Idle costs nothing: the worker sleeps until the earliest stored expiry,
 * and writers set its latch when they store an earlier one
 * (storage/housekeeping.c).  Passes are at least expiry_interval apart and
 * together remove at most expiry_rows_per_second rows a second.
 *
 * Tombstones are purged once a second while any may be waiting: from a
 * tombstone's storing until tombstone_min_age plus a minute after it (time
 * for every peer to acknowledge it).  Past that, a sweep a minute catches
 * the rest (peers that were away, the retention).
 */
#define TOMBSTONE_SWEEP_MS (60 * 1000)
#define EXPIRED_WAIT_MS 2000		/* expired rows waiting for their peers' acknowledgements */
#define TOMBSTONE_ACK_MARGIN_MS (60 * 1000)

void
GkvExpiryWorkerMain(Datum main_arg)
{
	MemoryContext passcxt;
	int64		removed_since_log = 0;
	TimestampTz last_log = GetCurrentTimestamp();
	TimestampTz last_pass;
	double		allowance = 0;
	TimestampTz last_purge = 0;
	int64		purged_since_log = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	GkvWorkerConnect("globalkv expiry worker");

	/*
	 * Every query of this worker looks for a few rows through a partial
	 * index (_expires_at, _tombstones).  Right after a bulk load, before
	 * autovacuum has analyzed it, a shard table's statistics can make a
	 * sequential scan look cheaper for "is there one?"; reading millions of
	 * rows every second is never what we want here.
	 */
	SetConfigOption("enable_seqscan", "off", PGC_SUSET, PGC_S_OVERRIDE);
	elog(LOG, "globalkv expiry worker started in database \"%s\"", GkvDatabaseName);
	GkvHousekeepingRegisterWorker();

	passcxt = AllocSetContextCreate(TopMemoryContext, "globalkv expiry pass",
									ALLOCSET_DEFAULT_SIZES);
	last_pass = GetCurrentTimestamp();
	for (;;)
	{
		MemoryContext oldcxt;
		TimestampTz now;
		TimestampTz wake;
		bool		tombstones_recent;
		long		timeout_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		now = GetCurrentTimestamp();
		if (now >= GkvHousekeepingWakeAt())
		{
			int64		budget;
			int64		removed;
			bool		waiting;
			TimestampTz next;

			/*
			 * The budget grows by rows_per_second for each second that
			 * passed, fractions carried over, capped at one second's worth
			 * so that an idle period does not turn into a burst.
			 */
			allowance += (double) GkvExpiryRowsPerSecond * (now - last_pass) / USECS_PER_SEC;
			allowance = Min(allowance, (double) GkvExpiryRowsPerSecond);
			last_pass = now;
			budget = Max((int64) allowance, 1);

			/* from here on, any row stored with an expiry wakes us */
			(void) GkvHousekeepingPlanWake(DT_NOEND);
			oldcxt = MemoryContextSwitchTo(passcxt);
			pgstat_report_activity(STATE_RUNNING, "removing expired documents");
			removed = ExpiryPass(budget, &waiting);
			allowance = Max(allowance - (double) removed, 0);
			if (removed < budget)
			{
				allowance = 0;	/* caught up: do not save up unused budget */
				next = EarliestExpiry();

				/*
				 * Expired rows that must wait for their peers: look again
				 * as tombstones are purged, not at every interval.
				 */
				if (waiting && next <= now)
					next = TimestampTzPlusMilliseconds(now, EXPIRED_WAIT_MS);
			}
			else
				next = now;		/* more to remove: as soon as the interval allows */
			pgstat_report_activity(STATE_IDLE, NULL);
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(passcxt);
			if (next != DT_NOEND)
				next = Max(next, TimestampTzPlusMilliseconds(now, GkvExpiryIntervalMs));
			(void) GkvHousekeepingPlanWake(next);
			removed_since_log += removed;
		}

		tombstones_recent =
			!TimestampDifferenceExceeds(GkvHousekeepingLastTombstone(), GetCurrentTimestamp(),
										GkvTombstoneMinAgeS * 1000 + TOMBSTONE_ACK_MARGIN_MS);
		if (TimestampDifferenceExceeds(last_purge, GetCurrentTimestamp(),
									   tombstones_recent ? 1000 : TOMBSTONE_SWEEP_MS))
		{
			oldcxt = MemoryContextSwitchTo(passcxt);
			purged_since_log += PurgeTombstones();
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(passcxt);
			last_purge = GetCurrentTimestamp();
		}

		if ((removed_since_log > 0 || purged_since_log > 0) &&
			TimestampDifferenceExceeds(last_log, GetCurrentTimestamp(), EXPIRY_LOG_EVERY_MS))
		{
			elog(LOG, "globalkv expiry worker removed " INT64_FORMAT " expired documents and purged "
				 INT64_FORMAT " tombstones", removed_since_log, purged_since_log);
			removed_since_log = 0;
			purged_since_log = 0;
			last_log = GetCurrentTimestamp();
		}

		/* sleep until the next expiry, the next purge, or a writer's call */
		now = GetCurrentTimestamp();
		timeout_ms = TimestampDifferenceMilliseconds(now,
													 TimestampTzPlusMilliseconds(last_purge,
																				 tombstones_recent ? 1000 : TOMBSTONE_SWEEP_MS));
		wake = GkvHousekeepingWakeAt();
		if (wake != DT_NOEND)
			timeout_ms = Min(timeout_ms, TimestampDifferenceMilliseconds(now, wake) + 1);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(timeout_ms, 1), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
