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
 * status -d CONNINFO: prints what the node named by conninfo knows.
 * Returns the exit status (exits itself on errors).
 */
extern int	status_command(const char *conninfo);

#endif							/* GKV_CLI_CMD_STATUS_H */
