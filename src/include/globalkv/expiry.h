/*-------------------------------------------------------------------------
 *
 * expiry.h
 *	  The housekeeping background worker (src/expiry/expiry_worker.c):
 *	  removes expired documents and purges tombstones that have done their
 *	  job (src/expiry/tombstone_purge.c).
 *
 * src/include/globalkv/expiry.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_EXPIRY_H
#define GLOBALKV_EXPIRY_H

#include "fmgr.h"

extern PGDLLEXPORT void GkvExpiryWorkerMain(Datum main_arg);

/* tombstone_purge.c */
extern int64 GkvShardAckedSeq(int shard);

#endif							/* GLOBALKV_EXPIRY_H */
