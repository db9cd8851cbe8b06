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

/* the options of the data commands */
typedef struct DataOptions
{
	const char *zone;			/* --zone: the caller's zone */
	long		ttl;			/* --ttl: put, touch */
	const char *after;			/* --after: scan from after this key */
	long		count;			/* --count: scan at most this many (0: all) */
} DataOptions;

/*
 * put | get | delete | touch | scan | shard-of: args[0] is the command,
 * args[1..] its words.  seeds: the -d connection strings.  Returns the
 * exit status (exits itself on errors).
 */
extern int	data_command(int nargs, char **args, const char *const *seeds, int nseeds,
						 const DataOptions *opts);

#endif							/* GKV_CLI_CMD_DATA_H */
