/*-------------------------------------------------------------------------
 *
 * cmd_watch.h
 *	  globalkv watch: follow a namespace's change feed.
 *
 * cli/cmd_watch.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GKV_CLI_CMD_WATCH_H
#define GKV_CLI_CMD_WATCH_H

extern int	watch_command(const char *const *seeds, int nseeds, const char *zone, const char *ns,
						  const char *cursor, long count, int timeout_s);

#endif							/* GKV_CLI_CMD_WATCH_H */
