/*-------------------------------------------------------------------------
 *
 * tombstone_purge.c
 *	  Removing tombstones once they have done their job.
 *
 * A delete leaves a tombstone (a row whose value is NULL) so that the
 * delete replicates and wins over older puts arriving later.  Per shard:
 *
 *	- a tombstone every peer of the shard has acknowledged (its seq is at
 *	  or below each peer's acked cursor, globalkv.peer_acks) and older than
 *	  globalkv.tombstone_min_age goes: every peer has it, and a put older
 *	  than it can no longer arrive from a peer that has not seen it;
 *	- a tombstone older than globalkv.tombstone_retention goes whatever the
 *	  peers acknowledged (and so does an expired document: the housekeeping
 *	  worker removes it earlier only on the first rule's terms): a peer gone for that long must not hold disk
 *	  forever.  The peers that had not acknowledged it are marked
 *	  (peer_acks.resync_below) and must resync before this node accepts
 *	  their rows again -- they might still hold documents it deleted.
 *	  This purge takes the advisory lock GKV_PURGE_LOCK_KEY exclusively;
 *	  an apply batch takes it shared before checking whether its peer must
 *	  resync, so the check and the purge are ordered.
 *
 * Each pass looks before it deletes: a DELETE holds a RowExclusiveLock on
 * the shard table to the end of the transaction, which would hold up a
 * shard move's fence even when nothing was purged.
 *
 * The peers of a shard are the other zones' holders and the target of a
 * move in progress (globalkv.shard_peers).  Times are the transaction's
 * start time as clock values (GkvHlcFromMs), compared with rows' hlc.
 *
 * src/expiry/tombstone_purge.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "globalkv/catalog.h"
#include "globalkv/clock.h"
#include "globalkv/errcodes.h"
#include "globalkv/expiry.h"
#include "globalkv/replication.h"
#include "globalkv/utils.h"

/* the clock value of 'seconds' before this transaction started */
static int64
HlcSecondsAgo(int seconds)
{
	int64		ms = GkvTimestampToUnixMs(GetCurrentTransactionStartTimestamp());

	return (int64) GkvHlcFromMs(ms - (int64) seconds * 1000);
}

/* runs a statement returning one row of int8 columns; false when NULL */
static bool
QueryInt8(const char *sql, int nargs, Oid *argtypes, Datum *args, int64 *out, int nout)
{
	bool		isnull = true;

	if (SPI_execute_with_args(sql, nargs, argtypes, args, NULL, false, 1) < 0 ||
		SPI_processed != 1)
		elog(ERROR, "tombstone purge: statement failed: %s", sql);
	for (int i = 0; i < nout; i++)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);

		out[i] = isnull ? 0 : DatumGetInt64(d);
	}
	return !isnull;
}

static bool
QueryBool(const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	bool		isnull;

	if (SPI_execute_with_args(sql, nargs, argtypes, args, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "tombstone purge: statement failed: %s", sql);
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * GkvShardAckedSeq: the lowest cursor the shard's peers acknowledged --
 * every row of the shard with a seq at or below it, each of its peers has
 * (or something newer).  No peers: every row.  SPI is connected.
 */
int64
GkvShardAckedSeq(int shard)
{
	Oid			t[1] = {INT4OID};
	Datum		a[1] = {Int32GetDatum(shard)};
	int64		safe;

	if (!QueryInt8("SELECT min(coalesce(a.cursor, 0))"
				   " FROM globalkv.shard_peers($1) p(node_id)"
				   " LEFT JOIN globalkv.peer_acks a"
				   " ON a.peer_node_id = p.node_id AND a.shard_id = $1",
				   1, t, a, &safe, 1))
		safe = PG_INT64_MAX;
	return safe;
}

/*
 * RaisePurgeHorizon records the newest tombstone purged in a shard (0:
 * none this time): kv.repair never copies to this node a document older
 * than it that this node lacks, since a purged delete may have removed it
 * (src/operations/anti_entropy.c).  Committed with the purge.
 */
static void
RaisePurgeHorizon(int shard, int64 tombstone_hlc)
{
	Oid			t[2] = {INT4OID, INT8OID};
	Datum		a[2] = {Int32GetDatum(shard), Int64GetDatum(tombstone_hlc)};

	if (tombstone_hlc <= 0)
		return;
	if (SPI_execute_with_args("INSERT INTO globalkv.purge_horizons AS h (shard_id, hlc) VALUES ($1, $2)"
							  " ON CONFLICT (shard_id) DO UPDATE SET hlc = greatest(h.hlc, EXCLUDED.hlc)",
							  2, t, a, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "tombstone purge: could not record the purge horizon of shard %d", shard);
}

/* purges one shard's tombstones; returns how many went */
static int64
PurgeShard(int shard, int64 retention_cutoff, int64 min_age_cutoff, int max_rows)
{
	const char *table = quote_qualified_identifier("globalkv_data",
												   get_rel_name(GkvShardRelid(shard)));
	Oid			types[3] = {INT8OID, INT8OID, INT4OID};
	Datum		args[3];
	int64		safe;
	int64		out[3];
	int64		total = 0;

	safe = GkvShardAckedSeq(shard);

	/* acknowledged by every peer, and older than the minimum age */
	args[0] = Int64GetDatum(safe);
	args[1] = Int64GetDatum(min_age_cutoff);
	args[2] = Int32GetDatum(max_rows);
	if (QueryBool(psprintf("SELECT EXISTS (SELECT 1 FROM %s"
						   " WHERE value IS NULL AND seq <= $1 AND hlc < $2)", table),
				  2, types, args))
	{
		(void) QueryInt8(psprintf("WITH gone AS (DELETE FROM %1$s WHERE ctid = ANY(ARRAY("
								  " SELECT ctid FROM %1$s WHERE value IS NULL AND seq <= $1 AND hlc < $2"
								  " LIMIT $3 FOR UPDATE SKIP LOCKED)) AND value IS NULL RETURNING hlc)"
								  " SELECT count(*), max(hlc) FROM gone", table),
						 3, types, args, out, 2);
		total += out[0];
		RaisePurgeHorizon(shard, out[1]);
	}

	/* older than the retention, acknowledged or not */
	args[0] = Int64GetDatum(retention_cutoff);
	args[1] = Int32GetDatum(max_rows);
	types[1] = INT4OID;
	/*
	 * Tombstones and expired rows are looked for apart, each through its
	 * partial index (_tombstones, _expires_at): "value IS NULL OR expires_at
	 * <= ..." in one condition would read the whole table at every pass.
	 */
	if (QueryBool(psprintf("SELECT EXISTS (SELECT 1 FROM %1$s WHERE value IS NULL AND hlc < $1)"
						   " OR EXISTS (SELECT 1 FROM %1$s"
						   " WHERE expires_at <= pg_catalog.statement_timestamp() AND hlc < $1)",
						   table),
				  1, types, args))
	{
		int64		purged;
		LOCKTAG		tag;

		/* as pg_advisory_xact_lock(KEY1, KEY2): ordered against apply batches */
		SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, GKV_PURGE_LOCK_KEY1, GKV_PURGE_LOCK_KEY2, 2);
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
		(void) QueryInt8(psprintf("WITH gone AS (DELETE FROM %1$s WHERE ctid = ANY(ARRAY("
								  " SELECT ctid FROM %1$s WHERE value IS NULL AND hlc < $1"
								  " LIMIT $2 FOR UPDATE SKIP LOCKED) || ARRAY("
								  " SELECT ctid FROM %1$s WHERE expires_at <= pg_catalog.statement_timestamp()"
								  " AND hlc < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)) AND (value IS NULL OR"
								  " expires_at <= pg_catalog.statement_timestamp())"
								  " RETURNING seq, CASE WHEN value IS NULL THEN hlc END AS tombstone_hlc)"
								  " SELECT count(*), max(seq), max(tombstone_hlc) FROM gone", table),
						 2, types, args, out, 3);
		purged = out[0];
		RaisePurgeHorizon(shard, out[2]);
		if (purged > 0)
		{
			Oid			t[2] = {INT4OID, INT8OID};
			Datum		a[2] = {Int32GetDatum(shard), Int64GetDatum(out[1])};

			total += purged;
			if (SPI_execute_with_args("INSERT INTO globalkv.peer_acks AS a"
									  " (peer_node_id, shard_id, cursor, acked_at, resync_below)"
									  " SELECT p.node_id, $1, 0, now(), $2"
									  " FROM globalkv.shard_peers($1) p(node_id)"
									  " ON CONFLICT (peer_node_id, shard_id) DO UPDATE"
									  " SET resync_below = greatest(a.resync_below, EXCLUDED.resync_below)"
									  " WHERE a.cursor < EXCLUDED.resync_below",
									  2, t, a, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "tombstone purge: could not mark the peers of shard %d for a resync", shard);
			if (SPI_processed > 0)
				ereport(LOG,
						(errmsg("globalkv: purged " INT64_FORMAT " tombstones of shard %d older than the retention; peers that had not acknowledged them must resync",
								purged, shard)));
		}
	}
	return total;
}

/*
 * PurgeTombstones purges, in every shard, at most max_rows acknowledged
 * tombstones per pass, and past the retention at most max_rows tombstones
 * and max_rows expired rows, and returns how many went.  Runs in the caller's transaction.
 */
static int64
PurgeTombstones(int retention_seconds, int min_age_seconds, int max_rows)
{
	int64		retention_cutoff = HlcSecondsAgo(retention_seconds);
	int64		min_age_cutoff = HlcSecondsAgo(min_age_seconds);
	int64		total = 0;
	int			nshards = GkvShardCount();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int shard = 0; shard < nshards; shard++)
	{
		total += PurgeShard(shard, retention_cutoff, min_age_cutoff, max_rows);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();
	return total;
}

PG_FUNCTION_INFO_V1(gkv_purge_tombstones);

/*
 * globalkv.purge_tombstones(retention_seconds, min_age_seconds, max_rows):
 * one purge pass now, as the housekeeping worker runs it.
 */
Datum
gkv_purge_tombstones(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) ||
		PG_GETARG_INT32(0) < 0 || PG_GETARG_INT32(1) < 0 || PG_GETARG_INT32(2) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_GKV_INVALID_ARGUMENT),
				 errmsg("purge_tombstones needs a retention and a minimum age of 0 or more seconds and at least one row per pass")));
	PG_RETURN_INT64(PurgeTombstones(PG_GETARG_INT32(0), PG_GETARG_INT32(1),
									   PG_GETARG_INT32(2)));
}
