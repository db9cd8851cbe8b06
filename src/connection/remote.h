/*-------------------------------------------------------------------------
 *
 * remote.h
 *	  Interruptible libpq connections to other nodes (remote.c).
 *
 * src/connection/remote.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GKV_REMOTE_H
#define GKV_REMOTE_H

#include "libpq-fe.h"

extern PGconn *GkvRemoteConnect(const char *conninfo, const char *node_name,
								const char *application_name, const char *options,
								long timeout_ms);
extern void GkvRemoteDisconnect(PGconn *conn);
extern PGresult *GkvRemoteQuery(PGconn *conn, const char *node_name, const char *sql,
								int nparams, const char *const *values,
								int resultFormat, long timeout_ms);
extern void GkvRemoteSend(PGconn *conn, const char *node_name, const char *stmt_name,
						  const char *sql, int nparams, const char *const *values,
						  int resultFormat);
extern PGresult *GkvRemoteReceive(PGconn *conn, const char *node_name, long timeout_ms);
extern bool GkvRemoteCommandQuietly(PGconn *conn, const char *sql, long timeout_ms);
extern void GkvRemotePrepare(PGconn *conn, const char *node_name, const char *stmt_name,
							 const char *sql, long timeout_ms);

#endif							/* GKV_REMOTE_H */
