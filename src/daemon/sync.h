/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xctd's state sync with an HA peer, in conntrackd's protocol (version 1,
 * include/xct/ctsync.h), in its NOTRACK or FTFW mode: every
 * connection event of the datapath (NEW, UPDATE, DESTROY) goes to the peer
 * as CT_NEW, CT_UPD or CT_DEL, and an ALIVE keeps the link up while there
 * is nothing to say.  The peer may be a conntrackd beside nf_conntrack.
 * The messages travel over UDP, multicast or TCP (daemon/sync_link.h),
 * which the protocol here does not see.
 * FTFW (include/xct/ctsync_ftfw.h) makes it reliable: what the peer does
 * not acknowledge is kept, and sent again when it says it missed it.
 *
 * What the peer sends goes into the external cache, as conntrackd keeps
 * its peer's connections: not into the table, where they would change
 * nothing while the peer is the primary, until a commit on failover
 * (xctd_sync_commit(), 'xct sync commit') puts them there.
 */
#ifndef XCT_DAEMON_SYNC_H
#define XCT_DAEMON_SYNC_H

#include <stdbool.h>
#include <sys/socket.h>
#include <linux/types.h>

#include "daemon/daemon.h"
#include "daemon/sync_link.h"
#include "xct/abi.h"
#include "xct/ctsync.h"
#include "xct/ctsync_ftfw.h"
#include "xct/nat.h"

struct xct_table;
struct xct_ct_state_counts;

/* What one datagram may hold: under a 1500-byte link's MTU with the IPv6
 * and UDP headers, as conntrackd sizes its own. */
#define XCTD_SYNC_DGRAM_MAX 1400
/* conntrackd's alive period: an idle peer hears from us this often. */
#define XCTD_SYNC_ALIVE_NS (1000ULL * 1000 * 1000)

/* Counters, named as conntrackd -s names its own where they match. */
struct xctd_sync_stats {
	__u64 msg_snd;	    /* messages sent, data and control */
	__u64 msg_snd_lost; /* messages in datagrams the socket refused */
	__u64 bytes_snd;    /* of the datagrams sent */
	__u64 dgram_snd;    /* datagrams sent */
	__u64 data_snd[3];  /* CT_NEW, CT_UPD, CT_DEL */
	__u64 alive_snd;
	__u64 resync_snd;     /* RESYNC requests sent (at start, xct sync resync) */
	__u64 msg_rcv;	      /* well-formed messages received */
	__u64 bytes_rcv;      /* of the peer's datagrams */
	__u64 dgram_rcv;      /* the peer's datagrams */
	__u64 data_rcv[3];    /* CT_NEW, CT_UPD, CT_DEL */
	__u64 msg_rcv_lost;   /* sequence numbers skipped by the peer's messages */
	__u64 msg_rcv_before; /* messages older than the last one */
	__u64 msg_rcv_malformed[XCT_CTSYNC_ERR_COUNT]; /* by enum xct_ctsync_error */
	__u64 alive_rcv;
	__u64 resync_rcv;	 /* the peer asked for our whole table */
	__u64 dgram_rcv_foreign; /* datagrams from another address, ignored */
	__u64 ext_unkeyable;	 /* connections xct cannot key (not an ICMP query) */
	__u64 commits;		 /* xct sync commit requests */
	__u64 committed;	 /* connections they put into the table */
	__u64 flushes;		 /* xct sync flush requests */
	__u64 purges;		 /* xct sync purge requests */
	__u64 purged;		 /* connections they took out of the table */
	__u64 ext_entries;	 /* connections in the external cache now */
	/* FTFW */
	__u64 ack_snd, nack_snd; /* ours, for the peer's messages */
	__u64 ack_rcv, nack_rcv; /* the peer's, for ours */
	__u64 rs_resent;	 /* messages sent again after a NACK */
	__u64 rs_acked;		 /* messages the peer's ACKs took off the resend queue */
	__u64 rs_dropped;	 /* pushed off a full resend queue, never acknowledged */
	__u64 rs_len;		 /* messages in the resend queue now */
	__u64 rs_conns;		 /* of them connections' (the others: control) */
	__u64 hello_done;	 /* 1 once the peer answered our HELLO */
	__u64 filtered;		 /* connection messages not sent, for either reason: */
	__u64 filtered_state;	 /* of them, a TCP state not accepted */
	/* Commit on receive (xctd_sync_commit_on_receive()) */
	__u64 direct_inserted; /* the peer's connections put into the table */
	__u64 direct_updated;  /* its updates of connections the table had */
	__u64 direct_deleted;  /* its DESTROYs that took one out */
	__u64 direct_failed;   /* left to the cache: no xct attached, table full */
	__u64 dgram_rcv_own;	 /* multicast: our own datagrams, ignored */
	struct xctd_link_stats link; /* the transport's */
};

/* A message sent in FTFW mode, kept until the peer acknowledges it.  A
 * connection's newer message replaces its older one, as conntrackd keeps
 * one object per connection: a resend never takes a connection back to
 * an older state. */
struct xctd_rs_msg {
	struct xctd_rs_msg *prev, *next; /* by sequence number */
	struct xctd_rs_msg *hnext;	 /* in its bucket, when keyed */
	bool keyed;			 /* a connection's (else a control message) */
	struct xct_ct_key key;
	__u32 seq;
	__u16 len;
	__u8 msg[];
};

#define XCTD_RS_BUCKETS 4096
/* conntrackd's ResendQueueSize default. */
#define XCTD_RS_MAX 131072

/* What xct sync stats gets from xctd. */
struct xctd_sync_report {
	char peer[64];	    /* as --sync-peer gave it */
	char mode[16];	    /* NOTRACK, FTFW */
	char transport[16]; /* udp, tcp, multicast */
	struct xctd_sync_stats st;
};

/* The timeout a committed connection gets when its message had none or
 * it ran out meanwhile: conntrackd's commit gives 60 s then. */
#define XCTD_SYNC_COMMIT_TIMEOUT_S 60

/* One connection of the external cache, as it will be committed. */
struct xctd_ext_conn {
	struct xctd_ext_conn *next; /* in its bucket */
	struct xct_ct_key key;
	struct xct_ct_entry e; /* state, status, mark, window scales */
	struct xct_nat_binding nat[2];
	int n_nat;
	bool has_timeout;
	__u32 timeout_s; /* as last received */
	__u64 rcv_ns;	 /* when */
};

#define XCTD_EXT_BUCKETS 4096

struct xctd_ext_cache {
	struct xctd_ext_conn *bucket[XCTD_EXT_BUCKETS];
	__u64 n;
};

enum xctd_sync_mode {
	XCTD_SYNC_NOTRACK = 0,
	XCTD_SYNC_FTFW,
};

struct xctd_sync {
	int fd; /* the link's, to poll; -1 when not syncing */
	struct xctd_link link;
	enum xctd_sync_mode mode;
	struct xct_ftfw ftfw;
	struct xctd_rs_msg *rs_head, *rs_tail;
	struct xctd_rs_msg *rs_bucket[XCTD_RS_BUCKETS];
	__u64 rs_n;
	__u64 rs_keyed;	   /* connections' messages of the rs_n */
	__u64 last_ack_ns; /* FTFW's alive timer */
	unsigned int n_ignore;
	/* A bit per enum xct_tcp_state whose TCP connections are sent; 0:
	 * all (xctd_sync_accept_states()). */
	__u16 state_accept;
	__u8 ignore_family[XCTD_SYNC_IGNORE_MAX];
	union xct_addr ignore[XCTD_SYNC_IGNORE_MAX];
	__u32 seq; /* the next message's */
	bool seq_expected_set;
	__u32 seq_expected; /* the peer's next message's */
	__u8 out[XCTD_SYNC_DGRAM_MAX];
	size_t olen;
	__u64 last_snd_ns;
	__u64 accepts_seen; /* TCP: the peer's connections asked for a resync */
	struct xctd_sync_stats st;
	struct xctd_ext_cache ext;
	/* The control program while purging (xctd_sync_purge()): from then
	 * until the next commit, each connection the peer speaks of leaves
	 * the table; -1 otherwise. */
	int purge_fd;
	/* Commit on receive: the instance the peer's connections go into as
	 * they arrive (NULL: off), and its table and control program while a
	 * burst of messages is processed (t NULL when not open), since when. */
	const char *direct_pin;
	struct xct_table *direct_t;
	int direct_ctl;
	__u64 direct_open_ns;
	__u64 direct_failed_ns; /* when they could not be opened last; 0 */
};

/*
 * Opens the sync link (xctd_link_open(): UDP bound to the listening
 * address, or any address on the peer's port, as conntrackd uses one port
 * both ways; multicast; TCP).  The first sequence number is the wall
 * clock's seconds, as conntrackd starts its own.  0, or -errno with a
 * message in err.
 */
int xctd_sync_open(struct xctd_sync *s, const struct xctd_link_cfg *link, enum xctd_sync_mode mode,
		   char *err, size_t errlen);

/* Connections from or to addr (IPv4 or IPv6), or translated to it, are
 * not sent to the peer, as conntrackd's Address Ignore: the sync link's
 * and the firewall's own addresses, typically.  0 or -EINVAL (not an
 * address), -ENOSPC (XCTD_SYNC_IGNORE_MAX already). */
int xctd_sync_ignore(struct xctd_sync *s, const char *addr);

/*
 * Only TCP connections in these states (a bit per enum xct_tcp_state; 0:
 * all) are sent, as conntrackd's State Accept: each event of a TCP
 * connection is sent or withheld by the state it carries, a DESTROY's
 * included, and so is each connection of a RESYNC's answer.  Other
 * protocols are not affected.  A connection seen by the peer in an
 * accepted state and withheld since keeps that state there; one that
 * ends in a state withheld keeps its last sent one until the peer's
 * cache is flushed, as with conntrackd.
 */
void xctd_sync_accept_states(struct xctd_sync *s, __u16 states);

/*
 * Commit on receive, as conntrackd's DisableExternalCache: each connection
 * the peer sends goes into the table of the xct under pin_path at once
 * (inserted as a commit inserts it, TCP liberally; one the table has gets
 * the peer's timeout, ASSURED and mark), and each DESTROY of the peer's
 * takes its connection out, through the control program, as xct ct delete.
 * For active-active, or a backup that wants no commit step.  The external
 * cache is kept as well, so that stats, purge and a commit still see the
 * peer's connections, and it holds what the table could not take (no xct
 * attached, the table full) for a later commit.
 */
void xctd_sync_commit_on_receive(struct xctd_sync *s, const char *pin_path);

/* "NOTRACK" or "FTFW". */
const char *xctd_sync_mode_name(enum xctd_sync_mode mode);

/* One connection event of the ring into the datagram being built (sent
 * when full, or by xctd_sync_flush()); now_ns, the monotonic clock, gives
 * the timeout left. */
void xctd_sync_event(struct xctd_sync *s, const struct xct_ct_event *ev, __u64 now_ns);

/* Sends what the datagram being built holds. */
void xctd_sync_flush(struct xctd_sync *s, __u64 now_ns);

/* An ALIVE when nothing went to the peer for XCTD_SYNC_ALIVE_NS; the
 * link's timers (TCP's reconnection). */
void xctd_sync_tick(struct xctd_sync *s, __u64 now_ns);

/* Reads what waits on the link and accounts for it. */
void xctd_sync_input(struct xctd_sync *s);

/* Processes one datagram from the peer (its messages, in order). */
void xctd_sync_datagram(struct xctd_sync *s, const __u8 *buf, size_t len, __u64 now_ns);

/*
 * Commits the external cache into t, every connection as xct_ct_insert()
 * puts one (TCP tracked liberally, a tuple the table has left alone), with
 * the timeout it had left when last heard of, less the time since.  The
 * cache is kept, as conntrackd keeps its own.  0 or -errno; counts in c.
 */
int xctd_sync_commit(struct xctd_sync *s, const struct xct_table *t, __u64 now_ns,
		     struct xct_ct_state_counts *c);

/*
 * Takes out of the table the connections the peer now owns, for a node
 * that has lost the primary's role and kept its table (its links were
 * down, it did not restart): every connection of the external cache, and
 * from now until the next commit each connection the peer sends, so that
 * what a resync brings purges too.  Left alone, those entries would stay
 * behind the connections that moved on through the peer (their windows,
 * their state), and a commit leaves a tuple the table has as it is.  What
 * the peer never spoke of stays: the firewall's own connections, those an
 * address filter keeps off the link.  Deletes go through the datapath's
 * control program (ctl_fd, kept), as xct ct delete does: the NAT bindings
 * go with the entry.  0 or -errno; *purged connections.
 */
int xctd_sync_purge(struct xctd_sync *s, int ctl_fd, __u64 *purged);

/* Answers the peer's RESYNC: every live connection of t, as CT_UPD
 * messages, sent at once.  0 or -errno; *sent connections. */
int xctd_sync_bulk(struct xctd_sync *s, const struct xct_table *t, __u64 now_ns, __u64 *sent);

/* Asks the peer for its whole table (a RESYNC control message, sent at
 * once), as conntrackd -n. */
void xctd_sync_request_resync(struct xctd_sync *s, __u64 now_ns);

/* The counters, with the cache's size filled in. */
void xctd_sync_get_stats(const struct xctd_sync *s, struct xctd_sync_stats *st);

/* The short name of an enum xct_ctsync_error, for the counters. */
const char *xctd_sync_error_name(int err);

/* Empties the external cache. */
void xctd_sync_flush_cache(struct xctd_sync *s);

void xctd_sync_close(struct xctd_sync *s);

#endif /* XCT_DAEMON_SYNC_H */
