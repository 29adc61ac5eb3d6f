// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct trace drops | resets: why packets die and why connections are reset.
 *
 * Two streams, merged by time:
 *  - the kernel's, from bpf/trace.bpf.c: tracepoint programs this command
 *    loads and attaches for as long as it runs, with their own ring buffer
 *    and lost-event counter, and the filter applied in the kernel before
 *    any ring space is taken;
 *  - xct's own, from the datapath's xct_drop_events ring (XCT_EV_DROP), which
 *    the datapath fills only while a reader keeps its xct_subs slot fresh;
 *    read through xctd when it runs (src/daemon/stream.h), so that several
 *    traces each see every drop.  XDP_DROP never creates an skb, so the
 *    kernel's tracepoint cannot see these.
 *
 * Kernel reasons are named from the running kernel's BTF and code
 * addresses through /proc/kallsyms (src/trace/names.c); xct's table state
 * for a reset's connection is looked up in the pinned xct_ct map when the
 * event is read, a few microseconds to milliseconds after the reset.
 *
 * An event of the datapath's namespace whose connection has an owner
 * (xct attach-cgroup, src/owner.c) names that process, looked up by the
 * table's key of the event's tuple when the event is read, as the table
 * state is.  Events of other namespaces are never attributed: the owner
 * maps record only the sockets of the datapath's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "ct_format.h"
#include "daemon/stream.h"
#include "netns.h"
#include "owner.h"
#include "rules/ruleset.h"
#include "table.h"
#include "trace/explain.h"
#include "trace/names.h"
#include "xct.h"
#include "xct/parse.h"
#include "xct/policy.h"
#include "xct/trace.h"
#include "xct/tuple.h"
#include "trace.skel.h"

static const char trace_usage[] =
	"Usage: xct trace drops|resets [FILTER...] [--summary N] [--count N] [--timeout S]\n"
	"                              [-o text|json] [--ring-size BYTES]\n"
	"\n"
	"drops   every packet the kernel drops with a reason (skb:kfree_skb) and every\n"
	"        packet xct drops or rejects: time, netns, interface, the tuple from the\n"
	"        packet's headers, the reason (the kernel's, named from its BTF, or\n"
	"        xct's with the rule line), where in the kernel, and what it means.\n"
	"resets  RSTs the local stack sends (tcp:tcp_send_reset: its reason and socket\n"
	"        state; 'active' when the stack aborts a connection, 'answer' when it\n"
	"        answers a packet), RSTs it accepts (tcp:tcp_receive_reset), and the\n"
	"        RSTs xct's reject rules send; with xct's table state for each.\n"
	"Both name the process owning the connection where xct attach-cgroup\n"
	"recorded one: pid= comm= uid=... as xct ct list -o process shows it.\n"
	"\n"
	"Filters (all must match; applied in the kernel where they can be):\n"
	"  -p, --proto PROTO     tcp, udp, icmp, icmpv6 or a number\n"
	"      --host ADDR[/LEN] source or destination in the prefix\n"
	"      --port N          source or destination port (TCP, UDP)\n"
	"  -i, --iface NAME|N    interface (a name of this namespace, or an ifindex)\n"
	"      --netns INODE|PATH network namespace (e.g. /run/netns/NAME)\n"
	"      --reason NAME     a kernel reason (NO_SOCKET...) or xct's (rule, policy,\n"
	"                        tcp_invalid_state... as in 'xct ct stats --reasons')\n"
	"\n"
	"Output:\n"
	"      --summary N       counts by reason, location and flow every N seconds\n"
	"      --count N         stop after N events\n"
	"      --timeout S       stop after S seconds\n"
	"  -o, --output FMT      text (default) or json: one object per line\n"
	"      --ring-size BYTES the kernel stream's ring (a power of 2, >= 4096)\n"
	"\n"
	"Events the rings had no room for are counted and reported at the end (and in\n"
	"each summary); the datapath never waits for this command.\n"
	"\n"
	"Examples:\n"
	"  xct trace drops --port 443\n"
	"  xct trace drops --reason NETFILTER_DROP -o json\n"
	"  xct trace drops --summary 5\n"
	"  xct trace resets --host 10.0.0.0/8\n";

enum trace_mode {
	MODE_DROPS,
	MODE_RESETS,
};

/* One event of either stream, as the merge sorts them. */
struct trace_item {
	int from_xct;
	union {
		struct xct_trace_event k;
		struct xct_event x;
	};
};

struct summary_slot {
	char *key;
	__u64 count;
};

struct summary_table {
	struct summary_slot *v;
	size_t n, cap;
};

struct trace {
	enum trace_mode mode;
	bool json;
	struct xct_trace_filter f;
	/* xct's side of the filter: reason as xct names it. */
	int xct_reason;	      /* enum xct_reason, -1: any */
	int xct_only;	      /* the reason filter names one of xct's reasons */
	int kernel_only;      /* ... or one of the kernel's */
	int want_rule;	      /* "rule": a rule decided */
	int want_policy;      /* "policy": the policy decided */
	__u32 self_netns;     /* where the datapath's interfaces are */
	bool state_elsewhere; /* in another namespace than this process's */
	__u64 start_ns;	      /* xct events before this are an earlier reader's */
	__u64 hold_ns;	      /* how long an event waits for older ones of the other stream */
	__u64 wanted, seen;
	__s64 mono_to_real;

	struct xct_enum_names drop_reasons, rst_reasons;
	struct xct_ksyms ksyms;

	struct trace_item *batch;
	size_t nbatch, capbatch;

	__u64 summary_s;
	struct summary_table by_reason, by_location, by_flow;
	__u64 summary_events;

	int ct_fd; /* xct's table, or -1 */
	struct xct_owner_view owners;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static const char *const xct_reason_names[] = {
#define TRACE_REASON_NAME(name, str, why) str,
	XCT_REASONS(TRACE_REASON_NAME)
#undef TRACE_REASON_NAME
};

static const char *const xct_reason_whys[] = {
#define TRACE_REASON_WHY(name, str, why) why,
	XCT_REASONS(TRACE_REASON_WHY)
#undef TRACE_REASON_WHY
};

static __s64 mono_to_real(void)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return ((__s64)real.tv_sec - mono.tv_sec) * (__s64)XCT_NSEC_PER_SEC +
	       (real.tv_nsec - mono.tv_nsec);
}

static int parse_proto(const char *s, __u8 *proto)
{
	static const struct {
		const char *name;
		__u8 proto;
	} names[] = {{"tcp", XCT_IPPROTO_TCP},
		     {"udp", XCT_IPPROTO_UDP},
		     {"icmp", XCT_IPPROTO_ICMP},
		     {"icmpv6", XCT_IPPROTO_ICMPV6},
		     {"ipv6-icmp", XCT_IPPROTO_ICMPV6}};
	__u64 n;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(s, names[i].name)) {
			*proto = names[i].proto;
			return 0;
		}
	}
	if (xct_parse_u64(s, 0, 254, &n))
		return -EINVAL;
	*proto = (__u8)n;
	return 0;
}

/* ADDR or ADDR/LEN into the filter's address and mask, by the rules
 * file's address parser (its message in why). */
static int parse_host(const char *s, struct xct_trace_filter *f, char *why, size_t whylen)
{
	struct xct_prefix pf;
	unsigned int len, i;

	if (xct_parse_prefix_msg(s, &pf, why, whylen))
		return -EINVAL;
	f->family = pf.family;
	_Static_assert(sizeof(f->addr) == sizeof(pf.addr), "address sizes");
	memcpy(f->addr, pf.addr, sizeof(pf.addr));
	len = pf.plen;
	memset(f->mask, 0, sizeof(f->mask));
	for (i = 0; i < 4; i++) {
		unsigned int bits = len > 32 * i ? len - 32 * i : 0;

		if (bits >= 32)
			f->mask[i] = 0xffffffff;
		else if (bits)
			f->mask[i] = htonl(~0U << (32 - bits));
		f->addr[i] &= f->mask[i];
	}
	f->has_addr = 1;
	return 0;
}

/* INODE or a path to a namespace file. */
static int parse_netns(const char *s, __u32 *inode)
{
	struct stat st;
	__u64 n;

	if (!xct_parse_u64(s, 1, 0xffffffff, &n)) {
		*inode = (__u32)n;
		return 0;
	}
	if (stat(s, &st))
		return -errno;
	*inode = (__u32)st.st_ino;
	return 0;
}

/* The name of an interface of xct's datapath: looked up here when the
 * state is this namespace's, else as the state recorded it at attach. */
static void xct_dev_name(const struct trace *t, __u32 ifindex, char *buf)
{
	if (t->state_elsewhere ? xct_ifname_recorded(xct_opts.pin_path, ifindex, buf)
			       : !if_indextoname(ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "%u", ifindex);
}

static __u32 own_netns(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (__u32)st.st_ino;
}

/* ---- The merge: events of one poll round, sorted by time ---- */

static int batch_add(struct trace *t, const void *data, size_t size, int from_xct)
{
	struct trace_item *it;

	if (t->nbatch == t->capbatch) {
		size_t cap = t->capbatch ? t->capbatch * 2 : 1024;
		struct trace_item *v = realloc(t->batch, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->batch = v;
		t->capbatch = cap;
	}
	it = &t->batch[t->nbatch];
	memset(it, 0, sizeof(*it));
	it->from_xct = from_xct;
	if (from_xct)
		memcpy(&it->x, data, size < sizeof(it->x) ? size : sizeof(it->x));
	else
		memcpy(&it->k, data, size < sizeof(it->k) ? size : sizeof(it->k));
	t->nbatch++;
	return 0;
}

static __u64 item_time(const struct trace_item *it)
{
	return it->from_xct ? it->x.time_ns : it->k.time_ns;
}

static int cmp_items(const void *a, const void *b)
{
	__u64 x = item_time(a), y = item_time(b);

	return x < y ? -1 : x > y;
}

static int on_kernel_event(void *ctx, void *data, size_t size)
{
	struct trace *t = ctx;

	if (size < sizeof(struct xct_trace_event))
		return 0;
	return batch_add(t, data, size, 0);
}

/* xct's own events that this mode shows, with the filter applied. */
static int xct_event_wanted(const struct trace *t, const struct xct_event *ev)
{
	const struct xct_trace_filter *f = &t->f;
	int has_ports = ev->proto == XCT_IPPROTO_TCP || ev->proto == XCT_IPPROTO_UDP;
	int i, s = 1, d = 1;

	if (ev->type != XCT_EV_DROP || t->kernel_only)
		return 0;
	if (t->mode == MODE_RESETS &&
	    (ev->verdict != XCT_VERDICT_REJECT || ev->proto != XCT_IPPROTO_TCP))
		return 0;
	if (f->has_proto && ev->proto != f->proto)
		return 0;
	if (f->has_netns && f->netns != t->self_netns)
		return 0;
	if (f->has_ifindex && ev->ifindex != f->ifindex)
		return 0;
	if (f->has_port && (!has_ports || (ev->sport != f->port && ev->dport != f->port)))
		return 0;
	if (f->has_addr) {
		if (ev->family != f->family)
			return 0;
		for (i = 0; i < 4; i++) {
			if ((ev->src.v6[i] & f->mask[i]) != f->addr[i])
				s = 0;
			if ((ev->dst.v6[i] & f->mask[i]) != f->addr[i])
				d = 0;
		}
		if (!s && !d)
			return 0;
	}
	if (t->want_rule && !(ev->flags & XCT_EVF_MATCHED))
		return 0;
	if (t->want_policy && (ev->flags & XCT_EVF_MATCHED))
		return 0;
	if (t->xct_reason >= 0 && ev->reason != t->xct_reason)
		return 0;
	return 1;
}

static int on_xct_event(void *ctx, void *data, size_t size)
{
	struct trace *t = ctx;

	if (size < sizeof(struct xct_event) || !xct_event_wanted(t, data))
		return 0;
	/* Left in the ring since an earlier reader went away: not ours. */
	if (((const struct xct_event *)data)->time_ns < t->start_ns)
		return 0;
	return batch_add(t, data, size, 1);
}

/* ---- Formatting ---- */

static void time_str(const struct trace *t, __u64 mono, char *buf, size_t len, int json)
{
	__u64 real = mono + (__u64)t->mono_to_real;
	time_t secs = (time_t)(real / XCT_NSEC_PER_SEC);
	unsigned long long us = real % XCT_NSEC_PER_SEC / 1000;
	struct tm tm;
	char hms[16];

	if (json) {
		snprintf(buf, len, "%llu.%06llu", (unsigned long long)secs, us);
		return;
	}
	localtime_r(&secs, &tm);
	strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06llu", hms, us);
}

static void tcp_flags_str(__u8 flags, char *buf)
{
	static const char letters[] = "FSRPAUEC";
	int i, n = 0;

	for (i = 0; i < 8; i++)
		if (flags & (1 << i))
			buf[n++] = letters[i];
	buf[n] = 0;
}

/* A normalised view of both streams' tuples. */
struct view {
	__u8 family, proto;
	int ports;
	union xct_addr src, dst;
	__u16 sport, dport;
};

static void tuple_text(const struct view *v, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN], pb[8];
	const char *proto = xct_proto_label(v->proto, pb, sizeof(pb));

	if (!v->family) {
		snprintf(buf, len, "(no IP header)");
		return;
	}
	xct_format_addr(v->family, &v->src, s, sizeof(s));
	xct_format_addr(v->family, &v->dst, d, sizeof(d));
	if (v->ports && (v->proto == XCT_IPPROTO_TCP || v->proto == XCT_IPPROTO_UDP)) {
		if (v->family == XCT_AF_INET6)
			snprintf(buf, len, "%s [%s]:%u -> [%s]:%u", proto, s, v->sport, d,
				 v->dport);
		else
			snprintf(buf, len, "%s %s:%u -> %s:%u", proto, s, v->sport, d, v->dport);
	} else if (v->ports) {
		snprintf(buf, len, "%s %s -> %s type %u code %u", proto, s, d, v->sport >> 8,
			 v->sport & 0xff);
	} else {
		snprintf(buf, len, "%s %s -> %s", proto, s, d);
	}
}

static void tuple_json(const struct view *v)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN], pb[8];

	if (!v->family)
		return;
	xct_format_addr(v->family, &v->src, s, sizeof(s));
	xct_format_addr(v->family, &v->dst, d, sizeof(d));
	printf(",\"family\":\"%s\",\"proto\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\"",
	       v->family == XCT_AF_INET6 ? "ipv6" : "ipv4",
	       xct_proto_label(v->proto, pb, sizeof(pb)), s, d);
	if (v->ports && (v->proto == XCT_IPPROTO_TCP || v->proto == XCT_IPPROTO_UDP))
		printf(",\"sport\":%u,\"dport\":%u", v->sport, v->dport);
	else if (v->ports)
		printf(",\"icmp_type\":%u,\"icmp_code\":%u", v->sport >> 8, v->sport & 0xff);
}

static struct view kernel_view(const struct xct_trace_event *k)
{
	struct view v = {.family = k->family, .proto = k->proto, .ports = k->has_ports};

	memcpy(&v.src, k->src, 16);
	memcpy(&v.dst, k->dst, 16);
	v.sport = k->sport;
	v.dport = k->dport;
	return v;
}

static struct view xct_view(const struct xct_event *x)
{
	struct view v = {.family = x->family, .proto = x->proto};

	v.ports = x->proto == XCT_IPPROTO_TCP || x->proto == XCT_IPPROTO_UDP ||
		  x->proto == XCT_IPPROTO_ICMP || x->proto == XCT_IPPROTO_ICMPV6;
	v.src = x->src;
	v.dst = x->dst;
	v.sport = x->sport;
	v.dport = x->dport;
	return v;
}

/* xct's name for why it dropped: the rule, the policy, or the tracker. */
static const char *xct_drop_reason(const struct xct_event *x)
{
	if (x->reason == XCT_R_OK)
		return x->flags & XCT_EVF_MATCHED ? "rule" : "policy";
	return x->reason < XCT_R_COUNT ? xct_reason_names[x->reason] : "?";
}

static void xct_drop_explain_str(const struct xct_event *x, char *buf, size_t len)
{
	const char *why = x->reason < XCT_R_COUNT ? xct_reason_whys[x->reason] : "?";

	if (x->flags & XCT_EVF_MATCHED) {
		if (x->reason == XCT_R_OK)
			snprintf(buf, len, "xct's rule on line %u %s it", x->line,
				 x->verdict == XCT_VERDICT_REJECT ? "rejected" : "dropped");
		else
			snprintf(buf, len, "xct's rule on line %u %s it; tracker: %s", x->line,
				 x->verdict == XCT_VERDICT_REJECT ? "rejected" : "dropped", why);
	} else if (x->reason == XCT_R_OK) {
		snprintf(buf, len, "no rule matched: xct's policy %s new and invalid packets",
			 x->verdict == XCT_VERDICT_REJECT ? "rejects" : "drops");
	} else {
		snprintf(buf, len, "xct's policy refused it; tracker: %s", why);
	}
}

static const char *state_name(__u8 s)
{
	static const char *const names[] = {"new", "established", "related", "invalid",
					    "untracked"};

	return s < 5 ? names[s] : "raw";
}

static const char *kernel_reason(const struct trace *t, const struct xct_trace_event *k, char *buf,
				 size_t len)
{
	const char *n = xct_enum_name(
		k->kind == XCT_TR_KFREE_SKB ? &t->drop_reasons : &t->rst_reasons, k->reason);

	if (n)
		return n;
	snprintf(buf, len, "%u", k->reason);
	return buf;
}

/* The table's key of a view's connection, and the key side of the view's
 * source.  0, or -1 when it has none (no IP header, or no ports). */
static int view_key(const struct view *v, struct xct_ct_key *key, __u8 *side)
{
	struct xct_tuple tu = {};

	if (!v->family)
		return -1;
	tu.family = v->family;
	tu.proto = v->proto;
	tu.src = v->src;
	tu.dst = v->dst;
	tu.sport = htons(v->sport);
	tu.dport = htons(v->dport);
	memset(key, 0, sizeof(*key));
	return xct_key_from_tuple(&tu, key, side) < 0 ? -1 : 0;
}

/* xct's table state for a reset's connection, now: "SYN_SENT", "none", or
 * NULL without a table. */
static const char *xct_table_state(const struct trace *t, const struct view *v, char *buf,
				   size_t len)
{
	struct xct_ct_key key;
	struct xct_ct_entry e;
	__u8 side;

	if (t->ct_fd < 0 || view_key(v, &key, &side))
		return NULL;
	if (bpf_map_lookup_elem_flags(t->ct_fd, &key, &e, BPF_F_LOCK))
		return "none";
	if (e.expires_ns <= xct_now_ns() || (e.status & XCT_CT_DYING))
		return "none";
	snprintf(buf, len, "%s", xct_tcp_state_name(e.state));
	return buf;
}

/*
 * The owner of an event's connection, now, into *o: 0, or -ENOENT.  Only
 * events of the datapath's namespace have one; the original direction is
 * the entry's where the table still has it, else the view's own (a reset
 * or drop of a connection's first packet).
 */
static int trace_owner(struct trace *t, const struct view *v, __u32 netns, struct xct_owner *o)
{
	struct xct_ct_key key;
	struct xct_ct_entry e;
	__u8 side;

	if (netns != t->self_netns || view_key(v, &key, &side))
		return -ENOENT;
	if (t->ct_fd >= 0 && !bpf_map_lookup_elem_flags(t->ct_fd, &key, &e, BPF_F_LOCK))
		side = e.orig_side;
	return xct_owner_find(&t->owners, &key, side, o);
}

/* The owner, if any, as the text line's " pid=... comm=... uid=..." or as
 * the JSON object's "owner" member. */
static void print_owner(struct trace *t, const struct view *v, __u32 netns)
{
	struct xct_owner o;
	char buf[2 * PATH_MAX];

	if (trace_owner(t, v, netns, &o))
		return;
	if (t->json) {
		fputs(",\"owner\":", stdout);
		xct_owner_json(stdout, &t->owners, &o);
	} else if (xct_owner_format(&t->owners, &o, buf, sizeof(buf)) > 0) {
		fputs(buf, stdout);
	}
}

static void print_kernel_drop(struct trace *t, const struct xct_trace_event *k)
{
	struct view v = kernel_view(k);
	char when[40], tuple[160], loc[160], rb[16], flags[12];
	const char *reason = kernel_reason(t, k, rb, sizeof(rb));
	const char *why = xct_drop_explain(reason);

	time_str(t, k->time_ns, when, sizeof(when), t->json);
	xct_ksym_format(&t->ksyms, k->location, loc, sizeof(loc));
	tcp_flags_str(k->tcp_flags, flags);
	if (t->json) {
		printf("{\"time\":%s,\"event\":\"drop\",\"source\":\"kernel\",\"netns\":%u,"
		       "\"ifindex\":%u,\"iface\":",
		       when, k->netns, k->ifindex);
		xct_json_string(k->ifname);
		tuple_json(&v);
		if (k->proto == XCT_IPPROTO_TCP && k->has_ports)
			printf(",\"tcp_flags\":\"%s\"", flags);
		printf(",\"reason\":");
		xct_json_string(reason);
		printf(",\"location\":");
		xct_json_string(loc);
		print_owner(t, &v, k->netns);
		if (why) {
			printf(",\"explain\":");
			xct_json_string(why);
		}
		printf("}\n");
	} else {
		tuple_text(&v, tuple, sizeof(tuple));
		printf("%s kernel drop netns %u dev %s %s", when, k->netns,
		       k->ifname[0] ? k->ifname : "-", tuple);
		if (k->proto == XCT_IPPROTO_TCP && k->has_ports)
			printf(" flags %s", flags);
		printf(" reason %s at %s", reason, loc);
		print_owner(t, &v, k->netns);
		if (why)
			printf(" (%s)", why);
		printf("\n");
	}
}

static void print_xct_drop(struct trace *t, const struct xct_event *x)
{
	struct view v = xct_view(x);
	char when[40], tuple[160], ifname[IF_NAMESIZE] = "", why[200];
	const char *verdict = x->verdict == XCT_VERDICT_REJECT ? "reject" : "drop";

	time_str(t, x->time_ns, when, sizeof(when), t->json);
	xct_dev_name(t, x->ifindex, ifname);
	xct_drop_explain_str(x, why, sizeof(why));
	if (t->json) {
		printf("{\"time\":%s,\"event\":\"drop\",\"source\":\"xct\",\"netns\":%u,"
		       "\"ifindex\":%u,\"iface\":",
		       when, t->self_netns, x->ifindex);
		xct_json_string(ifname);
		printf(",\"hook\":\"%s\"", x->hook == XCT_HOOK_EGRESS ? "egress" : "ingress");
		tuple_json(&v);
		printf(",\"reason\":\"%s\",\"verdict\":\"%s\",\"state\":\"%s\"", xct_drop_reason(x),
		       verdict, state_name(x->ct_state));
		if (x->flags & XCT_EVF_MATCHED)
			printf(",\"rule_line\":%u", x->line);
		print_owner(t, &v, t->self_netns);
		printf(",\"explain\":");
		xct_json_string(why);
		printf("}\n");
	} else {
		tuple_text(&v, tuple, sizeof(tuple));
		printf("%s xct %s netns %u dev %s %s reason %s", when, verdict, t->self_netns,
		       ifname, tuple, xct_drop_reason(x));
		if (x->flags & XCT_EVF_MATCHED)
			printf(" rule line %u", x->line);
		printf(" state %s", state_name(x->ct_state));
		print_owner(t, &v, t->self_netns);
		printf(" (%s)\n", why);
	}
}

static void print_reset(struct trace *t, const struct trace_item *it)
{
	char when[40], tuple[160], rb[16], sb[32], ifname[IF_NAMESIZE] = "";
	const char *dir, *kind, *source, *reason = NULL, *why = NULL, *sk_state = NULL;
	const char *xstate;
	struct view v;
	__u32 netns, ifindex;
	__u32 line = 0;
	int has_line = 0;

	if (it->from_xct) {
		const struct xct_event *x = &it->x;

		/* xct's RST answers the rejected packet: reverse it. */
		v = xct_view(x);
		v.src = x->dst;
		v.dst = x->src;
		v.sport = x->dport;
		v.dport = x->sport;
		dir = "sent";
		kind = "reject";
		source = "xct";
		reason = "reject";
		has_line = (x->flags & XCT_EVF_MATCHED) != 0;
		line = x->line;
		why = has_line ? "xct's reject rule answered the packet" : "xct's policy rejects";
		netns = t->self_netns;
		ifindex = x->ifindex;
		xct_dev_name(t, ifindex, ifname);
		time_str(t, x->time_ns, when, sizeof(when), t->json);
	} else {
		const struct xct_trace_event *k = &it->k;

		v = kernel_view(k);
		source = "kernel";
		netns = k->netns;
		ifindex = k->ifindex;
		snprintf(ifname, sizeof(ifname), "%s", k->ifname);
		time_str(t, k->time_ns, when, sizeof(when), t->json);
		sk_state = k->skaddr ? xct_tcp_sk_state_name(k->state) : NULL;
		if (k->kind == XCT_TR_SEND_RESET) {
			dir = "sent";
			kind = k->skbaddr ? "answer" : "active";
			reason = kernel_reason(t, k, rb, sizeof(rb));
			why = xct_reset_explain(reason);
		} else {
			dir = "received";
			kind = "peer";
			why = "the peer reset the connection";
		}
	}
	xstate = xct_table_state(t, &v, sb, sizeof(sb));
	if (t->json) {
		printf("{\"time\":%s,\"event\":\"reset\",\"direction\":\"%s\",\"kind\":\"%s\","
		       "\"source\":\"%s\",\"netns\":%u,\"ifindex\":%u,\"iface\":",
		       when, dir, kind, source, netns, ifindex);
		xct_json_string(ifname);
		tuple_json(&v);
		if (reason) {
			printf(",\"reason\":");
			xct_json_string(reason);
		}
		if (sk_state)
			printf(",\"socket_state\":\"%s\"", sk_state);
		if (has_line)
			printf(",\"rule_line\":%u", line);
		if (xstate)
			printf(",\"xct_state\":\"%s\"", xstate);
		print_owner(t, &v, netns);
		if (why) {
			printf(",\"explain\":");
			xct_json_string(why);
		}
		printf("}\n");
	} else {
		tuple_text(&v, tuple, sizeof(tuple));
		printf("%s %s reset %s %s netns %u dev %s %s", when, source, dir, kind, netns,
		       ifname[0] ? ifname : "-", tuple);
		if (reason)
			printf(" reason %s", reason);
		if (has_line)
			printf(" rule line %u", line);
		if (sk_state)
			printf(" socket %s", sk_state);
		if (xstate)
			printf(" xct %s", xstate);
		print_owner(t, &v, netns);
		if (why)
			printf(" (%s)", why);
		printf("\n");
	}
}

/* ---- Summary: counts by reason, location and flow ---- */

static int summary_add(struct summary_table *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (!strcmp(s->v[i].key, key)) {
			s->v[i].count++;
			return 0;
		}
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct summary_slot *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n].key = strdup(key);
	if (!s->v[s->n].key)
		return -ENOMEM;
	s->v[s->n++].count = 1;
	return 0;
}

static void summary_clear(struct summary_table *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].key);
	s->n = 0;
}

static int cmp_slots(const void *a, const void *b)
{
	const struct summary_slot *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->key, y->key);
}

/* The flows table is the one that can grow with traffic: capped. */
#define SUMMARY_FLOWS_MAX 4096
#define SUMMARY_TOP	  10

static void summarise(struct trace *t, const struct trace_item *it)
{
	char reason[64], loc[160], flow[200], rb[16];
	struct view v;

	if (it->from_xct) {
		v = xct_view(&it->x);
		snprintf(reason, sizeof(reason), "xct:%s", xct_drop_reason(&it->x));
		if (it->x.flags & XCT_EVF_MATCHED)
			snprintf(loc, sizeof(loc), "xct rule line %u", it->x.line);
		else
			snprintf(loc, sizeof(loc), "xct %s", it->x.reason ? "tracker" : "policy");
	} else {
		v = kernel_view(&it->k);
		if (it->k.kind == XCT_TR_RECV_RESET)
			snprintf(reason, sizeof(reason), "received");
		else
			snprintf(reason, sizeof(reason), "%s",
				 kernel_reason(t, &it->k, rb, sizeof(rb)));
		if (it->k.kind == XCT_TR_KFREE_SKB)
			xct_ksym_format(&t->ksyms, it->k.location, loc, sizeof(loc));
		else
			snprintf(loc, sizeof(loc), "%s",
				 it->k.kind == XCT_TR_RECV_RESET ? "tcp_receive_reset"
				 : it->k.skbaddr		 ? "tcp_send_reset (answer)"
								 : "tcp_send_reset (active)");
	}
	tuple_text(&v, flow, sizeof(flow));
	t->summary_events++;
	summary_add(&t->by_reason, reason);
	summary_add(&t->by_location, loc);
	if (t->by_flow.n < SUMMARY_FLOWS_MAX)
		summary_add(&t->by_flow, flow);
	else
		summary_add(&t->by_flow, "(other flows)");
}

static void summary_print_table(const struct trace *t, const char *name, struct summary_table *s,
				int last)
{
	size_t i, n;

	qsort(s->v, s->n, sizeof(*s->v), cmp_slots);
	n = s->n < SUMMARY_TOP ? s->n : SUMMARY_TOP;
	if (t->json) {
		printf("\"%s\":[", name);
		for (i = 0; i < n; i++) {
			printf("%s{\"key\":", i ? "," : "");
			xct_json_string(s->v[i].key);
			printf(",\"count\":%llu}", (unsigned long long)s->v[i].count);
		}
		printf("]%s", last ? "" : ",");
		return;
	}
	printf("  by %s:\n", name);
	for (i = 0; i < n; i++)
		printf("    %8llu  %s\n", (unsigned long long)s->v[i].count, s->v[i].key);
	if (s->n > n)
		printf("    (%zu more)\n", s->n - n);
}

static void summary_print(struct trace *t, __u64 lost_kernel, __u64 lost_xct)
{
	char when[40];

	time_str(t, xct_now_ns(), when, sizeof(when), t->json);
	if (t->json) {
		printf("{\"time\":%s,\"event\":\"summary\",\"interval_s\":%llu,\"events\":%llu,"
		       "\"lost\":%llu,\"xct_lost\":%llu,",
		       when, (unsigned long long)t->summary_s,
		       (unsigned long long)t->summary_events, (unsigned long long)lost_kernel,
		       (unsigned long long)lost_xct);
		summary_print_table(t, "reason", &t->by_reason, 0);
		summary_print_table(t, "location", &t->by_location, 0);
		summary_print_table(t, "flow", &t->by_flow, 1);
		printf("}\n");
	} else {
		printf("%s %llu %s in %llu s, %llu lost (kernel), %llu lost (xct)\n", when,
		       (unsigned long long)t->summary_events,
		       t->mode == MODE_DROPS ? "drops" : "resets", (unsigned long long)t->summary_s,
		       (unsigned long long)lost_kernel, (unsigned long long)lost_xct);
		summary_print_table(t, "reason", &t->by_reason, 0);
		summary_print_table(t, "location", &t->by_location, 0);
		summary_print_table(t, "flow", &t->by_flow, 1);
	}
	fflush(stdout);
	summary_clear(&t->by_reason);
	summary_clear(&t->by_location);
	summary_clear(&t->by_flow);
	t->summary_events = 0;
}

/* Is this kernel drop an XDP program's verdict: reason XDP (generic XDP),
 * or no reason at an XDP receive path (a veth runs native XDP on an skb)? */
static int kernel_xdp_drop(const struct trace *t, const struct xct_trace_event *k)
{
	const char *reason = xct_enum_name(&t->drop_reasons, k->reason);
	const struct xct_ksym *sym;
	__u64 off;

	if (k->kind != XCT_TR_KFREE_SKB || !reason)
		return 0;
	if (!strcmp(reason, "XDP"))
		return 1;
	sym = strcmp(reason, "NOT_SPECIFIED") ? NULL : xct_ksym_find(&t->ksyms, k->location, &off);
	return sym && strstr(sym->name, "xdp") != NULL;
}

static int same_packet(const struct xct_trace_event *k, const struct xct_event *x)
{
	return k->family == x->family && k->proto == x->proto && !memcmp(k->src, &x->src, 16) &&
	       !memcmp(k->dst, &x->dst, 16) && k->sport == x->sport && k->dport == x->dport;
}

/*
 * xct's XDP drop of a packet that already had an skb (a veth, generic XDP)
 * reaches the kernel's tracepoint too, as XDP or NOT_SPECIFIED at the XDP
 * receive path.  It is the same drop: xct's event says more (the rule, the
 * reason), so the kernel's copy is left out when xct's event for the same
 * tuple is in the batch within XCT_TRACE_SAME_NS.
 */
#define XCT_TRACE_SAME_NS (1000ULL * 1000)

static int duplicate_of_xct(const struct trace *t, size_t i)
{
	const struct xct_trace_event *k = &t->batch[i].k;
	size_t j;

	if (t->batch[i].from_xct || !kernel_xdp_drop(t, k))
		return 0;
	for (j = 0; j < t->nbatch; j++) {
		const struct trace_item *o = &t->batch[j];
		__u64 d;

		if (!o->from_xct)
			continue;
		d = o->x.time_ns > k->time_ns ? o->x.time_ns - k->time_ns
					      : k->time_ns - o->x.time_ns;
		if (d < XCT_TRACE_SAME_NS && same_packet(k, &o->x))
			return 1;
	}
	return 0;
}

/*
 * Prints (or counts) the batch in time order.  The two rings are read one
 * after the other, so an event may arrive a little after a later one of
 * the other stream: events younger than XCT_TRACE_HOLD_NS wait for the
 * next round (unless this is the last), which orders the merge and lets
 * the duplicate check see both copies of a drop.
 */
#define XCT_TRACE_HOLD_NS (10ULL * 1000 * 1000)
/* xctd passes xct's events on within a wakeup of its own: give them more. */
#define XCT_TRACE_HOLD_DAEMON_NS (100ULL * 1000 * 1000)

static void flush_batch(struct trace *t, int last)
{
	__u64 until = xct_now_ns() - t->hold_ns;
	size_t i;

	qsort(t->batch, t->nbatch, sizeof(*t->batch), cmp_items);
	for (i = 0; i < t->nbatch && (!t->wanted || t->seen < t->wanted); i++) {
		const struct trace_item *it = &t->batch[i];

		if (!last && item_time(it) > until)
			break;
		if (t->mode == MODE_DROPS && duplicate_of_xct(t, i))
			continue;
		if (t->summary_s)
			summarise(t, it);
		else if (t->mode == MODE_RESETS)
			print_reset(t, it);
		else if (it->from_xct)
			print_xct_drop(t, &it->x);
		else
			print_kernel_drop(t, &it->k);
		t->seen++;
	}
	memmove(t->batch, t->batch + i, (t->nbatch - i) * sizeof(*t->batch));
	t->nbatch -= i;
	fflush(stdout);
}

static __u64 percpu_total(int fd)
{
	__u64 sum;

	return xct_percpu_sum(fd, 0, &sum, 1) ? 0 : sum;
}

/* A --reason NAME: xct's (exact names, plus rule and policy) or the
 * kernel's, from the BTF enum of this mode. */
static int set_reason(struct trace *t, const char *name)
{
	const struct xct_enum_names *e = t->mode == MODE_DROPS ? &t->drop_reasons : &t->rst_reasons;
	__s64 value;
	int i;

	if (!strcmp(name, "rule") || !strcmp(name, "policy")) {
		t->want_rule = name[0] == 'r';
		t->want_policy = !t->want_rule;
		t->xct_reason = XCT_R_OK;
		t->xct_only = 1;
		return 0;
	}
	for (i = 0; i < XCT_R_COUNT; i++) {
		if (!strcmp(name, xct_reason_names[i])) {
			t->xct_reason = i;
			t->xct_only = 1;
			return 0;
		}
	}
	if (xct_enum_value(e, name, &value))
		return -ENOENT;
	t->f.reason = (__u32)value;
	t->f.has_reason = 1;
	t->kernel_only = 1;
	return 0;
}

static int load_names(struct trace *t)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int err;

	if (!btf) {
		xct_err("cannot read the kernel's BTF: %s", strerror(errno));
		return -errno;
	}
	err = xct_enum_load(&t->drop_reasons, btf, "skb_drop_reason", "SKB_DROP_REASON_");
	if (!err)
		err = xct_enum_load(&t->rst_reasons, btf, "sk_rst_reason", "SK_RST_REASON_");
	btf__free(btf);
	if (err) {
		xct_err("cannot read the kernel's drop and reset reasons from BTF: %s",
			strerror(-err));
		return err;
	}
	err = xct_ksyms_load(&t->ksyms, "/proc/kallsyms");
	if (err)
		xct_err("drop locations stay addresses: /proc/kallsyms: %s", strerror(-err));
	return 0;
}

/*
 * libbpf finds a tracepoint's id in tracefs.  `ip netns exec` remounts /sys
 * without it, so mount it when it is missing, as the kernel's docs do; in
 * such a private mount namespace the mount goes away with it.
 */
static int ensure_tracefs(void)
{
	static const char dir[] = "/sys/kernel/tracing";

	if (access("/sys/kernel/tracing/events", F_OK) == 0 ||
	    access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return 0;
	if (mount("nodev", dir, "tracefs", 0, NULL)) {
		xct_err("cannot mount tracefs on %s: %s", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Waits up to 100 ms for either stream: 0, or -EINTR. */
static int wait_both(struct ring_buffer *rb, const struct xct_stream *xs)
{
	struct pollfd pfd[2] = {{.fd = ring_buffer__epoll_fd(rb), .events = POLLIN},
				{.fd = xs ? xct_stream_fd(xs) : -1, .events = POLLIN}};

	if (poll(pfd, 2, 100) < 0 && errno == EINTR)
		return -EINTR;
	return 0;
}

static int parse_ring_size(const char *s, __u32 *out)
{
	__u64 n;

	if (xct_parse_u64(s, 4096, 1U << 30, &n) || (n & (n - 1)))
		return -EINVAL;
	*out = (__u32)n;
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	static const struct option opts[] = {
		{"proto", required_argument, NULL, 'p'},
		{"host", required_argument, NULL, 'H'},
		{"port", required_argument, NULL, 'P'},
		{"iface", required_argument, NULL, 'i'},
		{"netns", required_argument, NULL, 'n'},
		{"reason", required_argument, NULL, 'r'},
		{"summary", required_argument, NULL, 'S'},
		{"count", required_argument, NULL, 'c'},
		{"timeout", required_argument, NULL, 't'},
		{"output", required_argument, NULL, 'o'},
		{"ring-size", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct trace t = {.json = xct_opts.json,
			  .xct_reason = -1,
			  .ct_fd = -1,
			  .owners = {.owner_fd = -1, .listen_fd = -1}};
	const char *reason_arg = NULL, *iface_arg = NULL;
	struct xct_trace_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	struct xct_table table;
	int table_open = 0;
	struct xct_stream_paths paths;
	struct xct_stream *xs = NULL;
	__u64 n, timeout_s = 0, xct_lost0 = 0, lost_k = 0, lost_x = 0, next_summary = 0;
	__u32 ring_size = XCT_TRACE_RING_DEFAULT;
	int c, err, rc = XCT_EXIT_RUNTIME, have_xct = 0;
	char path[4096], why[160];
	struct xct_netns_id rec, self;
	time_t deadline = 0;

	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "--help")) {
		fputs(trace_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? XCT_EXIT_USAGE : XCT_EXIT_OK;
	}
	if (!strcmp(argv[1], "drops"))
		t.mode = MODE_DROPS;
	else if (!strcmp(argv[1], "resets"))
		t.mode = MODE_RESETS;
	else
		return xct_usage_error("unknown trace '%s' (drops or resets)", argv[1]);
	argc--;
	argv++;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:i:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_proto(optarg, &t.f.proto))
				return xct_usage_error("--proto: unknown protocol '%s'", optarg);
			t.f.has_proto = 1;
			break;
		case 'H':
			if (parse_host(optarg, &t.f, why, sizeof(why)))
				return xct_usage_error("--host: %s", why);
			break;
		case 'P':
			if (xct_parse_u64(optarg, 0, 65535, &n))
				return xct_usage_error("--port: '%s' is not a port", optarg);
			t.f.port = (__u16)n;
			t.f.has_port = 1;
			break;
		case 'i':
			iface_arg = optarg;
			break;
		case 'n':
			if (parse_netns(optarg, &t.f.netns))
				return xct_usage_error(
					"--netns: '%s' is neither an inode number nor a namespace file",
					optarg);
			t.f.has_netns = 1;
			break;
		case 'r':
			reason_arg = optarg;
			break;
		case 'S':
			if (xct_parse_u64(optarg, 1, 86400, &t.summary_s))
				return xct_usage_error("--summary: '%s' is not a number of seconds",
						       optarg);
			break;
		case 'c':
			if (xct_parse_count_opt(optarg, &t.wanted))
				return XCT_EXIT_USAGE;
			break;
		case 't':
			if (xct_parse_timeout_opt(optarg, &timeout_s))
				return XCT_EXIT_USAGE;
			break;
		case 'o':
			if (!strcmp(optarg, "json"))
				t.json = true;
			else if (!strcmp(optarg, "text"))
				t.json = false;
			else
				return xct_usage_error("--output: '%s' is not text or json",
						       optarg);
			break;
		case 'R':
			if (parse_ring_size(optarg, &ring_size))
				return xct_usage_error(
					"--ring-size: '%s' is not a power of 2 from 4096 to 1 GiB",
					optarg);
			break;
		case 'h':
			fputs(trace_usage, stdout);
			return XCT_EXIT_OK;
		case ':':
			return xct_usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return xct_usage_error("unknown option '%s' for 'trace'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return xct_usage_error("'trace %s' takes no arguments ('%s')",
				       t.mode == MODE_DROPS ? "drops" : "resets", argv[optind]);
	if (iface_arg) {
		if (!xct_parse_u64(iface_arg, 1, 0xffffffff, &n))
			t.f.ifindex = (__u32)n;
		else if (!(t.f.ifindex = if_nametoindex(iface_arg)))
			return xct_usage_error("--iface: no interface '%s' here", iface_arg);
		t.f.has_ifindex = 1;
	}
	if (load_names(&t))
		goto out;
	if (reason_arg && set_reason(&t, reason_arg)) {
		rc = xct_usage_error("--reason: '%s' is not a %s reason of this kernel nor of xct",
				     reason_arg, t.mode == MODE_DROPS ? "drop" : "reset");
		goto out;
	}
	if (xct_require_root())
		goto out;
	t.self_netns = own_netns();
	t.start_ns = xct_now_ns();
	xct_owner_view_open(&t.owners, xct_opts.pin_path);
	t.mono_to_real = mono_to_real();

	skel = xct_trace_bpf__open();
	if (!skel) {
		xct_err("cannot open the trace programs: %s", strerror(errno));
		goto out;
	}
	skel->rodata->filter = t.f;
	if (t.xct_only) { /* a reason only xct has: nothing from the kernel */
		skel->rodata->filter.has_reason = 1;
		skel->rodata->filter.reason = ~0U;
	}
	bpf_map__set_max_entries(skel->maps.xct_trace_events, ring_size);
	bpf_program__set_autoload(skel->progs.xct_trace_kfree_skb, t.mode == MODE_DROPS);
	bpf_program__set_autoload(skel->progs.xct_trace_send_reset, t.mode == MODE_RESETS);
	bpf_program__set_autoload(skel->progs.xct_trace_recv_reset, t.mode == MODE_RESETS);
	err = xct_trace_bpf__load(skel);
	if (err) {
		xct_err("cannot load the trace programs: %s%s", strerror(-err),
			xct_opts.verbose ? "" : " (-v shows the verifier's log)");
		goto out;
	}
	if (ensure_tracefs())
		goto out;
	err = xct_trace_bpf__attach(skel);
	if (err) {
		xct_err("cannot attach to the tracepoints: %s (is tracefs mounted?)",
			strerror(-err));
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.xct_trace_events), on_kernel_event, &t, NULL);
	if (!rb) {
		xct_err("cannot read the trace stream: %s", strerror(errno));
		goto out;
	}

	/* xct's own stream, when xct is attached under the pin path. */
	t.hold_ns = XCT_TRACE_HOLD_NS;
	if (access(xct_pin(path, sizeof(path), "xct_drop_events"), F_OK) == 0) {
		if (xct_table_open_flags(&table, XCT_PIN_ANY_NETNS))
			goto out;
		table_open = 1;
		/* The datapath's events are of the namespace it was attached
		 * in, which need not be this one. */
		if (!xct_netns_recorded(xct_opts.pin_path, &rec) && !xct_netns_self(&self) &&
		    (rec.ino != self.ino || rec.cookie != self.cookie)) {
			t.state_elsewhere = true;
			t.self_netns = (__u32)rec.ino;
		}
		xct_lost0 = xct_counter_total(&table, XCT_S_DROP_EVENTS_LOST);
		if (xct_stream_open(&xs, xct_cli_stream_paths(&paths), XCT_STREAM_DROPS,
				    on_xct_event, &t))
			goto out;
		have_xct = 1;
		t.ct_fd = table.ct_fd;
		if (xct_stream_via_daemon(xs))
			t.hold_ns = XCT_TRACE_HOLD_DAEMON_NS;
	}
	fprintf(stderr, "xct: tracing %s%s (Ctrl-C to stop)\n",
		t.mode == MODE_DROPS ? "drops" : "resets",
		have_xct ? ", the kernel's and xct's" : ", the kernel's (xct is not attached)");

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (timeout_s)
		deadline = time(NULL) + (time_t)timeout_s;
	if (t.summary_s)
		next_summary = xct_now_ns() + t.summary_s * XCT_NSEC_PER_SEC;
	rc = XCT_EXIT_OK;
	while (!stop && (!t.wanted || t.seen < t.wanted)) {
		err = wait_both(rb, xs);
		if (err >= 0)
			err = ring_buffer__consume(rb);
		if (err >= 0 && xs)
			err = xct_stream_poll(xs, 0);
		if (err == -EINTR)
			break;
		if (err < 0) {
			if (err != -EPROTO)
				xct_err("reading events: %s", strerror(-err));
			rc = XCT_EXIT_RUNTIME;
			break;
		}
		flush_batch(&t, 0);
		if (t.summary_s && xct_now_ns() >= next_summary) {
			lost_k = percpu_total(bpf_map__fd(skel->maps.xct_trace_lost));
			lost_x = have_xct ? xct_counter_total(&table, XCT_S_DROP_EVENTS_LOST) -
						    xct_lost0
					  : 0;
			summary_print(&t, lost_k, lost_x);
			next_summary += t.summary_s * XCT_NSEC_PER_SEC;
		}
		if (deadline && time(NULL) >= deadline)
			break;
	}
	/* What is still queued is shown too, then the losses. */
	if (!t.wanted || t.seen < t.wanted) {
		ring_buffer__consume(rb);
		if (xs)
			xct_stream_drain(xs);
		flush_batch(&t, 1);
	}
	lost_k = percpu_total(bpf_map__fd(skel->maps.xct_trace_lost));
	lost_x = have_xct ? xct_counter_total(&table, XCT_S_DROP_EVENTS_LOST) - xct_lost0 +
				    xct_stream_lost(xs)
			  : 0;
	if (t.summary_s && t.summary_events)
		summary_print(&t, lost_k, lost_x);
	if (t.json && (lost_k || lost_x))
		printf("{\"event\":\"lost\",\"kernel\":%llu,\"xct\":%llu}\n",
		       (unsigned long long)lost_k, (unsigned long long)lost_x);
	if (lost_k)
		fprintf(stderr, "xct: %llu events lost (the trace ring was full; --ring-size)\n",
			(unsigned long long)lost_k);
	if (lost_x)
		fprintf(stderr, "xct: %llu xct events lost (the datapath found its stream full)\n",
			(unsigned long long)lost_x);
out:
	ring_buffer__free(rb);
	xct_trace_bpf__destroy(skel);
	xct_stream_close(xs);
	if (table_open)
		xct_table_close(&table);
	xct_owner_view_close(&t.owners);
	xct_enum_free(&t.drop_reasons);
	xct_enum_free(&t.rst_reasons);
	xct_ksyms_free(&t.ksyms);
	summary_clear(&t.by_reason);
	summary_clear(&t.by_location);
	summary_clear(&t.by_flow);
	free(t.by_reason.v);
	free(t.by_location.v);
	free(t.by_flow.v);
	free(t.batch);
	return rc;
}
