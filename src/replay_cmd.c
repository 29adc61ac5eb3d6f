// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct replay FILE: the real datapath over a capture, offline.
 *
 * The compiled programs are loaded as xct attach loads them, but with the
 * fake clock on and no pins: every map is private to this process and goes
 * with it, so nothing of a running xct is touched and any number of replays
 * can run side by side.  Each packet goes through the ingress XDP program
 * with BPF_PROG_TEST_RUN, the clock set from the packet's timestamp; the
 * garbage collector is run as the capture's clock passes its deadlines, as
 * its timer would fire on a live system.  Original and reply are decided
 * by the datapath itself, as live: the first packet of a connection is its
 * original direction.  See docs/REPLAY.md.
 *
 * Speed.  One test run costs a system call and the run's set-up, several
 * times what the datapath costs; so unless every packet's line is wanted,
 * packets go in batches through bpf/replay.bpf.c, which tail-calls the TC
 * ingress program (the same xct_track() as XDP; XDP test runs cannot be
 * batched cheaply, see there) once per packet inside one test run.
 * --per-packet runs them one by one through XDP (the reference the batches
 * are tested against); --verdicts does too, to read each packet's entry
 * right after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ct_format.h"
#include "datapath_size.h"
#include "replay/capture.h"
#include "rules/compile.h"
#include "rules/install.h"
#include "rules/ruleset.h"
#include "table.h"
#include "xct.h"
#include "xct/ct.h"
#include "xct/policy.h"
#include "xct/replay.h"
#include "xct/tuple.h"
#include "xct/timeouts.h" /* the skeleton names struct xct_tunables */
#include "xct.skel.h"
#include "replay.skel.h"

_Static_assert(XCT_REPLAY_FRAME_MAX == XCT_FRAME_MAX, "frame limit");
_Static_assert(sizeof(struct xct_replay_dp_bss) == sizeof(struct xct_bpf__bss), "dp bss");
_Static_assert(offsetof(struct xct_replay_dp_bss, fake_now_ns) ==
		       offsetof(struct xct_bpf__bss, fake_now_ns),
	       "dp bss clock");
_Static_assert(offsetof(struct xct_replay_dp_bss, last_decision) ==
		       offsetof(struct xct_bpf__bss, last_decision),
	       "dp bss decision");

/* The capture's first packet is at this instant of the datapath's clock:
 * far from 0, which the table reads as "dead". */
#define REPLAY_T0 (1000ULL * XCT_NSEC_PER_SEC)
/* Interface indexes given to interfaces rules name that packets do not
 * arrive on: no packet ever carries them. */
#define REPLAY_NO_IFINDEX 0x7f000000u

static const char replay_usage[] =
	"Usage: xct replay FILE [--rules FILE] [--verdicts] [-o text|json] [OPTIONS]\n"
	"\n"
	"Runs the compiled datapath over every packet of a capture (pcap or pcapng;\n"
	"Ethernet, Linux cooked SLL/SLL2 or raw IP) with BPF_PROG_TEST_RUN, the\n"
	"capture's timestamps as its clock, and prints the table it ends with (as\n"
	"'xct ct list') and its counters.  Nothing is attached and nothing of a\n"
	"running xct is used or changed; replays can run side by side.\n"
	"\n"
	"Every packet enters at ingress, through the same tracker and rules as on an\n"
	"interface (TC ingress in batches, XDP with --per-packet); the datapath decides\n"
	"original and reply itself (the first packet of a connection is original).\n"
	"\n"
	"Options:\n"
	"  --rules FILE        apply a ruleset (the language of 'xct rules load')\n"
	"  --verdicts          one line per packet: number, time, tuple, verdict, the\n"
	"                      rule that decided, ct state, reason, the entry after it\n"
	"  -o, --output FMT    text (default) or json: JSON lines, one per packet, then\n"
	"                      a summary object with the table\n"
	"  --iif NAME          packets arrive on interface NAME: 'iif NAME' rules match\n"
	"                      them (without it, no iif rule matches)\n"
	"  --in-only           leave out packets a cooked capture (tcpdump -i any) marks\n"
	"                      as sent by the host, e.g. a router's forwarded copies\n"
	"  --max-entries N     size of the table (default 262144)\n"
	"  --per-packet        one test run per packet instead of batches (slower)\n"
	"\n"
	"A damaged or truncated capture is reported as 'FILE: packet N: ...' after\n"
	"the results of the packets before it; it exits with 2, as a bad rules\n"
	"file does.  See docs/REPLAY.md.\n"
	"\n"
	"Examples:\n"
	"  xct replay trace.pcap\n"
	"  xct replay trace.pcapng --rules /etc/xct/rules.xct --verdicts\n"
	"  xct replay -o json --rules new.xct trace.pcap | jq -c 'select(.verdict==\"drop\")'\n";

static const char *const verdict_names[] = {"accept", "drop", "reject", "notrack"};
static const char *const ct_state_names[] = {"new", "established", "related", "invalid",
					     "untracked"};
#define REPLAY_REASON_NAME(name, str, why) str,
static const char *const reason_names[] = {XCT_REASONS(REPLAY_REASON_NAME)};
#undef REPLAY_REASON_NAME
#define REPLAY_STAT_NAME(name, str) str,
static const char *const stat_names[] = {XCT_STATS(REPLAY_STAT_NAME)};
#undef REPLAY_STAT_NAME

/* The counters the summary shows, conntrack -S's first. */
static const int summary_stats[] = {
	XCT_S_FOUND,	     XCT_S_INVALID,	XCT_S_IGNORE,	     XCT_S_INSERT,
	XCT_S_INSERT_FAILED, XCT_S_DROP,	XCT_S_EARLY_DROP,    XCT_S_ERROR,
	XCT_S_CLASH_RESOLVE, XCT_S_RELATED,	XCT_S_UNTRACKED,     XCT_S_EXPIRED,
	XCT_S_GC_RUNS,	     XCT_S_POLICY_DROP, XCT_S_POLICY_REJECT, XCT_S_REJECT_ERROR,
};

#define N_VERDICTS  4
#define N_CT_STATES 5

struct replay {
	const char *file;
	const char *rules_file;
	const char *iif;
	bool verdicts, json, per_packet, in_only;
	__u32 max_entries;

	struct xct_bpf *dp;
	struct xct_replay_bpf *feed;
	struct xct_capture *cap;
	struct xct_replay_slot *slots; /* the feeder's batch, memory-mapped */
	struct xct_ruleset rs;
	struct xct_compiled compiled;
	bool have_rules;
	__u32 lo_ifindex; /* the interface test runs give packets */
	int entry_fd;	  /* xct_xdp, or xct_tc_ingress for batches */

	/* Clock. */
	bool started;
	__u64 first_ts, last_ts, now;
	__u64 next_gc, last_kick;

	/* The batch being filled. */
	__u32 n_batch;
	__u64 batch_first; /* packet number of slot 0 */

	/* Results. */
	__u64 packets, run, runts, skipped, snapped, cut, backwards, single_runs;
	__u64 verdict[N_VERDICTS];
	__u64 ct_state[N_CT_STATES];
	__u64 reason[XCT_R_COUNT];
	__u64 stats[XCT_COUNTER_SLOTS];
	__u64 connections;
	struct timespec t_start, t_end;
	char error[640];
};

/* ---- Loading the datapath, privately ---- */

static size_t slots_len(void)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = sizeof(struct xct_replay_slot) * XCT_REPLAY_BATCH;

	return (len + (size_t)page - 1) / (size_t)page * (size_t)page;
}

static int load_datapath(struct replay *r)
{
	struct bpf_map *m;
	int err;

	r->dp = xct_bpf__open();
	if (!r->dp) {
		xct_err("cannot open the BPF object: %s", strerror(errno));
		return -errno;
	}
	/* No pins: the maps are this process's own and vanish with it. */
	bpf_object__for_each_map(m, r->dp->obj)
	{
		err = bpf_map__set_pin_path(m, NULL);
		if (err) {
			xct_err("cannot unpin %s: %s", bpf_map__name(m), strerror(-err));
			return err;
		}
	}
	r->dp->rodata->cfg_fake_clock = 1;
	if (r->max_entries && xct_datapath_size(r->dp, r->max_entries)) {
		xct_err("cannot size the table to %u entries", r->max_entries);
		return -EINVAL;
	}
	/* Packets enter through XDP one by one, or through TC ingress in
	 * batches: the other entry programs would only add verifier time. */
	bpf_program__set_autoload(
		r->per_packet ? r->dp->progs.xct_tc_ingress : r->dp->progs.xct_xdp, false);
	bpf_program__set_autoload(r->dp->progs.xct_tc_egress, false);
	err = xct_bpf__load(r->dp);
	if (err) {
		xct_err("cannot load the datapath: %s%s", strerror(-err),
			xct_opts.verbose ? "" : " (-v shows the verifier's log)");
		return err;
	}
	r->dp->bss->fake_now_ns = REPLAY_T0;
	r->entry_fd =
		bpf_program__fd(r->per_packet ? r->dp->progs.xct_xdp : r->dp->progs.xct_tc_ingress);
	r->next_gc = REPLAY_T0 + XCT_GC_INTERVAL_MIN_NS;

	if (r->per_packet)
		return 0;
	r->feed = xct_replay_bpf__open();
	if (!r->feed) {
		xct_err("cannot open the replay feeder: %s", strerror(errno));
		return -errno;
	}
	err = bpf_map__reuse_fd(r->feed->maps.xct_dp_bss, bpf_map__fd(r->dp->maps.bss));
	if (!err)
		err = xct_replay_bpf__load(r->feed);
	if (!err) {
		__u32 zero = 0;
		int fd = r->entry_fd;

		if (bpf_map_update_elem(bpf_map__fd(r->feed->maps.xct_replay_dp), &zero, &fd,
					BPF_ANY))
			err = -errno;
	}
	if (!err) {
		void *mem = mmap(NULL, slots_len(), PROT_READ | PROT_WRITE, MAP_SHARED,
				 bpf_map__fd(r->feed->maps.xct_replay_slots), 0);

		if (mem == MAP_FAILED)
			err = -errno;
		else
			r->slots = mem;
	}
	if (err)
		xct_err("cannot load the replay feeder: %s", strerror(-err));
	return err;
}

static int policy_fd(const char *name, void *ctx)
{
	struct replay *r = ctx;
	int fd = bpf_object__find_map_fd_by_name(r->dp->obj, name);

	if (fd < 0 || (fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		xct_err("the datapath has no map %s", name);
		return -ENOENT;
	}
	return fd;
}

/* Interfaces in rules: the --iif one is where packets arrive (XDP test
 * runs say lo); every other one gets an index no packet has. */
static __u32 replay_ifindex(const char *name, void *ctx)
{
	struct replay *r = ctx;
	__u32 h = 0;

	if (r->iif && !strcmp(name, r->iif))
		return r->lo_ifindex;
	while (*name)
		h = h * 31 + (unsigned char)*name++;
	return REPLAY_NO_IFINDEX | (h & 0xffffff);
}

/*
 * Without --iif no replayed packet arrives on a named interface, so a rule
 * that asks for one (iif NAME, not iif != NAME) cannot match: said once per
 * rule, where it is written, as the user would otherwise read its zero
 * count as "no such traffic".
 */
static void warn_iif_rules(const struct replay *r, const struct xct_rule *rules, size_t n)
{
	size_t i;

	for (i = 0; !r->iif && i < n; i++) {
		const struct xct_rule *rule = &rules[i];

		if (!rule->n_ifaces || rule->hook != XCT_HOOK_INGRESS || rule->iface_negate)
			continue;
		fprintf(stderr,
			"xct: %s:%u:%u: warning: this rule matches '%s %s%s', which no replayed "
			"packet arrives on without --iif NAME: it cannot match\n",
			xct_rules_file_name(r->rules_file), rule->iface_locs[0].line,
			rule->iface_locs[0].col, rule->iface_by_name ? "iifname" : "iif",
			rule->ifaces[0], rule->n_ifaces > 1 ? ", ..." : "");
	}
}

/* Parses and compiles the rules file: before the verifier's second, so a
 * bad file is reported at once.  Exit status 0, or 2 with the error. */
static int prepare_rules(struct replay *r)
{
	struct xct_rules_error err;

	memset(&err, 0, sizeof(err));
	if (xct_rules_parse_file(r->rules_file, &r->rs, &err)) {
		xct_rules_error_print(stderr, &err);
		return XCT_EXIT_USAGE;
	}
	r->have_rules = true;
	warn_iif_rules(r, r->rs.rules, r->rs.n_rules);
	warn_iif_rules(r, r->rs.nat_rules, r->rs.n_nat_rules);
	if (xct_rules_compile(&r->rs, xct_rules_file_name(r->rules_file), replay_ifindex, r,
			      &r->compiled, &err)) {
		xct_rules_error_print(stderr, &err);
		return XCT_EXIT_USAGE;
	}
	return XCT_EXIT_OK;
}

/* Installs them as 'xct rules load' does, into the private maps. */
static int install_rules(struct replay *r)
{
	struct xct_policy_maps maps;
	int ret;

	if (xct_policy_open_fds(&maps, policy_fd, r))
		return XCT_EXIT_RUNTIME;
	ret = xct_policy_install(&maps, &r->rs, &r->compiled);
	xct_policy_close(&maps);
	return ret ? XCT_EXIT_RUNTIME : XCT_EXIT_OK;
}

/* ---- Running packets ---- */

static int test_run(int prog_fd, const void *data, __u32 len, __u32 repeat, void *out,
		    __u32 out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data, .data_size_in = len, .data_out = out,
		    .data_size_out = out_len, .repeat = repeat);

	return bpf_prog_test_run_opts(prog_fd, &opts) ? -errno : 0;
}

/* One sweep of the collector at the current clock; schedules the next as
 * its timer would. */
static int run_gc(struct replay *r)
{
	struct xct_ctl_msg msg = {.cmd = XCT_CTL_GC_RUN}, out = {.ret = -1};
	struct xct_gc gc = {};
	__u32 zero = 0;
	int err;

	r->dp->bss->fake_now_ns = r->now;
	err = test_run(bpf_program__fd(r->dp->progs.xct_ctl), &msg, sizeof(msg), 1, &out,
		       sizeof(out));
	if (!err)
		err = out.ret;
	if (!err && bpf_map_lookup_elem(bpf_map__fd(r->dp->maps.xct_gc), &zero, &gc))
		err = -errno;
	if (err) {
		xct_err("the garbage collector failed: %s", strerror(-err));
		return err;
	}
	r->next_gc = r->now + (gc.interval_ns ? gc.interval_ns : XCT_GC_INTERVAL_MIN_NS);
	return 0;
}

/* The datapath woke the collector because the table was full: on a live
 * system its timer fires at once (at most every XCT_GC_KICK_MIN_NS). */
static int kick_gc(struct replay *r, __u64 now)
{
	if (now - r->last_kick < XCT_GC_KICK_MIN_NS && r->last_kick)
		return 0;
	r->last_kick = now;
	return run_gc(r);
}

static void account(struct replay *r, const struct xct_decision *d)
{
	r->run++;
	r->verdict[d->verdict < N_VERDICTS ? d->verdict : 0]++;
	r->ct_state[d->ct_state < N_CT_STATES ? d->ct_state : XCT_CTS_INVALID]++;
	r->reason[d->reason < XCT_R_COUNT ? d->reason : 0]++;
}

/* ---- Per-packet lines ---- */

static double rel_time(const struct replay *r, __u64 now)
{
	return (double)(now - REPLAY_T0) / 1e9;
}

static void tcp_flags_str(__u8 fl, char *buf)
{
	static const char names[] = "FSRP.UEC";
	int i, n = 0;

	/* tcpdump's order: S F P R U E C, then '.' for ACK */
	static const int order[] = {1, 0, 3, 2, 5, 6, 7, 4};

	for (i = 0; i < 8; i++)
		if (fl & (1 << order[i]))
			buf[n++] = names[order[i]];
	if (!n)
		buf[n++] = 'n';
	buf[n] = 0;
}

/* The connection a decided packet belongs to, alive after it; 1 if found. */
static int packet_entry(struct replay *r, const struct xct_pkt *pkt, int parsed,
			const struct xct_decision *d, struct xct_ct_key *key,
			struct xct_ct_entry *e)
{
	__u8 side;

	if (!parsed)
		return 0;
	if (d->ct_state == XCT_CTS_RELATED) {
		if (xct_icmp_error_key(pkt, key) != XCT_R_OK)
			return 0;
	} else if (d->ct_state == XCT_CTS_NEW || d->ct_state == XCT_CTS_ESTABLISHED ||
		   d->ct_state == XCT_CTS_INVALID) {
		if (pkt->icmp_error || xct_key_from_tuple(&pkt->t, key, &side) < 0)
			return 0;
	} else {
		return 0;
	}
	if (bpf_map_lookup_elem(bpf_map__fd(r->dp->maps.xct_ct), key, e))
		return 0;
	return xct_entry_alive(e, r->now);
}

static const char *decided_by(const struct replay *r, const struct xct_decision *d, __u32 *line)
{
	*line = d->line;
	if (d->matched)
		return "rule";
	/* The policy line decides NEW and INVALID packets no rule took. */
	if (r->have_rules && (d->ct_state == XCT_CTS_NEW || d->ct_state == XCT_CTS_INVALID)) {
		*line = r->rs.policy_loc.line;
		return "policy";
	}
	return NULL;
}

static void print_entry_text(const struct xct_ct_key *key, const struct xct_ct_entry *e, __u64 now)
{
	const char *sep = "";

	fputs(" entry=", stdout);
	if (key->proto == XCT_IPPROTO_TCP) {
		fputs(xct_tcp_state_name(e->state), stdout);
		sep = ",";
	}
	if (!(e->status & XCT_CT_SEEN_REPLY)) {
		printf("%sUNREPLIED", sep);
		sep = ",";
	}
	if (e->status & XCT_CT_ASSURED) {
		printf("%sASSURED", sep);
		sep = ",";
	}
	if (!*sep)
		fputs("SEEN_REPLY", stdout);
	printf(" timeout=%llu", (unsigned long long)xct_entry_timeout(e, now));
}

/* One packet's line, text or JSON.  verdict is NULL for a decided packet
 * (d says what), or the word for one that was not run. */
static void print_packet(struct replay *r, __u64 number, const struct xct_frame *f,
			 const struct xct_decision *d, const char *skipped)
{
	struct xct_pkt pkt;
	struct xct_ct_key key;
	struct xct_ct_entry e;
	char src[INET6_ADDRSTRLEN] = "-", dst[INET6_ADDRSTRLEN] = "-", flags[12] = "";
	__u32 line = 0;
	const char *by = NULL, *proto = "-";
	int parsed = 0, has_entry = 0, ports = 0, icmp = 0;
	__u8 preason;

	memset(&pkt, 0, sizeof(pkt));
	if (!skipped) {
		preason = xct_parse_buf(f->data, f->len, &pkt);
		parsed = preason == XCT_R_OK;
		if (pkt.t.family == XCT_AF_INET || pkt.t.family == XCT_AF_INET6) {
			xct_format_addr(pkt.t.family, &pkt.t.src, src, sizeof(src));
			xct_format_addr(pkt.t.family, &pkt.t.dst, dst, sizeof(dst));
			proto = parsed ? xct_proto_name(pkt.t.proto) : "ip";
			ports = parsed && xct_has_ports(pkt.t.proto);
			icmp = parsed && xct_is_icmp(pkt.t.family, pkt.t.proto);
			if (parsed && pkt.t.proto == XCT_IPPROTO_TCP)
				tcp_flags_str(pkt.tcp.flags, flags);
		}
		has_entry = packet_entry(r, &pkt, parsed, d, &key, &e);
		by = decided_by(r, d, &line);
	}
	if (r->json) {
		printf("{\"packet\":%llu,\"time\":%.9f", (unsigned long long)number,
		       rel_time(r, r->now));
		if (strcmp(src, "-"))
			printf(",\"family\":\"%s\",\"proto\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\"",
			       xct_family_name(pkt.t.family), proto, src, dst);
		if (ports)
			printf(",\"sport\":%u,\"dport\":%u", ntohs(pkt.t.sport),
			       ntohs(pkt.t.dport));
		if (icmp)
			printf(",\"type\":%u,\"code\":%u", pkt.t.icmp_type, pkt.t.icmp_code);
		if (*flags)
			printf(",\"tcp_flags\":\"%s\"", flags);
		if (skipped) {
			printf(",\"verdict\":\"skipped\",\"reason\":\"%s\"}\n", skipped);
			return;
		}
		printf(",\"verdict\":\"%s\"", verdict_names[d->verdict % N_VERDICTS]);
		if (by)
			printf(",\"by\":\"%s\",\"line\":%u", by, line);
		printf(",\"ct_state\":\"%s\"", ct_state_names[d->ct_state % N_CT_STATES]);
		if (d->ct_state == XCT_CTS_NEW || d->ct_state == XCT_CTS_ESTABLISHED)
			printf(",\"dir\":\"%s\"", d->dir ? "reply" : "original");
		printf(",\"reason\":\"%s\",\"entry\":", reason_names[d->reason % XCT_R_COUNT]);
		if (has_entry)
			xct_print_conn_json(stdout, &key, &e, r->now);
		else
			fputs("null", stdout);
		fputs("}\n", stdout);
		return;
	}

	printf("%7llu %.6f %s ", (unsigned long long)number, rel_time(r, r->now), proto);
	if (ports)
		printf("%s%s%s:%u -> %s%s%s:%u", pkt.t.family == XCT_AF_INET6 ? "[" : "", src,
		       pkt.t.family == XCT_AF_INET6 ? "]" : "", ntohs(pkt.t.sport),
		       pkt.t.family == XCT_AF_INET6 ? "[" : "", dst,
		       pkt.t.family == XCT_AF_INET6 ? "]" : "", ntohs(pkt.t.dport));
	else
		printf("%s -> %s", src, dst);
	if (icmp)
		printf(" type=%u code=%u", pkt.t.icmp_type, pkt.t.icmp_code);
	if (*flags)
		printf(" [%s]", flags);
	if (skipped) {
		printf(" skipped reason=%s\n", skipped);
		return;
	}
	printf(" %s", verdict_names[d->verdict % N_VERDICTS]);
	if (by)
		printf(" by=%s:%u", by, line);
	else
		fputs(" by=-", stdout);
	printf(" ct=%s", ct_state_names[d->ct_state % N_CT_STATES]);
	if (d->ct_state == XCT_CTS_NEW || d->ct_state == XCT_CTS_ESTABLISHED)
		printf(" dir=%s", d->dir ? "reply" : "original");
	printf(" reason=%s", reason_names[d->reason % XCT_R_COUNT]);
	if (has_entry)
		print_entry_text(&key, &e, r->now);
	else
		fputs(" entry=none", stdout);
	putchar('\n');
}

/* One packet, one test run. */
static int run_single(struct replay *r, __u64 number, const struct xct_frame *f)
{
	struct xct_decision d;
	int err;

	r->dp->bss->fake_now_ns = r->now;
	err = test_run(r->entry_fd, f->data, f->len, 1, NULL, 0);
	if (err) {
		xct_err("%s: packet %llu: the test run failed: %s", r->file,
			(unsigned long long)number, strerror(-err));
		return err;
	}
	r->single_runs++;
	d = r->dp->bss->last_decision;
	account(r, &d);
	if (r->verdicts)
		print_packet(r, number, f, &d, NULL);
	if (d.reason == XCT_R_TABLE_FULL)
		return kick_gc(r, r->now);
	return 0;
}

/* Runs the batch through the feeder (see bpf/replay.bpf.c). */
static int flush_batch(struct replay *r)
{
	struct xct_replay_ctl *ctl = &r->feed->bss->ctl;
	struct xct_replay_slot *slots = r->slots;
	static const __u8 frame[64];
	__u64 full_at = 0;
	bool full = false;
	__u32 start = 0, i;
	int err;

	while (start < r->n_batch) {
		ctl->start = ctl->next = start;
		ctl->n = r->n_batch;
		ctl->stopped = 0;
		err = test_run(bpf_program__fd(r->feed->progs.xct_replay_feed), frame,
			       sizeof(frame), r->n_batch - start + 1, NULL, 0);
		if (err) {
			xct_err("%s: packet %llu: the test run failed: %s", r->file,
				(unsigned long long)(r->batch_first + start), strerror(-err));
			return err;
		}
		for (i = start; i < ctl->next && i < r->n_batch; i++) {
			account(r, &slots[i].decision);
			if (slots[i].decision.reason == XCT_R_TABLE_FULL && !full) {
				full = true;
				full_at = slots[i].now_ns;
			}
		}
		start = ctl->next;
		if (ctl->stopped && start < r->n_batch) {
			/* The feeder could not set this packet up (no memory
			 * to grow the skb): run it alone, from the slot, which
			 * holds the whole frame. */
			struct xct_frame f = {.len = slots[start].len};
			__u8 *buf = calloc(1, f.len);

			if (!buf)
				return -ENOMEM;
			memcpy(buf, slots[start].hdr, f.len);
			f.data = buf;
			r->now = slots[start].now_ns;
			err = run_single(r, r->batch_first + start, &f);
			free(buf);
			if (err)
				return err;
			start++;
		}
	}
	r->n_batch = 0;
	if (full)
		return kick_gc(r, full_at);
	return 0;
}

/* The datapath's clock for a packet: the capture's time since its first
 * packet, from REPLAY_T0; never backwards. */
static void advance_clock(struct replay *r, __u64 ts)
{
	__u64 now;

	if (!r->started) {
		r->started = true;
		r->first_ts = r->last_ts = ts;
	}
	if (ts < r->last_ts)
		r->backwards++;
	else
		r->last_ts = ts;
	now = REPLAY_T0 + (r->last_ts - r->first_ts);
	if (now > r->now)
		r->now = now;
}

static int replay_packet(struct replay *r, __u64 number, const struct xct_frame *f)
{
	struct xct_replay_slot *slot;
	int err;

	advance_clock(r, f->ts_ns);
	if (f->runt || (r->in_only && f->outgoing)) {
		if (f->runt)
			r->runts++;
		else
			r->skipped++;
		if (r->verdicts)
			print_packet(r, number, f, NULL, f->runt ? "runt" : "outgoing");
		return 0;
	}
	r->snapped += f->snapped;
	r->cut += f->cut;
	if (r->now >= r->next_gc) {
		/* The collector's timer fires before this packet. */
		if (r->feed && r->n_batch && (err = flush_batch(r)))
			return err;
		if ((err = run_gc(r)))
			return err;
	}
	if (!r->feed)
		return run_single(r, number, f);
	/* A frame longer than a slot runs alone, whole: the parser reads
	 * headers wherever they are, however far into the frame. */
	if (f->len > XCT_REPLAY_HDR_MAX) {
		if (r->n_batch && (err = flush_batch(r)))
			return err;
		return run_single(r, number, f);
	}
	slot = &r->slots[r->n_batch];
	if (!r->n_batch)
		r->batch_first = number;
	slot->now_ns = r->now;
	slot->len = f->len;
	memcpy(slot->hdr, f->data, f->len);
	if (++r->n_batch == XCT_REPLAY_BATCH)
		return flush_batch(r);
	return 0;
}

/* ---- The end: table and counters ---- */

struct table_ctx {
	struct replay *r;
	bool first;
};

static int table_line(const struct xct_ct_key *key, const struct xct_ct_entry *e, void *ctx)
{
	struct table_ctx *t = ctx;
	char line[512];

	t->r->connections++;
	if (t->r->json) {
		fputs(t->first ? "" : ",", stdout);
		xct_print_conn_json(stdout, key, e, t->r->now);
	} else {
		xct_format_conn(line, sizeof(line), key, e, t->r->now, 0);
		puts(line);
	}
	t->first = false;
	return 0;
}

static int read_counters(struct replay *r)
{
	int fd = bpf_map__fd(r->dp->maps.xct_counters), err = 0;
	__u32 slot;

	for (slot = 0; slot < XCT_COUNTER_SLOTS && !err; slot++) {
		__u64 sum;

		err = xct_percpu_sum(fd, slot, &sum, 1);
		r->stats[slot] += sum;
	}
	return err;
}

static double elapsed(const struct replay *r)
{
	return (double)(r->t_end.tv_sec - r->t_start.tv_sec) +
	       (double)(r->t_end.tv_nsec - r->t_start.tv_nsec) / 1e9;
}

static void print_summary_text(struct replay *r)
{
	double secs = elapsed(r);
	size_t i;
	const char *sep;

	printf("# replay of %s: %llu packets (%s), %.6f s of capture, replayed in %.3f s "
	       "(%.0f packets/s)\n",
	       r->file, (unsigned long long)r->packets, xct_capture_link_name(r->cap),
	       r->started ? (double)(r->last_ts - r->first_ts) / 1e9 : 0.0, secs,
	       secs > 0 ? (double)r->run / secs : 0.0);
	printf("# verdicts: accept=%llu drop=%llu reject=%llu",
	       (unsigned long long)r->verdict[XCT_VERDICT_ACCEPT],
	       (unsigned long long)r->verdict[XCT_VERDICT_DROP],
	       (unsigned long long)r->verdict[XCT_VERDICT_REJECT]);
	if (r->verdict[XCT_VERDICT_NOTRACK])
		printf(" notrack=%llu", (unsigned long long)r->verdict[XCT_VERDICT_NOTRACK]);
	printf(" not_run=%llu\n", (unsigned long long)(r->runts + r->skipped));
	fputs("# ct:", stdout);
	for (i = 0; i < N_CT_STATES; i++)
		printf(" %s=%llu", ct_state_names[i], (unsigned long long)r->ct_state[i]);
	fputs("\n# reasons:", stdout);
	sep = " ";
	for (i = 0; i < XCT_R_COUNT; i++)
		if (r->reason[i])
			printf("%s%s=%llu", sep, reason_names[i], (unsigned long long)r->reason[i]);
	fputs("\n# counters:", stdout);
	for (i = 0; i < sizeof(summary_stats) / sizeof(summary_stats[0]); i++)
		printf(" %s=%llu", stat_names[summary_stats[i]],
		       (unsigned long long)r->stats[summary_stats[i]]);
	printf("\n# table: %llu connections\n", (unsigned long long)r->connections);
	if (r->runts)
		printf("# note: %llu records too short for their link header were not run\n",
		       (unsigned long long)r->runts);
	if (r->skipped)
		printf("# note: %llu packets sent by the capturing host were left out "
		       "(--in-only)\n",
		       (unsigned long long)r->skipped);
	if (r->snapped)
		printf("# note: %llu packets cut short by the capture were padded to their "
		       "length on the wire\n",
		       (unsigned long long)r->snapped);
	if (r->cut)
		printf("# note: %llu packets longer than %u bytes were cut to it\n",
		       (unsigned long long)r->cut, XCT_FRAME_MAX);
	if (r->backwards)
		printf("# note: %llu packets were stamped earlier than the one before them: "
		       "the clock was held\n",
		       (unsigned long long)r->backwards);
}

static void print_summary_json_head(struct replay *r)
{
	double secs = elapsed(r);
	size_t i;

	fputs("{\"summary\":{\"file\":", stdout);
	xct_json_string(r->file);
	printf(",\"link\":\"%s\",\"packets\":%llu,\"run\":%llu,\"not_run\":%llu,"
	       "\"capture_s\":%.9f,\"replay_s\":%.6f,\"packets_per_s\":%.0f",
	       xct_capture_link_name(r->cap), (unsigned long long)r->packets,
	       (unsigned long long)r->run, (unsigned long long)(r->runts + r->skipped),
	       r->started ? (double)(r->last_ts - r->first_ts) / 1e9 : 0.0, secs,
	       secs > 0 ? (double)r->run / secs : 0.0);
	fputs(",\"verdicts\":{", stdout);
	for (i = 0; i < N_VERDICTS; i++)
		printf("%s\"%s\":%llu", i ? "," : "", verdict_names[i],
		       (unsigned long long)r->verdict[i]);
	fputs("},\"ct\":{", stdout);
	for (i = 0; i < N_CT_STATES; i++)
		printf("%s\"%s\":%llu", i ? "," : "", ct_state_names[i],
		       (unsigned long long)r->ct_state[i]);
	fputs("},\"reasons\":{", stdout);
	for (i = 0; i < XCT_R_COUNT; i++)
		printf("%s\"%s\":%llu", i ? "," : "", reason_names[i],
		       (unsigned long long)r->reason[i]);
	fputs("},\"counters\":{", stdout);
	for (i = 0; i < XCT_S_COUNT; i++)
		printf("%s\"%s\":%llu", i ? "," : "", stat_names[i],
		       (unsigned long long)r->stats[i]);
	printf("},\"runts\":%llu,\"skipped\":%llu,\"snapped\":%llu,\"cut\":%llu,"
	       "\"clock_backwards\":%llu,\"error\":",
	       (unsigned long long)r->runts, (unsigned long long)r->skipped,
	       (unsigned long long)r->snapped, (unsigned long long)r->cut,
	       (unsigned long long)r->backwards);
	if (r->error[0])
		xct_json_string(r->error);
	else
		fputs("null", stdout);
	fputs(",\"connections\":[", stdout);
}

static int report(struct replay *r)
{
	struct table_ctx t = {.r = r, .first = true};
	struct xct_table tab = {.ct_fd = bpf_map__fd(r->dp->maps.xct_ct),
				.counters_fd = bpf_map__fd(r->dp->maps.xct_counters),
				.ifaces_fd = bpf_map__fd(r->dp->maps.xct_ifaces),
				.gc_fd = bpf_map__fd(r->dp->maps.xct_gc)};
	int err;

	if (read_counters(r)) {
		xct_err("cannot read the counters");
		return XCT_EXIT_RUNTIME;
	}
	if (r->json) {
		/* The table inside the summary: count it first. */
		print_summary_json_head(r);
		err = xct_table_walk(&tab, r->now, table_line, &t);
		printf("],\"table\":%llu}}\n", (unsigned long long)r->connections);
	} else {
		err = xct_table_walk(&tab, r->now, table_line, &t);
		print_summary_text(r);
	}
	return err ? XCT_EXIT_RUNTIME : XCT_EXIT_OK;
}

/* ---- The command ---- */

static int parse_args(int argc, char **argv, struct replay *r)
{
	static const struct option opts[] = {
		{"rules", required_argument, NULL, 'r'},
		{"verdicts", no_argument, NULL, 'V'},
		{"output", required_argument, NULL, 'o'},
		{"iif", required_argument, NULL, 'i'},
		{"in-only", no_argument, NULL, 'I'},
		{"max-entries", required_argument, NULL, 'm'},
		{"per-packet", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	__u64 v;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			r->rules_file = optarg;
			break;
		case 'V':
			r->verdicts = true;
			break;
		case 'o':
			if (!strcmp(optarg, "json"))
				r->json = true;
			else if (!strcmp(optarg, "text"))
				r->json = false;
			else
				return xct_usage_error("-o takes text or json, not '%s'", optarg);
			break;
		case 'i':
			if (!*optarg || strlen(optarg) >= IF_NAMESIZE)
				return xct_usage_error("--iif needs an interface name");
			r->iif = optarg;
			break;
		case 'I':
			r->in_only = true;
			break;
		case 'm':
			if (xct_parse_u64(optarg, 1, 1U << 26, &v))
				return xct_usage_error("--max-entries takes 1..%u, not '%s'",
						       1U << 26, optarg);
			r->max_entries = (__u32)v;
			break;
		case 'p':
			r->per_packet = true;
			break;
		case 'h':
			fputs(replay_usage, stdout);
			return -1;
		case ':':
			return xct_usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return xct_usage_error("unknown option '%s' (see 'xct replay --help')",
					       argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return xct_usage_error("replay needs a capture file (see 'xct replay --help')");
	if (optind + 1 < argc)
		return xct_usage_error("replay takes one capture file, not '%s' too",
				       argv[optind + 1]);
	r->file = argv[optind];
	/* Each packet's entry is read right after it: one run per packet. */
	if (r->verdicts)
		r->per_packet = true;
	return 0;
}

static void replay_free(struct replay *r)
{
	xct_capture_close(r->cap);
	if (r->slots)
		munmap(r->slots, slots_len());
	xct_replay_bpf__destroy(r->feed);
	xct_bpf__destroy(r->dp);
	xct_compiled_free(&r->compiled);
	if (r->have_rules)
		xct_ruleset_free(&r->rs);
}

int cmd_replay(int argc, char **argv)
{
	static char outbuf[1 << 16];
	struct replay r;
	struct xct_frame f;
	char err[512];
	int rc, ret;

	memset(&r, 0, sizeof(r));
	rc = parse_args(argc, argv, &r);
	if (rc)
		return rc < 0 ? XCT_EXIT_OK : rc;
	r.json = r.json || xct_opts.json;
	r.lo_ifindex = if_nametoindex("lo");

	if (xct_capture_open(r.file, &r.cap, err, sizeof(err))) {
		xct_err("%s: %s", r.file, err);
		return XCT_EXIT_USAGE;
	}
	if (r.rules_file && (rc = prepare_rules(&r))) {
		replay_free(&r);
		return rc;
	}
	if (xct_require_root() || load_datapath(&r)) {
		replay_free(&r);
		return XCT_EXIT_RUNTIME;
	}
	if (r.rules_file && (rc = install_rules(&r))) {
		replay_free(&r);
		return rc;
	}

	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	rc = XCT_EXIT_OK;
	clock_gettime(CLOCK_MONOTONIC, &r.t_start);
	for (;;) {
		ret = xct_capture_next(r.cap, &f, err, sizeof(err));
		if (ret == 0)
			break;
		if (ret < 0) {
			snprintf(r.error, sizeof(r.error), "packet %llu: %s",
				 (unsigned long long)(r.packets + 1), err);
			rc = XCT_EXIT_USAGE;
			break;
		}
		r.packets++;
		if (replay_packet(&r, r.packets, &f)) {
			rc = XCT_EXIT_RUNTIME;
			break;
		}
	}
	if (rc != XCT_EXIT_RUNTIME && r.feed && r.n_batch && flush_batch(&r))
		rc = XCT_EXIT_RUNTIME;
	clock_gettime(CLOCK_MONOTONIC, &r.t_end);
	if (rc != XCT_EXIT_RUNTIME) {
		ret = report(&r);
		if (ret && rc == XCT_EXIT_OK)
			rc = ret;
	}
	fflush(stdout);
	if (r.error[0])
		xct_err("%s: %s", r.file, r.error);
	replay_free(&r);
	return rc;
}
