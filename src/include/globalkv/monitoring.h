/*-------------------------------------------------------------------------
 *
 * monitoring.h
 *	  The Prometheus endpoint (src/monitoring/): a background worker serving
 *	  GET /metrics (metrics_server.c) with the body metrics_text.c writes
 *	  from the counters of every room below it.
 *
 * src/include/globalkv/monitoring.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GLOBALKV_MONITORING_H
#define GLOBALKV_MONITORING_H

#include "fmgr.h"
#include "lib/stringinfo.h"

extern PGDLLEXPORT void GkvMetricsServerMain(Datum main_arg);
extern void GkvMetricsText(StringInfo out);

#endif							/* GLOBALKV_MONITORING_H */
