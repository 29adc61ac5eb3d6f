// SPDX-License-Identifier: GPL-2.0-only
/*
 * What xct's XDP program costs a packet by itself, with BPF_PROG_TEST_RUN
 * (no generator, no driver): the established fast path for TCP and UDP over
 * IPv4 and IPv6, and new connections.  Prints JSON for bench/report.py.
 *
 *   prog_cost [-q]                        the cases below
 *   prog_cost evict [-q]                  a new connection's SYN in a table
 *                                         with room and in a full one,
 *                                         where it evicts an entry
 *   prog_cost fill DIR N MAX [-q]         a table of MAX entries pinned in
 *                                         DIR, filled with N established
 *                                         TCP connections; lookup cost at
 *                                         1,000 and at N entries
 *   prog_cost dnat [-q]                   what dnat costs: an untranslated
 *                                         established flow with no NAT rule
 *                                         and with a dnat rule, at each hook;
 *                                         a translated flow, both ways
 *   prog_cost newflow [OBJ...] [-q]       a new accepted connection's first
 *                                         packet (and an established one's)
 *                                         through this datapath and through
 *                                         variant objects of it
 *   prog_cost events BEFORE.bpf.o [-q]    what connection events cost: this
 *                                         datapath with no reader and with
 *                                         one, beside BEFORE.bpf.o, the
 *                                         datapath before it had events
 *   prog_cost owner BEFORE.bpf.o [-q]     what recording connection owners
 *                                         costs forwarded traffic: this
 *                                         datapath with owners recorded and
 *                                         not, beside BEFORE.bpf.o, the
 *                                         datapath before it had owners
 *
 * Two ways of timing:
 *
 *  repeat    one frame run `repeat` times in the kernel; the mean.  Right
 *            for packets that leave the table as they found it (an
 *            established connection's ACK; a SYN the policy refuses).
 *  distinct  a new connection's first packet creates an entry, so only the
 *            first of `repeat` runs would be new.  Instead many different
 *            frames are run once each, and the kernel's own timing of one
 *            run of a trivial program (two instructions) is subtracted:
 *            that is the timer's overhead, which a single run cannot
 *            amortise.  The caches are colder than with repeat, as they
 *            are for real new connections.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath_size.h"
#include "rules/compile.h"
#include "rules/install.h"
#include "xct.h"
#include "xct/owner.h"
#include "xct/timeouts.h" /* the skeleton names struct xct_tunables */
#include "xct.skel.h"

#define TH_SYN 0x02
#define TH_ACK 0x10

struct frame {
	__u8 data[128];
	__u32 len;
};

static int quick;

/*
 * Ethernet + IPv4 or IPv6 + TCP or UDP; xct checks no checksum.  Headers
 * are built as structs and copied in: writing them through pointers into
 * the byte array would break the aliasing rules.
 */
static struct frame mkframe(int v6, int tcp, const char *src, __u16 sport, const char *dst,
			    __u16 dport, __u8 flags, __u32 seq, __u32 ack)
{
	__u32 l4_len = tcp ? 20 : 8 + 18;
	__u32 l3_len = v6 ? 40 : 20;
	struct frame f;

	memset(&f, 0, sizeof(f));
	f.len = 14 + l3_len + l4_len;
	if (v6) {
		struct ipv6hdr ip6;

		memset(&ip6, 0, sizeof(ip6));
		f.data[12] = 0x86;
		f.data[13] = 0xdd;
		ip6.version = 6;
		ip6.payload_len = htons(l4_len);
		ip6.nexthdr = tcp ? IPPROTO_TCP : IPPROTO_UDP;
		ip6.hop_limit = 64;
		inet_pton(AF_INET6, src, &ip6.saddr);
		inet_pton(AF_INET6, dst, &ip6.daddr);
		memcpy(f.data + 14, &ip6, sizeof(ip6));
	} else {
		struct iphdr ip;

		memset(&ip, 0, sizeof(ip));
		f.data[12] = 0x08;
		ip.version = 4;
		ip.ihl = 5;
		ip.ttl = 64;
		ip.protocol = tcp ? IPPROTO_TCP : IPPROTO_UDP;
		ip.tot_len = htons(l3_len + l4_len);
		inet_pton(AF_INET, src, &ip.saddr);
		inet_pton(AF_INET, dst, &ip.daddr);
		memcpy(f.data + 14, &ip, sizeof(ip));
	}
	if (tcp) {
		struct tcphdr th;

		memset(&th, 0, sizeof(th));
		th.source = htons(sport);
		th.dest = htons(dport);
		th.seq = htonl(seq);
		th.ack_seq = htonl(ack);
		th.doff = 5;
		th.window = htons(65535);
		memcpy(f.data + 14 + l3_len, &th, sizeof(th));
		f.data[14 + l3_len + 13] = flags;
	} else {
		struct udphdr uh;

		uh.source = htons(sport);
		uh.dest = htons(dport);
		uh.len = htons(l4_len);
		uh.check = 0;
		memcpy(f.data + 14 + l3_len, &uh, sizeof(uh));
	}
	return f;
}

/* Mean ns per run over `repeat` runs of one frame, as the kernel times it. */
static double run_ns(int prog_fd, const struct frame *f, __u32 repeat, __u32 *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->data, .data_size_in = f->len,
		    .repeat = repeat);

	if (bpf_prog_test_run_opts(prog_fd, &opts)) {
		fprintf(stderr, "prog_cost: test run: %s\n", strerror(errno));
		exit(1);
	}
	if (retval)
		*retval = opts.retval;
	return opts.duration;
}

/* Best mean of 5 (fewer with -q) rounds of `repeat` runs. */
static double best_of(int prog_fd, const struct frame *f, __u32 *retval)
{
	__u32 repeat = quick ? 2000 : 200000;
	double best = 1e18;
	int i;

	for (i = 0; i < (quick ? 1 : 5); i++) {
		double ns = run_ns(prog_fd, f, repeat, retval);

		if (ns < best)
			best = ns;
	}
	return best;
}

/* Two instructions, "return XDP_PASS": the timer's share of a single run. */
static int trivial_prog(void)
{
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS},
		{.code = BPF_JMP | BPF_EXIT},
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xctb_trivial", "GPL", insns, 2, NULL);

	if (fd < 0) {
		fprintf(stderr, "prog_cost: cannot load the trivial program: %s\n",
			strerror(errno));
		exit(1);
	}
	return fd;
}

/* Mean kernel-timed ns of one run of the trivial program. */
static double single_overhead(int trivial_fd)
{
	struct frame f = mkframe(0, 1, "192.0.2.1", 1, "192.0.2.2", 2, TH_SYN, 1, 0);
	int i, n = quick ? 200 : 20000;
	double sum = 0;

	for (i = 0; i < n; i++)
		sum += run_ns(trivial_fd, &f, 1, NULL);
	return sum / n;
}

static void mount_bpffs(void)
{
	struct statfs st;

	if (statfs("/sys/fs/bpf", &st) || st.f_type != 0xcafe4a11) {
		mkdir("/sys/fs/bpf", 0755);
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL)) {
			perror("prog_cost: mount bpffs");
			exit(1);
		}
	}
}

static struct xct_bpf *load_datapath(const char *dir, __u32 max_entries)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = dir);
	struct xct_bpf *skel;

	xct_opts.pin_path = dir;
	skel = xct_bpf__open_opts(&opts);
	if (!skel) {
		fprintf(stderr, "prog_cost: cannot open the datapath\n");
		exit(1);
	}
	if (xct_datapath_size(skel, max_entries) || xct_bpf__load(skel)) {
		fprintf(stderr, "prog_cost: cannot load the datapath\n");
		exit(1);
	}
	return skel;
}

static __u32 no_ifindex(const char *name, void *ctx)
{
	return 0;
}

static void load_rules(const char *text)
{
	struct xct_rules_error err;
	int ret = xct_policy_load_text("bench", text, no_ifindex, NULL, &err);

	if (ret == -EINVAL) {
		fprintf(stderr, "prog_cost: rules: %u:%u: %s\n", err.loc.line, err.loc.col,
			err.msg);
		exit(1);
	}
	if (ret) {
		fprintf(stderr, "prog_cost: cannot install the rules: %s\n", strerror(-ret));
		exit(1);
	}
}

/* The pinned maps go with their directory. */
static void remove_pins(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "prog_cost: cannot remove %s\n", dir);
}

static void expect(__u32 got, __u32 want, const char *what)
{
	if (got != want) {
		fprintf(stderr, "prog_cost: %s: XDP verdict %u, expected %u\n", what, got, want);
		exit(1);
	}
}

static int first_case = 1;

static void print_case(const char *name, const char *method, double ns)
{
	printf("%s\n  {\"name\": \"%s\", \"method\": \"%s\", \"ns\": %.1f}", first_case ? "" : ",",
	       name, method, ns);
	first_case = 0;
}

/* An established connection's packet, timed with repeat. */
static void established(int fd, int v6, int tcp, const char *name)
{
	const char *c = v6 ? "fd00:77::1" : "10.0.0.1";
	const char *s = v6 ? "fd00:77::2" : "10.0.0.2";
	__u16 cp = tcp ? 40000 : 40001, sp = tcp ? 80 : 53;
	struct frame open = mkframe(v6, tcp, c, cp, s, sp, TH_SYN, 1000, 0);
	struct frame reply = mkframe(v6, tcp, s, sp, c, cp, TH_SYN | TH_ACK, 5000, 1001);
	struct frame next = mkframe(v6, tcp, c, cp, s, sp, TH_ACK, 1001, 5001);
	__u32 rv;

	run_ns(fd, &open, 1, &rv);
	expect(rv, XDP_PASS, name);
	run_ns(fd, &reply, 1, &rv);
	run_ns(fd, &next, 1, &rv);
	print_case(name, "repeat", best_of(fd, &next, &rv));
	expect(rv, XDP_PASS, name);
}

/*
 * An established UDP packet timed as the new connections are, one run at a
 * time less the timer's overhead: what the distinct method adds to a packet
 * by itself (colder caches), to read the new connections' figures against.
 */
static double established_single(int fd, int n, double overhead)
{
	struct frame open = mkframe(0, 0, "10.0.0.1", 40003, "10.0.0.2", 53, 0, 0, 0);
	struct frame reply = mkframe(0, 0, "10.0.0.2", 53, "10.0.0.1", 40003, 0, 0, 0);
	double sum = 0;
	__u32 rv;
	int i;

	run_ns(fd, &open, 1, &rv);
	run_ns(fd, &reply, 1, &rv);
	for (i = 0; i < n; i++)
		sum += run_ns(fd, &reply, 1, &rv);
	expect(rv, XDP_PASS, "established, single runs");
	return sum / n - overhead;
}

/* A new connection the policy refuses: no entry, so repeat is right. */
static void refused(int fd, int v6, const char *name)
{
	struct frame f = mkframe(v6, 1, v6 ? "fd00:77::1" : "10.0.0.1", 40002,
				 v6 ? "fd00:77::2" : "10.0.0.2", 9, TH_SYN, 1000, 0);
	__u32 rv;

	print_case(name, "repeat", best_of(fd, &f, &rv));
	expect(rv, XDP_DROP, name);
}

static int count_event(void *ctx, void *data, size_t size)
{
	return 0;
}

/*
 * A refused SYN while `xct trace drops` is subscribed: each run also
 * writes an event into xct_events.  Rounds of 10,000 runs fit the 1 MiB
 * ring (72 bytes an event), which is drained between rounds, so every run
 * pays for a real reserve and submit, not for a full ring's failure.
 */
static void refused_traced(struct xct_bpf *skel, int fd, const char *name)
{
	struct frame f = mkframe(0, 1, "10.0.0.1", 40003, "10.0.0.2", 9, TH_SYN, 1000, 0);
	struct ring_buffer *rb =
		ring_buffer__new(bpf_map__fd(skel->maps.xct_events), count_event, NULL, NULL);
	__u32 key = XCT_SUB_DROPS, rv;
	double best = 1e18;
	int i;

	if (!rb) {
		fprintf(stderr, "prog_cost: cannot read xct_events\n");
		exit(1);
	}
	for (i = 0; i < (quick ? 1 : 20); i++) {
		__u64 now = xct_now_ns();
		double ns;

		if (bpf_map_update_elem(bpf_map__fd(skel->maps.xct_subs), &key, &now, BPF_ANY)) {
			fprintf(stderr, "prog_cost: cannot subscribe: %s\n", strerror(errno));
			exit(1);
		}
		ring_buffer__consume(rb);
		ns = run_ns(fd, &f, quick ? 2000 : 10000, &rv);
		if (ns < best)
			best = ns;
	}
	expect(rv, XDP_DROP, name);
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	key = XCT_SUB_DROPS;
	bpf_map_update_elem(bpf_map__fd(skel->maps.xct_subs), &key, &(__u64){0}, BPF_ANY);
	print_case(name, "repeat", best);
}

/* Mean cost of a new accepted connection's first packet over n distinct
 * ones, one run each, less the timer's overhead. */
static double accepted_raw(int fd, int v6, int tcp, int n, __u16 base_sport)
{
	char src[64];
	double sum = 0;
	int i;

	for (i = 0; i < n; i++) {
		struct frame f;
		__u32 rv;

		/* A different source address every 50,000 ports. */
		if (v6)
			snprintf(src, sizeof(src), "fd00:78::%x", 1 + i / 50000);
		else
			snprintf(src, sizeof(src), "10.1.%d.%d", (1 + i / 50000) / 256,
				 (1 + i / 50000) % 256);
		f = mkframe(v6, tcp, src, base_sport + i % 50000, v6 ? "fd00:77::2" : "10.0.0.2",
			    tcp ? 80 : 53, TH_SYN, 1000, 0);
		sum += run_ns(fd, &f, 1, &rv);
		expect(rv, XDP_PASS, "new accepted connection");
	}
	return sum / n;
}

/*
 * The ruleset of the datapath benchmark (bench/datapath.py), with its
 * blocklist of n /28 prefixes, and the three packets it decides there:
 * a reply of an established UDP flow (rule 2), a new flow (rule 3) and a
 * blocklisted source (rule 1).  All three are dropped, so repeat is right.
 */
static void datapath_ruleset(int fd, int n)
{
	size_t cap = (size_t)n * 24 + 512, len = 0;
	char *text = malloc(cap);
	struct frame open, est, fresh, blocked;
	__u32 rv;
	int i;

	if (!text)
		exit(1);
	len += (size_t)snprintf(text + len, cap - len, "set bl { ");
	for (i = 0; i < n; i++) {
		__u32 a = 0x0a400000 + 32 * (__u32)i; /* 10.64.0.0 + 32 i */

		len += (size_t)snprintf(text + len, cap - len, "%s%u.%u.%u.%u/28", i ? ", " : "",
					a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
	}
	snprintf(text + len, cap - len,
		 " }\npolicy accept\ndrop saddr @bl\n"
		 "drop udp dport 9000 ct state established\n"
		 "drop udp dport 9001 ct state new\n");
	load_rules(text);
	free(text);

	open = mkframe(0, 0, "10.250.5.2", 9000, "10.250.5.1", 10000, 0, 0, 0);
	est = mkframe(0, 0, "10.250.5.1", 10000, "10.250.5.2", 9000, 0, 0, 0);
	fresh = mkframe(0, 0, "10.96.1.2", 40000, "10.250.5.2", 9001, 0, 0, 0);
	blocked = mkframe(0, 0, "10.64.7.3", 40000, "10.250.5.2", 9003, 0, 0, 0);
	run_ns(fd, &open, 1, &rv);
	expect(rv, XDP_PASS, "datapath ruleset, first packet");
	print_case("datapath benchmark ruleset: ESTABLISHED UDP reply, dropped by rule 2", "repeat",
		   best_of(fd, &est, &rv));
	expect(rv, XDP_DROP, "datapath ruleset, established");
	print_case("datapath benchmark ruleset: NEW UDP, dropped by rule 3", "repeat",
		   best_of(fd, &fresh, &rv));
	expect(rv, XDP_DROP, "datapath ruleset, new");
	print_case("datapath benchmark ruleset: blocklisted source, dropped by rule 1", "repeat",
		   best_of(fd, &blocked, &rv));
	expect(rv, XDP_DROP, "datapath ruleset, blocklist");
}

static void clear_table(int fd);

/*
 * What marks cost an established TCP packet (repeat): with mark rules
 * after the established rule (the fast path, as without them), with a
 * ct mark match in the first rule established packets meet (the full
 * path and one record check), and with a continue rule setting the mark
 * before it (the same, and a second candidate; the mark changes once, so
 * the entry is written once).  Then a new connection accepted by a rule
 * that sets its mark (distinct), to read against the one without.
 */
static void marks_rulesets(int ct_fd, int fd, int n, double overhead)
{
	static const struct {
		const char *name, *rules;
	} rs[] = {
		{"ESTABLISHED TCP, IPv4, mark rules after the established rule",
		 "policy drop\naccept ct state established,related\n"
		 "accept tcp dport 80 ct mark set 0x10\ndrop ct mark 0x20\n"},
		{"ESTABLISHED TCP, IPv4, the first established rule matches ct mark",
		 "policy drop\ndrop ct state established ct mark 0x20\n"
		 "accept ct state established,related\naccept tcp dport 80 ct mark set 0x10\n"},
		{"ESTABLISHED TCP, IPv4, a continue rule sets ct mark first",
		 "policy drop\ncontinue ct state established ct mark set ct mark or 0x1\n"
		 "accept ct state established,related\naccept tcp dport 80\n"},
	};
	size_t i;

	for (i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
		clear_table(ct_fd);
		load_rules(rs[i].rules);
		established(fd, 0, 1, rs[i].name);
	}
	clear_table(ct_fd);
	print_case("NEW TCP accepted, IPv4, by a rule that sets ct mark", "distinct",
		   accepted_raw(fd, 0, 1, n, 10000) - overhead);
}

/* The pins of cases(), removed however the program exits. */
static char cases_dir[] = "/sys/fs/bpf/xctb-prog-XXXXXX";

static void remove_cases_pins(void)
{
	remove_pins(cases_dir);
}

static int cases(void)
{
	char *dir = cases_dir;
	struct xct_bpf *skel;
	int fd, trivial, n = quick ? 200 : 20000;
	double overhead, trivial_rep;
	__u32 rv;
	struct frame f = mkframe(0, 1, "192.0.2.1", 1, "192.0.2.2", 2, TH_SYN, 1, 0);

	mount_bpffs();
	if (!mkdtemp(dir)) {
		perror("prog_cost: mkdtemp");
		return 1;
	}
	atexit(remove_cases_pins);
	skel = load_datapath(dir, XCT_MAX_ENTRIES_DEFAULT);
	fd = bpf_program__fd(skel->progs.xct_xdp);
	load_rules("policy drop\n"
		   "accept ct state established,related\n"
		   "accept tcp dport 80\n"
		   "accept udp dport 53\n");
	trivial = trivial_prog();
	overhead = single_overhead(trivial);
	trivial_rep = best_of(trivial, &f, &rv);

	printf("{\"ruleset\": \"policy drop; accept ct state established,related; "
	       "accept tcp dport 80; accept udp dport 53\",\n"
	       " \"trivial_repeat_ns\": %.1f, \"trivial_single_ns\": %.1f, \"distinct_n\": %d,\n"
	       " \"cases\": [",
	       trivial_rep, overhead, n);
	established(fd, 0, 1, "ESTABLISHED TCP, IPv4");
	established(fd, 0, 0, "ESTABLISHED UDP, IPv4");
	established(fd, 1, 1, "ESTABLISHED TCP, IPv6");
	established(fd, 1, 0, "ESTABLISHED UDP, IPv6");
	refused(fd, 0, "NEW TCP refused by the policy, IPv4");
	refused(fd, 1, "NEW TCP refused by the policy, IPv6");
	refused_traced(skel, fd, "NEW TCP refused by the policy, IPv4, xct trace drops reading");
	print_case("ESTABLISHED UDP, IPv4, timed as the new connections", "distinct",
		   established_single(fd, n, overhead));
	print_case("NEW TCP accepted (SYN creates the entry), IPv4", "distinct",
		   accepted_raw(fd, 0, 1, n, 10000) - overhead);
	print_case("NEW UDP accepted (creates the entry), IPv4", "distinct",
		   accepted_raw(fd, 0, 0, n, 10000) - overhead);
	print_case("NEW TCP accepted (SYN creates the entry), IPv6", "distinct",
		   accepted_raw(fd, 1, 1, n, 10000) - overhead);
	print_case("NEW UDP accepted (creates the entry), IPv6", "distinct",
		   accepted_raw(fd, 1, 0, n, 10000) - overhead);
	datapath_ruleset(fd, quick ? 1000 : 100000);
	marks_rulesets(bpf_map__fd(skel->maps.xct_ct), fd, n, overhead);
	printf("\n]}\n");
	close(trivial);
	xct_bpf__destroy(skel);
	return 0;
}

/* Connection i of the fill: 10.100.0.0 + i / 50000 : 10000 + i % 50000 ->
 * 10.200.0.1:443, a full handshake each. */
static void conn_frames(__u32 i, struct frame *syn, struct frame *synack, struct frame *ack)
{
	char c[32];
	__u32 a = i / 50000;
	__u16 port = 10000 + i % 50000;

	snprintf(c, sizeof(c), "10.100.%u.%u", a / 256, a % 256);
	*syn = mkframe(0, 1, c, port, "10.200.0.1", 443, TH_SYN, 1000, 0);
	*synack = mkframe(0, 1, "10.200.0.1", 443, c, port, TH_SYN | TH_ACK, 5000, 1001);
	*ack = mkframe(0, 1, c, port, "10.200.0.1", 443, TH_ACK, 1001, 5001);
}

static void fill_range(int fd, __u32 from, __u32 to)
{
	struct frame syn, synack, ack;
	__u32 i, rv;

	for (i = from; i < to; i++) {
		conn_frames(i, &syn, &synack, &ack);
		run_ns(fd, &syn, 1, &rv);
		run_ns(fd, &synack, 1, &rv);
		run_ns(fd, &ack, 1, &rv);
	}
}

/* Lookup cost with `entries` connections in the table: one connection's ACK
 * repeated, and ACKs of many different connections once each. */
static void lookup(int fd, double overhead, __u32 entries, int last)
{
	struct frame syn, synack, ack;
	int i, n = quick ? 200 : 100000;
	double sum = 0;
	__u32 rv;

	conn_frames(entries / 2, &syn, &synack, &ack);
	printf("  \"%u\": {\"repeat_ns\": %.1f, ", entries, best_of(fd, &ack, &rv));
	expect(rv, XDP_PASS, "established ACK");
	srandom(entries);
	for (i = 0; i < n; i++) {
		conn_frames((__u32)random() % entries, &syn, &synack, &ack);
		sum += run_ns(fd, &ack, 1, &rv);
	}
	printf("\"distinct_ns\": %.1f, \"distinct_n\": %d}%s\n", sum / n - overhead, n,
	       last ? "" : ",");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The kernel's unreclaimable slab, vmalloc and per-CPU memory, in bytes:
 * where a BPF hash map's elements and buckets live. */
static long long kernel_bytes(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char key[64];
	long long v, sum = 0;

	if (!f)
		return 0;
	while (fscanf(f, "%63s %lld kB\n", key, &v) == 2)
		if (!strcmp(key, "SUnreclaim:") || !strcmp(key, "VmallocUsed:") ||
		    !strcmp(key, "Percpu:"))
			sum += v * 1024;
	fclose(f);
	return sum;
}

static int fill(const char *dir, __u32 n, __u32 max_entries)
{
	struct xct_bpf *skel;
	int fd, trivial;
	double overhead, t0, t1;
	long long m0, m1;

	mount_bpffs();
	if (mkdir(dir, 0700) && errno != EEXIST) {
		perror("prog_cost: mkdir");
		return 1;
	}
	skel = load_datapath(dir, max_entries);
	fd = bpf_program__fd(skel->progs.xct_xdp);
	trivial = trivial_prog();
	overhead = single_overhead(trivial);
	/* Memory after the load (maps, buckets) and before any entry. */
	m0 = kernel_bytes();
	t0 = now_s();
	fill_range(fd, 0, n < 1000 ? n : 1000);
	printf("{\"trivial_single_ns\": %.1f,\n \"lookup\": {\n", overhead);
	lookup(fd, overhead, n < 1000 ? n : 1000, n <= 1000);
	t1 = now_s();
	if (n > 1000) {
		fill_range(fd, 1000, n);
		t1 = now_s();
	}
	m1 = kernel_bytes();
	if (n > 1000)
		lookup(fd, overhead, n, 1);
	printf(" },\n \"entries\": %u, \"max_entries\": %u, \"fill_s\": %.2f, "
	       "\"fill_packets\": %u, \"entries_growth\": %lld}\n",
	       n, max_entries, t1 - t0, 3 * n, m1 - m0);
	close(trivial);
	/* The maps stay pinned in dir for 'xct ct list' and bpftool. */
	xct_bpf__destroy(skel);
	return 0;
}

/* ---- A full table: the cost of eviction ---- */

#define EVICT_TABLE 4096

/* New connection i of the eviction cases: 10.2.x.1 : 1024 + i -> 10.0.0.2:80. */
static struct frame evict_frame(__u32 i, int reply)
{
	char src[32];

	snprintf(src, sizeof(src), "10.2.%u.1", i / 60000);
	if (reply)
		return mkframe(0, 1, "10.0.0.2", 80, src, (__u16)(1024 + i % 60000),
			       TH_SYN | TH_ACK, 5000, 1001);
	return mkframe(0, 1, src, (__u16)(1024 + i % 60000), "10.0.0.2", 80, TH_SYN, 1000, 0);
}

/* Mean cost of the SYNs of connections [from, to), one run each. */
static double syns_ns(int fd, __u32 from, __u32 to)
{
	double sum = 0;
	__u32 i, rv;

	for (i = from; i < to; i++) {
		struct frame f = evict_frame(i, 0);

		sum += run_ns(fd, &f, 1, &rv);
		expect(rv, XDP_PASS, "new connection");
	}
	return sum / (to - from);
}

static __u64 counter_sum(struct xct_bpf *skel, __u32 slot)
{
	int ncpus = libbpf_num_possible_cpus();
	__u64 vals[ncpus > 0 ? ncpus : 1], sum = 0;
	int i;

	if (ncpus <= 0 || bpf_map_lookup_elem(bpf_map__fd(skel->maps.xct_counters), &slot, vals))
		return 0;
	for (i = 0; i < ncpus; i++)
		sum += vals[i];
	return sum;
}

static __u64 table_count(struct xct_bpf *skel)
{
	struct xct_ct_key k, next;
	int fd = bpf_map__fd(skel->maps.xct_ct);
	__u64 n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

static char evict_dir[] = "/sys/fs/bpf/xctb-evict-XXXXXX";

static void remove_evict_pins(void)
{
	remove_pins(evict_dir);
}

/*
 * A new TCP connection's SYN in a table of EVICT_TABLE entries with room,
 * then in the same table full, where each SYN evicts one entry: first a
 * table of unanswered SYNs (the entry at the ring's tail goes), then one of
 * handshakes that saw their SYN/ACK (each insert moves one to the head and
 * evicts the next).  Timed as distinct packets, less the timer's
 * overhead, as the new connections of cases().
 */
static int evict_cost(void)
{
	__u32 n = quick ? 200 : 2000, base, i, rv;
	double overhead, room, unreplied, replied;
	__u64 ed_u0, ed_u1, ed_r0, ed_r1;
	struct xct_bpf *skel;
	int fd, trivial;

	mount_bpffs();
	if (!mkdtemp(evict_dir)) {
		perror("prog_cost: mkdtemp");
		return 1;
	}
	atexit(remove_evict_pins);
	skel = load_datapath(evict_dir, EVICT_TABLE);
	fd = bpf_program__fd(skel->progs.xct_xdp);
	trivial = trivial_prog();
	overhead = single_overhead(trivial);

	/* With room: the first n of an empty table; then filled. */
	room = syns_ns(fd, 0, n) - overhead;
	syns_ns(fd, n, EVICT_TABLE);
	if (table_count(skel) != EVICT_TABLE) {
		fprintf(stderr, "prog_cost: the table did not fill\n");
		return 1;
	}

	/* Full of unanswered SYNs. */
	ed_u0 = counter_sum(skel, XCT_S_EARLY_DROP_UNREPLIED);
	unreplied = syns_ns(fd, EVICT_TABLE, EVICT_TABLE + n) - overhead;
	ed_u1 = counter_sum(skel, XCT_S_EARLY_DROP_UNREPLIED);

	/* Every entry in the table answered, then new SYNs again. */
	base = EVICT_TABLE + n;
	for (i = n; i < base; i++) {
		struct frame f = evict_frame(i, 1);

		run_ns(fd, &f, 1, &rv);
	}
	ed_r0 = counter_sum(skel, XCT_S_EARLY_DROP_REPLIED);
	/* Few enough that the scans meet only answered entries. */
	replied = syns_ns(fd, base, base + n / 4) - overhead;
	ed_r1 = counter_sum(skel, XCT_S_EARLY_DROP_REPLIED);
	if (ed_u1 - ed_u0 != n || ed_r1 - ed_r0 != n / 4 || table_count(skel) != EVICT_TABLE) {
		fprintf(stderr,
			"prog_cost: evictions not as expected: %llu unreplied of %u, %llu replied "
			"of %u\n",
			(unsigned long long)(ed_u1 - ed_u0), n, (unsigned long long)(ed_r1 - ed_r0),
			n / 4);
		return 1;
	}
	printf("{\"table\": %u, \"n\": %u, \"trivial_single_ns\": %.1f,\n \"cases\": [",
	       EVICT_TABLE, n, overhead);
	print_case("NEW TCP SYN, table with room", "distinct", room);
	print_case("NEW TCP SYN, full table of unanswered SYNs: evicts one", "distinct", unreplied);
	print_case("NEW TCP SYN, full table of answered handshakes: moves one, evicts the next",
		   "distinct", replied);
	printf("\n]}\n");
	close(trivial);
	xct_bpf__destroy(skel);
	return 0;
}

/* ---- The cost of connection events ---- */

static void clear_table(int fd)
{
	struct xct_ct_key key, next;

	while (bpf_map_get_next_key(fd, NULL, &next) == 0) {
		key = next;
		if (bpf_map_delete_elem(fd, &key))
			break;
	}
}

static int discard_event(void *ctx, void *data, size_t size)
{
	(*(__u64 *)ctx)++;
	return 0;
}

/* A reader of connection events announces itself (at), or goes (0). */
static void set_reader(int subs_fd, __u64 at)
{
	__u32 kind = XCT_SUB_CT_EVENTS;

	if (bpf_map_update_elem(subs_fd, &kind, &at, BPF_ANY)) {
		fprintf(stderr, "prog_cost: cannot write xct_subs: %s\n", strerror(errno));
		exit(1);
	}
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* An established TCP connection's ACK, timed with repeat. */
static double ev_established(int fd)
{
	struct frame open = mkframe(0, 1, "10.0.0.1", 40000, "10.0.0.2", 80, TH_SYN, 1000, 0);
	struct frame reply =
		mkframe(0, 1, "10.0.0.2", 80, "10.0.0.1", 40000, TH_SYN | TH_ACK, 5000, 1001);
	struct frame next = mkframe(0, 1, "10.0.0.1", 40000, "10.0.0.2", 80, TH_ACK, 1001, 5001);
	__u32 rv;
	double ns;

	run_ns(fd, &open, 1, &rv);
	run_ns(fd, &reply, 1, &rv);
	run_ns(fd, &next, 1, &rv);
	ns = best_of(fd, &next, &rv);
	expect(rv, XDP_PASS, "events: established ACK");
	return ns;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- Today's datapath beside an earlier one ---- */

/*
 * What a feature costs is measured against the datapath before it: its
 * object file, built from git by bench/run.sh, loaded beside today's in a
 * pin directory of its own, both timed on the same frames in interleaved
 * rounds.  Each has its own table, subscriptions and events ring; one ring
 * reader takes both rings' events between rounds, outside the timing.
 */
#define BESIDE_CONFIGS 3 /* the earlier datapath and two of today's */
#define BESIDE_ROUNDS  5

struct beside {
	struct xct_bpf *now;
	struct bpf_object *before;
	struct ring_buffer *rb;
	__u64 taken; /* events the reader took */
	int trivial;
	double overhead; /* of a single run of a trivial program */
	int rounds, n;	 /* interleaved rounds; distinct flows a path creates */
};

static char beside_dir_now[] = "/sys/fs/bpf/xctb-now-XXXXXX";
static char beside_dir_before[] = "/sys/fs/bpf/xctb-before-XXXXXX";

static void remove_beside_pins(void)
{
	remove_pins(beside_dir_now);
	remove_pins(beside_dir_before);
}

/* A program's or a map's fd, in the earlier datapath or today's. */
static int beside_prog(const struct beside *b, int before, const char *name)
{
	struct bpf_object *obj = before ? b->before : b->now->obj;

	return bpf_program__fd(bpf_object__find_program_by_name(obj, name));
}

static int beside_map(const struct beside *b, int before, const char *name)
{
	struct bpf_object *obj = before ? b->before : b->now->obj;

	return bpf_map__fd(bpf_object__find_map_by_name(obj, name));
}

static void beside_open(struct beside *b, const char *before_obj)
{
	LIBBPF_OPTS(bpf_object_open_opts, bopts, .pin_root_path = beside_dir_before);
	struct bpf_map *before_ring;

	memset(b, 0, sizeof(*b));
	b->rounds = quick ? 1 : BESIDE_ROUNDS;
	b->n = quick ? 200 : 20000;
	mount_bpffs();
	if (!mkdtemp(beside_dir_now) || !mkdtemp(beside_dir_before)) {
		perror("prog_cost: mkdtemp");
		exit(1);
	}
	atexit(remove_beside_pins);
	b->now = load_datapath(beside_dir_now, XCT_MAX_ENTRIES_DEFAULT);
	b->before = bpf_object__open_file(before_obj, &bopts);
	if (!b->before || bpf_object__load(b->before)) {
		fprintf(stderr, "prog_cost: cannot load %s\n", before_obj);
		exit(1);
	}
	/* A datapath from before connection events has no ring. */
	before_ring = bpf_object__find_map_by_name(b->before, "xct_ct_events");
	b->rb = ring_buffer__new(bpf_map__fd(b->now->maps.xct_ct_events), discard_event,
				 &b->taken, NULL);
	if (!b->rb || (before_ring && ring_buffer__add(b->rb, bpf_map__fd(before_ring),
						       discard_event, &b->taken))) {
		fprintf(stderr, "prog_cost: cannot read the xct_ct_events rings\n");
		exit(1);
	}
	b->trivial = trivial_prog();
	b->overhead = single_overhead(b->trivial);
}

static void beside_close(struct beside *b)
{
	ring_buffer__free(b->rb);
	close(b->trivial);
	bpf_object__close(b->before);
	xct_bpf__destroy(b->now);
}

/* The cases of a run as JSON: per path, each configuration's median and
 * runs; extra, a JSON member or "", goes in the header. */
static void beside_print(const struct beside *b, const char *extra, int n_paths,
			 const char *const *paths, const char *const *methods,
			 const char *const *names, double v[][BESIDE_CONFIGS][BESIDE_ROUNDS])
{
	int k, c, r;

	printf("{\"rounds\": %d, \"distinct_n\": %d, \"trivial_single_ns\": %.1f, %s"
	       "\"events_taken\": %llu,\n \"cases\": [\n",
	       b->rounds, b->n, b->overhead, extra, (unsigned long long)b->taken);
	for (k = 0; k < n_paths; k++) {
		printf("  {\"name\": \"%s\", \"method\": \"%s\"", paths[k], methods[k]);
		for (c = 0; c < BESIDE_CONFIGS; c++) {
			printf(", \"%s_ns\": %.1f, \"%s_runs\": [", names[c],
			       median_of(v[k][c], b->rounds), names[c]);
			for (r = 0; r < b->rounds; r++)
				printf("%s%.1f", r ? ", " : "", v[k][c][r]);
			printf("]");
		}
		printf("}%s\n", k == n_paths - 1 ? "" : ",");
	}
	printf(" ]}\n");
}

/*
 * Three datapaths on the same frames, in interleaved rounds: the one
 * before connection events, this one with no reader subscribed, and this
 * one with a reader.  No ruleset: every packet is accepted.  The paths: an
 * established connection's ACK (no event), and a new connection's SYN (one
 * NEW with a reader).
 */
static int events_cost(const char *before_obj)
{
	enum { BEFORE, NO_READER, READER };
	static const char *const names[BESIDE_CONFIGS] = {"before", "no_reader", "reader"};
	static const char *const paths[] = {
		"ESTABLISHED TCP ACK, IPv4 (no event)",
		"NEW TCP accepted (SYN creates the entry, NEW event), IPv4"};
	static const char *const methods[] = {"repeat", "distinct"};
	double v[2][BESIDE_CONFIGS][BESIDE_ROUNDS];
	int fd[BESIDE_CONFIGS], ct_fd[BESIDE_CONFIGS], r, c, subs_fd;
	struct beside b;

	beside_open(&b, before_obj);
	for (c = 0; c < BESIDE_CONFIGS; c++) {
		fd[c] = beside_prog(&b, c == BEFORE, "xct_xdp");
		ct_fd[c] = beside_map(&b, c == BEFORE, "xct_ct");
	}
	subs_fd = beside_map(&b, 0, "xct_subs");
	for (r = 0; r < b.rounds; r++) {
		for (c = 0; c < BESIDE_CONFIGS; c++) {
			/* A reader's refresh an hour ahead: subscribed for
			 * the whole round, however long the machine takes. */
			set_reader(subs_fd, c == READER ? mono_ns() + 3600 * 1000000000ULL : 0);
			clear_table(ct_fd[c]);
			v[0][c][r] = ev_established(fd[c]);
			clear_table(ct_fd[c]);
			v[1][c][r] = accepted_raw(fd[c], 0, 1, b.n, 10000) - b.overhead;
			set_reader(subs_fd, 0);
			ring_buffer__consume(b.rb);
		}
	}
	beside_print(&b, "", 2, paths, methods, names, v);
	beside_close(&b);
	return 0;
}

/* ---- What recording owners costs forwarded traffic ---- */

/* An established connection's packet (TCP: an ACK; UDP: a reply), timed
 * with repeat. */
static double own_established(int fd, int tcp)
{
	__u16 cp = tcp ? 40000 : 40001, sp = tcp ? 80 : 53;
	struct frame open = mkframe(0, tcp, "10.0.0.1", cp, "10.0.0.2", sp, TH_SYN, 1000, 0);
	struct frame reply =
		mkframe(0, tcp, "10.0.0.2", sp, "10.0.0.1", cp, TH_SYN | TH_ACK, 5000, 1001);
	struct frame next = mkframe(0, tcp, "10.0.0.1", cp, "10.0.0.2", sp, TH_ACK, 1001, 5001);
	__u32 rv;
	double ns;

	run_ns(fd, &open, 1, &rv);
	run_ns(fd, &reply, 1, &rv);
	run_ns(fd, &next, 1, &rv);
	ns = best_of(fd, tcp ? &next : &reply, &rv);
	expect(rv, XDP_PASS, "owner: established");
	return ns;
}

/* The owners of OWN_OTHERS local connections, none of them the measured
 * ones: the lookups a forwarded connection's events make miss in a table
 * that holds something. */
#define OWN_OTHERS 1000

static void own_fill_others(int owner_fd)
{
	struct xct_owner o;
	struct xct_ct_key k;
	__u32 i;

	memset(&o, 0, sizeof(o));
	o.how = XCT_OWNER_CONNECT;
	for (i = 0; i < OWN_OTHERS; i++) {
		memset(&k, 0, sizeof(k));
		k.family = XCT_AF_INET;
		k.proto = XCT_IPPROTO_TCP;
		k.addr[0].v4 = htonl(0x0a090000 | i);
		k.addr[1].v4 = htonl(0x0a0900ff);
		k.port[0] = htons((__u16)(30000 + i));
		k.port[1] = htons(443);
		o.tgid = o.pid = 1000 + i;
		if (bpf_map_update_elem(owner_fd, &k, &o, BPF_ANY)) {
			fprintf(stderr, "prog_cost: cannot fill xct_owner: %s\n", strerror(errno));
			exit(1);
		}
	}
}

/* The connections accepted_raw(fd, 0, 1, n, base_sport) made, deleted one
 * by one through the control program, as xct ct delete does (a DESTROY
 * each); the mean kernel-timed ns of one deletion. */
static double own_deletes(int ctl_prog_fd, int n, __u16 base_sport)
{
	struct xct_ctl_ct_msg m;
	struct xct_tuple t;
	char src[64];
	double sum = 0;
	__u8 side;
	int i;

	for (i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &m, .data_size_in = sizeof(m),
			    .data_out = &m, .data_size_out = sizeof(m), .repeat = 1);

		snprintf(src, sizeof(src), "10.1.%d.%d", (1 + i / 50000) / 256,
			 (1 + i / 50000) % 256);
		memset(&t, 0, sizeof(t));
		t.family = XCT_AF_INET;
		t.proto = XCT_IPPROTO_TCP;
		inet_pton(AF_INET, src, &t.src.v4);
		inet_pton(AF_INET, "10.0.0.2", &t.dst.v4);
		t.sport = htons((__u16)(base_sport + i % 50000));
		t.dport = htons(80);
		memset(&m, 0, sizeof(m));
		m.hdr.cmd = XCT_CTL_CT_DELETE;
		xct_key_from_tuple(&t, &m.key, &side);
		if (bpf_prog_test_run_opts(ctl_prog_fd, &opts) || m.hdr.ret) {
			fprintf(stderr, "prog_cost: owner: delete %d: %s (ret %d)\n", i,
				strerror(errno), m.hdr.ret);
			exit(1);
		}
		sum += opts.duration;
	}
	return sum / n;
}

static void own_record(int ctl_fd, __u32 on)
{
	struct xct_owner_ctl c = {.on = on};
	__u32 zero = 0;

	if (bpf_map_update_elem(ctl_fd, &zero, &c, BPF_ANY)) {
		fprintf(stderr, "prog_cost: cannot write xct_owner_ctl: %s\n", strerror(errno));
		exit(1);
	}
}

/*
 * Forwarded traffic, which has no owner, through three datapaths in
 * interleaved rounds: the one before owners existed, this one with owners
 * not recorded, and this one recording them (as after xct attach-cgroup,
 * with OWN_OTHERS local connections owned).  A reader of connection events
 * is subscribed in all three, so that every NEW is sent: the path where an
 * owner is looked up.  No ruleset: every packet is accepted.  The paths:
 * established TCP and UDP packets (no event), a new TCP connection's SYN
 * (one NEW), and its end, deleted through the control program (one
 * DESTROY: the path of the GC and of eviction).
 */
static int owner_cost(const char *before_obj)
{
	enum { BEFORE, OFF, ON };
	static const char *const names[BESIDE_CONFIGS] = {"before", "off", "on"};
	static const char *const paths[] = {
		"ESTABLISHED TCP ACK, IPv4 (no event)", "ESTABLISHED UDP reply, IPv4 (no event)",
		"NEW TCP accepted (SYN creates the entry, NEW event), IPv4",
		"END of a TCP connection (xct ct delete: DESTROY event, entry removed), IPv4"};
	static const char *const methods[] = {"repeat", "repeat", "distinct", "distinct"};
	enum { N_PATHS = sizeof(paths) / sizeof(paths[0]) };
	int fd[BESIDE_CONFIGS], ct_fd[BESIDE_CONFIGS], subs_fd[BESIDE_CONFIGS];
	int del_fd[BESIDE_CONFIGS], ctl_fd, r, c;
	double v[N_PATHS][BESIDE_CONFIGS][BESIDE_ROUNDS];
	char extra[64];
	struct beside b;

	beside_open(&b, before_obj);
	for (c = 0; c < BESIDE_CONFIGS; c++) {
		fd[c] = beside_prog(&b, c == BEFORE, "xct_xdp");
		del_fd[c] = beside_prog(&b, c == BEFORE, "xct_ctl");
		ct_fd[c] = beside_map(&b, c == BEFORE, "xct_ct");
		subs_fd[c] = beside_map(&b, c == BEFORE, "xct_subs");
	}
	ctl_fd = beside_map(&b, 0, "xct_owner_ctl");
	own_fill_others(beside_map(&b, 0, "xct_owner"));
	for (r = 0; r < b.rounds; r++) {
		for (c = 0; c < BESIDE_CONFIGS; c++) {
			own_record(ctl_fd, c == ON);
			set_reader(subs_fd[c], mono_ns() + 3600 * 1000000000ULL);
			clear_table(ct_fd[c]);
			v[0][c][r] = own_established(fd[c], 1);
			v[1][c][r] = own_established(fd[c], 0);
			clear_table(ct_fd[c]);
			v[2][c][r] = accepted_raw(fd[c], 0, 1, b.n, 10000) - b.overhead;
			v[3][c][r] = own_deletes(del_fd[c], b.n, 10000) - b.overhead;
			set_reader(subs_fd[c], 0);
			ring_buffer__consume(b.rb);
		}
	}
	own_record(ctl_fd, 0);
	snprintf(extra, sizeof(extra), "\"owned_others\": %d, ", OWN_OTHERS);
	beside_print(&b, extra, N_PATHS, paths, methods, names, v);
	beside_close(&b);
	return 0;
}

/* ---- What dnat costs: the packets it translates, and the others ---- */

/* "return TC_ACT_UNSPEC": the timer's share of a single TC run. */
static int trivial_tc_prog(void)
{
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = -1},
		{.code = BPF_JMP | BPF_EXIT},
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "xctb_trivial_tc", "GPL", insns, 2, NULL);

	if (fd < 0) {
		fprintf(stderr, "prog_cost: cannot load the trivial TC program: %s\n",
			strerror(errno));
		exit(1);
	}
	return fd;
}

/* TC_ACT_UNSPEC as BPF_PROG_TEST_RUN reports it. */
#define TC_UNSPEC ((__u32)-1)

/*
 * A TC program's mean ns over `repeat` runs of one frame, the skb as if
 * it had arrived by interface iif (0: sent by this host), which is how
 * the egress program tells a forwarded packet.
 */
static double run_skb_ns(int prog_fd, const struct frame *f, __u32 repeat, __u32 iif, __u32 *retval)
{
	struct __sk_buff ctx = {.ingress_ifindex = iif};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->data, .data_size_in = f->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);

	if (bpf_prog_test_run_opts(prog_fd, &opts)) {
		fprintf(stderr, "prog_cost: test run: %s\n", strerror(errno));
		exit(1);
	}
	*retval = opts.retval;
	return opts.duration;
}

/* Best mean of 5 (1 with -q) rounds of repeated runs, as best_of(). */
static double skb_best_of(int prog_fd, const struct frame *f, __u32 iif, __u32 want,
			  const char *what)
{
	__u32 repeat = quick ? 2000 : 200000, rv;
	double best = 1e18, ns;
	int i;

	for (i = 0; i < (quick ? 1 : 5); i++) {
		ns = run_skb_ns(prog_fd, f, repeat, iif, &rv);
		if (ns < best)
			best = ns;
	}
	expect(rv, want, what);
	return best;
}

/*
 * A packet that the program rewrites: BPF_PROG_TEST_RUN's repeat runs the
 * same buffer again, which after the first run holds the translated
 * packet.  So the frame is run n times, once per call, each time from
 * the original, and the timer's overhead of a single run is subtracted.
 */
static double skb_single(int prog_fd, const struct frame *f, __u32 iif, double overhead,
			 const char *what)
{
	int i, n = quick ? 200 : 20000;
	double sum = 0;
	__u32 rv;

	for (i = 0; i < n; i++) {
		sum += run_skb_ns(prog_fd, f, 1, iif, &rv);
		expect(rv, TC_UNSPEC, what);
	}
	return sum / n - overhead;
}

/* Mean ns of one XDP run of f, less the timer's overhead: for a frame XDP
 * hands to TC, which it tags in place, so that a repeated run would see
 * its own tag (and drop it as forged). */
static double xdp_single(int prog_fd, const struct frame *f, double overhead, const char *what)
{
	int i, n = quick ? 200 : 20000;
	double sum = 0;
	__u32 rv;

	for (i = 0; i < n; i++) {
		sum += run_ns(prog_fd, f, 1, &rv);
		expect(rv, XDP_PASS, what);
	}
	return sum / n - overhead;
}

/* The packet a TC program made of f must be `want`: the translation the
 * timed runs pay for did happen. */
static void expect_rewrite(int prog_fd, const struct frame *f, __u32 iif, const struct frame *want,
			   const char *what)
{
	struct __sk_buff ctx = {.ingress_ifindex = iif};
	struct frame got;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->data, .data_size_in = f->len,
		    .data_out = got.data, .data_size_out = sizeof(got.data), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));

	if (bpf_prog_test_run_opts(prog_fd, &opts)) {
		fprintf(stderr, "prog_cost: test run: %s\n", strerror(errno));
		exit(1);
	}
	/* Addresses and ports: IPv4 bytes 12-19 and the UDP ports after. */
	if (opts.data_size_out != want->len || memcmp(got.data + 26, want->data + 26, 12)) {
		fprintf(stderr, "prog_cost: %s: the packet was not translated as expected\n", what);
		exit(1);
	}
}

static double skb_overhead(int trivial_fd)
{
	struct frame f = mkframe(0, 0, "192.0.2.1", 1, "192.0.2.2", 2, 0, 0, 0);

	return skb_single(trivial_fd, &f, 0, 0, "trivial TC program");
}

static char dnat_dir_plain[] = "/sys/fs/bpf/xctb-dnp-XXXXXX";
static char dnat_dir_rule[] = "/sys/fs/bpf/xctb-dnr-XXXXXX";
static int dnat_dirs_made; /* of the two above, in order */

static void remove_dnat_pins(void)
{
	if (dnat_dirs_made > 0)
		remove_pins(dnat_dir_plain);
	if (dnat_dirs_made > 1)
		remove_pins(dnat_dir_rule);
}

/*
 * One datapath of the dnat cases, in its own pin directory: its rules,
 * the TC tracker the NAT programs hand translated packets to (as xct
 * attach sets it), and interface IIF watched, so that a packet that
 * arrived by it is a forwarded one at egress.
 */
#define DNAT_IIF 1 /* lo: BPF_PROG_TEST_RUN's device */

static struct xct_bpf *dnat_datapath(char *dir, const char *rules)
{
	struct xct_iface iface = {0};
	struct xct_bpf *skel;
	__u32 slot = XCT_NAT_PROG_TRACK, iif = DNAT_IIF;
	int prog;

	if (!mkdtemp(dir)) {
		perror("prog_cost: mkdtemp");
		exit(1);
	}
	dnat_dirs_made++;
	skel = load_datapath(dir, XCT_MAX_ENTRIES_DEFAULT);
	load_rules(rules);
	prog = bpf_program__fd(skel->progs.xct_tc_ingress);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.xct_nat_progs), &slot, &prog, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.xct_ifaces), &iif, &iface, BPF_ANY)) {
		fprintf(stderr, "prog_cost: cannot set up the NAT programs: %s\n", strerror(errno));
		exit(1);
	}
	return skel;
}

#define DNAT_RULES  "policy accept\ndnat to 10.0.9.2:9000 udp dport 8080\n"
#define DNAT_ROUNDS 5

/*
 * Two datapaths side by side: "plain" with no NAT rule, "dnat" with one
 * dnat rule (UDP to port 8080 becomes 10.0.9.2:9000).  Through both, an
 * established UDP flow that no rule translates (10.0.0.1:40001 ->
 * 10.0.0.2:53), each of its hooks: XDP; TC ingress, the tracker where XDP
 * cannot attach, which tail-calls xct_nat_ingress for a packet dnat may
 * apply to (where XDP attaches, XDP marks such a packet and TC ingress
 * hands it over); TC egress of the forwarded packet.
 * Then, in "dnat" only, a translated flow (10.0.0.1:40005 -> 10.0.0.2:8080
 * = 10.0.9.2:9000), both directions.  Rounds interleave the two
 * datapaths; medians.
 */
static int dnat_cost(void)
{
	enum { U_XDP, U_TC_IN, U_TC_OUT, U_CASES };
	static const char *const u_names[U_CASES] = {
		"untranslated ESTABLISHED UDP, XDP",
		"untranslated ESTABLISHED UDP, TC ingress (the tracker where XDP cannot attach)",
		"untranslated ESTABLISHED UDP, forwarded, TC egress",
	};
	enum { T_ORIG_XDP, T_ORIG_IN, T_ORIG_OUT, T_REPLY_XDP, T_REPLY_IN, T_REPLY_OUT, T_CASES };
	static const struct {
		const char *name, *method;
	} t_names[T_CASES] = {
		{"translated, original direction, XDP (tracked, handed to TC)", "single"},
		{"translated, original direction, TC ingress (tracked, destination rewritten)",
		 "single"},
		{"translated, original direction, forwarded, TC egress", "repeat"},
		{"translated, reply, XDP (handed to TC)", "single"},
		{"translated, reply, TC ingress (binding found, tracked)", "repeat"},
		{"translated, reply, forwarded, TC egress (source rewritten)", "single"},
	};
	int rounds = quick ? 1 : DNAT_ROUNDS, r, c, k, trivial_tc, trivial_xdp;
	double u[2][U_CASES][DNAT_ROUNDS], t[T_CASES][DNAT_ROUNDS], overhead, xdp_overhead;
	struct frame open = mkframe(0, 0, "10.0.0.1", 40001, "10.0.0.2", 53, 0, 0, 0);
	struct frame answer = mkframe(0, 0, "10.0.0.2", 53, "10.0.0.1", 40001, 0, 0, 0);
	struct frame t_orig = mkframe(0, 0, "10.0.0.1", 40005, "10.0.0.2", 8080, 0, 0, 0);
	struct frame t_fwd = mkframe(0, 0, "10.0.0.1", 40005, "10.0.9.2", 9000, 0, 0, 0);
	struct frame t_reply = mkframe(0, 0, "10.0.9.2", 9000, "10.0.0.1", 40005, 0, 0, 0);
	struct frame t_back = mkframe(0, 0, "10.0.0.2", 8080, "10.0.0.1", 40005, 0, 0, 0);
	struct xct_bpf *skel[2];
	__u32 rv;

	mount_bpffs();
	atexit(remove_dnat_pins);
	skel[0] = dnat_datapath(dnat_dir_plain, "policy accept\n");
	skel[1] = dnat_datapath(dnat_dir_rule, DNAT_RULES);
	trivial_tc = trivial_tc_prog();
	overhead = skb_overhead(trivial_tc);
	trivial_xdp = trivial_prog();
	xdp_overhead = single_overhead(trivial_xdp);

	for (c = 0; c < 2; c++) {
		int xdp = bpf_program__fd(skel[c]->progs.xct_xdp);

		run_ns(xdp, &open, 1, &rv);
		expect(rv, XDP_PASS, "dnat: the untranslated flow's first packet");
		run_ns(xdp, &answer, 1, &rv);
	}
	/* The translated flow: its first packet bound at TC ingress, the
	 * reply tracked through its binding. */
	run_skb_ns(bpf_program__fd(skel[1]->progs.xct_tc_ingress), &t_orig, 1, 0, &rv);
	run_skb_ns(bpf_program__fd(skel[1]->progs.xct_tc_ingress), &t_reply, 1, 0, &rv);

	expect_rewrite(bpf_program__fd(skel[1]->progs.xct_tc_ingress), &t_orig, 0, &t_fwd,
		       t_names[T_ORIG_IN].name);
	expect_rewrite(bpf_program__fd(skel[1]->progs.xct_tc_egress), &t_reply, DNAT_IIF, &t_back,
		       t_names[T_REPLY_OUT].name);

	for (r = 0; r < rounds; r++) {
		for (c = 0; c < 2; c++) {
			struct xct_bpf *s = skel[(r + c) % 2];
			int i = (r + c) % 2;

			u[i][U_XDP][r] = best_of(bpf_program__fd(s->progs.xct_xdp), &open, &rv);
			expect(rv, XDP_PASS, u_names[U_XDP]);
			u[i][U_TC_IN][r] = skb_best_of(bpf_program__fd(s->progs.xct_tc_ingress),
						       &open, 0, TC_UNSPEC, u_names[U_TC_IN]);
			u[i][U_TC_OUT][r] =
				skb_best_of(bpf_program__fd(s->progs.xct_tc_egress), &open,
					    DNAT_IIF, TC_UNSPEC, u_names[U_TC_OUT]);
		}
		t[T_ORIG_XDP][r] = xdp_single(bpf_program__fd(skel[1]->progs.xct_xdp), &t_orig,
					      xdp_overhead, t_names[T_ORIG_XDP].name);
		t[T_ORIG_IN][r] = skb_single(bpf_program__fd(skel[1]->progs.xct_tc_ingress),
					     &t_orig, 0, overhead, t_names[T_ORIG_IN].name);
		t[T_ORIG_OUT][r] =
			skb_best_of(bpf_program__fd(skel[1]->progs.xct_tc_egress), &t_fwd, DNAT_IIF,
				    TC_UNSPEC, t_names[T_ORIG_OUT].name);
		t[T_REPLY_XDP][r] = xdp_single(bpf_program__fd(skel[1]->progs.xct_xdp), &t_reply,
					       xdp_overhead, t_names[T_REPLY_XDP].name);
		t[T_REPLY_IN][r] = skb_best_of(bpf_program__fd(skel[1]->progs.xct_tc_ingress),
					       &t_reply, 0, TC_UNSPEC, t_names[T_REPLY_IN].name);
		t[T_REPLY_OUT][r] =
			skb_single(bpf_program__fd(skel[1]->progs.xct_tc_egress), &t_reply,
				   DNAT_IIF, overhead, t_names[T_REPLY_OUT].name);
	}

	printf("{\"rounds\": %d, \"single_n\": %d, \"trivial_tc_single_ns\": %.1f, "
	       "\"dnat_rules\": \"%s\",\n \"untranslated\": [",
	       rounds, quick ? 200 : 20000, overhead, "dnat to 10.0.9.2:9000 udp dport 8080");
	for (k = 0; k < U_CASES; k++) {
		printf("%s\n  {\"name\": \"%s\", \"method\": \"repeat\"", k ? "," : "", u_names[k]);
		for (c = 0; c < 2; c++) {
			printf(", \"%s_ns\": %.1f, \"%s_runs\": [", c ? "dnat" : "plain",
			       median_of(u[c][k], rounds), c ? "dnat" : "plain");
			for (r = 0; r < rounds; r++)
				printf("%s%.1f", r ? ", " : "", u[c][k][r]);
			printf("]");
		}
		printf("}");
	}
	printf("\n ],\n \"translated\": [");
	for (k = 0; k < T_CASES; k++) {
		printf("%s\n  {\"name\": \"%s\", \"method\": \"%s\", \"ns\": %.1f, \"runs\": [",
		       k ? "," : "", t_names[k].name, t_names[k].method, median_of(t[k], rounds));
		for (r = 0; r < rounds; r++)
			printf("%s%.1f", r ? ", " : "", t[k][r]);
		printf("]}");
	}
	printf("\n ]}\n");
	close(trivial_tc);
	close(trivial_xdp);
	xct_bpf__destroy(skel[1]);
	xct_bpf__destroy(skel[0]);
	return 0;
}

/* ---- New connections alone, this datapath beside variants of it ---- */

#define NF_CONFIGS_MAX 6
#define NF_ROUNDS_MAX  9

static char nf_dirs[NF_CONFIGS_MAX][32];
static int nf_ndirs;

static void remove_nf_pins(void)
{
	int i;

	for (i = 0; i < nf_ndirs; i++)
		remove_pins(nf_dirs[i]);
}

/* Empties a table: its keys are collected first, since a delete would
 * lose the iteration's place. */
static void empty_table(int fd)
{
	size_t cap = 1024, n = 0, i;
	struct xct_ct_key *keys = malloc(cap * sizeof(*keys)), *prev = NULL;

	if (!keys)
		exit(1);
	while (bpf_map_get_next_key(fd, prev, &keys[n]) == 0) {
		prev = &keys[n++];
		if (n == cap) {
			keys = realloc(keys, (cap *= 2) * sizeof(*keys));
			if (!keys)
				exit(1);
			prev = &keys[n - 1];
		}
	}
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &keys[i]);
	free(keys);
}

/*
 * The datapath of an object file, opened through this build's skeleton:
 * a variant built from the same source with other -D flags has the same
 * maps, programs and globals, so the skeleton's layout fits it.  NULL
 * path: this build's own object.
 */
static struct xct_bpf *load_variant(const char *path, const char *dir)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = dir);
	struct xct_bpf *skel = calloc(1, sizeof(*skel));
	void *bytes = NULL;
	long size = 0;
	FILE *f;

	if (!skel || xct_bpf__create_skeleton(skel))
		goto fail;
	if (path) {
		f = fopen(path, "rb");
		if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) <= 0 ||
		    fseek(f, 0, SEEK_SET) || !(bytes = malloc((size_t)size)) ||
		    fread(bytes, 1, (size_t)size, f) != (size_t)size) {
			fprintf(stderr, "prog_cost: cannot read %s\n", path);
			exit(1);
		}
		fclose(f);
		skel->skeleton->data = bytes;
		skel->skeleton->data_sz = (size_t)size;
	}
	xct_opts.pin_path = dir;
	if (bpf_object__open_skeleton(skel->skeleton, &opts) ||
	    xct_datapath_size(skel, XCT_MAX_ENTRIES_DEFAULT) || xct_bpf__load(skel))
		goto fail;
	load_rules("policy drop\n"
		   "accept ct state established,related\n"
		   "accept tcp dport 80\n"
		   "accept udp dport 53\n");
	return skel;
fail:
	fprintf(stderr, "prog_cost: cannot load the datapath %s\n", path ? path : "(built in)");
	exit(1);
}

/* An established connection's packet (as established() sends it), timed
 * with repeat; the mean. */
static double established_ns(int fd, int tcp)
{
	__u16 cp = tcp ? 40000 : 40001, sp = tcp ? 80 : 53;
	struct frame open = mkframe(0, tcp, "10.0.0.1", cp, "10.0.0.2", sp, TH_SYN, 1000, 0);
	struct frame reply =
		mkframe(0, tcp, "10.0.0.2", sp, "10.0.0.1", cp, TH_SYN | TH_ACK, 5000, 1001);
	struct frame next = mkframe(0, tcp, "10.0.0.1", cp, "10.0.0.2", sp, TH_ACK, 1001, 5001);
	__u32 rv;
	double ns;

	run_ns(fd, &open, 1, &rv);
	run_ns(fd, &reply, 1, &rv);
	run_ns(fd, &next, 1, &rv);
	ns = best_of(fd, &next, &rv);
	expect(rv, XDP_PASS, "newflow: established");
	return ns;
}

/*
 * A new accepted connection's first packet (the ruleset of cases()),
 * TCP and UDP over IPv4, through this datapath and through each variant
 * object given, in interleaved rounds, the tables emptied before each:
 * medians; and, beside them, an established connection's packet, so that
 * a change for new connections shows what it does to the others.  For
 * finding where a new connection's time goes (variants cut short at one
 * step or another) and for comparing a change with what it replaces.
 */
static int newflow_cost(int nobj, char **objs)
{
	int rounds = quick ? 1 : 7, n = quick ? 200 : 5000, configs = nobj + 1, r, c, k;
	double v[NF_CONFIGS_MAX][4][NF_ROUNDS_MAX], overhead;
	struct xct_bpf *skel[NF_CONFIGS_MAX];
	int trivial;

	if (configs > NF_CONFIGS_MAX) {
		fprintf(stderr, "prog_cost: at most %d variants\n", NF_CONFIGS_MAX - 1);
		return 2;
	}
	mount_bpffs();
	atexit(remove_nf_pins);
	for (c = 0; c < configs; c++) {
		snprintf(nf_dirs[c], sizeof(nf_dirs[c]), "/sys/fs/bpf/xctb-nf%d-XXXXXX", c);
		if (!mkdtemp(nf_dirs[c])) {
			perror("prog_cost: mkdtemp");
			return 1;
		}
		nf_ndirs++;
		skel[c] = load_variant(c ? objs[c - 1] : NULL, nf_dirs[c]);
	}
	trivial = trivial_prog();
	overhead = single_overhead(trivial);
	for (r = 0; r < rounds; r++) {
		for (k = 0; k < configs; k++) {
			/* Each round starts with another configuration. */
			c = (r + k) % configs;
			for (int tcp = 1; tcp >= 0; tcp--) {
				int fd = bpf_program__fd(skel[c]->progs.xct_xdp);

				empty_table(bpf_map__fd(skel[c]->maps.xct_ct));
				v[c][!tcp][r] = accepted_raw(fd, 0, tcp, n, 10000) - overhead;
				v[c][2 + !tcp][r] = established_ns(fd, tcp);
			}
		}
	}
	printf("{\"rounds\": %d, \"distinct_n\": %d, \"trivial_single_ns\": %.1f,\n \"cases\": [",
	       rounds, n, overhead);
	for (k = 0; k < 4; k++) {
		printf("%s\n  {\"name\": \"%s %s%s, IPv4\", \"method\": \"%s\"", k ? "," : "",
		       k < 2 ? "NEW" : "ESTABLISHED", k & 1 ? "UDP" : "TCP",
		       k < 2 ? " accepted (creates the entry)" : "", k < 2 ? "distinct" : "repeat");
		for (c = 0; c < configs; c++) {
			printf(", \"%s_runs\": [", c ? objs[c - 1] : "built-in");
			for (r = 0; r < rounds; r++)
				printf("%s%.1f", r ? ", " : "", v[c][k][r]);
			printf("], \"%s_ns\": %.1f", c ? objs[c - 1] : "built-in",
			       median_of(v[c][k], rounds));
		}
		printf("}");
	}
	printf("\n]}\n");
	close(trivial);
	for (c = configs - 1; c >= 0; c--)
		xct_bpf__destroy(skel[c]);
	return 0;
}

int main(int argc, char **argv)
{
	int i, j = 0;
	char *args[8];

	for (i = 1; i < argc && j < 8; i++) {
		if (!strcmp(argv[i], "-q"))
			quick = 1;
		else
			args[j++] = argv[i];
	}
	if (j == 0)
		return cases();
	if (j == 1 && !strcmp(args[0], "evict"))
		return evict_cost();
	if (j == 1 && !strcmp(args[0], "dnat"))
		return dnat_cost();
	if (j >= 1 && !strcmp(args[0], "newflow"))
		return newflow_cost(j - 1, args + 1);
	if (j == 2 && !strcmp(args[0], "events"))
		return events_cost(args[1]);
	if (j == 2 && !strcmp(args[0], "owner"))
		return owner_cost(args[1]);
	if (j == 4 && !strcmp(args[0], "fill"))
		return fill(args[1], (__u32)strtoul(args[2], NULL, 0),
			    (__u32)strtoul(args[3], NULL, 0));
	fprintf(stderr, "Usage: prog_cost [-q]\n       prog_cost evict [-q]\n"
			"       prog_cost dnat [-q]\n"
			"       prog_cost newflow [VARIANT.bpf.o...] [-q]\n"
			"       prog_cost events BEFORE.bpf.o [-q]\n"
			"       prog_cost owner BEFORE.bpf.o [-q]\n"
			"       prog_cost fill DIR N MAX [-q]\n");
	return 2;
}
