/*-------------------------------------------------------------------------
 *
 * metrics_server.c
 *	  A background worker serving GET /metrics over HTTP on
 *	  globalkv.metrics_port, for Prometheus (metrics_text.c writes the body).
 *
 * One process, non-blocking sockets, one wait on the latch, the postmaster
 * and every socket: it sleeps until a connection or a signal comes, and
 * does nothing while nobody scrapes.  A bad client cannot stall or crash
 * it:
 *	- at most MAX_CLIENTS connections at once; when all are taken, the one
 *	  that has waited longest without finishing its request is closed to
 *	  make room (503 only when every connection is being answered);
 *	- a request must fit in REQUEST_MAX bytes (request line and headers),
 *	  else 431; anything but "GET /metrics HTTP/1.x" gets 400, 404 or 405;
 *	- every connection is closed CLIENT_TIMEOUT_MS after it was accepted,
 *	  whether the client sends slowly, never reads its answer, or both;
 *	- an error while building the body (a failing backlog count) answers
 *	  500 and leaves the worker running.
 * Every answer closes the connection (HTTP/1.1 "Connection: close").
 *
 * src/monitoring/metrics_server.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access/xact.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "globalkv/guc.h"
#include "globalkv/metrics.h"
#include "globalkv/monitoring.h"
#include "globalkv/utils.h"

#define MAX_CLIENTS 16
#define REQUEST_MAX 8192
#define CLIENT_TIMEOUT_MS 5000
#define LISTEN_BACKLOG 16

typedef struct Client
{
	pgsocket	sock;			/* PGINVALID_SOCKET: free */
	TimestampTz deadline;
	char		request[REQUEST_MAX + 1];
	int			received;
	char	   *response;		/* NULL while reading the request */
	int			response_len;
	int			sent;
} Client;

static Client Clients[MAX_CLIENTS];

/* where answers live until sent (freed by CloseClient) */
static MemoryContext ResponseContext = NULL;

/* a complete answer: status line, headers, body */
static char *
Answer(const char *status, const char *extra_headers, const char *content_type,
	   const char *body, int body_len, int *len)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf,
					 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%sConnection: close\r\n\r\n",
					 status, content_type, body_len, extra_headers);
	appendBinaryStringInfo(&buf, body, body_len);
	*len = buf.len;
	return buf.data;
}

static char *
PlainAnswer(const char *status, const char *extra_headers, const char *text, int *len)
{
	return Answer(status, extra_headers, "text/plain; charset=utf-8", text, strlen(text), len);
}

static void
WriteMetrics(void *body)
{
	GkvMetricsText((StringInfo) body);
}

/*
 * MetricsAnswer builds the 200 answer, or a 500 if building the body
 * failed: the error is logged and the worker goes on.
 */
static char *
MetricsAnswer(int *len)
{
	StringInfoData body;
	char	   *error;
	char	   *answer;

	initStringInfo(&body);
	error = GkvWorkerTryTransaction(WriteMetrics, &body);
	if (error != NULL)
	{
		ereport(WARNING,
				(errmsg("globalkv metrics: could not build /metrics: %s", error)));
		answer = PlainAnswer("500 Internal Server Error", "",
							 "globalkv could not build the metrics; see the server log\n", len);
	}
	else
		answer = Answer("200 OK", "", "text/plain; version=0.0.4; charset=utf-8",
						body.data, body.len, len);
	pfree(body.data);
	return answer;
}

/*
 * Respond decides the answer to a complete request: only
 * "GET /metrics[?...] HTTP/1.0|1.1" gets the metrics.
 */
static char *
Respond(const char *request, int *len)
{
	const char *line_end = strpbrk(request, "\r\n");
	int			line_len = line_end ? (int) (line_end - request) : (int) strlen(request);
	char		method[16],
				target[256],
				version[16];
	char	   *line = pnstrdup(request, line_len);
	int			fields = sscanf(line, "%15s %255s %15s", method, target, version);

	pfree(line);
	if (fields != 3 || strncmp(version, "HTTP/1.", 7) != 0)
		return PlainAnswer("400 Bad Request", "", "expected: GET /metrics HTTP/1.1\n", len);
	if (strcmp(method, "GET") != 0)
		return PlainAnswer("405 Method Not Allowed", "Allow: GET\r\n", "only GET /metrics is served\n", len);
	if (strcmp(target, "/metrics") != 0 && strncmp(target, "/metrics?", 9) != 0)
		return PlainAnswer("404 Not Found", "", "only /metrics is served here\n", len);
	return MetricsAnswer(len);
}

static void
CloseClient(Client *c)
{
	closesocket(c->sock);
	c->sock = PGINVALID_SOCKET;
	if (c->response)
		pfree(c->response);
	c->response = NULL;
}

/* a request is complete once its header block ends with an empty line */
static bool
RequestComplete(const Client *c)
{
	return strstr(c->request, "\r\n\r\n") != NULL || strstr(c->request, "\n\n") != NULL;
}

/* ReadRequest reads what the client sent; answers once the request is whole */
static void
ReadRequest(Client *c)
{
	ssize_t		n = recv(c->sock, c->request + c->received, REQUEST_MAX - c->received, 0);
	MemoryContext old;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
	{
		CloseClient(c);			/* gone before asking */
		return;
	}
	if (n < 0)
		return;
	c->received += (int) n;
	c->request[c->received] = '\0';
	old = MemoryContextSwitchTo(ResponseContext);
	if (memchr(c->request, '\0', c->received) != NULL)
		c->response = PlainAnswer("400 Bad Request", "", "a request holds no NUL byte\n", &c->response_len);
	else if (RequestComplete(c))
		c->response = Respond(c->request, &c->response_len);
	else if (c->received >= REQUEST_MAX)
		c->response = PlainAnswer("431 Request Header Fields Too Large", "",
								  "the request line and headers must fit in 8192 bytes\n",
								  &c->response_len);
	MemoryContextSwitchTo(old);
	c->sent = 0;
}

static void
WriteAnswer(Client *c)
{
	ssize_t		n = send(c->sock, c->response + c->sent, c->response_len - c->sent, 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0)
	{
		CloseClient(c);
		return;
	}
	c->sent += (int) n;
	if (c->sent >= c->response_len)
		CloseClient(c);
}

static void
AcceptClients(pgsocket listener)
{
	for (;;)
	{
		pgsocket	sock = accept(listener, NULL, NULL);
		Client	   *free_slot = NULL;

		if (sock == PGINVALID_SOCKET)
			return;				/* EAGAIN: no more waiting, or a transient error */
		if (!pg_set_noblock(sock))
		{
			closesocket(sock);
			continue;
		}
		for (int i = 0; i < MAX_CLIENTS && free_slot == NULL; i++)
			if (Clients[i].sock == PGINVALID_SOCKET)
				free_slot = &Clients[i];

		/*
		 * Full: the connection that has waited longest without finishing
		 * its request makes room, so that idle connections held open by
		 * one client cannot lock a scraper out.
		 */
		if (free_slot == NULL)
		{
			Client	   *oldest = NULL;

			for (int i = 0; i < MAX_CLIENTS; i++)
				if (Clients[i].response == NULL &&
					(oldest == NULL || Clients[i].deadline < oldest->deadline))
					oldest = &Clients[i];
			if (oldest != NULL)
			{
				CloseClient(oldest);
				free_slot = oldest;
			}
		}
		if (free_slot == NULL)
		{
			static const char busy[] =
				"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

			(void) send(sock, busy, sizeof(busy) - 1, 0);
			closesocket(sock);
			continue;
		}
		free_slot->sock = sock;
		free_slot->received = 0;
		free_slot->request[0] = '\0';
		free_slot->response = NULL;
		free_slot->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), CLIENT_TIMEOUT_MS);
	}
}

/* Listen opens the listening socket, or raises an error saying why not */
static pgsocket
Listen(void)
{
	struct addrinfo hints = {0};
	struct addrinfo *addrs;
	char		port[16];
	pgsocket	sock;
	int			one = 1;
	int			rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", GkvMetricsPort);
	rc = getaddrinfo(GkvMetricsListenAddress, port, &hints, &addrs);
	if (rc != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("globalkv.metrics_listen_address \"%s\" is not a numeric IP address: %s",
						GkvMetricsListenAddress, gai_strerror(rc))));
	sock = socket(addrs->ai_family, SOCK_STREAM, 0);
	if (sock == PGINVALID_SOCKET)
		ereport(ERROR, (errcode_for_socket_access(), errmsg("globalkv metrics: could not create a socket: %m")));
	(void) setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(sock, addrs->ai_addr, addrs->ai_addrlen) < 0)
		ereport(ERROR,
				(errcode_for_socket_access(),
				 errmsg("globalkv metrics: could not listen on %s port %d: %m",
						GkvMetricsListenAddress, GkvMetricsPort),
				 errhint("Choose another globalkv.metrics_port, or 0 to turn the endpoint off.")));
	if (listen(sock, LISTEN_BACKLOG) < 0 || !pg_set_noblock(sock))
		ereport(ERROR, (errcode_for_socket_access(), errmsg("globalkv metrics: could not listen: %m")));
	freeaddrinfo(addrs);
	return sock;
}

void
GkvMetricsServerMain(Datum main_arg)
{
	pgsocket	listener;
	MemoryContext loopcxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	GkvWorkerConnect("globalkv metrics server");

	for (int i = 0; i < MAX_CLIENTS; i++)
		Clients[i].sock = PGINVALID_SOCKET;
	listener = Listen();
	ereport(LOG,
			(errmsg("globalkv metrics endpoint listening on http://%s:%d/metrics",
					GkvMetricsListenAddress, GkvMetricsPort)));
	pgstat_report_activity(STATE_IDLE, NULL);

	loopcxt = AllocSetContextCreate(TopMemoryContext, "globalkv metrics loop", ALLOCSET_DEFAULT_SIZES);
	ResponseContext = AllocSetContextCreate(TopMemoryContext, "globalkv metrics answers",
											ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		WaitEventSet *set;
		WaitEvent	events[MAX_CLIENTS + 3];
		int			nevents;
		long		timeout = -1;
		TimestampTz now = GetCurrentTimestamp();
		MemoryContext old = MemoryContextSwitchTo(loopcxt);

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* too slow: closed, whatever it was doing */
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (Clients[i].sock != PGINVALID_SOCKET && now >= Clients[i].deadline)
				CloseClient(&Clients[i]);

		set = CreateWaitEventSet(loopcxt, MAX_CLIENTS + 3);
		AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
		AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		AddWaitEventToSet(set, WL_SOCKET_READABLE, listener, NULL, NULL);
		for (int i = 0; i < MAX_CLIENTS; i++)
		{
			Client	   *c = &Clients[i];
			long		left;

			if (c->sock == PGINVALID_SOCKET)
				continue;
			AddWaitEventToSet(set, c->response ? WL_SOCKET_WRITEABLE : WL_SOCKET_READABLE,
							  c->sock, NULL, c);
			left = Max(TimestampDifferenceMilliseconds(now, c->deadline), 1);
			timeout = timeout < 0 ? left : Min(timeout, left);
		}
		nevents = WaitEventSetWait(set, timeout, events, lengthof(events), PG_WAIT_EXTENSION);
		for (int e = 0; e < nevents; e++)
		{
			Client	   *c = (Client *) events[e].user_data;

			if (events[e].events & WL_LATCH_SET)
				ResetLatch(MyLatch);
			else if (events[e].fd == listener)
				AcceptClients(listener);
			else if (c != NULL && c->sock != PGINVALID_SOCKET)
			{
				if (c->response == NULL)
					ReadRequest(c);
				/* an answer just built is sent at once when the socket takes it */
				if (c->sock != PGINVALID_SOCKET && c->response != NULL)
					WriteAnswer(c);
			}
		}
		FreeWaitEventSet(set);
		MemoryContextSwitchTo(old);
		MemoryContextReset(loopcxt);
	}
}
