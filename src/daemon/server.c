// SPDX-License-Identifier: GPL-2.0-only
/*
 * xctd's event loop: the rings, the readers on the unix socket, the
 * metrics listener, in one epoll set and one thread.
 *
 * Readers.  Each reader has its own output buffer.  xctd never waits for a
 * reader: a record that does not fit into a slow reader's buffer is dropped
 * for that reader alone and counted, and the reader is told how many with
 * a LOST frame before its next record, so that its END line stays exact.
 *
 * Subscriptions.  The datapath builds connection events and drop events
 * only while someone refreshes their xct_subs slot; xctd does it while one
 * of its readers follows that stream, and during its first seconds.
 *
 * IPFIX.  With a collector, the connection events also go to the exporter
 * of src/export/ (the one xct export ipfix runs), whose sequence number
 * and template refresh live as long as xctd: one transport session and
 * one stream of sequence numbers for the collector.  It sends what it
 * holds after each pass of the loop, so a record waits at most the
 * loop's timeout.
 *
 * Restart.  The ring keeps its consumer position in the pinned map, so a
 * new xctd goes on where the last one stopped: what the datapath queued in
 * between is read, not thrown away, and kept for XCTD_RESUME_NS for the
 * readers that were following the last xctd (their hello says RESUME), who
 * kept the subscription alive while it was away.  What the ring had no
 * room for the datapath counted in its lost counters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ct_events.h"
#include "ct_ops.h"
#include "ct_state.h"
#include "daemon/rulelog.h"
#include "daemon/daemon.h"
#include "daemon/flowlog.h"
#include "daemon/http.h"
#include "daemon/sync.h"
#include "ct_format.h"
#include "daemon/wire.h"
#include "export/exporter.h"
#include "xct.h"

#define XCTD_RESUME_NS	 XCT_SUB_TTL_NS
#define XCTD_CLIENT_BUF	 (8U << 20)
#define XCTD_BACKLOG_MAX (32U << 20)
#define XCTD_RECHECK_NS	 (1000ULL * 1000 * 1000)
#define XCTD_MAX_EVENTS	 64

struct ring {
	struct xctd *d;
	enum xct_stream_kind kind;
	int fd, lock_fd;
	__u32 id;
	struct xct_sub sub;
	unsigned char *backlog; /* framed, as a resuming reader gets it */
	size_t blen, bcap;
	struct xctd_stream_stats st;
};

struct client {
	struct client *next;
	int fd;
	pid_t pid;
	bool hello, ready, want_out, dead;
	enum xct_stream_kind kind;
	unsigned char in[sizeof(struct xctd_hello)];
	size_t inlen;
	unsigned char *out;
	size_t olen, ocap;
	__u64 lost_pending;
};

struct xctd {
	const struct xctd_config *cfg;
	int epfd, lsock, msock;
	struct ring_buffer *rb;
	struct ring rings[XCT_STREAM_KINDS];
	struct client *clients;
	__u64 start_ns, next_check_ns;
	bool attached;
	struct xctd_log flow, nat; /* f NULL when not asked for */
	struct xctd_rulelog rulelog;
	struct xct_ipfix_exporter ipfix;
	bool ipfix_on;
	__s64 mono_to_real;
	struct xctd_sync sync;	/* fd -1 without --sync-peer */
	__u64 sync_rcv_seen;	/* the peer's messages when last logged */
	__u64 sync_resync_done; /* the peer's RESYNC requests answered */
	/* The link's counters when last logged. */
	struct xctd_link_stats sync_link_seen;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	stopping = 1;
}

static bool use_syslog;

/* One line to the journal (a <N> prefix on stderr sets its priority) or
 * to syslog when running as a daemon. */
static void xlog(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void xlog(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(prio, fmt, ap);
	} else {
		fprintf(stderr, "<%d>xctd: ", prio);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

/* Epoll data: a pointer for a client, small numbers for the rest. */
#define TAG_LISTEN  ((void *)1)
#define TAG_RINGS   ((void *)2)
#define TAG_METRICS ((void *)3)
#define TAG_SYNC    ((void *)4)

static int frame_put(unsigned char **buf, size_t *len, size_t *cap, size_t limit, __u16 type,
		     const void *data, size_t size)
{
	struct xctd_frame f = {.len = (__u32)size, .type = type};
	size_t need = *len + sizeof(f) + size;

	if (need > limit)
		return -ENOSPC;
	if (need > *cap) {
		size_t ncap = *cap ? *cap : 65536;
		unsigned char *b;

		while (ncap < need)
			ncap *= 2;
		b = realloc(*buf, ncap);
		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = ncap;
	}
	memcpy(*buf + *len, &f, sizeof(f));
	if (size)
		memcpy(*buf + *len + sizeof(f), data, size);
	*len = need;
	return 0;
}

/* Room for len more bytes in a reader's buffer: 0 or -ENOSPC. */
static int client_reserve(struct client *c, size_t len)
{
	unsigned char *b;

	if (c->olen + len > XCTD_CLIENT_BUF)
		return -ENOSPC;
	if (c->olen + len <= c->ocap)
		return 0;
	b = realloc(c->out, c->olen + len);
	if (!b)
		return -ENOSPC;
	c->out = b;
	c->ocap = c->olen + len;
	return 0;
}

static int client_put(struct client *c, __u16 type, const void *data, size_t size)
{
	return frame_put(&c->out, &c->olen, &c->ocap, XCTD_CLIENT_BUF, type, data, size);
}

/* One record for one reader: after the count of those it missed. */
static void client_event(struct ring *r, struct client *c, const void *data, size_t size)
{
	if (c->lost_pending) {
		if (c->olen + 2 * sizeof(struct xctd_frame) + sizeof(__u64) + size >
		    XCTD_CLIENT_BUF)
			goto drop;
		client_put(c, XCTD_F_LOST, &c->lost_pending, sizeof(c->lost_pending));
		c->lost_pending = 0;
	}
	if (!client_put(c, XCTD_F_EVENT, data, size)) {
		r->st.delivered++;
		return;
	}
drop:
	c->lost_pending++;
	r->st.dropped++;
}

/* A flow record for every connection's end; a NAT record for a
 * translated connection's start and end. */
static void log_event(struct xctd *d, const void *data, size_t size)
{
	struct xct_ct_event ev;

	if (xct_ct_event_decode(data, size, &ev))
		return;
	/* One destination for both (xct.conf's flow-log): each event once. */
	if (d->cfg->nat_log && d->cfg->flow_log && !strcmp(d->cfg->nat_log, d->cfg->flow_log)) {
		if (ev.type == XCT_CTE_DESTROY || (ev.nat_manip && ev.type == XCT_CTE_NEW))
			xctd_log_event(&d->flow, &ev, d->mono_to_real);
		return;
	}
	if (ev.type == XCT_CTE_DESTROY)
		xctd_log_event(&d->flow, &ev, d->mono_to_real);
	if (ev.nat_manip && (ev.type == XCT_CTE_NEW || ev.type == XCT_CTE_DESTROY))
		xctd_log_event(&d->nat, &ev, d->mono_to_real);
}

/* An event's flow and NAT records, to the collector. */
static void export_event(struct xctd *d, const void *data, size_t size)
{
	struct xct_ct_event ev;

	if (!xct_ct_event_decode(data, size, &ev))
		xct_ipfix_exporter_event(&d->ipfix, &ev);
}

/* Whether something of xctd's own reads the connection events. */
static bool ct_events_wanted(const struct xctd *d)
{
	return xctd_log_on(&d->flow) || xctd_log_on(&d->nat) || d->ipfix_on || d->sync.fd >= 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct ring *r = ctx;
	struct xctd *d = r->d;
	struct client *c;

	if (size > XCTD_MAX_PAYLOAD)
		return 0;
	if (xct_now_ns() - d->start_ns < XCTD_RESUME_NS)
		frame_put(&r->backlog, &r->blen, &r->bcap, XCTD_BACKLOG_MAX, XCTD_F_EVENT, data,
			  size);
	for (c = d->clients; c; c = c->next)
		if (c->ready && c->kind == r->kind)
			client_event(r, c, data, size);
	if (r->kind == XCT_STREAM_CT_EVENTS && (xctd_log_on(&d->flow) || xctd_log_on(&d->nat)))
		log_event(d, data, size);
	if (r->kind == XCT_STREAM_CT_EVENTS && d->sync.fd >= 0) {
		struct xct_ct_event ev;

		if (!xct_ct_event_decode(data, size, &ev))
			xctd_sync_event(&d->sync, &ev, xct_now_ns());
	}
	if (r->kind == XCT_STREAM_CT_EVENTS && d->ipfix_on)
		export_event(d, data, size);
	if (r->kind == XCT_STREAM_EVENTS)
		xctd_rulelog_event(&d->rulelog, data, size);
	return 0;
}

/*
 * Ends a reader.  Its memory stays until reap(): the epoll batch being
 * handled may still name it.
 */
static void client_free(struct xctd *d, struct client *c)
{
	if (c->dead)
		return;
	if (c->ready) {
		d->rings[c->kind].st.readers--;
		xlog(LOG_INFO, "reader pid %d of the %s left", (int)c->pid,
		     xct_stream_info(c->kind)->name);
	}
	c->ready = false;
	c->dead = true;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

static void reap(struct xctd *d)
{
	struct client **pp = &d->clients, *c;

	while ((c = *pp)) {
		if (!c->dead) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		free(c->out);
		free(c);
	}
}

/* Sends what fits; 0, or -1 when the reader is gone. */
static int client_flush(struct xctd *d, struct client *c)
{
	size_t off = 0;
	bool want;

	while (off < c->olen) {
		ssize_t n = send(c->fd, c->out + off, c->olen - off, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -1;
		}
		off += (size_t)n;
	}
	memmove(c->out, c->out + off, c->olen - off);
	c->olen -= off;
	want = c->olen > 0;
	if (want != c->want_out) {
		struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};

		epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
		c->want_out = want;
	}
	return 0;
}

static void flush_all(struct xctd *d)
{
	struct client *c, *next;

	for (c = d->clients; c; c = next) {
		next = c->next;
		if (!c->dead && c->olen && client_flush(d, c))
			client_free(d, c);
	}
}

static void close_rings(struct xctd *d)
{
	int k;

	ring_buffer__free(d->rb);
	d->rb = NULL;
	for (k = 0; k < XCT_STREAM_KINDS; k++) {
		struct ring *r = &d->rings[k];

		xct_sub_close(&r->sub);
		if (r->fd >= 0)
			close(r->fd);
		xct_ring_unlock(d->cfg->run_dir, r->id, r->lock_fd);
		r->fd = r->lock_fd = -1;
		r->st.open = false;
	}
	d->attached = false;
}

/*
 * Opens the rings pinned under the pin path and takes their locks.  0 when
 * attached, -ENOENT when xct is not (yet) attached there, -EBUSY when a
 * direct reader holds a ring.
 */
static int open_rings(struct xctd *d)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = TAG_RINGS};
	int k, err, holder;

	for (k = 0; k < XCT_STREAM_KINDS; k++) {
		struct ring *r = &d->rings[k];

		err = xct_ring_open(d->cfg->pin_path, k, &r->fd, &r->id);
		if (err == -ENOENT && k != XCT_STREAM_CT_EVENTS)
			continue; /* an older datapath without this stream */
		if (err)
			goto fail;
		r->lock_fd = xct_ring_lock(d->cfg->run_dir, r->id, &holder);
		if (r->lock_fd < 0) {
			err = r->lock_fd;
			if (err == -EBUSY)
				xlog(LOG_ERR,
				     "another reader (pid %d) holds the %s ring; xctd needs it alone",
				     holder, xct_stream_info(k)->name);
			else
				xlog(LOG_ERR, "cannot lock the %s ring under %s: %s",
				     xct_stream_info(k)->name, d->cfg->run_dir, strerror(-err));
			goto fail;
		}
		if (!d->rb)
			d->rb = ring_buffer__new(r->fd, on_record, r, NULL);
		else if (ring_buffer__add(d->rb, r->fd, on_record, r))
			goto nomem;
		if (!d->rb)
			goto nomem;
		r->st.open = true;
		if (xct_stream_info(k)->sub_kind >= 0)
			xct_sub_open_at(&r->sub, d->cfg->pin_path,
					(enum xct_sub_kind)xct_stream_info(k)->sub_kind);
	}
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(d->rb), &ev))
		goto nomem;
	d->attached = true;
	return 0;
nomem:
	err = errno ? -errno : -ENOMEM;
	xlog(LOG_ERR, "cannot read the rings: %s", strerror(-err));
fail:
	close_rings(d);
	return err;
}

/* The rings a re-attach replaced: their readers follow a state that is
 * gone, and are told so. */
static void check_rings(struct xctd *d)
{
	static const char msg[] = "xct was detached; the stream you followed has ended";
	struct client *c, *next;
	bool changed = false;
	__u32 id;
	int k;

	for (k = 0; k < XCT_STREAM_KINDS; k++) {
		struct ring *r = &d->rings[k];
		int err = xct_ring_open(d->cfg->pin_path, k, NULL, &id);

		if (r->st.open ? (err || id != r->id) : (!err && d->attached))
			changed = true;
	}
	if (d->attached && !changed)
		return;
	if (d->attached) {
		xlog(LOG_NOTICE, "the rings under %s changed: reopening them", d->cfg->pin_path);
		for (c = d->clients; c; c = next) {
			next = c->next;
			if (!c->ready)
				continue;
			client_put(c, XCTD_F_ERROR, msg, sizeof(msg) - 1);
			client_flush(d, c);
			client_free(d, c);
		}
		close_rings(d);
	}
	if (!open_rings(d))
		xlog(LOG_INFO, "following the rings under %s", d->cfg->pin_path);
}

static void refresh_subs(struct xctd *d)
{
	bool early = xct_now_ns() - d->start_ns < XCTD_RESUME_NS;
	int k;

	for (k = 0; k < XCT_STREAM_KINDS; k++) {
		struct ring *r = &d->rings[k];

		if (r->sub.fd < 0)
			continue;
		/* The logs, the exporter and the sync read connection
		 * events all the time. */
		if (r->st.readers || early || (k == XCT_STREAM_CT_EVENTS && ct_events_wanted(d)))
			xct_sub_refresh(&r->sub);
		else if (r->sub.last_ns)
			xct_sub_end(&r->sub); /* the last reader left */
		if (!early && r->backlog) {
			free(r->backlog);
			r->backlog = NULL;
			r->blen = r->bcap = 0;
		}
	}
}

static void client_error(struct xctd *d, struct client *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void client_error(struct xctd *d, struct client *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	client_put(c, XCTD_F_ERROR, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	client_flush(d, c);
	client_free(d, c);
}

/* The sync link's counters, for xct sync stats and /metrics. */
static void sync_report(const struct xctd *d, struct xctd_sync_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	snprintf(rep->peer, sizeof(rep->peer), "%s", d->cfg->sync_peer);
	snprintf(rep->mode, sizeof(rep->mode), "%s", xctd_sync_mode_name(d->sync.mode));
	snprintf(rep->transport, sizeof(rep->transport), "%s",
		 xctd_link_kind_name(d->sync.link.kind));
	xctd_sync_get_stats(&d->sync, &rep->st);
}

/*
 * A sync request (commit or flush of the external cache, a resync asked
 * of the peer, the counters): done at once,
 * answered, and the connection closed.  A commit is synchronous, so that
 * keepalived's notify script returns once the table holds the peer's
 * connections.
 */
static void sync_request(struct xctd *d, struct client *c, __u32 flags)
{
	struct xctd_sync_result res = {.cached = d->sync.ext.n};
	struct xct_ct_state_counts n;
	struct xct_table t;
	int err;

	if (d->sync.fd < 0) {
		client_error(d, c, "this xctd does not sync (no --sync-peer)");
		return;
	}
	if (flags & XCTD_HELLO_SYNC_COMMIT) {
		err = xct_table_open_at(&t, d->cfg->pin_path, 0);
		if (err) {
			client_error(d, c, "cannot open the table under %s: %s", d->cfg->pin_path,
				     strerror(-err));
			return;
		}
		err = xctd_sync_commit(&d->sync, &t, xct_now_ns(), &n);
		xct_table_close(&t);
		res.committed = n.restored;
		res.liberal = n.liberal;
		res.exists = n.exists;
		res.nat_clash = n.nat_clash;
		res.failed = n.failed;
		xlog(err ? LOG_ERR : LOG_NOTICE,
		     "sync commit by pid %d: %llu of %llu connections committed (%llu TCP "
		     "liberally), %llu already in the table, %llu NAT clashes, %llu refused%s%s",
		     (int)c->pid, (unsigned long long)res.committed, (unsigned long long)res.cached,
		     (unsigned long long)res.liberal, (unsigned long long)res.exists,
		     (unsigned long long)res.nat_clash, (unsigned long long)res.failed,
		     err ? ": " : "", err ? strerror(-err) : "");
		if (err) {
			client_error(d, c, "commit failed: %s", strerror(-err));
			return;
		}
	}
	if (flags & XCTD_HELLO_SYNC_PURGE) {
		int ctl_fd = xct_ctl_open(d->cfg->pin_path);

		if (ctl_fd < 0) {
			client_error(d, c, "cannot open the control program under %s: %s",
				     d->cfg->pin_path, strerror(-ctl_fd));
			return;
		}
		err = xctd_sync_purge(&d->sync, ctl_fd, &res.purged);
		xlog(err ? LOG_ERR : LOG_NOTICE,
		     "sync purge by pid %d: %llu of %llu connections the peer holds taken out "
		     "of the table, and the peer's from now until a commit%s%s",
		     (int)c->pid, (unsigned long long)res.purged, (unsigned long long)res.cached,
		     err ? ": " : "", err ? strerror(-err) : "");
		if (err) {
			client_error(d, c, "purge failed: %s", strerror(-err));
			return;
		}
	}
	if (flags & XCTD_HELLO_SYNC_STATS) {
		struct xctd_sync_report rep;

		sync_report(d, &rep);
		client_put(c, XCTD_F_DONE, &rep, sizeof(rep));
		client_flush(d, c);
		client_free(d, c);
		return;
	}
	if (flags & XCTD_HELLO_SYNC_RESYNC) {
		xctd_sync_request_resync(&d->sync, xct_now_ns());
		xlog(LOG_NOTICE, "sync resync by pid %d: asked %s for its table", (int)c->pid,
		     d->cfg->sync_peer);
	}
	if (flags & XCTD_HELLO_SYNC_FLUSH) {
		d->sync.st.flushes++;
		xctd_sync_flush_cache(&d->sync);
		xlog(LOG_NOTICE, "sync flush by pid %d: %llu connections dropped from the cache",
		     (int)c->pid, (unsigned long long)res.cached);
	}
	client_put(c, XCTD_F_DONE, &res, sizeof(res));
	client_flush(d, c);
	client_free(d, c);
}

static void client_hello(struct xctd *d, struct client *c)
{
	struct xctd_hello h;
	struct ring *r;

	memcpy(&h, c->in, sizeof(h));
	c->hello = true;
	if (h.magic != XCTD_MAGIC || h.version != XCTD_VERSION || h.stream >= XCT_STREAM_KINDS) {
		client_error(d, c, "not a reader of this xctd's version (%u)", XCTD_VERSION);
		return;
	}
	r = &d->rings[h.stream];
	/* A reader that found rings xctd does not follow (yet): xct was
	 * attached, or attached again, since xctd last looked. */
	if (!d->attached || !r->st.open || r->id != h.ring_id)
		check_rings(d);
	if (!d->attached) {
		client_error(d, c, "xct is not attached under %s", d->cfg->pin_path);
		return;
	}
	if (!r->st.open || r->id != h.ring_id) {
		client_error(d, c,
			     "this xctd follows the xct under %s, not yours (another --pin-path "
			     "needs its own xctd, with its own --socket)",
			     d->cfg->pin_path);
		return;
	}
	if (h.flags & XCTD_HELLO_SYNC_REQUESTS) {
		sync_request(d, c, h.flags);
		return;
	}
	/* What the ring holds now goes to the readers there before this one
	 * arrived: this one gets what comes after. */
	ring_buffer__consume(d->rb);
	c->kind = h.stream;
	c->ready = true;
	r->st.readers++;
	client_put(c, XCTD_F_READY, NULL, 0);
	if ((h.flags & XCTD_HELLO_RESUME) && r->blen && !client_reserve(c, r->blen)) {
		memcpy(c->out + c->olen, r->backlog, r->blen);
		c->olen += r->blen;
	}
	refresh_subs(d);
	xlog(LOG_INFO, "reader pid %d follows the %s%s", (int)c->pid,
	     xct_stream_info(c->kind)->name, h.flags & XCTD_HELLO_RESUME ? " again" : "");
	client_flush(d, c);
}

static void client_input(struct xctd *d, struct client *c)
{
	unsigned char buf[256];
	struct xctd_frame f;
	ssize_t n;
	size_t off = 0;

	n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_free(d, c);
		return;
	}
	while (off < (size_t)n) {
		if (!c->hello) {
			size_t take = sizeof(c->in) - c->inlen;

			if (take > (size_t)n - off)
				take = (size_t)n - off;
			memcpy(c->in + c->inlen, buf + off, take);
			c->inlen += take;
			off += take;
			if (c->inlen == sizeof(c->in)) {
				c->inlen = 0;
				client_hello(d, c);
				if (!c->ready)
					return; /* freed */
			}
			continue;
		}
		/* After the hello: SYNC frames, one header each. */
		memcpy(c->in + c->inlen, buf + off, 1);
		c->inlen++;
		off++;
		if (c->inlen < sizeof(f))
			continue;
		memcpy(&f, c->in, sizeof(f));
		c->inlen = 0;
		if (f.type != XCTD_F_SYNC || f.len) {
			client_error(d, c, "unexpected frame %u", f.type);
			return;
		}
		ring_buffer__consume(d->rb);
		client_put(c, XCTD_F_SYNC, NULL, 0);
	}
	flush_all(d);
}

static void accept_client(struct xctd *d)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct epoll_event ev = {.events = EPOLLIN};
	struct client *c;
	int fd;

	fd = accept4(d->lsock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.uid != 0) {
		xlog(LOG_WARNING, "refused a reader of uid %u: only root reads events",
		     (unsigned)cred.uid);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->pid = cred.pid;
	ev.data.ptr = c;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		close(fd);
		free(c);
		return;
	}
	c->next = d->clients;
	d->clients = c;
}

/*
 * The socket: its directory made or checked (root's, 0700, nothing on the
 * way that another user could change), a live xctd there refused, a stale
 * socket replaced, the new one 0600.
 */
static int listen_socket(struct xctd *d)
{
	const char *path = d->cfg->socket_path;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)], *slash;
	struct stat st;
	mode_t old;
	int fd, err;

	if (path[0] != '/' || strlen(path) >= sizeof(sa.sun_path)) {
		xlog(LOG_ERR, "--socket %s: an absolute path of at most %zu bytes", path,
		     sizeof(sa.sun_path) - 1);
		return -EINVAL;
	}
	strcpy(sa.sun_path, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	if (xct_safe_dir(slash == dir ? "/" : dir, true))
		return -EPERM;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			xlog(LOG_ERR, "refusing %s: it exists and is not a socket", path);
			close(fd);
			return -EEXIST;
		}
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			xlog(LOG_ERR, "another xctd listens on %s", path);
			close(fd);
			return -EADDRINUSE;
		}
		close(fd);
		unlink(path); /* one that died without removing it */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
	}
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (!err && chmod(path, 0600))
		err = -errno;
	if (!err && listen(fd, 64))
		err = -errno;
	if (err) {
		xlog(LOG_ERR, "cannot listen on %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	d->lsock = fd;
	return 0;
}

/* The stream's last records, to every reader, before exiting. */
static void drain_out(struct xctd *d)
{
	__u64 deadline = xct_now_ns() + 2000ULL * 1000 * 1000;
	struct client *c;
	bool pending = true;

	if (d->rb)
		ring_buffer__consume(d->rb);
	while (pending && xct_now_ns() < deadline) {
		flush_all(d);
		pending = false;
		for (c = d->clients; c; c = c->next)
			pending |= !c->dead && c->olen > 0;
		if (pending)
			usleep(10000);
	}
}

/* What the sync leaves out, for the log: the settings may come from the
 * command line or from xct.conf, and this says which won. */
static void sync_log_filters(const struct xctd_config *cfg)
{
	char buf[XCTD_SYNC_IGNORE_MAX * 48];
	size_t off = 0;
	unsigned int i;

	if (cfg->n_sync_ignore) {
		for (i = 0; i < cfg->n_sync_ignore && off < sizeof(buf); i++)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? ", " : "",
						cfg->sync_ignore[i]);
		xlog(LOG_INFO, "sync: connections of %s not sent", buf);
	}
	if (cfg->sync_state_accept) {
		off = 0;
		for (i = 0; i < XCT_TCP_STATE_COUNT && off < sizeof(buf); i++)
			if (cfg->sync_state_accept & (1U << i))
				off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s",
							off ? ", " : "", xct_tcp_state_name(i));
		xlog(LOG_INFO, "sync: TCP connections sent only in %s", buf);
	}
	if (cfg->sync_commit_on_receive)
		xlog(LOG_INFO, "sync: the peer's connections committed as they arrive");
}

/* What the sync link did, for the log. */
static void sync_log_totals(struct xctd *d)
{
	const struct xctd_sync_stats *st = &d->sync.st;
	__u64 malformed = 0;
	int i;

	for (i = 0; i < XCT_CTSYNC_ERR_COUNT; i++)
		malformed += st->msg_rcv_malformed[i];
	xlog(LOG_INFO,
	     "sync: sent %llu messages (%llu new, %llu updates, %llu destroys), %llu lost; "
	     "received %llu (%llu alive, %llu resync requests), %llu malformed, %llu lost",
	     (unsigned long long)st->msg_snd, (unsigned long long)st->data_snd[XCT_CTSYNC_CT_NEW],
	     (unsigned long long)st->data_snd[XCT_CTSYNC_CT_UPD],
	     (unsigned long long)st->data_snd[XCT_CTSYNC_CT_DEL],
	     (unsigned long long)st->msg_snd_lost, (unsigned long long)st->msg_rcv,
	     (unsigned long long)st->alive_rcv, (unsigned long long)st->resync_rcv,
	     (unsigned long long)malformed, (unsigned long long)st->msg_rcv_lost);
}

/* TCP: the connections coming and going, for the log. */
static void sync_log_link(struct xctd *d)
{
	struct xctd_link_stats *seen = &d->sync_link_seen;
	const struct xctd_link_stats *st = &d->sync.link.st;

	if (st->connects != seen->connects)
		xlog(LOG_INFO, "the sync connection to %s is up", d->cfg->sync_peer);
	if (st->disconnects != seen->disconnects)
		xlog(LOG_WARNING, "the sync connection to %s ended: reconnecting",
		     d->cfg->sync_peer);
	if (st->accepts != seen->accepts)
		xlog(LOG_INFO, "the sync peer %s connected", d->cfg->sync_peer);
	if (st->closes != seen->closes)
		xlog(LOG_INFO, "the sync peer's connection ended");
	if (st->bad_framing != seen->bad_framing)
		xlog(LOG_WARNING, "the sync peer's stream lost its framing: connection closed");
	*seen = *st;
}

/* After each turn of the loop: the messages built go out, an ALIVE when
 * the link was quiet, and the peer's first word is logged. */
static void sync_step(struct xctd *d)
{
	__u64 now = xct_now_ns();

	xctd_sync_flush(&d->sync, now);
	if (d->sync.st.resync_rcv != d->sync_resync_done) {
		struct xct_table t;
		__u64 sent = 0;
		int err;

		d->sync_resync_done = d->sync.st.resync_rcv;
		err = xct_table_open_at(&t, d->cfg->pin_path, 0);
		if (!err) {
			err = xctd_sync_bulk(&d->sync, &t, now, &sent);
			xct_table_close(&t);
		}
		if (err)
			xlog(LOG_ERR, "cannot answer the sync peer's resync request: %s",
			     strerror(-err));
		else
			xlog(LOG_INFO, "the sync peer asked for a resync: sent %llu connections",
			     (unsigned long long)sent);
	}
	xctd_sync_tick(&d->sync, now);
	if (d->sync.st.msg_rcv && !d->sync_rcv_seen)
		xlog(LOG_INFO, "the sync peer %s is alive", d->cfg->sync_peer);
	d->sync_rcv_seen = d->sync.st.msg_rcv;
	sync_log_link(d);
}

/* Detaches from the terminal; the parent exits once the child listens. */
static int daemonize(int *ready_fd)
{
	int p[2];
	pid_t pid;
	char ok;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &ok, 1) == 1 ? XCT_EXIT_OK : XCT_EXIT_RUNTIME);
	}
	close(p[0]);
	setsid();
	if (chdir("/"))
		return -errno;
	*ready_fd = p[1];
	return 0;
}

static void handle(struct xctd *d, struct epoll_event *ev)
{
	struct client *c;

	if (ev->data.ptr == TAG_LISTEN) {
		accept_client(d);
	} else if (ev->data.ptr == TAG_RINGS) {
		if (d->rb)
			ring_buffer__consume(d->rb);
	} else if (ev->data.ptr == TAG_METRICS) {
		struct xctd_stats st = {
			.ipfix = d->ipfix_on,
			.ipfix_records = d->ipfix.stats.records,
			.ipfix_messages = d->ipfix.stats.messages,
			.ipfix_send_errors = d->ipfix.stats.send_errors,
			.ipfix_lost = d->ipfix.stats.lost,
		};
		struct xctd_sync_report rep;
		int k;

		for (k = 0; k < XCT_STREAM_KINDS; k++)
			st.stream[k] = d->rings[k].st;
		if (d->sync.fd >= 0) {
			sync_report(d, &rep);
			st.sync = &rep;
		}
		xctd_http_serve(d->msock, d->cfg->pin_path, &st);
	} else if (ev->data.ptr == TAG_SYNC) {
		xctd_sync_input(&d->sync);
	} else {
		c = ev->data.ptr;
		if (c->dead)
			return;
		if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			client_input(d, c);
		else if (ev->events & EPOLLOUT && client_flush(d, c))
			client_free(d, c);
	}
}

int xctd_run(const struct xctd_config *cfg)
{
	struct xctd d = {.cfg = cfg, .epfd = -1, .lsock = -1, .msock = -1, .sync.fd = -1, .sync.purge_fd = -1};
	char err[256];
	struct epoll_event evs[XCTD_MAX_EVENTS], ev = {.events = EPOLLIN};
	struct sigaction sa = {.sa_handler = on_signal};
	int rc = XCT_EXIT_RUNTIME, ready_fd = -1, n, i, k;

	for (k = 0; k < XCT_STREAM_KINDS; k++) {
		d.rings[k] = (struct ring){.d = &d, .kind = k, .fd = -1, .lock_fd = -1};
		d.rings[k].sub.fd = -1;
	}
	if (!cfg->foreground && daemonize(&ready_fd)) {
		xlog(LOG_ERR, "cannot become a daemon: %s", strerror(errno));
		return XCT_EXIT_RUNTIME;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.start_ns = xct_now_ns();
	d.mono_to_real = xct_mono_to_real();
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d.epfd < 0)
		goto out;
	if (cfg->rule_log) {
		d.rulelog.on = true;
		d.rulelog.pin_path = cfg->pin_path;
		openlog("xctd", LOG_PID, LOG_DAEMON);
	}
	if (cfg->flow_log &&
	    xctd_log_open(&d.flow, cfg->flow_log, cfg->log_max_size, cfg->log_keep))
		goto out;
	if (cfg->nat_log && (!cfg->flow_log || strcmp(cfg->nat_log, cfg->flow_log)) &&
	    xctd_log_open(&d.nat, cfg->nat_log, cfg->log_max_size, cfg->log_keep))
		goto out;
	if (cfg->ipfix_collector) {
		struct xct_ipfix_exporter_cfg xc = {
			.host = cfg->ipfix_host,
			.port = cfg->ipfix_port,
			.domain = cfg->ipfix_domain,
			.template_refresh_s = XCT_IPFIX_TEMPLATE_REFRESH_S,
			.mtu = 0, /* from the path MTU */
		};

		if (xct_ipfix_exporter_open(&d.ipfix, &xc))
			goto out;
		d.ipfix_on = true;
	}
	if (xct_prepare_pin_path(cfg->pin_path, false))
		goto out;
	if (open_rings(&d) == -EBUSY)
		goto out;
	if (!d.attached)
		xlog(LOG_NOTICE, "xct is not attached under %s: waiting for it", cfg->pin_path);
	if (listen_socket(&d))
		goto out;
	ev.data.ptr = TAG_LISTEN;
	if (epoll_ctl(d.epfd, EPOLL_CTL_ADD, d.lsock, &ev))
		goto out;
	if (cfg->metrics_listen) {
		d.msock = xctd_http_listen(cfg->metrics_listen);
		if (d.msock < 0)
			goto out;
		ev.data.ptr = TAG_METRICS;
		if (epoll_ctl(d.epfd, EPOLL_CTL_ADD, d.msock, &ev))
			goto out;
	}
	if (cfg->sync_peer) {
		struct xctd_link_cfg lc = {
			.kind = (enum xctd_link_kind)cfg->sync_transport,
			.peer = cfg->sync_peer,
			.listen = cfg->sync_listen,
			.ifname = cfg->sync_interface,
		};

		if (xctd_sync_open(&d.sync, &lc,
				   cfg->sync_mode == XCTD_SYNC_MODE_FTFW ? XCTD_SYNC_FTFW
									 : XCTD_SYNC_NOTRACK,
				   err, sizeof(err))) {
			xlog(LOG_ERR, "%s", err);
			goto out;
		}
		for (unsigned int j = 0; j < cfg->n_sync_ignore; j++)
			xctd_sync_ignore(&d.sync, cfg->sync_ignore[j]);
		xctd_sync_accept_states(&d.sync, cfg->sync_state_accept);
		if (cfg->sync_commit_on_receive)
			xctd_sync_commit_on_receive(&d.sync, cfg->pin_path);
		ev.data.ptr = TAG_SYNC;
		if (epoll_ctl(d.epfd, EPOLL_CTL_ADD, d.sync.fd, &ev))
			goto out;
		xlog(LOG_INFO, "syncing connections with %s (conntrackd protocol 1, %s%s%s)",
		     cfg->sync_peer, xctd_sync_mode_name(d.sync.mode),
		     cfg->sync_transport == XCTD_LINK_UDP ? "" : ", ",
		     cfg->sync_transport == XCTD_LINK_UDP
			     ? ""
			     : xctd_link_kind_name((enum xctd_link_kind)cfg->sync_transport));
		sync_log_filters(cfg);
	}
	xlog(LOG_INFO, "listening on %s%s%s%s%s, state under %s", cfg->socket_path,
	     cfg->metrics_listen ? ", metrics on " : "",
	     cfg->metrics_listen ? cfg->metrics_listen : "",
	     cfg->ipfix_collector ? ", IPFIX to " : "",
	     cfg->ipfix_collector ? cfg->ipfix_collector : "", cfg->pin_path);
	if (ready_fd >= 0) {
		int null = open("/dev/null", O_RDWR);

		if (write(ready_fd, "1", 1) != 1)
			goto out;
		close(ready_fd);
		ready_fd = -1;
		openlog("xctd", LOG_PID, LOG_DAEMON);
		use_syslog = true;
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			close(null);
		}
	}
	rc = XCT_EXIT_OK;
	while (!stopping) {
		n = epoll_wait(d.epfd, evs, XCTD_MAX_EVENTS, 100);
		if (n < 0 && errno != EINTR) {
			xlog(LOG_ERR, "epoll: %s", strerror(errno));
			rc = XCT_EXIT_RUNTIME;
			break;
		}
		for (i = 0; i < n; i++)
			handle(&d, &evs[i]);
		if (d.ipfix_on)
			xct_ipfix_exporter_tick(&d.ipfix);
		flush_all(&d);
		if (d.sync.fd >= 0)
			sync_step(&d);
		reap(&d);
		refresh_subs(&d);
		if (xct_now_ns() >= d.next_check_ns) {
			d.next_check_ns = xct_now_ns() + XCTD_RECHECK_NS;
			check_rings(&d);
		}
	}
	drain_out(&d);
	if (d.sync.fd >= 0) {
		xctd_sync_flush(&d.sync, xct_now_ns());
		sync_log_totals(&d);
	}
	xlog(LOG_INFO, "stopping");
out:
	for (struct client *c = d.clients; c; c = c->next)
		client_free(&d, c);
	reap(&d);
	close_rings(&d);
	for (k = 0; k < XCT_STREAM_KINDS; k++)
		free(d.rings[k].backlog);
	if (d.lsock >= 0) {
		close(d.lsock);
		unlink(cfg->socket_path);
	}
	if (d.msock >= 0)
		close(d.msock);
	if (d.epfd >= 0)
		close(d.epfd);
	xctd_log_close(&d.flow);
	xctd_log_close(&d.nat);
	xctd_rulelog_free(&d.rulelog);
	xctd_sync_close(&d.sync);
	if (d.ipfix_on) {
		xct_ipfix_exporter_close(&d.ipfix);
		xlog(LOG_INFO, "%llu IPFIX records sent to %s in %llu messages (domain %u)",
		     (unsigned long long)d.ipfix.stats.records, cfg->ipfix_collector,
		     (unsigned long long)d.ipfix.stats.messages, cfg->ipfix_domain);
		if (d.ipfix.stats.send_errors)
			xlog(LOG_WARNING,
			     "%llu IPFIX messages (%llu records) could not be sent: %s",
			     (unsigned long long)d.ipfix.stats.send_errors,
			     (unsigned long long)d.ipfix.stats.lost, strerror(d.ipfix.last_errno));
	}
	return rc;
}
