/*-------------------------------------------------------------------------
 *
 * catalog_sync.c
 *	  Replicating the catalog (namespaces, expiry policies, parade nodes)
 *	  through the same pull stream as documents.
 *
 * Every catalog row carries a version (hlc, origin) and a local change
 * sequence, like a document, and a "dropped" flag instead of being deleted
 * (a tombstone, so a drop replicates).  A catalog change made on any node
 * with the admin functions is stamped with a fresh clock tick
 * (globalkv.stamp()); peers pull catalog rows as pseudo-shard -1 and apply
 * them with the same rule as documents: the greater version wins.  Applying
 * stamps a new local seq, so catalog changes relay along any path too.
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
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "globalkv/catalog.h"
#include "globalkv/clock.h"
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
	"%s) c ORDER BY seq LIMIT $3"

/* the tables of version 0.2 (placements, moves), stream key "<shard>/<zone>" */
#define CATALOG_PULL_SQL_0_2 \
	" UNION ALL" \
	" SELECT 'placements', shard_id || '/' || zone_name," \
	"        CASE WHEN dropped THEN NULL ELSE jsonb_build_object('node_id', node_id) END," \
	"        hlc, origin, seq FROM globalkv.placements WHERE seq > $1 AND seq <= $2" \
	" UNION ALL" \
	" SELECT 'shard_moves', shard_id || '/' || zone_name," \
	"        CASE WHEN dropped THEN NULL ELSE jsonb_build_object('source_node', source_node," \
	"             'target_node', target_node, 'state', state, 'started_at', started_at) END," \
	"        hlc, origin, seq FROM globalkv.shard_moves WHERE seq > $1 AND seq <= $2"

/*
 * CatalogPullPlan returns the catalog pull's plan, prepared once per
 * backend (a pull runs many times a second under load) and kept; the plan
 * cache replans it when the catalog tables change.  SPI is connected.
 */
static SPIPlanPtr
CatalogPullPlan(void)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	/* a node not yet updated to 0.2 has no placements to send */
	Oid			nsp = get_namespace_oid("globalkv", false);
	bool		v02 = OidIsValid(get_relname_relid("shard_moves", nsp));
	Oid			argtypes[3] = {INT8OID, INT8OID, INT8OID};

	if (plans[v02] == NULL)
		(void) GkvKeptPlan(&plans[v02], psprintf(CATALOG_PULL_SQL, v02 ? CATALOG_PULL_SQL_0_2 : ""),
						   3, argtypes);
	return plans[v02];
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

/*
 * GkvCatalogApply applies one replicated catalog row; true when it changed
 * the local catalog.  A newer drop of a namespace also removes the
 * namespace's documents on this node.
 */
bool
GkvCatalogApply(const char *table, const char *key, Jsonb *value, GkvVersion version)
{
	Oid			argtypes[5] = {TEXTOID, TEXTOID, JSONBOID, INT8OID, INT4OID};
	Datum		args[5];
	char		nulls[5] = {' ', ' ', value ? ' ' : 'n', ' ', ' '};
	int			ret;
	bool		changed;

	/*
	 * Move the clock past the version first, as documents do: a later
	 * catalog change made here (globalkv.stamp()) then wins over it, even
	 * when the node that wrote it runs ahead of our clock.
	 */
	GkvClockObserve(version.hlc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = CStringGetTextDatum(table);
	args[1] = CStringGetTextDatum(key);
	args[2] = value ? JsonbPGetDatum(value) : (Datum) 0;
	args[3] = Int64GetDatum((int64) version.hlc);
	args[4] = Int32GetDatum(version.origin);
	ret = SPI_execute_with_args("SELECT globalkv.apply_catalog_row($1, $2, $3, $4, $5)",
								5, argtypes, args, nulls, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not apply a catalog row");
	{
		bool		isnull;

		changed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	return changed;
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
	/* asked at every pull and every applied batch: prepared once */
	if (SPI_execute_plan(GkvKeptPlan(&plan, "SELECT globalkv.peer_needs_resync($1)", 1, argtypes),
						 args, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;

		result = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											1, &isnull));
	}
	SPI_finish();
	return result;
}
