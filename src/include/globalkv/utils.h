/*-------------------------------------------------------------------------
 *
 * utils.h
 *	  Backend plumbing every room may use (src/utils/background.c):
 *	  registering and connecting background workers, their units of work,
 *	  internal statements kept prepared.
 *
 * src/include/globalkv/utils.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_UTILS_H
#define GLOBALKV_UTILS_H

#include "executor/spi.h"
#include "postmaster/bgworker.h"

extern bool GkvExtensionInstalled(void);
extern void GkvWorkerTransactionBegin(void);
extern void GkvWorkerTransactionEnd(void);
extern void GkvWorkerConnect(const char *appname);
extern SPIPlanPtr GkvKeptPlan(SPIPlanPtr *slot, const char *sql, int nargs,
							  const Oid *argtypes);
extern void GkvFillWorker(BackgroundWorker *worker, const char *function,
						  const char *name, const char *type, int restart_seconds);
extern void GkvRegisterStaticWorker(const char *function, const char *name,
									const char *type, int restart_seconds);

#endif							/* GLOBALKV_UTILS_H */
