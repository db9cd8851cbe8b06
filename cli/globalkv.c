/*-------------------------------------------------------------------------
 *
 * globalkv.c
 *	  The globalkv command-line tool.
 *
 *	globalkv parade create --dir DIR --zones N [--port-base P] [--shards S]
 *	globalkv parade start|stop --dir DIR
 *	globalkv status -d CONNINFO
 *	globalkv put    -d CONNINFO NAMESPACE KEY JSON [--ttl SECONDS]
 *	globalkv get    -d CONNINFO NAMESPACE KEY
 *	globalkv delete -d CONNINFO NAMESPACE KEY
 *
 * "parade create" builds a local parade for development: one PostgreSQL 15
 * instance per zone on 127.0.0.1, globalkv loaded, the catalog wired on
 * every node, replication running.  Nodes talk to each other as the login
 * role globalkv_repl (member of globalkv_replication: it may pull and
 * acknowledge, nothing else) with scram-sha-256; its password sits in a
 * passfile in DIR (mode 0600) that connection strings name, so no secret
 * appears in a catalog, a log or a process list.  Run as root, the tool
 * creates the unprivileged user "globalkv" and runs the servers as it,
 * because PostgreSQL refuses to run as root.
 *
 * cli/globalkv.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libpq-fe.h"

#define RUN_AS_USER "globalkv"
#define REPL_ROLE "globalkv_repl"
#define MAX_ZONES 16
#define DEFAULT_PG_BINDIR "/usr/lib/postgresql/15/bin"

static const char *progname = "globalkv";

static void
die(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static const char *
pg_bindir(void)
{
	const char *d = getenv("GLOBALKV_PG_BINDIR");

	return d ? d : DEFAULT_PG_BINDIR;
}

/* run a program and wait; returns its exit status */
static int
run(char *const argv[], bool quiet)
{
	pid_t		pid = fork();
	int			status;

	if (pid < 0)
		die("fork failed: %s", strerror(errno));
	if (pid == 0)
	{
		if (quiet)
		{
			int			fd = open("/dev/null", O_WRONLY);

			if (fd >= 0)
			{
				dup2(fd, STDOUT_FILENO);
				close(fd);
			}
		}
		execv(argv[0], argv);
		fprintf(stderr, "%s: could not run %s: %s\n", progname, argv[0], strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid failed: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static char *
path_join(const char *a, const char *b)
{
	char	   *p;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		die("out of memory");
	return p;
}

/* ----------------------------------------------------------------
 * Connections and queries
 * ----------------------------------------------------------------
 */

static PGconn *
connect_or_die(const char *conninfo)
{
	PGconn	   *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
		die("could not connect: %s", PQerrorMessage(conn));
	return conn;
}

/*
 * query runs a parameterized statement; on error prints the server's
 * message with its SQLSTATE and exits.
 */
static PGresult *
query(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

		fprintf(stderr, "%s: ERROR %s: %s\n", progname, state ? state : "?????",
				primary ? primary : PQerrorMessage(conn));
		if (detail)
			fprintf(stderr, "  detail: %s\n", detail);
		if (hint)
			fprintf(stderr, "  hint: %s\n", hint);
		PQclear(res);
		PQfinish(conn);
		exit(2);
	}
	return res;
}

/* print a result as an aligned table */
static void
print_table(PGresult *res)
{
	int			nf = PQnfields(res),
				nt = PQntuples(res);
	int		   *w = calloc(nf, sizeof(int));

	for (int f = 0; f < nf; f++)
	{
		w[f] = strlen(PQfname(res, f));
		for (int t = 0; t < nt; t++)
		{
			int			l = PQgetisnull(res, t, f) ? 0 : strlen(PQgetvalue(res, t, f));

			if (l > w[f])
				w[f] = l > 60 ? 60 : l;
		}
	}
	for (int f = 0; f < nf; f++)
		printf("%s%-*s", f ? "  " : "  ", w[f], PQfname(res, f));
	printf("\n");
	for (int f = 0; f < nf; f++)
	{
		printf("  ");
		for (int i = 0; i < w[f]; i++)
			putchar('-');
	}
	printf("\n");
	for (int t = 0; t < nt; t++)
	{
		for (int f = 0; f < nf; f++)
			printf("  %-*.*s", w[f], w[f], PQgetisnull(res, t, f) ? "" : PQgetvalue(res, t, f));
		printf("\n");
	}
	free(w);
}

/* ----------------------------------------------------------------
 * Running as root: hand over to an unprivileged user
 * ----------------------------------------------------------------
 */

static void
become_unprivileged(int argc, char **argv, const char *dir)
{
	char	   *args[64];
	int			n = 0;

	if (geteuid() != 0 || getenv("GLOBALKV_AS_USER") != NULL)
		return;
	if (getpwnam(RUN_AS_USER) == NULL)
	{
		char	   *useradd[] = {"/usr/sbin/useradd", "--system", "--create-home",
		"--shell", "/bin/bash", RUN_AS_USER, NULL};

		if (run(useradd, false) != 0)
			die("could not create the user \"%s\"", RUN_AS_USER);
	}
	if (dir)
	{
		struct passwd *pw = getpwnam(RUN_AS_USER);

		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			die("could not create %s: %s", dir, strerror(errno));
		if (chown(dir, pw->pw_uid, pw->pw_gid) != 0)
			die("could not hand %s to %s: %s", dir, RUN_AS_USER, strerror(errno));
	}
	setenv("GLOBALKV_AS_USER", "1", 1);
	args[n++] = "/usr/sbin/runuser";
	args[n++] = "-u";
	args[n++] = RUN_AS_USER;
	args[n++] = "--";
	for (int i = 0; i < argc && n < 62; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	execv(args[0], args);
	die("could not run runuser: %s", strerror(errno));
}

/* ----------------------------------------------------------------
 * parade create / start / stop
 * ----------------------------------------------------------------
 */

static char *
node_dir(const char *dir, int i)
{
	char	   *p;

	if (asprintf(&p, "%s/node%d", dir, i) < 0)
		die("out of memory");
	return p;
}

static char *
admin_conninfo(const char *dir, int port)
{
	char	   *p;

	if (asprintf(&p, "host=%s port=%d user=postgres dbname=postgres", dir, port) < 0)
		die("out of memory");
	return p;
}

static void
write_file(const char *path, int mode, const char *content)
{
	int			fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t) strlen(content))
		die("could not write %s: %s", path, strerror(errno));
	close(fd);
}

static void
append_file(const char *path, const char *content)
{
	int			fd = open(path, O_WRONLY | O_APPEND);

	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t) strlen(content))
		die("could not write %s: %s", path, strerror(errno));
	close(fd);
}

static char *
random_password(void)
{
	static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char raw[24];
	char	   *pw = malloc(sizeof(raw) + 1);
	int			fd = open("/dev/urandom", O_RDONLY);

	if (fd < 0 || read(fd, raw, sizeof(raw)) != (ssize_t) sizeof(raw))
		die("could not read /dev/urandom");
	close(fd);
	for (size_t i = 0; i < sizeof(raw); i++)
		pw[i] = alphabet[raw[i] % (sizeof(alphabet) - 1)];
	pw[sizeof(raw)] = '\0';
	return pw;
}

static int
read_parade(const char *dir, int *ports)
{
	char	   *path = path_join(dir, "parade.conf");
	FILE	   *f = fopen(path, "r");
	int			n = 0,
				id,
				port;

	if (f == NULL)
		die("%s is not a parade directory (no parade.conf)", dir);
	while (n < MAX_ZONES && fscanf(f, "node %d port %d\n", &id, &port) == 2)
		ports[n++] = port;
	fclose(f);
	return n;
}

static void
pg_ctl(const char *dir, int i, const char *action)
{
	char	   *ndir = node_dir(dir, i);
	char	   *log = path_join(ndir, "server.log");
	char	   *bin = path_join(pg_bindir(), "pg_ctl");
	char	   *argv[] = {bin, "-D", ndir, "-l", log, "-w", "-t", "60", (char *) action,
	"-m", "fast", NULL};

	if (strcmp(action, "start") == 0)
		argv[9] = NULL;
	if (run(argv, true) != 0 && strcmp(action, "stop") != 0)
		die("could not %s node %d (see %s)", action, i, log);
}

static void
wait_for_replication(const char *dir, const int *ports, int n, int timeout_s)
{
	time_t		deadline = time(NULL) + timeout_s;

	for (int i = 0; i < n; i++)
	{
		char	   *ci = admin_conninfo(dir, ports[i]);
		PGconn	   *conn = connect_or_die(ci);

		for (;;)
		{
			char		nbuf[16];
			const char *params[1];
			PGresult   *res;
			bool		ok;

			snprintf(nbuf, sizeof(nbuf), "%d", n);
			params[0] = nbuf;
			res = query(conn,
						"SELECT count(*) FILTER (WHERE connected AND last_error IS NULL) = $1::int - 1"
						"  FROM kv.replication_status", 1, params);
			ok = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
			PQclear(res);
			if (ok)
				break;
			if (time(NULL) > deadline)
				die("replication on node %d did not connect within %d s: see globalkv status -d \"%s\"",
					i + 1, timeout_s, ci);
			usleep(100 * 1000);
		}
		PQfinish(conn);
		free(ci);
	}
}

static void
parade_create(const char *dir, int zones, int port_base, const char *port_list, int shards)
{
	int			ports[MAX_ZONES];
	char	   *password = random_password();
	char	   *passfile = path_join(dir, "pgpass");
	char		buf[4096];
	char	   *parade_conf;
	struct stat st;

	if (zones < 1 || zones > MAX_ZONES)
		die("--zones must be between 1 and %d", MAX_ZONES);
	if (stat(path_join(dir, "parade.conf"), &st) == 0)
		die("%s already holds a parade: use \"globalkv parade start --dir %s\", or remove it", dir, dir);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		die("could not create %s: %s", dir, strerror(errno));

	/* the replication password, for every node's connections to its peers */
	buf[0] = '\0';
	for (int i = 0; i < zones; i++)
	{
		char		line[256];

		ports[i] = port_base + i;
		if (port_list)
		{
			/* --ports a,b,c: the i-th entry */
			const char *p = port_list;

			for (int k = 0; k < i && p; k++)
			{
				p = strchr(p, ',');
				if (p)
					p++;
			}
			if (p == NULL || atoi(p) <= 0)
				die("--ports must list %d ports", zones);
			ports[i] = atoi(p);
		}
		snprintf(line, sizeof(line), "127.0.0.1:%d:postgres:%s:%s\n", ports[i], REPL_ROLE, password);
		strncat(buf, line, sizeof(buf) - strlen(buf) - 1);
	}
	write_file(passfile, 0600, buf);

	for (int i = 0; i < zones; i++)
	{
		char	   *ndir = node_dir(dir, i + 1);
		char	   *initdb = path_join(pg_bindir(), "initdb");
		char	   *argv[] = {initdb, "-D", ndir, "-U", "postgres", "--auth-local=trust",
		"--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C", NULL};
		char	   *conf = path_join(ndir, "postgresql.conf");

		printf("==> zone%d: initializing node%d on 127.0.0.1:%d\n", i + 1, i + 1, ports[i]);
		fflush(stdout);
		if (run(argv, true) != 0)
			die("initdb failed for %s", ndir);
		snprintf(buf, sizeof(buf),
				 "\n# globalkv parade node %d (written by globalkv parade create)\n"
				 "port = %d\n"
				 "listen_addresses = '127.0.0.1'\n"
				 "unix_socket_directories = '%s'\n"
				 "shared_preload_libraries = 'globalkv'\n"
				 "globalkv.database = 'postgres'\n"
				 "max_worker_processes = 24\n"
				 "max_connections = 100\n"
				 "shared_buffers = 128MB\n"
				 "password_encryption = 'scram-sha-256'\n"
				 "log_line_prefix = '%%m [%%p] %%q%%a '\n",
				 i + 1, ports[i], dir);
		append_file(conf, buf);
		pg_ctl(dir, i + 1, "start");
	}

	for (int i = 0; i < zones; i++)
	{
		char	   *ci = admin_conninfo(dir, ports[i]);
		PGconn	   *conn = connect_or_die(ci);
		char		id[16],
					name[32],
					zone[32],
					sh[16];
		const char *p3[3] = {id, name, zone};
		const char *p1[1] = {sh};
		PGresult   *res;
		char	   *role_sql;

		snprintf(id, sizeof(id), "%d", i + 1);
		snprintf(name, sizeof(name), "node%d", i + 1);
		snprintf(zone, sizeof(zone), "zone%d", i + 1);
		PQclear(query(conn, "CREATE EXTENSION globalkv", 0, NULL));
		PQclear(query(conn, "SELECT kv.set_node($1::int, $2, $3)", 3, p3));
		if (shards > 0)
		{
			snprintf(sh, sizeof(sh), "%d", shards);
			PQclear(query(conn, "SELECT kv.init_shards($1::int)", 1, p1));
		}
		/* the password goes over the local socket once, never to a log */
		res = query(conn, "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE globalkv_replication', $1::text, $2::text)",
					2, (const char *const[]) {REPL_ROLE, password});
		role_sql = strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
		PQclear(query(conn, "SET log_statement = 'none'", 0, NULL));
		PQclear(query(conn, role_sql, 0, NULL));
		free(role_sql);
		PQfinish(conn);
	}

	/* every node learns the whole parade */
	for (int i = 0; i < zones; i++)
	{
		PGconn	   *conn = connect_or_die(admin_conninfo(dir, ports[i]));

		for (int j = 0; j < zones; j++)
		{
			char		id[16],
						name[32],
						zone[32],
						ci[512];
			const char *p4[4] = {id, name, zone, ci};

			snprintf(id, sizeof(id), "%d", j + 1);
			snprintf(name, sizeof(name), "node%d", j + 1);
			snprintf(zone, sizeof(zone), "zone%d", j + 1);
			snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%d dbname=postgres user=%s passfile=%s",
					 ports[j], REPL_ROLE, passfile);
			PQclear(query(conn, "SELECT kv.add_node($1::int, $2, $3, $4)", 4, p4));
		}
		PQfinish(conn);
	}

	parade_conf = malloc(64 * MAX_ZONES);
	parade_conf[0] = '\0';
	for (int i = 0; i < zones; i++)
	{
		char		line[64];

		snprintf(line, sizeof(line), "node %d port %d\n", i + 1, ports[i]);
		strcat(parade_conf, line);
	}
	write_file(path_join(dir, "parade.conf"), 0644, parade_conf);

	printf("==> waiting for replication to connect\n");
	fflush(stdout);
	wait_for_replication(dir, ports, zones, 60);
	printf("==> parade of %d zones is running in %s\n", zones, dir);
	for (int i = 0; i < zones; i++)
		printf("    zone%d node%d: %s\n", i + 1, i + 1, admin_conninfo(dir, ports[i]));
	printf("    stop with: globalkv parade stop --dir %s\n", dir);
}

static void
parade_start_stop(const char *dir, bool start)
{
	int			ports[MAX_ZONES];
	int			n = read_parade(dir, ports);

	for (int i = 0; i < n; i++)
	{
		printf("==> %s node%d (port %d)\n", start ? "starting" : "stopping", i + 1, ports[i]);
		fflush(stdout);
		pg_ctl(dir, i + 1, start ? "start" : "stop");
	}
	if (start)
	{
		wait_for_replication(dir, ports, n, 60);
		printf("==> parade running\n");
	}
}

/* ----------------------------------------------------------------
 * status, put, get, delete
 * ----------------------------------------------------------------
 */

static void
status(const char *conninfo)
{
	PGconn	   *conn = connect_or_die(conninfo);
	PGresult   *res;

	res = query(conn, "SELECT node_id, node_name, zone_name, shard_count FROM kv.node", 0, NULL);
	printf("This node\n");
	print_table(res);
	PQclear(res);
	res = query(conn, "SELECT node_id, node_name, zone_name, is_local FROM kv.nodes ORDER BY zone_name, node_id",
				0, NULL);
	printf("\nParade\n");
	print_table(res);
	PQclear(res);
	res = query(conn,
				"SELECT peer_node_id AS peer, peer_name, connected, lag_ms, lag_rows, rows_applied,"
				"       conflicts, max_clock_skew_ms AS clock_skew_ms,"
				"       to_char(last_contact, 'HH24:MI:SS.MS') AS last_contact,"
				"       coalesce(last_error, '') AS last_error"
				"  FROM kv.replication_status ORDER BY peer_node_id", 0, NULL);
	printf("\nReplication (this node pulling from each peer)\n");
	print_table(res);
	PQclear(res);
	res = query(conn, "SELECT puts, gets, deletes, patches, conflicts, expired_rows,"
				" replicated_rows, replication_conflicts FROM kv.stats", 0, NULL);
	printf("\nOperations since start\n");
	print_table(res);
	PQclear(res);
	PQfinish(conn);
}

static void
usage(void)
{
	printf("globalkv: command-line tool of the globalkv document store\n\n"
		   "Usage:\n"
		   "  globalkv parade create --dir DIR --zones N [--port-base P | --ports P1,P2,..] [--shards S]\n"
		   "  globalkv parade start --dir DIR\n"
		   "  globalkv parade stop --dir DIR\n"
		   "  globalkv status -d CONNINFO\n"
		   "  globalkv put -d CONNINFO NAMESPACE KEY JSON [--ttl SECONDS]\n"
		   "  globalkv get -d CONNINFO NAMESPACE KEY\n"
		   "  globalkv delete -d CONNINFO NAMESPACE KEY\n\n"
		   "CONNINFO is a libpq connection string, e.g. \"host=/tmp/parade port=5501 user=postgres\".\n");
}

int
main(int argc, char **argv)
{
	static struct option opts[] = {
		{"dir", required_argument, NULL, 'D'},
		{"zones", required_argument, NULL, 'z'},
		{"port-base", required_argument, NULL, 'p'},
		{"ports", required_argument, NULL, 'P'},
		{"shards", required_argument, NULL, 's'},
		{"dbname", required_argument, NULL, 'd'},
		{"ttl", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	const char *dir = NULL;
	const char *conninfo = NULL;
	int			zones = 3,
				port_base = 5501,
				shards = 0;
	long		ttl = 0;
	const char *port_list = NULL;
	int			c;
	char	   *args[8];
	int			nargs = 0;
	char	  **orig_argv = argv;
	int			orig_argc = argc;

	while ((c = getopt_long(argc, argv, "D:z:p:P:s:d:t:h", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'D':
				dir = optarg;
				break;
			case 'z':
				zones = atoi(optarg);
				break;
			case 'p':
				port_base = atoi(optarg);
				break;
			case 'P':
				port_list = optarg;
				break;
			case 's':
				shards = atoi(optarg);
				break;
			case 'd':
				conninfo = optarg;
				break;
			case 't':
				ttl = atol(optarg);
				break;
			case 'h':
				usage();
				return 0;
			default:
				usage();
				return 1;
		}
	}
	for (int i = optind; i < argc && nargs < 8; i++)
		args[nargs++] = argv[i];
	if (nargs == 0)
	{
		usage();
		return 1;
	}

	if (strcmp(args[0], "parade") == 0 && nargs == 2)
	{
		char		absdir[4096];

		if (dir == NULL)
			die("parade commands need --dir DIR");
		if (dir[0] != '/')
		{
			if (getcwd(absdir, sizeof(absdir) - strlen(dir) - 2) == NULL)
				die("getcwd failed");
			strcat(absdir, "/");
			strcat(absdir, dir);
			dir = absdir;
		}
		if (strlen(dir) > 70)
			die("--dir %s is too long for unix socket paths: use a shorter one", dir);
		become_unprivileged(orig_argc, orig_argv, strcmp(args[1], "create") == 0 ? dir : NULL);
		if (strcmp(args[1], "create") == 0)
			parade_create(dir, zones, port_base, port_list, shards);
		else if (strcmp(args[1], "start") == 0)
			parade_start_stop(dir, true);
		else if (strcmp(args[1], "stop") == 0)
			parade_start_stop(dir, false);
		else
			die("unknown parade command \"%s\"", args[1]);
		return 0;
	}

	if (conninfo == NULL)
		die("%s needs -d CONNINFO", args[0]);
	if (strcmp(args[0], "status") == 0)
		status(conninfo);
	else if (strcmp(args[0], "put") == 0 && nargs == 4)
	{
		PGconn	   *conn = connect_or_die(conninfo);
		PGresult   *res;
		char		ttlbuf[32];

		if (ttl > 0)
		{
			snprintf(ttlbuf, sizeof(ttlbuf), "%ld", ttl);
			res = query(conn, "SELECT kv.put($1, $2, $3::text, $4::bigint)", 4,
						(const char *const[]) {args[1], args[2], args[3], ttlbuf});
		}
		else
			res = query(conn, "SELECT kv.put($1, $2, $3::text)", 3,
						(const char *const[]) {args[1], args[2], args[3]});
		printf("%s\n", PQgetvalue(res, 0, 0));
		PQclear(res);
		PQfinish(conn);
	}
	else if (strcmp(args[0], "get") == 0 && nargs == 3)
	{
		PGconn	   *conn = connect_or_die(conninfo);
		PGresult   *res = query(conn, "SELECT kv.get($1, $2)", 2,
								(const char *const[]) {args[1], args[2]});
		int			found = !PQgetisnull(res, 0, 0);

		if (found)
			printf("%s\n", PQgetvalue(res, 0, 0));
		PQclear(res);
		PQfinish(conn);
		return found ? 0 : 3;	/* 3: no such document, like grep's "no match" */
	}
	else if (strcmp(args[0], "delete") == 0 && nargs == 3)
	{
		PGconn	   *conn = connect_or_die(conninfo);
		PGresult   *res = query(conn, "SELECT kv.delete($1, $2)", 2,
								(const char *const[]) {args[1], args[2]});

		printf("%s\n", strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? "DELETED" : "NOT FOUND");
		PQclear(res);
		PQfinish(conn);
	}
	else
	{
		usage();
		return 1;
	}
	return 0;
}
