// SPDX-License-Identifier: GPL-2.0-only
/*
 * A reader's side of an event stream (src/daemon/stream.h): through xctd's
 * socket when xctd answers there, else the ring itself, alone.
 *
 * When xctd goes away under a reader, the reader keeps the datapath's
 * subscription fresh itself, so that the datapath goes on queueing into
 * the ring (and counting what it has no room for), and reconnects as soon
 * as xctd is back, asking for what the ring held then: nothing is lost
 * without being counted across a restart of xctd.
 */
#define _GNU_SOURCE /* struct ucred */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <bpf/libbpf.h>

#include "daemon/stream.h"
#include "daemon/wire.h"
#include "xct.h"

#define RECONNECT_NS (200ULL * 1000 * 1000)
#define ANSWER_MS    5000

struct xct_stream {
	enum xct_stream_kind kind;
	const struct xct_stream_info *si;
	xct_stream_fn fn;
	void *ctx;
	char *pin_path, *socket_path, *run_dir;
	__u32 ring_id;

	/* Read directly: the ring, its lock, the subscription. */
	struct ring_buffer *rb;
	int ring_fd, lock_fd;
	bool discard; /* what an earlier reader left in the ring is not ours */

	/* Through xctd. */
	bool daemon;
	int sock;	   /* -1 while xctd is away */
	__u64 next_try_ns; /* when to try to reconnect */
	bool synced;
	unsigned char *buf;
	size_t len, cap;
	__u64 lost;

	struct xct_sub sub; /* fd -1 while xctd keeps it */
};

void xct_default_socket(const char *pin_path, char *buf, size_t len)
{
	size_t n = strlen(pin_path);
	const char *base;
	__u64 h = 0xcbf29ce484222325ULL; /* FNV-1a */
	size_t i;

	while (n > 1 && pin_path[n - 1] == '/')
		n--;
	if (n == strlen(XCT_PIN_PATH_DEFAULT) && !strncmp(pin_path, XCT_PIN_PATH_DEFAULT, n)) {
		snprintf(buf, len, "%s", XCT_SOCKET_DEFAULT);
		return;
	}
	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)pin_path[i]) * 0x100000001b3ULL;
	for (base = pin_path + n; base > pin_path && base[-1] != '/'; base--)
		;
	snprintf(buf, len, "%s/xctd-%.*s-%08llx.sock", XCT_RUN_DIR,
		 (int)((pin_path + n - base) > 48 ? 48 : (pin_path + n - base)), base,
		 (unsigned long long)(h & 0xffffffffULL));
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct xct_stream *s = ctx;

	return s->discard ? 0 : s->fn(s->ctx, data, size);
}

static int send_frame(int sock, __u16 type)
{
	struct xctd_frame f = {.type = type};

	return send(sock, &f, sizeof(f), MSG_NOSIGNAL) == sizeof(f) ? 0 : -EIO;
}

/* Handles the complete frames in the buffer; 1 when it held ERROR. */
static int handle_frames(struct xct_stream *s)
{
	size_t off = 0;
	int ret = 0, err;

	while (s->len - off >= sizeof(struct xctd_frame)) {
		struct xctd_frame f;
		unsigned char *p = s->buf + off + sizeof(f);
		__u64 n;

		memcpy(&f, s->buf + off, sizeof(f));
		if (s->len - off - sizeof(f) < f.len)
			break;
		off += sizeof(f) + f.len;
		switch (f.type) {
		case XCTD_F_EVENT:
			err = s->fn(s->ctx, p, f.len);
			if (err < 0) {
				ret = err;
				goto out;
			}
			ret++;
			break;
		case XCTD_F_LOST:
			if (f.len == sizeof(n)) {
				memcpy(&n, p, sizeof(n));
				s->lost += n;
			}
			break;
		case XCTD_F_SYNC:
			s->synced = true;
			break;
		case XCTD_F_ERROR:
			xct_err("xctd: %.*s", (int)f.len, (const char *)p);
			ret = -EPROTO;
			goto out;
		default:
			break;
		}
	}
out:
	memmove(s->buf, s->buf + off, s->len - off);
	s->len -= off;
	return ret;
}

/* Reads what the socket has; 0, or -EPIPE when xctd closed it. */
static int fill(struct xct_stream *s)
{
	ssize_t n;

	if (s->cap - s->len < XCTD_MAX_PAYLOAD + sizeof(struct xctd_frame)) {
		size_t cap = s->cap ? s->cap * 2 : 65536;
		unsigned char *b = realloc(s->buf, cap);

		if (!b)
			return -ENOMEM;
		s->buf = b;
		s->cap = cap;
	}
	n = recv(s->sock, s->buf + s->len, s->cap - s->len, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
	if (n == 0)
		return -EPIPE;
	s->len += (size_t)n;
	return 0;
}

/* Is the socket xctd's: a socket of root's, in a directory nobody else can
 * change, answered by a process of root's? */
static int socket_trusted(const char *path, int sock)
{
	char dir[4096], *slash;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	if (xct_safe_dir(dir, false))
		return -EPERM;
	if (lstat(path, &st) || !S_ISSOCK(st.st_mode) || st.st_uid != 0) {
		xct_err("refusing %s: not a socket of root's", path);
		return -EPERM;
	}
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.uid != 0) {
		xct_err("refusing %s: its server does not run as root", path);
		return -EPERM;
	}
	return 0;
}

/*
 * Connects and waits for the frame want (READY for a reader, DONE for a
 * request), its payload copied to answer (up to len bytes).  -ENOENT or
 * -ECONNREFUSED, quietly, when no xctd listens; another -errno after a
 * message.
 */
static int daemon_connect_for(struct xct_stream *s, __u32 flags, __u16 want, int wait_ms,
			      void *answer, size_t len)
{
	struct xctd_hello h = {.magic = XCTD_MAGIC,
			       .version = XCTD_VERSION,
			       .stream = (__u16)s->kind,
			       .flags = flags,
			       .ring_id = s->ring_id};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct pollfd pfd;
	int sock, err;

	if (strlen(s->socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, s->socket_path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	if (connect(sock, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(sock);
		return err == -ENOENT || err == -ECONNREFUSED ? err : -ECONNREFUSED;
	}
	err = socket_trusted(s->socket_path, sock);
	if (!err && send(sock, &h, sizeof(h), MSG_NOSIGNAL) != sizeof(h))
		err = -ECONNREFUSED;
	s->sock = sock;
	s->len = 0;
	while (!err) {
		struct xctd_frame f;

		pfd = (struct pollfd){.fd = sock, .events = POLLIN};
		if (poll(&pfd, 1, wait_ms) <= 0) {
			xct_err("xctd on %s does not answer", s->socket_path);
			err = -ETIMEDOUT;
			break;
		}
		err = fill(s);
		if (err == -EPIPE)
			err = -ECONNREFUSED; /* it is going away: as if not there */
		if (err || s->len < sizeof(f))
			continue;
		memcpy(&f, s->buf, sizeof(f));
		if (f.type == want && s->len >= sizeof(f) + f.len) {
			if (answer)
				memcpy(answer, s->buf + sizeof(f), f.len < len ? f.len : len);
			memmove(s->buf, s->buf + sizeof(f) + f.len, s->len - sizeof(f) - f.len);
			s->len -= sizeof(f) + f.len;
			return 0;
		}
		if (f.type == XCTD_F_ERROR && s->len >= sizeof(f) + f.len) {
			xct_err("xctd on %s: %.*s", s->socket_path, (int)f.len,
				(const char *)s->buf + sizeof(f));
			err = -EPROTO;
		}
	}
	close(sock);
	s->sock = -1;
	return err;
}

static int daemon_connect(struct xct_stream *s, __u32 flags)
{
	return daemon_connect_for(s, flags, XCTD_F_READY, ANSWER_MS, NULL, 0);
}

int xctd_sync_request(const struct xct_stream_paths *paths, __u32 flags, void *res, size_t len)
{
	struct xct_stream s = {.kind = XCT_STREAM_CT_EVENTS, .sock = -1};
	int err;

	memset(res, 0, len);
	s.socket_path = (char *)paths->socket_path;
	err = xct_ring_open(paths->pin_path, XCT_STREAM_CT_EVENTS, NULL, &s.ring_id);
	if (err) {
		xct_err("xct is not attached under %s: %s", paths->pin_path, strerror(-err));
		return err;
	}
	/* A commit of a large cache takes a while: the answer comes when the
	 * table holds it. */
	err = daemon_connect_for(&s, flags, XCTD_F_DONE, 120 * 1000, res, len);
	if (err == -ENOENT || err == -ECONNREFUSED)
		xct_err("no xctd answers on %s", paths->socket_path);
	if (s.sock >= 0)
		close(s.sock);
	free(s.buf);
	return err;
}

static int open_direct(struct xct_stream *s)
{
	int holder = 0, err;

	s->lock_fd = xct_ring_lock(s->run_dir, s->ring_id, &holder);
	if (s->lock_fd == -EBUSY) {
		xct_err("another reader (pid %d) holds the event ring; start xctd to let several "
			"readers share it",
			holder);
		return -EBUSY;
	}
	if (s->lock_fd < 0) {
		err = s->lock_fd;
		xct_err("cannot lock the %s ring under %s: %s", s->si->name, s->run_dir,
			strerror(-err));
		return err;
	}
	s->rb = ring_buffer__new(s->ring_fd, on_record, s, NULL);
	if (!s->rb) {
		err = -errno;
		xct_err("cannot read the %s ring: %s", s->si->name, strerror(errno));
		return err;
	}
	/* A subscribed stream's leftovers are an earlier reader's last
	 * seconds; the others' wait for whoever reads first. */
	if (s->si->sub_kind >= 0) {
		s->discard = true;
		ring_buffer__consume(s->rb);
		s->discard = false;
	}
	if (s->si->sub_kind >= 0 &&
	    xct_sub_open_at(&s->sub, s->pin_path, (enum xct_sub_kind)s->si->sub_kind))
		return -EIO;
	return 0;
}

int xct_stream_open(struct xct_stream **out, const struct xct_stream_paths *paths,
		    enum xct_stream_kind kind, xct_stream_fn fn, void *ctx)
{
	struct xct_stream *s = calloc(1, sizeof(*s));
	int err;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->kind = kind;
	s->si = xct_stream_info(kind);
	s->fn = fn;
	s->ctx = ctx;
	s->ring_fd = s->lock_fd = s->sock = s->sub.fd = -1;
	s->pin_path = strdup(paths->pin_path);
	s->socket_path = strdup(paths->socket_path);
	s->run_dir = strdup(paths->run_dir);
	if (!s->si || !s->pin_path || !s->socket_path || !s->run_dir) {
		err = -ENOMEM;
		goto fail;
	}
	err = xct_ring_open(s->pin_path, kind, &s->ring_fd, &s->ring_id);
	if (err) {
		xct_err("cannot open %s/%s: %s", s->pin_path, s->si->ring, strerror(-err));
		goto fail;
	}
	err = daemon_connect(s, 0);
	if (!err) {
		s->daemon = true;
		close(s->ring_fd);
		s->ring_fd = -1;
	} else if (err == -ENOENT || err == -ECONNREFUSED) {
		err = open_direct(s);
	}
	if (err)
		goto fail;
	*out = s;
	return 0;
fail:
	xct_stream_close(s);
	return err;
}

/* xctd went away: keep the datapath queueing until it is back. */
static void daemon_lost(struct xct_stream *s)
{
	close(s->sock);
	s->sock = -1;
	s->len = 0;
	s->next_try_ns = 0;
	xct_err("xctd went away; following the %s again once it is back", s->si->name);
	if (s->si->sub_kind >= 0 && s->sub.fd < 0)
		xct_sub_open_at(&s->sub, s->pin_path, (enum xct_sub_kind)s->si->sub_kind);
}

static int daemon_poll(struct xct_stream *s, int timeout_ms)
{
	struct pollfd pfd = {.fd = s->sock, .events = POLLIN};
	__u64 now = xct_now_ns();
	int n, err;

	if (s->sock < 0) {
		if (s->sub.fd >= 0)
			xct_sub_refresh(&s->sub);
		if (now >= s->next_try_ns) {
			s->next_try_ns = now + RECONNECT_NS;
			err = daemon_connect(s, XCTD_HELLO_RESUME);
			if (!err) {
				xct_err("xctd is back: following the %s through it", s->si->name);
				xct_sub_close(&s->sub);
				return 0;
			}
			if (err != -ENOENT && err != -ECONNREFUSED)
				return err;
		}
		poll(NULL, 0, timeout_ms < 100 ? timeout_ms : 100);
		return 0;
	}
	/* Frames a callback stopped at come first. */
	n = handle_frames(s);
	if (n)
		return n;
	n = poll(&pfd, 1, timeout_ms);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	err = fill(s);
	if (err == -EPIPE) {
		n = handle_frames(s);
		daemon_lost(s);
		return n < 0 ? n : 0;
	}
	if (err)
		return err;
	return handle_frames(s);
}

int xct_stream_poll(struct xct_stream *s, int timeout_ms)
{
	int n;

	if (s->daemon)
		return daemon_poll(s, timeout_ms);
	n = ring_buffer__poll(s->rb, timeout_ms);
	if (n >= 0 && s->sub.fd >= 0 && xct_sub_refresh(&s->sub))
		return -EIO;
	return n;
}

int xct_stream_drain(struct xct_stream *s)
{
	__u64 deadline = xct_now_ns() + ANSWER_MS * 1000000ULL;
	int err;

	if (!s->daemon)
		return ring_buffer__consume(s->rb);
	if (s->sock < 0)
		return 0;
	s->synced = false;
	if (send_frame(s->sock, XCTD_F_SYNC))
		return 0;
	while (!s->synced && s->sock >= 0 && xct_now_ns() < deadline) {
		err = daemon_poll(s, 100);
		if (err < 0)
			return err;
	}
	return 0;
}

__u64 xct_stream_lost(const struct xct_stream *s)
{
	return s->lost;
}

bool xct_stream_via_daemon(const struct xct_stream *s)
{
	return s->daemon;
}

int xct_stream_fd(const struct xct_stream *s)
{
	return s->daemon ? s->sock : ring_buffer__epoll_fd(s->rb);
}

void xct_stream_close(struct xct_stream *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	if (s->ring_fd >= 0)
		close(s->ring_fd);
	if (s->sock >= 0)
		close(s->sock);
	xct_sub_end(&s->sub);
	xct_sub_close(&s->sub);
	if (s->run_dir)
		xct_ring_unlock(s->run_dir, s->ring_id, s->lock_fd);
	free(s->buf);
	free(s->pin_path);
	free(s->socket_path);
	free(s->run_dir);
	free(s);
}
