// SPDX-License-Identifier: GPL-2.0-only
/*
 * The two ends of the end-to-end IPFIX benchmark (bench/ipfix_e2e.py),
 * around the real datapath, events ring and xctd between them.
 *
 *   ipfix_e2e syns IFACE N [RATE]
 *	N new TCP connections (a SYN each) run through the XDP program
 *	attached to IFACE, once each with BPF_PROG_TEST_RUN: every SYN
 *	creates an entry in the real table and a NEW event in the real
 *	ring.  At most RATE a second if given (and not 0), as fast as it
 *	can otherwise.  Prints the seconds it took.
 *
 *   ipfix_e2e sink PORT
 *	A collector that counts: receives IPFIX on 127.0.0.1:PORT, learns
 *	the templates, and counts the data records of every message and
 *	the records the sequence numbers say it never got (RFC 7011 §10.3.2:
 *	a message's sequence number counts the data records sent before
 *	it).  Each line on its standard input ends a round: it prints the
 *	round's figures as one JSON line and starts the next.
 *
 * nfcapd is the collector of the functional test; here it would be the
 * bottleneck (it writes every record to disk), so the benchmark counts
 * what arrives at the socket itself.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define FRAME_LEN (ETH_HLEN + sizeof(struct iphdr) + sizeof(struct tcphdr))

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Connection i: 10.64.0.0/10 + i : 10000 + i % 50000 -> 10.200.0.1:443,
 * so that no two of 2^22 * 50000 share a tuple. */
static void syn_frame(unsigned char *f, __u32 i)
{
	struct iphdr *ip = (struct iphdr *)(f + ETH_HLEN);
	struct tcphdr *th = (struct tcphdr *)(ip + 1);

	memset(f, 0, FRAME_LEN);
	f[12] = 0x08;
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->tot_len = htons(sizeof(*ip) + sizeof(*th));
	ip->saddr = htonl(0x0a400000 + i / 50000);
	ip->daddr = htonl(0x0ac80001);
	th->source = htons(10000 + i % 50000);
	th->dest = htons(443);
	th->seq = htonl(1000);
	th->doff = 5;
	th->syn = 1;
	th->window = htons(65535);
}

static int syns(const char *ifname, __u32 n, double rate)
{
	unsigned char frame[FRAME_LEN];
	int ifindex = (int)if_nametoindex(ifname), fd, err;
	__u32 prog_id = 0, i, refused = 0;
	double t0;

	if (!ifindex) {
		fprintf(stderr, "ipfix_e2e: no interface %s\n", ifname);
		return 1;
	}
	err = bpf_xdp_query_id(ifindex, 0, &prog_id);
	if (err || !prog_id) {
		fprintf(stderr, "ipfix_e2e: no XDP program on %s\n", ifname);
		return 1;
	}
	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0) {
		fprintf(stderr, "ipfix_e2e: program %u: %s\n", prog_id, strerror(errno));
		return 1;
	}
	t0 = now_s();
	for (i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = FRAME_LEN,
			    .repeat = 1);

		syn_frame(frame, i);
		if (bpf_prog_test_run_opts(fd, &o)) {
			fprintf(stderr, "ipfix_e2e: test run: %s\n", strerror(errno));
			return 1;
		}
		refused += o.retval != XDP_PASS;
		/* Paced in steps of 1,000, which a sleep can time. */
		if (rate > 0 && i % 1000 == 999) {
			double ahead = t0 + (i + 1) / rate - now_s();

			if (ahead > 0)
				usleep((useconds_t)(ahead * 1e6));
		}
	}
	printf("{\"syns\": %u, \"seconds\": %.4f, \"not_passed\": %u}\n", n, now_s() - t0, refused);
	close(fd);
	return 0;
}

/* ---- The counting collector ---- */

#define MAX_TEMPLATES 64

struct sink {
	struct {
		__u16 id, len;
	} tmpl[MAX_TEMPLATES];
	int ntmpl;
	__u32 domain;
	__u32 next_seq;
	int seen_seq;
	/* the round */
	unsigned long long msgs, records, missing, unknown_sets, templates;
	double first, last;
};

static int record_len(struct sink *s, __u16 id)
{
	for (int i = 0; i < s->ntmpl; i++)
		if (s->tmpl[i].id == id)
			return s->tmpl[i].len;
	return 0;
}

static void learn_template(struct sink *s, const unsigned char *p, const unsigned char *end)
{
	while (p + 4 <= end) {
		__u16 id = p[0] << 8 | p[1], count = p[2] << 8 | p[3], len = 0;
		int i;

		if (id < 256) /* padding */
			return;
		p += 4;
		for (i = 0; i < count && p + 4 <= end; i++) {
			__u16 ie = p[0] << 8 | p[1], flen = p[2] << 8 | p[3];

			len += flen; /* xct's templates have no variable-length field */
			p += ie & 0x8000 ? 8 : 4;
		}
		for (i = 0; i < s->ntmpl && s->tmpl[i].id != id; i++)
			;
		if (i == MAX_TEMPLATES)
			return;
		s->tmpl[i].id = id;
		s->tmpl[i].len = len;
		if (i == s->ntmpl)
			s->ntmpl++;
		s->templates++;
	}
}

static void on_message(struct sink *s, const unsigned char *m, ssize_t n, double t)
{
	const unsigned char *p = m + 16, *end;
	unsigned long long records = 0;
	__u32 seq;

	if (n < 16 || (m[0] << 8 | m[1]) != 10)
		return;
	end = m + ((m[2] << 8 | m[3]) < n ? (m[2] << 8 | m[3]) : n);
	seq = (__u32)m[8] << 24 | m[9] << 16 | m[10] << 8 | m[11];
	while (p + 4 <= end) {
		__u16 set = p[0] << 8 | p[1], len = p[2] << 8 | p[3];
		int rl;

		if (len < 4 || p + len > end)
			break;
		if (set == 2)
			learn_template(s, p + 4, p + len);
		else if (set >= 256 && (rl = record_len(s, set)) > 0)
			records += (len - 4) / rl;
		else if (set >= 256)
			s->unknown_sets++;
		p += len;
	}
	/* A gap before this message: records sent that never came. */
	if (s->seen_seq && seq != s->next_seq)
		s->missing += (__u32)(seq - s->next_seq);
	s->seen_seq = 1;
	s->next_seq = seq + (__u32)records;
	s->msgs++;
	if (records) {
		if (!s->records)
			s->first = t;
		s->last = t;
		s->records += records;
	}
}

static void round_end(struct sink *s)
{
	double span = s->records > 1 ? s->last - s->first : 0;

	printf("{\"messages\": %llu, \"records\": %llu, \"missing\": %llu, \"span_s\": %.6f, "
	       "\"records_per_s\": %.0f, \"templates\": %llu, \"unknown_sets\": %llu}\n",
	       s->msgs, s->records, s->missing, span, span > 0 ? s->records / span : 0.0,
	       s->templates, s->unknown_sets);
	fflush(stdout);
	s->msgs = s->records = s->missing = s->unknown_sets = s->templates = 0;
	s->first = s->last = 0;
}

static int sink(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	static unsigned char bufs[64][65536];
	struct mmsghdr mm[64];
	struct iovec iov[64];
	struct sink s = {};
	int fd, rcvbuf = 64 << 20, i;
	char line[64];

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	/* As a collector's socket is set up for bursts (nfcapd -B). */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("ipfix_e2e: sink socket");
		return 1;
	}
	for (i = 0; i < 64; i++) {
		iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
		mm[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
	}
	printf("{\"listening\": %d}\n", port);
	fflush(stdout);
	for (;;) {
		struct pollfd p[2] = {{fd, POLLIN, 0}, {0, POLLIN, 0}};

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents & POLLIN) {
			int got = recvmmsg(fd, mm, 64, MSG_DONTWAIT, NULL);
			double t = now_s();

			for (i = 0; i < got; i++)
				on_message(&s, bufs[i], mm[i].msg_len, t);
		}
		if (p[1].revents & (POLLIN | POLLHUP)) {
			if (!fgets(line, sizeof(line), stdin))
				return 0;
			round_end(&s);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "syns"))
		return syns(argv[2], (__u32)strtoul(argv[3], NULL, 0),
			    argc > 4 ? strtod(argv[4], NULL) : 0);
	if (argc == 3 && !strcmp(argv[1], "sink"))
		return sink(atoi(argv[2]));
	fprintf(stderr, "usage: ipfix_e2e syns IFACE N [RATE]\n"
			"       ipfix_e2e sink PORT\n");
	return 2;
}
