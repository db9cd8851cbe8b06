/*-------------------------------------------------------------------------
 *
 * cmd_data.h
 *	  The data commands of the globalkv CLI (cmd_data.c), on libglobalkv.
 *
 * cli/cmd_data.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GKV_CLI_CMD_DATA_H
#define GKV_CLI_CMD_DATA_H

/* the -d options a data command accepts (seeds of the shard map) */
#define MAX_SEEDS 16

/*
 * put | get | delete | shard-of: args[0] is the command, args[1..] its
 * words.  seeds: the -d connection strings.  Returns the exit status
 * (exits itself on errors).
 */
extern int	data_command(int nargs, char **args, const char *const *seeds, int nseeds,
						 const char *zone, long ttl);

#endif							/* GKV_CLI_CMD_DATA_H */
