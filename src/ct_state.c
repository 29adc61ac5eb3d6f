// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct ct save / restore: the table as text.  A line is one connection: its
 * key as the table holds it (family, protocol, both sides' addresses and
 * ports), then NAME=VALUE fields.  Times are relative to the save (age,
 * idle time, time left), and the file carries the wall clock of the save,
 * so a restore after a reboot, when the monotonic clock started again,
 * takes the time the table was down off every timeout.
 *
 * A restored entry goes in with BPF_NOEXIST, after its translation (the
 * binding and the claim on the translated tuple, as bpf/nat.h makes
 * them), so that no packet sees it without the translation.  A tuple
 * the table has already is left alone: the datapath saw it last.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "ct_format.h"
#include "ct_ops.h"
#include "ct_state.h"
#include "rules/ruleset.h"
#include "xct.h"
#include "xct/ct.h"
#include "xct/tcp.h"
#include "xct/tuple.h"

#define STATE_MAGIC "xct-ct-state"
#define LINE_MAX_LEN 1024

static __u64 realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* A key's port as the file writes it: host order for TCP and UDP, as
 * the key holds it otherwise (an ICMP identifier, type and code). */
static unsigned int port_out(__u8 proto, __u16 port)
{
	return xct_has_ports(proto) ? ntohs(port) : port;
}

static __u16 port_in(__u8 proto, unsigned int port)
{
	return xct_has_ports(proto) ? htons((__u16)port) : (__u16)port;
}

static void put_binding(FILE *out, const char *name, const struct xct_ct_key *key,
			const struct xct_nat_binding *b)
{
	char a[INET6_ADDRSTRLEN], r0[INET6_ADDRSTRLEN], r1[INET6_ADDRSTRLEN];

	xct_format_addr(key->family, &b->addr, a, sizeof(a));
	xct_format_addr(key->family, &b->rkey.addr[0], r0, sizeof(r0));
	xct_format_addr(key->family, &b->rkey.addr[1], r1, sizeof(r1));
	fprintf(out, " %s=%s,%s,%u,%u,%u,%s,%u,%s,%u", name,
		b->manip == XCT_CT_DST_NAT ? "dnat" : "snat", a, port_out(key->proto, b->port),
		b->orig_side, b->line, r0, port_out(key->proto, b->rkey.port[0]), r1,
		port_out(key->proto, b->rkey.port[1]));
}

struct save_ctx {
	const struct xct_table *t;
	FILE *out;
	__u64 now;
	const struct xct_nat_view *nat;
	struct xct_ct_state_counts *c;
};

static int save_one(const struct xct_ct_key *key, const struct xct_ct_entry *e, void *arg)
{
	struct save_ctx *s = arg;
	const struct xct_nat_binding *b = xct_nat_view_find(s->nat, key, e);
	const struct xct_nat_binding *inner = xct_nat_view_inner(s->nat, b);
	char a0[INET6_ADDRSTRLEN], a1[INET6_ADDRSTRLEN];
	__u64 labels[2];
	int d;

	xct_format_addr(key->family, &key->addr[0], a0, sizeof(a0));
	xct_format_addr(key->family, &key->addr[1], a1, sizeof(a1));
	fprintf(s->out, "%s %u %s %u %s %u orig=%u status=0x%x mark=%u", xct_family_name(key->family),
		key->proto, a0, port_out(key->proto, key->port[0]), a1,
		port_out(key->proto, key->port[1]), e->orig_side,
		e->status & ~(XCT_CT_NEW_PENDING | XCT_CT_DYING), e->mark);
	/* Only outside the default zone: a table without zones saves as an
	 * xct without them did. */
	if (key->zone)
		fprintf(s->out, " zone=%u", key->zone);
	fprintf(s->out, " age=%llu idle=%llu timeout=%llu packets=%llu,%llu bytes=%llu,%llu",
		(unsigned long long)(s->now - e->first_seen_ns),
		(unsigned long long)(s->now > e->last_seen_ns ? s->now - e->last_seen_ns : 0),
		(unsigned long long)(e->expires_ns - s->now), (unsigned long long)e->packets[0],
		(unsigned long long)e->packets[1], (unsigned long long)e->bytes[0],
		(unsigned long long)e->bytes[1]);
	if (key->proto == XCT_IPPROTO_TCP) {
		fprintf(s->out, " state=%u tcp=", e->state);
		for (d = 0; d < 2; d++) {
			const struct xct_tcp_peer *p = &e->proto.tcp.seen[d];

			fprintf(s->out, "%s%u,%u,%u,%u,%u,%u", d ? "/" : "", p->td_end, p->td_maxend,
				p->td_maxwin, p->td_maxack, p->td_scale, p->flags);
		}
	} else if (key->proto == XCT_IPPROTO_UDP) {
		fprintf(s->out, " stream=%lld", (long long)(e->proto.udp.stream_ns - s->now));
	}
	if (b)
		put_binding(s->out, "nat", key, b);
	if (inner)
		put_binding(s->out, "nat-inner", &b->rkey, inner);
	/* The 128 label bits as one hex number, bit 0 last (connlabel.conf's
	 * numbers): the names file may change, the bits stay. */
	if (xct_ct_labels_get(s->t, key, e, labels) == 0 && (labels[0] || labels[1]))
		fprintf(s->out, " labels=%016llx%016llx", (unsigned long long)labels[1],
			(unsigned long long)labels[0]);
	fputc('\n', s->out);
	s->c->saved++;
	return ferror(s->out) ? -EIO : 0;
}

int xct_ct_save(const struct xct_table *t, FILE *out, struct xct_ct_state_counts *c)
{
	struct xct_nat_view nat = {0};
	struct save_ctx s = {.t = t, .out = out, .nat = &nat, .c = c};
	int err;

	memset(c, 0, sizeof(*c));
	err = xct_nat_view_load(t, &nat);
	if (err)
		return err;
	fprintf(out, "# xct ct save: one connection a line, times in ns (xct(8))\n");
	fprintf(out, "%s %d realtime=%llu\n", STATE_MAGIC, XCT_CT_STATE_VERSION,
		(unsigned long long)realtime_ns());
	s.now = xct_now_ns();
	err = xct_table_walk(t, s.now, save_one, &s);
	xct_nat_view_free(&nat);
	if (err == -EIO || (!err && (fflush(out) || ferror(out)))) {
		xct_err("cannot write the saved table: %s", strerror(errno ? errno : EIO));
		return -EIO;
	}
	return err;
}

/* One saved connection, checked, before anything is inserted. */
struct saved_conn {
	struct xct_ct_key key;
	struct xct_ct_entry e;
	__u64 age, idle, timeout;
	long long stream;
	unsigned int line;
	int n_nat; /* 0, 1 (nat) or 2 (nat and nat-inner) */
	struct xct_nat_binding nat[2];
	__u64 labels[2]; /* labels=, zero when the line has none */
};

struct reader {
	const char *name;
	unsigned int line;
	char *err;
	size_t errlen;
};

static int bad(struct reader *r, const char *at, const char *text, const char *fmt, const char *what)
{
	snprintf(r->err, r->errlen, "%s:%u:%zu: ", r->name, r->line, (size_t)(at - text) + 1);
	snprintf(r->err + strlen(r->err), r->errlen - strlen(r->err), fmt, what);
	return -EINVAL;
}

static int parse_addr(__u8 family, const char *s, union xct_addr *a)
{
	struct xct_prefix pf;
	char msg[128];

	if (xct_parse_prefix_msg(s, &pf, msg, sizeof(msg)) ||
	    pf.family != family || pf.plen != (family == XCT_AF_INET6 ? 128 : 32))
		return -1;
	memset(a, 0, sizeof(*a));
	memcpy(a->bytes, pf.addr, family == XCT_AF_INET6 ? 16 : 4);
	return 0;
}

static int parse_num(const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end || *v > max ? -1 : 0;
}

/* Splits s at commas into at most n fields, in place; the count. */
static int split(char *s, char sep, char **f, int n)
{
	int i = 0;

	f[i++] = s;
	for (; *s; s++) {
		if (*s != sep)
			continue;
		if (i == n)
			return n + 1;
		*s = 0;
		f[i++] = s + 1;
	}
	return i;
}

static int parse_binding(__u8 family, __u8 proto, char *v, struct xct_nat_binding *b)
{
	unsigned long long n[5];
	char *f[9];

	memset(b, 0, sizeof(*b));
	if (split(v, ',', f, 9) != 9)
		return -1;
	if (!strcmp(f[0], "snat"))
		b->manip = XCT_CT_SRC_NAT;
	else if (!strcmp(f[0], "dnat"))
		b->manip = XCT_CT_DST_NAT;
	else
		return -1;
	if (parse_addr(family, f[1], &b->addr) || parse_num(f[2], 65535, &n[0]) ||
	    parse_num(f[3], 1, &n[1]) || parse_num(f[4], 0xffffffffULL, &n[2]) ||
	    parse_addr(family, f[5], &b->rkey.addr[0]) || parse_num(f[6], 65535, &n[3]) ||
	    parse_addr(family, f[7], &b->rkey.addr[1]) || parse_num(f[8], 65535, &n[4]))
		return -1;
	b->port = port_in(proto, n[0]);
	b->orig_side = (__u8)n[1];
	b->line = (__u32)n[2];
	b->rkey.family = family;
	b->rkey.proto = proto;
	b->rkey.port[0] = port_in(proto, n[3]);
	b->rkey.port[1] = port_in(proto, n[4]);
	return 0;
}

static int parse_tcp(char *v, struct xct_tcp_ct *tcp)
{
	unsigned long long n[6];
	char *dirs[2], *f[6];
	int d, i;

	if (split(v, '/', dirs, 2) != 2)
		return -1;
	for (d = 0; d < 2; d++) {
		if (split(dirs[d], ',', f, 6) != 6)
			return -1;
		for (i = 0; i < 6; i++)
			if (parse_num(f[i], i < 4 ? 0xffffffffULL : (i == 4 ? 14 : 255), &n[i]))
				return -1;
		tcp->seen[d].td_end = (__u32)n[0];
		tcp->seen[d].td_maxend = (__u32)n[1];
		tcp->seen[d].td_maxwin = (__u32)n[2];
		tcp->seen[d].td_maxack = (__u32)n[3];
		tcp->seen[d].td_scale = (__u8)n[4];
		tcp->seen[d].flags = (__u8)n[5];
	}
	return 0;
}

static int parse_pair(char *v, __u64 out[2])
{
	unsigned long long a, b;
	char *f[2];

	if (split(v, ',', f, 2) != 2 || parse_num(f[0], ~0ULL, &a) || parse_num(f[1], ~0ULL, &b))
		return -1;
	out[0] = a;
	out[1] = b;
	return 0;
}

/* Fields every line must have, and those of TCP. */
enum { F_ORIG = 1, F_STATUS = 2, F_AGE = 4, F_IDLE = 8, F_TIMEOUT = 16, F_PACKETS = 32,
       F_BYTES = 64, F_STATE = 128, F_TCP = 256 };
#define F_NEEDED (F_ORIG | F_STATUS | F_AGE | F_IDLE | F_TIMEOUT | F_PACKETS | F_BYTES)

/* labels=HEX: up to 32 hex digits, the 128 bits with bit 0 last. */
static int parse_labels(const char *v, __u64 bits[2])
{
	size_t n = strlen(v), i;

	bits[0] = bits[1] = 0;
	if (!n || n > 32)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		char ch = v[i];
		unsigned int d = ch >= '0' && ch <= '9'	  ? (unsigned int)(ch - '0')
				 : ch >= 'a' && ch <= 'f' ? (unsigned int)(ch - 'a' + 10)
				 : ch >= 'A' && ch <= 'F' ? (unsigned int)(ch - 'A' + 10)
							  : 16;

		if (d > 15)
			return -EINVAL;
		bits[1] = bits[1] << 4 | bits[0] >> 60;
		bits[0] = bits[0] << 4 | d;
	}
	return 0;
}

static int parse_field(struct reader *r, const char *text, char *tok, struct saved_conn *s,
		       unsigned int *seen)
{
	__u8 family = s->key.family, proto = s->key.proto;
	char *eq = strchr(tok, '='), *v;
	unsigned long long n;
	int ok;

	if (!eq)
		return bad(r, tok, text, "'%s' is not NAME=VALUE", tok);
	*eq = 0;
	v = eq + 1;
	if (!strcmp(tok, "orig")) {
		ok = !parse_num(v, 1, &n);
		s->e.orig_side = (__u8)n;
		*seen |= F_ORIG;
	} else if (!strcmp(tok, "status")) {
		ok = !parse_num(v, 0xffff, &n);
		s->e.status = (__u16)n & ~(XCT_CT_NEW_PENDING | XCT_CT_DYING);
		*seen |= F_STATUS;
	} else if (!strcmp(tok, "mark")) {
		ok = !parse_num(v, 0xffffffffULL, &n);
		s->e.mark = (__u32)n;
	} else if (!strcmp(tok, "zone")) {
		ok = !parse_num(v, 65535, &n);
		s->key.zone = (__u16)n;
	} else if (!strcmp(tok, "age")) {
		ok = !parse_num(v, ~0ULL, &n);
		s->age = n;
		*seen |= F_AGE;
	} else if (!strcmp(tok, "idle")) {
		ok = !parse_num(v, ~0ULL, &n);
		s->idle = n;
		*seen |= F_IDLE;
	} else if (!strcmp(tok, "timeout")) {
		ok = !parse_num(v, ~0ULL, &n);
		s->timeout = n;
		*seen |= F_TIMEOUT;
	} else if (!strcmp(tok, "packets")) {
		ok = !parse_pair(v, s->e.packets);
		*seen |= F_PACKETS;
	} else if (!strcmp(tok, "bytes")) {
		ok = !parse_pair(v, s->e.bytes);
		*seen |= F_BYTES;
	} else if (!strcmp(tok, "state") && proto == XCT_IPPROTO_TCP) {
		ok = !parse_num(v, XCT_TCP_STATE_COUNT - 1, &n);
		s->e.state = (__u8)n;
		*seen |= F_STATE;
	} else if (!strcmp(tok, "tcp") && proto == XCT_IPPROTO_TCP) {
		ok = !parse_tcp(v, &s->e.proto.tcp);
		*seen |= F_TCP;
	} else if (!strcmp(tok, "stream") && proto == XCT_IPPROTO_UDP) {
		char *end;

		errno = 0;
		s->stream = strtoll(v, &end, 10);
		ok = !errno && *v && !*end;
	} else if (!strcmp(tok, "labels")) {
		ok = !parse_labels(v, s->labels);
	} else if (!strcmp(tok, "nat") && s->n_nat == 0) {
		ok = !parse_binding(family, proto, v, &s->nat[0]);
		s->n_nat = 1;
	} else if (!strcmp(tok, "nat-inner") && s->n_nat == 1 &&
		   s->nat[0].manip == XCT_CT_DST_NAT) {
		ok = !parse_binding(family, proto, v, &s->nat[1]);
		ok = ok && s->nat[1].manip == XCT_CT_SRC_NAT;
		s->n_nat = 2;
	} else {
		return bad(r, tok, text, "unknown or misplaced field '%s'", tok);
	}
	if (!ok)
		return bad(r, v, text, "bad value for %s", tok);
	return 0;
}

static int parse_conn(struct reader *r, char *text, struct saved_conn *s)
{
	char *tok[64], *save = NULL, *p;
	unsigned long long port;
	unsigned int seen = 0;
	int n = 0, i;

	memset(s, 0, sizeof(*s));
	for (p = strtok_r(text, " \t", &save); p && n < 64; p = strtok_r(NULL, " \t", &save))
		tok[n++] = p;
	if (n < 6)
		return bad(r, text, text, "%s", "expected FAMILY PROTO ADDR PORT ADDR PORT FIELDS...");
	if (!strcmp(tok[0], "ipv4"))
		s->key.family = XCT_AF_INET;
	else if (!strcmp(tok[0], "ipv6"))
		s->key.family = XCT_AF_INET6;
	else
		return bad(r, tok[0], text, "'%s' is not ipv4 or ipv6", tok[0]);
	if (parse_num(tok[1], 255, &port))
		return bad(r, tok[1], text, "'%s' is not a protocol number", tok[1]);
	s->key.proto = (__u8)port;
	for (i = 0; i < 2; i++) {
		if (parse_addr(s->key.family, tok[2 + 2 * i], &s->key.addr[i]))
			return bad(r, tok[2 + 2 * i], text, "'%s' is not an address of the family",
				   tok[2 + 2 * i]);
		if (parse_num(tok[3 + 2 * i], 65535, &port))
			return bad(r, tok[3 + 2 * i], text, "'%s' is not a port", tok[3 + 2 * i]);
		s->key.port[i] = port_in(s->key.proto, (unsigned int)port);
	}
	for (i = 6; i < n; i++) {
		int err = parse_field(r, text, tok[i], s, &seen);

		if (err)
			return err;
	}
	if ((seen & F_NEEDED) != F_NEEDED ||
	    (s->key.proto == XCT_IPPROTO_TCP && !(seen & (F_STATE | F_TCP))))
		return bad(r, text, text, "%s",
			   "missing field (orig, status, age, idle, timeout, packets, bytes; "
			   "state and tcp for TCP)");
	if (s->key.proto == XCT_IPPROTO_TCP && (seen & (F_STATE | F_TCP)) != (F_STATE | F_TCP))
		return bad(r, text, text, "%s", "a TCP connection needs state and tcp");
	if (!s->timeout)
		return bad(r, text, text, "%s", "timeout=0: the connection was dead when saved");
	/* A translation stays within its connection's zone. */
	for (i = 0; i < (int)s->n_nat; i++)
		s->nat[i].rkey.zone = s->key.zone;
	return 0;
}

static int read_file(FILE *in, struct reader *r, struct saved_conn **out, size_t *n_out,
		     __u64 *saved_real)
{
	char buf[LINE_MAX_LEN + 2];
	struct saved_conn *v = NULL, *nv;
	size_t n = 0, cap = 0;
	bool header = false;
	int err = 0;

	while (fgets(buf, sizeof(buf), in)) {
		size_t len = strlen(buf);
		unsigned long long ver, real;
		char *p = buf;

		r->line++;
		if (len && buf[len - 1] == '\n')
			buf[--len] = 0;
		else if (!feof(in)) {
			err = bad(r, buf, buf, "%s", "line too long");
			break;
		}
		if (strlen(buf) != len) {
			err = bad(r, buf + strlen(buf), buf, "%s", "NUL byte");
			break;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		if (!header) {
			if (sscanf(p, STATE_MAGIC " %llu realtime=%llu", &ver, &real) != 2) {
				err = bad(r, p, buf, "%s",
					  "not a saved table (no '" STATE_MAGIC " 1' line)");
				break;
			}
			if (ver != XCT_CT_STATE_VERSION) {
				err = bad(r, p, buf, "%s", "saved by an xct of another format version");
				break;
			}
			*saved_real = real;
			header = true;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				snprintf(r->err, r->errlen, "%s: out of memory", r->name);
				break;
			}
			v = nv;
		}
		err = parse_conn(r, buf, &v[n]);
		if (err)
			break;
		v[n++].line = r->line;
	}
	if (!err && ferror(in)) {
		err = -EIO;
		snprintf(r->err, r->errlen, "cannot read %s: %s", r->name, strerror(errno));
	}
	if (!err && !header) {
		r->line = r->line ? r->line : 1;
		err = bad(r, "", "", "%s", "empty: not a saved table");
	}
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	*n_out = n;
	return 0;
}

/* Claims rkey for owner unless another connection holds it. */
static int claim(const struct xct_table *t, const struct xct_ct_key *rkey,
		 const struct xct_ct_key *owner)
{
	struct xct_ct_key o;

	if (bpf_map_update_elem(t->nat_rev_fd, rkey, owner, BPF_NOEXIST) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (bpf_map_lookup_elem(t->nat_rev_fd, rkey, &o) == 0 && xct_key_eq(&o, owner))
		return 0;
	return -EADDRINUSE;
}

/* The connection's translation, as bpf/nat.h binds it: the binding on
 * the key and the claim on the translated tuple, and for a dnat that a
 * source translation follows, the inner pair keyed by the dnat's tuple. */
static int bind_nat(const struct xct_table *t, const struct xct_ct_key *key,
		    const struct xct_nat_binding *nat, int n_nat, __u64 first_seen_ns)
{
	const struct xct_ct_key *owner[2] = {key, &nat[0].rkey};
	int i, err;

	if (t->nat_fd < 0 || t->nat_rev_fd < 0)
		return -EOPNOTSUPP;
	for (i = 0; i < n_nat; i++) {
		struct xct_nat_binding b = nat[i];

		b.first_seen_ns = first_seen_ns;
		err = claim(t, &b.rkey, owner[i]);
		if (err)
			return err;
		if (bpf_map_update_elem(t->nat_fd, owner[i], &b, BPF_ANY))
			return -errno;
	}
	return 0;
}

int xct_ct_insert(const struct xct_table *t, const struct xct_ct_key *key, struct xct_ct_entry *e,
		  const struct xct_nat_binding *nat, int n_nat, struct xct_ct_state_counts *c)
{
	struct xct_ct_entry old;
	int err;

	if (bpf_map_lookup_elem(t->ct_fd, key, &old) == 0) {
		c->exists++;
		return 0;
	}
	e->seq = 1;
	if (key->proto == XCT_IPPROTO_TCP)
		xct_tcp_set_liberal(e);
	if (n_nat) {
		err = bind_nat(t, key, nat, n_nat, e->first_seen_ns);
		if (err) {
			xct_nat_forget(t, key);
			if (err != -EADDRINUSE)
				return err;
			c->nat_clash++;
			return 0;
		}
	}
	e->ident = xct_key_ident(key);
	if (bpf_map_update_elem(t->ct_fd, key, e, BPF_NOEXIST)) {
		err = -errno;
		if (n_nat)
			xct_nat_forget(t, key);
		if (err == -EEXIST) {
			c->exists++; /* a packet made it meanwhile */
			return 0;
		}
		if (err == -E2BIG || err == -ENOMEM) {
			c->failed++;
			return 0;
		}
		return err;
	}
	c->restored++;
	if (key->proto == XCT_IPPROTO_TCP)
		c->liberal++;
	return 0;
}

static void clamp_past(__u64 now, __u64 ago, __u64 *at)
{
	*at = ago < now ? now - ago : 1;
}

/*
 * The labels of a connection just restored, after its entry (a tuple the
 * table had already keeps its own).  Keyed as the entry, with its
 * first_seen_ns, as xct ct update writes them (src/ct_ops.c): should the
 * entry go before they are written, they are never taken for a later
 * connection's.
 */
static int restore_labels(const struct xct_table *t, const struct saved_conn *s)
{
	struct xct_ct_labels l = {.bits = {s->labels[0], s->labels[1]},
				  .first_seen_ns = s->e.first_seen_ns};

	return bpf_map_update_elem(t->labels_fd, &s->key, &l, BPF_ANY) ? -errno : 0;
}

static int restore_one(const struct xct_table *t, struct saved_conn *s, __u64 now, __u64 down,
		       struct xct_ct_state_counts *c)
{
	unsigned long restored;
	int err;

	if (s->timeout <= down) {
		c->expired++;
		return 0;
	}
	s->e.expires_ns = now + (s->timeout - down);
	clamp_past(now, s->age + down, &s->e.first_seen_ns);
	clamp_past(now, s->idle + down, &s->e.last_seen_ns);
	if (s->e.last_seen_ns < s->e.first_seen_ns)
		s->e.last_seen_ns = s->e.first_seen_ns;
	if (s->key.proto == XCT_IPPROTO_UDP) {
		long long at = (long long)now + s->stream - (long long)down;

		s->e.proto.udp.stream_ns = at > 0 ? (__u64)at : 0;
	}
	/* The entry says it has labels only when the labels come with it. */
	s->e.status &= ~XCT_CT_LABELS;
	if ((s->labels[0] || s->labels[1]) && t->labels_fd >= 0)
		s->e.status |= XCT_CT_LABELS;
	restored = c->restored;
	err = xct_ct_insert(t, &s->key, &s->e, s->nat, s->n_nat, c);
	if (err || c->restored == restored || !(s->e.status & XCT_CT_LABELS))
		return err;
	return restore_labels(t, s);
}

int xct_ct_restore(const struct xct_table *t, FILE *in, const char *name,
		   struct xct_ct_state_counts *c, char *err, size_t errlen)
{
	struct reader r = {.name = name, .err = err, .errlen = errlen};
	struct saved_conn *v = NULL;
	__u64 saved_real = 0, real, now, down;
	size_t n = 0, i;
	int ret;

	memset(c, 0, sizeof(*c));
	ret = read_file(in, &r, &v, &n, &saved_real);
	if (ret)
		return ret;
	real = realtime_ns();
	down = real > saved_real ? real - saved_real : 0;
	now = xct_now_ns();
	for (i = 0; i < n; i++) {
		ret = restore_one(t, &v[i], now, down, c);
		if (ret) {
			snprintf(err, errlen, "%s:%u: cannot restore the connection: %s", name,
				 v[i].line, strerror(-ret));
			break;
		}
	}
	free(v);
	return ret;
}

int xct_ct_save_file(const struct xct_table *t, const char *path, struct xct_ct_state_counts *c)
{
	char tmp[PATH_MAX];
	FILE *out;
	int fd, err;

	if (!strcmp(path, "-"))
		return xct_ct_save(t, stdout, c);
	/* Written beside the file and renamed over it: a save cut short
	 * leaves the previous one whole. */
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		xct_err("%s: path too long", path);
		return -ENAMETOOLONG;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = -errno;
		xct_err("cannot create %s: %s", tmp, strerror(-err));
		return err;
	}
	out = fdopen(fd, "w");
	if (!out) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	err = xct_ct_save(t, out, c);
	if (!err && (fflush(out) || fsync(fd))) {
		err = -errno;
		xct_err("cannot write %s: %s", tmp, strerror(-err));
	}
	if (fclose(out) && !err) {
		err = -errno;
		xct_err("cannot write %s: %s", tmp, strerror(-err));
	}
	if (!err && rename(tmp, path)) {
		err = -errno;
		xct_err("cannot rename %s to %s: %s", tmp, path, strerror(-err));
	}
	if (err)
		unlink(tmp);
	return err;
}

int xct_ct_restore_file(const struct xct_table *t, const char *path,
			struct xct_ct_state_counts *c, char *err, size_t errlen)
{
	FILE *in;
	int ret;

	if (!strcmp(path, "-"))
		return xct_ct_restore(t, stdin, "<stdin>", c, err, errlen);
	in = fopen(path, "r");
	if (!in) {
		ret = -errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	ret = xct_ct_restore(t, in, path, c, err, errlen);
	fclose(in);
	return ret;
}
