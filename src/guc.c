/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  Every globalkv setting, in one table: name, description, default,
 *	  limits, who may change it and when.
 *
 * docs/settings.md explains each for operators; this table is what the
 * server enforces.  A setting's variable is read by the room that uses it
 * (globalkv/guc.h), never defined there.
 *
 * src/guc.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "globalkv/guc.h"

/* the settings' variables, sorted by name like the table below */
int			GkvCatalogCacheSizeKb = 1024;
int			GkvConflictJournalRate = 100;
int			GkvConflictJournalSize = 10000;
int			GkvConflictWindowMs = 1000;
int			GkvCatalogCatchupTimeoutMs = 5000;
char	   *GkvDatabaseName = NULL;
int			GkvDocsScope = GKV_DOCS_ZONE;
int			GkvDebugClockOffsetMs = 0;
char	   *GkvDebugBlockPullFrom = NULL;
int			GkvExpiryIntervalMs = 1000;
int			GkvExpiryRowsPerSecond = 10000;
int			GkvForwardTimeoutMs = 30000;
int			GkvMaxClockSkewMs = 5000;
int			GkvMaxVersionAheadMs = 24 * 3600 * 1000;
int			GkvMaxDocumentSize = 1024 * 1024;
int			GkvMaxBatchKeys = 100000;
int			GkvMaxKeyLength = 1024;
int			GkvMetricsBacklogIntervalS = 300;
char	   *GkvMetricsListenAddress = NULL;
int			GkvMetricsPort = 0;
int			GkvRepairIntervalS = 0;
int			GkvReplicationBatchDelayMs = 2;
int			GkvReplicationBatchRows = 10000;
int			GkvReplicationWaitMs = 1000;
int			GkvRouting = GKV_ROUTING_FORWARD;
int			GkvTombstoneMinAgeS = 60;
int			GkvTombstoneRetentionS = 7 * 24 * 3600;
char	   *GkvZoneOrder = NULL;

static const struct config_enum_entry DocsScopeOptions[] = {
	{"zone", GKV_DOCS_ZONE, false},
	{"node", GKV_DOCS_NODE, false},
	{NULL, 0, false}
};

static const struct config_enum_entry RoutingOptions[] = {
	{"forward", GKV_ROUTING_FORWARD, false},
	{"direct", GKV_ROUTING_DIRECT, false},
	{NULL, 0, false}
};

/*
 * GkvDefineSettings defines every globalkv setting, from _PG_init.
 */
void
GkvDefineSettings(void)
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
	DefineCustomIntVariable("globalkv.conflict_journal_rate",
							"Most conflicts each apply worker writes to kv.conflicts per second.",
							"Conflicts beyond it are only counted (globalkv_conflict_journal_dropped_total).",
							&GkvConflictJournalRate,
							100, 0, 100000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.conflict_journal_size",
							"Most rows kv.conflicts keeps; older ones are removed. 0: no journal, conflicts only counted.",
							NULL,
							&GkvConflictJournalSize,
							10000, 0, 10000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.conflict_window",
							"Writes of one key on two nodes closer in time than this count as a conflict when one is lost.",
							NULL,
							&GkvConflictWindowMs,
							1000, 0, 3600 * 1000,
							PGC_SIGHUP,
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
	DefineCustomEnumVariable("globalkv.docs_scope",
							 "What kv.docs holds in this session: the zone's documents, or this node's.",
							 "Nodes set it to node on the sessions they open to each other, which run "
							 "the fragments of queries on kv.docs; clients leave it at zone.",
							 &GkvDocsScope,
							 GKV_DOCS_ZONE,
							 DocsScopeOptions,
							 PGC_USERSET,
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
	DefineCustomIntVariable("globalkv.max_version_ahead",
							"Lead of a replicated version over this node's clock beyond which the row is refused.",
							"A version far in the future would win every conflict until that time: the batch holding it "
							"is refused (GK015) and nothing of it stored.  0: no limit.",
							&GkvMaxVersionAheadMs,
							24 * 3600 * 1000, 0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.max_batch_keys",
							"Most keys one batch call (kv.put_many, kv.get_many) takes; a larger one is refused (GK009).",
							NULL,
							&GkvMaxBatchKeys,
							100000, 1, INT_MAX,
							PGC_SUSET,
							0,
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
	DefineCustomIntVariable("globalkv.metrics_backlog_interval",
							"Shortest time between two counts of the tombstone and expiry backlogs for /metrics.",
							"Counting reads every shard table; a scrape in between gets the last count. 0: never counted.",
							&GkvMetricsBacklogIntervalS,
							300, 0, 24 * 3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomStringVariable("globalkv.metrics_listen_address",
							   "Address the Prometheus endpoint listens on.",
							   "An IPv4 or IPv6 address; 0.0.0.0 or :: for every interface.",
							   &GkvMetricsListenAddress,
							   "127.0.0.1",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.metrics_port",
							"TCP port of the Prometheus endpoint (GET /metrics); 0 turns it off.",
							NULL,
							&GkvMetricsPort,
							0, 0, 65535,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("globalkv.repair_interval",
							"Background repair: one shard compared with the other zones and mended every this often; 0 turns it off.",
							"Progress in kv.repair_status (docs/operations.md).",
							&GkvRepairIntervalS,
							0, 0, 24 * 3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
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
