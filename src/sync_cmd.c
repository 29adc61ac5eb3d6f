// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct sync commit / flush / resync / stats: the HA peer's connections that
 * xctd keeps in its external cache (xctd --sync-peer, src/daemon/sync.c),
 * put into the table on failover or dropped, as conntrackd -c and -f do; a
 * resync asked of the peer (conntrackd -n); the link's counters
 * (conntrackd -s).  The work is xctd's, which holds the cache and the
 * link; this command asks for it over xctd's socket and waits for the
 * answer, so that a keepalived notify script returns once the table holds
 * the connections.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/stream.h"
#include "daemon/sync.h"
#include "daemon/wire.h"
#include "xct.h"

static const char sync_usage[] =
	"Usage: xct sync commit\n"
	"       xct sync flush\n"
	"       xct sync resync\n"
	"       xct sync purge\n"
	"       xct sync stats\n"
	"\n"
	"The connections of the HA peer that xctd --sync-peer keeps, as conntrackd\n"
	"keeps its peer's in the external cache.\n"
	"\n"
	"commit puts them into the table, each with the timeout it had left when\n"
	"the peer last spoke of it, less the time since (60 s when none is left):\n"
	"for the backup taking over, as conntrackd -c.  TCP connections are tracked\n"
	"liberally until both directions have been seen, since their windows were\n"
	"not replicated.  A connection the table has already is left as it is.\n"
	"The cache is kept.  Under xctd --sync-commit-on-receive the connections\n"
	"are in the table as they arrive, and a commit finds them there.\n"
	"\n"
	"flush empties the cache, as conntrackd -f external.\n"
	"\n"
	"resync asks the peer for its whole table (a RESYNC message), as\n"
	"conntrackd -n: what it sends back fills the cache.\n"
	"\n"
	"purge takes out of the table the connections the peer now owns, for a\n"
	"node that lost the primary's role without restarting (conntrackd -t):\n"
	"every connection of the cache, and from then until the next commit each\n"
	"one the peer sends, so that what a resync brings purges too.  Their\n"
	"entries here would be behind the connections that went on through the\n"
	"peer.  Connections the peer never spoke of (the firewall's own) stay.\n"
	"\n"
	"stats shows what xctd counts on the sync link, as conntrackd -s: messages,\n"
	"bytes and datagrams sent and received, by type; the connection messages\n"
	"filtered out (an ignored address, a TCP state); the peer's sequence gaps\n"
	"(lost) and older messages (before); messages refused as malformed, by\n"
	"cause; the connections in the cache; the commits and flushes; in FTFW\n"
	"mode, the ACKs and NACKs each way and the resend queue.\n"
	"\n"
	"All are done by xctd, through its socket (--socket); exit status 1 when\n"
	"no xctd answers or it does not sync.\n"
	"\n"
	"Examples:\n"
	"  xct sync commit\n"
	"  xct -j sync commit\n"
	"  xct sync resync\n"
	"  xct -j sync stats\n";

static void print_result(const char *what, const struct xctd_sync_result *r)
{
	if (xct_opts.json) {
		printf("{\"%s\":{\"cached\":%llu,\"committed\":%llu,\"liberal\":%llu,"
		       "\"exists\":%llu,\"nat_clash\":%llu,\"failed\":%llu,\"purged\":%llu}}\n",
		       what, (unsigned long long)r->cached, (unsigned long long)r->committed,
		       (unsigned long long)r->liberal, (unsigned long long)r->exists,
		       (unsigned long long)r->nat_clash, (unsigned long long)r->failed,
		       (unsigned long long)r->purged);
		return;
	}
	if (!strcmp(what, "resync")) {
		printf("asked the sync peer for its table (%llu connections in the cache)\n",
		       (unsigned long long)r->cached);
		return;
	}
	if (!strcmp(what, "purge")) {
		printf("purged %llu connections the peer holds from the table (%llu in the "
		       "cache); the peer's from now until a commit\n",
		       (unsigned long long)r->purged, (unsigned long long)r->cached);
		return;
	}
	if (!strcmp(what, "flush")) {
		printf("flushed %llu connections from the external cache\n",
		       (unsigned long long)r->cached);
		return;
	}
	printf("committed %llu of %llu connections (%llu TCP, relearning their windows); "
	       "%llu already in the table, %llu with a translated tuple taken, %llu refused "
	       "(table full)\n",
	       (unsigned long long)r->committed, (unsigned long long)r->cached,
	       (unsigned long long)r->liberal, (unsigned long long)r->exists,
	       (unsigned long long)r->nat_clash, (unsigned long long)r->failed);
}

#define U(x) ((unsigned long long)(x))

static void print_stats_json(const struct xctd_sync_report *r)
{
	const struct xctd_sync_stats *st = &r->st;
	int i;

	printf("{\"peer\":\"%s\",\"mode\":\"%s\",\"transport\":\"%s\",", r->peer, r->mode,
	       r->transport);
	printf("\"link\":{\"connected\":%s,\"connects\":%llu,\"connect_failed\":%llu,"
	       "\"disconnects\":%llu,\"peer_connected\":%s,\"accepts\":%llu,\"closes\":%llu,"
	       "\"dropped\":%llu,\"bad_framing\":%llu,\"queued_bytes\":%llu,"
	       "\"foreign\":%llu,\"own_datagrams\":%llu},",
	       st->link.out_up ? "true" : "false", U(st->link.connects), U(st->link.connect_failed),
	       U(st->link.disconnects), st->link.in_up ? "true" : "false", U(st->link.accepts),
	       U(st->link.closes), U(st->link.dropped), U(st->link.bad_framing),
	       U(st->link.queued_bytes), U(st->link.foreign), U(st->link.own));
	printf("\"sent\":{\"messages\":%llu,\"bytes\":%llu,\"datagrams\":%llu,\"lost\":%llu,"
	       "\"new\":%llu,\"update\":%llu,\"destroy\":%llu,\"alive\":%llu,\"resync\":%llu,\"filtered\":%llu,"
	       "\"filtered_state\":%llu},",
	       U(st->msg_snd), U(st->bytes_snd), U(st->dgram_snd), U(st->msg_snd_lost),
	       U(st->data_snd[XCT_CTSYNC_CT_NEW]), U(st->data_snd[XCT_CTSYNC_CT_UPD]),
	       U(st->data_snd[XCT_CTSYNC_CT_DEL]), U(st->alive_snd), U(st->resync_snd),
	       U(st->filtered), U(st->filtered_state));
	printf("\"received\":{\"messages\":%llu,\"bytes\":%llu,\"datagrams\":%llu,"
	       "\"new\":%llu,\"update\":%llu,\"destroy\":%llu,\"alive\":%llu,\"resync\":%llu,"
	       "\"foreign_datagrams\":%llu},",
	       U(st->msg_rcv), U(st->bytes_rcv), U(st->dgram_rcv),
	       U(st->data_rcv[XCT_CTSYNC_CT_NEW]), U(st->data_rcv[XCT_CTSYNC_CT_UPD]),
	       U(st->data_rcv[XCT_CTSYNC_CT_DEL]), U(st->alive_rcv), U(st->resync_rcv),
	       U(st->dgram_rcv_foreign));
	printf("\"sequence\":{\"lost\":%llu,\"before\":%llu},", U(st->msg_rcv_lost),
	       U(st->msg_rcv_before));
	printf("\"malformed\":{");
	for (i = XCT_CTSYNC_ERR_TRUNCATED; i < XCT_CTSYNC_ERR_COUNT; i++)
		printf("%s\"%s\":%llu", i > XCT_CTSYNC_ERR_TRUNCATED ? "," : "",
		       xctd_sync_error_name(i), U(st->msg_rcv_malformed[i]));
	printf("},\"cache\":{\"entries\":%llu,\"unkeyable\":%llu},", U(st->ext_entries),
	       U(st->ext_unkeyable));
	printf("\"commits\":{\"requests\":%llu,\"committed\":%llu,\"flushes\":%llu,"
	       "\"purges\":%llu,\"purged\":%llu},",
	       U(st->commits), U(st->committed), U(st->flushes), U(st->purges), U(st->purged));
	printf("\"commit_on_receive\":{\"inserted\":%llu,\"updated\":%llu,\"deleted\":%llu,"
	       "\"failed\":%llu},",
	       U(st->direct_inserted), U(st->direct_updated), U(st->direct_deleted),
	       U(st->direct_failed));
	printf("\"ftfw\":{\"hello_answered\":%s,\"ack_sent\":%llu,\"nack_sent\":%llu,"
	       "\"ack_received\":%llu,\"nack_received\":%llu,\"resent\":%llu,\"acked\":%llu,"
	       "\"resend_queue\":%llu,\"resend_queue_connections\":%llu,\"resend_dropped\":%llu}}\n",
	       st->hello_done ? "true" : "false", U(st->ack_snd), U(st->nack_snd), U(st->ack_rcv),
	       U(st->nack_rcv), U(st->rs_resent), U(st->rs_acked), U(st->rs_len), U(st->rs_conns),
	       U(st->rs_dropped));
}

static void print_stats(const struct xctd_sync_report *r)
{
	const struct xctd_sync_stats *st = &r->st;
	int i;

	if (xct_opts.json) {
		print_stats_json(r);
		return;
	}
	printf("sync with %s, mode %s, over %s\n", r->peer, r->mode, r->transport);
	if (!strcmp(r->transport, "tcp"))
		printf("link:      to the peer %s (%llu connects, %llu failed, %llu "
		       "disconnects), %llu bytes waiting, %llu messages dropped; from the peer "
		       "%s (%llu accepted, %llu ended, %llu cut), %llu connections from others "
		       "refused\n",
		       st->link.out_up ? "connected" : "not connected", U(st->link.connects),
		       U(st->link.connect_failed), U(st->link.disconnects),
		       U(st->link.queued_bytes), U(st->link.dropped),
		       st->link.in_up ? "connected" : "not connected", U(st->link.accepts),
		       U(st->link.closes), U(st->link.bad_framing), U(st->link.foreign));
	if (!strcmp(r->transport, "multicast"))
		printf("link:      %llu of our own datagrams ignored\n", U(st->link.own));
	printf("sent:      %llu messages (%llu new, %llu updates, %llu destroys, %llu alive, "
	       "%llu resync requests), %llu bytes in %llu datagrams, %llu lost; %llu "
	       "connection messages filtered out (%llu by TCP state)\n",
	       U(st->msg_snd), U(st->data_snd[XCT_CTSYNC_CT_NEW]),
	       U(st->data_snd[XCT_CTSYNC_CT_UPD]), U(st->data_snd[XCT_CTSYNC_CT_DEL]),
	       U(st->alive_snd), U(st->resync_snd), U(st->bytes_snd), U(st->dgram_snd),
	       U(st->msg_snd_lost), U(st->filtered), U(st->filtered_state));
	printf("received:  %llu messages (%llu new, %llu updates, %llu destroys, %llu alive, "
	       "%llu resync requests), %llu bytes in %llu datagrams, %llu datagrams from "
	       "others ignored\n",
	       U(st->msg_rcv), U(st->data_rcv[XCT_CTSYNC_CT_NEW]),
	       U(st->data_rcv[XCT_CTSYNC_CT_UPD]), U(st->data_rcv[XCT_CTSYNC_CT_DEL]),
	       U(st->alive_rcv), U(st->resync_rcv), U(st->bytes_rcv), U(st->dgram_rcv),
	       U(st->dgram_rcv_foreign));
	printf("sequence:  %llu lost, %llu before\n", U(st->msg_rcv_lost), U(st->msg_rcv_before));
	printf("malformed:");
	for (i = XCT_CTSYNC_ERR_TRUNCATED; i < XCT_CTSYNC_ERR_COUNT; i++)
		printf(" %s %llu%s", xctd_sync_error_name(i), U(st->msg_rcv_malformed[i]),
		       i + 1 < XCT_CTSYNC_ERR_COUNT ? "," : "\n");
	printf("cache:     %llu connections, %llu not keyable\n", U(st->ext_entries),
	       U(st->ext_unkeyable));
	printf("commits:   %llu (%llu connections committed), %llu flushes, %llu purges (%llu "
	       "connections purged)\n",
	       U(st->commits), U(st->committed), U(st->flushes), U(st->purges), U(st->purged));
	if (st->direct_inserted || st->direct_updated || st->direct_deleted || st->direct_failed)
		printf("on receive: %llu connections committed, %llu updated, %llu deleted, %llu "
		       "left to the cache\n",
		       U(st->direct_inserted), U(st->direct_updated), U(st->direct_deleted),
		       U(st->direct_failed));
	if (strcmp(r->mode, "FTFW"))
		return;
	printf("ftfw:      HELLO %s; %llu ACKs and %llu NACKs sent, %llu and %llu received; "
	       "%llu messages resent, %llu acknowledged, %llu in the resend queue (%llu of connections), %llu "
	       "dropped from it\n",
	       st->hello_done ? "answered" : "not answered yet", U(st->ack_snd), U(st->nack_snd),
	       U(st->ack_rcv), U(st->nack_rcv), U(st->rs_resent), U(st->rs_acked), U(st->rs_len),
	       U(st->rs_conns), U(st->rs_dropped));
}

int cmd_sync(int argc, char **argv)
{
	struct xct_stream_paths paths;
	struct xctd_sync_report rep;
	struct xctd_sync_result r;
	__u32 flags;

	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		fputs(sync_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? XCT_EXIT_USAGE : XCT_EXIT_OK;
	}
	if (!strcmp(argv[1], "commit"))
		flags = XCTD_HELLO_SYNC_COMMIT;
	else if (!strcmp(argv[1], "flush"))
		flags = XCTD_HELLO_SYNC_FLUSH;
	else if (!strcmp(argv[1], "resync"))
		flags = XCTD_HELLO_SYNC_RESYNC;
	else if (!strcmp(argv[1], "purge"))
		flags = XCTD_HELLO_SYNC_PURGE;
	else if (!strcmp(argv[1], "stats"))
		flags = XCTD_HELLO_SYNC_STATS;
	else
		return xct_usage_error(
			"sync: unknown command '%s' (commit, flush, resync, purge, stats)",
			argv[1]);
	if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
		fputs(sync_usage, stdout);
		return XCT_EXIT_OK;
	}
	if (argc > 2)
		return xct_usage_error("sync %s takes no arguments ('%s')", argv[1], argv[2]);
	if (xct_require_root())
		return XCT_EXIT_RUNTIME;
	if (flags == XCTD_HELLO_SYNC_STATS) {
		if (xctd_sync_request(xct_cli_stream_paths(&paths), flags, &rep, sizeof(rep)))
			return XCT_EXIT_RUNTIME;
		print_stats(&rep);
		return XCT_EXIT_OK;
	}
	if (xctd_sync_request(xct_cli_stream_paths(&paths), flags, &r, sizeof(r)))
		return XCT_EXIT_RUNTIME;
	print_result(argv[1], &r);
	return XCT_EXIT_OK;
}
