// SPDX-License-Identifier: GPL-2.0-only
/*
 * The sync link's TCP transport (src/daemon/sync_link.c) between two links
 * of this process on the loopback: both connections come up, a stream far
 * larger than the sockets' buffers arrives whole message by message (the
 * writes and reads cut anywhere), a peer that goes away is counted and
 * reconnected with what was sent meanwhile, and a connection from another
 * address or a stream that loses its framing is refused.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "check.h"
#include "daemon/sync_link.h"
#include "xct/ctsync.h"

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* A free TCP port on 127.0.0.1 (the kernel's pick, released). */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		port = -1;
	else
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* What a link received, and whether every batch was whole messages. */
struct rx_log {
	__u8 *buf;
	size_t len, cap;
	unsigned int batches;
	bool cut; /* a batch that did not end on a message's end */
};

static void rx_log(void *arg, const __u8 *buf, size_t len)
{
	struct rx_log *r = arg;
	size_t off = 0;

	while (off + XCT_CTSYNC_HDR_LEN <= len && xct_ctsync_get16(buf + off + 2) >= 8)
		off += xct_ctsync_get16(buf + off + 2);
	if (off != len)
		r->cut = true;
	if (r->len + len > r->cap) {
		r->cap = (r->len + len) * 2;
		r->buf = realloc(r->buf, r->cap);
	}
	memcpy(r->buf + r->len, buf, len);
	r->len += len;
	r->batches++;
}

struct pair {
	struct xctd_link a, b;
	struct rx_log ra, rb;
	char a_peer[32], a_listen[32], b_peer[32], b_listen[32];
};

static int open_b(struct pair *p)
{
	struct xctd_link_cfg cb = {.kind = XCTD_LINK_TCP, .peer = p->b_peer, .listen = p->b_listen};
	char err[256];

	return xctd_link_open(&p->b, &cb, err, sizeof(err));
}

static int open_pair(struct pair *p)
{
	struct xctd_link_cfg ca = {.kind = XCTD_LINK_TCP, .peer = p->a_peer, .listen = p->a_listen};
	int pa = free_port(), pb = free_port();
	char err[256];

	memset(p, 0, sizeof(*p));
	snprintf(p->a_listen, sizeof(p->a_listen), "127.0.0.1:%d", pa);
	snprintf(p->b_peer, sizeof(p->b_peer), "127.0.0.1:%d", pa);
	snprintf(p->b_listen, sizeof(p->b_listen), "127.0.0.1:%d", pb);
	snprintf(p->a_peer, sizeof(p->a_peer), "127.0.0.1:%d", pb);
	if (pa < 0 || pb < 0 || xctd_link_open(&p->a, &ca, err, sizeof(err)))
		return -1;
	return open_b(p);
}

/* Runs both links (b only when open) for up to ms, until done(p). */
static bool pump(struct pair *p, bool b_open, int ms, bool (*done)(struct pair *))
{
	__u64 end = now_ns() + (__u64)ms * 1000000ULL;

	while (now_ns() < end) {
		struct pollfd pfd[2] = {{.fd = p->a.fd, .events = POLLIN},
					{.fd = b_open ? p->b.fd : -1, .events = POLLIN}};

		if (done && done(p))
			return true;
		poll(pfd, 2, 10);
		xctd_link_tick(&p->a, now_ns());
		xctd_link_input(&p->a, rx_log, &p->ra, now_ns());
		if (b_open) {
			xctd_link_tick(&p->b, now_ns());
			xctd_link_input(&p->b, rx_log, &p->rb, now_ns());
		}
	}
	return done ? done(p) : true;
}

static bool both_up(struct pair *p)
{
	struct xctd_link_stats a, b;

	xctd_link_get_stats(&p->a, &a);
	xctd_link_get_stats(&p->b, &b);
	return a.out_up && a.in_up && b.out_up && b.in_up;
}

/* Messages of lengths 8 to 1400 (multiples of 4), numbered, into buf. */
static size_t build_msgs(__u8 *buf, size_t cap, __u32 *seq)
{
	size_t off = 0;

	for (;;) {
		size_t len = 8 + 4 * ((*seq * 37) % 349);
		size_t i;

		if (off + len > cap)
			return off;
		buf[off] = 0x10 | XCT_CTSYNC_CT_UPD;
		buf[off + 1] = 0;
		xct_ctsync_put16(buf + off + 2, (__u16)len);
		xct_ctsync_put32(buf + off + 4, *seq);
		for (i = 8; i < len; i++)
			buf[off + i] = (__u8)(*seq + i);
		(*seq)++;
		off += len;
	}
}

static size_t want_len;
static bool b_has_all(struct pair *p)
{
	return p->rb.len >= want_len;
}

TEST(sync_link_tcp_stream_arrives_whole)
{
	static struct pair p;
	static __u8 sent[4 << 20];
	size_t total = 0;
	__u32 seq = 1;

	CHECK_EQ(open_pair(&p), 0);
	CHECK(pump(&p, true, 5000, both_up));
	/* 4 MiB in datagram-sized batches, as sync.c hands them over: far
	 * more than the sockets hold, so that writes and reads split. */
	while (total + 1400 <= sizeof(sent)) {
		size_t n = build_msgs(sent + total, 1400, &seq);

		CHECK_EQ(xctd_link_send(&p.a, sent + total, n, now_ns()), 0);
		total += n;
	}
	want_len = total;
	CHECK(pump(&p, true, 10000, b_has_all));
	CHECK_EQ(p.rb.len, total);
	CHECK(!memcmp(p.rb.buf, sent, total));
	CHECK(!p.rb.cut);
	CHECK_EQ(p.b.st.bad_framing, 0);
	CHECK_EQ(p.a.st.dropped, 0);
	CHECK_EQ(p.a.st.connects, 1);
	CHECK_EQ(p.b.st.accepts, 1);
	xctd_link_close(&p.a);
	xctd_link_close(&p.b);
	free(p.ra.buf);
	free(p.rb.buf);
}

static bool a_out_down(struct pair *p)
{
	return p->a.st.disconnects == 1 && p->a.st.closes == 1;
}

static bool a_reconnected(struct pair *p)
{
	return p->a.st.connects == 2 && p->rb.len >= want_len;
}

TEST(sync_link_tcp_reconnects_with_what_waited)
{
	static struct pair p;
	__u8 msgs[1400];
	__u32 seq = 100;
	size_t n;

	CHECK_EQ(open_pair(&p), 0);
	CHECK(pump(&p, true, 5000, both_up));
	/* The peer goes away: both of its connections end, counted. */
	xctd_link_close(&p.b);
	CHECK(pump(&p, false, 5000, a_out_down));
	CHECK_EQ(p.a.out_up, false);
	CHECK_EQ(p.a.in_fd, -1);
	/* What is sent meanwhile waits, whole. */
	n = build_msgs(msgs, sizeof(msgs), &seq);
	CHECK_EQ(xctd_link_send(&p.a, msgs, n, now_ns()), 0);
	pump(&p, false, 1500, NULL);
	CHECK(p.a.st.connect_failed >= 1);
	CHECK_EQ(p.a.tx_len - p.a.tx_off, n);
	/* The peer back: the link reconnects within the second's retry and
	 * the waiting messages are the first the new peer reads. */
	memset(&p.rb, 0, sizeof(p.rb));
	CHECK_EQ(open_b(&p), 0);
	want_len = n;
	CHECK(pump(&p, true, 5000, a_reconnected));
	CHECK_EQ(p.rb.len, n);
	CHECK(!memcmp(p.rb.buf, msgs, n));
	CHECK_EQ(p.a.st.disconnects, 1);
	CHECK_EQ(p.a.st.dropped, 0);
	CHECK(pump(&p, true, 5000, both_up));
	CHECK_EQ(p.a.st.accepts, 2);
	xctd_link_close(&p.a);
	xctd_link_close(&p.b);
	free(p.rb.buf);
}

static bool a_foreign(struct pair *p)
{
	return p->a.st.foreign == 1;
}

static bool a_bad_framing(struct pair *p)
{
	return p->a.st.bad_framing == 1;
}

static bool a_has_all(struct pair *p)
{
	return p->ra.len >= want_len;
}

/* A connection to a's listener from src (port 0), or -1. */
static int connect_from(struct pair *p, const char *src)
{
	struct sockaddr_in s = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, src, &s.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&s, sizeof(s)) ||
	    connect(fd, (struct sockaddr *)&p->a.local, p->a.local_len)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

TEST(sync_link_tcp_refuses_strangers_and_bad_framing)
{
	static struct pair p;
	__u8 msg[8] = {0x10 | XCT_CTSYNC_CTL, XCT_CTSYNC_F_ALIVE, 0, 8, 0, 0, 0, 1};
	__u8 bad[8] = {0x10 | XCT_CTSYNC_CTL, 0, 0, 4, 0, 0, 0, 2};
	int fd;

	CHECK_EQ(open_pair(&p), 0);
	CHECK(pump(&p, true, 5000, both_up));
	/* b away, so that only the connections made here come in. */
	xctd_link_close(&p.b);
	CHECK(pump(&p, false, 5000, a_out_down));
	/* Another address of this host is not the peer. */
	fd = connect_from(&p, "127.0.0.2");
	CHECK(fd >= 0);
	CHECK(pump(&p, false, 2000, a_foreign));
	CHECK_EQ(p.a.st.accepts, 1);
	close(fd);
	/* The peer's address with a message split over two writes, then a
	 * length below a header: the message comes whole, then the
	 * connection is closed. */
	fd = connect_from(&p, "127.0.0.1");
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, msg, 3), 3);
	pump(&p, false, 100, NULL);
	CHECK_EQ(p.a.st.accepts, 2);
	CHECK_EQ(p.ra.len, 0);
	CHECK_EQ(write(fd, msg + 3, 5), 5);
	want_len = 8;
	CHECK(pump(&p, false, 2000, a_has_all));
	CHECK_EQ(p.ra.len, 8);
	CHECK(!memcmp(p.ra.buf, msg, 8));
	CHECK_EQ(write(fd, bad, 8), 8);
	CHECK(pump(&p, false, 2000, a_bad_framing));
	CHECK_EQ(p.a.in_fd, -1);
	CHECK_EQ(p.ra.len, 8);
	close(fd);
	xctd_link_close(&p.a);
	free(p.ra.buf);
}
