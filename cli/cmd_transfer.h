/*-------------------------------------------------------------------------
 *
 * cmd_transfer.h
 *	  globalkv load and globalkv export (cmd_transfer.c).
 *
 * cli/cmd_transfer.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GKV_CLI_CMD_TRANSFER_H
#define GKV_CLI_CMD_TRANSFER_H

#include <stdbool.h>

/*
 * load -d CONNINFO NAMESPACE FILE [--stop-on-error] [--csv]: JSON lines
 * (or CSV key,value[,ttl], for a FILE ending in .csv or with --csv) into a
 * namespace.  Returns 0 when every line loaded, 1 when some were bad (each
 * reported with its line number), 2 on an error (the load stopped).
 */
extern int	load_command(const char *conninfo, const char *ns, const char *file, bool stop_on_error,
						 bool csv, int jobs);

/*
 * export -d CONNINFO NAMESPACE [--prefix P]: the namespace's live
 * documents as JSON lines on stdout.  Returns 0, or 2 on an error.
 */
extern int	export_command(const char *conninfo, const char *ns, const char *prefix);

#endif							/* GKV_CLI_CMD_TRANSFER_H */
