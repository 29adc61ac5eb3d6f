// SPDX-License-Identifier: GPL-2.0-only
/*
 * The BPF tests' fixture: see fixture.h.  Loading the datapath takes the
 * verifier about a second per entry program, far too long to repeat for
 * each of dozens of tests; so each configuration (table size) is loaded
 * once per run, and every test starts from it reset to the state of a
 * fresh load.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>

#include "datapath_size.h"
#include "fixture.h"
#include "xct/owner.h"
#include "xct/timeouts.h"
#include "xct/policy.h"

/* ---- Fixture: the loaded datapath, in the state of a fresh load ---- */

struct datapath datapaths[MAX_DATAPATHS];

int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level > LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, args);
}

/* bpffs at /sys/fs/bpf, mounted if it is not there yet. */
int ensure_bpffs(void)
{
	struct statfs st;

	if (statfs(BPFFS_ROOT, &st) == 0 && (unsigned long)st.f_type == BPFFS_MAGIC)
		return 0;
	mkdir(BPFFS_ROOT, 0755);
	if (mount("bpf", BPFFS_ROOT, "bpf", 0, NULL) < 0)
		return -errno;
	return 0;
}

void remove_pin_dir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

void datapaths_destroy(void)
{
	int i;

	for (i = 0; i < MAX_DATAPATHS; i++) {
		xct_bpf__destroy(datapaths[i].skel);
		datapaths[i].skel = NULL;
		if (datapaths[i].pin_dir[0])
			remove_pin_dir(datapaths[i].pin_dir);
		datapaths[i].pin_dir[0] = 0;
	}
}

/*
 * Opens and loads the programs with the fake clock on, the maps pinned in a
 * new directory.  Reports a failure and returns NULL if the datapath cannot
 * be loaded (not root, no bpffs, verifier rejection...).
 */
struct xct_bpf *datapath_load(struct datapath *dp, __u32 max_entries)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	struct xct_bpf *skel;
	int err;

	libbpf_set_print(libbpf_quiet);
	if (geteuid() != 0) {
		CHECK_FAIL("BPF tests need root");
		return NULL;
	}
	err = ensure_bpffs();
	if (err) {
		CHECK_FAIL("cannot mount bpffs at %s: %s", BPFFS_ROOT, strerror(-err));
		return NULL;
	}
	/* bpffs refuses names with a dot. */
	snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s/xct-test-XXXXXX", BPFFS_ROOT);
	if (!mkdtemp(dp->pin_dir)) {
		CHECK_FAIL("cannot create a pin directory under %s: %s", BPFFS_ROOT,
			   strerror(errno));
		dp->pin_dir[0] = 0;
		return NULL;
	}
	opts.pin_root_path = dp->pin_dir;
	skel = xct_bpf__open_opts(&opts);
	if (!skel) {
		CHECK_FAIL("cannot open the BPF object: %s", strerror(errno));
		goto fail;
	}
	skel->rodata->cfg_fake_clock = 1;
	if (max_entries) {
		if (xct_datapath_size(skel, max_entries)) {
			CHECK_FAIL("cannot size xct_ct to %u entries", max_entries);
			goto fail;
		}
		/* A resized table is only driven through XDP: the TC
		 * programs would double the load time for nothing. */
		bpf_program__set_autoload(skel->progs.xct_tc_ingress, false);
		bpf_program__set_autoload(skel->progs.xct_tc_egress, false);
	}
	err = xct_bpf__load(skel);
	if (err) {
		CHECK_FAIL("cannot load the BPF object: %s", strerror(-err));
		goto fail;
	}
	dp->skel = skel;
	dp->max_entries = max_entries;
	return skel;
fail:
	xct_bpf__destroy(skel);
	remove_pin_dir(dp->pin_dir);
	dp->pin_dir[0] = 0;
	return NULL;
}

void map_delete_all(int fd, void *key, void *next)
{
	while (bpf_map_get_next_key(fd, NULL, next) == 0)
		if (bpf_map_delete_elem(fd, next)) {
			CHECK_FAIL("cannot empty a map: %s", strerror(errno));
			return;
		}
}

/* Back to the state of a fresh load. */
int fixture_reset(struct fixture *fx)
{
	struct xct_ct_key ct_key;
	__u64 zeros[fx->ncpus];
	struct xct_gc gc = {.interval_ns = 0};
	__u32 slot, ifindex, zero = 0;

	map_delete_all(fx->ct_fd, &ct_key, &ct_key);
	map_delete_all(bpf_map__fd(fx->skel->maps.xct_ifaces), &ifindex, &ifindex);
	/* Every interface in zone 0. */
	{
		struct xct_zone_cfg no_zones = {};

		map_delete_all(bpf_map__fd(fx->skel->maps.xct_zones), &ifindex, &ifindex);
		if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.data_xct_zone_cfg), &zero,
					&no_zones, BPF_ANY)) {
			CHECK_FAIL("cannot reset xct_zone_cfg: %s", strerror(errno));
			return 0;
		}
	}
	/* No datagram in flight. */
	{
		__u8 key[128];

		map_delete_all(bpf_map__fd(fx->skel->maps.xct_frags), key, key);
		map_delete_all(bpf_map__fd(fx->skel->maps.xct_frags_refused), key, key);
	}
	/* No NAT: the NAT tests set up their own rules. */
	{
		struct xct_nat_ctl nat_none = {};

		map_delete_all(bpf_map__fd(fx->skel->maps.xct_nat), &ct_key, &ct_key);
		map_delete_all(bpf_map__fd(fx->skel->maps.xct_nat_rev), &ct_key, &ct_key);
		if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_nat_ctl), &zero, &nat_none,
					BPF_ANY)) {
			CHECK_FAIL("cannot reset xct_nat_ctl: %s", strerror(errno));
			return 0;
		}
	}
	/* No owner recorded: the owner tests record their own. */
	{
		struct xct_owner_ctl owners_off = {};

		map_delete_all(bpf_map__fd(fx->skel->maps.xct_owner), &ct_key, &ct_key);
		if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_owner_ctl), &zero,
					&owners_off, BPF_ANY)) {
			CHECK_FAIL("cannot reset xct_owner_ctl: %s", strerror(errno));
			return 0;
		}
	}
	memset(zeros, 0, sizeof(zeros));
	for (slot = 0; slot < XCT_COUNTER_SLOTS; slot++)
		if (bpf_map_update_elem(fx->counters_fd, &slot, zeros, BPF_ANY)) {
			CHECK_FAIL("cannot zero counter %u: %s", slot, strerror(errno));
			return 0;
		}
	if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_gc), &zero, &gc, BPF_ANY)) {
		CHECK_FAIL("cannot reset xct_gc: %s", strerror(errno));
		return 0;
	}
	/* The kernel's default timeouts: the tunables never written. */
	{
		struct xct_tunables none = {};

		if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.data_xct_timeouts), &zero, &none,
					BPF_ANY)) {
			CHECK_FAIL("cannot reset xct_timeouts: %s", strerror(errno));
			return 0;
		}
	}
	/* An empty ring of eviction candidates. */
	{
		struct xct_ct_recent_pos pos = {};
		struct xct_ct_key none = {};
		__u32 i, slots = bpf_map__max_entries(fx->skel->maps.xct_ct_recent);
		int fd = bpf_map__fd(fx->skel->maps.xct_ct_recent);

		/* Only the slots written since the last reset hold keys. */
		if (!bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.xct_ct_recent_pos), &zero,
					 &pos) &&
		    pos.head < slots)
			slots = (__u32)pos.head;
		pos = (struct xct_ct_recent_pos){0};
		if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_ct_recent_pos), &zero, &pos,
					BPF_ANY)) {
			CHECK_FAIL("cannot reset xct_ct_recent_pos: %s", strerror(errno));
			return 0;
		}
		for (i = 0; i < slots; i++)
			if (bpf_map_update_elem(fd, &i, &none, BPF_ANY)) {
				CHECK_FAIL("cannot reset xct_ct_recent: %s", strerror(errno));
				return 0;
			}
	}
	/* No ruleset: the policy tests load their own. */
	{
		struct xct_policy_ctl none = {};

		if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_policy_ctl), &zero, &none,
					BPF_ANY)) {
			CHECK_FAIL("cannot reset xct_policy_ctl: %s", strerror(errno));
			return 0;
		}
	}
	/* No reader of connection events, and none of theirs queued. */
	for (slot = 0; slot < XCT_SUB_KINDS; slot++) {
		__u64 never = 0;

		if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_subs), &slot, &never,
					BPF_ANY)) {
			CHECK_FAIL("cannot reset xct_subs: %s", strerror(errno));
			return 0;
		}
	}
	ct_events_read(fx, NULL, 0);
	fx->skel->bss->fake_now_ns = T0;
	if (bpf_map_get_next_key(fx->ct_fd, NULL, &ct_key) == 0) {
		CHECK_FAIL("xct_ct still holds entries after the reset");
		return 0;
	}
	return 1;
}

/* The datapath with a table of max_entries (0: the default size), in the
 * state of a fresh load.  Returns 0 after reporting a failure if there is
 * none. */
int fixture_setup(struct fixture *fx, __u32 max_entries)
{
	struct datapath *dp = NULL;
	int i;

	memset(fx, 0, sizeof(*fx));
	/* Slots fill in order: the first free one comes after every loaded
	 * one. */
	for (i = 0; i < MAX_DATAPATHS; i++) {
		if (!datapaths[i].skel && !datapath_load(&datapaths[i], max_entries))
			return 0;
		if (datapaths[i].max_entries == max_entries) {
			dp = &datapaths[i];
			break;
		}
	}
	if (!dp) {
		CHECK_FAIL("no room for another datapath configuration");
		return 0;
	}
	fx->skel = dp->skel;
	fx->pin_dir = dp->pin_dir;
	fx->ct_fd = bpf_map__fd(fx->skel->maps.xct_ct);
	fx->counters_fd = bpf_map__fd(fx->skel->maps.xct_counters);
	fx->ncpus = libbpf_num_possible_cpus();
	if (fx->ncpus <= 0) {
		CHECK_FAIL("cannot count the possible CPUs");
		return 0;
	}
	return fixture_reset(fx);
}

/* Leaves nothing of the test behind for the next one. */
void fixture_teardown(struct fixture *fx)
{
	fixture_reset(fx);
}

/* A reader of connection events subscribes, at the fake clock's now: it
 * lasts XCT_SUB_TTL_NS of fake time. */
void ct_events_subscribe(struct fixture *fx)
{
	__u32 kind = XCT_SUB_CT_EVENTS;
	__u64 now = now_ns(fx);

	if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_subs), &kind, &now, BPF_ANY))
		CHECK_FAIL("cannot subscribe: %s", strerror(errno));
}

struct ct_events_buf {
	struct xct_ct_event *out;
	int max, n;
};

static int on_ct_event(void *ctx, void *data, size_t size)
{
	struct ct_events_buf *b = ctx;

	if (size != sizeof(struct xct_ct_event))
		CHECK_FAIL("a connection event of %zu bytes", size);
	else if (b->n < b->max)
		memcpy(&b->out[b->n], data, size);
	b->n++;
	return 0;
}

int ct_events_read(struct fixture *fx, struct xct_ct_event *out, int max)
{
	struct ct_events_buf b = {.out = out, .max = max};
	struct ring_buffer *rb =
		ring_buffer__new(bpf_map__fd(fx->skel->maps.xct_ct_events), on_ct_event, &b, NULL);

	if (!rb) {
		CHECK_FAIL("cannot open xct_ct_events: %s", strerror(errno));
		return -1;
	}
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	return b.n;
}

__u64 now_ns(struct fixture *fx)
{
	return fx->skel->bss->fake_now_ns;
}

void set_now(struct fixture *fx, __u64 ns)
{
	fx->skel->bss->fake_now_ns = ns;
}

void advance(struct fixture *fx, __u64 ns)
{
	fx->skel->bss->fake_now_ns += ns;
}

/* A counter slot summed over every CPU. */
__u64 counter(struct fixture *fx, __u32 slot)
{
	__u64 values[fx->ncpus], sum = 0;
	int i;

	if (bpf_map_lookup_elem(fx->counters_fd, &slot, values)) {
		CHECK_FAIL("cannot read counter slot %u: %s", slot, strerror(errno));
		return 0;
	}
	for (i = 0; i < fx->ncpus; i++)
		sum += values[i];
	return sum;
}

__u64 reason_count(struct fixture *fx, enum xct_reason r)
{
	return counter(fx, XCT_REASON_SLOT(r));
}

__u64 drop_count(struct fixture *fx, enum xct_reason r)
{
	return counter(fx, XCT_DROP_REASON_SLOT(r));
}

int table_size(struct fixture *fx)
{
	struct xct_ct_key key, next;
	int n = 0;

	if (bpf_map_get_next_key(fx->ct_fd, NULL, &next))
		return 0;
	do {
		n++;
		key = next;
	} while (bpf_map_get_next_key(fx->ct_fd, &key, &next) == 0);
	return n;
}

/* ---- Flows and packets ---- */

struct flow make_flow(__u8 proto, const char *src, __u16 sport, const char *dst, __u16 dport)
{
	struct flow f = {.proto = proto, .sport = sport, .dport = dport};
	int af = strchr(src, ':') ? AF_INET6 : AF_INET;

	f.family = af == AF_INET6 ? XCT_AF_INET6 : XCT_AF_INET;
	if (inet_pton(af, src, &f.src) != 1 || inet_pton(af, dst, &f.dst) != 1)
		CHECK_FAIL("bad address %s or %s", src, dst);
	if (proto == XCT_IPPROTO_ICMP)
		f.icmp_type = 8;
	else if (proto == XCT_IPPROTO_ICMPV6)
		f.icmp_type = 128;
	return f;
}

struct flow reverse(const struct flow *f)
{
	struct flow r = *f;

	r.src = f->dst;
	r.dst = f->src;
	if (!xct_is_icmp(f->family, f->proto)) {
		r.sport = f->dport;
		r.dport = f->sport;
	}
	return r;
}

/* The table key of the connection a flow belongs to, and the key side of
 * the flow's sender. */
void flow_key(const struct flow *f, struct xct_ct_key *key, __u8 *side)
{
	struct xct_tuple t = {
		.src = f->src,
		.dst = f->dst,
		.family = f->family,
		.proto = f->proto,
	};

	if (xct_is_icmp(f->family, f->proto)) {
		t.sport = f->sport;
		t.icmp_type = f->icmp_type;
	} else {
		t.sport = htons(f->sport);
		t.dport = htons(f->dport);
	}
	if (xct_key_from_tuple(&t, key, side))
		CHECK_FAIL("no key for this flow");
}

/* The entry of a flow's connection: 0 if there is one, else -ENOENT. */
int get_entry(struct fixture *fx, const struct flow *f, struct xct_ct_entry *e)
{
	struct xct_ct_key key;
	__u8 side;

	flow_key(f, &key, &side);
	memset(e, 0, sizeof(*e));
	return bpf_map_lookup_elem(fx->ct_fd, &key, e) ? -errno : 0;
}

__u8 sender_side(const struct flow *f)
{
	struct xct_ct_key key;
	__u8 side;

	flow_key(f, &key, &side);
	return side;
}

int entry_alive(struct fixture *fx, const struct xct_ct_entry *e)
{
	return !(e->status & XCT_CT_DYING) && e->expires_ns > now_ns(fx);
}

/* Is there a live entry for the flow's connection? */
int has_live_entry(struct fixture *fx, const struct flow *f)
{
	struct xct_ct_entry e;

	return get_entry(fx, f, &e) == 0 && entry_alive(fx, &e);
}

const struct layout plain;

void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

void put32(__u8 *p, __u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* Ethernet header and VLAN tags; returns the offset of the payload. */
__u32 build_eth(__u8 *p, __u16 ethertype, int vlan_tags)
{
	static const __u8 macs[12] = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
	__u32 off = 12;
	int i;

	memcpy(p, macs, sizeof(macs));
	for (i = 0; i < vlan_tags; i++) {
		put16(p + off, i == 0 && vlan_tags > 1 ? XCT_ETH_P_8021AD : XCT_ETH_P_8021Q);
		put16(p + off + 2, 100 + i); /* VLAN id */
		off += 4;
	}
	put16(p + off, ethertype);
	return off + 2;
}

/* A whole frame carrying an l4_len-byte transport segment of the flow's
 * protocol, with correct IP lengths; checksums stay zero (xct does not
 * verify them). */
struct packet build_packet(const struct flow *f, const __u8 *l4, __u32 l4_len,
			   const struct layout *lay)
{
	struct packet pk = {.len = 0};
	__u8 *ip;
	__u32 off;
	int i;

	if (f->family == XCT_AF_INET) {
		__u32 ihl = 20 + lay->ipv4_opt_len;

		off = build_eth(pk.data, XCT_ETH_P_IP, lay->vlan_tags);
		ip = pk.data + off;
		ip[0] = 0x40 | (ihl / 4);
		put16(ip + 2, ihl + l4_len);
		put16(ip + 4, 0x1234);
		put16(ip + 6, (lay->more_fragments ? 0x2000 : 0) | lay->frag_offset);
		ip[8] = 64;
		ip[9] = f->proto;
		memcpy(ip + 12, &f->src.v4, 4);
		memcpy(ip + 16, &f->dst.v4, 4);
		memset(ip + 20, 1, lay->ipv4_opt_len); /* NOP options */
		pk.l3_off = off;
		pk.l4_off = off + ihl;
	} else {
		__u8 *next;

		off = build_eth(pk.data, XCT_ETH_P_IPV6, lay->vlan_tags);
		ip = pk.data + off;
		ip[0] = 0x60;
		ip[7] = 64;
		memcpy(ip + 8, f->src.bytes, 16);
		memcpy(ip + 24, f->dst.bytes, 16);
		next = ip + 6;
		pk.l3_off = off;
		off += 40;
		for (i = 0; i < lay->ipv6_dstopts; i++) {
			*next = 60;
			next = pk.data + off;
			pk.data[off + 1] = 0; /* 8 bytes */
			pk.data[off + 2] = 1; /* PadN */
			pk.data[off + 3] = 4;
			off += 8;
		}
		if (lay->ipv6_frag_hdr) {
			*next = 44;
			next = pk.data + off;
			put16(pk.data + off + 2,
			      (__u16)(lay->frag_offset << 3 | (lay->more_fragments ? 1 : 0)));
			put32(pk.data + off + 4, 0xabcd);
			off += 8;
		}
		*next = f->proto;
		pk.l4_off = off;
		put16(ip + 4, off - pk.l3_off - 40 + l4_len);
	}
	memcpy(pk.data + pk.l4_off, l4, l4_len);
	pk.len = pk.l4_off + l4_len;
	pk.l3_len = pk.len - pk.l3_off;
	return pk;
}

/* A TCP segment of payload_len zero bytes.  SYNs carry MSS, SACK-permitted
 * and window scale, as Linux sends them. */
struct packet tcp_packet_layout(const struct flow *f, __u8 flags, __u32 seq, __u32 ack,
				__u32 payload_len, const struct layout *lay)
{
	static const __u8 syn_opts[12] = {2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, TCP_WSCALE, 1, 1};
	__u8 seg[1600] = {0};
	__u32 optlen = (flags & XCT_TCPF_SYN) ? sizeof(syn_opts) : 0;
	__u32 doff = 20 + optlen;

	put16(seg, f->sport);
	put16(seg + 2, f->dport);
	put32(seg + 4, seq);
	put32(seg + 8, ack);
	seg[12] = (doff / 4) << 4;
	seg[13] = flags;
	put16(seg + 14, (flags & XCT_TCPF_SYN) ? TCP_SYN_WINDOW : TCP_WINDOW);
	memcpy(seg + 20, syn_opts, optlen);
	return build_packet(f, seg, doff + payload_len, lay);
}

struct packet tcp_packet(const struct flow *f, __u8 flags, __u32 seq, __u32 ack, __u32 payload_len)
{
	return tcp_packet_layout(f, flags, seq, ack, payload_len, &plain);
}

struct packet udp_packet_layout(const struct flow *f, __u32 payload_len, const struct layout *lay)
{
	__u8 seg[1600] = {0};

	put16(seg, f->sport);
	put16(seg + 2, f->dport);
	put16(seg + 4, 8 + payload_len);
	return build_packet(f, seg, 8 + payload_len, lay);
}

struct packet udp_packet(const struct flow *f, __u32 payload_len)
{
	return udp_packet_layout(f, payload_len, &plain);
}

/* An ICMP or ICMPv6 message with the flow's identifier and 56 bytes of
 * data, as ping sends. */
struct packet icmp_packet(const struct flow *f, __u8 type, __u8 code)
{
	__u8 msg[64] = {type, code};

	put16(msg + 4, f->sport);
	put16(msg + 6, 1); /* sequence */
	return build_packet(f, msg, sizeof(msg), &plain);
}

/* An ICMP error sent by `from` to `to`, quoting the IP header and the first
 * eight transport bytes of the packet q. */
struct packet icmp_error_packet(const char *from, const char *to, __u8 type, __u8 code,
				const struct packet *q)
{
	struct flow f = make_flow(0, from, 0, to, 0);
	__u8 msg[256] = {type, code};
	__u32 quoted = q->l4_off - q->l3_off + 8;

	f.proto = f.family == XCT_AF_INET ? XCT_IPPROTO_ICMP : XCT_IPPROTO_ICMPV6;
	memcpy(msg + 8, q->data + q->l3_off, quoted);
	return build_packet(&f, msg, 8 + quoted, &plain);
}

/* Puts an IPv6 extension header of type type (hdr: len bytes, its first
 * byte, the next header, is filled in) right after p's IPv6 header. */
void insert_exthdr(struct packet *p, __u8 type, const __u8 *hdr, __u32 len)
{
	__u8 *ip = p->data + p->l3_off;
	__u32 at = p->l3_off + 40;

	if (p->len + len > sizeof(p->data))
		abort();
	memmove(p->data + at + len, p->data + at, p->len - at);
	memcpy(p->data + at, hdr, len);
	p->data[at] = ip[6];
	ip[6] = type;
	put16(ip + 4, (__u16)(p->l3_len - 40 + len));
	p->len += len;
	p->l4_off += len;
	p->l3_len += len;
}

/* ---- Running the programs ---- */

int run_prog(struct bpf_program *prog, const void *data, __u32 len, struct __sk_buff *skb,
	     void *out, __u32 out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data, .data_size_in = len, .data_out = out,
		    .data_size_out = out_len, .repeat = 1);
	int err;

	if (skb) {
		opts.ctx_in = skb;
		opts.ctx_size_in = sizeof(*skb);
	}
	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
	if (err) {
		CHECK_FAIL("test run of %s: %s", bpf_program__name(prog), strerror(-err));
		return -1000;
	}
	return (int)opts.retval;
}

/* A packet arriving on an interface xct watches, through XDP. */
void xdp_in(struct fixture *fx, const struct packet *pk)
{
	int ret = run_prog(fx->skel->progs.xct_xdp, pk->data, pk->len, NULL, NULL, 0);

	if (ret != XDP_PASS)
		CHECK_FAIL("xct_xdp returned %d, want XDP_PASS", ret);
}

/*
 * Why XDP handed a packet up to TC (enum xct_handoff): the frame it passed
 * is the packet with an 802.1Q tag of the hand-off's VLAN id after the MAC
 * addresses; 0 for a frame passed as it came, or anything else.  The tagged
 * frame is left in *out when out is not NULL.
 */
int xdp_handoff(struct fixture *fx, const struct packet *pk, struct packet *out)
{
	struct packet frame = *pk;
	__u16 tci;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pk->data, .data_size_in = pk->len,
		    .data_out = frame.data, .data_size_out = sizeof(frame.data), .repeat = 1);

	if (bpf_prog_test_run_opts(bpf_program__fd(fx->skel->progs.xct_xdp), &opts) ||
	    opts.retval != XDP_PASS || opts.data_size_out != pk->len + 4)
		return 0;
	frame.len = opts.data_size_out;
	if (out)
		*out = frame;
	tci = (__u16)(frame.data[14] << 8 | frame.data[15]);
	if (frame.data[12] != 0x81 || frame.data[13] != 0x00 || (tci & 0x0fff) != XCT_HANDOFF_VID)
		return 0;
	if (memcmp(frame.data, pk->data, 12) ||
	    memcmp(frame.data + 16, pk->data + 12, pk->len - 12))
		return 0;
	return tci >> 13;
}

/* A packet arriving through the TC ingress program. */
void tc_in(struct fixture *fx, const struct packet *pk)
{
	struct __sk_buff skb = {.ingress_ifindex = 0};
	int ret = run_prog(fx->skel->progs.xct_tc_ingress, pk->data, pk->len, &skb, NULL, 0);

	if (ret != TC_ACT_UNSPEC)
		CHECK_FAIL("xct_tc_ingress returned %d, want TC_ACT_UNSPEC", ret);
}

/* A packet leaving through TC egress; ingress_ifindex 0 means locally sent,
 * anything else forwarded from that interface. */
void tc_out_from(struct fixture *fx, const struct packet *pk, __u32 ingress_ifindex)
{
	struct __sk_buff skb = {.ingress_ifindex = ingress_ifindex};
	int ret = run_prog(fx->skel->progs.xct_tc_egress, pk->data, pk->len, &skb, NULL, 0);

	if (ret != TC_ACT_UNSPEC)
		CHECK_FAIL("xct_tc_egress returned %d, want TC_ACT_UNSPEC", ret);
}

void tc_out(struct fixture *fx, const struct packet *pk)
{
	tc_out_from(fx, pk, 0);
}

/* One command to the control program; returns its answer. */
struct xct_ctl_msg ctl(struct fixture *fx, __u16 cmd)
{
	struct xct_ctl_msg msg = {.cmd = cmd}, out = {.ret = -1};
	int ret = run_prog(fx->skel->progs.xct_ctl, &msg, sizeof(msg), NULL, &out, sizeof(out));

	CHECK_EQ(ret, XDP_PASS);
	return out;
}

struct xct_ctl_msg gc_run(struct fixture *fx)
{
	struct xct_ctl_msg m = ctl(fx, XCT_CTL_GC_RUN);

	CHECK_EQ(m.ret, 0);
	return m;
}

struct xct_gc read_gc(struct fixture *fx)
{
	struct xct_gc gc = {.pressure = 0};
	__u32 zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.xct_gc), &zero, &gc))
		CHECK_FAIL("cannot read xct_gc: %s", strerror(errno));
	return gc;
}

void set_gc_pressure(struct fixture *fx, __u64 pressure)
{
	struct xct_gc gc = read_gc(fx);
	__u32 zero = 0;

	gc.pressure = pressure;
	if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_gc), &zero, &gc, BPF_ANY))
		CHECK_FAIL("cannot write xct_gc: %s", strerror(errno));
}

/* ---- TCP conversations ---- */

/* Byte counts of the handshake's packets, by direction. */

/* SYN from the client through XDP, SYN/ACK from the server through TC
 * egress, ACK from the client through XDP. */
struct handshake tcp_handshake(struct fixture *fx, const struct flow *c)
{
	struct flow s = reverse(c);
	struct packet syn = tcp_packet(c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct packet synack =
		tcp_packet(&s, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	struct packet ack = tcp_packet(c, XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 0);

	xdp_in(fx, &syn);
	tc_out(fx, &synack);
	xdp_in(fx, &ack);
	return (struct handshake){syn.l3_len + ack.l3_len, synack.l3_len};
}

/* Checks that the connection is in `state`, with `timeout_s` left. */
void check_tcp(struct fixture *fx, const struct flow *c, __u8 state, __u64 timeout_s)
{
	struct xct_ct_entry e;

	if (get_entry(fx, c, &e)) {
		CHECK_FAIL("no entry for the connection");
		return;
	}
	CHECK_EQ(e.state, state);
	CHECK_EQ(e.expires_ns - now_ns(fx), SEC_NS(timeout_s));
}

/*
 * The connection is alive until exactly timeout_s from now and dead from
 * then on: a GC run one nanosecond before the expiry keeps it, one at the
 * expiry deletes it.
 */
void check_expires_after(struct fixture *fx, const struct flow *c, __u64 timeout_s)
{
	__u64 start = now_ns(fx);
	struct xct_ctl_msg m;

	set_now(fx, start + SEC_NS(timeout_s) - 1);
	CHECK(has_live_entry(fx, c));
	m = gc_run(fx);
	CHECK_EQ(m.deleted, 0);
	set_now(fx, start + SEC_NS(timeout_s));
	CHECK(!has_live_entry(fx, c));
	m = gc_run(fx);
	CHECK_EQ(m.deleted, 1);
	CHECK_EQ(table_size(fx), 0);
}
