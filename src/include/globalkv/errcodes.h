/*-------------------------------------------------------------------------
 *
 * errcodes.h
 *	  globalkv's own SQLSTATEs: class "GK".  docs/errors.md lists them with
 *	  what a client should do about each.
 *
 * src/include/globalkv/errcodes.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_ERRCODES_H
#define GLOBALKV_ERRCODES_H

#include "utils/elog.h"

#define ERRCODE_GKV_UNKNOWN_NAMESPACE	MAKE_SQLSTATE('G','K','0','0','1')
#define ERRCODE_GKV_UNKNOWN_POLICY		MAKE_SQLSTATE('G','K','0','0','2')
#define ERRCODE_GKV_INVALID_KEY			MAKE_SQLSTATE('G','K','0','0','3')
#define ERRCODE_GKV_INVALID_DOCUMENT	MAKE_SQLSTATE('G','K','0','0','4')
#define ERRCODE_GKV_DOCUMENT_TOO_LARGE	MAKE_SQLSTATE('G','K','0','0','5')
#define ERRCODE_GKV_INVALID_OFFSET		MAKE_SQLSTATE('G','K','0','0','6')
#define ERRCODE_GKV_NUMERIC_OVERFLOW	MAKE_SQLSTATE('G','K','0','0','7')
#define ERRCODE_GKV_FIELD_NOT_NUMERIC	MAKE_SQLSTATE('G','K','0','0','8')
#define ERRCODE_GKV_INVALID_ARGUMENT	MAKE_SQLSTATE('G','K','0','0','9')
#define ERRCODE_GKV_INVALID_NAME		MAKE_SQLSTATE('G','K','0','1','0')
#define ERRCODE_GKV_DUPLICATE_OBJECT	MAKE_SQLSTATE('G','K','0','1','1')
#define ERRCODE_GKV_OBJECT_IN_USE		MAKE_SQLSTATE('G','K','0','1','2')
#define ERRCODE_GKV_NOT_INITIALIZED		MAKE_SQLSTATE('G','K','0','1','3')
#define ERRCODE_GKV_READ_ONLY			MAKE_SQLSTATE('G','K','0','1','4')
#define ERRCODE_GKV_INVALID_VERSION		MAKE_SQLSTATE('G','K','0','1','5')
#define ERRCODE_GKV_RESYNC_REQUIRED		MAKE_SQLSTATE('G','K','0','1','6')
#define ERRCODE_GKV_STALE_MAP			MAKE_SQLSTATE('G','K','0','1','7')
#define ERRCODE_GKV_NO_HOLDER			MAKE_SQLSTATE('G','K','0','1','8')
#define ERRCODE_GKV_REPLICATION_TIMEOUT	MAKE_SQLSTATE('G','K','0','1','9')

#endif							/* GLOBALKV_ERRCODES_H */
