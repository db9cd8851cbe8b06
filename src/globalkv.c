/*-------------------------------------------------------------------------
 *
 * globalkv.c
 *	  Entry point of the globalkv extension: settings, shared memory and
 *	  background workers.
 *
 * globalkv must be in shared_preload_libraries: the clock, the in-flight
 * change sequences and the statistics live in shared memory, and the
 * expiry worker is registered at postmaster start.
 *
 * src/globalkv.c
 *
 *-------------------------------------------------------------------------
 */
#include "globalkv.h"

#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* settings, in the order of the table in _PG_init */
char	   *GkvDatabaseName = NULL;
int			GkvDebugClockOffsetMs = 0;
char	   *GkvDebugBlockPullFrom = NULL;
int			GkvExpiryIntervalMs = 1000;
int			GkvExpiryRowsPerSecond = 10000;
int			GkvMaxDocumentSize = 1024 * 1024;
int			GkvMaxClockSkewMs = 5000;
int			GkvMaxKeyLength = 1024;
int			GkvReplicationBatchDelayMs = 2;
int			GkvReplicationBatchRows = 10000;
int			GkvReplicationWaitMs = 1000;
int			GkvTombstoneMinAgeS = 60;
int			GkvTombstoneRetentionS = 7 * 24 * 3600;

static const struct config_enum_entry RoutingOptions[] = {
	{"forward", GKV_ROUTING_FORWARD, false},
	{"direct", GKV_ROUTING_DIRECT, false},
	{NULL, 0, false}
};

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static object_access_hook_type prev_object_access_hook = NULL;

static void
GkvShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(add_size(add_size(add_size(add_size(GkvClockShmemSize(), GkvStatsShmemSize()),
													  GkvPeerStatusShmemSize()),
											 GkvFenceShmemSize()),
									add_size(GkvCatalogShmemSize(), GkvHousekeepingShmemSize())));
	GkvCatalogShmemRequest();
	GkvClockShmemRequest();
}

static void
GkvShmemStartup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	GkvClockShmemInit();
	GkvStatsShmemInit();
	GkvPeerStatusShmemInit();
	GkvFenceShmemInit();
	GkvCatalogShmemInit();
	GkvHousekeepingShmemInit();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * GkvObjectAccess: CREATE, ALTER or DROP EXTENSION may change what the
 * catalog tables are, without firing their triggers: the catalog cache's
 * generation must move when such a transaction commits.
 */
static void
GkvObjectAccess(ObjectAccessType access, Oid classId, Oid objectId, int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (classId == ExtensionRelationId &&
		(access == OAT_POST_CREATE || access == OAT_POST_ALTER || access == OAT_DROP))
		GkvCatalogNoteExtensionChange();
}

static void
DefineSettings(void)
{
	/* sorted by name; docs/settings.md describes each one */
	DefineCustomIntVariable("globalkv.catalog_cache_size",
							"Shared memory for the copy of the catalog that new connections use.",
							"A catalog larger than this is read by every backend itself (slower first calls).",
							&GkvCatalogCacheSizeKb,
							1024, 64, 1024 * 1024,
							PGC_POSTMASTER,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.catalog_catchup_timeout",
							"How long a call naming a namespace or policy known elsewhere in the parade waits for it.",
							"A name created on another node moments ago arrives through the catalog stream; "
							"a name no reachable node knows is reported at once.",
							&GkvCatalogCatchupTimeoutMs,
							5000, 0, 3600 * 1000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomStringVariable("globalkv.database",
							   "Database in which globalkv's background workers run.",
							   "The database where CREATE EXTENSION globalkv was run.",
							   &GkvDatabaseName,
							   "postgres",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.debug_clock_offset",
							"Testing only: milliseconds added to this node's wall clock.",
							"Simulates a node whose clock runs ahead or behind, for skew tests.",
							&GkvDebugClockOffsetMs,
							0, -24 * 3600 * 1000, 24 * 3600 * 1000,
							PGC_POSTMASTER,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomStringVariable("globalkv.debug_block_pull_from",
							   "Testing only: comma-separated node ids this node refuses to pull from.",
							   "Simulates a broken network link, for relay tests.",
							   &GkvDebugBlockPullFrom,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.expiry_interval",
							"Time between two passes of the expiry worker.",
							NULL,
							&GkvExpiryIntervalMs,
							1000, 10, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.expiry_rows_per_second",
							"Most expired rows the expiry worker removes per second.",
							"Throttles physical removal; reads never return expired documents either way.",
							&GkvExpiryRowsPerSecond,
							10000, 1, 10000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.forward_timeout",
							"How long a forwarded call waits for the node that serves it.",
							NULL,
							&GkvForwardTimeoutMs,
							30000, 100, 3600 * 1000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.max_clock_skew",
							"Lead of a peer's clock over this node's that is reported as a problem.",
							"Rows from such a peer still converge; the lead is shown in kv.replication_status.",
							&GkvMaxClockSkewMs,
							5000, 1, 24 * 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.max_document_size",
							"Largest document accepted, in bytes of its jsonb form.",
							NULL,
							&GkvMaxDocumentSize,
							1024 * 1024, 64, 256 * 1024 * 1024,
							PGC_USERSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.max_key_length",
							"Longest key accepted, in bytes.",
							NULL,
							&GkvMaxKeyLength,
							1024, 1, 65536,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.replication_batch_delay",
							"Shortest time between two answers with rows to one peer's pulls.",
							"Rows written meanwhile travel together: fewer round trips under load, "
							"at most this much more lag. Idle streams are not delayed.",
							&GkvReplicationBatchDelayMs,
							2, 0, 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.replication_batch_rows",
							"Most rows one replication pull returns and one apply transaction applies.",
							NULL,
							&GkvReplicationBatchRows,
							10000, 1, 1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.replication_wait",
							"How long a replication pull waits on the peer for new changes.",
							"A change is sent as soon as it commits; this only bounds an idle round trip.",
							&GkvReplicationWaitMs,
							1000, 0, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomEnumVariable("globalkv.routing",
							 "What a call for a shard held by another node of this zone does.",
							 "forward: it is forwarded there (any node accepts any call); direct: it fails "
							 "with GK017, for clients that route themselves (the client library).",
							 &GkvRouting,
							 GKV_ROUTING_FORWARD,
							 RoutingOptions,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.tombstone_min_age",
							"Youngest tombstone that may be purged once every peer acknowledged it.",
							"A margin for catalog changes (a peer just added elsewhere) to arrive.",
							&GkvTombstoneMinAgeS,
							60, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.tombstone_retention",
							"How long a tombstone waits for every peer's acknowledgement.",
							"Older tombstones are purged anyway, and peers that had not acknowledged them must run kv.resync() before they replicate again.",
							&GkvTombstoneRetentionS,
							7 * 24 * 3600, 1, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomStringVariable("globalkv.zone_order",
							   "Zones to fail over to, nearest first (comma-separated names).",
							   "When the node holding a shard in this zone is down, calls go to the shard's "
							   "holder in these zones in this order; unlisted zones follow by name.",
							   &GkvZoneOrder,
							   "",
							   PGC_USERSET,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);
	MarkGUCPrefixReserved("globalkv");
}

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

/*
 * GkvExtensionInstalled: has CREATE EXTENSION globalkv run in the current
 * database?  Background workers ask before touching the catalog.  Needs a
 * transaction.
 */
bool
GkvExtensionInstalled(void)
{
	return OidIsValid(get_extension_oid("globalkv", true));
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("globalkv must be loaded via shared_preload_libraries"),
				 errhint("Add globalkv to shared_preload_libraries in postgresql.conf and restart.")));

	DefineSettings();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = GkvShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = GkvShmemStartup;

	prev_object_access_hook = object_access_hook;
	object_access_hook = GkvObjectAccess;

	GkvClockRegisterXactCallbacks();
	GkvRegisterStaticWorker("GkvExpiryWorkerMain", "globalkv expiry worker",
							"globalkv expiry", 10);
	GkvRegisterStaticWorker("GkvReplicationLauncherMain", "globalkv replication launcher",
							"globalkv launcher", 5);
}
