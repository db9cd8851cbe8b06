/*-------------------------------------------------------------------------
 *
 * cmd_parade.c
 *	  globalkv parade create --dir DIR --zones N [--nodes-per-zone M] [--shards S]
 *							 [--port-base P | --ports P1,P2,..]
 *	  globalkv parade add-node --dir DIR --zone ZONE
 *	  globalkv parade start|stop --dir DIR
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
 * DIR/parade.conf lists the nodes (id, port, zone); add-node, start and
 * stop work from it.  The helpers below that run programs and write files
 * serve only the parade, so they are kept here rather than in
 * cli_common.c.
 *
 * cli/cmd_parade.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_common.h"
#include "cmd_parade.h"

#define RUN_AS_USER "globalkv"
#define REPL_ROLE "globalkv_repl"
#define MAX_ZONES 16
#define MAX_NODES 64
#define DEFAULT_PG_BINDIR "/usr/lib/postgresql/15/bin"

/* ----------------------------------------------------------------
 * Programs and files
 * ----------------------------------------------------------------
 */

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
		fprintf(stderr, "%s: could not run %s: %s\n", CLI_PROGNAME, argv[0], strerror(errno));
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
 * parade create / add-node / start / stop
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

/* parade.conf: one line "node ID port PORT zone ZONE" per node, ids 1..n */
static int
read_parade(const char *dir, int *ports, char (*zones)[64])
{
	char	   *path = path_join(dir, "parade.conf");
	FILE	   *f = fopen(path, "r");
	char		line[256];
	int			n = 0;

	if (f == NULL)
		die("%s is not a parade directory (no parade.conf)", dir);
	while (n < MAX_NODES && fgets(line, sizeof(line), f))
	{
		int			id,
					port;
		char		zone[64] = "";

		if (sscanf(line, "node %d port %d zone %63s", &id, &port, zone) < 2)
			continue;
		ports[n] = port;
		if (zones)
		{
			if (zone[0] == '\0')
				snprintf(zone, sizeof(zone), "zone%d", id);
			memcpy(zones[n], zone, sizeof(zone));
		}
		n++;
	}
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

/*
 * init_node creates, starts and sets up node id (1-based) of the parade:
 * initdb, configuration, the extension, its identity, its shard count and
 * the node-to-node login role.
 */
/*
 * free_tcp_port: the first port from 'from' on that nothing listens on at
 * 127.0.0.1 now (0 when none of 200 is): for the metrics endpoints.
 */
static int
free_tcp_port(int from)
{
	for (int p = from; p < from + 200 && p < 65536; p++)
	{
		struct sockaddr_in a = {0};
		int			fd = socket(AF_INET, SOCK_STREAM, 0);
		int			ok;

		if (fd < 0)
			return 0;
		a.sin_family = AF_INET;
		a.sin_port = htons((unsigned short) p);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = bind(fd, (struct sockaddr *) &a, sizeof(a)) == 0;
		close(fd);
		if (ok)
			return p;
	}
	return 0;
}

/* ----------------------------------------------------------------
 * TLS between the nodes (docs/security.md)
 * ----------------------------------------------------------------
 * A parade made with TLS (the default) has its own small CA in DIR/tls
 * (ca.crt, and ca.key, mode 0600, which only signs the nodes'
 * certificates); each node has a key and a certificate for 127.0.0.1
 * signed by it, ssl = on, and a pg_hba.conf that lets the peers' login in
 * only over TLS with scram-sha-256.  The peers connect with
 * sslmode=verify-full against that CA: a node without TLS, or with a
 * certificate from another CA, is refused.
 */

/* the directory part of a path */
static char *
dirname_of(const char *path)
{
	char	   *d = strdup(path);
	char	   *slash = strrchr(d, '/');

	if (slash)
		*slash = '\0';
	return d;
}

static char *
openssl_path(void)
{
	return (char *) (access("/usr/bin/openssl", X_OK) == 0 ? "/usr/bin/openssl" : "openssl");
}

static bool
parade_has_tls(const char *dir)
{
	return access(path_join(dir, "tls/ca.crt"), R_OK) == 0;
}

/* make_ca: DIR/tls/ca.key and ca.crt, an EC P-256 CA valid ten years */
static void
make_ca(const char *dir)
{
	char	   *tls = path_join(dir, "tls");
	char	   *key = path_join(tls, "ca.key");
	char	   *crt = path_join(tls, "ca.crt");
	char	   *argv[] = {openssl_path(), "req", "-x509", "-newkey", "ec", "-pkeyopt",
		"ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days", "3650",
	"-subj", "/CN=globalkv parade CA", NULL};

	if (mkdir(tls, 0700) != 0 && errno != EEXIST)
		die("could not create %s: %s", tls, strerror(errno));
	printf("==> making the parade's certificate authority in %s\n", tls);
	fflush(stdout);
	if (run(argv, true) != 0)
		die("openssl could not make the CA (is Debian's openssl package installed?)");
	if (chmod(key, 0600) != 0)
		die("chmod %s: %s", key, strerror(errno));
}

/* make_node_cert: NODEDIR/server.key and server.crt for 127.0.0.1, signed by the CA */
static void
make_node_cert(const char *dir, const char *ndir)
{
	char	   *tls = path_join(dir, "tls");
	char	   *key = path_join(ndir, "server.key");
	char	   *csr = path_join(ndir, "server.csr");
	char	   *crt = path_join(ndir, "server.crt");
	char	   *ext = path_join(ndir, "server.ext");
	char	   *req[] = {openssl_path(), "req", "-new", "-newkey", "ec", "-pkeyopt",
		"ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
	"-subj", "/CN=127.0.0.1", NULL};
	char	   *sign[] = {openssl_path(), "x509", "-req", "-in", csr, "-CA", path_join(tls, "ca.crt"),
		"-CAkey", path_join(tls, "ca.key"), "-CAcreateserial", "-out", crt, "-days", "3650",
	"-extfile", ext, NULL};

	write_file(ext, 0600, "subjectAltName = IP:127.0.0.1, DNS:localhost\n");
	if (run(req, true) != 0 || run(sign, true) != 0)
		die("openssl could not make the certificate of %s", ndir);
	if (chmod(key, 0600) != 0)
		die("chmod %s: %s", key, strerror(errno));
	unlink(csr);
	unlink(ext);
}

/*
 * tls_node_config: the node serves TLS, and its pg_hba.conf lets the
 * peers' login in only over TLS (the first matching line decides).
 */
static void
tls_node_config(const char *ndir)
{
	char	   *hba = path_join(ndir, "pg_hba.conf");
	FILE	   *f = fopen(hba, "r");
	char	   *old = NULL;
	size_t		cap = 0;
	ssize_t		n;
	char	   *content;

	if (f == NULL)
		die("could not read %s", hba);
	n = getdelim(&old, &cap, '\0', f);
	fclose(f);
	if (asprintf(&content,
				 "# peers (globalkv parade): the replication login only over TLS\n"
				 "hostssl all %s 127.0.0.1/32 scram-sha-256\n"
				 "hostnossl all %s 0.0.0.0/0 reject\n"
				 "hostnossl all %s ::/0 reject\n\n%s",
				 REPL_ROLE, REPL_ROLE, REPL_ROLE, n > 0 ? old : "") < 0)
		die("out of memory");
	write_file(hba, 0600, content);
	append_file(path_join(ndir, "postgresql.conf"),
				"# TLS (globalkv parade): peers connect with sslmode=verify-full\n"
				"ssl = on\n"
				"ssl_cert_file = 'server.crt'\n"
				"ssl_key_file = 'server.key'\n");
	free(old);
	free(content);
}

/* init_node returns the port of the node's metrics endpoint (0: none) */
static int
init_node(const char *dir, int id, int port, const char *zone, int shards, const char *password)
{
	char	   *ndir = node_dir(dir, id);
	char	   *initdb = path_join(pg_bindir(), "initdb");
	char	   *argv[] = {initdb, "-D", ndir, "-U", "postgres", "--auth-local=trust",
	"--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C", NULL};
	char	   *conf = path_join(ndir, "postgresql.conf");
	char		buf[2048];
	char		idbuf[16],
				name[32],
				sh[16];
	PGconn	   *conn;
	PGresult   *res;
	char	   *role_sql;
	/* Prometheus' endpoint: the node's port + 1000, or the next free one */
	int			metrics_port = free_tcp_port(port + 1000);

	printf("==> %s: initializing node%d on 127.0.0.1:%d\n", zone, id, port);
	fflush(stdout);
	if (run(argv, true) != 0)
		die("initdb failed for %s", ndir);
	snprintf(buf, sizeof(buf),
			 "\n# globalkv parade node %d (written by globalkv parade)\n"
			 "port = %d\n"
			 "listen_addresses = '127.0.0.1'\n"
			 "unix_socket_directories = '%s'\n"
			 "shared_preload_libraries = 'globalkv'\n"
			 "globalkv.database = 'postgres'\n"
			 "max_worker_processes = 32\n"
			 "max_connections = 200\n"
			 "shared_buffers = 128MB\n"
			 "password_encryption = 'scram-sha-256'\n"
			 "# a query whose client went away stops, and its tasks on other nodes with it\n"
			 "client_connection_check_interval = 1s\n"
			 "log_line_prefix = '%%m [%%p] %%q%%a '\n"
			 "# Prometheus scrapes http://127.0.0.1:PORT/metrics (docs/operations.md)\n"
			 "globalkv.metrics_port = %d\n",
			 id, port, dir, metrics_port);
	append_file(conf, buf);
	if (parade_has_tls(dir))
	{
		make_node_cert(dir, ndir);
		tls_node_config(ndir);
	}
	pg_ctl(dir, id, "start");

	conn = connect_or_die(admin_conninfo(dir, port));
	snprintf(idbuf, sizeof(idbuf), "%d", id);
	snprintf(name, sizeof(name), "node%d", id);
	snprintf(sh, sizeof(sh), "%d", shards);
	PQclear(query(conn, "CREATE EXTENSION globalkv", 0, NULL));
	PQclear(query(conn, "SELECT kv.set_node($1::int, $2, $3)", 3,
				  (const char *const[]) {idbuf, name, zone}));
	if (shards > 0)
		PQclear(query(conn, "SELECT kv.init_shards($1::int)", 1, (const char *const[]) {sh}));

	/*
	 * Nodes log in to each other as REPL_ROLE: to pull (globalkv_replication)
	 * and to forward API calls (globalkv_client).  The password goes over
	 * the local socket once, never to a log.
	 */
	res = query(conn, "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE globalkv_replication, globalkv_client',"
				" $1::text, $2::text)", 2, (const char *const[]) {REPL_ROLE, password});
	role_sql = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQclear(query(conn, "SET log_statement = 'none'", 0, NULL));
	PQclear(query(conn, role_sql, 0, NULL));
	free(role_sql);
	PQfinish(conn);
	return metrics_port;
}

/* register node j (1-based) on the node listening on 'port' */
static void
add_node_on(PGconn *conn, int j, int port_j, const char *zone_j, const char *passfile)
{
	char		id[16],
				name[32],
				ci[512];

	snprintf(id, sizeof(id), "%d", j);
	snprintf(name, sizeof(name), "node%d", j);
	snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%d dbname=postgres user=%s passfile=%s%s%s",
			 port_j, REPL_ROLE, passfile,
			 parade_has_tls(dirname_of(passfile)) ? " sslmode=verify-full sslrootcert=" : "",
			 parade_has_tls(dirname_of(passfile)) ? path_join(dirname_of(passfile), "tls/ca.crt") : "");
	PQclear(query(conn, "SELECT kv.add_node($1::int, $2, $3, $4)", 4,
				  (const char *const[]) {id, name, zone_j, ci}));
}

static void
write_parade_conf(const char *dir, int n, const int *ports, char (*zones)[64])
{
	char	   *conf = malloc(128 * MAX_NODES);

	conf[0] = '\0';
	for (int i = 0; i < n; i++)
	{
		char		line[128];

		snprintf(line, sizeof(line), "node %d port %d zone %s\n", i + 1, ports[i], zones[i]);
		strcat(conf, line);
	}
	write_file(path_join(dir, "parade.conf"), 0644, conf);
	free(conf);
}

/* the parade's replication password, read back from its passfile */
static char *
parade_password(const char *passfile)
{
	FILE	   *f = fopen(passfile, "r");
	char		line[512];
	char	   *last;

	if (f == NULL || fgets(line, sizeof(line), f) == NULL)
		die("could not read %s", passfile);
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	last = strrchr(line, ':');
	if (last == NULL)
		die("%s is not a passfile", passfile);
	return strdup(last + 1);
}

static void
parade_create(const char *dir, int nzones, int per_zone, int port_base, const char *port_list,
			  int shards, bool no_tls)
{
	int			ports[MAX_NODES];
	int			metrics_ports[MAX_NODES];
	char		zones[MAX_NODES][64];
	char	   *password = random_password();
	char	   *passfile = path_join(dir, "pgpass");
	char		buf[8192];
	struct stat st;
	int			n = nzones * per_zone;

	if (nzones < 1 || nzones > MAX_ZONES)
		die("--zones must be between 1 and %d", MAX_ZONES);
	if (per_zone < 1 || n > MAX_NODES)
		die("--nodes-per-zone must be at least 1, and zones x nodes at most %d", MAX_NODES);
	if (shards < 0 || shards > 4096)
		die("--shards must be between 1 and 4096");
	if (stat(path_join(dir, "parade.conf"), &st) == 0)
		die("%s already holds a parade: use \"globalkv parade start --dir %s\", or remove it", dir, dir);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		die("could not create %s: %s", dir, strerror(errno));

	/* the replication password, for every node's connections to its peers */
	buf[0] = '\0';
	for (int i = 0; i < n; i++)
	{
		char		line[256];

		ports[i] = port_base + i;
		snprintf(zones[i], sizeof(zones[i]), "zone%d", i / per_zone + 1);
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
				die("--ports must list %d ports", n);
			ports[i] = atoi(p);
		}
		snprintf(line, sizeof(line), "127.0.0.1:%d:postgres:%s:%s\n", ports[i], REPL_ROLE, password);
		strncat(buf, line, sizeof(buf) - strlen(buf) - 1);
	}
	write_file(passfile, 0600, buf);
	if (!no_tls)
		make_ca(dir);

	for (int i = 0; i < n; i++)
		metrics_ports[i] = init_node(dir, i + 1, ports[i], zones[i], shards, password);

	/*
	 * Every node learns the whole parade, and the placements: shard s of a
	 * zone goes to its (s mod M)-th node, written on every node so that no
	 * write can land on a node before it knows its shards.
	 */
	for (int i = 0; i < n; i++)
	{
		PGconn	   *conn = connect_or_die(admin_conninfo(dir, ports[i]));

		for (int j = 0; j < n; j++)
			add_node_on(conn, j + 1, ports[j], zones[j], passfile);
		if (per_zone > 1)
		{
			char		m[16],
						z[16];

			snprintf(m, sizeof(m), "%d", per_zone);
			snprintf(z, sizeof(z), "%d", nzones);
			PQclear(query(conn,
						  "SELECT kv.set_placement(s.shard_id, (z - 1) * $1::int + s.shard_id % $1::int + 1)"
						  "  FROM globalkv.shards s, generate_series(1, $2::int) z",
						  2, (const char *const[]) {m, z}));
		}
		PQfinish(conn);
	}
	write_parade_conf(dir, n, ports, zones);

	printf("==> waiting for replication to connect\n");
	fflush(stdout);
	wait_for_replication(dir, ports, n, 60);
	printf("==> parade of %d zone%s x %d node%s is running in %s\n", nzones, nzones == 1 ? "" : "s",
		   per_zone, per_zone == 1 ? "" : "s", dir);
	for (int i = 0; i < n; i++)
	{
		printf("    %s node%d: %s\n", zones[i], i + 1, admin_conninfo(dir, ports[i]));
		if (metrics_ports[i] > 0)
			printf("        metrics: http://127.0.0.1:%d/metrics\n", metrics_ports[i]);
	}
	if (no_tls)
		printf("    peers connect WITHOUT TLS (--no-tls)\n");
	else
		printf("    peers connect over TLS (sslmode=verify-full, the parade's CA in %s/tls)\n", dir);
	printf("    stop with: globalkv parade stop --dir %s\n", dir);
}

/*
 * parade_add_node: a new, empty node in a zone of a running parade; it
 * holds no shard until `globalkv rebalance` moves some onto it.
 */
static void
parade_add_node(const char *dir, const char *zone)
{
	int			ports[MAX_NODES];
	char		zones[MAX_NODES][64];
	int			n = read_parade(dir, ports, zones);
	char	   *passfile = path_join(dir, "pgpass");
	char	   *password = parade_password(passfile);
	char		line[256];
	char	   *shards;
	PGconn	   *first;
	int			port = 0;
	int			metrics_port;

	if (zone == NULL)
		die("parade add-node needs --zone ZONE");
	if (n >= MAX_NODES)
		die("a local parade has at most %d nodes", MAX_NODES);
	for (int i = 0; i < n; i++)
		port = ports[i] > port ? ports[i] : port;
	ports[n] = port + 1;
	snprintf(zones[n], sizeof(zones[n]), "%s", zone);
	snprintf(line, sizeof(line), "127.0.0.1:%d:postgres:%s:%s\n", ports[n], REPL_ROLE, password);
	append_file(passfile, line);

	first = connect_or_die(admin_conninfo(dir, ports[0]));
	shards = strdup(PQgetvalue(query(first, "SELECT shard_count FROM kv.node", 0, NULL), 0, 0));
	metrics_port = init_node(dir, n + 1, ports[n], zone, atoi(shards), password);
	/* the newcomer learns the parade; one existing node learns it (and tells the rest) */
	{
		PGconn	   *conn = connect_or_die(admin_conninfo(dir, ports[n]));

		for (int j = 0; j <= n; j++)
			add_node_on(conn, j + 1, ports[j], zones[j], passfile);
		PQfinish(conn);
	}
	add_node_on(first, n + 1, ports[n], zones[n], passfile);
	PQfinish(first);
	write_parade_conf(dir, n + 1, ports, zones);
	printf("==> waiting for replication to connect\n");
	fflush(stdout);
	wait_for_replication(dir, ports, n + 1, 60);
	printf("==> node%d joined %s on 127.0.0.1:%d; it holds no shard yet: run\n"
		   "    globalkv rebalance --zone %s -d \"%s\"\n", n + 1, zone, ports[n], zone,
		   admin_conninfo(dir, ports[n]));
	if (metrics_port > 0)
		printf("    its metrics: http://127.0.0.1:%d/metrics\n", metrics_port);
}

static void
parade_start_stop(const char *dir, bool start)
{
	int			ports[MAX_NODES];
	int			n = read_parade(dir, ports, NULL);

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

/*
 * parade_command: DIR is made absolute first, because the servers are
 * told it as their socket directory and the tool may run again as another
 * user (become_unprivileged); a socket path may not be longer than about
 * a hundred bytes, hence the limit.
 */
int
parade_command(const char *subcommand, const ParadeOptions *opts, int argc, char **argv)
{
	const char *dir = opts->dir;
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
	become_unprivileged(argc, argv, strcmp(subcommand, "create") == 0 ? dir : NULL);
	if (strcmp(subcommand, "create") == 0)
		parade_create(dir, opts->zones, opts->per_zone, opts->port_base, opts->port_list,
					  opts->shards, opts->no_tls);
	else if (strcmp(subcommand, "add-node") == 0)
		parade_add_node(dir, opts->zone);
	else if (strcmp(subcommand, "start") == 0)
		parade_start_stop(dir, true);
	else if (strcmp(subcommand, "stop") == 0)
		parade_start_stop(dir, false);
	else
		die("unknown parade command \"%s\"", subcommand);
	return 0;
}
