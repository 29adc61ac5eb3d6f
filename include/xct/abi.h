/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The layouts that the datapath and the xct command both see: the
 * connection table's key and entry, the counters, the reason codes and the
 * interface registry.  Everything here is plain __u* types with explicit
 * padding, so that a key built in BPF and a key built by the CLI compare
 * equal byte for byte.
 */
#ifndef XCT_ABI_H
#define XCT_ABI_H

#include <linux/types.h>
#include <linux/bpf.h> /* struct bpf_spin_lock, struct bpf_timer */

#define XCT_PIN_PATH_DEFAULT	"/sys/fs/bpf/xct"
#define XCT_MAX_ENTRIES_DEFAULT 262144
/* Fragmented datagrams in flight whose first fragment was decided, per
 * verdict (bpf/maps.h xct_frags): as many as Cilium's fragment map holds. */
#define XCT_FRAGS_MAX 8192

/* Address families, with the values nf_conntrack prints ("ipv4 2"). */
#define XCT_AF_INET  2
#define XCT_AF_INET6 10

enum xct_dir {
	XCT_DIR_ORIGINAL = 0,
	XCT_DIR_REPLY = 1,
};

/* An IPv4 address sits in v4 with the other 12 bytes zero. Network order. */
union xct_addr {
	__u32 v4;
	__u32 v6[4];
	__u8 bytes[16];
};

/*
 * The table key is canonical: one key per connection whatever the direction
 * of the packet, so one lookup finds the entry from both sides.
 *
 * TCP, UDP and other protocols: side 0 is the (address, port) pair that
 * compares lower, side 1 the other; the entry's orig_side says which side
 * opened the connection.
 *
 * ICMP and ICMPv6 queries: the type already says who asked, so side 0 is
 * always the requester; port[0] holds the identifier and port[1] the
 * request's type << 8 | code (a reply is mapped to its request type), which
 * keeps an echo and a timestamp query with the same id apart, as the
 * kernel's (type, code, id) tuple does.
 */
struct xct_ct_key {
	union xct_addr addr[2];
	__u16 port[2]; /* network order for TCP/UDP; host order for ICMP */
	__u8 family;
	__u8 proto;
	/* The conntrack zone (struct xct_pkt's): 0, the default zone, keeps
	 * the keys of an xct that had no zones bit for bit. */
	__u16 zone;
};

/* TCP per-direction window state, as in nf_conntrack's ip_ct_tcp_state. */
struct xct_tcp_peer {
	__u32 td_end;	 /* max of seq + len */
	__u32 td_maxend; /* max of ack + max(win, 1) */
	__u32 td_maxwin; /* max(win) */
	__u32 td_maxack; /* max of ack */
	__u8 td_scale;	 /* window scale factor */
	__u8 flags;	 /* XCT_TCP_F_* */
	__u16 pad;
};

/* Per-direction TCP flags; the values are nf_conntrack's. */
#define XCT_TCP_F_WINDOW_SCALE	      0x01
#define XCT_TCP_F_SACK_PERM	      0x02
#define XCT_TCP_F_CLOSE_INIT	      0x04
#define XCT_TCP_F_BE_LIBERAL	      0x08
#define XCT_TCP_F_DATA_UNACKNOWLEDGED 0x10
#define XCT_TCP_F_MAXACK_SET	      0x20
#define XCT_TCP_F_EXP_CHALLENGE_ACK   0x40
#define XCT_TCP_F_SIMULTANEOUS_OPEN   0x80

struct xct_tcp_ct {
	struct xct_tcp_peer seen[2]; /* indexed by enum xct_dir */
	/* What the last packet looked like, for the resync, RST and
	 * retransmission rules. */
	__u32 last_seq;
	__u32 last_ack;
	__u32 last_end;
	__u16 last_win;
	__u8 last_dir;
	__u8 last_index;  /* enum xct_tcp_index */
	__u8 last_wscale; /* window scale of an ignored SYN */
	__u8 last_flags;  /* XCT_TCP_F_* of an ignored SYN, and the
			   * SIMULTANEOUS_OPEN / EXP_CHALLENGE_ACK marks */
	__u8 retrans;
	__u8 pad;
};

/* Connection status bits; the values are the kernel's IPS_* bits. */
#define XCT_CT_SEEN_REPLY 0x0002
#define XCT_CT_ASSURED	  0x0004
/*
 * xct's own, in the place of the kernel's IPS_NAT_CLASH (never set on an
 * xct entry otherwise): the connection came back without its recent
 * history, restored by xct ct restore or committed from a failed peer's
 * table, so the sequence numbers moved on while nothing tracked them.  Its
 * TCP window check is relaxed (BE_LIBERAL both ways, the windows relearnt
 * from the next packets, as conntrackd's commit makes the kernel do) until
 * both directions have been seen again: then the tracker clears the bit and
 * the connection is checked as any other (xct_tcp_packet()).
 */
#define XCT_CT_LIBERAL 0x1000
/* xct's own, in the place of the kernel's IPS_TEMPLATE (a template never
 * sits in xct's table): the connection has labels in xct_ct_labels
 * (bpf/maps.h), so that deleting it looks there only when there is
 * something to free. */
#define XCT_CT_LABELS 0x0800
/*
 * xct's own, in the place of the kernel's IPS_HELPER (xct runs no helper):
 * a packet of the connection was tracked at egress, i.e. sent by this host
 * (or forwarded from an interface xct does not watch).  Only such a
 * connection can have an owner (include/xct/owner.h), so the owner is
 * looked up and removed only for these, and forwarded traffic pays nothing
 * for owners being recorded.
 */
#define XCT_CT_LOCAL 0x2000
/*
 * xct's own, in the place of the kernel's IPS_SEQ_ADJUST (xct adjusts no
 * sequence numbers):
 * a TCP connection whose window scale factors are unknown, committed from
 * a peer's message without NTA_TCP_WSCALE_* (conntrackd sends them only
 * with TCPWindowTracking on).  Its window fields cannot be read, so its
 * window check stays relaxed (BE_LIBERAL both ways) for good once
 * XCT_CT_LIBERAL ends, as nf_conntrack keeps the BE_LIBERAL that
 * conntrackd's commit sets.
 */
#define XCT_CT_SCALE_UNKNOWN 0x0040
/* xct's own: the connection's NEW waits for its NAT decision, after
 * routing, so that it shows the translated reply tuple as conntrack -E's
 * does (see bpf/ct_events.h). */
#define XCT_CT_NEW_PENDING 0x4000
/* xct's own: the GC claimed this entry and is about to delete it, so no
 * packet may bring it back to life (see bpf/ct_table.h). */
#define XCT_CT_DYING 0x8000

struct xct_ct_entry {
	struct bpf_spin_lock lock; /* guards every field below */
	__u8 state;		   /* enum xct_tcp_state for TCP, 0 otherwise */
	__u8 orig_side;		   /* key side that sent the first packet */
	__u16 status;		   /* XCT_CT_* */
	__u32 mark;
	__u32 seq;	     /* bumped by every committed update (bpf/ct_table.h) */
	__u64 first_seen_ns; /* monotonic clock (bpf_ktime_get_ns) */
	__u64 last_seen_ns;
	__u64 expires_ns; /* the entry is dead from this instant on */
	__u64 packets[2]; /* by enum xct_dir */
	__u64 bytes[2];	  /* layer-3 bytes, as nf_conntrack counts them */
	union {
		struct xct_tcp_ct tcp;
		struct {
			/* Before this instant a UDP flow does not become
			 * ASSURED (nf_conntrack's stream_ts). */
			__u64 stream_ns;
		} udp;
	} proto;
	/* The key the entry was created under (xct_key_ident()), set once:
	 * the table recycles a deleted entry's memory at once, so whoever
	 * found an entry checks under its lock that it is still the
	 * connection it looked up (bpf/ct_table.h). */
	__u32 ident;
	__u32 pad;
};

/* TCP states, in nf_conntrack's order (tcp_conntrack_names[]). */
enum xct_tcp_state {
	XCT_TCP_NONE = 0,
	XCT_TCP_SYN_SENT,
	XCT_TCP_SYN_RECV,
	XCT_TCP_ESTABLISHED,
	XCT_TCP_FIN_WAIT,
	XCT_TCP_CLOSE_WAIT,
	XCT_TCP_LAST_ACK,
	XCT_TCP_TIME_WAIT,
	XCT_TCP_CLOSE,
	XCT_TCP_SYN_SENT2,
	XCT_TCP_STATE_COUNT,
};

/* The packet's class for the state table (get_conntrack_index()). */
enum xct_tcp_index {
	XCT_TCP_SYN_SET = 0,
	XCT_TCP_SYNACK_SET,
	XCT_TCP_FIN_SET,
	XCT_TCP_ACK_SET,
	XCT_TCP_RST_SET,
	XCT_TCP_NONE_SET,
};

/* What the tracker says about a packet, for counters and (later) policy. */
enum xct_ct_state {
	XCT_CTS_NEW = 0,
	XCT_CTS_ESTABLISHED,
	XCT_CTS_RELATED,
	XCT_CTS_INVALID,
	XCT_CTS_UNTRACKED,
};

/*
 * Why a packet is what it is.  One table, shared by the datapath (which
 * counts by code) and the CLI (which prints the name and the explanation).
 * Codes only ever get appended: they are the index of a pinned per-CPU array.
 */
#define XCT_REASONS(X)                                                                             \
	X(OK, "ok", "tracked normally")                                                            \
	X(NOT_IP, "not_ip", "neither IPv4 nor IPv6 (ARP, LLDP...): not tracked")                   \
	X(ETH_TRUNCATED, "eth_truncated", "shorter than an Ethernet header")                       \
	X(VLAN_TRUNCATED, "vlan_truncated", "VLAN tag cut short")                                  \
	X(VLAN_TOO_DEEP, "vlan_too_deep", "more than two VLAN tags")                               \
	X(IPV4_TRUNCATED, "ipv4_truncated", "IPv4 header or total length beyond the packet")       \
	X(IPV4_BAD_HEADER, "ipv4_bad_header", "IPv4 version, header length or total length wrong") \
	X(IPV6_TRUNCATED, "ipv6_truncated", "IPv6 header or payload length beyond the packet")     \
	X(IPV6_EXTHDR_TRUNCATED, "ipv6_exthdr_truncated", "IPv6 extension header cut short")       \
	X(IPV6_EXTHDR_TOO_MANY, "ipv6_exthdr_too_many",                                            \
	  "IPv6 extension-header chain longer than a packet holds: dropped whatever the rules")    \
	X(FRAGMENT, "fragment",                                                                    \
	  "later fragment of a datagram whose first was accepted: passes with it")                 \
	X(L4_TRUNCATED, "l4_truncated", "transport header cut short")                              \
	X(TCP_BAD_DOFF, "tcp_bad_doff", "TCP data offset below 20 or beyond the segment")          \
	X(TCP_BAD_FLAGS, "tcp_bad_flags",                                                          \
	  "TCP flag combination no stack sends (NULL, XMAS, SYN+FIN...)")                          \
	X(TCP_INVALID_NEW, "tcp_invalid_new",                                                      \
	  "TCP packet that cannot open a connection (not SYN, nor ACK for pickup)")                \
	X(TCP_INVALID_STATE, "tcp_invalid_state",                                                  \
	  "TCP packet not valid in the connection's state")                                        \
	X(TCP_SEQ_OVER_WINDOW, "tcp_seq_over_window", "TCP sequence beyond the receiver's window") \
	X(TCP_ACK_OVER_WINDOW, "tcp_ack_over_window", "TCP acknowledges data never sent")          \
	X(TCP_INVALID_RST, "tcp_invalid_rst", "TCP RST with a sequence number below the window")   \
	X(TCP_IGNORED, "tcp_ignored",                                                              \
	  "TCP packet let through without a state change (resync, retransmit)")                    \
	X(UDP_BAD_LENGTH, "udp_bad_length",                                                        \
	  "UDP length field shorter than 8 or beyond the packet")                                  \
	X(ICMP_BAD_TYPE, "icmp_bad_type", "ICMP type unknown to the tracker")                      \
	X(ICMP_INVALID_NEW, "icmp_invalid_new",                                                    \
	  "ICMP reply or message that cannot open a connection")                                   \
	X(ICMP_ERROR_NO_CONN, "icmp_error_no_conn",                                                \
	  "ICMP error about a connection not in the table")                                        \
	X(ICMP_ERROR_SPOOFED, "icmp_error_spoofed",                                                \
	  "ICMP error not addressed to the sender of the packet it quotes")                        \
	X(ICMP_ERROR_TRUNCATED, "icmp_error_truncated",                                            \
	  "ICMP error quoting a packet cut too short")                                             \
	X(ICMPV6_NEIGHBOUR, "icmpv6_neighbour",                                                    \
	  "ICMPv6 neighbour discovery or MLD: not tracked, as in nf_conntrack")                    \
	X(TABLE_FULL, "table_full", "connection table full: not tracked, invalid for the policy")  \
	X(TABLE_BUSY, "table_busy",                                                                \
	  "entry being deleted, or contended by other CPUs: invalid for the policy")               \
	X(INSERT_ERROR, "insert_error",                                                            \
	  "map insert failed for another reason: invalid for the policy")                          \
	X(NOTRACK, "notrack", "a notrack rule exempted it from tracking")                          \
	X(NAT_NO_TUPLE, "nat_no_tuple",                                                            \
	  "NAT: every translated port of the range is taken: new connection dropped")              \
	X(NAT_NO_ADDRESS, "nat_no_address",                                                        \
	  "masquerade: the outgoing interface has no address towards the destination")             \
	X(NAT_TABLE_FULL, "nat_table_full",                                                        \
	  "NAT: no room for the translation: new connection dropped")                              \
	X(HANDOFF_FORGED, "handoff_forged",                                                        \
	  "arrived tagged with VLAN id 4095, xct's XDP-to-TC hand-off: dropped")                   \
	X(FRAG_TINY, "frag_tiny",                                                                  \
	  "first fragment without its whole transport header (or IPv6 header chain): its "         \
	  "ports are hidden, so it is dropped whatever the rules")                                 \
	X(FRAG_NO_FIRST, "frag_no_first",                                                          \
	  "later fragment of a datagram whose first fragment was not seen (or was forgotten)")     \
	X(FRAG_FIRST_DROPPED, "frag_first_dropped",                                                \
	  "later fragment of a datagram whose first fragment was dropped")                         \
	X(ICMPV6_ND_INVALID, "icmpv6_nd_invalid",                                                  \
	  "ICMPv6 neighbour discovery not link-local (hop limit not 255), bad code or too short")  \
	X(ICMPV6_MLD_INVALID, "icmpv6_mld_invalid",                                                \
	  "MLD or multicast router discovery not link-local (hop limit, source) or too short")     \
	X(INTERNAL_ERROR, "internal_error",                                                        \
	  "the datapath could not decide the packet (a per-CPU scratch or helper failed)")         \
	X(TAIL_CALL_FAILED, "tail_call_failed",                                                    \
	  "the program the packet had to be handed to is missing")

#define XCT_REASON_ENUM(name, str, why) XCT_R_##name,
enum xct_reason {
	XCT_REASONS(XCT_REASON_ENUM) XCT_R_COUNT,
};
#undef XCT_REASON_ENUM

/*
 * Per-CPU counters in the style of conntrack -S; the first block has
 * nf_conntrack's names and meanings.  search_restart and chaintoolong stay
 * 0: the BPF hash table has no nulls restarts and no chain cap.
 * early_drop counts every live entry dropped to make room, by an insert
 * into a full table or by the GC under pressure; early_drop_unreplied and
 * early_drop_replied split the insert-time ones by what the victim had
 * seen (bpf/ct_table.h, "Table full").  A dead entry reclaimed by an
 * insert counts in expired, as the GC would have counted it.  fast counts
 * the packets the established fast path decided (bpf/fast.h), which are
 * counted in found and packets too.  liberal_end counts the restored or
 * committed connections (XCT_CT_LIBERAL) that saw both directions again and
 * went back to the full window check.
 */
#define XCT_STATS(X)                                                                               \
	X(FOUND, "found")                                                                          \
	X(INVALID, "invalid")                                                                      \
	X(IGNORE, "ignore")                                                                        \
	X(INSERT, "insert")                                                                        \
	X(INSERT_FAILED, "insert_failed")                                                          \
	X(DROP, "drop")                                                                            \
	X(EARLY_DROP, "early_drop")                                                                \
	X(ERROR, "error")                                                                          \
	X(SEARCH_RESTART, "search_restart")                                                        \
	X(CLASH_RESOLVE, "clash_resolve")                                                          \
	X(CHAINTOOLONG, "chaintoolong")                                                            \
	X(PACKETS, "packets")                                                                      \
	X(RELATED, "related")                                                                      \
	X(UNTRACKED, "untracked")                                                                  \
	X(EXPIRED, "expired")                                                                      \
	X(GC_RUNS, "gc_runs")                                                                      \
	X(POLICY_DROP, "policy_drop")                                                              \
	X(POLICY_REJECT, "policy_reject")                                                          \
	X(REJECT_ERROR, "reject_error")                                                            \
	X(LOG_EVENTS, "log_events")                                                                \
	X(LOG_SAMPLED_OUT, "log_sampled_out")                                                      \
	X(EVENTS_LOST, "events_lost")                                                              \
	X(EARLY_DROP_UNREPLIED, "early_drop_unreplied")                                            \
	X(EARLY_DROP_REPLIED, "early_drop_replied")                                                \
	X(DROP_EVENTS_LOST, "drop_events_lost")                                                    \
	X(CT_EVENTS, "ct_events")                                                                  \
	X(CT_EVENTS_LOST, "ct_events_lost")                                                        \
	X(NAT_BOUND, "nat_bound")                                                                  \
	X(FAST, "fast")                                                                            \
	X(CT_EVENTS_NO_READER, "ct_events_no_reader")                                              \
	X(LIBERAL_END, "liberal_end")

#define XCT_STAT_ENUM(name, str) XCT_S_##name,
enum xct_stat {
	XCT_STATS(XCT_STAT_ENUM) XCT_S_COUNT,
};
#undef XCT_STAT_ENUM

/*
 * The per-CPU counter array: stats from slot 0, one counter per reason from
 * slot XCT_STAT_SLOTS, and from XCT_DROP_SLOTS the packets the policy
 * dropped, by their reason (counted on the drop path only).  The regions
 * have room to grow, so that a new stat or reason neither moves the others
 * nor changes the pinned map's size, which would keep a newer xct from
 * taking over the running one's map.
 */
#define XCT_STAT_SLOTS		64
#define XCT_DROP_SLOTS		160
#define XCT_COUNTER_SLOTS	256
#define XCT_REASON_SLOT(r)	(XCT_STAT_SLOTS + (r))
#define XCT_DROP_REASON_SLOT(r) (XCT_DROP_SLOTS + (r))

/*
 * Events, through the xct_events ring buffer.  A 'log' rule sends one for a
 * packet it decides, at most XCT_LOG_RATE a second per rule (a sample, so
 * that a flood cannot drown the reader); an event the ring has no room for
 * is counted in events_lost, never waited for.  While a drops reader is
 * subscribed (XCT_SUB_DROPS), every packet the datapath drops or rejects
 * sends an XCT_EV_DROP event too, with the tracker's reason and the
 * deciding rule's line.  Readers skip types they do not know.
 */
enum xct_event_type {
	XCT_EV_RULE_LOG = 1,
	XCT_EV_DROP = 2, /* a packet the datapath dropped or rejected */
};

/* struct xct_event's flags. */
#define XCT_EVF_MATCHED	 0x01 /* a rule decided (line is its line), not the policy */

#define XCT_LOG_RATE	 100
#define XCT_EVENTS_BYTES (1 << 20)

struct xct_event {
	__u64 time_ns; /* monotonic clock */
	__u8 type;     /* enum xct_event_type */
	__u8 verdict;  /* enum xct_verdict */
	__u8 ct_state; /* enum xct_ct_state */
	__u8 family;
	__u8 proto;
	__u8 hook;   /* enum xct_rule_hook */
	__u8 reason; /* enum xct_reason (XCT_EV_DROP) */
	__u8 flags;  /* XCT_EVF_* (XCT_EV_DROP) */
	__u32 ifindex;
	__u32 line; /* of the rule in the rules file */
	union xct_addr src, dst;
	__u16 sport, dport; /* host order; ICMP: type and code in sport */
	__u32 len;	    /* IP length */
};

/*
 * Readers of the event streams that cost the datapath something per packet
 * (drop traces, connection events) announce themselves in the xct_subs
 * array: slot enum xct_sub_kind holds the monotonic time a reader of that
 * kind last refreshed it, every XCT_SUB_REFRESH_NS.  The datapath builds
 * such events only while the slot is younger than XCT_SUB_TTL_NS, so with
 * no reader their cost is one array load per packet, and a reader killed
 * with SIGKILL stops them a few seconds later without cleaning up.
 */
enum xct_sub_kind {
	XCT_SUB_DROPS = 0,     /* xct trace drops: the datapath's own drops */
	XCT_SUB_CT_EVENTS = 1, /* xct ct events: NEW, UPDATE, DESTROY */
	XCT_SUB_KINDS = 8,     /* the map's size: room to grow */
};

/*
 * Connection events (xct ct events), through their own ring buffer,
 * xct_ct_events, so that a flood of flow logs and log rules cannot starve
 * each other.  NEW when a connection's entry comes to life, UPDATE when the
 * tracker changes its TCP state or its SEEN_REPLY/ASSURED bits, DESTROY when
 * the entry is deleted (the GC, an early drop, xct ct delete/flush) or
 * reused by a new connection.  Each event is a copy of the entry as the
 * change committed it; DESTROY's counters and first/last times make it a
 * flow record.  Built only while a reader is subscribed (XCT_SUB_CT_EVENTS);
 * an event the ring has no room for is counted in ct_events_lost.
 */
enum xct_ct_event_type {
	XCT_CTE_NEW = 1,
	XCT_CTE_UPDATE = 2,
	XCT_CTE_DESTROY = 3,
};

/* Why a DESTROY happened. */
enum xct_ct_end {
	XCT_CTE_END_NONE = 0,	    /* NEW and UPDATE */
	XCT_CTE_END_EXPIRED = 1,    /* timed out, swept by the GC */
	XCT_CTE_END_EARLY_DROP = 2, /* the GC made room in a full table */
	XCT_CTE_END_DELETED = 3,    /* xct ct delete or flush */
	XCT_CTE_END_REUSED = 4,	    /* a new connection took over its tuple */
	XCT_CTE_END_KILLED = 5,	    /* a packet ended it: a RST was its only reply */
};

/*
 * Room for the events of one GC sweep at 100,000 connection ends a second:
 * the sweep deletes a second's expired entries in one pass, faster than
 * any reader drains them, so the ring must hold them (a DESTROY takes 168
 * bytes with its header: 32 MiB hold about 200,000 events, 4 MiB lost a
 * tenth to a third of them; docs/BENCHMARKS.md, IPFIX end to end).
 */
#define XCT_CT_EVENTS_BYTES_DEFAULT (32U << 20)

struct xct_ct_event {
	__u64 time_ns; /* monotonic clock, when the change happened */
	__u8 type;     /* enum xct_ct_event_type */
	__u8 end;      /* enum xct_ct_end */
	__u8 state;    /* the entry's fields, as committed */
	__u8 orig_side;
	__u16 status;
	/* A TCP connection's window scale per direction (enum xct_dir), with
	 * XCT_CTE_WSCALE_KNOWN once this table saw the handshake that set it
	 * (xct_tcp_scales_known()); 0 when it is not known. */
	__u8 wscale[2];
	__u32 mark;
	__u32 seq; /* the entry's update count: orders one entry's events */
	struct xct_ct_key key;
	__u64 first_seen_ns;
	__u64 last_seen_ns;
	__u64 expires_ns;
	__u64 packets[2];
	__u64 bytes[2];
	/* A translated connection's translation, as xct_nat_reply_tuple()
	 * applies it: nat_manip has IPS_DST_NAT (0x20) when the reply's
	 * source is nat_dst_addr and nat_dst_port, IPS_SRC_NAT (0x10) when
	 * its destination is nat_src_addr and nat_src_port (the identifier,
	 * for ICMP).  An older datapath's events end before these fields. */
	union xct_addr nat_dst_addr;
	union xct_addr nat_src_addr;
	__u16 nat_dst_port;
	__u16 nat_src_port;
	__u8 nat_manip;
	__u8 pad2[3];
};

#define XCT_CTE_WSCALE_KNOWN 0x80

/* The size of an event without the translation. */
#define XCT_CT_EVENT_BASE_SIZE 120

#define XCT_SUB_REFRESH_NS     (1000ULL * 1000 * 1000)
#define XCT_SUB_TTL_NS	       (3ULL * 1000 * 1000 * 1000)

/* Hooks, for the interface registry and for telling a forwarded packet
 * (tracked at ingress) from a locally sent one (tracked at egress). */
enum xct_attach_mode {
	XCT_MODE_NONE = 0,
	XCT_MODE_NATIVE,  /* XDP in the driver */
	XCT_MODE_GENERIC, /* XDP in the stack (skb mode) */
	XCT_MODE_TC,	  /* TC ingress, where XDP cannot run */
};

/* Value of the xct_ifaces map, keyed by ifindex. */
struct xct_iface {
	__u32 mode;	       /* enum xct_attach_mode of the ingress hook */
	__u32 ingress_prog_id; /* XDP's, or TC ingress's in tc mode */
	__u32 egress_prog_id;
	__u32 flags; /* XCT_IFACE_* */
	/* Appended (an older registry has 16 bytes, migrated on attach
	 * --replace): what xct must find again before it replaces or deletes
	 * a hook, so that it never touches one it did not create. */
	__u32 answer_prog_id; /* TC ingress's answerer next to XDP */
	__u32 xdp_link_id;
};

/* The datapath's view of the zone map (bpf/maps.h's xct_zones): how many
 * interfaces have a zone of their own, 0 when none has. */
struct xct_zone_cfg {
	__u32 zoned;
};

/* The registry's entry before answer_prog_id and xdp_link_id. */
#define XCT_IFACE_V1_SIZE    16

#define XCT_IFACE_OWN_CLSACT 0x1 /* xct created the clsact qdisc */

/*
 * How XDP hands a packet to the TC ingress program (bpf/xct.bpf.c): an
 * 802.1Q tag with VLAN id 4095, which 802.1Q reserves and Linux never
 * gives a VLAN device, and the reason in the tag's priority bits.
 */
#define XCT_HANDOFF_VID	   0x0fff
#define XCT_HANDOFF_TCI(w) ((__u16)((w) << 13 | XCT_HANDOFF_VID))

enum xct_handoff {
	/* Rejected: TC answers it and drops it. */
	XCT_HANDOFF_REJECT = 1,
	/* An answer to a translated connection: TC translates it back and
	 * tracks it (bpf/nat.h). */
	XCT_HANDOFF_NAT = 2,
	/* Accepted and tracked while dnat is in use: TC translates its
	 * destination when a dnat rule or binding says so. */
	XCT_HANDOFF_DNAT = 3,
	/* Rejected with an answer other than the default: reasons 4 to 7
	 * and the tag's DEI bit say which (XCT_HANDOFF_REJECT_TCI). */
	XCT_HANDOFF_REJECT_WITH = 4,
};

/* The tag of a rejected frame whose answer is kind (enum
 * xct_reject_kind), and the kind back from a tag. */
#define XCT_HANDOFF_REJECT_TCI(kind)                                                               \
	((kind) ? (__u16)((XCT_HANDOFF_REJECT_WITH + (((kind)-1) >> 1)) << 13 |                    \
			  (((kind)-1) & 1) << 12 | XCT_HANDOFF_VID)                                \
		: XCT_HANDOFF_TCI(XCT_HANDOFF_REJECT))
#define XCT_HANDOFF_REJECT_KIND(tci)                                                               \
	((tci) >> 13 >= XCT_HANDOFF_REJECT_WITH                                                    \
		 ? ((((tci) >> 13) - XCT_HANDOFF_REJECT_WITH) << 1 | ((tci) >> 12 & 1)) + 1        \
		 : 0)

/* Slots of the xct_nat_progs program array (bpf/xct.bpf.c). */
enum xct_nat_prog {
	XCT_NAT_PROG_EGRESS = 0,
	XCT_NAT_PROG_INGRESS = 1,
	XCT_NAT_PROG_TRACK = 2, /* xct_tc_ingress, set by xct attach */
};

/* TC filter identity, so that detach removes exactly what attach added. */
#define XCT_TC_HANDLE	0x7c7
#define XCT_TC_PRIORITY 0x7c7

/* The single element of the xct_gc map: the table's in-kernel collector. */
struct xct_gc {
	struct bpf_timer timer;
	__u64 interval_ns;  /* current sweep period (adaptive) */
	__u64 pressure;	    /* set by the datapath when an insert failed */
	__u64 last_kick_ns; /* when the datapath last woke the GC early */
	__u64 last_run_ns;
	__u64 last_seen;	/* entries seen by the last sweep */
	__u64 last_deleted;	/* entries deleted by the last sweep */
	__u64 last_duration_ns; /* how long the last sweep took */
	__u64 duration_ns;	/* how long every sweep took, summed */
};

/*
 * The ring of recently started connections, where an insert into a full
 * table looks for an entry to evict (bpf/ct_table.h): xct_ct_recent holds
 * keys, xct_ct_recent_pos the two free-running cursors.  Slots [tail,
 * head) are candidates, oldest first.  It has two slots per table entry (a
 * power of two; room for keys examined, moved or deleted since they were
 * written), up to XCT_RECENT_SLOTS_MAX: beyond that it knows only the
 * newest connections, which is where a flood's entries are.
 */
struct xct_ct_recent_pos {
	__u64 head; /* next slot to write */
	__u64 tail; /* oldest slot not yet examined */
};

#define XCT_RECENT_SLOTS_MAX (1U << 17)

#ifndef __bpf__
/* The ring's size for a table of max_entries; loaders set it before load. */
static inline __u32 xct_recent_slots(__u32 max_entries)
{
	__u32 n = 64;

	while (n < 2ULL * max_entries && n < XCT_RECENT_SLOTS_MAX)
		n <<= 1;
	return n;
}
#endif

/* Commands for the control program, run with BPF_PROG_TEST_RUN. The
 * command travels in the test packet; the reply comes back in it. */
enum xct_ctl_cmd {
	XCT_CTL_GC_START = 1,  /* arm the GC timer (idempotent) */
	XCT_CTL_GC_RUN = 2,    /* one sweep now */
	XCT_CTL_CT_DELETE = 3, /* delete the entry of the key that follows */
	XCT_CTL_CT_FLUSH = 4,  /* delete every entry */
	XCT_CTL_CT_UPDATE = 5, /* change one entry (struct xct_ctl_ct_update) */
};

struct xct_ctl_msg {
	__u8 pad[14]; /* test_run wants at least an Ethernet header's worth */
	__u16 cmd;
	__s32 ret;
	__u32 seen;
	__u32 deleted;
	__u32 early_dropped;
	__u32 pad2;
};

/* XCT_CTL_CT_DELETE's message: the header, then the key.  ret is 0, or
 * -ENOENT when there was no such entry (or another deleter won). */
struct xct_ctl_ct_msg {
	struct xct_ctl_msg hdr;
	struct xct_ct_key key;
};

/* What XCT_CTL_CT_UPDATE changes, as conntrack -U (and -L -z) does. */
#define XCT_UPD_MARK	0x01 /* mark = (mark & ~mark_mask) ^ mark_xor */
#define XCT_UPD_STATUS	0x02 /* status |= status_set (SEEN_REPLY, ASSURED) */
#define XCT_UPD_TIMEOUT 0x04 /* expires timeout_s from now */
#define XCT_UPD_ZERO	0x08 /* counters to 0, their values returned */
#define XCT_UPD_LABELS	0x10 /* the connection has labels (XCT_CT_LABELS) */

/*
 * XCT_CTL_CT_UPDATE's message: the entry of the key, if it is alive and
 * (first_seen_ns non-zero) still the connection the caller read, changed
 * under its lock; ret is 0 or -ENOENT.  The counters come back as they
 * were before the update, so that -z prints what it zeroed.
 */
struct xct_ctl_ct_update {
	struct xct_ctl_ct_msg ct;
	__u32 flags; /* XCT_UPD_* */
	__u32 mark_xor;
	__u32 mark_mask;
	__u32 timeout_s;
	__u16 status_set;
	__u16 pad;
	__u64 first_seen_ns;
	__u64 packets[2]; /* out */
	__u64 bytes[2];	  /* out */
};

/*
 * A connection's labels (conntrack -l, connlabel.conf's bit numbers), in
 * the xct_ct_labels map keyed as the table is: kept apart from the entry
 * as nf_conntrack keeps its labels extension apart.  first_seen_ns is the
 * entry's, so that labels left by an earlier connection on the same tuple
 * are never taken for the new one's.
 */
#define XCT_LABEL_BITS 128

struct xct_ct_labels {
	__u64 bits[2]; /* bit n of connlabel.conf is bits[n / 64] >> (n % 64) */
	__u64 first_seen_ns;
};

/*
 * What the datapath decided about the packet it last ran on: a global in
 * .bss that xct_track() fills at the end, a few stores per packet.  xct
 * replay reads it through the skeleton's memory-mapped .bss after each
 * BPF_PROG_TEST_RUN, to print a verdict per packet without reading per-CPU
 * counters.  On a live system every CPU overwrites it and it means nothing.
 */
struct xct_decision {
	__u8 verdict;  /* enum xct_verdict (include/xct/policy.h) */
	__u8 ct_state; /* enum xct_ct_state */
	__u8 reason;   /* enum xct_reason */
	__u8 dir;      /* enum xct_dir of the packet, when it was tracked */
	__u8 matched;  /* a rule decided (line is its line), not a default */
	__u8 pad[3];
	__u32 line; /* line of the deciding rule in the rules file */
	__u32 pad2;
};

#define XCT_GC_INTERVAL_MIN_NS (1000ULL * 1000 * 1000)
#define XCT_GC_INTERVAL_MAX_NS (16ULL * 1000 * 1000 * 1000)
/* The datapath wakes the GC at most this often when inserts fail. */
#define XCT_GC_KICK_MIN_NS (100ULL * 1000 * 1000)

#ifndef __bpf__
_Static_assert(sizeof(struct xct_ct_key) == 40, "key layout");
_Static_assert(XCT_S_COUNT <= XCT_STAT_SLOTS, "stats overflow their slots");
_Static_assert(XCT_STAT_SLOTS + XCT_R_COUNT <= XCT_DROP_SLOTS, "reasons overflow their slots");
_Static_assert(XCT_DROP_SLOTS + XCT_R_COUNT <= XCT_COUNTER_SLOTS, "drops overflow their slots");
_Static_assert(sizeof(struct xct_tcp_peer) == 20, "tcp peer layout");
_Static_assert(sizeof(struct xct_tcp_ct) == 60, "tcp layout");
_Static_assert(sizeof(struct xct_ct_entry) == 144, "entry layout");
_Static_assert(sizeof(struct xct_iface) == 24, "iface layout");
_Static_assert(sizeof(struct xct_ctl_msg) == 36, "ctl layout");
_Static_assert(sizeof(struct xct_event) == 64, "event layout");
_Static_assert(sizeof(struct xct_ct_event) == XCT_CT_EVENT_BASE_SIZE + 40, "ct event layout");
_Static_assert(sizeof(struct xct_ctl_ct_msg) == 76, "ctl ct layout");
_Static_assert(sizeof(struct xct_decision) == 16, "decision layout");
_Static_assert(sizeof(struct xct_ctl_ct_update) == 136, "ctl update layout");
_Static_assert(sizeof(struct xct_ct_labels) == 24, "labels layout");
#endif

#endif /* XCT_ABI_H */
