/*-------------------------------------------------------------------------
 *
 * cmd_status.h
 *	  globalkv status (cmd_status.c).
 *
 * cli/cmd_status.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GKV_CLI_CMD_STATUS_H
#define GKV_CLI_CMD_STATUS_H

/*
 * status -d CONNINFO [--watch SECONDS [--count N]]: prints what the node
 * named by conninfo knows; with --watch, again every SECONDS in place (as
 * top does) with the operation rates, N times (0: until interrupted).
 * Returns the exit status (exits itself on errors).
 */
extern int	status_command(const char *conninfo, int watch_seconds, int count);

#endif							/* GKV_CLI_CMD_STATUS_H */
