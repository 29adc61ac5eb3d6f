// SPDX-License-Identifier: GPL-2.0-only
/*
 * How many records a second the IPFIX exporter (src/export/) sustains, on
 * a synthetic stream of connection events, without the datapath: the
 * encoder and the UDP socket alone, to a receiver on 127.0.0.1 that a
 * second thread drains (the collector's side of the loopback).  Prints
 * JSON for bench/report.py.
 *
 *   ipfix_rate [-q]     -q: a short run, for the smoke test
 *
 * The stream is what a busy NAT router ends: of every 4 connections, 2
 * TCP and 1 UDP over IPv4 untranslated (one flow record each) and 1
 * masqueraded TCP (a flow record and a NAT delete), so 5 records per 4
 * events.  The exporter is ticked every 256 events, as the events reader
 * ticks it after each wait.  Each message size is run in several
 * interleaved rounds, the median kept; "lost" counts the messages the
 * socket refused and those the receiver never got.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "export/exporter.h"
#include "xct/nat.h"
#include "xct/tuple.h"
#include "xct.h"

#define ROUNDS 5

struct receiver {
	int fd;
	volatile int stop;
	unsigned long long msgs, bytes;
};

static void *drain(void *arg)
{
	struct receiver *r = arg;
	char buf[65536];
	ssize_t n;

	while (!r->stop) {
		n = recv(r->fd, buf, sizeof(buf), 0);
		if (n > 0) {
			r->msgs++;
			r->bytes += (unsigned long long)n;
		}
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The i-th event of the stream. */
static void make_event(unsigned long i, struct xct_ct_event *ev)
{
	struct xct_tuple t = {.family = XCT_AF_INET};
	unsigned int kind = i % 4;

	memset(ev, 0, sizeof(*ev));
	t.proto = kind == 2 ? XCT_IPPROTO_UDP : XCT_IPPROTO_TCP;
	t.src.v4 = htonl(0x0a000000 | (unsigned int)(i >> 16 & 0xffff) << 8 | 2);
	t.dst.v4 = htonl(0xc6336400 | (unsigned int)(i & 0xff));
	t.sport = htons((__u16)(1024 + (i & 0x7fff)));
	t.dport = htons(kind == 2 ? 53 : 443);
	xct_key_from_tuple(&t, &ev->key, &ev->orig_side);
	ev->type = XCT_CTE_DESTROY;
	ev->end = XCT_CTE_END_EXPIRED;
	ev->state = t.proto == XCT_IPPROTO_TCP ? XCT_TCP_TIME_WAIT : 0;
	ev->first_seen_ns = 1000000000ULL * (i % 1000);
	ev->last_seen_ns = ev->first_seen_ns + 500000000ULL;
	ev->time_ns = ev->last_seen_ns + 120000000000ULL;
	ev->packets[0] = 10 + i % 7;
	ev->packets[1] = 8 + i % 5;
	ev->bytes[0] = ev->packets[0] * 600;
	ev->bytes[1] = ev->packets[1] * 1200;
	if (kind == 3) {
		ev->nat_manip = XCT_CT_SRC_NAT;
		ev->nat_src_addr.v4 = htonl(0xcb007101);
		ev->nat_src_port = htons((__u16)(20000 + (i & 0x3fff)));
	}
}

struct result {
	double records_per_s, events_per_s;
	unsigned long long records, messages, lost;
};

static int run(size_t mtu, unsigned long events, const char *port, struct receiver *rcv,
	       struct result *res)
{
	struct xct_ipfix_exporter_cfg cfg = {.host = "127.0.0.1",
					     .port = port,
					     .domain = 1,
					     .template_refresh_s = 60,
					     .mtu = mtu};
	struct xct_ipfix_exporter x;
	struct xct_ct_event ev;
	unsigned long long got0 = rcv->msgs;
	unsigned long i;
	double t0, t1;
	int n;

	if (xct_ipfix_exporter_open(&x, &cfg))
		return -1;
	t0 = now_s();
	for (i = 0; i < events; i++) {
		make_event(i, &ev);
		n = xct_ipfix_exporter_event(&x, &ev);
		if (n < 0) {
			fprintf(stderr, "ipfix_rate: %s\n", strerror(-n));
			xct_ipfix_exporter_close(&x);
			return -1;
		}
		if ((i & 255) == 255)
			xct_ipfix_exporter_tick(&x);
	}
	xct_ipfix_exporter_close(&x);
	t1 = now_s();
	/* What is still in flight on the loopback arrives within moments. */
	for (i = 0; i < 100 && rcv->msgs - got0 < x.stats.messages; i++)
		usleep(10000);
	res->records = x.stats.records + x.stats.lost;
	res->messages = x.stats.messages + x.stats.send_errors;
	res->lost = x.stats.send_errors + (x.stats.messages - (rcv->msgs - got0));
	res->records_per_s = (double)res->records / (t1 - t0);
	res->events_per_s = (double)events / (t1 - t0);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const size_t mtus[] = {512, 1400};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sin);
	struct receiver rcv = {0};
	struct timeval tv = {.tv_usec = 100000};
	unsigned long events = 1000000;
	int quick = argc > 1 && !strcmp(argv[1], "-q"), bufsize = 8 << 20;
	struct result res[2][ROUNDS];
	int rounds = quick ? 1 : ROUNDS, m, r;
	pthread_t th;
	char port[8];

	if (quick)
		events = 20000;
	rcv.fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (rcv.fd < 0 || bind(rcv.fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    getsockname(rcv.fd, (struct sockaddr *)&sin, &slen)) {
		perror("ipfix_rate: receiver");
		return 1;
	}
	setsockopt(rcv.fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	setsockopt(rcv.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(port, sizeof(port), "%u", ntohs(sin.sin_port));
	if (pthread_create(&th, NULL, drain, &rcv)) {
		fprintf(stderr, "ipfix_rate: cannot start the receiver\n");
		return 1;
	}
	for (r = 0; r < rounds; r++)
		for (m = 0; m < 2; m++)
			if (run(mtus[m], events, port, &rcv, &res[m][r]))
				return 1;
	rcv.stop = 1;
	pthread_join(th, NULL);

	printf("{\"events\": %lu, \"rounds\": %d, \"records_per_event\": 1.25, \"sizes\": [",
	       events, rounds);
	for (m = 0; m < 2; m++) {
		double rps[ROUNDS];
		unsigned long long lost = 0;

		for (r = 0; r < rounds; r++) {
			rps[r] = res[m][r].records_per_s;
			lost += res[m][r].lost;
		}
		qsort(rps, (size_t)rounds, sizeof(rps[0]), cmp_double);
		printf("%s\n  {\"mtu\": %zu, \"records_per_s\": %.0f, \"runs\": [", m ? "," : "",
		       mtus[m], rps[rounds / 2]);
		for (r = 0; r < rounds; r++)
			printf("%s%.0f", r ? ", " : "", res[m][r].records_per_s);
		printf("], \"records\": %llu, \"messages\": %llu, \"lost_messages\": %llu}",
		       res[m][0].records, res[m][0].messages, lost);
	}
	printf("\n]}\n");
	return 0;
}
