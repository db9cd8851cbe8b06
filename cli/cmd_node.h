/*-------------------------------------------------------------------------
 *
 * cmd_node.h
 *	  globalkv node add (cmd_node.c).
 *
 * cli/cmd_node.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GKV_CLI_CMD_NODE_H
#define GKV_CLI_CMD_NODE_H

typedef struct NodeAddOptions
{
	const char *new_conninfo;	/* -d: the new node, as you reach it */
	const char *seed_conninfo;	/* --seed: a node of the parade */
	const char *id;
	const char *name;
	const char *zone;
	const char *reach;			/* how the parade's nodes reach the new one */
	const char *create_login;	/* a role to create there for the peers, or NULL */
	int			timeout_s;
} NodeAddOptions;

/* node add: returns 0 when the node joined and caught up, 2 on an error */
extern int	node_add_command(const NodeAddOptions *opts);

#endif							/* GKV_CLI_CMD_NODE_H */
