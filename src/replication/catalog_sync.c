/*-------------------------------------------------------------------------
 *
 * catalog_sync.c
 *	  Replicating the catalog (namespaces, expiry policies, nodes,
 *	  placements, shard moves) through the same pull stream as documents.
 *
 * Every catalog row carries a version (hlc, origin) and a local change
 * sequence, like a document, and a "dropped" flag instead of being deleted
 * (a tombstone, so a drop replicates).  A catalog change made on any node
 * with the admin functions is stamped with a fresh clock tick
 * (globalkv.stamp()); peers pull catalog rows as pseudo-shard -1 and apply
 * them with the same rule as documents, decided here in C by the same
 * comparison (GkvCatalogApply): the greater version wins.  Applying stamps
 * a new local seq, so catalog changes relay along any path too.
 *
 * In the stream a catalog row looks like a document row: namespace = the
 * catalog table's name, key = the row's name (or node id), value = the
 * row's payload as jsonb (NULL when dropped).
 *
 * src/replication/catalog_sync.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "utils/lsyscache.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "globalkv/catalog.h"
#include "globalkv/clock.h"
#include "globalkv/errcodes.h"
#include "globalkv/pull_format.h"
#include "globalkv/replication.h"
#include "globalkv/storage.h"
#include "globalkv/utils.h"

#define CATALOG_PULL_SQL \
	"SELECT tbl, k, v, hlc, origin, seq FROM (" \
	" SELECT 'namespaces'::text AS tbl, name::text AS k," \
	"        CASE WHEN dropped THEN NULL ELSE jsonb_build_object('created_at', created_at) END AS v," \
	"        hlc, origin, seq FROM globalkv.namespaces WHERE seq > $1 AND seq <= $2" \
	" UNION ALL" \
	" SELECT 'expiry_policies', name::text," \
	"        CASE WHEN dropped THEN NULL ELSE jsonb_build_object('ttl', ttl) END," \
	"        hlc, origin, seq FROM globalkv.expiry_policies WHERE seq > $1 AND seq <= $2" \
	" UNION ALL" \
	" SELECT 'nodes', node_id::text," \
	"        CASE WHEN dropped THEN NULL ELSE jsonb_build_object('node_name', node_name," \
	"             'zone_name', zone_name, 'conninfo', conninfo) END," \
	"        hlc, origin, seq FROM globalkv.nodes WHERE seq > $1 AND seq <= $2" \
	" UNION ALL" \
	" SELECT 'placements', shard_id || '/' || zone_name," \
	"        CASE WHEN dropped THEN NULL ELSE jsonb_build_object('node_id', node_id) END," \
	"        hlc, origin, seq FROM globalkv.placements WHERE seq > $1 AND seq <= $2" \
	" UNION ALL" \
	" SELECT 'shard_moves', shard_id || '/' || zone_name," \
	"        CASE WHEN dropped THEN NULL ELSE jsonb_build_object('source_node', source_node," \
	"             'target_node', target_node, 'state', state, 'started_at', started_at) END," \
	"        hlc, origin, seq FROM globalkv.shard_moves WHERE seq > $1 AND seq <= $2" \
	" UNION ALL" \
	" SELECT 'docs_indexes', name::text," \
	"        CASE WHEN dropped THEN NULL ELSE jsonb_build_object('definition', definition," \
	"             'created_at', created_at) END," \
	"        hlc, origin, seq FROM globalkv.docs_indexes WHERE seq > $1 AND seq <= $2" \
	") c ORDER BY seq LIMIT $3"

/*
 * CatalogPullPlan returns the catalog pull's plan, prepared once per
 * backend (a pull runs many times a second under load) and kept; the plan
 * cache replans it when the catalog tables change.  SPI is connected.
 */
static SPIPlanPtr
CatalogPullPlan(void)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[3] = {INT8OID, INT8OID, INT8OID};

	return GkvKeptPlan(&plan, CATALOG_PULL_SQL, 3, argtypes);
}

/*
 * GkvCatalogPull appends catalog rows with cursor < seq <= horizon, read
 * with the given snapshot, to the pull's tuplestore.
 */
int64
GkvCatalogPull(uint64 cursor, uint64 horizon, Snapshot snapshot, int64 budget,
			   Tuplestorestate *store, TupleDesc desc, uint64 *last_seq)
{
	Datum		args[3];
	SPIPlanPtr	plan;
	int64		n = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = CatalogPullPlan();
	args[0] = Int64GetDatum((int64) cursor);
	args[1] = Int64GetDatum((int64) horizon);
	args[2] = Int64GetDatum(budget);
	if (SPI_execute_snapshot(plan, args, NULL, snapshot, InvalidSnapshot,
							 true, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the catalog for a pull");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		Datum		values[GKV_PULL_NATTS] = {0};
		bool		nulls[GKV_PULL_NATTS];
		bool		isnull;

		/* a catalog row (pull_format.h): no expiry, no counters */
		for (int c = 0; c < GKV_PULL_NATTS; c++)
			nulls[c] = false;
		nulls[GKV_PULL_EXPIRES_AT] = nulls[GKV_PULL_CRDT] = true;
		values[GKV_PULL_SHARD] = Int32GetDatum(GKV_CATALOG_SHARD);
		values[GKV_PULL_NAMESPACE] = SPI_getbinval(tup, td, 1, &isnull);
		values[GKV_PULL_KEY] = SPI_getbinval(tup, td, 2, &isnull);
		values[GKV_PULL_VALUE] = SPI_getbinval(tup, td, 3, &nulls[GKV_PULL_VALUE]);
		values[GKV_PULL_HLC] = SPI_getbinval(tup, td, 4, &isnull);
		values[GKV_PULL_ORIGIN] = SPI_getbinval(tup, td, 5, &isnull);
		values[GKV_PULL_SEQ] = SPI_getbinval(tup, td, 6, &isnull);
		tuplestore_putvalues(store, desc, values, nulls);
		*last_seq = (uint64) DatumGetInt64(values[GKV_PULL_SEQ]);
		n++;
	}
	SPI_finish();
	return n;
}

/* ----------------------------------------------------------------
 * Applying a catalog row: the merge
 *
 * The decision is made here, in C, by GkvVersionCompare -- the comparison
 * documents use -- and nowhere else: the statements below only read the
 * stored version and write the row.  The stored row is locked (FOR UPDATE)
 * before it is compared, so two apply workers bringing the same row from
 * different peers cannot both win.  When there is no row yet, the insert
 * does nothing on a conflict and the merge starts over: the row a
 * concurrent applier inserted meanwhile is then locked and compared.
 *
 * Every statement takes the same parameters:
 *	$1 text name (namespaces, expiry policies)	$2 int4 node or shard id
 *	$3 text zone (placements, moves)			$4 jsonb payload, NULL = dropped
 *	$5 int8 hlc		$6 int4 origin		$7 int8 seq (a fresh local stamp)
 * ----------------------------------------------------------------
 */
typedef struct CatalogTable
{
	const char *name;			/* as in the stream */
	bool		shard_zone_key; /* stream key "<shard>/<zone>" */
	bool		id_key;			/* stream key is an integer id */
	const char *select_sql;
	const char *insert_sql;
	const char *update_sql;
	SPIPlanPtr	plans[3];		/* kept, in the order above */
} CatalogTable;

#define CATALOG_MERGE_NARGS 7

static CatalogTable CatalogTables[] = {
	{"namespaces", false, false,
		"SELECT hlc, origin FROM globalkv.namespaces WHERE name = $1 FOR UPDATE",
		"INSERT INTO globalkv.namespaces (name, created_at, hlc, origin, seq, dropped)"
		" VALUES ($1, coalesce(($4->>'created_at')::timestamptz, now()), $5, $6, $7, $4 IS NULL)"
		" ON CONFLICT DO NOTHING",
		"UPDATE globalkv.namespaces SET created_at = coalesce(($4->>'created_at')::timestamptz, now()),"
		" hlc = $5, origin = $6, seq = $7, dropped = $4 IS NULL WHERE name = $1"},
	{"expiry_policies", false, false,
		"SELECT hlc, origin FROM globalkv.expiry_policies WHERE name = $1 FOR UPDATE",
		"INSERT INTO globalkv.expiry_policies (name, ttl, hlc, origin, seq, dropped)"
		" VALUES ($1, ($4->>'ttl')::interval, $5, $6, $7, $4 IS NULL)"
		" ON CONFLICT DO NOTHING",
		"UPDATE globalkv.expiry_policies SET ttl = ($4->>'ttl')::interval,"
		" hlc = $5, origin = $6, seq = $7, dropped = $4 IS NULL WHERE name = $1"},
	{"nodes", false, true,
		"SELECT hlc, origin FROM globalkv.nodes WHERE node_id = $2 FOR UPDATE",
		"INSERT INTO globalkv.nodes (node_id, node_name, zone_name, conninfo, hlc, origin, seq, dropped)"
		" VALUES ($2, coalesce($4->>'node_name', 'node' || $2), coalesce($4->>'zone_name', 'unknown'),"
		" coalesce($4->>'conninfo', ''), $5, $6, $7, $4 IS NULL)"
		" ON CONFLICT DO NOTHING",
	/* a drop keeps the node's last description */
		"UPDATE globalkv.nodes SET"
		" node_name = CASE WHEN $4 IS NULL THEN node_name ELSE coalesce($4->>'node_name', 'node' || $2) END,"
		" zone_name = CASE WHEN $4 IS NULL THEN zone_name ELSE coalesce($4->>'zone_name', 'unknown') END,"
		" conninfo = CASE WHEN $4 IS NULL THEN conninfo ELSE coalesce($4->>'conninfo', '') END,"
		" hlc = $5, origin = $6, seq = $7, dropped = $4 IS NULL WHERE node_id = $2"},
	{"placements", true, false,
		"SELECT hlc, origin FROM globalkv.placements WHERE shard_id = $2 AND zone_name = $3 FOR UPDATE",
		"INSERT INTO globalkv.placements (shard_id, zone_name, node_id, hlc, origin, seq, dropped)"
		" VALUES ($2, $3, coalesce(($4->>'node_id')::integer, 1), $5, $6, $7, $4 IS NULL)"
		" ON CONFLICT DO NOTHING",
		"UPDATE globalkv.placements SET"
		" node_id = CASE WHEN $4 IS NULL THEN node_id ELSE coalesce(($4->>'node_id')::integer, 1) END,"
		" hlc = $5, origin = $6, seq = $7, dropped = $4 IS NULL WHERE shard_id = $2 AND zone_name = $3"},
	{"shard_moves", true, false,
		"SELECT hlc, origin FROM globalkv.shard_moves WHERE shard_id = $2 AND zone_name = $3 FOR UPDATE",
		"INSERT INTO globalkv.shard_moves (shard_id, zone_name, source_node, target_node, state,"
		" started_at, hlc, origin, seq, dropped)"
		" VALUES ($2, $3, coalesce(($4->>'source_node')::integer, 1), coalesce(($4->>'target_node')::integer, 2),"
		" coalesce($4->>'state', 'copying'), coalesce(($4->>'started_at')::timestamptz, now()),"
		" $5, $6, $7, $4 IS NULL)"
		" ON CONFLICT DO NOTHING",
		"UPDATE globalkv.shard_moves SET"
		" source_node = CASE WHEN $4 IS NULL THEN source_node ELSE coalesce(($4->>'source_node')::integer, 1) END,"
		" target_node = CASE WHEN $4 IS NULL THEN target_node ELSE coalesce(($4->>'target_node')::integer, 2) END,"
		" state = CASE WHEN $4 IS NULL THEN state ELSE coalesce($4->>'state', 'copying') END,"
		" started_at = CASE WHEN $4 IS NULL THEN started_at"
		" ELSE coalesce(($4->>'started_at')::timestamptz, now()) END,"
		" hlc = $5, origin = $6, seq = $7, dropped = $4 IS NULL WHERE shard_id = $2 AND zone_name = $3"},
	{"docs_indexes", false, false,
		"SELECT hlc, origin FROM globalkv.docs_indexes WHERE name = $1 FOR UPDATE",
		"INSERT INTO globalkv.docs_indexes (name, definition, created_at, hlc, origin, seq, dropped)"
		" VALUES ($1, coalesce($4->>'definition', ''), coalesce(($4->>'created_at')::timestamptz, now()),"
		" $5, $6, $7, $4 IS NULL)"
		" ON CONFLICT DO NOTHING",
	/* a drop keeps the index's last definition */
		"UPDATE globalkv.docs_indexes SET"
		" definition = CASE WHEN $4 IS NULL THEN definition ELSE coalesce($4->>'definition', '') END,"
		" created_at = CASE WHEN $4 IS NULL THEN created_at"
		" ELSE coalesce(($4->>'created_at')::timestamptz, now()) END,"
		" hlc = $5, origin = $6, seq = $7, dropped = $4 IS NULL WHERE name = $1"},
};

/* the kept plan of statement 'which' (0 select, 1 insert, 2 update) */
static SPIPlanPtr
CatalogMergePlan(CatalogTable *t, int which)
{
	static const Oid argtypes[CATALOG_MERGE_NARGS] =
	{TEXTOID, INT4OID, TEXTOID, JSONBOID, INT8OID, INT4OID, INT8OID};
	const char *sql = which == 0 ? t->select_sql : which == 1 ? t->insert_sql : t->update_sql;

	return GkvKeptPlan(&t->plans[which], sql, CATALOG_MERGE_NARGS, argtypes);
}

static CatalogTable *
FindCatalogTable(const char *table)
{
	for (int i = 0; i < lengthof(CatalogTables); i++)
		if (strcmp(CatalogTables[i].name, table) == 0)
			return &CatalogTables[i];
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("unknown catalog table \"%s\" in the replication stream", table)));
	return NULL;				/* keep compiler quiet */
}

/* parses an integer stream key (or key part); errors name the row */
static int32
CatalogKeyInt(const char *s, int len, const char *table, const char *key)
{
	char	   *copy = pnstrdup(s, len);
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(copy, &end, 10);
	if (len == 0 || *end != '\0' || errno != 0 || v < PG_INT32_MIN || v > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid key \"%s\" of a \"%s\" row in the replication stream", key, table)));
	pfree(copy);
	return (int32) v;
}

/*
 * ApplyDocsIndex builds (or drops) an index of kv.docs whose catalog row
 * just arrived, on this node's shard tables.  Usually the node that made
 * it built it here already (IF NOT EXISTS then does nothing); a node that
 * was away builds it now.  A build that fails here -- a row of this node
 * the index expression cannot take -- is logged and left, in a
 * subtransaction: it must not stop the catalog from replicating.
 */
static void
ApplyDocsIndex(const char *name, Jsonb *value)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	char		nulls[2] = {' ', 'n'};

	args[0] = CStringGetTextDatum(name);
	if (value != NULL)
	{
		Datum		def = DirectFunctionCall2(jsonb_object_field_text, JsonbPGetDatum(value),
											  CStringGetTextDatum("definition"));

		args[1] = def;
		nulls[1] = ' ';
	}
	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		if (SPI_execute_with_args("SELECT globalkv.docs_index_apply($1, $2)", 2, argtypes, args,
								  nulls, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not run globalkv.docs_index_apply");
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("could not %s index \"%s\" of kv.docs on this node: %s",
						value != NULL ? "build" : "drop", name, edata->message),
				 errhint("Fix the documents it cannot index, then run CREATE INDEX ... ON kv.docs again (or DROP INDEX it).")));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/*
 * GkvCatalogApply applies one replicated catalog row; true when it changed
 * the local catalog (its version is greater than the stored one).  A newer
 * drop of a namespace also removes the namespace's documents on this node.
 * Called inside a transaction.
 */
bool
GkvCatalogApply(const char *table, const char *key, Jsonb *value, GkvVersion version)
{
	CatalogTable *t = FindCatalogTable(table);
	Datum		args[CATALOG_MERGE_NARGS] = {0};
	char		nulls[CATALOG_MERGE_NARGS] = {'n', 'n', 'n', 'n', ' ', ' ', ' '};
	bool		applied = false;

	/*
	 * Move the clock past the version first, as documents do: a later
	 * catalog change made here (globalkv.stamp()) then wins over it, even
	 * when the node that wrote it runs ahead of our clock.
	 */
	GkvClockObserve(version.hlc);

	if (t->shard_zone_key)
	{
		const char *slash = strchr(key, '/');

		if (slash == NULL || slash[1] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid key \"%s\" of a \"%s\" row in the replication stream", key, table)));
		args[1] = Int32GetDatum(CatalogKeyInt(key, slash - key, table, key));
		args[2] = CStringGetTextDatum(slash + 1);
		nulls[1] = nulls[2] = ' ';
	}
	else if (t->id_key)
	{
		args[1] = Int32GetDatum(CatalogKeyInt(key, strlen(key), table, key));
		nulls[1] = ' ';
	}
	else
	{
		args[0] = CStringGetTextDatum(key);
		nulls[0] = ' ';
	}
	if (value != NULL)
	{
		args[3] = JsonbPGetDatum(value);
		nulls[3] = ' ';
	}
	args[4] = Int64GetDatum((int64) version.hlc);
	args[5] = Int32GetDatum(version.origin);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int attempt = 0;; attempt++)
	{
		bool		found;

		if (SPI_execute_plan(CatalogMergePlan(t, 0), args, nulls, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read catalog table %s", t->name);
		found = SPI_processed == 1;
		if (found)
		{
			GkvVersion	stored;
			bool		isnull;

			stored.hlc = (uint64) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
															  SPI_tuptable->tupdesc, 1, &isnull));
			stored.origin = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc, 2, &isnull));
			/* the one comparison: the greater version wins, a tie changes nothing */
			if (GkvVersionCompare(stored, version) >= 0)
				break;
		}
		GkvStartClockPastStoredRows();
		args[6] = Int64GetDatum((int64) GkvStampSequence(GKV_CATALOG_SHARD));
		if (SPI_execute_plan(CatalogMergePlan(t, found ? 2 : 1), args, nulls, false, 0) < 0)
			elog(ERROR, "could not write catalog table %s", t->name);
		if (SPI_processed == 1)
		{
			applied = true;
			break;
		}
		/* a concurrent applier inserted the row first: lock and compare it */
		if (found || attempt > 0)
			elog(ERROR, "catalog row \"%s\" of %s vanished while it was merged", key, t->name);
	}
	if (applied && strcmp(t->name, "docs_indexes") == 0)
		ApplyDocsIndex(key, value);
	if (applied && value == NULL && strcmp(t->name, "namespaces") == 0)
	{
		Oid			argtypes[1] = {TEXTOID};

		if (SPI_execute("SELECT globalkv.lock_shards_against_writes()", false, 0) != SPI_OK_SELECT ||
			SPI_execute_with_args("SELECT globalkv.remove_namespace_documents($1)", 1, argtypes,
								  &args[0], NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not remove the documents of dropped namespace \"%s\"", key);
	}
	SPI_finish();
	return applied;
}

PG_FUNCTION_INFO_V1(gkv_apply_catalog_row);

/*
 * globalkv.apply_catalog_row(tbl, k, val, hlc, origin): GkvCatalogApply
 * from SQL, for a shard move's copy of catalog rows between nodes.
 */
Datum
gkv_apply_catalog_row(PG_FUNCTION_ARGS)
{
	GkvVersion	version;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("a catalog row needs a table, a key and a version")));
	version.hlc = (uint64) PG_GETARG_INT64(3);
	version.origin = PG_GETARG_INT32(4);
	PG_RETURN_BOOL(GkvCatalogApply(text_to_cstring(PG_GETARG_TEXT_PP(0)),
								   text_to_cstring(PG_GETARG_TEXT_PP(1)),
								   PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2),
								   version));
}

PG_FUNCTION_INFO_V1(gkv_stamp);

/*
 * globalkv.stamp() returns a fresh clock tick for a catalog change made on
 * this node: its version's hlc and its change sequence at once.  Publishes
 * the in-flight slot first, like every write.
 */
Datum
gkv_stamp(PG_FUNCTION_ARGS)
{
	/* an admin function of another SQL version must not write the catalog */
	GkvRequireBuiltVersion();
	GkvStartClockPastStoredRows();
	PG_RETURN_INT64((int64) GkvStampSequence(GKV_CATALOG_SHARD));
}

/*
 * GkvPeerNeedsResync: did this node purge tombstones the peer had not
 * acknowledged (globalkv.peer_needs_resync)?
 */
bool
GkvPeerNeedsResync(int32 peer_node_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(peer_node_id)};
	bool		result = false;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/*
	 * Asked at every pull and every applied batch: prepared once, and the
	 * body of globalkv.peer_needs_resync written out -- a call to that SQL
	 * function (not inlinable: it sets search_path) would parse and plan
	 * its body again at every execution.
	 */
	if (SPI_execute_plan(GkvKeptPlan(&plan,
									 "SELECT EXISTS (SELECT 1 FROM globalkv.peer_acks a"
									 " WHERE a.peer_node_id OPERATOR(pg_catalog.=) $1"
									 "   AND a.cursor OPERATOR(pg_catalog.<) a.resync_below)",
									 1, argtypes),
						 args, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;

		result = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											1, &isnull));
	}
	SPI_finish();
	return result;
}
