/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The fixture of the BPF tests (fixture.c): the compiled datapath loaded
 * with a fake clock and its maps pinned in a directory of their own, reset
 * to the state of a fresh load before each test; crafted frames; and the
 * entry programs run on them with BPF_PROG_TEST_RUN.
 */
#ifndef XCT_TEST_BPF_FIXTURE_H
#define XCT_TEST_BPF_FIXTURE_H

#include <stdarg.h>
#include <linux/bpf.h>
#include <bpf/libbpf.h>

#include "xct/abi.h"
#include "xct/tuple.h"
#include "xct/nat.h"
#include "xct/timeouts.h" /* the skeleton names struct xct_tunables */
#include "xct.skel.h"
#include "check.h"

#define NS_PER_SEC  1000000000ULL
#define SEC_NS(s)   ((__u64)(s)*NS_PER_SEC)
#define BPFFS_ROOT  "/sys/fs/bpf"
#define BPFFS_MAGIC 0xcafe4a11
/* Where the fake clock starts: far from 0, which xct uses for "dead". */
#define T0 SEC_NS(1000)

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
extern struct datapath datapaths[MAX_DATAPATHS];

struct fixture {
	struct xct_bpf *skel;
	const char *pin_dir; /* where its maps are pinned */
	int ct_fd;
	int counters_fd;
	int ncpus;
};

/* One direction of a connection; ports in host order.  For ICMP, sport is
 * the identifier and icmp_type the query type. */
struct flow {
	__u8 family;
	__u8 proto;
	__u8 icmp_type;
	union xct_addr src, dst;
	__u16 sport, dport;
};

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

#define TCP_WSCALE     7
#define TCP_SYN_WINDOW 64240
#define TCP_WINDOW     502 /* 64256 bytes once scaled */

#define CLIENT_ISN     1000
#define SERVER_ISN     5000

struct handshake {
	__u64 orig_bytes;
	__u64 reply_bytes;
};

extern const struct layout plain;

int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list args);
int ensure_bpffs(void);
void remove_pin_dir(const char *dir);
void datapaths_destroy(void);
struct xct_bpf *datapath_load(struct datapath *dp, __u32 max_entries);
void map_delete_all(int fd, void *key, void *next);
int fixture_reset(struct fixture *fx);
int fixture_setup(struct fixture *fx, __u32 max_entries);
void fixture_teardown(struct fixture *fx);
__u64 now_ns(struct fixture *fx);
void ct_events_subscribe(struct fixture *fx);
/* Takes the queued connection events (up to max into out); how many there
 * were. */
int ct_events_read(struct fixture *fx, struct xct_ct_event *out, int max);
void set_now(struct fixture *fx, __u64 ns);
void advance(struct fixture *fx, __u64 ns);
__u64 counter(struct fixture *fx, __u32 slot);
__u64 reason_count(struct fixture *fx, enum xct_reason r);
/* Packets the policy dropped with reason r (xct_drops_total). */
__u64 drop_count(struct fixture *fx, enum xct_reason r);
int table_size(struct fixture *fx);
struct flow make_flow(__u8 proto, const char *src, __u16 sport, const char *dst, __u16 dport);
struct flow reverse(const struct flow *f);
void flow_key(const struct flow *f, struct xct_ct_key *key, __u8 *side);
int get_entry(struct fixture *fx, const struct flow *f, struct xct_ct_entry *e);
__u8 sender_side(const struct flow *f);
int entry_alive(struct fixture *fx, const struct xct_ct_entry *e);
int has_live_entry(struct fixture *fx, const struct flow *f);
void put16(__u8 *p, __u16 v);
void put32(__u8 *p, __u32 v);
__u32 build_eth(__u8 *p, __u16 ethertype, int vlan_tags);
struct packet build_packet(const struct flow *f, const __u8 *l4, __u32 l4_len,
			   const struct layout *lay);
struct packet tcp_packet_layout(const struct flow *f, __u8 flags, __u32 seq, __u32 ack,
				__u32 payload_len, const struct layout *lay);
struct packet tcp_packet(const struct flow *f, __u8 flags, __u32 seq, __u32 ack, __u32 payload_len);
struct packet udp_packet_layout(const struct flow *f, __u32 payload_len, const struct layout *lay);
struct packet udp_packet(const struct flow *f, __u32 payload_len);
struct packet icmp_packet(const struct flow *f, __u8 type, __u8 code);
struct packet icmp_error_packet(const char *from, const char *to, __u8 type, __u8 code,
				const struct packet *q);
void insert_exthdr(struct packet *p, __u8 type, const __u8 *hdr, __u32 len);
int run_prog(struct bpf_program *prog, const void *data, __u32 len, struct __sk_buff *skb,
	     void *out, __u32 out_len);
void xdp_in(struct fixture *fx, const struct packet *pk);
int xdp_handoff(struct fixture *fx, const struct packet *pk, struct packet *out);
void tc_in(struct fixture *fx, const struct packet *pk);
void tc_out_from(struct fixture *fx, const struct packet *pk, __u32 ingress_ifindex);
void tc_out(struct fixture *fx, const struct packet *pk);
struct xct_ctl_msg ctl(struct fixture *fx, __u16 cmd);
struct xct_ctl_msg gc_run(struct fixture *fx);
struct xct_gc read_gc(struct fixture *fx);
void set_gc_pressure(struct fixture *fx, __u64 pressure);
struct handshake tcp_handshake(struct fixture *fx, const struct flow *c);
void check_tcp(struct fixture *fx, const struct flow *c, __u8 state, __u64 timeout_s);
void check_expires_after(struct fixture *fx, const struct flow *c, __u64 timeout_s);

#endif /* XCT_TEST_BPF_FIXTURE_H */
