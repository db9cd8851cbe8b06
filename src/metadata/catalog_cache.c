/*-------------------------------------------------------------------------
 *
 * catalog_cache.c
 *	  Backend-local cache of globalkv's catalog: this node's id, the shard
 *	  tables, the namespaces, the expiry policies, and the parade (nodes,
 *	  zones, shard placements, moves in progress).
 *
 * The hot path (every kv.put/kv.get) must not run SQL to check a namespace
 * or find a shard table, so each backend loads the catalog once with SPI
 * and keeps it in a memory context of its own.  It stays valid until a
 * catalog table changes: an AFTER STATEMENT trigger on each catalog table
 * (gkv_catalog_changed) queues a relcache invalidation of that table, which
 * PostgreSQL delivers to every backend at its next transaction start or lock
 * acquisition, and our relcache callback then marks the cache stale.  This
 * is PostgreSQL's own mechanism, so it is transactional: a change becomes
 * visible to other backends when it commits, never before.
 *
 * src/metadata/catalog_cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "globalkv.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#define GKV_NAME_MAX 64			/* namespace and policy names: < 64 bytes */

typedef struct NamespaceEntry
{
	char		name[GKV_NAME_MAX];
} NamespaceEntry;

typedef struct PolicyEntry
{
	char		name[GKV_NAME_MAX];
	GkvPolicy	policy;
} PolicyEntry;

static bool CatalogValid = false;
/* bumped by every invalidation: a load that saw one while it ran starts over */
static uint64 CatalogInvalidations = 0;
static bool CallbackRegistered = false;
static MemoryContext CatalogContext = NULL;
static int32 LocalNodeId = 0;
static int	NumShards = 0;
static Oid *ShardRelids = NULL;
static HTAB *Namespaces = NULL;
static HTAB *Policies = NULL;
static Oid	CatalogRelids[7];

/*
 * The parade.  Holders[shard * NumZones + zone] is the node holding the
 * shard's placement in that zone (globalkv.placement_map).  LocalZoneIndex
 * is -1 on a node that is not part of a parade (not in globalkv.nodes):
 * such a node serves every shard itself.
 */
static GkvNodeInfo *Nodes = NULL;
static int	NumNodes = 0;
static char (*Zones)[64] = NULL;
static int	NumZones = 0;
static int32 *Holders = NULL;
static int32 *MoveSources = NULL;	/* per shard: source of a move to us, or 0 */
static int32 *MoveTargets = NULL;	/* per shard: target of a move from us, or 0 */
static int	LocalZoneIndex = -1;
static char LocalZone[64];

static void
CatalogInvalidate(Datum arg, Oid relid)
{
	bool		ours = relid == InvalidOid;

	for (int i = 0; i < lengthof(CatalogRelids) && !ours; i++)
		ours = CatalogRelids[i] == relid;
	for (int i = 0; i < NumShards && ShardRelids != NULL && !ours; i++)
		ours = ShardRelids[i] == relid;
	if (ours)
	{
		CatalogValid = false;
		CatalogInvalidations++;
	}
}

void
GkvCatalogCacheInit(void)
{
	if (!CallbackRegistered)
	{
		CacheRegisterRelcacheCallback(CatalogInvalidate, (Datum) 0);
		CallbackRegistered = true;
	}
}

static HTAB *
CreateNameHash(const char *label, Size entrysize)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = GKV_NAME_MAX;
	ctl.entrysize = entrysize;
	ctl.hcxt = CatalogContext;
	return hash_create(label, 32, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

static Oid
CatalogRelid(const char *relname)
{
	Oid			nsp = get_namespace_oid("globalkv", true);

	if (!OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_NOT_INITIALIZED),
				 errmsg("globalkv is not installed in this database"),
				 errhint("Run CREATE EXTENSION globalkv.")));
	return get_relname_relid(relname, nsp);
}

static int
ZoneNameCompare(const void *a, const void *b)
{
	return strcmp((const char *) a, (const char *) b);
}

static int
ZoneIndex(const char *zone)
{
	for (int i = 0; i < NumZones; i++)
		if (strcmp(Zones[i], zone) == 0)
			return i;
	return -1;
}

/*
 * LoadParade reads nodes, zones, placements and moves to this node (SPI is
 * connected).  Sets the file-level parade variables; they live in cxt.
 */
static void
LoadParade(MemoryContext cxt, int32 node_id, int nshards)
{
	int			ret;
	bool		isnull;
	char	   *local_zone = NULL;

	ret = SPI_execute("SELECT node_id, node_name, zone_name, conninfo FROM globalkv.nodes"
					  " WHERE NOT dropped ORDER BY node_id", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read globalkv.nodes");
	NumNodes = (int) SPI_processed;
	Nodes = MemoryContextAllocZero(cxt, sizeof(GkvNodeInfo) * (NumNodes + 1));
	Zones = MemoryContextAllocZero(cxt, sizeof(*Zones) * (NumNodes + 1));
	NumZones = 0;
	LocalZoneIndex = -1;
	for (int i = 0; i < NumNodes; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		GkvNodeInfo *n = &Nodes[i];

		n->node_id = DatumGetInt32(SPI_getbinval(tup, td, 1, &isnull));
		strlcpy(n->name, SPI_getvalue(tup, td, 2), sizeof(n->name));
		strlcpy(n->zone, SPI_getvalue(tup, td, 3), sizeof(n->zone));
		n->conninfo = MemoryContextStrdup(cxt, SPI_getvalue(tup, td, 4));
		if (ZoneIndex(n->zone) < 0)
			strlcpy(Zones[NumZones++], n->zone, sizeof(Zones[0]));
		if (n->node_id == node_id)
			local_zone = n->zone;
	}
	/* zones in name order: the default failover order */
	qsort(Zones, NumZones, sizeof(Zones[0]), ZoneNameCompare);
	if (local_zone != NULL)
	{
		LocalZoneIndex = ZoneIndex(local_zone);
		strlcpy(LocalZone, local_zone, sizeof(LocalZone));
	}
	else
		LocalZone[0] = '\0';

	Holders = MemoryContextAllocZero(cxt, sizeof(int32) * (Max(NumZones, 1) * nshards));
	MoveSources = MemoryContextAllocZero(cxt, sizeof(int32) * nshards);
	MoveTargets = MemoryContextAllocZero(cxt, sizeof(int32) * nshards);
	if (!OidIsValid(CatalogRelids[5]) || !OidIsValid(CatalogRelids[6]))
		return;

	ret = SPI_execute("SELECT shard_id, zone_name, node_id FROM globalkv.placement_map", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read globalkv.placement_map");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		int			shard = DatumGetInt32(SPI_getbinval(tup, td, 1, &isnull));
		int			zi = ZoneIndex(SPI_getvalue(tup, td, 2));

		if (shard >= 0 && shard < nshards && zi >= 0)
			Holders[shard * NumZones + zi] = DatumGetInt32(SPI_getbinval(tup, td, 3, &isnull));
	}

	if (local_zone != NULL)
	{
		Oid			argtypes[2] = {INT4OID, TEXTOID};
		Datum		args[2] = {Int32GetDatum(node_id), CStringGetTextDatum(local_zone)};

		ret = SPI_execute_with_args("SELECT shard_id, source_node, target_node FROM globalkv.shard_moves"
									" WHERE NOT dropped AND $1 IN (source_node, target_node) AND zone_name = $2",
									2, argtypes, args, NULL, true, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read globalkv.shard_moves");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	td = SPI_tuptable->tupdesc;
			int			shard = DatumGetInt32(SPI_getbinval(tup, td, 1, &isnull));
			int32		source = DatumGetInt32(SPI_getbinval(tup, td, 2, &isnull));
			int32		target = DatumGetInt32(SPI_getbinval(tup, td, 3, &isnull));

			if (shard < 0 || shard >= nshards)
				continue;
			if (target == node_id)
				MoveSources[shard] = source;
			else
				MoveTargets[shard] = target;
		}
	}
}

/*
 * LoadCatalog reads the whole catalog with SPI into a fresh context.  On
 * error the old cache stays marked invalid and is reloaded next time.
 */
static void
LoadCatalog(void)
{
	MemoryContext newcxt;
	Oid			data_nsp;
	int			ret;
	uint64		invalidations_before = CatalogInvalidations;

	newcxt = AllocSetContextCreate(CacheMemoryContext, "globalkv catalog cache",
								   ALLOCSET_SMALL_SIZES);

	CatalogRelids[0] = CatalogRelid("node");
	CatalogRelids[1] = CatalogRelid("shards");
	CatalogRelids[2] = CatalogRelid("namespaces");
	CatalogRelids[3] = CatalogRelid("expiry_policies");
	CatalogRelids[4] = CatalogRelid("nodes");
	/* absent until ALTER EXTENSION globalkv UPDATE TO '0.2' */
	CatalogRelids[5] = CatalogRelid("placements");
	CatalogRelids[6] = CatalogRelid("shard_moves");
	data_nsp = get_namespace_oid("globalkv_data", false);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * Read the catalog as committed now, not as of the statement's (or the
	 * transaction's) snapshot: a reload is triggered precisely because a
	 * change committed after it, e.g. a drop_namespace a writer waited for.
	 */
	PushActiveSnapshot(GetLatestSnapshot());

	PG_TRY();
	{
		MemoryContext prev = CatalogContext;
		int32		node_id = 0;
		int			nshards;
		Oid		   *relids;
		HTAB	   *namespaces;
		HTAB	   *policies;
		bool		isnull;

		CatalogContext = newcxt;

		ret = SPI_execute("SELECT node_id FROM globalkv.node", true, 0);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_GKV_NOT_INITIALIZED),
					 errmsg("globalkv node identity is missing")));
		node_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1, &isnull));

		ret = SPI_execute("SELECT shard_id, table_name FROM globalkv.shards ORDER BY shard_id",
						  true, 0);
		if (ret != SPI_OK_SELECT || SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_GKV_NOT_INITIALIZED),
					 errmsg("globalkv has no shards")));
		nshards = (int) SPI_processed;
		relids = MemoryContextAllocZero(newcxt, sizeof(Oid) * nshards);
		for (int i = 0; i < nshards; i++)
		{
			int			shard_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
															   SPI_tuptable->tupdesc, 1, &isnull));
			char	   *relname = SPI_getvalue(SPI_tuptable->vals[i],
											   SPI_tuptable->tupdesc, 2);

			if (shard_id != i)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("globalkv shard ids are not 0..%d", nshards - 1)));
			relids[i] = get_relname_relid(relname, data_nsp);
		}

		namespaces = CreateNameHash("globalkv namespaces", sizeof(NamespaceEntry));
		ret = SPI_execute("SELECT name FROM globalkv.namespaces WHERE NOT dropped", true, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read globalkv.namespaces");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

			if (strlen(name) < GKV_NAME_MAX)
				(void) hash_search(namespaces, name, HASH_ENTER, NULL);
		}

		policies = CreateNameHash("globalkv expiry policies", sizeof(PolicyEntry));
		ret = SPI_execute("SELECT name, ttl FROM globalkv.expiry_policies WHERE NOT dropped", true, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read globalkv.expiry_policies");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			Datum		ttl = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2,
											&isnull);
			PolicyEntry *e;

			if (strlen(name) >= GKV_NAME_MAX)
				continue;
			e = hash_search(policies, name, HASH_ENTER, NULL);
			e->policy.expires = !isnull;
			if (!isnull)
				e->policy.ttl = *DatumGetIntervalP(ttl);
		}

		LoadParade(newcxt, node_id, nshards);

		LocalNodeId = node_id;
		NumShards = nshards;
		ShardRelids = relids;
		Namespaces = namespaces;
		Policies = policies;
		if (prev != NULL)
			MemoryContextDelete(prev);
	}
	PG_CATCH();
	{
		CatalogContext = NULL;
		NumShards = 0;
		Nodes = NULL;
		NumNodes = 0;
		Zones = NULL;
		NumZones = 0;
		Holders = NULL;
		MoveSources = NULL;
		MoveTargets = NULL;
		LocalZoneIndex = -1;
		ShardRelids = NULL;
		Namespaces = NULL;
		Policies = NULL;
		MemoryContextDelete(newcxt);
		PG_RE_THROW();
	}
	PG_END_TRY();

	PopActiveSnapshot();
	SPI_finish();

	/*
	 * A change that committed while we were reading may be missing from
	 * what we read (our snapshot predates it), and its invalidation has
	 * already been consumed: then the cache is not valid, load it again.
	 */
	CatalogValid = CatalogInvalidations == invalidations_before;
}

static inline void
EnsureCatalog(void)
{
	for (int attempt = 0; !CatalogValid; attempt++)
	{
		if (attempt == 100)
			elog(ERROR, "globalkv catalog keeps changing while it is being read");
		GkvCatalogCacheInit();
		LoadCatalog();
	}
}

int32
GkvLocalNodeId(void)
{
	EnsureCatalog();
	return LocalNodeId;
}

int
GkvShardCount(void)
{
	EnsureCatalog();
	return NumShards;
}

Oid
GkvShardRelid(int shard_id)
{
	EnsureCatalog();
	if (shard_id < 0 || shard_id >= NumShards || !OidIsValid(ShardRelids[shard_id]))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_NOT_INITIALIZED),
				 errmsg("shard %d has no table on this node", shard_id)));
	return ShardRelids[shard_id];
}

/* forget the cache: the next use reloads it (a node said it is stale) */
void
GkvCatalogInvalidate(void)
{
	CatalogValid = false;
	CatalogInvalidations++;
}

const char *
GkvLocalZone(void)
{
	EnsureCatalog();
	return LocalZone;
}

int
GkvNodeCount(void)
{
	EnsureCatalog();
	return NumNodes;
}

const GkvNodeInfo *
GkvNodeByIndex(int i)
{
	EnsureCatalog();
	return (i >= 0 && i < NumNodes) ? &Nodes[i] : NULL;
}

/* the live node with this id, or NULL */
const GkvNodeInfo *
GkvNodeById(int32 node_id)
{
	EnsureCatalog();
	for (int i = 0; i < NumNodes; i++)
		if (Nodes[i].node_id == node_id)
			return &Nodes[i];
	return NULL;
}

int
GkvZoneCount(void)
{
	EnsureCatalog();
	return NumZones;
}

const char *
GkvZoneName(int zone_index)
{
	EnsureCatalog();
	return (zone_index >= 0 && zone_index < NumZones) ? Zones[zone_index] : NULL;
}

/* the node holding the shard in the zone, or 0 when the zone has none */
int32
GkvShardHolder(int shard_id, int zone_index)
{
	EnsureCatalog();
	if (shard_id < 0 || shard_id >= NumShards || zone_index < 0 || zone_index >= NumZones)
		return 0;
	return Holders[shard_id * NumZones + zone_index];
}

/*
 * GkvShardHolderHere: the node of this zone holding the shard; this node
 * itself when it is not part of a parade.
 */
int32
GkvShardHolderHere(int shard_id)
{
	int32		holder;

	EnsureCatalog();
	if (LocalZoneIndex < 0)
		return LocalNodeId;
	holder = GkvShardHolder(shard_id, LocalZoneIndex);
	return holder != 0 ? holder : LocalNodeId;
}

/* does this node hold the shard's placement in its zone? */
bool
GkvServesShard(int shard_id)
{
	return GkvShardHolderHere(shard_id) == LocalNodeId;
}

/* the source node of a move of this shard to this node, or 0 */
int32
GkvShardMoveSourceForMe(int shard_id)
{
	EnsureCatalog();
	if (shard_id < 0 || shard_id >= NumShards)
		return 0;
	return MoveSources[shard_id];
}

/* the target of a move of this shard away from this node, or 0 */
int32
GkvShardMoveTargetFromMe(int shard_id)
{
	EnsureCatalog();
	if (shard_id < 0 || shard_id >= NumShards)
		return 0;
	return MoveTargets[shard_id];
}

int
GkvShardForHash(uint32 hash, int nshards)
{
	return gkv_shard_for_hash(hash, nshards);
}

bool
GkvNamespaceExists(const char *name)
{
	EnsureCatalog();
	if (strlen(name) >= GKV_NAME_MAX)
		return false;
	return hash_search(Namespaces, name, HASH_FIND, NULL) != NULL;
}

/*
 * GkvRequireNamespace raises GK001 unless ns names an existing namespace.
 */
void
GkvRequireNamespace(text *ns)
{
	char		name[GKV_NAME_MAX];
	int			len = VARSIZE_ANY_EXHDR(ns);

	EnsureCatalog();
	if (len > 0 && len < GKV_NAME_MAX)
	{
		memcpy(name, VARDATA_ANY(ns), len);
		name[len] = '\0';
		if (hash_search(Namespaces, name, HASH_FIND, NULL) != NULL)
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_GKV_UNKNOWN_NAMESPACE),
			 errmsg("namespace \"%.*s\" does not exist", Min(len, 200), VARDATA_ANY(ns)),
			 errhint("Create it with kv.create_namespace().")));
}

/*
 * GkvLookupPolicy returns the named expiry policy; raises GK002 if unknown.
 * The result lives in the cache: valid until the next catalog change.
 */
const GkvPolicy *
GkvLookupPolicy(const char *name)
{
	PolicyEntry *e = NULL;

	EnsureCatalog();
	if (strlen(name) < GKV_NAME_MAX)
		e = hash_search(Policies, name, HASH_FIND, NULL);
	if (e == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_UNKNOWN_POLICY),
				 errmsg("expiry policy \"%.200s\" does not exist", name),
				 errhint("Create it with kv.create_expiry_policy(), or pass a TTL in seconds.")));
	return &e->policy;
}

PG_FUNCTION_INFO_V1(gkv_catalog_changed);

/*
 * gkv_catalog_changed is the AFTER STATEMENT trigger on every catalog table:
 * it queues a relcache invalidation so every backend reloads its cache
 * after this transaction commits.
 */
Datum
gkv_catalog_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "gkv_catalog_changed: not called as a trigger");
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	GkvCatalogInvalidate();
	return PointerGetDatum(NULL);
}
