/*-------------------------------------------------------------------------
 *
 * background.c
 *	  Plumbing for globalkv's background workers and internal statements,
 *	  used by every room that runs one.
 *
 * src/utils/background.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

#include "globalkv/guc.h"
#include "globalkv/utils.h"

/*
 * GkvWorkerTransactionBegin starts a background worker's unit of work: a
 * transaction, an active snapshot and an SPI connection.
 * GkvWorkerTransactionEnd ends all three and commits.
 */
void
GkvWorkerTransactionBegin(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

void
GkvWorkerTransactionEnd(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * GkvWorkerTryTransaction runs work(arg) as one unit of work (transaction,
 * snapshot, SPI) and commits it.  An error does not end the worker: the
 * transaction is rolled back and the error's message is returned (palloc'd
 * in the caller's memory context, which is current again); NULL on success.
 */
char *
GkvWorkerTryTransaction(void (*work) (void *arg), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *volatile message = NULL;

	PG_TRY();
	{
		GkvWorkerTransactionBegin();
		work(arg);
		GkvWorkerTransactionEnd();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		message = pstrdup(edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	return message;
}

/*
 * GkvKeptPlan returns the plan in *slot, preparing sql and keeping it for
 * the backend's life the first time (SPI is connected).  For internal
 * statements run many times a second: parsed and planned once, replanned
 * by the plan cache when the tables they read change.
 */
SPIPlanPtr
GkvKeptPlan(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *argtypes)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, (Oid *) argtypes);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare an internal statement: %s",
				 SPI_result_code_string(SPI_result));
		*slot = plan;
	}
	return *slot;
}

/*
 * GkvWorkerConnect connects a background worker to globalkv.database under
 * a name shown in pg_stat_activity.  Workers run only small internal
 * queries: JIT would only add its compile time to them.
 */
void
GkvWorkerConnect(const char *appname)
{
	BackgroundWorkerInitializeConnection(GkvDatabaseName, NULL, 0);
	SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	pgstat_report_appname(appname);
}

/*
 * GkvFillWorker fills a globalkv background worker's description: started
 * after recovery, connected to globalkv.database.
 */
void
GkvFillWorker(BackgroundWorker *worker, const char *function, const char *name,
			  const char *type, int restart_seconds)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = restart_seconds;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, "globalkv");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker->bgw_name, BGW_MAXLEN, "%s", name);
	snprintf(worker->bgw_type, BGW_MAXLEN, "%s", type);
}

/*
 * GkvRegisterStaticWorker registers one of globalkv's background workers,
 * started after recovery, connected to globalkv.database, restarted after
 * restart_seconds if it dies.
 */
void
GkvRegisterStaticWorker(const char *function, const char *name, const char *type,
						int restart_seconds)
{
	BackgroundWorker worker;

	GkvFillWorker(&worker, function, name, type, restart_seconds);
	RegisterBackgroundWorker(&worker);
}
