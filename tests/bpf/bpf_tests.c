// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the compiled datapath (build/xct.bpf.o) with BPF_PROG_TEST_RUN:
 * crafted Ethernet frames go through xct_xdp, xct_tc_ingress and
 * xct_tc_egress, the control program xct_ctl runs the GC, and the tests read
 * the connection table and the per-CPU counters back.  The programs are
 * loaded with cfg_fake_clock set, so time is whatever the test writes into
 * fake_now_ns, and every timeout is checked to the nanosecond without
 * sleeping.
 *
 * Covered: the TCP handshake and every TCP state's timeout, expiry (a dead
 * entry is not revived by a packet that cannot open a connection, and a SYN
 * starts a fresh one), RST answering a SYN, UDP unreplied/replied/stream
 * timeouts, ICMP echo, ICMP errors (RELATED, unknown connection, spoofed),
 * IPv6 with extension headers, VLAN tags, IPv4 options, fragments,
 * malformed packets, the TC egress skip of forwarded packets, a full table,
 * and the GC with and without early-drop pressure.
 *
 * Every test starts from the state of a freshly loaded datapath (see struct
 * datapath), with maps pinned in a directory of their own on bpffs that is
 * removed at exit, so tests do not depend on each other.
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
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xct/abi.h"
#include "xct/tuple.h"
#include "xct.skel.h"

#define CHECK_IMPLEMENTATION
#include "check.h"

#define NS_PER_SEC  1000000000ULL
#define SEC_NS(s)   ((__u64)(s)*NS_PER_SEC)
#define BPFFS_ROOT  "/sys/fs/bpf"
#define BPFFS_MAGIC 0xcafe4a11
/* Where the fake clock starts: far from 0, which xct uses for "dead". */
#define T0 SEC_NS(1000)

/* ---- Fixture: the loaded datapath, in the state of a fresh load ---- */

/*
 * A loaded datapath, with its maps pinned in its own directory on bpffs.
 * The verifier needs about a second per entry program, far too long to load
 * the object again for each of dozens of tests; so each configuration
 * (table size) is loaded once per run, and every test starts from it reset
 * to the state of a fresh load: empty table and interface registry, zeroed
 * counters and GC state, the clock at T0.  The objects are destroyed and
 * their pins removed when the binary exits, whatever the tests did.
 */
struct datapath {
	struct xct_bpf *skel;
	__u32 max_entries;
	char pin_dir[64];
};

#define MAX_DATAPATHS 4
static struct datapath datapaths[MAX_DATAPATHS];

struct fixture {
	struct xct_bpf *skel;
	int ct_fd;
	int counters_fd;
	int ncpus;
};

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level > LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, args);
}

/* bpffs at /sys/fs/bpf, mounted if it is not there yet. */
static int ensure_bpffs(void)
{
	struct statfs st;

	if (statfs(BPFFS_ROOT, &st) == 0 && (unsigned long)st.f_type == BPFFS_MAGIC)
		return 0;
	mkdir(BPFFS_ROOT, 0755);
	if (mount("bpf", BPFFS_ROOT, "bpf", 0, NULL) < 0)
		return -errno;
	return 0;
}

static void remove_pin_dir(const char *dir)
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

static void datapaths_destroy(void)
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
static struct xct_bpf *datapath_load(struct datapath *dp, __u32 max_entries)
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
		if (bpf_map__set_max_entries(skel->maps.xct_ct, max_entries)) {
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

static void map_delete_all(int fd, void *key, void *next)
{
	while (bpf_map_get_next_key(fd, NULL, next) == 0)
		if (bpf_map_delete_elem(fd, next)) {
			CHECK_FAIL("cannot empty a map: %s", strerror(errno));
			return;
		}
}

/* Back to the state of a fresh load. */
static int fixture_reset(struct fixture *fx)
{
	struct xct_ct_key ct_key;
	__u64 zeros[fx->ncpus];
	struct xct_gc gc = {.interval_ns = 0};
	__u32 slot, ifindex, zero = 0;

	map_delete_all(fx->ct_fd, &ct_key, &ct_key);
	map_delete_all(bpf_map__fd(fx->skel->maps.xct_ifaces), &ifindex, &ifindex);
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
static int fixture_setup(struct fixture *fx, __u32 max_entries)
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
static void fixture_teardown(struct fixture *fx)
{
	fixture_reset(fx);
}

static __u64 now_ns(struct fixture *fx)
{
	return fx->skel->bss->fake_now_ns;
}

static void set_now(struct fixture *fx, __u64 ns)
{
	fx->skel->bss->fake_now_ns = ns;
}

static void advance(struct fixture *fx, __u64 ns)
{
	fx->skel->bss->fake_now_ns += ns;
}

/* A counter slot summed over every CPU. */
static __u64 counter(struct fixture *fx, __u32 slot)
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

static __u64 reason_count(struct fixture *fx, enum xct_reason r)
{
	return counter(fx, XCT_REASON_SLOT(r));
}

static int table_size(struct fixture *fx)
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

/* One direction of a connection; ports in host order.  For ICMP, sport is
 * the identifier and icmp_type the query type. */
struct flow {
	__u8 family;
	__u8 proto;
	__u8 icmp_type;
	union xct_addr src, dst;
	__u16 sport, dport;
};

static struct flow make_flow(__u8 proto, const char *src, __u16 sport, const char *dst, __u16 dport)
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

static struct flow reverse(const struct flow *f)
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
static void flow_key(const struct flow *f, struct xct_ct_key *key, __u8 *side)
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
static int get_entry(struct fixture *fx, const struct flow *f, struct xct_ct_entry *e)
{
	struct xct_ct_key key;
	__u8 side;

	flow_key(f, &key, &side);
	memset(e, 0, sizeof(*e));
	return bpf_map_lookup_elem(fx->ct_fd, &key, e) ? -errno : 0;
}

static __u8 sender_side(const struct flow *f)
{
	struct xct_ct_key key;
	__u8 side;

	flow_key(f, &key, &side);
	return side;
}

static int entry_alive(struct fixture *fx, const struct xct_ct_entry *e)
{
	return !(e->status & XCT_CT_DYING) && e->expires_ns > now_ns(fx);
}

/* Is there a live entry for the flow's connection? */
static int has_live_entry(struct fixture *fx, const struct flow *f)
{
	struct xct_ct_entry e;

	return get_entry(fx, f, &e) == 0 && entry_alive(fx, &e);
}

struct packet {
	__u8 data[2048];
	__u32 len;
	__u32 l3_off;
	__u32 l4_off;
	__u32 l3_len; /* IP header and payload: what the table counts as bytes */
};

/* How the headers around the transport segment are laid out. */
struct layout {
	int vlan_tags;
	__u32 ipv4_opt_len; /* bytes of IPv4 options, a multiple of 4 */
	int ipv6_dstopts;   /* IPv6 destination options headers, 8 bytes each */
	int ipv6_frag_hdr;  /* an IPv6 fragment header before the segment */
	__u16 frag_offset;  /* fragment offset, in 8-byte units */
	int more_fragments;
};

static const struct layout plain;

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(__u8 *p, __u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* Ethernet header and VLAN tags; returns the offset of the payload. */
static __u32 build_eth(__u8 *p, __u16 ethertype, int vlan_tags)
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
static struct packet build_packet(const struct flow *f, const __u8 *l4, __u32 l4_len,
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

#define TCP_WSCALE     7
#define TCP_SYN_WINDOW 64240
#define TCP_WINDOW     502 /* 64256 bytes once scaled */

/* A TCP segment of payload_len zero bytes.  SYNs carry MSS, SACK-permitted
 * and window scale, as Linux sends them. */
static struct packet tcp_packet_layout(const struct flow *f, __u8 flags, __u32 seq, __u32 ack,
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

static struct packet tcp_packet(const struct flow *f, __u8 flags, __u32 seq, __u32 ack,
				__u32 payload_len)
{
	return tcp_packet_layout(f, flags, seq, ack, payload_len, &plain);
}

static struct packet udp_packet_layout(const struct flow *f, __u32 payload_len,
				       const struct layout *lay)
{
	__u8 seg[1600] = {0};

	put16(seg, f->sport);
	put16(seg + 2, f->dport);
	put16(seg + 4, 8 + payload_len);
	return build_packet(f, seg, 8 + payload_len, lay);
}

static struct packet udp_packet(const struct flow *f, __u32 payload_len)
{
	return udp_packet_layout(f, payload_len, &plain);
}

/* An ICMP or ICMPv6 message with the flow's identifier and 56 bytes of
 * data, as ping sends. */
static struct packet icmp_packet(const struct flow *f, __u8 type, __u8 code)
{
	__u8 msg[64] = {type, code};

	put16(msg + 4, f->sport);
	put16(msg + 6, 1); /* sequence */
	return build_packet(f, msg, sizeof(msg), &plain);
}

/* An ICMP error sent by `from` to `to`, quoting the IP header and the first
 * eight transport bytes of the packet q. */
static struct packet icmp_error_packet(const char *from, const char *to, __u8 type, __u8 code,
				       const struct packet *q)
{
	struct flow f = make_flow(0, from, 0, to, 0);
	__u8 msg[256] = {type, code};
	__u32 quoted = q->l4_off - q->l3_off + 8;

	f.proto = f.family == XCT_AF_INET ? XCT_IPPROTO_ICMP : XCT_IPPROTO_ICMPV6;
	memcpy(msg + 8, q->data + q->l3_off, quoted);
	return build_packet(&f, msg, 8 + quoted, &plain);
}

/* ---- Running the programs ---- */

static int run_prog(struct bpf_program *prog, const void *data, __u32 len, struct __sk_buff *skb,
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
static void xdp_in(struct fixture *fx, const struct packet *pk)
{
	int ret = run_prog(fx->skel->progs.xct_xdp, pk->data, pk->len, NULL, NULL, 0);

	if (ret != XDP_PASS)
		CHECK_FAIL("xct_xdp returned %d, want XDP_PASS", ret);
}

/* A packet arriving through the TC ingress program. */
static void tc_in(struct fixture *fx, const struct packet *pk)
{
	struct __sk_buff skb = {.ingress_ifindex = 0};
	int ret = run_prog(fx->skel->progs.xct_tc_ingress, pk->data, pk->len, &skb, NULL, 0);

	if (ret != TC_ACT_UNSPEC)
		CHECK_FAIL("xct_tc_ingress returned %d, want TC_ACT_UNSPEC", ret);
}

/* A packet leaving through TC egress; ingress_ifindex 0 means locally sent,
 * anything else forwarded from that interface. */
static void tc_out_from(struct fixture *fx, const struct packet *pk, __u32 ingress_ifindex)
{
	struct __sk_buff skb = {.ingress_ifindex = ingress_ifindex};
	int ret = run_prog(fx->skel->progs.xct_tc_egress, pk->data, pk->len, &skb, NULL, 0);

	if (ret != TC_ACT_UNSPEC)
		CHECK_FAIL("xct_tc_egress returned %d, want TC_ACT_UNSPEC", ret);
}

static void tc_out(struct fixture *fx, const struct packet *pk)
{
	tc_out_from(fx, pk, 0);
}

/* One command to the control program; returns its answer. */
static struct xct_ctl_msg ctl(struct fixture *fx, __u16 cmd)
{
	struct xct_ctl_msg msg = {.cmd = cmd}, out = {.ret = -1};
	int ret = run_prog(fx->skel->progs.xct_ctl, &msg, sizeof(msg), NULL, &out, sizeof(out));

	CHECK_EQ(ret, XDP_PASS);
	return out;
}

static struct xct_ctl_msg gc_run(struct fixture *fx)
{
	struct xct_ctl_msg m = ctl(fx, XCT_CTL_GC_RUN);

	CHECK_EQ(m.ret, 0);
	return m;
}

static struct xct_gc read_gc(struct fixture *fx)
{
	struct xct_gc gc = {.pressure = 0};
	__u32 zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.xct_gc), &zero, &gc))
		CHECK_FAIL("cannot read xct_gc: %s", strerror(errno));
	return gc;
}

static void set_gc_pressure(struct fixture *fx, __u64 pressure)
{
	struct xct_gc gc = read_gc(fx);
	__u32 zero = 0;

	gc.pressure = pressure;
	if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_gc), &zero, &gc, BPF_ANY))
		CHECK_FAIL("cannot write xct_gc: %s", strerror(errno));
}

/* ---- TCP conversations ---- */

#define CLIENT_ISN 1000
#define SERVER_ISN 5000

/* Byte counts of the handshake's packets, by direction. */
struct handshake {
	__u64 orig_bytes;
	__u64 reply_bytes;
};

/* SYN from the client through XDP, SYN/ACK from the server through TC
 * egress, ACK from the client through XDP. */
static struct handshake tcp_handshake(struct fixture *fx, const struct flow *c)
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
static void check_tcp(struct fixture *fx, const struct flow *c, __u8 state, __u64 timeout_s)
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
static void check_expires_after(struct fixture *fx, const struct flow *c, __u64 timeout_s)
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

/* ---- TCP ---- */

TEST(tcp_handshake_xdp_and_tc_egress)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct xct_ct_entry e;
	struct handshake h;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	h = tcp_handshake(&fx, &c);
	CHECK_EQ(table_size(&fx), 1);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(e.status, XCT_CT_ASSURED | XCT_CT_SEEN_REPLY);
	CHECK_EQ(e.orig_side, sender_side(&c));
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 2);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 1);
	/* 20 bytes of IP, 32 of TCP with options for the SYNs, 20 without. */
	CHECK_EQ(h.orig_bytes, 52 + 40);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], h.orig_bytes);
	CHECK_EQ(e.bytes[XCT_DIR_REPLY], h.reply_bytes);
	CHECK_EQ(e.first_seen_ns, T0);
	CHECK_EQ(e.last_seen_ns, T0);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(432000));
	CHECK_EQ(e.proto.tcp.seen[XCT_DIR_ORIGINAL].td_scale, TCP_WSCALE);
	CHECK_EQ(e.proto.tcp.seen[XCT_DIR_REPLY].td_scale, TCP_WSCALE);
	CHECK_EQ(counter(&fx, XCT_S_PACKETS), 3);
	CHECK_EQ(counter(&fx, XCT_S_INSERT), 1);
	CHECK_EQ(counter(&fx, XCT_S_FOUND), 2);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 0);
	CHECK_EQ(reason_count(&fx, XCT_R_OK), 3);
	fixture_teardown(&fx);
}

TEST(tcp_handshake_ipv6_with_extension_headers)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "2001:db8::1", 40000, "2001:db8::2", 443);
	struct flow s = reverse(&c);
	struct layout ext = {.ipv6_dstopts = 2};
	struct packet syn = tcp_packet_layout(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0, &ext);
	struct packet synack =
		tcp_packet(&s, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	struct packet data =
		tcp_packet(&c, XCT_TCPF_ACK | XCT_TCPF_PSH, CLIENT_ISN + 1, SERVER_ISN + 1, 100);
	struct packet ack = tcp_packet(&s, XCT_TCPF_ACK, SERVER_ISN + 1, CLIENT_ISN + 101, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	tc_out(&fx, &synack);
	xdp_in(&fx, &data);
	tc_out(&fx, &ack);
	CHECK_EQ(table_size(&fx), 1);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(e.status, XCT_CT_ASSURED | XCT_CT_SEEN_REPLY);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 2);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 2);
	/* IPv6 counts the fixed header plus the payload length, extension
	 * headers included. */
	CHECK_EQ(syn.l3_len, 40 + 16 + 32);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], syn.l3_len + data.l3_len);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], (40 + 16 + 32) + (40 + 20 + 100));
	CHECK_EQ(e.bytes[XCT_DIR_REPLY], (40 + 32) + (40 + 20));
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(432000));
	fixture_teardown(&fx);
}

TEST(tcp_syn_sent_times_out_after_120s)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	check_tcp(&fx, &c, XCT_TCP_SYN_SENT, 120);
	check_expires_after(&fx, &c, 120);
	fixture_teardown(&fx);
}

TEST(tcp_syn_retransmit_does_not_refresh)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	advance(&fx, SEC_NS(3));
	xdp_in(&fx, &syn);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(e.expires_ns, T0 + SEC_NS(120));
	/* Neither refreshed nor counted, as nf_conntrack. */
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	fixture_teardown(&fx);
}

TEST(tcp_syn_recv_times_out_after_60s)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow s = reverse(&c);
	struct packet syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct packet synack =
		tcp_packet(&s, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	advance(&fx, SEC_NS(1));
	tc_out(&fx, &synack);
	check_tcp(&fx, &c, XCT_TCP_SYN_RECV, 60);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY);
	check_expires_after(&fx, &c, 60);
	fixture_teardown(&fx);
}

TEST(tcp_established_times_out_after_5_days)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &c);
	check_tcp(&fx, &c, XCT_TCP_ESTABLISHED, 432000);
	check_expires_after(&fx, &c, 432000);
	fixture_teardown(&fx);
}

/* The client closes first: FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, each
 * with its own timeout, and each expiring on time. */
static void tcp_close_to(struct fixture *fx, const struct flow *c, __u8 state)
{
	struct flow s = reverse(c);
	struct packet fin =
		tcp_packet(c, XCT_TCPF_FIN | XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 0);
	struct packet fin_ack = tcp_packet(&s, XCT_TCPF_ACK, SERVER_ISN + 1, CLIENT_ISN + 2, 0);
	struct packet server_fin =
		tcp_packet(&s, XCT_TCPF_FIN | XCT_TCPF_ACK, SERVER_ISN + 1, CLIENT_ISN + 2, 0);
	struct packet last_ack = tcp_packet(c, XCT_TCPF_ACK, CLIENT_ISN + 2, SERVER_ISN + 2, 0);

	tcp_handshake(fx, c);
	advance(fx, SEC_NS(1));
	xdp_in(fx, &fin);
	if (state == XCT_TCP_FIN_WAIT)
		return;
	tc_out(fx, &fin_ack);
	if (state == XCT_TCP_CLOSE_WAIT)
		return;
	tc_out(fx, &server_fin);
	if (state == XCT_TCP_LAST_ACK)
		return;
	xdp_in(fx, &last_ack);
}

TEST(tcp_fin_wait_times_out_after_120s)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_close_to(&fx, &c, XCT_TCP_FIN_WAIT);
	check_tcp(&fx, &c, XCT_TCP_FIN_WAIT, 120);
	check_expires_after(&fx, &c, 120);
	fixture_teardown(&fx);
}

TEST(tcp_close_wait_times_out_after_60s)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_close_to(&fx, &c, XCT_TCP_CLOSE_WAIT);
	check_tcp(&fx, &c, XCT_TCP_CLOSE_WAIT, 60);
	check_expires_after(&fx, &c, 60);
	fixture_teardown(&fx);
}

TEST(tcp_last_ack_times_out_after_30s)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_close_to(&fx, &c, XCT_TCP_LAST_ACK);
	check_tcp(&fx, &c, XCT_TCP_LAST_ACK, 30);
	check_expires_after(&fx, &c, 30);
	fixture_teardown(&fx);
}

TEST(tcp_time_wait_times_out_after_120s)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_close_to(&fx, &c, XCT_TCP_TIME_WAIT);
	check_tcp(&fx, &c, XCT_TCP_TIME_WAIT, 120);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 4);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 3);
	check_expires_after(&fx, &c, 120);
	fixture_teardown(&fx);
}

TEST(tcp_syn_reopens_time_wait)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN + 100000, 0, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_close_to(&fx, &c, XCT_TCP_TIME_WAIT);
	advance(&fx, SEC_NS(5));
	xdp_in(&fx, &syn);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(e.status, 0);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 0);
	CHECK_EQ(e.first_seen_ns, now_ns(&fx));
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(120));
	fixture_teardown(&fx);
}

TEST(tcp_rst_closes_established_for_10s)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet rst = tcp_packet(&c, XCT_TCPF_RST, CLIENT_ISN + 1, 0, 0);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &c);
	advance(&fx, SEC_NS(7));
	xdp_in(&fx, &rst);
	check_tcp(&fx, &c, XCT_TCP_CLOSE, 10);
	check_expires_after(&fx, &c, 10);
	fixture_teardown(&fx);
}

TEST(tcp_out_of_window_rst_is_invalid)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet rst = tcp_packet(&c, XCT_TCPF_RST, CLIENT_ISN - 500, 0, 0);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &c);
	xdp_in(&fx, &rst);
	check_tcp(&fx, &c, XCT_TCP_ESTABLISHED, 432000);
	CHECK_EQ(reason_count(&fx, XCT_R_TCP_INVALID_RST), 1);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 1);
	fixture_teardown(&fx);
}

TEST(tcp_simultaneous_open_syn_sent2_times_out)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow s = reverse(&c);
	struct packet syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct packet peer_syn = tcp_packet(&s, XCT_TCPF_SYN, SERVER_ISN, 0, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	advance(&fx, SEC_NS(1));
	tc_out(&fx, &peer_syn);
	/* A SYN while in SYN_SENT with no reply seen yet does not refresh the
	 * timer, whichever side sent it (nf_conntrack_tcp_packet()); the
	 * connection has seen a reply now, though. */
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT2);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY);
	CHECK_EQ(e.expires_ns, T0 + SEC_NS(120));
	set_now(&fx, T0);
	check_expires_after(&fx, &c, 120);
	fixture_teardown(&fx);
}

TEST(tcp_rst_answering_syn_kills_connection)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow s = reverse(&c);
	struct packet syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct packet rst = tcp_packet(&s, XCT_TCPF_RST | XCT_TCPF_ACK, 0, CLIENT_ISN + 1, 0);
	struct packet synack =
		tcp_packet(&s, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	struct xct_ctl_msg m;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	advance(&fx, SEC_NS(1));
	tc_out(&fx, &rst);
	CHECK(!has_live_entry(&fx, &c));
	CHECK_EQ(reason_count(&fx, XCT_R_OK), 2);
	/* Dead: a SYN/ACK cannot bring it back. */
	tc_out(&fx, &synack);
	CHECK(!has_live_entry(&fx, &c));
	CHECK_EQ(reason_count(&fx, XCT_R_TCP_INVALID_NEW), 1);
	m = gc_run(&fx);
	CHECK_EQ(m.seen, 1);
	CHECK_EQ(m.deleted, 1);
	CHECK_EQ(table_size(&fx), 0);
	fixture_teardown(&fx);
}

TEST(tcp_dead_entry_not_revived_but_syn_starts_fresh)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow s = reverse(&c);
	struct packet synack =
		tcp_packet(&s, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	struct packet new_syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN + 77777, 0, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &c);
	set_now(&fx, T0 + SEC_NS(432000));
	CHECK(!has_live_entry(&fx, &c));

	tc_out(&fx, &synack);
	CHECK(!has_live_entry(&fx, &c));
	CHECK_EQ(reason_count(&fx, XCT_R_TCP_INVALID_NEW), 1);

	advance(&fx, SEC_NS(2));
	xdp_in(&fx, &new_syn);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK(entry_alive(&fx, &e));
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(e.status, 0);
	CHECK_EQ(e.orig_side, sender_side(&c));
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 0);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], new_syn.l3_len);
	CHECK_EQ(e.bytes[XCT_DIR_REPLY], 0);
	CHECK_EQ(e.first_seen_ns, now_ns(&fx));
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(120));
	CHECK_EQ(table_size(&fx), 1);
	fixture_teardown(&fx);
}

TEST(tcp_dead_entry_taken_over_by_server_syn)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow s = reverse(&c);
	struct packet syn = tcp_packet(&s, XCT_TCPF_SYN, SERVER_ISN, 0, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &c);
	set_now(&fx, T0 + SEC_NS(500000));
	/* The other side opens a connection on the same addresses and ports:
	 * it is the new connection's originator. */
	tc_out(&fx, &syn);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK(entry_alive(&fx, &e));
	CHECK_EQ(e.orig_side, sender_side(&s));
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 0);
	fixture_teardown(&fx);
}

TEST(tcp_midstream_ack_picks_up_connection)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow s = reverse(&c);
	struct packet ack = tcp_packet(&c, XCT_TCPF_ACK, 123456, 654321, 10);
	struct packet reply = tcp_packet(&s, XCT_TCPF_ACK, 654321, 123466, 0);
	struct packet more = tcp_packet(&c, XCT_TCPF_ACK, 123466, 654321, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &ack);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(e.status, 0);
	CHECK_EQ(e.orig_side, sender_side(&c));
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(300));
	CHECK_EQ(e.proto.tcp.seen[0].flags & XCT_TCP_F_BE_LIBERAL, XCT_TCP_F_BE_LIBERAL);
	CHECK_EQ(e.proto.tcp.seen[1].flags & XCT_TCP_F_BE_LIBERAL, XCT_TCP_F_BE_LIBERAL);
	CHECK_EQ(reason_count(&fx, XCT_R_OK), 1);

	advance(&fx, SEC_NS(1));
	tc_out(&fx, &reply);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 1);
	/* SEEN_REPLY is set after the tracker ran: this packet still gets
	 * the short life of an unanswered pickup. */
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(300));

	/* Both ways seen, and on: ASSURED, with the ESTABLISHED timeout. */
	xdp_in(&fx, &more);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 2);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(432000));
	fixture_teardown(&fx);
}

TEST(tcp_tc_ingress_tracks_like_xdp)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tc_in(&fx, &syn);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], syn.l3_len);
	fixture_teardown(&fx);
}

/* ---- Layouts around the transport header ---- */

TEST(vlan_tagged_packets_tracked)
{
	struct flow c1 = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow c2 = make_flow(XCT_IPPROTO_UDP, "2001:db8::1", 5000, "2001:db8::2", 53);
	struct layout one_tag = {.vlan_tags = 1}, two_tags = {.vlan_tags = 2};
	struct packet syn = tcp_packet_layout(&c1, XCT_TCPF_SYN, CLIENT_ISN, 0, 0, &one_tag);
	struct packet dgram = udp_packet_layout(&c2, 30, &two_tags);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	tc_out(&fx, &dgram);
	CHECK_EQ(get_entry(&fx, &c1, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], 52); /* the tag is not layer 3 */
	CHECK_EQ(get_entry(&fx, &c2, &e), 0);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], 40 + 8 + 30);
	CHECK_EQ(reason_count(&fx, XCT_R_OK), 2);
	fixture_teardown(&fx);
}

TEST(ipv4_options_tracked)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct layout opts = {.ipv4_opt_len = 12};
	struct packet syn = tcp_packet_layout(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0, &opts);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], 32 + 32);
	CHECK_EQ(e.proto.tcp.seen[0].flags & XCT_TCP_F_WINDOW_SCALE, XCT_TCP_F_WINDOW_SCALE);
	fixture_teardown(&fx);
}

TEST(first_fragment_tracked)
{
	struct flow c4 = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow c6 = make_flow(XCT_IPPROTO_UDP, "2001:db8::1", 5000, "2001:db8::2", 53);
	struct layout frag4 = {.more_fragments = 1};
	struct layout frag6 = {.ipv6_frag_hdr = 1, .more_fragments = 1};
	struct packet p4 = udp_packet_layout(&c4, 100, &frag4);
	struct packet p6 = udp_packet_layout(&c6, 100, &frag6);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &p4);
	xdp_in(&fx, &p6);
	CHECK_EQ(get_entry(&fx, &c4, &e), 0);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], 20 + 108);
	CHECK_EQ(get_entry(&fx, &c6, &e), 0);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], 40 + 8 + 108);
	CHECK_EQ(counter(&fx, XCT_S_UNTRACKED), 0);
	fixture_teardown(&fx);
}

/* ---- UDP, ICMP, other protocols ---- */

TEST(udp_unreplied_replied_then_stream)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow s = reverse(&c);
	struct packet query = udp_packet(&c, 40);
	struct packet answer = udp_packet(&s, 200);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &query);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, 0);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(30));
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], 20 + 8 + 40);

	advance(&fx, SEC_NS(1));
	tc_out(&fx, &answer);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(30));
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 1);
	CHECK_EQ(e.bytes[XCT_DIR_REPLY], 20 + 8 + 200);

	/* Two seconds after the first packet: not yet a stream. */
	set_now(&fx, T0 + SEC_NS(2));
	xdp_in(&fx, &query);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(30));

	/* Past two seconds: a stream, ASSURED, 120 s. */
	set_now(&fx, T0 + SEC_NS(2) + 1);
	tc_out(&fx, &answer);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(120));
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 2);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 2);
	check_expires_after(&fx, &c, 120);
	fixture_teardown(&fx);
}

TEST(udp_unreplied_times_out_after_30s)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct packet query = udp_packet(&c, 40);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &query);
	check_expires_after(&fx, &c, 30);
	fixture_teardown(&fx);
}

TEST(udp_quick_reply_stays_unassured)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow s = reverse(&c);
	struct packet query = udp_packet(&c, 40);
	struct packet answer = udp_packet(&s, 200);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &query);
	advance(&fx, SEC_NS(1));
	tc_out(&fx, &answer);
	check_expires_after(&fx, &c, 30);
	fixture_teardown(&fx);
}

TEST(icmp_echo_request_reply_30s)
{
	struct flow c = make_flow(XCT_IPPROTO_ICMP, "10.0.0.1", 0x77, "10.0.0.2", 0);
	struct flow s = reverse(&c);
	struct packet request = icmp_packet(&c, 8, 0);
	struct packet reply = icmp_packet(&s, 0, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &request);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.orig_side, 0);
	CHECK_EQ(e.status, 0);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(30));
	advance(&fx, SEC_NS(1));
	tc_out(&fx, &reply);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 1);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], 20 + 64);
	CHECK_EQ(e.bytes[XCT_DIR_REPLY], 20 + 64);
	CHECK_EQ(table_size(&fx), 1);
	check_expires_after(&fx, &c, 30);
	fixture_teardown(&fx);
}

TEST(icmpv6_echo_request_reply_30s)
{
	struct flow c = make_flow(XCT_IPPROTO_ICMPV6, "2001:db8::1", 0x99, "2001:db8::2", 0);
	struct flow s = reverse(&c);
	struct packet request = icmp_packet(&c, 128, 0);
	struct packet reply = icmp_packet(&s, 129, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &request);
	tc_out(&fx, &reply);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 1);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(30));
	fixture_teardown(&fx);
}

TEST(generic_protocol_600s)
{
	struct flow c = make_flow(47 /* GRE */, "10.0.0.1", 0, "10.0.0.2", 0);
	__u8 gre[8] = {0};
	struct packet p = build_packet(&c, gre, sizeof(gre), &plain);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &p);
	check_expires_after(&fx, &c, 600);
	fixture_teardown(&fx);
}

/* ---- ICMP errors ---- */

TEST(icmp_error_related_to_tracked_udp)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct packet query = udp_packet(&c, 40);
	struct packet unreach = icmp_error_packet("10.0.0.2", "10.0.0.1", 3, 3, &query);
	struct xct_ct_entry before, after;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &query);
	CHECK_EQ(get_entry(&fx, &c, &before), 0);
	advance(&fx, SEC_NS(1));
	tc_out(&fx, &unreach);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 1);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 0);
	CHECK_EQ(counter(&fx, XCT_S_ERROR), 0);
	CHECK_EQ(reason_count(&fx, XCT_R_OK), 2);
	CHECK_EQ(get_entry(&fx, &c, &after), 0);
	CHECK(memcmp(&before, &after, sizeof(before)) == 0);
	CHECK_EQ(table_size(&fx), 1);
	fixture_teardown(&fx);
}

TEST(icmpv6_error_related_to_tracked_tcp)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "2001:db8::1", 40000, "2001:db8::2", 443);
	struct packet data = tcp_packet(&c, XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 1400);
	struct packet too_big;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &c);
	/* Packet too big, from a router on the way. */
	too_big = icmp_error_packet("2001:db8:ff::1", "2001:db8::1", 2, 0, &data);
	tc_out(&fx, &too_big);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 1);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 0);
	fixture_teardown(&fx);
}

TEST(icmp_error_related_to_tracked_echo)
{
	struct flow c = make_flow(XCT_IPPROTO_ICMP, "10.0.0.1", 0x42, "10.0.9.9", 0);
	struct packet request = icmp_packet(&c, 8, 0);
	/* Host unreachable, from a router on the way. */
	struct packet unreach = icmp_error_packet("10.0.0.254", "10.0.0.1", 3, 1, &request);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &request);
	tc_out(&fx, &unreach);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 1);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 0);
	CHECK_EQ(table_size(&fx), 1);
	fixture_teardown(&fx);
}

TEST(icmp_error_about_unknown_connection)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow other = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5001, "10.0.0.2", 53);
	struct packet query = udp_packet(&c, 40);
	struct packet unknown = udp_packet(&other, 40);
	struct packet unreach = icmp_error_packet("10.0.0.2", "10.0.0.1", 3, 3, &unknown);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &query);
	tc_out(&fx, &unreach);
	CHECK_EQ(reason_count(&fx, XCT_R_ICMP_ERROR_NO_CONN), 1);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 0);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 1);
	CHECK_EQ(counter(&fx, XCT_S_ERROR), 1);
	CHECK_EQ(table_size(&fx), 1);
	fixture_teardown(&fx);
}

TEST(icmp_error_about_expired_connection)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct packet query = udp_packet(&c, 40);
	struct packet unreach = icmp_error_packet("10.0.0.2", "10.0.0.1", 3, 3, &query);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &query);
	advance(&fx, SEC_NS(30));
	tc_out(&fx, &unreach);
	CHECK_EQ(reason_count(&fx, XCT_R_ICMP_ERROR_NO_CONN), 1);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 0);
	fixture_teardown(&fx);
}

TEST(icmp_error_spoofed)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct packet query = udp_packet(&c, 40);
	/* Addressed to someone else than the quoted packet's sender. */
	struct packet spoofed = icmp_error_packet("10.0.0.2", "10.0.0.9", 3, 3, &query);
	struct xct_ct_entry before, after;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &query);
	CHECK_EQ(get_entry(&fx, &c, &before), 0);
	xdp_in(&fx, &spoofed);
	CHECK_EQ(reason_count(&fx, XCT_R_ICMP_ERROR_SPOOFED), 1);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 0);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 1);
	CHECK_EQ(get_entry(&fx, &c, &after), 0);
	CHECK(memcmp(&before, &after, sizeof(before)) == 0);
	fixture_teardown(&fx);
}

/* ---- Malformed and untrackable packets ---- */

/*
 * Each of these goes through XDP and TC ingress: both must let it pass,
 * count it once under its reason and under its stat, and create nothing.
 */
struct bad_packet {
	struct packet pk;
	enum xct_reason reason;
	int stat; /* XCT_S_INVALID, XCT_S_UNTRACKED, or -1 for none */
};

static void check_bad_packet(const struct bad_packet *b)
{
	struct fixture fx;
	__u64 runs = 2;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &b->pk);
	/* The kernel's test run will not build an skb whose IP header is cut
	 * short, so such a frame only goes through XDP. */
	if (b->pk.len >= b->pk.l3_off + 20)
		tc_in(&fx, &b->pk);
	else
		runs = 1;
	CHECK_EQ(counter(&fx, XCT_S_PACKETS), runs);
	CHECK_EQ(reason_count(&fx, b->reason), runs);
	CHECK_EQ(reason_count(&fx, XCT_R_OK), 0);
	if (b->stat >= 0)
		CHECK_EQ(counter(&fx, b->stat), runs);
	if (b->stat != XCT_S_INVALID)
		CHECK_EQ(counter(&fx, XCT_S_INVALID), 0);
	if (b->stat != XCT_S_UNTRACKED)
		CHECK_EQ(counter(&fx, XCT_S_UNTRACKED), 0);
	CHECK_EQ(counter(&fx, XCT_S_INSERT), 0);
	CHECK_EQ(table_size(&fx), 0);
	fixture_teardown(&fx);
}

static struct flow tcp4(void)
{
	return make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
}

static struct flow tcp6(void)
{
	return make_flow(XCT_IPPROTO_TCP, "2001:db8::1", 40000, "2001:db8::2", 80);
}

static struct flow udp4(void)
{
	return make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
}

static struct packet tcp4_syn(void)
{
	struct flow f = tcp4();

	return tcp_packet(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
}

static struct packet tcp4_flags(__u8 flags)
{
	struct flow f = tcp4();

	return tcp_packet(&f, flags, CLIENT_ISN, 0, 0);
}

#define BAD_PACKET_TEST(name, reason_, stat_)                                                      \
	static struct packet make_##name(void);                                                    \
	TEST(bad_##name)                                                                           \
	{                                                                                          \
		struct bad_packet b = {make_##name(), reason_, stat_};                             \
		check_bad_packet(&b);                                                              \
	}                                                                                          \
	static struct packet make_##name(void)

BAD_PACKET_TEST(ipv4_header_cut_short, XCT_R_IPV4_TRUNCATED, XCT_S_INVALID)
{
	struct packet p = tcp4_syn();

	p.len = p.l3_off + 12;
	return p;
}

BAD_PACKET_TEST(ipv4_total_length_beyond_packet, XCT_R_IPV4_TRUNCATED, XCT_S_INVALID)
{
	struct packet p = tcp4_syn();

	put16(p.data + p.l3_off + 2, p.l3_len + 100);
	return p;
}

BAD_PACKET_TEST(ipv4_options_beyond_packet, XCT_R_IPV4_TRUNCATED, XCT_S_INVALID)
{
	struct packet p = tcp4_syn();

	p.data[p.l3_off] = 0x4f; /* 60-byte header in a 24-byte packet */
	p.len = p.l3_off + 24;
	return p;
}

BAD_PACKET_TEST(ipv4_header_length_below_20, XCT_R_IPV4_BAD_HEADER, XCT_S_INVALID)
{
	struct packet p = tcp4_syn();

	p.data[p.l3_off] = 0x44;
	return p;
}

BAD_PACKET_TEST(ipv4_total_length_below_header, XCT_R_IPV4_BAD_HEADER, XCT_S_INVALID)
{
	struct packet p = tcp4_syn();

	put16(p.data + p.l3_off + 2, 16);
	return p;
}

BAD_PACKET_TEST(ipv4_non_first_fragment, XCT_R_FRAGMENT, XCT_S_UNTRACKED)
{
	struct flow f = udp4();
	struct layout frag = {.frag_offset = 185};

	return udp_packet_layout(&f, 100, &frag);
}

BAD_PACKET_TEST(ipv6_payload_beyond_packet, XCT_R_IPV6_TRUNCATED, XCT_S_INVALID)
{
	struct flow f = tcp6();
	struct packet p = tcp_packet(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);

	put16(p.data + p.l3_off + 4, p.l3_len);
	return p;
}

BAD_PACKET_TEST(ipv6_exthdr_beyond_packet, XCT_R_IPV6_EXTHDR_TRUNCATED, XCT_S_INVALID)
{
	struct flow f = tcp6();
	struct layout ext = {.ipv6_dstopts = 1};
	struct packet p = tcp_packet_layout(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0, &ext);

	p.data[p.l3_off + 40 + 1] = 20; /* 168 bytes of options */
	return p;
}

BAD_PACKET_TEST(ipv6_too_many_exthdrs, XCT_R_IPV6_EXTHDR_TOO_MANY, XCT_S_INVALID)
{
	struct flow f = tcp6();
	struct layout ext = {.ipv6_dstopts = XCT_MAX_IPV6_EXTHDRS + 1};

	return tcp_packet_layout(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0, &ext);
}

BAD_PACKET_TEST(ipv6_non_first_fragment, XCT_R_FRAGMENT, XCT_S_UNTRACKED)
{
	struct flow f = make_flow(XCT_IPPROTO_UDP, "2001:db8::1", 5000, "2001:db8::2", 53);
	struct layout frag = {.ipv6_frag_hdr = 1, .frag_offset = 181};

	return udp_packet_layout(&f, 100, &frag);
}

BAD_PACKET_TEST(tcp_header_cut_short, XCT_R_L4_TRUNCATED, XCT_S_INVALID)
{
	struct packet p = tcp4_flags(XCT_TCPF_ACK);

	p.len = p.l4_off + 12;
	put16(p.data + p.l3_off + 2, 20 + 12);
	return p;
}

BAD_PACKET_TEST(tcp_data_offset_below_20, XCT_R_TCP_BAD_DOFF, XCT_S_INVALID)
{
	struct packet p = tcp4_flags(XCT_TCPF_ACK);

	p.data[p.l4_off + 12] = 4 << 4;
	return p;
}

BAD_PACKET_TEST(tcp_data_offset_beyond_segment, XCT_R_TCP_BAD_DOFF, XCT_S_INVALID)
{
	struct packet p = tcp4_flags(XCT_TCPF_ACK);

	p.data[p.l4_off + 12] = 15 << 4;
	return p;
}

BAD_PACKET_TEST(tcp_syn_fin, XCT_R_TCP_BAD_FLAGS, XCT_S_INVALID)
{
	return tcp4_flags(XCT_TCPF_SYN | XCT_TCPF_FIN);
}

BAD_PACKET_TEST(tcp_syn_rst, XCT_R_TCP_BAD_FLAGS, XCT_S_INVALID)
{
	return tcp4_flags(XCT_TCPF_SYN | XCT_TCPF_RST);
}

BAD_PACKET_TEST(tcp_null_flags, XCT_R_TCP_BAD_FLAGS, XCT_S_INVALID)
{
	return tcp4_flags(0);
}

BAD_PACKET_TEST(tcp_xmas, XCT_R_TCP_BAD_FLAGS, XCT_S_INVALID)
{
	return tcp4_flags(XCT_TCPF_FIN | XCT_TCPF_PSH | XCT_TCPF_URG);
}

BAD_PACKET_TEST(tcp_bare_fin, XCT_R_TCP_BAD_FLAGS, XCT_S_INVALID)
{
	return tcp4_flags(XCT_TCPF_FIN);
}

BAD_PACKET_TEST(tcp_fin_ack_opens_nothing, XCT_R_TCP_INVALID_NEW, XCT_S_INVALID)
{
	return tcp4_flags(XCT_TCPF_FIN | XCT_TCPF_ACK);
}

BAD_PACKET_TEST(tcp_synack_opens_nothing, XCT_R_TCP_INVALID_NEW, XCT_S_INVALID)
{
	return tcp4_flags(XCT_TCPF_SYN | XCT_TCPF_ACK);
}

BAD_PACKET_TEST(udp_length_below_8, XCT_R_UDP_BAD_LENGTH, XCT_S_INVALID)
{
	struct flow f = udp4();
	struct packet p = udp_packet(&f, 20);

	put16(p.data + p.l4_off + 4, 4);
	return p;
}

BAD_PACKET_TEST(udp_length_beyond_packet, XCT_R_UDP_BAD_LENGTH, XCT_S_INVALID)
{
	struct flow f = udp4();
	struct packet p = udp_packet(&f, 20);

	put16(p.data + p.l4_off + 4, 29);
	return p;
}

BAD_PACKET_TEST(icmp_type_unknown, XCT_R_ICMP_BAD_TYPE, XCT_S_INVALID)
{
	struct flow f = make_flow(XCT_IPPROTO_ICMP, "10.0.0.1", 1, "10.0.0.2", 0);

	return icmp_packet(&f, 40, 0);
}

BAD_PACKET_TEST(icmp_echo_reply_opens_nothing, XCT_R_ICMP_INVALID_NEW, XCT_S_INVALID)
{
	struct flow f = make_flow(XCT_IPPROTO_ICMP, "10.0.0.1", 1, "10.0.0.2", 0);

	return icmp_packet(&f, 0, 0);
}

BAD_PACKET_TEST(icmp_error_quote_cut_short, XCT_R_ICMP_ERROR_TRUNCATED, XCT_S_INVALID)
{
	struct flow f = udp4();
	struct packet q = udp_packet(&f, 20);
	struct packet p = icmp_error_packet("10.0.0.2", "10.0.0.1", 3, 3, &q);

	/* Only 12 bytes of the quoted IP header are left. */
	p.len = p.l4_off + 8 + 12;
	put16(p.data + p.l3_off + 2, 20 + 8 + 12);
	return p;
}

BAD_PACKET_TEST(icmpv6_neighbour_solicitation, XCT_R_ICMPV6_NEIGHBOUR, XCT_S_UNTRACKED)
{
	struct flow f = make_flow(XCT_IPPROTO_ICMPV6, "fe80::1", 0, "ff02::1:ff00:2", 0);

	return icmp_packet(&f, 135, 0);
}

BAD_PACKET_TEST(vlan_three_tags, XCT_R_VLAN_TOO_DEEP, XCT_S_INVALID)
{
	struct flow f = tcp4();
	struct layout tags = {.vlan_tags = 3};

	return tcp_packet_layout(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0, &tags);
}

BAD_PACKET_TEST(vlan_tag_cut_short, XCT_R_VLAN_TRUNCATED, XCT_S_INVALID)
{
	struct packet p = {.len = 16};

	build_eth(p.data, XCT_ETH_P_IP, 1);
	put16(p.data + 12, XCT_ETH_P_8021Q);
	return p;
}

BAD_PACKET_TEST(arp_not_ip, XCT_R_NOT_IP, -1)
{
	struct packet p = {.len = 42};

	build_eth(p.data, 0x0806, 0);
	return p;
}

/* ---- TC egress and forwarded packets ---- */

TEST(tc_egress_skips_packets_forwarded_from_watched_interface)
{
	struct flow c1 = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow c2 = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5001, "10.0.0.2", 53);
	struct flow c3 = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5002, "10.0.0.2", 53);
	struct packet p1 = udp_packet(&c1, 10), p2 = udp_packet(&c2, 10), p3 = udp_packet(&c3, 10);
	struct xct_iface iface = {.mode = XCT_MODE_NATIVE};
	__u32 watched = 7;
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	CHECK_EQ(bpf_map_update_elem(bpf_map__fd(fx.skel->maps.xct_ifaces), &watched, &iface,
				     BPF_ANY),
		 0);
	/* Tracked at its ingress already: not looked at again. */
	tc_out_from(&fx, &p1, watched);
	CHECK_EQ(counter(&fx, XCT_S_PACKETS), 0);
	CHECK_EQ(get_entry(&fx, &c1, &e), -ENOENT);
	/* Locally sent. */
	tc_out_from(&fx, &p2, 0);
	CHECK_EQ(get_entry(&fx, &c2, &e), 0);
	/* Forwarded from an interface xct does not watch. */
	tc_out_from(&fx, &p3, watched + 1);
	CHECK_EQ(get_entry(&fx, &c3, &e), 0);
	CHECK_EQ(counter(&fx, XCT_S_PACKETS), 2);
	CHECK_EQ(table_size(&fx), 2);
	fixture_teardown(&fx);
}

/* ---- The table and its collector ---- */

TEST(gc_run_deletes_expired_keeps_live)
{
	struct flow u1 = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow u2 = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5001, "10.0.0.2", 53);
	struct flow t = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet p1 = udp_packet(&u1, 10), p2 = udp_packet(&u2, 10);
	struct xct_ctl_msg m;
	struct xct_gc gc;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &p1);
	xdp_in(&fx, &p2);
	tcp_handshake(&fx, &t);
	CHECK_EQ(table_size(&fx), 3);

	m = gc_run(&fx);
	CHECK_EQ(m.seen, 3);
	CHECK_EQ(m.deleted, 0);
	CHECK_EQ(m.early_dropped, 0);

	advance(&fx, SEC_NS(30));
	m = gc_run(&fx);
	CHECK_EQ(m.seen, 3);
	CHECK_EQ(m.deleted, 2);
	CHECK_EQ(m.early_dropped, 0);
	CHECK_EQ(table_size(&fx), 1);
	CHECK(has_live_entry(&fx, &t));
	CHECK_EQ(counter(&fx, XCT_S_GC_RUNS), 2);
	CHECK_EQ(counter(&fx, XCT_S_EXPIRED), 2);
	gc = read_gc(&fx);
	CHECK_EQ(gc.last_run_ns, now_ns(&fx));
	CHECK_EQ(gc.last_seen, 3);
	CHECK_EQ(gc.last_deleted, 2);

	/* A flow that was deleted starts over as a new connection. */
	xdp_in(&fx, &p1);
	CHECK(has_live_entry(&fx, &u1));
	CHECK_EQ(table_size(&fx), 2);
	fixture_teardown(&fx);
}

TEST(ctl_rejects_unknown_command)
{
	struct xct_ctl_msg m;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	m = ctl(&fx, 99);
	CHECK_EQ(m.ret, -EINVAL);
	fixture_teardown(&fx);
}

TEST(table_full_counts_insert_failed)
{
	struct flow flows[5];
	struct xct_ct_entry e;
	struct xct_ctl_msg m;
	struct fixture fx;
	int i;

	if (!fixture_setup(&fx, 4))
		return;
	for (i = 0; i < 5; i++) {
		struct packet p;

		flows[i] = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000 + i, "10.0.0.2", 53);
		p = udp_packet(&flows[i], 10);
		xdp_in(&fx, &p);
	}
	CHECK_EQ(table_size(&fx), 4);
	CHECK_EQ(counter(&fx, XCT_S_INSERT), 4);
	CHECK_EQ(counter(&fx, XCT_S_INSERT_FAILED), 1);
	CHECK_EQ(counter(&fx, XCT_S_DROP), 1);
	CHECK_EQ(reason_count(&fx, XCT_R_TABLE_FULL), 1);
	CHECK_EQ(counter(&fx, XCT_S_UNTRACKED), 1);
	for (i = 0; i < 4; i++) {
		CHECK_EQ(get_entry(&fx, &flows[i], &e), 0);
		CHECK(entry_alive(&fx, &e));
		CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	}
	CHECK_EQ(get_entry(&fx, &flows[4], &e), -ENOENT);

	/* The failure asked the GC for room: its next run early-drops the
	 * unassured entries, and the fifth flow then gets in. */
	CHECK_EQ(read_gc(&fx).pressure, 1);
	m = gc_run(&fx);
	CHECK_EQ(m.early_dropped, 4);
	CHECK_EQ(read_gc(&fx).pressure, 0);
	{
		struct packet p = udp_packet(&flows[4], 10);

		xdp_in(&fx, &p);
	}
	CHECK(has_live_entry(&fx, &flows[4]));
	fixture_teardown(&fx);
}

TEST(gc_pressure_early_drops_only_unassured_or_closing)
{
	struct flow est = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow closing = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40001, "10.0.0.2", 80);
	struct flow syn_sent = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40002, "10.0.0.2", 80);
	struct flow udp_new = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow udp_stream = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5001, "10.0.0.2", 53);
	struct flow udp_stream_r = reverse(&udp_stream);
	struct packet syn = tcp_packet(&syn_sent, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct packet u1 = udp_packet(&udp_new, 10);
	struct packet s1 = udp_packet(&udp_stream, 10), s2 = udp_packet(&udp_stream_r, 10);
	struct xct_ct_entry e;
	struct xct_ctl_msg m;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &est);
	tcp_close_to(&fx, &closing, XCT_TCP_FIN_WAIT);
	xdp_in(&fx, &syn);
	xdp_in(&fx, &u1);
	xdp_in(&fx, &s1);
	advance(&fx, SEC_NS(3));
	tc_out(&fx, &s2);
	xdp_in(&fx, &s1); /* SEEN_REPLY already, past 2 s: a stream */
	CHECK_EQ(get_entry(&fx, &udp_stream, &e), 0);
	CHECK_EQ(e.status & XCT_CT_ASSURED, XCT_CT_ASSURED);
	CHECK_EQ(get_entry(&fx, &closing, &e), 0);
	CHECK_EQ(e.status & XCT_CT_ASSURED, XCT_CT_ASSURED);
	CHECK_EQ(table_size(&fx), 5);

	/* Without pressure nothing live goes. */
	m = gc_run(&fx);
	CHECK_EQ(m.deleted + m.early_dropped, 0);

	set_gc_pressure(&fx, 1);
	m = gc_run(&fx);
	CHECK_EQ(m.seen, 5);
	CHECK_EQ(m.deleted, 0);
	CHECK_EQ(m.early_dropped, 3);
	CHECK_EQ(counter(&fx, XCT_S_EARLY_DROP), 3);
	CHECK_EQ(counter(&fx, XCT_S_EXPIRED), 0);
	CHECK(has_live_entry(&fx, &est));
	CHECK(has_live_entry(&fx, &udp_stream));
	CHECK_EQ(get_entry(&fx, &closing, &e), -ENOENT);
	CHECK_EQ(get_entry(&fx, &syn_sent, &e), -ENOENT);
	CHECK_EQ(get_entry(&fx, &udp_new, &e), -ENOENT);
	CHECK_EQ(read_gc(&fx).pressure, 0);
	CHECK_EQ(read_gc(&fx).interval_ns, XCT_GC_INTERVAL_MIN_NS);
	fixture_teardown(&fx);
}

int main(int argc, char **argv)
{
	atexit(datapaths_destroy);
	return check_main(argc, argv);
}
