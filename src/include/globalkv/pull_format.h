/*-------------------------------------------------------------------------
 *
 * pull_format.h
 *	  The rows of globalkv.pull(): the replication stream's wire format.
 *
 * The source fills them (src/replication/pull.c, catalog_sync.c), the
 * apply worker decodes them (apply_worker.c), and the SQL declaration of
 * globalkv.pull names them; gkv_pull checks at each call that the declared
 * columns are these, so the four places cannot drift apart silently.
 *
 * Three kinds of row travel:
 *
 *	document	shard >= 0; every column as stored in the shard table.
 *	catalog		shard = GKV_CATALOG_SHARD; namespace = the catalog table,
 *				key = the row's key there, value = its fields as jsonb
 *				(NULL: dropped), hlc/origin = its version, seq.
 *	cursor		key IS NULL: "you may continue this shard from seq"; hlc
 *				holds the source's safe horizon, origin how many rows the
 *				puller's claims left out (NULL from older sources).
 *
 * Columns are numbered from 0, as libpq counts them.  For document rows
 * column GKV_PULL_NAMESPACE + i is shard table attribute i + 1.
 *
 * src/include/globalkv/pull_format.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_PULL_FORMAT_H
#define GLOBALKV_PULL_FORMAT_H

#include "globalkv/storage.h"

typedef enum GkvPullColumn
{
	GKV_PULL_SHARD,
	GKV_PULL_NAMESPACE,
	GKV_PULL_KEY,
	GKV_PULL_VALUE,
	GKV_PULL_HLC,
	GKV_PULL_ORIGIN,
	GKV_PULL_EXPIRES_AT,
	GKV_PULL_CRDT,
	GKV_PULL_SEQ,
	GKV_PULL_NATTS
} GkvPullColumn;

/* the column names, in order, as globalkv.pull declares them */
#define GKV_PULL_COLUMN_NAMES \
	"shard", "namespace", "key", "value", "hlc", "origin", "expires_at", "crdt", "seq"

/* the column of a shard table attribute in a document row */
#define GkvPullColumnOfAttr(attnum) (GKV_PULL_NAMESPACE + (attnum) - 1)

StaticAssertDecl(GkvPullColumnOfAttr(Anum_shard_namespace) == GKV_PULL_NAMESPACE &&
				 GkvPullColumnOfAttr(Anum_shard_key) == GKV_PULL_KEY &&
				 GkvPullColumnOfAttr(Anum_shard_value) == GKV_PULL_VALUE &&
				 GkvPullColumnOfAttr(Anum_shard_hlc) == GKV_PULL_HLC &&
				 GkvPullColumnOfAttr(Anum_shard_origin) == GKV_PULL_ORIGIN &&
				 GkvPullColumnOfAttr(Anum_shard_expires_at) == GKV_PULL_EXPIRES_AT &&
				 GkvPullColumnOfAttr(Anum_shard_crdt) == GKV_PULL_CRDT &&
				 GkvPullColumnOfAttr(Anum_shard_seq) == GKV_PULL_SEQ &&
				 GKV_PULL_NATTS == Natts_shard + 1,
				 "a document row of the pull is its shard id followed by the shard row");

#endif							/* GLOBALKV_PULL_FORMAT_H */
