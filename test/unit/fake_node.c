/*
 * fake_node.c -- see fake_node.h.  Protocol 3.0 message formats as in the
 * PostgreSQL documentation ("Message Formats"); only what libpq sends for
 * PQconnectdbParams, PQexec, PQprepare and PQsendQueryPrepared is handled.
 *
 * Processes: fake_start forks an accept loop in its own process group;
 * each connection is served by a child of it, so one node can hold
 * several connections (the library's, a seed's) at once.  fake_stop kills
 * the whole group, which closes every connection as a crash would.
 * Children leave with _exit: no atexit handlers (nor LeakSanitizer) run
 * in them.
 */
#define _GNU_SOURCE
#include "fake_node.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct out
{
	char		buf[65536];
	size_t		len;
} out;

static void
put_bytes(out *o, const void *p, size_t n)
{
	if (o->len + n > sizeof(o->buf))
		_exit(3);
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void
put_i32(out *o, int32_t v)
{
	uint32_t	n = htonl((uint32_t) v);

	put_bytes(o, &n, 4);
}

static void
put_i16(out *o, int16_t v)
{
	uint16_t	n = htons((uint16_t) v);

	put_bytes(o, &n, 2);
}

static void
put_str(out *o, const char *s)
{
	put_bytes(o, s, strlen(s) + 1);
}

/* message under construction: type byte, then a length patched at the end */
static size_t
msg_begin(out *o, char type)
{
	size_t		at;

	put_bytes(o, &type, 1);
	at = o->len;
	put_i32(o, 0);
	return at;
}

static void
msg_end(out *o, size_t at)
{
	uint32_t	n = htonl((uint32_t) (o->len - at));

	memcpy(o->buf + at, &n, 4);
}

static void
flush_out(int fd, out *o)
{
	size_t		done = 0;

	while (done < o->len)
	{
		ssize_t		w = write(fd, o->buf + done, o->len - done);

		if (w <= 0)
			_exit(0);
		done += (size_t) w;
	}
	o->len = 0;
}

static void
read_full(int fd, void *p, size_t n)
{
	size_t		done = 0;

	while (done < n)
	{
		ssize_t		r = read(fd, (char *) p + done, n - done);

		if (r <= 0)
			_exit(0);			/* the client went away */
		done += (size_t) r;
	}
}

static int32_t
read_i32(int fd)
{
	uint32_t	n;

	read_full(fd, &n, 4);
	return (int32_t) ntohl(n);
}

static int32_t
get_i32(const char **p)
{
	uint32_t	n;

	memcpy(&n, *p, 4);
	*p += 4;
	return (int32_t) ntohl(n);
}

static int16_t
get_i16(const char **p)
{
	uint16_t	n;

	memcpy(&n, *p, 2);
	*p += 2;
	return (int16_t) ntohs(n);
}

static void
param_status(out *o, const char *name, const char *value)
{
	size_t		at = msg_begin(o, 'S');

	put_str(o, name);
	put_str(o, value);
	msg_end(o, at);
}

static void
row_description(out *o, int ncols, const char *const *names)
{
	size_t		at = msg_begin(o, 'T');

	put_i16(o, (int16_t) ncols);
	for (int i = 0; i < ncols; i++)
	{
		put_str(o, names[i]);
		put_i32(o, 0);
		put_i16(o, 0);
		put_i32(o, 25);			/* text */
		put_i16(o, -1);
		put_i32(o, -1);
		put_i16(o, 0);
	}
	msg_end(o, at);
}

static void
data_row(out *o, int ncols, const char *const *values)
{
	size_t		at = msg_begin(o, 'D');

	put_i16(o, (int16_t) ncols);
	for (int i = 0; i < ncols; i++)
	{
		if (values[i] == NULL)
			put_i32(o, -1);
		else
		{
			put_i32(o, (int32_t) strlen(values[i]));
			put_bytes(o, values[i], strlen(values[i]));
		}
	}
	msg_end(o, at);
}

static void
command_complete(out *o, const char *tag)
{
	size_t		at = msg_begin(o, 'C');

	put_str(o, tag);
	msg_end(o, at);
}

static void
ready(out *o)
{
	size_t		at = msg_begin(o, 'Z');

	put_bytes(o, "I", 1);
	msg_end(o, at);
}

static void
error_response(out *o, const char *code, const char *message, const char *detail)
{
	size_t		at = msg_begin(o, 'E');

	put_bytes(o, "S", 1);
	put_str(o, "ERROR");
	put_bytes(o, "V", 1);
	put_str(o, "ERROR");
	put_bytes(o, "C", 1);
	put_str(o, code);
	put_bytes(o, "M", 1);
	put_str(o, message);
	if (detail)
	{
		put_bytes(o, "D", 1);
		put_str(o, detail);
	}
	put_bytes(o, "", 1);
	msg_end(o, at);
}

static int
kind_of(const char *sql)
{
	if (strstr(sql, "kv.get_and_touch"))
		return K_GET_AND_TOUCH;
	if (strstr(sql, "kv.touch"))
		return K_TOUCH;
	if (strstr(sql, "kv.scan"))
		return K_SCAN;
	if (strstr(sql, "kv.changes"))
		return K_CHANGES;
	if (strstr(sql, "kv.put_many"))
		return K_PUT_MANY;
	if (strstr(sql, "kv.get_many"))
		return K_GET_MANY;
	if (strstr(sql, "kv.patch_numeric"))
		return K_PATCH;
	if (strstr(sql, "kv.delete"))
		return K_DELETE;
	if (strstr(sql, "kv.get("))
		return K_GET;
	if (strstr(sql, "kv.put("))
		return K_PUT;
	return K_OTHER;
}

static int
ncols_of(int kind)
{
	return kind == K_CHANGES ? 5 : kind == K_PUT_MANY || kind == K_GET_MANY || kind == K_SCAN ? 2 : 1;
}

/* the elements of an array literal as the library writes it: {"a","b\"c"} */
static int
parse_array(const char *lit, char elems[][128], int max)
{
	int			n = 0;
	const char *p = lit;

	if (*p++ != '{')
		return 0;
	while (*p && *p != '}' && n < max)
	{
		size_t		len = 0;

		if (*p == ',')
			p++;
		if (*p++ != '"')
			return n;
		while (*p && *p != '"')
		{
			if (*p == '\\' && p[1])
				p++;
			if (len + 1 < 128)
				elems[n][len++] = *p;
			p++;
		}
		elems[n][len] = '\0';
		if (*p == '"')
			p++;
		n++;
	}
	return n;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

typedef struct stmt
{
	char		name[64];
	int			kind;
} stmt;

static void
serve(int fd, const char *name, fake_shared *sh)
{
	out		   *o = calloc(1, sizeof(out));
	stmt		stmts[16];
	int			nstmts = 0;
	int			kind = K_OTHER; /* of the bound portal */
	char	   *params[4] = {NULL, NULL, NULL, NULL};
	int			nparams = 0;
	bool		failed = false;	/* skip to Sync after an error */
	int			patches = 0;

	/* startup, after refusing SSL and GSS encryption requests */
	for (;;)
	{
		int32_t		len = read_i32(fd);
		char	   *body;
		int32_t		code;

		if (len < 8 || len > 10000)
			_exit(0);
		body = malloc(len - 4);
		read_full(fd, body, len - 4);
		memcpy(&code, body, 4);
		code = (int32_t) ntohl((uint32_t) code);
		if (code == 80877103 || code == 80877104)
		{
			if (write(fd, "N", 1) != 1)
				_exit(0);
			free(body);
			continue;
		}
		__atomic_fetch_add(&sh->connections, 1, __ATOMIC_SEQ_CST);
		for (const char *p = body + 4; p < body + len - 4 && *p;)
		{
			const char *key = p;
			const char *val = key + strlen(key) + 1;

			if (strcmp(key, "user") == 0)
				snprintf(sh->user, sizeof(sh->user), "%s", val);
			else if (strcmp(key, "database") == 0)
				snprintf(sh->dbname, sizeof(sh->dbname), "%s", val);
			else if (strcmp(key, "options") == 0 && strstr(val, "globalkv.routing=direct"))
				__atomic_fetch_add(&sh->direct, 1, __ATOMIC_SEQ_CST);
			p = val + strlen(val) + 1;
		}
		free(body);
		break;
	}
	{
		size_t		at = msg_begin(o, 'R');

		put_i32(o, 0);			/* AuthenticationOk: trust */
		msg_end(o, at);
	}
	param_status(o, "server_version", "15.0");
	param_status(o, "client_encoding", "UTF8");
	param_status(o, "standard_conforming_strings", "on");
	param_status(o, "integer_datetimes", "on");
	param_status(o, "DateStyle", "ISO, MDY");
	{
		size_t		at = msg_begin(o, 'K');

		put_i32(o, (int32_t) getpid());
		put_i32(o, 42);
		msg_end(o, at);
	}
	ready(o);
	flush_out(fd, o);

	for (;;)
	{
		char		type;
		int32_t		len;
		char	   *body;
		const char *p;

		read_full(fd, &type, 1);
		len = read_i32(fd);
		if (len < 4 || len > 1 << 24)
			_exit(0);
		body = malloc(len - 4 + 1);
		read_full(fd, body, len - 4);
		body[len - 4] = '\0';
		p = body;
		if (failed && type != 'S')
		{
			free(body);
			continue;
		}
		switch (type)
		{
			case 'Q':
				if (strstr(body, "kv.shard_map") && sh->map[0])
				{
					const char *col[] = {"shard_map"};
					const char *val[] = {sh->map};

					__atomic_fetch_add(&sh->map_requests, 1, __ATOMIC_SEQ_CST);
					row_description(o, 1, col);
					data_row(o, 1, val);
					command_complete(o, "SELECT 1");
				}
				else
					error_response(o, "42883", "function kv.shard_map() does not exist", NULL);
				ready(o);
				break;
			case 'P':
				{
					const char *sname = p;
					const char *sql = sname + strlen(sname) + 1;

					if (nstmts < 16)
					{
						snprintf(stmts[nstmts].name, sizeof(stmts[nstmts].name), "%s", sname);
						stmts[nstmts].kind = kind_of(sql);
						__atomic_fetch_add(&sh->prepares[stmts[nstmts].kind], 1, __ATOMIC_SEQ_CST);
						nstmts++;
					}
					msg_begin(o, '1');
					o->buf[o->len - 1] = 4;	/* length 4, no body */
					break;
				}
			case 'B':
				{
					const char *portal = p;
					const char *sname = portal + strlen(portal) + 1;
					int16_t		nfmt;

					kind = K_OTHER;
					for (int i = 0; i < nstmts; i++)
						if (strcmp(stmts[i].name, sname) == 0)
							kind = stmts[i].kind;
					p = sname + strlen(sname) + 1;
					nfmt = get_i16(&p);
					p += 2 * nfmt;
					for (int i = 0; i < nparams; i++)
						free(params[i]);
					nparams = get_i16(&p);
					for (int i = 0; i < nparams && i < 4; i++)
					{
						int32_t		plen = get_i32(&p);

						params[i] = calloc(1, plen > 0 ? plen + 1 : 1);
						if (plen > 0)
						{
							memcpy(params[i], p, plen);
							p += plen;
						}
					}
					if (nparams > 4)
						nparams = 4;
					msg_begin(o, '2');
					o->buf[o->len - 1] = 4;
					break;
				}
			case 'D':
				{
					const char *names1[] = {"value"};
					const char *names2[] = {"key", "value"};
					const char *names5[] = {"key", "value", "version", "expires_at", "next_cursor"};

					row_description(o, ncols_of(kind), ncols_of(kind) == 1 ? names1 :
									ncols_of(kind) == 2 ? names2 : names5);
					break;
				}
			case 'E':
				__atomic_fetch_add(&sh->executes[kind], 1, __ATOMIC_SEQ_CST);
				if (sh->die_on & KBIT(kind))
					_exit(0);	/* the request arrived; the answer never leaves */
				if (sh->delay_ms > 0)
					sleep_ms(sh->delay_ms);
				if (sh->stale_on & KBIT(kind))
				{
					error_response(o, "GK017", "stale shard map", "the shard is held elsewhere");
					failed = true;
					break;
				}
				if (sh->error_on & KBIT(kind))
				{
					error_response(o, "GK001", "namespace \"nope\" does not exist", NULL);
					failed = true;
					break;
				}
				if (kind == K_SCAN)
				{
					/* page_size keys after after_key ($3), "<prefix>000".."<prefix>009" */
					int			size = nparams > 3 ? atoi(params[3]) : 0;
					/* a NULL parameter arrives as "" here */
					int			from = nparams > 2 && strlen(params[2]) > strlen(params[1]) ?
						atoi(params[2] + strlen(params[1])) + 1 : 0;
					int			rows = 0;

					for (int i = from; i < 10 && rows < size; i++, rows++)
					{
						char		k[128],
									doc[256];
						const char *row[2] = {k, doc};

						snprintf(k, sizeof(k), "%s%03d", params[1], i);
						snprintf(doc, sizeof(doc), "{\"i\": %d, \"node\": \"%s\"}", i, name);
						data_row(o, 2, row);
					}
					command_complete(o, "SELECT");
				}
				else if (kind == K_CHANGES)
				{
					/* from no cursor: a put and a delete; from "c1": nothing new */
					const char *put[5] = {"a", "{\"v\": 1}", "7:1", NULL, NULL};
					const char *del[5] = {"b", NULL, "8:2", NULL, NULL};
					const char *cur[5] = {NULL, NULL, NULL, NULL, "c1"};

					if (nparams < 2 || params[1][0] == '\0')
					{
						data_row(o, 5, put);
						data_row(o, 5, del);
					}
					data_row(o, 5, cur);
					command_complete(o, "SELECT");
				}
				else if (kind == K_PUT_MANY || kind == K_GET_MANY)
				{
					static char elems[64][128];
					int			n = nparams > 1 ? parse_array(params[1], elems, 64) : 0;

					snprintf(sh->last_keys, sizeof(sh->last_keys), "%s", nparams > 1 ? params[1] : "");
					for (int i = 0; i < n; i++)
					{
						char		doc[512];
						const char *row[2] = {elems[i], doc};

						if (kind == K_PUT_MANY)
							snprintf(doc, sizeof(doc), "%s", strcmp(name, "n2") == 0 ? "UPDATE" : "INSERT");
						else
							snprintf(doc, sizeof(doc), "{\"key\": \"%s\", \"node\": \"%s\"}", elems[i], name);
						data_row(o, 2, row);
					}
					command_complete(o, "SELECT");
				}
				else
				{
					char		doc[512];
					const char *row[1] = {doc};

					if (kind == K_PUT)
						snprintf(doc, sizeof(doc), "INSERT");
					else if (kind == K_TOUCH)
						snprintf(doc, sizeof(doc), "%s", nparams > 1 && strcmp(params[1], "gone") == 0 ? "f" : "t");
					else if (kind == K_DELETE)
						snprintf(doc, sizeof(doc), "t");
					else if (kind == K_PATCH)
						snprintf(doc, sizeof(doc), "{\"n\": %d, \"node\": \"%s\"}", ++patches, name);
					else
						snprintf(doc, sizeof(doc), "{\"key\": \"%s\", \"node\": \"%s\"}",
								 nparams > 1 ? params[1] : "?", name);
					data_row(o, 1, row);
					command_complete(o, "SELECT 1");
				}
				break;
			case 'S':
				failed = false;
				ready(o);
				break;
			case 'C':
				msg_begin(o, '3');
				o->buf[o->len - 1] = 4;
				break;
			case 'H':
				break;
			case 'X':
				_exit(0);
			default:
				error_response(o, "08P01", "unexpected message", NULL);
				failed = true;
				break;
		}
		free(body);
		flush_out(fd, o);
	}
}

int
fake_listen(fake_node *n, const char *name)
{
	struct sockaddr_in a;
	socklen_t	alen = sizeof(a);
	int			one = 1;

	memset(n, 0, sizeof(*n));
	n->name = name;
	n->sh = mmap(NULL, sizeof(fake_shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (n->sh == MAP_FAILED)
		return -1;
	memset(n->sh, 0, sizeof(fake_shared));
	n->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(n->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = 0;
	if (bind(n->listen_fd, (struct sockaddr *) &a, sizeof(a)) != 0 || listen(n->listen_fd, 16) != 0 ||
		getsockname(n->listen_fd, (struct sockaddr *) &a, &alen) != 0)
		return -1;
	n->port = ntohs(a.sin_port);
	return 0;
}

void
fake_start(fake_node *n)
{
	pid_t		pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
	{
		perror("fork");
		exit(1);
	}
	if (pid == 0)
	{
		setpgid(0, 0);
		signal(SIGCHLD, SIG_IGN);	/* connection servers reap themselves */
		alarm(120);				/* never outlive a stuck test */

		/*
		 * Inherited descriptors would keep other nodes' ports listening
		 * after fake_stop, and the test's own connections open.
		 */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != n->listen_fd)
				close(fd);
		for (;;)
		{
			int			fd = accept(n->listen_fd, NULL, NULL);

			if (fd < 0)
			{
				if (errno == EINTR)
					continue;
				_exit(0);
			}
			if (fork() == 0)
			{
				close(n->listen_fd);
				alarm(120);
				serve(fd, n->name, n->sh);
				_exit(0);
			}
			close(fd);
		}
	}
	setpgid(pid, pid);
	n->pid = pid;
}

void
fake_stop(fake_node *n)
{
	if (n->pid > 0)
	{
		kill(-n->pid, SIGKILL);
		waitpid(n->pid, NULL, 0);
		n->pid = 0;
	}
	if (n->listen_fd >= 0)
	{
		close(n->listen_fd);
		n->listen_fd = -1;
	}
}
