/*-------------------------------------------------------------------------
 *
 * main.c
 *	  The globalkv command-line tool: its options, its usage, and which
 *	  command runs.
 *
 * Only that: every command lives in a cmd_*.c file of its own (parade,
 * status, shard and rebalance, the data commands), and what they share in
 * cli_common.c.  The options are one set for all commands, parsed once
 * here, so that they may come before or after the command's words.
 *
 * cli/main.c
 *
 *-------------------------------------------------------------------------
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "cmd_data.h"
#include "cmd_node.h"
#include "cmd_parade.h"
#include "cmd_shard.h"
#include "cmd_status.h"
#include "cmd_transfer.h"
#include "cmd_watch.h"
#include "cmd_verify.h"

/* the whole usage; "globalkv CMD --help" prints CMD's lines of it */
static const char UsageText[] =
	"globalkv: command-line tool of the globalkv document store\n\n"
	"Usage:\n"
	"  globalkv parade create --dir DIR --zones N [--nodes-per-zone M] [--shards S]\n"
	"                         [--port-base P | --ports P1,P2,..] [--no-tls]\n"
	"  globalkv parade add-node --dir DIR --zone ZONE\n"
	"  globalkv parade start --dir DIR\n"
	"  globalkv parade stop --dir DIR\n"
	"  globalkv status -d CONNINFO [--watch SECONDS [--count N]]\n"
	"  globalkv node add -d NEW --seed SEED --id N --name NAME --zone ZONE --reach CONNINFO\n"
	"                    [--create-login ROLE] [--timeout SECONDS]\n"
	"                     (a machine joins a parade: ROLE's password from $GLOBALKV_PEER_PASSWORD)\n"
	"  globalkv shard move SHARD --to NODE [--rollback] -d CONNINFO\n"
	"  globalkv rebalance [--zone ZONE] -d CONNINFO\n"
	"  globalkv load -d CONNINFO NAMESPACE FILE [--stop-on-error] [--csv] [--jobs N]\n"
	"                     (JSON lines, or CSV key,value[,ttl] for FILE.csv or --csv; FILE - : stdin)\n"
	"  globalkv export -d CONNINFO NAMESPACE [--prefix P]          (JSON lines on stdout)\n"
	"  globalkv watch -d CONNINFO [-d CONNINFO..] NAMESPACE [--after CURSOR] [--count N] [--timeout SECONDS]\n"
	"                     (the change feed: a JSON line per change, the cursor on stderr)\n"
	"  globalkv verify -d CONNINFO [--shard S] [--peer NODE]\n"
	"  globalkv repair -d CONNINFO [--shard S] [--peer NODE]\n"
	"                     (verify exits 0 when in sync, 1 when copies differ, 2 on error)\n"
	"  globalkv put -d CONNINFO [-d CONNINFO..] NAMESPACE KEY JSON [--ttl SECONDS] [--zone ZONE]\n"
	"  globalkv get -d CONNINFO [-d CONNINFO..] NAMESPACE KEY [--zone ZONE]\n"
	"  globalkv delete -d CONNINFO [-d CONNINFO..] NAMESPACE KEY [--zone ZONE]\n"
	"  globalkv touch -d CONNINFO [-d CONNINFO..] NAMESPACE KEY --ttl SECONDS [--zone ZONE]\n"
	"                     (a new expiry for a live document; exits 3 when there is none)\n"
	"  globalkv scan -d CONNINFO [-d CONNINFO..] NAMESPACE PREFIX [--after KEY] [--count N] [--zone ZONE]\n"
	"                     (key<TAB>document per line, keys starting with PREFIX, in key order)\n"
	"  globalkv shard-of -d CONNINFO [-d CONNINFO..] NAMESPACE KEY [KEY..] [--zone ZONE]\n"
	"                     (prints key, hash, shard and the holder in the zone)\n\n"
	"put, get, delete, touch, scan and shard-of go through libglobalkv: straight to the node\n"
	"holding the key in your zone (--zone, else the zone of the first -d node that\n"
	"answers; every -d node is only a seed of the shard map). get exits 3 when the\n"
	"document does not exist.\n"
	"CONNINFO is a libpq connection string, e.g. \"host=/tmp/parade port=5501 user=postgres\".\n";

/* exit statuses, the same for every command except where noted in the usage */
static const char ExitText[] =
	"Exit status: 0 done; 1 a usage or connection problem; 2 an error of the server\n"
	"(printed with its SQLSTATE), except: get and touch 3 = no such document; verify 1 = the\n"
	"copies differ; load 1 = some lines were bad (each named on stderr); and verify,\n"
	"repair, load, export and node add exit 2 on a connection problem too.\n";

static void
usage(void)
{
	fputs(UsageText, stdout);
	fputs(ExitText, stdout);
}

/*
 * command_usage prints the usage lines of one command (and the lines that
 * continue them), or everything when the command is not known.
 */
static void
command_usage(const char *cmd)
{
	char		prefix[64];
	const char *p = UsageText;
	bool		printing = false,
				any = false;

	snprintf(prefix, sizeof(prefix), "  globalkv %s", cmd);
	while (*p)
	{
		const char *end = strchr(p, '\n');
		size_t		len = end ? (size_t) (end - p) + 1 : strlen(p);

		if (strncmp(p, prefix, strlen(prefix)) == 0 &&
			(p[strlen(prefix)] == ' ' || p[strlen(prefix)] == '\n'))
			printing = any = true;
		else if (strncmp(p, "  globalkv ", 11) == 0 || len <= 1 || p[0] != ' ')
			printing = false;
		if (printing)
			fwrite(p, 1, len, stdout);
		p += len;
	}
	if (!any)
	{
		usage();
		return;
	}
	printf("\n%sSee cli/README.md and docs/operations.md.\n", ExitText);
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
		{"nodes-per-zone", required_argument, NULL, 'M'},
		{"to", required_argument, NULL, 'T'},
		{"rollback", no_argument, NULL, 'R'},
		{"zone", required_argument, NULL, 'Z'},
		{"dbname", required_argument, NULL, 'd'},
		{"ttl", required_argument, NULL, 't'},
		{"shard", required_argument, NULL, 'S'},
		{"peer", required_argument, NULL, 'E'},
		{"watch", required_argument, NULL, 'W'},
		{"count", required_argument, NULL, 'C'},
		{"prefix", required_argument, NULL, 'X'},
		{"stop-on-error", no_argument, NULL, 'O'},
		{"seed", required_argument, NULL, 'K'},
		{"id", required_argument, NULL, 'I'},
		{"name", required_argument, NULL, 'N'},
		{"reach", required_argument, NULL, 'A'},
		{"create-login", required_argument, NULL, 'L'},
		{"timeout", required_argument, NULL, 'Q'},
		{"no-tls", no_argument, NULL, 'U'},
		{"csv", no_argument, NULL, 'V'},
		{"after", required_argument, NULL, 'F'},
		{"jobs", required_argument, NULL, 'J'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	ParadeOptions parade = {.zones = 3,.per_zone = 1,.port_base = 5501,.shards = 0};
	const char *conninfo = NULL;
	const char *seeds[MAX_SEEDS];	/* every -d: seeds of the data commands */
	int			nseeds = 0;
	const char *to_node = NULL;
	const char *zone = NULL;
	bool		rollback = false;
	long		ttl = 0;
	const char *only_shard = NULL;
	const char *only_peer = NULL;
	int			watch = 0;
	bool		help = false;
	const char *prefix = NULL;
	bool		stop_on_error = false;
	bool		csv = false;
	const char *after = NULL;
	bool		timeout_given = false;
	int			jobs = 4;
	NodeAddOptions node = {.timeout_s = 3600};
	int			count = 0;
	int			c;
	char	   *args[8];
	int			nargs = 0;
	char	  **orig_argv = argv;
	int			orig_argc = argc;

	while ((c = getopt_long(argc, argv, "D:z:p:P:s:d:t:hM:T:RZ:S:E:W:C:X:OK:I:N:A:L:Q:UV", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'M':
				parade.per_zone = atoi(optarg);
				break;
			case 'S':
				only_shard = optarg;
				break;
			case 'E':
				only_peer = optarg;
				break;
			case 'X':
				prefix = optarg;
				break;
			case 'V':
				csv = true;
				break;
			case 'U':
				parade.no_tls = true;
				break;
			case 'K':
				node.seed_conninfo = optarg;
				break;
			case 'I':
				node.id = optarg;
				break;
			case 'N':
				node.name = optarg;
				break;
			case 'A':
				node.reach = optarg;
				break;
			case 'L':
				node.create_login = optarg;
				break;
			case 'Q':
				node.timeout_s = atoi(optarg);
				if (node.timeout_s < 1)
					die("--timeout needs a number of seconds, at least 1");
				timeout_given = true;
				break;
			case 'O':
				stop_on_error = true;
				break;
			case 'W':
				watch = atoi(optarg);
				if (watch < 1)
					die("--watch needs a number of seconds, at least 1");
				break;
			case 'C':
				count = atoi(optarg);
				if (count < 1)
					die("--count needs a number, at least 1");
				break;
			case 'T':
				to_node = optarg;
				break;
			case 'R':
				rollback = true;
				break;
			case 'Z':
				zone = optarg;
				parade.zone = optarg;
				break;
			case 'D':
				parade.dir = optarg;
				break;
			case 'z':
				parade.zones = atoi(optarg);
				break;
			case 'p':
				parade.port_base = atoi(optarg);
				break;
			case 'P':
				parade.port_list = optarg;
				break;
			case 's':
				parade.shards = atoi(optarg);
				break;
			case 'd':
				conninfo = optarg;
				if (nseeds == MAX_SEEDS)
					die("at most %d -d options", MAX_SEEDS);
				seeds[nseeds++] = optarg;
				break;
			case 't':
				ttl = atol(optarg);
				break;
			case 'F':
				after = optarg;
				break;
			case 'J':
				jobs = atoi(optarg);
				if (jobs < 1 || jobs > 32)
					die("--jobs needs a number of connections, 1 to 32");
				break;
			case 'h':
				help = true;
				break;
			default:
				usage();
				return 1;
		}
	}
	for (int i = optind; i < argc && nargs < 8; i++)
		args[nargs++] = argv[i];
	if (help)
	{
		if (nargs == 0)
			usage();
		else
			command_usage(args[0]);
		return 0;
	}
	if (nargs == 0)
	{
		usage();
		return 1;
	}

	if (strcmp(args[0], "parade") == 0 && nargs == 2)
		return parade_command(args[1], &parade, orig_argc, orig_argv);

	if (conninfo == NULL)
		die("%s needs -d CONNINFO", args[0]);
	if (strcmp(args[0], "node") == 0 && nargs == 2 && strcmp(args[1], "add") == 0)
	{
		node.new_conninfo = conninfo;
		node.zone = zone;
		return node_add_command(&node);
	}
	if (strcmp(args[0], "status") == 0)
		return status_command(conninfo, watch, count);
	else if (strcmp(args[0], "shard") == 0)
		return shard_command(nargs, args, conninfo, to_node, rollback);
	else if (strcmp(args[0], "rebalance") == 0)
		return rebalance_command(conninfo, zone);
	else if (strcmp(args[0], "load") == 0)
	{
		if (nargs != 3)
			die("usage: globalkv load -d CONNINFO NAMESPACE FILE [--stop-on-error] [--csv] [--jobs N]");
		return load_command(conninfo, args[1], args[2], stop_on_error, csv, jobs);
	}
	else if (strcmp(args[0], "export") == 0)
	{
		if (nargs != 2)
			die("usage: globalkv export -d CONNINFO NAMESPACE [--prefix P]");
		return export_command(conninfo, args[1], prefix);
	}
	else if (strcmp(args[0], "watch") == 0)
	{
		if (nargs != 2)
			die("usage: globalkv watch -d CONNINFO [-d CONNINFO..] NAMESPACE [--after CURSOR] [--count N] [--timeout SECONDS] [--zone ZONE]");
		return watch_command(seeds, nseeds, zone, args[1], after, count, timeout_given ? node.timeout_s : 0);
	}
	else if (strcmp(args[0], "verify") == 0 || strcmp(args[0], "repair") == 0)
		return verify_command(conninfo, strcmp(args[0], "repair") == 0, only_shard, only_peer);
	else if (strcmp(args[0], "put") == 0 || strcmp(args[0], "get") == 0 ||
			 strcmp(args[0], "delete") == 0 || strcmp(args[0], "touch") == 0 ||
			 strcmp(args[0], "scan") == 0 || strcmp(args[0], "shard-of") == 0)
	{
		DataOptions data = {zone, ttl, after, count};

		return data_command(argc - optind, argv + optind, seeds, nseeds, &data);
	}
	usage();
	return 1;
}
