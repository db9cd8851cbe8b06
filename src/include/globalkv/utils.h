/*-------------------------------------------------------------------------
 *
 * utils.h
 *	  Backend plumbing every room may use: registering and connecting
 *	  background workers, their units of work, internal statements kept
 *	  prepared (src/utils/background.c); whether the installed SQL is the
 *	  version of this library (src/utils/extension_version.c).
 *
 * src/include/globalkv/utils.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_UTILS_H
#define GLOBALKV_UTILS_H

#include "executor/spi.h"
#include "postmaster/bgworker.h"

extern void GkvWorkerTransactionBegin(void);
extern void GkvWorkerTransactionEnd(void);
extern char *GkvWorkerTryTransaction(void (*work) (void *arg), void *arg);
extern void GkvWorkerConnect(const char *appname);
extern SPIPlanPtr GkvKeptPlan(SPIPlanPtr *slot, const char *sql, int nargs,
							  const Oid *argtypes);
extern void GkvFillWorker(BackgroundWorker *worker, const char *function,
						  const char *name, const char *type, int restart_seconds);
extern void GkvRegisterStaticWorker(const char *function, const char *name,
									const char *type, int restart_seconds);

/* the installed SQL version against this library's (extension_version.c) */
extern char *GkvInstalledVersion(void);
extern void GkvRequireBuiltVersion(void);
extern bool GkvExtensionReady(void);

#endif							/* GLOBALKV_UTILS_H */
