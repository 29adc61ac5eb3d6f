// SPDX-License-Identifier: GPL-2.0-only
/*
 * The connection-rate benchmark's two ends (bench/connrate.py runs them in
 * namespaces on either side of a router).
 *
 *   connrate server ADDR PORT
 *	accepts connections and closes each at once, until SIGTERM
 *   connrate client ADDR PORT SECONDS PARALLEL
 *	keeps PARALLEL non-blocking connects in flight for SECONDS; each
 *	connection, once established, is closed with SO_LINGER 0 (an RST), so
 *	no side keeps a TIME_WAIT socket and ports can be reused at once.
 *	Prints one JSON object: connections completed, failures, seconds.
 *
 * Every connection is thus a SYN, SYN-ACK, ACK and RST (and perhaps the
 * server's FIN) through the router: a new tracked connection each time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_addr(const char *addr, const char *port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((unsigned short)atoi(port));
	if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1) {
		fprintf(stderr, "connrate: '%s' is not an IPv4 address\n", addr);
		return -1;
	}
	return 0;
}

static int server(const struct sockaddr_in *sa)
{
	struct sigaction act = {.sa_handler = on_signal};
	int one = 1, fd;

	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) || listen(fd, 4096)) {
		perror("connrate: server socket");
		return 1;
	}
	/* Blocking accept: a signal interrupts it (no SA_RESTART). */
	while (!stop) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0)
			close(c);
		else if (errno != EINTR && errno != ECONNABORTED)
			usleep(1000);
	}
	close(fd);
	return 0;
}

/* Starts one non-blocking connect and registers it; -1 on failure. */
static int start_connect(int ep, const struct sockaddr_in *sa)
{
	struct epoll_event ev = {.events = EPOLLOUT};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
		close(fd);
		return -1;
	}
	return 0;
}

static void close_rst(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static int client(const struct sockaddr_in *sa, double seconds, int parallel)
{
	struct epoll_event evs[256];
	unsigned long done = 0, failed = 0;
	double t0, t_end, t1;
	int ep, i, inflight = 0;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("connrate: epoll");
		return 1;
	}
	t0 = now_s();
	t_end = t0 + seconds;
	for (i = 0; i < parallel; i++)
		if (!start_connect(ep, sa))
			inflight++;
	while (inflight > 0) {
		int n = epoll_wait(ep, evs, 256, 100);
		int more = now_s() < t_end;

		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd, err = 0;
			socklen_t len = sizeof(err);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			if (err) {
				failed++;
				close(fd);
			} else {
				done++;
				close_rst(fd);
			}
			inflight--;
			if (more && !start_connect(ep, sa))
				inflight++;
		}
		if (!more && n == 0)
			break; /* connects still pending after the end: dropped */
	}
	t1 = now_s();
	printf("{\"connections\": %lu, \"failed\": %lu, \"pending_at_end\": %d, "
	       "\"seconds\": %.3f, \"parallel\": %d}\n",
	       done, failed, inflight, t1 - t0, parallel);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;

	if (argc == 4 && !strcmp(argv[1], "server")) {
		if (parse_addr(argv[2], argv[3], &sa))
			return 2;
		return server(&sa);
	}
	if (argc == 6 && !strcmp(argv[1], "client")) {
		if (parse_addr(argv[2], argv[3], &sa))
			return 2;
		return client(&sa, atof(argv[4]), atoi(argv[5]));
	}
	fprintf(stderr, "Usage: connrate server ADDR PORT\n"
			"       connrate client ADDR PORT SECONDS PARALLEL\n");
	return 2;
}
