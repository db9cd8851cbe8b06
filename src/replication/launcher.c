/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The replication launcher: keeps one apply worker running for every
 *	  peer node in the catalog.
 *
 * Every second (and whenever a worker it started changes state) the
 * launcher reads globalkv.nodes and compares it with the workers it runs:
 * a new peer gets a worker, a dropped peer's worker is stopped, a worker
 * that exited is started again (its own errors are retried inside it, so
 * an exit means something worse; the restart waits at least a few seconds).
 * Catalog changes therefore reach the workers without a restart.
 *
 * src/replication/launcher.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "globalkv/replication.h"
#include "globalkv/storage.h"
#include "globalkv/utils.h"
#include "peer_status.h"

#define LAUNCHER_MAX_PEERS 64
#define LAUNCHER_NAP_MS 1000
#define RESTART_DELAY_MS 3000

typedef struct LaunchedWorker
{
	int32		peer_node_id;
	BackgroundWorkerHandle *handle;
	TimestampTz started_at;
	bool		wanted;
} LaunchedWorker;

static LaunchedWorker Workers[LAUNCHER_MAX_PEERS];
static int	NumWorkers = 0;

/*
 * WantedPeers fills ids[] with the peers this node should pull from; -1
 * when globalkv is not installed in the database (yet).
 */
static int
WantedPeers(int32 *ids, int max)
{
	int			n = 0;

	GkvWorkerTransactionBegin();
	if (!GkvExtensionReady())
		n = -1;
	else if (SPI_execute("SELECT node_id FROM globalkv.nodes"
						 " WHERE NOT dropped AND node_id <> (SELECT node_id FROM globalkv.node)"
						 " ORDER BY node_id", true, max) == SPI_OK_SELECT)
	{
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;

			ids[n++] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
												   SPI_tuptable->tupdesc, 1, &isnull));
		}
	}
	GkvWorkerTransactionEnd();
	return n;
}

static bool
StartWorker(LaunchedWorker *w)
{
	BackgroundWorker worker;
	char		name[BGW_MAXLEN];

	snprintf(name, sizeof(name), "globalkv apply from node %d", w->peer_node_id);
	GkvFillWorker(&worker, "GkvApplyWorkerMain", name, "globalkv apply", BGW_NEVER_RESTART);
	worker.bgw_main_arg = Int32GetDatum(w->peer_node_id);
	worker.bgw_notify_pid = MyProcPid;
	w->started_at = GetCurrentTimestamp();
	if (!RegisterDynamicBackgroundWorker(&worker, &w->handle))
	{
		w->handle = NULL;
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("globalkv: could not start the apply worker for node %d", w->peer_node_id),
				 errhint("Raise max_worker_processes.")));
		return false;
	}
	return true;
}

static void
Reconcile(void)
{
	int32		wanted[LAUNCHER_MAX_PEERS];
	int			nwanted = WantedPeers(wanted, LAUNCHER_MAX_PEERS);

	for (int i = 0; i < NumWorkers; i++)
		Workers[i].wanted = false;
	for (int j = 0; j < nwanted; j++)
	{
		LaunchedWorker *w = NULL;

		for (int i = 0; i < NumWorkers; i++)
			if (Workers[i].peer_node_id == wanted[j])
				w = &Workers[i];
		if (w == NULL && NumWorkers < LAUNCHER_MAX_PEERS)
		{
			w = &Workers[NumWorkers++];
			memset(w, 0, sizeof(*w));
			w->peer_node_id = wanted[j];
			elog(LOG, "globalkv: starting replication from node %d", wanted[j]);
		}
		if (w == NULL)
			continue;
		w->wanted = true;
		if (w->handle != NULL)
		{
			pid_t		pid;

			if (GetBackgroundWorkerPid(w->handle, &pid) != BGWH_STOPPED)
				continue;
			pfree(w->handle);
			w->handle = NULL;
		}
		if (w->started_at == 0 ||
			TimestampDifferenceExceeds(w->started_at, GetCurrentTimestamp(), RESTART_DELAY_MS))
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			(void) StartWorker(w);
			MemoryContextSwitchTo(old);
		}
	}

	/* stop workers of peers that left the parade */
	for (int i = 0; i < NumWorkers; i++)
	{
		if (Workers[i].wanted)
			continue;
		elog(LOG, "globalkv: stopping replication from node %d", Workers[i].peer_node_id);
		if (Workers[i].handle != NULL)
		{
			TerminateBackgroundWorker(Workers[i].handle);
			pfree(Workers[i].handle);
		}
		GkvPeerStatusRelease(Workers[i].peer_node_id);
		Workers[i] = Workers[--NumWorkers];
		i--;
	}
}

static void
InitClockAtStartup(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (GkvExtensionReady())
		GkvStartClockPastStoredRows();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

void
GkvReplicationLauncherMain(Datum main_arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	GkvWorkerConnect("globalkv replication launcher");

	/* bring the clock past the stored sequences right away (clock/hlc.c) */
	InitClockAtStartup();

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		Reconcile();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 LAUNCHER_NAP_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
