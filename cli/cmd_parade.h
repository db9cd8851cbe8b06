/*-------------------------------------------------------------------------
 *
 * cmd_parade.h
 *	  globalkv parade create | add-node | start | stop (cmd_parade.c).
 *
 * cli/cmd_parade.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GKV_CLI_CMD_PARADE_H
#define GKV_CLI_CMD_PARADE_H

#include <stdbool.h>

/* the command-line options a parade command reads */
typedef struct ParadeOptions
{
	const char *dir;			/* --dir: the parade's directory */
	int			zones;			/* --zones (create) */
	int			per_zone;		/* --nodes-per-zone (create) */
	int			port_base;		/* --port-base (create) */
	const char *port_list;		/* --ports, or NULL (create) */
	int			shards;			/* --shards; 0 keeps the extension's count (create) */
	const char *zone;			/* --zone (add-node) */
	bool		no_tls;			/* --no-tls (create): peers connect without TLS */
} ParadeOptions;

/*
 * parade SUBCOMMAND.  argc/argv: the whole command line, to run it again
 * as the unprivileged user when started as root.  Returns the exit status
 * (exits itself on errors).
 */
extern int	parade_command(const char *subcommand, const ParadeOptions *opts, int argc,
						   char **argv);

#endif							/* GKV_CLI_CMD_PARADE_H */
