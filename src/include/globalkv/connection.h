/*-------------------------------------------------------------------------
 *
 * connection.h
 *	  Talking to other nodes over libpq: interruptible calls whose errors
 *	  come back with the remote SQLSTATE (src/connection/remote.c), and
 *	  this backend's cache of one connection per node, its remote
 *	  transaction in step with ours (src/connection/connection_cache.c).
 *
 * src/include/globalkv/connection.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_CONNECTION_H
#define GLOBALKV_CONNECTION_H

#include "libpq-fe.h"

/* one connection, driven by its owner (remote.c) */
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

/*
 * The per-node connection cache (connection_cache.c).  GkvNodeSend sends a
 * statement with text parameters (false: the node is unreachable or marked
 * down, and did not get it); GkvNodeReceive returns its result (NULL: the
 * connection broke after the send, outcome unknown).  One request per node
 * at a time; several nodes may have one in flight at once.
 */
extern bool GkvNodeSend(int32 node_id, const char *sql, int nparams,
						const char *const *values);
#define GKV_WAIT_WHILE_IT_RUNS (-1L)
extern PGresult *GkvNodeReceive(int32 node_id, long timeout_ms);
extern void GkvNodeConnectAhead(int32 node_id);

#endif							/* GLOBALKV_CONNECTION_H */
