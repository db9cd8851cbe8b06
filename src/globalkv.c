/*-------------------------------------------------------------------------
 *
 * globalkv.c
 *	  Entry point of the globalkv extension: defines the settings and sets
 *	  up shared memory, hooks, callbacks and background workers.
 *
 * globalkv must be in shared_preload_libraries: the clock, the in-flight
 * change sequences and the statistics live in shared memory, and the
 * expiry worker is registered at postmaster start.
 *
 * src/globalkv.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/objectaccess.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "globalkv/catalog.h"
#include "globalkv/clock.h"
#include "globalkv/distributed.h"
#include "globalkv/expiry.h"
#include "globalkv/guc.h"
#include "globalkv/metrics.h"
#include "globalkv/monitoring.h"
#include "globalkv/operations.h"
#include "globalkv/replication.h"
#include "globalkv/storage.h"
#include "globalkv/utils.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static object_access_hook_type prev_object_access_hook = NULL;

static void
GkvShmemRequest(void)
{
	Size		size = 0;

	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	size = add_size(size, GkvClockShmemSize());
	size = add_size(size, GkvStatsShmemSize());
	size = add_size(size, GkvPeerStatusShmemSize());
	size = add_size(size, GkvCoverageShmemSize());
	size = add_size(size, GkvChangeWaitShmemSize());
	size = add_size(size, GkvFenceShmemSize());
	size = add_size(size, GkvCatalogShmemSize());
	size = add_size(size, GkvHousekeepingShmemSize());
	size = add_size(size, GkvDocsShmemSize());
	size = add_size(size, GkvMoveStatusShmemSize());
	size = add_size(size, GkvRepairStatusShmemSize());
	RequestAddinShmemSpace(size);
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
	GkvCoverageShmemInit();
	GkvChangeWaitShmemInit();
	GkvFenceShmemInit();
	GkvCatalogShmemInit();
	GkvHousekeepingShmemInit();
	GkvDocsShmemInit();
	GkvMoveStatusShmemInit();
	GkvRepairStatusShmemInit();
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

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("globalkv must be loaded via shared_preload_libraries"),
				 errhint("Add globalkv to shared_preload_libraries in postgresql.conf and restart.")));

	GkvDefineSettings();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = GkvShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = GkvShmemStartup;

	prev_object_access_hook = object_access_hook;
	object_access_hook = GkvObjectAccess;

	GkvClockRegisterXactCallbacks();
	GkvChangeWaitInit();
	GkvDocsPlannerInit();
	GkvDocsExplainInit();
	GkvDocsDdlInit();
	GkvRegisterStaticWorker("GkvExpiryWorkerMain", "globalkv expiry worker",
							"globalkv expiry", 10);
	GkvRegisterStaticWorker("GkvReplicationLauncherMain", "globalkv replication launcher",
							"globalkv launcher", 5);
	GkvRegisterStaticWorker("GkvRepairWorkerMain", "globalkv background repair",
							"globalkv repair", 10);
	if (GkvMetricsPort > 0)
		GkvRegisterStaticWorker("GkvMetricsServerMain", "globalkv metrics server",
								"globalkv metrics", 10);
}
