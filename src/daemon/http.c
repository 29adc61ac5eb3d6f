// SPDX-License-Identifier: GPL-2.0-only
/*
 * The metrics endpoint.  Prometheus sends one GET at a time and reads the
 * answer at once, so each connection is served in turn, with one-second
 * timeouts: a client that stalls costs the event loop at most that, and the
 * rings absorb the datapath's events meanwhile.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "daemon/http.h"
#include "metrics.h"
#include "xct.h"

int xctd_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned int *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	__u64 port;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		colon = strstr(s, "]:");
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - s - 1);
		colon++;
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, n);
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - s);
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, n);
	}
	host[n] = '\0';
	if (xct_parse_u64(colon + 1, 1, 65535, &port))
		return -EINVAL;
	if (s[0] != '[' && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((__u16)port);
		*len = sizeof(*v4);
		return 0;
	}
	if (s[0] == '[' && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((__u16)port);
		*len = sizeof(*v6);
		return 0;
	}
	return -EINVAL;
}

int xctd_http_listen(const char *addr)
{
	struct sockaddr_storage ss;
	unsigned int len;
	int fd, one = 1, err;

	if (xctd_parse_listen(addr, &ss, &len)) {
		xct_err("--metrics-listen %s: not ADDR:PORT or [ADDR]:PORT", addr);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 16)) {
		err = -errno;
		xct_err("cannot listen on %s: %s", addr, strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

static void reply(int fd, const char *status, const char *type, const char *body, size_t len)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n",
		     status, type, len);
	if (send(fd, head, (size_t)n, MSG_NOSIGNAL) != n)
		return;
	while (len) {
		ssize_t k = send(fd, body, len, MSG_NOSIGNAL);

		if (k <= 0)
			return;
		body += k;
		len -= (size_t)k;
	}
}

void xctd_http_serve(int lsock, const char *pin_path, const struct xctd_stream_stats *st,
		     const struct xctd_sync_report *sync)
{
	struct timeval tv = {.tv_sec = 1};
	char req[4096], *body = NULL;
	size_t len = 0, blen = 0;
	FILE *f;
	int fd;

	fd = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* The request line and headers; a body, which a GET has not, is
	 * never read. */
	while (len < sizeof(req) - 1) {
		ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, 0);

		if (n <= 0)
			goto out;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	if (strncmp(req, "GET ", 4)) {
		reply(fd, "405 Method Not Allowed", "text/plain", "GET only\n", 9);
		goto out;
	}
	if (strncmp(strchr(req, ' ') + 1, "/metrics", 8) || !strchr(" ?", strchr(req, ' ')[9])) {
		reply(fd, "404 Not Found", "text/plain", "see /metrics\n", 13);
		goto out;
	}
	f = open_memstream(&body, &blen);
	if (!f)
		goto out;
	if (xct_metrics_write(f, pin_path, st, sync)) {
		fclose(f);
		reply(fd, "503 Service Unavailable", "text/plain", "xct is not attached\n", 20);
		goto out;
	}
	fclose(f);
	reply(fd, "200 OK", XCT_METRICS_CONTENT_TYPE, body, blen);
out:
	free(body);
	close(fd);
}
