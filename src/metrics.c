// SPDX-License-Identifier: GPL-2.0-only
/*
 * The metrics: every counter of the datapath, summed over the CPUs, and
 * gauges of the table, the rules, the NAT bindings and the GC, named as
 * Prometheus' conventions ask (an xct_ prefix, base units, _total on
 * counters) and as node_exporter's conntrack collector and Cilium's agent
 * name theirs, so that dashboards carry over.  Read from the pinned maps
 * at each call: the datapath keeps no metrics state of its own.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "daemon/sync.h"
#include "metrics.h"
#include "rules/install.h"
#include "table.h"
#include "xct.h"
#include "xct/nat.h"
#include "xct/owner.h"
#include "xct/policy.h"

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const char *name, const char *labels, double v)
{
	fprintf(f, "%s%s%s%s %.17g\n", name, labels ? "{" : "", labels ? labels : "",
		labels ? "}" : "", v);
}

static void one(FILE *f, const char *name, const char *type, const char *help, double v)
{
	family(f, name, type, help);
	sample(f, name, NULL, v);
}

/* A counter slot and its metric. */
struct stat_metric {
	int slot;
	const char *name, *help;
};

/* The counters conntrack -S shows, and xct's table-full kinds: as
 * node_nf_conntrack_stat_*, but typed as the counters they are. */
static const struct stat_metric ct_stats[] = {
	{XCT_S_FOUND, "found", "Packets of connections found in the table"},
	{XCT_S_INVALID, "invalid", "Packets that could not be tracked (INVALID)"},
	{XCT_S_IGNORE, "ignore", "Packets not tracked on purpose"},
	{XCT_S_INSERT, "insert", "Connections inserted"},
	{XCT_S_INSERT_FAILED, "insert_failed", "Connections that could not be inserted"},
	{XCT_S_DROP, "drop", "Packets dropped because the table was full"},
	{XCT_S_EARLY_DROP, "early_drop", "Entries evicted to make room in a full table"},
	{XCT_S_ERROR, "error", "Packets with an error the tracker saw"},
	{XCT_S_SEARCH_RESTART, "search_restart", "Lookups restarted"},
	{XCT_S_CLASH_RESOLVE, "clash_resolve", "Insert races resolved"},
	{XCT_S_CHAINTOOLONG, "chaintoolong", "Inserts refused for a too long chain"},
	{XCT_S_EARLY_DROP_UNREPLIED, "early_drop_unreplied",
	 "Evictions of entries that never saw a reply"},
	{XCT_S_EARLY_DROP_REPLIED, "early_drop_replied",
	 "Evictions of unassured entries that saw a reply"},
};

static const struct stat_metric other_stats[] = {
	{XCT_S_PACKETS, "xct_datapath_packets_total", "Packets the datapath looked at"},
	{XCT_S_RELATED, "xct_conntrack_related_total", "Packets RELATED to a tracked connection"},
	{XCT_S_UNTRACKED, "xct_conntrack_untracked_total", "Packets left untracked"},
	{XCT_S_EXPIRED, "xct_conntrack_expired_total", "Entries removed after their timeout"},
	{XCT_S_GC_RUNS, "xct_conntrack_gc_runs_total", "Sweeps of the garbage collector"},
	{XCT_S_REJECT_ERROR, "xct_reject_errors_total", "Reject answers that could not be sent"},
	{XCT_S_LOG_SAMPLED_OUT, "xct_log_sampled_out_total",
	 "Packets of log rules left out by the rate of log events"},
	{XCT_S_NAT_BOUND, "xct_nat_bound_total", "Connections given a NAT translation"},
};

#define XCT_REASON_NAME(name, str, why) str,
static const char *const reason_names[] = {XCT_REASONS(XCT_REASON_NAME)};
#undef XCT_REASON_NAME

/* A rule's action; "return" and "continue" only for a rule's, never a packet's. */
static const char *const verdict_names[] = {"accept", "drop",	"reject",
					    "notrack", "return", "continue"};

static const char *verdict_name(__u8 v)
{
	return v < sizeof(verdict_names) / sizeof(verdict_names[0]) ? verdict_names[v] : "other";
}

static int count_one(const struct xct_ct_key *key, const struct xct_ct_entry *e, void *ctx)
{
	(*(unsigned long *)ctx)++;
	return 0;
}

static void write_counters(FILE *f, const struct xct_table *t)
{
	char labels[96];
	size_t i;

	for (i = 0; i < sizeof(ct_stats) / sizeof(ct_stats[0]); i++) {
		char name[96];

		snprintf(name, sizeof(name), "xct_conntrack_stat_%s_total", ct_stats[i].name);
		one(f, name, "counter", ct_stats[i].help,
		    (double)xct_counter_total(t, (__u32)ct_stats[i].slot));
	}
	for (i = 0; i < sizeof(other_stats) / sizeof(other_stats[0]); i++)
		one(f, other_stats[i].name, "counter", other_stats[i].help,
		    (double)xct_counter_total(t, (__u32)other_stats[i].slot));

	family(f, "xct_packets_total", "counter",
	       "Packets by the reason they were, or were not, tracked (xct ct stats --reasons)");
	for (i = 0; i < XCT_R_COUNT; i++) {
		snprintf(labels, sizeof(labels), "reason=\"%s\"", reason_names[i]);
		sample(f, "xct_packets_total", labels,
		       (double)xct_counter_total(t, XCT_REASON_SLOT((__u32)i)));
	}
	family(f, "xct_policy_packets_total", "counter",
	       "Packets that the rules or the policy dropped or rejected");
	sample(f, "xct_policy_packets_total", "verdict=\"drop\"",
	       (double)xct_counter_total(t, XCT_S_POLICY_DROP));
	sample(f, "xct_policy_packets_total", "verdict=\"reject\"",
	       (double)xct_counter_total(t, XCT_S_POLICY_REJECT));
	family(f, "xct_drops_total", "counter",
	       "Packets the rules or the policy dropped, by the reason the tracker gave them");
	for (i = 0; i < XCT_R_COUNT; i++) {
		snprintf(labels, sizeof(labels), "reason=\"%s\"", reason_names[i]);
		sample(f, "xct_drops_total", labels,
		       (double)xct_counter_total(t, XCT_DROP_REASON_SLOT((__u32)i)));
	}

	family(f, "xct_events_total", "counter", "Events the datapath queued, by stream");
	sample(f, "xct_events_total", "stream=\"ct_events\"",
	       (double)xct_counter_total(t, XCT_S_CT_EVENTS));
	sample(f, "xct_events_total", "stream=\"events\"",
	       (double)xct_counter_total(t, XCT_S_LOG_EVENTS));
	family(f, "xct_events_lost_total", "counter",
	       "Events the datapath found no room for in their ring, by stream");
	sample(f, "xct_events_lost_total", "stream=\"ct_events\"",
	       (double)xct_counter_total(t, XCT_S_CT_EVENTS_LOST));
	sample(f, "xct_events_lost_total", "stream=\"events\"",
	       (double)xct_counter_total(t, XCT_S_EVENTS_LOST));
	sample(f, "xct_events_lost_total", "stream=\"drops\"",
	       (double)xct_counter_total(t, XCT_S_DROP_EVENTS_LOST));
}

/* What the owner programs counted (xct_owner_stats, per CPU), by name;
 * nothing when the instance has no owner maps. */
static void write_owner(FILE *f, const char *pin_path)
{
	static const char *const names[XCT_OWNER_STATS_COUNT] = {
		[XCT_OWNER_S_RECORDED] = "recorded",	   [XCT_OWNER_S_FULL] = "full",
		[XCT_OWNER_S_REFUSED] = "refused",	   [XCT_OWNER_S_NO_LISTENER] = "no_listener",
		[XCT_OWNER_S_SWEPT] = "swept",
	};
	char path[4096], labels[48];
	__u32 k;
	int fd;

	snprintf(path, sizeof(path), "%s/xct_owner_stats", pin_path);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	family(f, "xct_owner_records_total", "counter",
	       "Connection owners (xct attach-cgroup): recorded, not recorded for a full "
	       "map, refused by an owner rule, accepted without a listener seen, swept "
	       "when no entry held them");
	for (k = 0; k < XCT_OWNER_STATS_COUNT; k++) {
		__u64 sum;

		if (xct_percpu_sum(fd, k, &sum, 1))
			continue;
		snprintf(labels, sizeof(labels), "event=\"%s\"", names[k]);
		sample(f, "xct_owner_records_total", labels, (double)sum);
	}
	close(fd);
}

/* The policy maps under the pin path given as ctx. */
static int policy_fd(const char *name, void *ctx)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", (const char *)ctx, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		xct_err("cannot open %s: %s", path, strerror(errno));
	return fd < 0 ? -errno : fd;
}

static int count_elem(const struct xct_prefix *p, void *ctx)
{
	(*(__u64 *)ctx)++;
	return 0;
}

/* Each rule of the running generation, the policy line first; each set's
 * size. */
static void write_rules(FILE *f, struct xct_policy_maps *m)
{
	bool loaded = m->ctl_mem->loaded;
	__u32 gen = m->ctl_mem->active_gen & 1, n = loaded ? m->ctl_mem->gen[gen].n_rules : 0, i;
	char labels[96];

	one(f, "xct_rules", "gauge", "Rules of the running ruleset (0: none loaded)", n);
	if (loaded) {
		family(f, "xct_rule_packets_total", "counter",
		       "Packets each rule decided, by its line and action (the policy's line too)");
		for (int pass = 0; pass < 2; pass++) {
			const char *name = pass ? "xct_rule_bytes_total" : "xct_rule_packets_total";

			if (pass)
				family(f, name, "counter",
				       "Bytes of the packets each rule decided");
			for (i = 0; i <= n; i++) {
				__u32 key =
					gen * XCT_RULES_MAX + (i == 0 ? XCT_RULES_MAX - 1 : i - 1);
				struct xct_rule_rec rec;
				__u64 sum[2]; /* struct xct_rule_stats: packets, bytes */

				if (bpf_map_lookup_elem(m->rules, &key, &rec) ||
				    xct_percpu_sum(m->rule_stats, key, sum, 2))
					continue;
				snprintf(labels, sizeof(labels), "line=\"%u\",action=\"%s\"",
					 rec.line, i == 0 ? "policy" : verdict_name(rec.action));
				sample(f, name, labels, (double)sum[pass]);
			}
		}
	}
	family(f, "xct_set_elements", "gauge", "Elements in each set of the running ruleset");
	for (i = 0; loaded && i < XCT_SETS_MAX; i++) {
		__u32 k = gen * XCT_SETS_MAX + i;
		struct xct_set_info info;
		__u64 elems = 0;

		if (bpf_map_lookup_elem(m->set_info, &k, &info) || !info.id)
			break;
		if (xct_policy_set_walk(m, &info, count_elem, &elems))
			continue;
		info.name[sizeof(info.name) - 1] = '\0';
		snprintf(labels, sizeof(labels), "set=\"%s\"", info.name);
		sample(f, "xct_set_elements", labels, (double)elems);
	}
}

struct nat_rule_use {
	__u32 line;
	double capacity; /* translations one protocol can have at once */
	__u64 used[3];	 /* bindings now, by TCP, UDP, ICMP and the rest */
};

static int proto_slot(__u8 proto)
{
	return proto == XCT_IPPROTO_TCP ? 0 : proto == XCT_IPPROTO_UDP ? 1 : 2;
}

/* The bindings, and how much of each source-NAT rule's room for
 * translated tuples they take. */
static void write_nat(FILE *f, struct xct_policy_maps *m, const struct xct_table *t,
		      double *pressure)
{
	struct nat_rule_use use[XCT_NAT_RULES_MAX];
	__u32 len, zero = 0, gen = m->ctl_mem->active_gen & 1, i, nuse = 0;
	__u64 snat = 0, dnat = 0, limit = 0;
	struct bpf_map_info info = {};
	struct xct_nat_ctl ctl = {};
	struct xct_ct_key key, *prev = NULL;
	struct xct_nat_binding b;
	char labels[64];

	if (!bpf_map_lookup_elem(m->nat_ctl, &zero, &ctl)) {
		for (i = 0; i < ctl.n_rules[gen] && i < XCT_NAT_RULES_MAX; i++) {
			__u32 k = gen * XCT_NAT_RULES_MAX + i;
			struct xct_nat_rule r;
			__u16 lo, hi;
			double addrs = 1;

			if (bpf_map_lookup_elem(m->nat_rules, &k, &r) || r.kind == XCT_NAT_DNAT)
				continue;
			xct_nat_port_range(&r, r.family, XCT_IPPROTO_TCP, 1024, &lo, &hi);
			if (r.kind == XCT_NAT_SNAT && r.family != XCT_AF_INET6 &&
			    r.to_hi.v4 != r.to_lo.v4)
				addrs = (double)(__builtin_bswap32(r.to_hi.v4) -
						 __builtin_bswap32(r.to_lo.v4)) +
					1;
			use[nuse] = (struct nat_rule_use){
				.line = r.line, .capacity = addrs * ((double)hi - lo + 1)};
			nuse++;
		}
	}
	len = sizeof(info);
	if (t->nat_fd >= 0) {
		if (!bpf_obj_get_info_by_fd(t->nat_fd, &info, &len))
			limit = info.max_entries;
		while (!bpf_map_get_next_key(t->nat_fd, prev, &key)) {
			prev = &key;
			if (bpf_map_lookup_elem(t->nat_fd, &key, &b))
				continue;
			if (b.manip == XCT_CT_DST_NAT) {
				dnat++;
				continue;
			}
			snat++;
			for (i = 0; i < nuse; i++)
				if (use[i].line == b.line)
					use[i].used[proto_slot(key.proto)]++;
		}
	}
	family(f, "xct_nat_bindings", "gauge", "Connections translated now, by kind");
	sample(f, "xct_nat_bindings", "manip=\"snat\"", (double)snat);
	sample(f, "xct_nat_bindings", "manip=\"dnat\"", (double)dnat);
	one(f, "xct_nat_bindings_limit", "gauge", "Translations the binding map holds at most",
	    (double)limit);
	family(f, "xct_nat_port_range_pressure", "gauge",
	       "Share of a source NAT rule's translated ports in use, for its busiest protocol "
	       "(1: exhausted)");
	for (i = 0; i < nuse; i++) {
		__u64 busiest = use[i].used[0];

		busiest = use[i].used[1] > busiest ? use[i].used[1] : busiest;
		busiest = use[i].used[2] > busiest ? use[i].used[2] : busiest;
		snprintf(labels, sizeof(labels), "line=\"%u\"", use[i].line);
		sample(f, "xct_nat_port_range_pressure", labels,
		       use[i].capacity > 0 ? (double)busiest / use[i].capacity : 0);
	}
	*pressure = limit ? (double)(snat + dnat) / (double)limit : 0;
}

static void write_daemon(FILE *f, const struct xctd_stats *d)
{
	const struct xctd_stream_stats *st = d->stream;
	char labels[64];
	int k;

	family(f, "xct_daemon_readers", "gauge", "Readers following each stream through xctd");
	for (k = 0; k < XCT_STREAM_KINDS; k++) {
		snprintf(labels, sizeof(labels), "stream=\"%s\"", xct_stream_info(k)->name);
		sample(f, "xct_daemon_readers", labels, st[k].readers);
	}
	family(f, "xct_daemon_records_total", "counter",
	       "Records xctd passed on to its readers (one per reader)");
	for (k = 0; k < XCT_STREAM_KINDS; k++) {
		snprintf(labels, sizeof(labels), "stream=\"%s\"", xct_stream_info(k)->name);
		sample(f, "xct_daemon_records_total", labels, (double)st[k].delivered);
	}
	family(f, "xct_daemon_reader_lost_total", "counter",
	       "Records xctd dropped for readers too slow to take them (they are told)");
	for (k = 0; k < XCT_STREAM_KINDS; k++) {
		snprintf(labels, sizeof(labels), "stream=\"%s\"", xct_stream_info(k)->name);
		sample(f, "xct_daemon_reader_lost_total", labels, (double)st[k].dropped);
	}
	if (!d->ipfix)
		return;
	one(f, "xct_ipfix_records_total", "counter",
	    "IPFIX data records xctd handed to the socket for the collector",
	    (double)d->ipfix_records);
	one(f, "xct_ipfix_messages_total", "counter",
	    "IPFIX messages xctd sent, templates' included", (double)d->ipfix_messages);
	one(f, "xct_ipfix_send_errors_total", "counter", "IPFIX messages the socket refused",
	    (double)d->ipfix_send_errors);
	one(f, "xct_ipfix_lost_records_total", "counter",
	    "IPFIX data records in the messages the socket refused", (double)d->ipfix_lost);
}

/* A counter sent and received, as one family with a direction label. */
static void both_ways(FILE *f, const char *name, const char *help, __u64 snd, __u64 rcv)
{
	family(f, name, "counter", help);
	sample(f, name, "direction=\"sent\"", (double)snd);
	sample(f, name, "direction=\"received\"", (double)rcv);
}

/* The sync link's counters, as xct sync stats shows them. */
static void write_sync(FILE *f, const struct xctd_sync_report *r)
{
	static const char *const types[] = {"new", "update", "destroy"};
	const struct xctd_sync_stats *st = &r->st;
	char labels[96];
	int i;

	both_ways(f, "xct_sync_messages_total", "Sync messages, data and control", st->msg_snd,
		  st->msg_rcv);
	both_ways(f, "xct_sync_bytes_total", "Bytes of the sync datagrams", st->bytes_snd,
		  st->bytes_rcv);
	both_ways(f, "xct_sync_datagrams_total", "Sync datagrams", st->dgram_snd, st->dgram_rcv);
	family(f, "xct_sync_data_messages_total", "counter",
	       "Connection messages (CT_NEW, CT_UPD, CT_DEL) by type");
	for (i = 0; i < 3; i++) {
		snprintf(labels, sizeof(labels), "direction=\"sent\",type=\"%s\"", types[i]);
		sample(f, "xct_sync_data_messages_total", labels, (double)st->data_snd[i]);
		snprintf(labels, sizeof(labels), "direction=\"received\",type=\"%s\"", types[i]);
		sample(f, "xct_sync_data_messages_total", labels, (double)st->data_rcv[i]);
	}
	both_ways(f, "xct_sync_alive_total", "Keepalive messages", st->alive_snd, st->alive_rcv);
	both_ways(f, "xct_sync_resync_requests_total",
		  "Requests for the whole table (sent: ours; received: the peer's)", st->resync_snd,
		  st->resync_rcv);
	one(f, "xct_sync_send_lost_total", "counter",
	    "Messages in datagrams the socket refused to send", (double)st->msg_snd_lost);
	one(f, "xct_sync_sequence_lost_total", "counter",
	    "Sequence numbers the peer's messages skipped", (double)st->msg_rcv_lost);
	one(f, "xct_sync_sequence_before_total", "counter",
	    "Messages of the peer older than the last one", (double)st->msg_rcv_before);
	family(f, "xct_sync_malformed_total", "counter",
	       "Messages of the peer refused, by cause (their datagram's rest is dropped)");
	for (i = XCT_CTSYNC_ERR_TRUNCATED; i < XCT_CTSYNC_ERR_COUNT; i++) {
		snprintf(labels, sizeof(labels), "cause=\"%s\"", xctd_sync_error_name(i));
		sample(f, "xct_sync_malformed_total", labels, (double)st->msg_rcv_malformed[i]);
	}
	one(f, "xct_sync_foreign_datagrams_total", "counter",
	    "Datagrams on the sync socket from another address than the peer's, ignored",
	    (double)st->dgram_rcv_foreign);
	one(f, "xct_sync_cache_entries", "gauge", "Connections of the peer in the external cache",
	    (double)st->ext_entries);
	one(f, "xct_sync_commits_total", "counter",
	    "Commits of the external cache (xct sync commit)", (double)st->commits);
	one(f, "xct_sync_committed_entries_total", "counter",
	    "Connections the commits put into the table", (double)st->committed);
	one(f, "xct_sync_received_committed_total", "counter",
	    "The peer's connections put into the table as they arrived (commit on receive)",
	    (double)st->direct_inserted);
	one(f, "xct_sync_received_deleted_total", "counter",
	    "Connections the peer's DESTROYs took out of the table (commit on receive)",
	    (double)st->direct_deleted);
	one(f, "xct_sync_flushes_total", "counter",
	    "Flushes of the external cache (xct sync flush)", (double)st->flushes);
	both_ways(f, "xct_sync_ack_total", "FTFW acknowledgements (sent: of the peer's messages)",
		  st->ack_snd, st->ack_rcv);
	both_ways(f, "xct_sync_nack_total", "FTFW requests to send a range again", st->nack_snd,
		  st->nack_rcv);
	one(f, "xct_sync_filtered_total", "counter",
	    "Connection messages not sent: an ignored address, or a TCP state not accepted",
	    (double)st->filtered);
	one(f, "xct_sync_filtered_state_total", "counter",
	    "Connection messages not sent: a TCP state --sync-state-accept does not name",
	    (double)st->filtered_state);
	one(f, "xct_sync_resent_total", "counter", "Messages sent again after the peer's NACK",
	    (double)st->rs_resent);
	one(f, "xct_sync_resend_queue_messages", "gauge",
	    "Messages sent and not acknowledged by the peer yet", (double)st->rs_len);
	one(f, "xct_sync_resend_dropped_total", "counter",
	    "Messages pushed off a full resend queue before the peer acknowledged them",
	    (double)st->rs_dropped);
	if (!strcmp(r->transport, "tcp")) {
		one(f, "xct_sync_tcp_connected", "gauge",
		    "1 while xctd's TCP connection to the sync peer is up",
		    (double)st->link.out_up);
		one(f, "xct_sync_tcp_peer_connected", "gauge",
		    "1 while the sync peer's TCP connection to xctd is up", (double)st->link.in_up);
		one(f, "xct_sync_tcp_connects_total", "counter",
		    "TCP connections to the sync peer made", (double)st->link.connects);
		one(f, "xct_sync_tcp_connect_failures_total", "counter",
		    "TCP connections to the sync peer refused or timed out",
		    (double)st->link.connect_failed);
		one(f, "xct_sync_tcp_disconnects_total", "counter",
		    "TCP connections to the sync peer lost", (double)st->link.disconnects);
		one(f, "xct_sync_tcp_accepts_total", "counter",
		    "TCP connections of the sync peer accepted", (double)st->link.accepts);
		one(f, "xct_sync_tcp_closes_total", "counter",
		    "TCP connections of the sync peer ended", (double)st->link.closes);
		one(f, "xct_sync_tcp_dropped_total", "counter",
		    "Messages a broken TCP connection cut, or with no room to wait for one",
		    (double)st->link.dropped);
		one(f, "xct_sync_tcp_queued_bytes", "gauge",
		    "Bytes waiting for the TCP connection to the peer",
		    (double)st->link.queued_bytes);
	}
	if (!strcmp(r->transport, "multicast"))
		one(f, "xct_sync_own_datagrams_total", "counter",
		    "Multicast datagrams of our own, ignored", (double)st->link.own);
}

int xct_metrics_write(FILE *f, const char *pin_path, const struct xctd_stats *st)
{
	struct xct_table t;
	struct xct_gc gc = {};
	unsigned long live = 0;
	__u64 now = xct_now_ns();
	double nat_pressure = 0;
	struct xct_policy_maps m;
	__u32 zero = 0;
	int err;

	err = xct_table_open_at(&t, pin_path, 0);
	if (err)
		return err;
	err = xct_table_walk(&t, now, count_one, &live);
	if (err) {
		xct_table_close(&t);
		return err;
	}
	family(f, "xct_build_info", "gauge", "The xct that serves these metrics");
	sample(f, "xct_build_info", "version=\"" XCT_VERSION "\"", 1);
	one(f, "xct_conntrack_entries", "gauge", "Connections in the table (xct ct count)",
	    (double)live);
	one(f, "xct_conntrack_entries_limit", "gauge", "Connections the table holds at most",
	    t.max_entries);
	write_counters(f, &t);
	write_owner(f, pin_path);

	bpf_map_lookup_elem(t.gc_fd, &zero, &gc);
	one(f, "xct_conntrack_gc_interval_seconds", "gauge",
	    "Time between sweeps of the garbage collector (it adapts)",
	    (double)gc.interval_ns / 1e9);
	one(f, "xct_conntrack_gc_last_sweep_entries", "gauge", "Entries the last sweep looked at",
	    (double)gc.last_seen);
	one(f, "xct_conntrack_gc_last_sweep_removed_entries", "gauge",
	    "Entries the last sweep removed", (double)gc.last_deleted);
	one(f, "xct_conntrack_gc_last_sweep_duration_seconds", "gauge",
	    "How long the last sweep of the garbage collector took",
	    (double)gc.last_duration_ns / 1e9);
	one(f, "xct_conntrack_gc_duration_seconds_total", "counter",
	    "How long the sweeps of the garbage collector took, summed",
	    (double)gc.duration_ns / 1e9);
	if (gc.last_run_ns && gc.last_run_ns <= now)
		one(f, "xct_conntrack_gc_last_sweep_age_seconds", "gauge",
		    "Time since the last sweep", (double)(now - gc.last_run_ns) / 1e9);

	if (!xct_policy_open_fds(&m, policy_fd, (void *)pin_path)) {
		write_rules(f, &m);
		write_nat(f, &m, &t, &nat_pressure);
		xct_policy_close(&m);
	}

	family(f, "xct_bpf_map_pressure", "gauge",
	       "How full each map is: entries in use over its size (1: full)");
	sample(f, "xct_bpf_map_pressure", "map_name=\"xct_ct\"",
	       t.max_entries ? (double)live / t.max_entries : 0);
	sample(f, "xct_bpf_map_pressure", "map_name=\"xct_nat\"", nat_pressure);
	if (st)
		write_daemon(f, st);
	if (st && st->sync)
		write_sync(f, st->sync);
	xct_table_close(&t);
	return 0;
}

static const char metrics_usage[] =
	"Usage: xct metrics\n"
	"\n"
	"Prints every metric of the running xct in Prometheus' text exposition\n"
	"format: the table's entries and limit, every counter of 'xct ct stats'\n"
	"(summed over the CPUs), packets by reason, rule counters by line, NAT\n"
	"bindings and port-range pressure, the GC's last sweep, event losses and\n"
	"map pressure.  For node_exporter's textfile collector; xctd serves the\n"
	"same over HTTP (xctd --metrics-listen).  See docs/OPERATIONS.md.\n"
	"\n"
	"Examples:\n"
	"  xct metrics\n"
	"  xct metrics > /var/lib/prometheus/node-exporter/xct.prom.$$ &&\n"
	"    mv /var/lib/prometheus/node-exporter/xct.prom.$$ "
	"/var/lib/prometheus/node-exporter/xct.prom\n";

int cmd_metrics(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(metrics_usage, stdout);
		return XCT_EXIT_OK;
	}
	if (argc > 1)
		return xct_usage_error("'metrics' takes no arguments ('%s')", argv[1]);
	if (xct_require_root() || xct_prepare_pin_path(xct_opts.pin_path, false))
		return XCT_EXIT_RUNTIME;
	if (xct_metrics_write(stdout, xct_opts.pin_path, NULL))
		return XCT_EXIT_RUNTIME;
	return fflush(stdout) ? XCT_EXIT_RUNTIME : XCT_EXIT_OK;
}
