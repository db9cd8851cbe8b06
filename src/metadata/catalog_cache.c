/*-------------------------------------------------------------------------
 *
 * catalog_cache.c
 *	  Backend-local cache of globalkv's catalog: this node's id, the shard
 *	  tables, the namespaces, the expiry policies, and the parade (nodes,
 *	  zones, shard placements, moves in progress).
 *
 The hot path (every kv.put/kv.get) must not run SQL to check a namespace
 * or find a shard table, and neither may the FIRST call of a new
 * connection: applications that connect per request (PHP, CGI, serverless)
 * pay it on every call.  So the catalog lives twice:
 *
 *	- in shared memory, as one flat blob stamped with the generation it was
 *	  read at;
 *	- in each backend, as a copy of that blob, used while the shared
 *	  generation has not moved.  Checking costs one atomic read per call;
 *	  a new backend's first call costs a memcpy, not a dozen SQL queries.
 *
 * THE GENERATION RULE
 *
 * A transaction that changes the catalog (the AFTER STATEMENT trigger
 * gkv_catalog_changed on every catalog table, a relcache invalidation of a
 * catalog table, or CREATE/ALTER/DROP EXTENSION) bumps the shared generation
 * in its COMMIT callback, which PostgreSQL 15 runs after the commit is
 * visible (ProcArrayEndTransaction).  A backend that finds the shared copy
 * stale reads the generation G, *then* takes a fresh snapshot and reads the
 * tables, and publishes what it read only if the generation is still G.
 * So a published blob never predates a committed change: if the change's
 * bump came before the read of G, the snapshot sees the change; if after,
 * the publication is refused (or lands with G and is immediately stale).
 *
 * Until it ends, the changing transaction reads the tables itself (its own
 * uncommitted change must be visible to it, and to nobody else) and
 * publishes nothing.  Internal queries run with jit off: compiling one
 * costs 200-300 ms, which is what a new connection's first call used to pay.
 *
 * The shared copy holds one database's catalog (globalkv's workers run in
 * one database); a backend of another database reads the tables itself.
 * A catalog larger than globalkv.catalog_cache_size is not shared (logged
 * once); every backend then reads it itself.
 *
 * src/metadata/catalog_cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "access/xact.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "gkv_hash.h"

#include "globalkv/catalog.h"
#include "globalkv/errcodes.h"
#include "globalkv/guc.h"
#include "globalkv/utils.h"

#define GKV_NAME_MAX 64			/* namespace and policy names: < 64 bytes */
#define NUM_CATALOG_RELS 7

typedef struct PolicyEntry
{
	char		name[GKV_NAME_MAX];
	GkvPolicy	policy;
} PolicyEntry;

/*
 * THE BLOB
 *
 * The whole catalog as one flat, pointer-free buffer: what shared memory
 * holds and what a backend copies.  A header, then arrays at the offsets it
 * names; strings (connection strings) at the end.  Namespaces and policies
 * are sorted by name (bsearch), zones by name (the default failover order).
 */
typedef struct CatalogBlobNode
{
	int32		node_id;
	char		name[64];
	char		zone[64];
	Size		conninfo_off;	/* offset of a NUL-terminated string */
} CatalogBlobNode;

typedef struct CatalogBlob
{
	Size		length;			/* of the whole blob, header included */
	Oid			dbid;
	Oid			catalog_relids[NUM_CATALOG_RELS];
	int32		local_node_id;
	int			nshards;
	int			nnodes;
	int			nzones;
	int			nnamespaces;
	int			npolicies;
	int			local_zone_index;
	Size		off_shard_relids;	/* Oid[nshards] */
	Size		off_nodes;		/* CatalogBlobNode[nnodes] */
	Size		off_zones;		/* char[64][nzones] */
	Size		off_holders;	/* int32[nshards * nzones] */
	Size		off_move_sources;	/* int32[nshards] */
	Size		off_move_targets;	/* int32[nshards] */
	Size		off_namespaces; /* char[GKV_NAME_MAX][nnamespaces] */
	Size		off_policies;	/* PolicyEntry[npolicies] */
} CatalogBlob;

#define BLOB_AT(blob, off) ((void *) ((char *) (blob) + (off)))

/*
 * The shared copy.  generation counts committed catalog changes; the blob
 * is current when published_generation equals it.
 */
typedef struct CatalogShared
{
	LWLock	   *lock;
	pg_atomic_uint64 generation;
	uint64		published_generation;	/* 0: nothing published */
	bool		too_large_logged;
	Size		capacity;
	char		blob[FLEXIBLE_ARRAY_MEMBER];	/* CatalogBlob, MAXALIGNed */
} CatalogShared;

static CatalogShared *Shared = NULL;

/* this backend's copy: valid while LocalGeneration is the shared one */
static CatalogBlob *Local = NULL;
static uint64 LocalGeneration = 0;
static bool CatalogValid = false;
static bool CallbackRegistered = false;
static bool XactCallbackRegistered = false;

/*
 * This transaction changed the catalog (or may have): its own uncommitted
 * change must be visible to it, so it reads the tables itself and publishes
 * nothing until it ends; at commit it bumps the shared generation.
 */
static bool ChangedInXact = false;

/* skip the shared copy once: a node said our map is stale */
static bool BypassShared = false;

/* views into Local, set by InstallBlob */
static Oid *ShardRelids = NULL;
static GkvNodeInfo *Nodes = NULL;
static char (*Zones)[64] = NULL;
static int32 *Holders = NULL;
static int32 *MoveSources = NULL;	/* per shard: source of a move to us, or 0 */
static int32 *MoveTargets = NULL;	/* per shard: target of a move from us, or 0 */
static char (*NamespaceNames)[GKV_NAME_MAX] = NULL;
static PolicyEntry *Policies = NULL;
static char LocalZone[64];
static MemoryContext CatalogContext = NULL;

#define NumShards (Local ? Local->nshards : 0)
#define NumNodes (Local ? Local->nnodes : 0)
#define NumZones (Local ? Local->nzones : 0)
#define LocalZoneIndex (Local ? Local->local_zone_index : -1)
#define LocalNodeId (Local ? Local->local_node_id : 0)

Size
GkvCatalogShmemSize(void)
{
	return add_size(offsetof(CatalogShared, blob),
					mul_size((Size) GkvCatalogCacheSizeKb, 1024));
}

void
GkvCatalogShmemRequest(void)
{
	RequestNamedLWLockTranche("globalkv catalog", 1);
}

void
GkvCatalogShmemInit(void)
{
	bool		found;

	Shared = ShmemInitStruct("globalkv catalog", GkvCatalogShmemSize(), &found);
	if (!found)
	{
		Shared->lock = &(GetNamedLWLockTranche("globalkv catalog"))->lock;
		pg_atomic_init_u64(&Shared->generation, 1);
		Shared->published_generation = 0;
		Shared->too_large_logged = false;
		Shared->capacity = mul_size((Size) GkvCatalogCacheSizeKb, 1024);
	}
}

static void
CatalogInvalidate(Datum arg, Oid relid)
{
	bool		ours = relid == InvalidOid;

	for (int i = 0; Local != NULL && i < NUM_CATALOG_RELS && !ours; i++)
		ours = Local->catalog_relids[i] == relid;
	if (!ours)
		return;
	CatalogValid = false;

	/*
	 * A backend sees its own catalog DDL or DML here before it commits (at
	 * the next command), others after.  A transaction with an xid may be the
	 * one making the change: it must bump the generation when it commits.
	 * For others the bump is redundant but harmless.
	 */
	if (IsTransactionState() && TransactionIdIsValid(GetTopTransactionIdIfAny()))
		ChangedInXact = true;
}

static void
CatalogXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:

			/*
			 * After ProcArrayEndTransaction: a loader that reads the new
			 * generation takes its snapshot later and sees the change; one
			 * that read the old generation cannot publish what it read.
			 */
			if (ChangedInXact && Shared != NULL)
				pg_atomic_fetch_add_u64(&Shared->generation, 1);
			if (ChangedInXact)
				CatalogValid = false;
			ChangedInXact = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (ChangedInXact)
				CatalogValid = false;	/* it may hold the aborted change */
			ChangedInXact = false;
			break;
		default:
			break;
	}
}

static void
CatalogSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	/* a rolled-back savepoint may have changed what we loaded */
	if (event == SUBXACT_EVENT_ABORT_SUB && ChangedInXact)
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
	if (!XactCallbackRegistered)
	{
		RegisterXactCallback(CatalogXactCallback, NULL);
		RegisterSubXactCallback(CatalogSubXactCallback, NULL);
		XactCallbackRegistered = true;
	}
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
NameCompare(const void *a, const void *b)
{
	return strcmp((const char *) a, (const char *) b);
}

static int
ZoneIndexIn(char (*zones)[64], int nzones, const char *zone)
{
	for (int i = 0; i < nzones; i++)
		if (strcmp(zones[i], zone) == 0)
			return i;
	return -1;
}

/* a growing blob under construction */
typedef struct BlobBuilder
{
	StringInfoData buf;
} BlobBuilder;

/* BlobReserve appends 'size' zeroed, MAXALIGNed bytes; returns their offset */
static Size
BlobReserve(BlobBuilder *b, Size size)
{
	Size		off;

	while (b->buf.len % MAXIMUM_ALIGNOF != 0)
		appendStringInfoCharMacro(&b->buf, '\0');
	off = b->buf.len;
	enlargeStringInfo(&b->buf, size);
	memset(b->buf.data + off, 0, size);
	b->buf.len += size;
	b->buf.data[b->buf.len] = '\0';
	return off;
}

/*
 * BlobSection reserves a section and records its offset in the header
 * field at 'field' (BLOB_SECTION): after the reservation, which may move
 * the buffer.
 */
static Size
BlobSection(BlobBuilder *b, Size field, Size size)
{
	Size		off = BlobReserve(b, size);

	*(Size *) (b->buf.data + field) = off;
	return off;
}

#define BLOB_SECTION(b, field, size) BlobSection((b), offsetof(CatalogBlob, field), (size))

static Size
BlobString(BlobBuilder *b, const char *s)
{
	Size		off = b->buf.len;

	appendBinaryStringInfo(&b->buf, s, strlen(s) + 1);
	return off;
}

#define HDR(b) ((CatalogBlob *) (b)->buf.data)

/*
 * SPI helpers of ReadCatalog: run a read-only query, or raise an error
 * naming what could not be read.
 */
static void
ReadQuery(const char *sql, const char *what)
{
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read %s", what);
}

static int32
ResultInt(int row, int col)
{
	bool		isnull;

	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
									   col, &isnull));
}

static char *
ResultText(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

/*
 * ReadCatalog reads the whole catalog with SPI (connected, with a fresh
 * snapshot pushed) into a blob allocated in the current memory context.
 */
static CatalogBlob *
ReadCatalog(void)
{
	BlobBuilder b;
	Oid			data_nsp;
	Oid			relids[NUM_CATALOG_RELS];
	int			nshards,
				nnodes,
				nzones = 0;
	int32		node_id;
	char	   *local_zone = NULL;
	CatalogBlobNode *nodes;
	char		(*zones)[64];

	/* the tables below are those of the version this library was built for */
	GkvRequireBuiltVersion();
	relids[0] = CatalogRelid("node");
	relids[1] = CatalogRelid("shards");
	relids[2] = CatalogRelid("namespaces");
	relids[3] = CatalogRelid("expiry_policies");
	relids[4] = CatalogRelid("nodes");
	/* absent while CREATE EXTENSION runs the 0.1 script, before 0.1 -> 0.2 */
	relids[5] = CatalogRelid("placements");
	relids[6] = CatalogRelid("shard_moves");
	data_nsp = get_namespace_oid("globalkv_data", false);

	initStringInfo(&b.buf);
	(void) BlobReserve(&b, sizeof(CatalogBlob));
	HDR(&b)->dbid = MyDatabaseId;
	memcpy(HDR(&b)->catalog_relids, relids, sizeof(relids));

	ReadQuery("SELECT node_id FROM globalkv.node", "globalkv.node");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_NOT_INITIALIZED),
				 errmsg("globalkv node identity is missing")));
	node_id = ResultInt(0, 1);
	HDR(&b)->local_node_id = node_id;

	ReadQuery("SELECT shard_id, table_name FROM globalkv.shards ORDER BY shard_id",
			  "globalkv.shards");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_NOT_INITIALIZED),
				 errmsg("globalkv has no shards")));
	nshards = (int) SPI_processed;
	{
		Size		off = BLOB_SECTION(&b, off_shard_relids, sizeof(Oid) * nshards);

		for (int i = 0; i < nshards; i++)
		{
			if (ResultInt(i, 1) != i)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("globalkv shard ids are not 0..%d", nshards - 1)));
			((Oid *) BLOB_AT(b.buf.data, off))[i] = get_relname_relid(ResultText(i, 2), data_nsp);
		}
	}
	HDR(&b)->nshards = nshards;

	/* namespaces and policies, sorted by name (the C collation: strcmp) */
	ReadQuery("SELECT name FROM globalkv.namespaces WHERE NOT dropped"
			  " AND octet_length(name) < 64 ORDER BY name COLLATE \"C\"",
			  "globalkv.namespaces");
	{
		Size		off = BLOB_SECTION(&b, off_namespaces, GKV_NAME_MAX * SPI_processed);

		HDR(&b)->nnamespaces = (int) SPI_processed;
		for (uint64 i = 0; i < SPI_processed; i++)
			strlcpy((char *) BLOB_AT(b.buf.data, off + i * GKV_NAME_MAX), ResultText(i, 1),
					GKV_NAME_MAX);
	}
	ReadQuery("SELECT name, ttl FROM globalkv.expiry_policies WHERE NOT dropped"
			  " AND octet_length(name) < 64 ORDER BY name COLLATE \"C\"",
			  "globalkv.expiry_policies");
	{
		Size		off = BLOB_SECTION(&b, off_policies, sizeof(PolicyEntry) * SPI_processed);

		HDR(&b)->npolicies = (int) SPI_processed;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			PolicyEntry *e = (PolicyEntry *) BLOB_AT(b.buf.data, off) + i;
			bool		isnull;
			Datum		ttl = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2,
											&isnull);

			strlcpy(e->name, ResultText(i, 1), GKV_NAME_MAX);
			e->policy.expires = !isnull;
			if (!isnull)
				e->policy.ttl = *DatumGetIntervalP(ttl);
		}
	}

	/* the parade: nodes (by id), zones (by name) */
	ReadQuery("SELECT node_id, node_name, zone_name, conninfo FROM globalkv.nodes"
			  " WHERE NOT dropped ORDER BY node_id", "globalkv.nodes");
	nnodes = (int) SPI_processed;
	HDR(&b)->nnodes = nnodes;
	BLOB_SECTION(&b, off_nodes, sizeof(CatalogBlobNode) * nnodes);
	BLOB_SECTION(&b, off_zones, 64 * Max(nnodes, 1));
	for (int i = 0; i < nnodes; i++)
	{
		Size		ci = BlobString(&b, ResultText(i, 4));

		/* pointers into the buffer only after BlobString, which may move it */
		CatalogBlobNode *n = (CatalogBlobNode *) BLOB_AT(b.buf.data, HDR(&b)->off_nodes) + i;

		zones = BLOB_AT(b.buf.data, HDR(&b)->off_zones);
		n->node_id = ResultInt(i, 1);
		strlcpy(n->name, ResultText(i, 2), sizeof(n->name));
		strlcpy(n->zone, ResultText(i, 3), sizeof(n->zone));
		n->conninfo_off = ci;
		if (ZoneIndexIn(zones, nzones, n->zone) < 0)
			strlcpy(zones[nzones++], n->zone, 64);
	}
	zones = BLOB_AT(b.buf.data, HDR(&b)->off_zones);
	qsort(zones, nzones, 64, NameCompare);
	HDR(&b)->nzones = nzones;
	HDR(&b)->local_zone_index = -1;
	nodes = BLOB_AT(b.buf.data, HDR(&b)->off_nodes);
	for (int i = 0; i < nnodes; i++)
		if (nodes[i].node_id == node_id)
		{
			local_zone = pstrdup(nodes[i].zone);
			HDR(&b)->local_zone_index = ZoneIndexIn(zones, nzones, local_zone);
		}

	BLOB_SECTION(&b, off_holders, sizeof(int32) * Max(nzones, 1) * nshards);
	BLOB_SECTION(&b, off_move_sources, sizeof(int32) * nshards);
	BLOB_SECTION(&b, off_move_targets, sizeof(int32) * nshards);

	if (OidIsValid(relids[5]) && OidIsValid(relids[6]))
	{
		/* placement_map is the one place that decides who holds a shard */
		ReadQuery("SELECT shard_id, zone_name, node_id FROM globalkv.placement_map",
				  "globalkv.placement_map");
		zones = BLOB_AT(b.buf.data, HDR(&b)->off_zones);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			int			shard = ResultInt(i, 1);
			int			zi = ZoneIndexIn(zones, nzones, ResultText(i, 2));

			if (shard >= 0 && shard < nshards && zi >= 0)
				((int32 *) BLOB_AT(b.buf.data, HDR(&b)->off_holders))[shard * nzones + zi] =
					ResultInt(i, 3);
		}

		if (local_zone != NULL)
		{
			Oid			argtypes[2] = {INT4OID, TEXTOID};
			Datum		args[2] = {Int32GetDatum(node_id), CStringGetTextDatum(local_zone)};

			if (SPI_execute_with_args("SELECT shard_id, source_node, target_node FROM globalkv.shard_moves"
									  " WHERE NOT dropped AND $1 IN (source_node, target_node) AND zone_name = $2",
									  2, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not read globalkv.shard_moves");
			for (uint64 i = 0; i < SPI_processed; i++)
			{
				int			shard = ResultInt(i, 1);
				int32		source = ResultInt(i, 2);
				int32		target = ResultInt(i, 3);

				if (shard < 0 || shard >= nshards)
					continue;
				if (target == node_id)
					((int32 *) BLOB_AT(b.buf.data, HDR(&b)->off_move_sources))[shard] = source;
				else
					((int32 *) BLOB_AT(b.buf.data, HDR(&b)->off_move_targets))[shard] = target;
			}
		}
	}
	HDR(&b)->length = b.buf.len;
	return HDR(&b);
}

/*
 * InstallBlob makes 'blob' (copied into a fresh context) this backend's
 * catalog, replacing the previous one.
 */
static void
InstallBlob(const CatalogBlob *blob, uint64 generation)
{
	MemoryContext cxt = AllocSetContextCreate(CacheMemoryContext, "globalkv catalog cache",
											  ALLOCSET_SMALL_SIZES);
	CatalogBlob *copy = MemoryContextAlloc(cxt, blob->length);
	CatalogBlobNode *bnodes;
	GkvNodeInfo *nodes;

	memcpy(copy, blob, blob->length);
	bnodes = BLOB_AT(copy, copy->off_nodes);
	nodes = MemoryContextAllocZero(cxt, sizeof(GkvNodeInfo) * (copy->nnodes + 1));
	for (int i = 0; i < copy->nnodes; i++)
	{
		nodes[i].node_id = bnodes[i].node_id;
		strlcpy(nodes[i].name, bnodes[i].name, sizeof(nodes[i].name));
		strlcpy(nodes[i].zone, bnodes[i].zone, sizeof(nodes[i].zone));
		nodes[i].conninfo = BLOB_AT(copy, bnodes[i].conninfo_off);
	}

	if (CatalogContext != NULL)
		MemoryContextDelete(CatalogContext);
	CatalogContext = cxt;
	Local = copy;
	LocalGeneration = generation;
	ShardRelids = BLOB_AT(copy, copy->off_shard_relids);
	Nodes = nodes;
	Zones = BLOB_AT(copy, copy->off_zones);
	Holders = BLOB_AT(copy, copy->off_holders);
	MoveSources = BLOB_AT(copy, copy->off_move_sources);
	MoveTargets = BLOB_AT(copy, copy->off_move_targets);
	NamespaceNames = BLOB_AT(copy, copy->off_namespaces);
	Policies = BLOB_AT(copy, copy->off_policies);
	if (copy->local_zone_index >= 0)
		strlcpy(LocalZone, Zones[copy->local_zone_index], sizeof(LocalZone));
	else
		LocalZone[0] = '\0';
}

/*
 * CopyShared installs the shared copy when it is current and belongs to
 * this database; false otherwise.
 */
static bool
CopyShared(uint64 generation)
{
	bool		copied = false;

	if (Shared == NULL || BypassShared)
		return false;
	LWLockAcquire(Shared->lock, LW_SHARED);
	if (Shared->published_generation == generation &&
		((CatalogBlob *) Shared->blob)->dbid == MyDatabaseId)
	{
		InstallBlob((CatalogBlob *) Shared->blob, generation);
		copied = true;
	}
	LWLockRelease(Shared->lock);
	return copied;
}

/* Publish offers a blob read at 'generation' to the other backends */
static void
Publish(const CatalogBlob *blob, uint64 generation)
{
	if (Shared == NULL)
		return;
	if (blob->length > Shared->capacity)
	{
		if (!Shared->too_large_logged)
		{
			Shared->too_large_logged = true;
			ereport(LOG,
					(errmsg("globalkv catalog (%zu bytes) is larger than globalkv.catalog_cache_size",
							blob->length),
					 errhint("Each backend reads the catalog itself, which slows its first call; raise the setting.")));
		}
		return;
	}
	LWLockAcquire(Shared->lock, LW_EXCLUSIVE);
	/* a change committed since we read the generation: what we read may be old */
	if (pg_atomic_read_u64(&Shared->generation) == generation)
	{
		memcpy(Shared->blob, blob, blob->length);
		Shared->published_generation = generation;
	}
	LWLockRelease(Shared->lock);
}

/*
 * LoadCatalog makes this backend's copy current: from shared memory when
 * it holds the current generation (a memcpy: a new connection's first call
 * costs no SQL), else by reading the tables, then offering what it read to
 * the others.  Internal queries never go through JIT: compiling one costs
 * hundreds of milliseconds.
 */
static void
LoadCatalog(void)
{
	uint64		generation = Shared ? pg_atomic_read_u64(&Shared->generation) : 0;
	MemoryContext tmp;
	MemoryContext old;
	int			nestlevel;
	CatalogBlob *blob;

	/* the generation before the snapshot: see CatalogXactCallback */
	pg_memory_barrier();
	if (!ChangedInXact && CopyShared(generation))
	{
		elog(DEBUG1, "globalkv: catalog copied from shared memory");
		CatalogValid = true;
		return;
	}

	tmp = AllocSetContextCreate(CurrentMemoryContext, "globalkv catalog load",
								ALLOCSET_DEFAULT_SIZES);
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * Read the catalog as committed now, not as of the statement's (or the
	 * transaction's) snapshot: a reload is triggered precisely because a
	 * change committed after it, e.g. a drop_namespace a writer waited for.
	 */
	PushActiveSnapshot(GetLatestSnapshot());
	old = MemoryContextSwitchTo(tmp);
	blob = ReadCatalog();
	MemoryContextSwitchTo(old);
	PopActiveSnapshot();
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);

	elog(DEBUG1, "globalkv: catalog read from its tables");
	InstallBlob(blob, generation);
	/* an uncommitted change of our own is for nobody else to see */
	if (!ChangedInXact)
		Publish(blob, generation);
	MemoryContextDelete(tmp);
	BypassShared = false;
	CatalogValid = true;
}

static inline void
EnsureCatalog(void)
{
	for (int attempt = 0;
		 !CatalogValid || Local == NULL ||
		 (!ChangedInXact && Shared != NULL &&
		  LocalGeneration != pg_atomic_read_u64(&Shared->generation));
		 attempt++)
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
	BypassShared = true;
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
	return bsearch(name, NamespaceNames, Local->nnamespaces, GKV_NAME_MAX, NameCompare) != NULL;
}

/*
 * GkvCatalogMaxHlc returns the greatest version hlc of any catalog row
 * (the clock starts above it after a restart, see clock/hlc.c).  Needs a
 * transaction.
 */
uint64
GkvCatalogMaxHlc(void)
{
	uint64		max_hlc = 0;
	bool		v02 = OidIsValid(CatalogRelid("shard_moves"));
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfoString(&sql,
						   "SELECT max(m) FROM (SELECT max(hlc) AS m FROM globalkv.namespaces"
						   " UNION ALL SELECT max(hlc) FROM globalkv.expiry_policies"
						   " UNION ALL SELECT max(hlc) FROM globalkv.nodes");
	if (v02)
		appendStringInfoString(&sql,
							   " UNION ALL SELECT max(hlc) FROM globalkv.placements"
							   " UNION ALL SELECT max(hlc) FROM globalkv.shard_moves");
	if (OidIsValid(CatalogRelid("docs_indexes")))
		appendStringInfoString(&sql, " UNION ALL SELECT max(hlc) FROM globalkv.docs_indexes");
	appendStringInfoString(&sql, ") t");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql.data, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			max_hlc = (uint64) DatumGetInt64(d);
	}
	SPI_finish();
	return max_hlc;
}

/*
 * GkvNamespaceKnown: does ns name a namespace this node knows?  No error.
 */
bool
GkvNamespaceKnown(text *ns)
{
	char		name[GKV_NAME_MAX];
	int			len = VARSIZE_ANY_EXHDR(ns);

	EnsureCatalog();
	if (len <= 0 || len >= GKV_NAME_MAX)
		return false;
	memcpy(name, VARDATA_ANY(ns), len);
	name[len] = '\0';
	return bsearch(name, NamespaceNames, Local->nnamespaces, GKV_NAME_MAX, NameCompare) != NULL;
}

/*
 * GkvRequireNamespace raises GK001 unless ns names an existing namespace.
 */
void
GkvRequireNamespace(text *ns)
{
	int			len = VARSIZE_ANY_EXHDR(ns);

	if (GkvNamespaceKnown(ns))
		return;
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
	const GkvPolicy *policy = GkvFindPolicy(name);

	if (policy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_UNKNOWN_POLICY),
				 errmsg("expiry policy \"%.200s\" does not exist", name),
				 errhint("Create it with kv.create_expiry_policy(), or pass a TTL in seconds.")));
	return policy;
}

/* GkvFindPolicy: the named expiry policy, or NULL.  No error. */
const GkvPolicy *
GkvFindPolicy(const char *name)
{
	PolicyEntry *e = NULL;

	EnsureCatalog();
	if (strlen(name) < GKV_NAME_MAX)
		e = bsearch(name, Policies, Local->npolicies, sizeof(PolicyEntry), NameCompare);
	return e ? &e->policy : NULL;
}

/*
 * GkvCatalogNoteExtensionChange: CREATE, ALTER or DROP EXTENSION changes what the
 * catalog tables are; the transaction doing it must bump the generation.
 */
void
GkvCatalogNoteExtensionChange(void)
{
	GkvCatalogCacheInit();		/* the commit callback must see the flag */
	ChangedInXact = true;
	CatalogValid = false;
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

	/*
	 * Plans over kv.docs are made for the placements of their time (which
	 * shard tables are read here, which nodes a fragment goes to): the
	 * invalidation of the view makes every backend plan them again.
	 */
	{
		Oid			kv = get_namespace_oid("kv", true);
		Oid			docs = OidIsValid(kv) ? get_relname_relid("docs", kv) : InvalidOid;

		if (OidIsValid(docs))
			CacheInvalidateRelcacheByRelid(docs);
	}
	GkvCatalogCacheInit();
	ChangedInXact = true;
	CatalogValid = false;
	return PointerGetDatum(NULL);
}
