/*-------------------------------------------------------------------------
 *
 * cmd_shard.h
 *	  globalkv shard move and globalkv rebalance (cmd_shard.c).
 *
 * cli/cmd_shard.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GKV_CLI_CMD_SHARD_H
#define GKV_CLI_CMD_SHARD_H

#include <stdbool.h>

/*
 * shard move SHARD: args[0] is "shard", args[1] "move", args[2] the shard.
 * to_node: --to (a node name or id); rollback: --rollback.  Returns the
 * exit status (exits itself on errors).
 */
extern int	shard_command(int nargs, char **args, const char *conninfo, const char *to_node,
						  bool rollback);
/* rebalance: zone is --zone, or NULL for the zone of the -d node */
extern int	rebalance_command(const char *conninfo, const char *zone);

#endif							/* GKV_CLI_CMD_SHARD_H */
