/*-------------------------------------------------------------------------
 *
 * cmd_verify.h
 *	  globalkv verify and globalkv repair (cmd_verify.c).
 *
 * cli/cmd_verify.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GKV_CLI_CMD_VERIFY_H
#define GKV_CLI_CMD_VERIFY_H

#include <stdbool.h>

/*
 * verify|repair -d CONNINFO [--shard S] [--peer NODE]: compares (and
 * mends) the node's shards with their holders in the other zones.
 * Returns the exit status: 0 in sync (verify) or repaired (repair), 1 when
 * verify found differences, 2 on an error.
 */
extern int	verify_command(const char *conninfo, bool repair, const char *shard, const char *peer);

#endif							/* GKV_CLI_CMD_VERIFY_H */
