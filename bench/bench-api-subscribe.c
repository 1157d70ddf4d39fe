/*
 * bench-api-subscribe.c - single-member subscriptions through the REST API
 * (issue 16): N POSTs to /api/v1/lists/LIST/members, one member each, over
 * C keep-alive connections, each connection one thread sending its share
 * one after another (the next request once the answer is in).
 *
 *   bench-api-subscribe [-c CONNECTIONS] [-n N] [-w 0|1] [-p PREFIX]
 *                       PORT TOKEN LIST
 *
 * The members are PREFIX<i>@domain<i % 100>.example (default prefix
 * "sub"); -w 0 asks for no welcome ("welcome": false), -w 1 for one
 * (default), as bench/api.sh's Python client does.  A C client, because
 * the Python one took 2.9 s of CPU for 10,000 requests on the same two
 * cores as the service: here the figure is the service's.  Prints the
 * time, the rate, the answers that were not 201, and this process's CPU.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

static int port, nconns = 16, total = 10000, welcome = 1;
static const char *token, *list, *prefix = "sub";
static gint not_created;

static int
connect_local(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		bench_die("connect to 127.0.0.1:%d: %s", port, strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static void
send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			bench_die("write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* Reads one answer (head and Content-Length bytes of body); its status.
 * in keeps what was read past it. */
static int
read_answer(int fd, GString *in)
{
	char buf[8192];

	for (;;) {
		const char *end = g_strstr_len(in->str, (gssize)in->len, "\r\n\r\n");

		if (end != NULL) {
			size_t head = (size_t)(end - in->str) + 4, body = 0;
			const char *cl = g_strstr_len(in->str, (gssize)head,
						      "\nContent-Length:");

			if (cl == NULL)
				cl = g_strstr_len(in->str, (gssize)head,
						  "\ncontent-length:");
			if (cl != NULL)
				body = strtoul(cl + 16, NULL, 10);
			if (in->len >= head + body) {
				int status = atoi(in->str + 9);

				g_string_erase(in, 0, (gssize)(head + body));
				return status;
			}
		}
		ssize_t n = read(fd, buf, sizeof buf);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			bench_die("the service closed the connection: %s",
				  n < 0 ? strerror(errno) : "end of file");
		g_string_append_len(in, buf, n);
	}
}

static gpointer
connection(gpointer data)
{
	int k = GPOINTER_TO_INT(data), fd = connect_local();
	GString *req = g_string_new(NULL), *in = g_string_new(NULL);

	for (int i = k; i < total; i += nconns) {
		char body[256];
		int blen = g_snprintf(body, sizeof body,
				      "{\"address\": \"%s%d@domain%d.example\", "
				      "\"welcome\": %s}", prefix, i, i % 100,
				      welcome ? "true" : "false");

		g_string_printf(req, "POST /api/v1/lists/%s/members HTTP/1.1\r\n"
				"Host: 127.0.0.1:%d\r\n"
				"Authorization: Bearer %s\r\n"
				"Content-Type: application/json\r\n"
				"Content-Length: %d\r\n\r\n%s", list, port, token,
				blen, body);
		send_all(fd, req->str, req->len);
		if (read_answer(fd, in) != 201)
			g_atomic_int_inc(&not_created);
	}
	close(fd);
	g_string_free(req, TRUE);
	g_string_free(in, TRUE);
	return NULL;
}

int
main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "c:n:w:p:")) != -1) {
		switch (opt) {
		case 'c': nconns = atoi(optarg); break;
		case 'n': total = atoi(optarg); break;
		case 'w': welcome = atoi(optarg); break;
		case 'p': prefix = optarg; break;
		default:
			bench_die("usage: bench-api-subscribe [-c CONNECTIONS] "
				  "[-n N] [-w 0|1] [-p PREFIX] PORT TOKEN LIST");
		}
	}
	if (argc - optind != 3 || nconns < 1 || total < 1)
		bench_die("usage: bench-api-subscribe [-c CONNECTIONS] [-n N] "
			  "[-w 0|1] [-p PREFIX] PORT TOKEN LIST");
	port = atoi(argv[optind]);
	token = argv[optind + 1];
	list = argv[optind + 2];

	GThread **threads = g_new(GThread *, nconns);
	int64_t start = bench_now_us();

	for (int k = 0; k < nconns; k++)
		threads[k] = g_thread_new("conn", connection, GINT_TO_POINTER(k));
	for (int k = 0; k < nconns; k++)
		g_thread_join(threads[k]);
	double s = (double)(bench_now_us() - start) / 1e6;
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("%d single-member subscriptions (welcome %s), one POST each over "
	       "%d keep-alive connections (C client): %.2f s (%.0f a second), "
	       "%d not 201; the client's CPU %.2f s\n", total,
	       welcome ? "yes" : "no", nconns, s, total / s,
	       g_atomic_int_get(&not_created),
	       ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	g_free(threads);
	return 0;
}
