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
#include "globalkv.h"

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
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#define EXPIRY_LOG_EVERY_MS (60 * 1000)

/*
 * ExpiryPass removes up to 'budget' expired rows across all shards and
 * returns how many it removed.  Runs in its own transaction.
 */
static int64
ExpiryPass(int64 budget)
{
	int64		removed = 0;
	int			ret;
	uint64		nshards;
	char	  **tables;

	GkvWorkerTransactionBegin();

	if (!GkvExtensionInstalled())
	{
		/* not created (yet) in this database: nothing to do */
		GkvWorkerTransactionEnd();
		return 0;
	}

	ret = SPI_execute("SELECT table_name FROM globalkv.shards ORDER BY shard_id", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read globalkv.shards");
	nshards = SPI_processed;
	tables = palloc(sizeof(char *) * (nshards + 1));
	for (uint64 i = 0; i < nshards; i++)
		tables[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

	for (uint64 i = 0; i < nshards && removed < budget; i++)
	{
		StringInfoData sql;
		const char *t = quote_identifier(tables[i]);
		Oid			argtypes[1] = {INT8OID};
		Datum		args[1];

		args[0] = Int64GetDatum(budget - removed);
		initStringInfo(&sql);

		/*
		 * Look before deleting: the DELETE takes a RowExclusiveLock on the
		 * shard until this pass commits, which would hold up a shard move's
		 * fence (and the writers queued behind it) for nothing.
		 */
		appendStringInfo(&sql, "SELECT 1 FROM globalkv_data.%s"
						 " WHERE expires_at <= pg_catalog.clock_timestamp() LIMIT 1", t);
		if (SPI_execute(sql.data, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not look for expired rows in %s", tables[i]);
		if (SPI_processed == 0)
		{
			pfree(sql.data);
			continue;
		}
		resetStringInfo(&sql);
		appendStringInfo(&sql,
						 "WITH victims AS ("
						 " SELECT ctid FROM globalkv_data.%s"
						 " WHERE expires_at <= pg_catalog.clock_timestamp()"
						 " ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
						 " DELETE FROM globalkv_data.%s s USING victims v"
						 " WHERE s.ctid = v.ctid", t, t);
		ret = SPI_execute_with_args(sql.data, 1, argtypes, args, NULL, false, 0);
		if (ret != SPI_OK_DELETE)
			elog(ERROR, "could not remove expired rows from %s", tables[i]);
		removed += (int64) SPI_processed;
		pfree(sql.data);
	}

	GkvWorkerTransactionEnd();
	if (removed > 0)
		GkvStatsAdd(GKV_STAT_EXPIRED_ROWS, (uint64) removed);
	return removed;
}

/*
 * PurgeTombstones runs globalkv.purge_tombstones() (sql/globalkv--0.1.sql):
 * tombstones every peer has acknowledged go, and so do tombstones older
 * than globalkv.tombstone_retention, marking the peers that missed them.
 */
static int64
PurgeTombstones(void)
{
	int64		purged = 0;
	char		sql[128];

	GkvWorkerTransactionBegin();
	if (GkvExtensionInstalled())
	{
		bool		isnull;

		snprintf(sql, sizeof(sql), "SELECT globalkv.purge_tombstones(%d, %d, 10000)",
				 GkvTombstoneRetentionS, GkvTombstoneMinAgeS);
		if (SPI_execute(sql, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not purge tombstones");
		purged = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											 1, &isnull));
	}
	GkvWorkerTransactionEnd();
	if (purged > 0)
		GkvStatsAdd(GKV_STAT_PURGED_TOMBSTONES, (uint64) purged);
	return purged;
}

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
	elog(LOG, "globalkv expiry worker started in database \"%s\"", GkvDatabaseName);

	passcxt = AllocSetContextCreate(TopMemoryContext, "globalkv expiry pass",
									ALLOCSET_DEFAULT_SIZES);
	last_pass = GetCurrentTimestamp();
	for (;;)
	{
		int64		budget;
		int64		removed;
		MemoryContext oldcxt;
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/*
		 * The budget grows by rows_per_second for each second that passed,
		 * fractions carried over, capped at one second's worth so that an
		 * idle period does not turn into a burst.
		 */
		now = GetCurrentTimestamp();
		allowance += (double) GkvExpiryRowsPerSecond * (now - last_pass) / USECS_PER_SEC;
		allowance = Min(allowance, (double) GkvExpiryRowsPerSecond);
		last_pass = now;
		budget = (int64) allowance;
		if (budget < 1)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 GkvExpiryIntervalMs, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			continue;
		}
		oldcxt = MemoryContextSwitchTo(passcxt);
		pgstat_report_activity(STATE_RUNNING, "removing expired documents");
		removed = ExpiryPass(budget);
		allowance -= (double) removed;
		if (removed < budget)
			allowance = 0;		/* caught up: do not save up unused budget */
		pgstat_report_activity(STATE_IDLE, NULL);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(passcxt);

		/* tombstones: at most once per second */
		if (TimestampDifferenceExceeds(last_purge, GetCurrentTimestamp(), 1000))
		{
			oldcxt = MemoryContextSwitchTo(passcxt);
			purged_since_log += PurgeTombstones();
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(passcxt);
			last_purge = GetCurrentTimestamp();
		}

		removed_since_log += removed;
		if ((removed_since_log > 0 || purged_since_log > 0) &&
			TimestampDifferenceExceeds(last_log, GetCurrentTimestamp(), EXPIRY_LOG_EVERY_MS))
		{
			elog(LOG, "globalkv expiry worker removed " INT64_FORMAT " expired documents and purged "
				 INT64_FORMAT " tombstones", removed_since_log, purged_since_log);
			removed_since_log = 0;
			purged_since_log = 0;
			last_log = GetCurrentTimestamp();
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 GkvExpiryIntervalMs, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
