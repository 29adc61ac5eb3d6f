// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the rule count costs a packet: the compiled XDP program run with
 * BPF_PROG_TEST_RUN and `repeat` over crafted frames, with rulesets of 10,
 * 100, 1,000 and 10,000 rules installed as 'xct rules load' installs them.
 *
 * A NEW packet is measured on a SYN the policy refuses, so no entry is ever
 * created and every run walks the rules again; an ESTABLISHED one on an
 * ACK of a connection set up beforehand.  Rules are of the kind firewalls
 * accumulate: 'accept tcp dport P saddr 10.X.Y.0/24', all different, with
 * the deciding rule last.  The same rules again in user chains of up to
 * 100, each entered by a jump on its port range and starting with a
 * return: what jumps and returns cost once expanded.  Concatenations as a
 * set of tuples and as a vmap, with the time each load takes (the
 * compiler's cost).  Prints Markdown
 * tables.  With -q (the smoke run
 * of bench/run.sh) each figure is one round of 2,000 runs, not the best of
 * five rounds of 200,000.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
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
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "rules/compile.h"
#include "rules/install.h"
#include "xct.h"
#include "xct/timeouts.h" /* the skeleton names struct xct_tunables */
#include "xct.skel.h"

struct frame {
	__u8 data[128];
	__u32 len;
};

/* An Ethernet + IPv4 + TCP frame; checksums are not checked by xct. */
static struct frame tcp_frame(const char *src, __u16 sport, const char *dst, __u16 dport,
			      __u8 flags, __u32 seq, __u32 ack)
{
	struct frame f = {.len = 14 + 20 + 20};
	struct iphdr *ip = (struct iphdr *)(f.data + 14);
	struct tcphdr *tcp = (struct tcphdr *)(f.data + 34);

	memset(f.data, 0, sizeof(f.data));
	f.data[12] = 0x08;
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->tot_len = htons(40);
	ip->saddr = inet_addr(src);
	ip->daddr = inet_addr(dst);
	tcp->source = htons(sport);
	tcp->dest = htons(dport);
	tcp->seq = htonl(seq);
	tcp->ack_seq = htonl(ack);
	tcp->doff = 5;
	((__u8 *)tcp)[13] = flags;
	tcp->window = htons(65535);
	return f;
}

/* Mean ns per run of the XDP program over `repeat` runs of one frame. */
static double run_ns(struct xct_bpf *skel, const struct frame *f, __u32 repeat, __u32 *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->data, .data_size_in = f->len,
		    .repeat = repeat);

	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xct_xdp), &opts)) {
		fprintf(stderr, "test run: %s\n", strerror(errno));
		exit(1);
	}
	*retval = opts.retval;
	return opts.duration;
}

static int quick;

static double best_of(struct xct_bpf *skel, const struct frame *f, __u32 *retval)
{
	double best = 1e18;
	int i;

	for (i = 0; i < (quick ? 1 : 5); i++) {
		double ns = run_ns(skel, f, quick ? 2000 : 200000, retval);

		if (ns < best)
			best = ns;
	}
	return best;
}

/* The pinned maps go with their directory. */
static void remove_pins(const char *dir)
{
	char path[512];
	struct dirent *d;
	DIR *dh = opendir(dir);

	while (dh && (d = readdir(dh))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		unlink(path);
	}
	if (dh)
		closedir(dh);
	rmdir(dir);
}

static __u32 no_ifindex(const char *name, void *ctx)
{
	return 0;
}

/* Installs text as 'xct rules load' does; frees it. */
static int load_text(char *text)
{
	struct xct_rules_error err;
	int ret = xct_policy_load_text("bench", text, no_ifindex, NULL, &err);

	if (ret == -EINVAL) {
		fprintf(stderr, "bench rules: %u:%u: %s\n", err.loc.line, err.loc.col, err.msg);
		exit(1);
	}
	free(text);
	return ret;
}

/* A blocklist of n /30 prefixes of 100.64.0.0/10 ahead of everything. */
static int load_set(int n)
{
	size_t cap = (size_t)n * 24 + 256, len = 0;
	char *text = malloc(cap);
	int i;

	len += (size_t)snprintf(text + len, cap - len, "set big {\n");
	for (i = 0; i < n; i++) {
		__u32 a = 0x64400000u + (__u32)i * 4;

		len += (size_t)snprintf(text + len, cap - len, "%u.%u.%u.%u/30,\n", a >> 24,
					a >> 16 & 0xff, a >> 8 & 0xff, a & 0xff);
	}
	snprintf(text + len, cap - len,
		 "}\npolicy drop\ndrop saddr @big\naccept ct state established,related\n"
		 "drop tcp dport 9\n");
	return load_text(text);
}

static int load(int n_rules)
{
	size_t cap = (size_t)n_rules * 64 + 256, len = 0;
	char *text = malloc(cap);
	int i;

	len += (size_t)snprintf(text + len, cap - len,
				"policy drop\naccept ct state established,related\n");
	for (i = 0; i < n_rules - 2; i++)
		len += (size_t)snprintf(text + len, cap - len,
					"accept tcp dport %d saddr 10.%d.%d.0/24\n",
					1000 + i % 50000, i / 256 % 256, i % 256);
	snprintf(text + len, cap - len, "drop tcp dport 9\n");
	return load_text(text);
}

/*
 * Concatenations: load()'s rules as tuples, ip saddr . tcp dport, n - 3 of
 * them in one named set (vmap: 0) or in a vmap, which is n rules once
 * expanded.  Returns the load's time (parse, compile, install) in ms, or
 * a negative number.
 */
static double load_concat(int n_rules, int vmap)
{
	size_t cap = (size_t)n_rules * 48 + 512, len = 0;
	char *text = malloc(cap);
	struct timespec t0, t1;
	int i, ret;

	if (!vmap)
		len += (size_t)snprintf(text + len, cap - len,
					"set pairs {\n\ttype ipv4_addr . inet_service\n"
					"\telements = {\n");
	else
		len += (size_t)snprintf(text + len, cap - len,
					"policy drop\naccept ct state established,related\n"
					"ip saddr . tcp dport vmap {\n");
	for (i = 0; i < n_rules - 3; i++)
		len += (size_t)snprintf(text + len, cap - len, "\t10.%d.%d.1 . %d%s,\n",
					i / 256 % 256, i % 256, 1000 + i % 50000,
					vmap ? " : accept" : "");
	if (!vmap)
		snprintf(text + len, cap - len,
			 "\t}\n}\npolicy drop\naccept ct state established,related\n"
			 "accept ip saddr . tcp dport @pairs\ndrop tcp dport 9\n");
	else
		snprintf(text + len, cap - len, "}\ndrop tcp dport 9\n");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = load_text(text);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ret)
		return -1;
	return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

/*
 * load()'s rules, n in all once expanded, in chains of up to 100: chain K
 * is entered by 'jump cK tcp dport LO-HI' (its rules' ports) and starts
 * with 'return saddr 192.0.2.128/25'.
 */
static int load_chained(int n_rules)
{
	size_t cap = (size_t)n_rules * 96 + 4096, len = 0;
	int per = n_rules - 2 < 100 ? n_rules - 2 : 100, chains = (n_rules - 2) / per, c, i;
	char *text = malloc(cap);

	len += (size_t)snprintf(text + len, cap - len,
				"policy drop\naccept ct state established,related\n");
	for (c = 0; c < chains; c++)
		len += (size_t)snprintf(text + len, cap - len, "jump c%d tcp dport %d-%d\n", c,
					1000 + c * (per - 1), 1000 + (c + 1) * (per - 1) - 1);
	len += (size_t)snprintf(text + len, cap - len, "drop tcp dport 9\n");
	for (c = 0; c < chains; c++) {
		len += (size_t)snprintf(text + len, cap - len,
					"chain c%d {\nreturn saddr 192.0.2.128/25\n", c);
		for (i = c * (per - 1); i < (c + 1) * (per - 1); i++)
			len += (size_t)snprintf(text + len, cap - len,
						"accept dport %d saddr 10.%d.%d.0/24\n", 1000 + i,
						i / 256 % 256, i % 256);
		len += (size_t)snprintf(text + len, cap - len, "}\n");
	}
	return load_text(text);
}

/*
 * The same shape with the matches checked per candidate rule and the
 * interface matched by name: every rule also says 'ip ttl > 1 ip dscp !=
 * cs1', every other one 'iifname != "veth*"' (test runs arrive on lo).
 */
static int load_hdr(int n_rules)
{
	size_t cap = (size_t)n_rules * 112 + 256, len = 0;
	char *text = malloc(cap);
	int i;

	len += (size_t)snprintf(text + len, cap - len,
				"policy drop\naccept ct state established,related\n");
	for (i = 0; i < n_rules - 2; i++)
		len += (size_t)snprintf(
			text + len, cap - len,
			"accept tcp dport %d saddr 10.%d.%d.0/24 ip ttl > 1 ip dscp != "
			"cs1%s\n",
			1000 + i % 50000, i / 256 % 256, i % 256,
			i % 2 ? " iifname != \"veth*\"" : "");
	snprintf(text + len, cap - len, "drop tcp dport 9\n");
	return load_text(text);
}

int main(int argc, char **argv)
{
	static const int chained[] = {10, 1000, 10000};
	static const int counts[] = {0, 10, 100, 1000, 10000};
	static const int set_sizes[] = {10, 10000, 1000000};
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	char dir[] = "/sys/fs/bpf/xct-bench-XXXXXX";
	struct xct_bpf *skel;
	struct frame syn_refused, syn_walk, syn_est, synack, ack;
	struct statfs st;
	__u32 rv;
	size_t i;

	quick = argc > 1 && !strcmp(argv[1], "-q");
	if (statfs("/sys/fs/bpf", &st) || st.f_type != 0xcafe4a11) {
		mkdir("/sys/fs/bpf", 0755);
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL)) {
			perror("mount bpffs");
			return 1;
		}
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	opts.pin_root_path = dir;
	xct_opts.pin_path = dir;
	skel = xct_bpf__open_opts(&opts);
	if (!skel || xct_bpf__load(skel)) {
		fprintf(stderr, "cannot load the datapath\n");
		return 1;
	}

	/* Refused by the last rule, after every other one was classified
	 * out; and one whose port only the middle rule names (it is then
	 * excluded by its source prefix: the candidate check never runs). */
	syn_refused = tcp_frame("192.0.2.1", 40000, "192.0.2.2", 9, 0x02, 1000, 0);
	syn_walk = tcp_frame("192.0.2.1", 40001, "192.0.2.2", 1004, 0x02, 1000, 0);
	/* An established connection on a port every ruleset admits first. */
	syn_est = tcp_frame("10.0.0.1", 40002, "192.0.2.2", 1000, 0x02, 1000, 0);
	synack = tcp_frame("192.0.2.2", 1000, "10.0.0.1", 40002, 0x12, 5000, 1001);
	ack = tcp_frame("10.0.0.1", 40002, "192.0.2.2", 1000, 0x10, 1001, 5001);

	printf("| rules | NEW, refused by the last rule (ns) | NEW, no rule matches (ns) | "
	       "ESTABLISHED (ns) |\n|---:|---:|---:|---:|\n");
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		double a, b, c;

		if (counts[i] && load(counts[i])) {
			fprintf(stderr, "cannot install %d rules\n", counts[i]);
			return 1;
		}
		run_ns(skel, &syn_est, 1, &rv);
		run_ns(skel, &synack, 1, &rv);
		run_ns(skel, &ack, 1, &rv);
		a = best_of(skel, &syn_refused, &rv);
		if (counts[i] && rv != XDP_DROP) {
			fprintf(stderr, "the refused SYN was not dropped (%u)\n", rv);
			return 1;
		}
		b = best_of(skel, &syn_walk, &rv);
		c = best_of(skel, &ack, &rv);
		if (rv != XDP_PASS) {
			fprintf(stderr, "the established ACK was not passed (%u)\n", rv);
			return 1;
		}
		if (counts[i])
			printf("| %d | %.0f | %.0f | %.0f |\n", counts[i], a, b, c);
		else
			printf("| none loaded | %.0f | %.0f | %.0f |\n", a, b, c);
	}

	/* The same rules in chains: a SYN the chain's return sends on (to
	 * the policy), besides the three packets above. */
	printf("\nIn chains (the rules above in chains of up to 100, each entered by `jump cK "
	       "tcp dport LO-HI` and starting with `return saddr 192.0.2.128/25`; rules counted "
	       "expanded):\n\n"
	       "| rules | NEW, refused by the last rule (ns) | NEW, no rule matches (ns) | "
	       "NEW, returned by its chain (ns) | ESTABLISHED (ns) |\n|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < sizeof(chained) / sizeof(chained[0]); i++) {
		struct frame returned =
			tcp_frame("192.0.2.200", 40004, "192.0.2.2", 1004, 0x02, 1000, 0);
		double a, b, r, c;

		if (load_chained(chained[i])) {
			fprintf(stderr, "cannot install %d chained rules\n", chained[i]);
			return 1;
		}
		run_ns(skel, &syn_est, 1, &rv);
		run_ns(skel, &synack, 1, &rv);
		run_ns(skel, &ack, 1, &rv);
		a = best_of(skel, &syn_refused, &rv);
		if (rv != XDP_DROP) {
			fprintf(stderr, "the refused SYN was not dropped (%u)\n", rv);
			return 1;
		}
		b = best_of(skel, &syn_walk, &rv);
		r = best_of(skel, &returned, &rv);
		if (rv != XDP_DROP) {
			fprintf(stderr, "the returned SYN was not dropped (%u)\n", rv);
			return 1;
		}
		c = best_of(skel, &ack, &rv);
		if (rv != XDP_PASS) {
			fprintf(stderr, "the established ACK was not passed (%u)\n", rv);
			return 1;
		}
		printf("| %d | %.0f | %.0f | %.0f | %.0f |\n", chained[i], a, b, r, c);
	}

	/* The header matches: a candidate's checks, and nothing for the
	 * rest.  A fresh source port per ruleset, so the candidate SYN is
	 * NEW each time it is admitted (its entry is made once, the later
	 * runs are SYN retransmissions, judged again by the rules). */
	printf("\nWith `ip ttl`, `ip dscp` on every rule and `iifname` on every other one:\n\n"
	       "| rules | NEW, refused by the last rule (ns) | NEW, admitted by a candidate after "
	       "its header checks (ns) | ESTABLISHED (ns) |\n|---:|---:|---:|---:|\n");
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct frame cand =
			tcp_frame("10.0.5.1", (__u16)(41000 + i), "192.0.2.2", 1005, 0x02, 1000, 0);
		double a, b, c;

		if (counts[i] < 10)
			continue;
		if (load_hdr(counts[i])) {
			fprintf(stderr, "cannot install %d rules\n", counts[i]);
			return 1;
		}
		a = best_of(skel, &syn_refused, &rv);
		if (rv != XDP_DROP) {
			fprintf(stderr, "the refused SYN was not dropped (%u)\n", rv);
			return 1;
		}
		b = best_of(skel, &cand, &rv);
		if (rv != XDP_PASS) {
			fprintf(stderr, "the candidate SYN was not admitted (%u)\n", rv);
			return 1;
		}
		c = best_of(skel, &ack, &rv);
		if (rv != XDP_PASS) {
			fprintf(stderr, "the established ACK was not passed (%u)\n", rv);
			return 1;
		}
		printf("| %d | %.0f | %.0f | %.0f |\n", counts[i], a, b, c);
	}

	/* Concatenations: one hash lookup for the set, whatever it holds;
	 * a vmap is classified as the rules it expands to.  The load's time
	 * is the compiler's (and the installer's) cost. */
	printf("\nConcatenations (`accept ip saddr . tcp dport @pairs` with a tuple for each of "
	       "the rules above, or those tuples in a `vmap`, a rule each once expanded):\n\n"
	       "| rules | form | load (ms) | NEW, refused by the last rule (ns) | "
	       "NEW, admitted by a tuple (ns) | ESTABLISHED (ns) |\n"
	       "|---:|---|---:|---:|---:|---:|\n");
	for (i = 0; i < sizeof(chained) / sizeof(chained[0]); i++) {
		int vmap;

		for (vmap = 0; vmap < 2; vmap++) {
			struct frame cand = tcp_frame("10.0.5.1", (__u16)(42000 + i * 2 + vmap),
						      "192.0.2.2", 1005, 0x02, 1000, 0);
			double t = load_concat(chained[i], vmap), a, b, c;

			if (t < 0) {
				fprintf(stderr, "cannot install %d concatenated rules\n",
					chained[i]);
				return 1;
			}
			a = best_of(skel, &syn_refused, &rv);
			if (rv != XDP_DROP) {
				fprintf(stderr, "the refused SYN was not dropped (%u)\n", rv);
				return 1;
			}
			b = best_of(skel, &cand, &rv);
			if (rv != XDP_PASS) {
				fprintf(stderr, "the tuple's SYN was not admitted (%u)\n", rv);
				return 1;
			}
			c = best_of(skel, &ack, &rv);
			if (rv != XDP_PASS) {
				fprintf(stderr, "the established ACK was not passed (%u)\n", rv);
				return 1;
			}
			printf("| %d | %s | %.1f | %.0f | %.0f | %.0f |\n", chained[i],
			       vmap ? "vmap" : "set", t, a, b, c);
		}
	}

	/* The set's size: a lookup in a longest-prefix trie, whatever it
	 * holds.  The quick run stops at 10,000 prefixes. */
	printf("\nSet size (`drop saddr @big` first, /30 prefixes of 100.64.0.0/10; the SYN "
	       "is refused, by the set or by a later rule):\n\n"
	       "| prefixes in the set | NEW, source not in the set (ns) | "
	       "NEW, source in the set (ns) | ESTABLISHED (ns) |\n|---:|---:|---:|---:|\n");
	for (i = 0; i < sizeof(set_sizes) / sizeof(set_sizes[0]); i++) {
		struct frame in_set = tcp_frame("100.64.0.5", 40003, "192.0.2.2", 9, 0x02, 1000, 0);
		double a, b, c;

		if (quick && set_sizes[i] > 10000)
			break;
		if (load_set(set_sizes[i])) {
			fprintf(stderr, "cannot install a set of %d\n", set_sizes[i]);
			return 1;
		}
		a = best_of(skel, &syn_refused, &rv);
		b = best_of(skel, &in_set, &rv);
		c = best_of(skel, &ack, &rv);
		if (rv != XDP_PASS) {
			fprintf(stderr, "the established ACK was not passed (%u)\n", rv);
			return 1;
		}
		printf("| %d | %.0f | %.0f | %.0f |\n", set_sizes[i], a, b, c);
	}
	xct_bpf__destroy(skel);
	remove_pins(dir);
	return 0;
}
