/*
 * fake_node.h -- a stand-in globalkv node for the unit tests of
 * libglobalkv's routing (test_routing.c): a process speaking just enough
 * of the PostgreSQL wire protocol (trust login, simple query for
 * kv.shard_map(), Parse/Bind/Describe/Execute/Sync for the API calls) to
 * answer the library, record what it received, and misbehave on demand
 * (drop the connection after a request arrived, answer GK017, answer an
 * error, answer slowly).  No server, no network beyond 127.0.0.1.
 */
#ifndef FAKE_NODE_H
#define FAKE_NODE_H

#include <sys/types.h>

/* statement kinds, recognised from the SQL the library prepares */
enum
{
	K_PUT, K_GET, K_DELETE, K_PATCH, K_PUT_MANY, K_GET_MANY, K_TOUCH, K_GET_AND_TOUCH, K_SCAN,
	K_CHANGES, K_OTHER, K_COUNT
};
#define KBIT(k) (1u << (k))

/* shared between the test and the node's processes (MAP_SHARED) */
typedef struct fake_shared
{
	/* behaviour, changeable while running */
	unsigned	die_on;			/* close the connection once Execute of these arrived */
	unsigned	stale_on;		/* answer GK017 */
	unsigned	error_on;		/* answer GK001 */
	int			delay_ms;		/* wait before answering an Execute */
	char		map[8192];		/* served by kv.shard_map(); "" : no such function */
	/* what arrived */
	int			connections;
	int			direct;			/* connections asking globalkv.routing=direct */
	int			prepares[K_COUNT];
	int			executes[K_COUNT];
	int			map_requests;
	char		user[64];		/* of the last connection */
	char		dbname[64];
	char		last_keys[1024];	/* the keys array of the last batch */
} fake_shared;

typedef struct fake_node
{
	const char *name;
	int			port;
	int			listen_fd;
	pid_t		pid;
	fake_shared *sh;
} fake_node;

/* binds 127.0.0.1 on a free port (n->port); 0 on success */
extern int	fake_listen(fake_node *n, const char *name);
/* starts serving (fork); the map and behaviour may be set before or after */
extern void fake_start(fake_node *n);
/* kills the node and every connection it serves; the port then refuses */
extern void fake_stop(fake_node *n);

#endif
