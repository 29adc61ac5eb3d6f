// SPDX-License-Identifier: GPL-2.0-only
/*
 * The IPFIX exporter over UDP (exporter.h): a connected datagram socket,
 * one message buffer, the domain's sequence number and the template
 * refresh timer.
 *
 * A message the socket refuses (no collector listening yet: ECONNREFUSED
 * from an earlier datagram's ICMP error; a full send buffer) is counted
 * and dropped, and its records still advance the sequence number, so the
 * collector sees the gap as loss (RFC 7011 §10.3.2) instead of the
 * exporter stalling the event reader behind it.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "export/exporter.h"
#include "xct.h"

int xct_ipfix_parse_addr(const char *s, char *buf, size_t len, const char **host, const char **port)
{
	char *colon, *end;

	if (!s || !*s || strlen(s) >= len)
		return -EINVAL;
	strcpy(buf, s);
	*port = NULL;
	if (buf[0] == '[') {
		end = strchr(buf, ']');
		if (!end || end == buf + 1 || (end[1] && end[1] != ':'))
			return -EINVAL;
		*end = 0;
		*host = buf + 1;
		if (end[1])
			*port = end + 2;
	} else {
		colon = strrchr(buf, ':');
		/* an IPv6 address needs brackets to take a port */
		if (colon && strchr(buf, ':') != colon)
			colon = NULL;
		*host = buf;
		if (colon) {
			*colon = 0;
			*port = colon + 1;
		}
	}
	if (!**host)
		return -EINVAL;
	if (*port) {
		unsigned long p;
		char *e;

		errno = 0;
		p = strtoul(*port, &e, 10);
		if (!**port || *e || errno || p == 0 || p > 65535 || **port == '-' || **port == '+')
			return -EINVAL;
	}
	return 0;
}

static __s64 mono_to_real_ns(void)
{
	struct timespec real;

	clock_gettime(CLOCK_REALTIME, &real);
	return (__s64)real.tv_sec * 1000000000LL + real.tv_nsec - (__s64)xct_now_ns();
}

static void init_msg(struct xct_ipfix_exporter *x)
{
	if (x->cfg.netflow9)
		xct_nf9_msg_init(&x->msg, x->buf, x->cfg.mtu);
	else
		xct_ipfix_msg_init(&x->msg, x->buf, x->cfg.mtu);
}

/* Sends the message being built, if it holds anything, and starts the
 * next one. */
static void send_msg(struct xct_ipfix_exporter *x)
{
	struct xct_ipfix_msg *m = &x->msg;
	size_t len;

	if (!m->count)
		return;
	if (x->cfg.netflow9)
		len = xct_nf9_msg_finish(m, (__u32)(xct_now_ns() / 1000000), (__u32)time(NULL),
					 x->seq, x->cfg.domain);
	else
		len = xct_ipfix_msg_finish(m, (__u32)time(NULL), x->seq, x->cfg.domain);
	if (send(x->fd, m->buf, len, 0) == (ssize_t)len) {
		x->stats.messages++;
		x->stats.records += m->records;
	} else {
		x->stats.send_errors++;
		x->stats.lost += m->records;
		x->last_errno = errno;
	}
	x->seq += x->cfg.netflow9 ? 1 : m->records;
	init_msg(x);
}

static void send_templates(struct xct_ipfix_exporter *x)
{
	send_msg(x);
	/* The template set fits any message of XCT_IPFIX_MTU_MIN or more. */
	xct_ipfix_put_templates(&x->msg);
	send_msg(x);
	x->templates_ns = xct_now_ns();
}

/*
 * The largest message for the collector the socket is connected to: the
 * route's MTU less the IP and UDP headers (RFC 7011 §10.3.3: a message
 * must fit the path MTU), at most XCT_IPFIX_MTU_PATH_MAX; 512 when the
 * MTU is unknown.  Larger messages mean fewer sends: at 512 bytes the
 * exporter spends most of its time in send() (docs/BENCHMARKS.md).
 */
static size_t path_mtu(int fd, int family)
{
	int mtu = 0, hdr = family == AF_INET6 ? 40 + 8 : 20 + 8;
	socklen_t len = sizeof(mtu);

	if (family == AF_INET6 ? getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &len)
			       : getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &len))
		return XCT_IPFIX_MTU_DEFAULT;
	if (mtu - hdr < XCT_IPFIX_MTU_DEFAULT)
		return XCT_IPFIX_MTU_DEFAULT;
	return mtu - hdr < XCT_IPFIX_MTU_PATH_MAX ? (size_t)(mtu - hdr) : XCT_IPFIX_MTU_PATH_MAX;
}

int xct_ipfix_exporter_open(struct xct_ipfix_exporter *x, const struct xct_ipfix_exporter_cfg *cfg)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_protocol = IPPROTO_UDP};
	struct addrinfo *res = NULL, *ai;
	char port[8];
	int err;

	memset(x, 0, sizeof(*x));
	x->fd = -1;
	x->cfg = *cfg;
	if (x->cfg.mtu && (x->cfg.mtu < XCT_IPFIX_MTU_MIN || x->cfg.mtu > XCT_IPFIX_MTU_MAX))
		return -EINVAL;
	if (!x->cfg.port) {
		snprintf(port, sizeof(port), "%d", XCT_IPFIX_PORT_DEFAULT);
		x->cfg.port = port;
	}
	err = getaddrinfo(x->cfg.host, x->cfg.port, &hints, &res);
	if (err) {
		xct_err("cannot resolve the collector %s: %s", x->cfg.host, gai_strerror(err));
		return -ENOENT;
	}
	err = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		x->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (x->fd < 0) {
			err = -errno;
			continue;
		}
		if (!connect(x->fd, ai->ai_addr, ai->ai_addrlen)) {
			if (!x->cfg.mtu)
				x->cfg.mtu = path_mtu(x->fd, ai->ai_family);
			break;
		}
		err = -errno;
		close(x->fd);
		x->fd = -1;
	}
	freeaddrinfo(res);
	if (x->fd < 0) {
		xct_err("cannot reach the collector %s port %s: %s", x->cfg.host, x->cfg.port,
			strerror(-err));
		return err;
	}
	x->cfg.port = NULL; /* may point at this frame */
	x->buf = malloc(x->cfg.mtu);
	if (!x->buf) {
		close(x->fd);
		x->fd = -1;
		return -ENOMEM;
	}
	x->mono_to_real_ns = mono_to_real_ns();
	init_msg(x);
	send_templates(x);
	return 0;
}

int xct_ipfix_exporter_event(struct xct_ipfix_exporter *x, const struct xct_ct_event *ev)
{
	int n = xct_ipfix_put_event(&x->msg, ev, x->mono_to_real_ns);

	if (n == -ENOSPC) {
		send_msg(x);
		n = xct_ipfix_put_event(&x->msg, ev, x->mono_to_real_ns);
	}
	return n;
}

void xct_ipfix_exporter_tick(struct xct_ipfix_exporter *x)
{
	__u64 now = xct_now_ns();

	if (now - x->templates_ns >= (__u64)x->cfg.template_refresh_s * 1000000000ULL)
		send_templates(x);
	else
		send_msg(x);
}

void xct_ipfix_exporter_close(struct xct_ipfix_exporter *x)
{
	if (x->fd >= 0) {
		send_msg(x);
		close(x->fd);
	}
	x->fd = -1;
	free(x->buf);
	x->buf = NULL;
}
