/*-------------------------------------------------------------------------
 *
 * catalog_cache.c
 *	  Backend-local cache of globalkv's catalog: this node's id, the shard
 *	  tables, the namespaces and the expiry policies.
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
static bool CallbackRegistered = false;
static MemoryContext CatalogContext = NULL;
static int32 LocalNodeId = 0;
static int	NumShards = 0;
static Oid *ShardRelids = NULL;
static HTAB *Namespaces = NULL;
static HTAB *Policies = NULL;
static Oid	CatalogRelids[5];

static void
CatalogInvalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid)
	{
		CatalogValid = false;
		return;
	}
	for (int i = 0; i < lengthof(CatalogRelids); i++)
		if (CatalogRelids[i] == relid)
			CatalogValid = false;
	for (int i = 0; i < NumShards && ShardRelids != NULL; i++)
		if (ShardRelids[i] == relid)
			CatalogValid = false;
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

	newcxt = AllocSetContextCreate(CacheMemoryContext, "globalkv catalog cache",
								   ALLOCSET_SMALL_SIZES);

	CatalogRelids[0] = CatalogRelid("node");
	CatalogRelids[1] = CatalogRelid("shards");
	CatalogRelids[2] = CatalogRelid("namespaces");
	CatalogRelids[3] = CatalogRelid("expiry_policies");
	CatalogRelids[4] = CatalogRelid("nodes");
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
		ShardRelids = NULL;
		Namespaces = NULL;
		Policies = NULL;
		MemoryContextDelete(newcxt);
		PG_RE_THROW();
	}
	PG_END_TRY();

	PopActiveSnapshot();
	SPI_finish();
	CatalogValid = true;
}

static inline void
EnsureCatalog(void)
{
	if (!CatalogValid)
	{
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
	CatalogValid = false;
	return PointerGetDatum(NULL);
}
