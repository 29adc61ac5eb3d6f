// SPDX-License-Identifier: GPL-2.0-only
/*
 * The sync link's transports (sync_link.h): UDP unicast, multicast and TCP,
 * as conntrackd's channels open and use them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "daemon/daemon.h"
#include "daemon/sync_link.h"
#include "xct/ctsync.h"

/* The TCP link's sockets in its epoll set. */
enum { TAG_LISTENER = 1, TAG_OUT, TAG_IN };

const char *xctd_link_kind_name(enum xctd_link_kind kind)
{
	switch (kind) {
	case XCTD_LINK_TCP:
		return "tcp";
	case XCTD_LINK_MCAST:
		return "multicast";
	default:
		return "udp";
	}
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
}

static void set_port(struct sockaddr_storage *ss, in_port_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = port;
	else
		((struct sockaddr_in6 *)ss)->sin6_port = port;
}

static in_port_t get_port(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
					: ((const struct sockaddr_in6 *)ss)->sin6_port;
}

/* Keeps the sync traffic on the dedicated interface, as it was named. */
static int bind_device(struct xctd_link *l, int fd)
{
	if (!l->ifname[0])
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, l->ifname, (socklen_t)strlen(l->ifname)))
		return -errno;
	return 0;
}

static int open_udp(struct xctd_link *l, char *err, size_t errlen)
{
	int e;

	l->sock = socket(l->peer.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->sock < 0) {
		e = -errno;
		snprintf(err, errlen, "cannot open the sync socket: %s", strerror(errno));
		return e;
	}
	e = bind_device(l, l->sock);
	if (e) {
		snprintf(err, errlen, "cannot bind the sync socket to %s: %s", l->ifname,
			 strerror(-e));
		return e;
	}
	if (bind(l->sock, (struct sockaddr *)&l->local, l->local_len)) {
		e = -errno;
		snprintf(err, errlen, "cannot bind the sync socket to %s: %s",
			 l->local_given ? "the listening address" : "the peer's port",
			 strerror(errno));
		return e;
	}
	l->fd = l->sock;
	return 0;
}

/* The sync interface's addresses: a datagram from one of them is ours. */
static void own_addresses(struct xctd_link *l)
{
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa))
		return;
	for (i = ifa; i && l->n_own < XCTD_LINK_OWN_MAX; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, l->ifname) ||
		    i->ifa_addr->sa_family != l->peer.ss_family)
			continue;
		memset(&l->own[l->n_own], 0, sizeof(l->own[0]));
		memcpy(&l->own[l->n_own++], i->ifa_addr,
		       i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
							 : sizeof(struct sockaddr_in6));
	}
	freeifaddrs(ifa);
}

static int open_mcast(struct xctd_link *l, char *err, size_t errlen)
{
	unsigned int ifindex = if_nametoindex(l->ifname);
	struct sockaddr_storage bound = l->peer;
	const char *step;
	int one = 1, zero = 0, e;

	if (!ifindex) {
		e = -errno;
		snprintf(err, errlen, "cannot use %s for the sync: %s", l->ifname, strerror(errno));
		return e;
	}
	l->sock = socket(l->peer.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->sock < 0) {
		e = -errno;
		snprintf(err, errlen, "cannot open the sync socket: %s", strerror(errno));
		return e;
	}
	/* Bound to the group: only its datagrams come in. */
	setsockopt(l->sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->peer.ss_family == AF_INET) {
		struct ip_mreqn mr = {
			.imr_multiaddr = ((struct sockaddr_in *)&l->peer)->sin_addr,
			.imr_ifindex = (int)ifindex,
		};

		step = "bind to the group";
		if (bind_device(l, l->sock) ||
		    bind(l->sock, (struct sockaddr *)&bound, sizeof(struct sockaddr_in)))
			goto fail;
		step = "join the group";
		if (setsockopt(l->sock, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)))
			goto fail;
		step = "send on the interface";
		mr.imr_multiaddr.s_addr = 0;
		if (setsockopt(l->sock, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)) ||
		    setsockopt(l->sock, IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof(zero)) ||
		    setsockopt(l->sock, IPPROTO_IP, IP_MULTICAST_TTL, &one, sizeof(one)))
			goto fail;
	} else {
		struct ipv6_mreq mr = {
			.ipv6mr_multiaddr = ((struct sockaddr_in6 *)&l->peer)->sin6_addr,
			.ipv6mr_interface = ifindex,
		};

		((struct sockaddr_in6 *)&bound)->sin6_scope_id = ifindex;
		((struct sockaddr_in6 *)&l->peer)->sin6_scope_id = ifindex;
		step = "bind to the group";
		if (bind_device(l, l->sock) ||
		    bind(l->sock, (struct sockaddr *)&bound, sizeof(struct sockaddr_in6)))
			goto fail;
		step = "join the group";
		if (setsockopt(l->sock, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof(mr)))
			goto fail;
		step = "send on the interface";
		if (setsockopt(l->sock, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex,
			       sizeof(ifindex)) ||
		    setsockopt(l->sock, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof(zero)) ||
		    setsockopt(l->sock, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &one, sizeof(one)))
			goto fail;
	}
	own_addresses(l);
	l->fd = l->sock;
	return 0;
fail:
	e = -errno;
	snprintf(err, errlen, "cannot %s (multicast on %s): %s", step, l->ifname, strerror(errno));
	return e;
}

static int epoll_set(struct xctd_link *l, int op, int fd, __u32 events, int tag)
{
	struct epoll_event ev = {.events = events, .data.u32 = (__u32)tag};

	return epoll_ctl(l->fd, op, fd, &ev) ? -errno : 0;
}

static int open_tcp(struct xctd_link *l, char *err, size_t errlen)
{
	int one = 1, e;

	l->fd = epoll_create1(EPOLL_CLOEXEC);
	if (l->fd < 0) {
		e = -errno;
		snprintf(err, errlen, "cannot open the sync link: %s", strerror(errno));
		return e;
	}
	l->rx = malloc(XCTD_LINK_RX_MAX);
	if (!l->rx) {
		snprintf(err, errlen, "cannot open the sync link: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	l->sock = socket(l->peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->sock < 0) {
		e = -errno;
		snprintf(err, errlen, "cannot open the sync socket: %s", strerror(errno));
		return e;
	}
	setsockopt(l->sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	e = bind_device(l, l->sock);
	if (e) {
		snprintf(err, errlen, "cannot bind the sync socket to %s: %s", l->ifname,
			 strerror(-e));
		return e;
	}
	/* One connection at a time, as conntrackd listens. */
	if (bind(l->sock, (struct sockaddr *)&l->local, l->local_len) || listen(l->sock, 1)) {
		e = -errno;
		snprintf(err, errlen, "cannot listen for the sync peer on %s: %s",
			 l->local_given ? "the listening address" : "the peer's port",
			 strerror(errno));
		return e;
	}
	e = epoll_set(l, EPOLL_CTL_ADD, l->sock, EPOLLIN, TAG_LISTENER);
	if (e) {
		snprintf(err, errlen, "cannot open the sync link: %s", strerror(-e));
		return e;
	}
	return 0;
}

int xctd_link_open(struct xctd_link *l, const struct xctd_link_cfg *c, char *err, size_t errlen)
{
	unsigned int plen, llen;
	int e;

	memset(l, 0, sizeof(*l));
	l->kind = c->kind;
	l->fd = l->sock = l->out_fd = l->in_fd = -1;
	if (c->ifname)
		snprintf(l->ifname, sizeof(l->ifname), "%s", c->ifname);
	if (xctd_parse_listen(c->peer, &l->peer, &plen)) {
		snprintf(err, errlen, "%s %s: not ADDR:PORT or [ADDR]:PORT",
			 c->kind == XCTD_LINK_MCAST ? "--sync-multicast" : "--sync-peer", c->peer);
		return -EINVAL;
	}
	l->peer_len = plen;
	if (c->listen && c->kind != XCTD_LINK_MCAST) {
		if (xctd_parse_listen(c->listen, &l->local, &llen)) {
			snprintf(err, errlen, "--sync-listen %s: not ADDR:PORT or [ADDR]:PORT",
				 c->listen);
			return -EINVAL;
		}
		if (l->local.ss_family != l->peer.ss_family) {
			snprintf(err, errlen, "--sync-listen %s and --sync-peer %s: not one family",
				 c->listen, c->peer);
			return -EINVAL;
		}
		l->local_given = true;
	} else {
		/* The wildcard address, the peer's port, as conntrackd's Port. */
		memset(&l->local, 0, sizeof(l->local));
		l->local.ss_family = l->peer.ss_family;
		set_port(&l->local, get_port(&l->peer));
		llen = plen;
	}
	l->local_len = llen;
	switch (c->kind) {
	case XCTD_LINK_MCAST:
		e = open_mcast(l, err, errlen);
		break;
	case XCTD_LINK_TCP:
		e = open_tcp(l, err, errlen);
		break;
	default:
		e = open_udp(l, err, errlen);
		break;
	}
	if (e)
		xctd_link_close(l);
	return e;
}

/* ---- TCP ---- */

/* The length of the message at off of the send queue. */
static size_t tx_msg_len(const struct xctd_link *l, size_t off)
{
	size_t len = xct_ctsync_get16(l->tx + off + 2);

	/* Only whole messages of our own are queued; a length below a
	 * header cannot be, and ends the walk rather than loop on it. */
	return len >= XCT_CTSYNC_HDR_LEN ? len : l->tx_len - off;
}

/* After a write: tx_head to the first message not wholly written, the
 * queue emptied when all was. */
static void tx_advance(struct xctd_link *l)
{
	while (l->tx_head < l->tx_len && l->tx_head + tx_msg_len(l, l->tx_head) <= l->tx_off)
		l->tx_head += tx_msg_len(l, l->tx_head);
	if (l->tx_off == l->tx_len)
		l->tx_len = l->tx_off = l->tx_head = 0;
}

/* What out_fd is polled for: its end (and its connect) always, room to
 * write while something waits. */
static void out_interest(struct xctd_link *l)
{
	__u32 ev = EPOLLIN | EPOLLRDHUP;

	if (l->out_fd < 0)
		return;
	if (!l->out_up || l->tx_off < l->tx_len)
		ev |= EPOLLOUT;
	if (ev != l->out_events && !epoll_set(l, EPOLL_CTL_MOD, l->out_fd, ev, TAG_OUT))
		l->out_events = ev;
}

/* Our connection is gone: the message it cut is dropped (its rest would
 * not frame on a new connection), the next waits for one. */
static void out_down(struct xctd_link *l, __u64 now_ns, bool failed)
{
	if (l->out_fd >= 0) {
		epoll_ctl(l->fd, EPOLL_CTL_DEL, l->out_fd, NULL);
		close(l->out_fd);
	}
	l->out_fd = -1;
	if (failed)
		l->st.connect_failed++;
	if (l->out_up)
		l->st.disconnects++;
	l->out_up = false;
	if (l->tx_off > l->tx_head) {
		l->tx_off = l->tx_head + tx_msg_len(l, l->tx_head);
		l->st.dropped++;
		tx_advance(l);
	}
}

static void tx_write(struct xctd_link *l, __u64 now_ns)
{
	ssize_t n;

	while (l->out_up && l->tx_off < l->tx_len) {
		n = send(l->out_fd, l->tx + l->tx_off, l->tx_len - l->tx_off,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			out_down(l, now_ns, false);
			return;
		}
		l->tx_off += (size_t)n;
		tx_advance(l);
	}
	out_interest(l);
}

static void out_connect(struct xctd_link *l, __u64 now_ns)
{
	struct sockaddr_storage src;
	int fd;

	l->next_connect_ns = now_ns + XCTD_LINK_CONNECT_EVERY_NS;
	l->connect_ns = now_ns;
	fd = socket(l->peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	/* From the listening address when one was given: the peer checks
	 * where its connections come from. */
	if (bind_device(l, fd))
		goto fail;
	if (l->local_given) {
		src = l->local;
		set_port(&src, 0);
		if (bind(fd, (struct sockaddr *)&src, l->local_len))
			goto fail;
	}
	if (connect(fd, (struct sockaddr *)&l->peer, l->peer_len) && errno != EINPROGRESS)
		goto fail;
	l->out_fd = fd;
	l->out_events = EPOLLIN | EPOLLRDHUP | EPOLLOUT;
	if (epoll_set(l, EPOLL_CTL_ADD, fd, l->out_events, TAG_OUT)) {
		l->out_fd = -1;
		goto fail;
	}
	return;
fail:
	close(fd);
	l->st.connect_failed++;
}

/* out_fd's events: its connect done or failed, its end, room to write. */
static void out_event(struct xctd_link *l, __u32 events, __u64 now_ns)
{
	char buf[256];
	ssize_t n;

	if (!l->out_up) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(l->out_fd, SOL_SOCKET, SO_ERROR, &soerr, &len) || soerr ||
		    (events & (EPOLLERR | EPOLLHUP))) {
			out_down(l, now_ns, true);
			return;
		}
		l->out_up = true;
		l->st.connects++;
	}
	/* The peer never writes on this one: a read sees its end. */
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		n = recv(l->out_fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			out_down(l, now_ns, false);
			return;
		}
	}
	tx_write(l, now_ns);
}

static void in_down(struct xctd_link *l)
{
	if (l->in_fd < 0)
		return;
	epoll_ctl(l->fd, EPOLL_CTL_DEL, l->in_fd, NULL);
	close(l->in_fd);
	l->in_fd = -1;
	l->rx_len = 0;
	l->st.closes++;
}

/* The peer connects: a newer connection replaces the older, as
 * conntrackd's (the peer restarted, and the old one is dead). */
static void in_accept(struct xctd_link *l)
{
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	int fd;

	fd = accept4(l->sock, (struct sockaddr *)&from, &flen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (!same_addr(&from, &l->peer)) {
		close(fd);
		l->st.foreign++;
		return;
	}
	in_down(l);
	if (epoll_set(l, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLRDHUP, TAG_IN)) {
		close(fd);
		return;
	}
	l->in_fd = fd;
	l->rx_len = 0;
	l->st.accepts++;
}

/* The peer's stream: its whole messages to rx, the rest kept for the next
 * read.  A length below a header loses the framing for good: the
 * connection is closed, and the peer's next one starts clean. */
static void in_read(struct xctd_link *l, xctd_link_rx_fn rx, void *arg)
{
	int rounds;

	for (rounds = 0; rounds < 64 && l->in_fd >= 0; rounds++) {
		ssize_t n = recv(l->in_fd, l->rx + l->rx_len, XCTD_LINK_RX_MAX - l->rx_len,
				 MSG_DONTWAIT);
		size_t off = 0;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			in_down(l);
			return;
		}
		l->rx_len += (size_t)n;
		while (l->rx_len - off >= XCT_CTSYNC_HDR_LEN) {
			size_t len = xct_ctsync_get16(l->rx + off + 2);

			if (len < XCT_CTSYNC_HDR_LEN) {
				l->st.bad_framing++;
				if (off)
					rx(arg, l->rx, off);
				in_down(l);
				return;
			}
			if (off + len > l->rx_len)
				break;
			off += len;
		}
		if (off)
			rx(arg, l->rx, off);
		memmove(l->rx, l->rx + off, l->rx_len - off);
		l->rx_len -= off;
	}
}

static void tcp_input(struct xctd_link *l, xctd_link_rx_fn rx, void *arg, __u64 now_ns)
{
	struct epoll_event evs[8];
	int n, i;

	n = epoll_wait(l->fd, evs, 8, 0);
	for (i = 0; i < n; i++) {
		switch (evs[i].data.u32) {
		case TAG_LISTENER:
			in_accept(l);
			break;
		case TAG_OUT:
			if (l->out_fd >= 0)
				out_event(l, evs[i].events, now_ns);
			break;
		case TAG_IN:
			in_read(l, rx, arg);
			break;
		}
	}
}

static int tcp_send(struct xctd_link *l, const __u8 *buf, size_t len, __u64 now_ns)
{
	if (l->tx_len - l->tx_head + len > XCTD_LINK_TX_MAX)
		return -ENOBUFS;
	/* Room: the written part goes first, then the buffer grows. */
	if (l->tx_head && l->tx_len + len > l->tx_cap) {
		memmove(l->tx, l->tx + l->tx_head, l->tx_len - l->tx_head);
		l->tx_len -= l->tx_head;
		l->tx_off -= l->tx_head;
		l->tx_head = 0;
	}
	if (l->tx_len + len > l->tx_cap) {
		size_t cap = l->tx_cap ? l->tx_cap : 65536;
		__u8 *p;

		while (cap < l->tx_len + len)
			cap *= 2;
		p = realloc(l->tx, cap);
		if (!p)
			return -ENOMEM;
		l->tx = p;
		l->tx_cap = cap;
	}
	memcpy(l->tx + l->tx_len, buf, len);
	l->tx_len += len;
	tx_write(l, now_ns);
	return 0;
}

/* ---- datagrams ---- */

static bool own_datagram(const struct xctd_link *l, const struct sockaddr_storage *from)
{
	unsigned int i;

	for (i = 0; i < l->n_own; i++)
		if (same_addr(&l->own[i], from))
			return true;
	return false;
}

static void dgram_input(struct xctd_link *l, xctd_link_rx_fn rx, void *arg)
{
	static __u8 buf[65536];
	struct sockaddr_storage from;
	socklen_t flen;
	ssize_t n;

	for (;;) {
		flen = sizeof(from);
		n = recvfrom(l->sock, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
			     &flen);
		if (n < 0)
			return; /* EAGAIN: all read */
		if (l->kind == XCTD_LINK_MCAST) {
			/* Any member of the group is the peer, but not us:
			 * loopback is off, and this is in case a second
			 * socket of this host sends to the group. */
			if (own_datagram(l, &from)) {
				l->st.own++;
				continue;
			}
		} else if (!same_addr(&from, &l->peer)) {
			/* Anyone else could feed connections to this
			 * firewall. */
			l->st.foreign++;
			continue;
		}
		rx(arg, buf, (size_t)n);
	}
}

int xctd_link_send(struct xctd_link *l, const __u8 *buf, size_t len, __u64 now_ns)
{
	if (l->kind == XCTD_LINK_TCP)
		return tcp_send(l, buf, len, now_ns);
	if (sendto(l->sock, buf, len, MSG_DONTWAIT, (struct sockaddr *)&l->peer, l->peer_len) !=
	    (ssize_t)len)
		return -errno;
	return 0;
}

void xctd_link_input(struct xctd_link *l, xctd_link_rx_fn rx, void *arg, __u64 now_ns)
{
	if (l->kind == XCTD_LINK_TCP)
		tcp_input(l, rx, arg, now_ns);
	else
		dgram_input(l, rx, arg);
}

void xctd_link_tick(struct xctd_link *l, __u64 now_ns)
{
	if (l->kind != XCTD_LINK_TCP)
		return;
	/* An attempt that hangs (the peer's host down, its SYNs lost) is
	 * given up for a new one, so that a peer back comes in quickly. */
	if (l->out_fd >= 0 && !l->out_up && now_ns - l->connect_ns >= XCTD_LINK_CONNECT_TIMEOUT_NS)
		out_down(l, now_ns, true);
	if (l->out_fd < 0 && now_ns >= l->next_connect_ns)
		out_connect(l, now_ns);
}

void xctd_link_get_stats(const struct xctd_link *l, struct xctd_link_stats *st)
{
	*st = l->st;
	st->queued_bytes = l->tx_len - l->tx_off;
	st->out_up = l->out_up;
	st->in_up = l->in_fd >= 0;
}

void xctd_link_close(struct xctd_link *l)
{
	if (l->out_fd >= 0)
		close(l->out_fd);
	if (l->in_fd >= 0)
		close(l->in_fd);
	if (l->sock >= 0)
		close(l->sock);
	if (l->kind == XCTD_LINK_TCP && l->fd >= 0)
		close(l->fd);
	free(l->tx);
	free(l->rx);
	l->tx = l->rx = NULL;
	l->fd = l->sock = l->out_fd = l->in_fd = -1;
}
