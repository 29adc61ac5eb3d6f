/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The sync link's transports, as conntrackd's channels (conntrack-tools
 * src/udp.c, src/mcast.c, src/tcp.c): UDP unicast, UDP multicast, TCP.
 * sync.c's protocol hands a batch of whole messages to xctd_link_send()
 * and gets the peer's batches from xctd_link_input(), without knowing
 * which transport carries them; the daemon polls xctd_link_fd().
 *
 * UDP: one socket, bound to the listening address, sending to the peer;
 * only the peer's address is read.
 *
 * Multicast: one socket bound to the group's port, joined to the group on
 * the sync interface, sending from that interface, IP_MULTICAST_LOOP off
 * and TTL (hop limit) 1, as conntrackd's; a datagram from one of the
 * interface's own addresses is ignored.  Any other member is the peer.
 *
 * TCP: as conntrackd, two connections, one each way: the node connects to
 * the peer to send (at most once a second while it cannot), and listens
 * (backlog 1) for the peer's connection to receive, a newer one replacing
 * the older.  Messages follow each other on the stream, framed by the
 * header's length.  What the protocol sends while the connection is down
 * waits, whole messages only, until it is up again.
 */
#ifndef XCT_DAEMON_SYNC_LINK_H
#define XCT_DAEMON_SYNC_LINK_H

#include <stdbool.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/types.h>

enum xctd_link_kind {
	XCTD_LINK_UDP = 0,
	XCTD_LINK_TCP,
	XCTD_LINK_MCAST,
};

struct xctd_link_cfg {
	enum xctd_link_kind kind;
	const char *peer;   /* ADDR:PORT; multicast: GROUP:PORT */
	const char *listen; /* UDP, TCP: ADDR:PORT; NULL: any address, the peer's port */
	const char *ifname; /* multicast: the interface (needed); else NULL or bound to */
};

/* The transport's own counters. */
struct xctd_link_stats {
	__u64 foreign;	      /* datagrams or TCP connections from another address */
	__u64 own;	      /* multicast: our own datagrams, ignored */
	__u64 connects;	      /* TCP: our connection to the peer made */
	__u64 connect_failed; /* TCP: attempts refused or timed out */
	__u64 disconnects;    /* TCP: our connection to the peer lost */
	__u64 accepts;	      /* TCP: the peer's connection to us taken */
	__u64 closes;	      /* TCP: the peer's connection to us ended */
	__u64 dropped;	      /* TCP: messages a broken connection cut, or no room to wait */
	__u64 bad_framing;    /* TCP: the peer's stream cut (a length below a header) */
	__u64 queued_bytes;   /* TCP: waiting to be written now */
	__u64 out_up, in_up;  /* TCP: 1 while our connection, the peer's, is up */
};

/* TCP: what may wait for the connection (a resync's answer of a large
 * table included); beyond, messages are refused and counted lost. */
#define XCTD_LINK_TX_MAX (16U << 20)
/* TCP: one message at most (its length is 16 bits) and a read. */
#define XCTD_LINK_RX_MAX (2U << 16)
/* TCP: conntrackd's connect rate (TCP_CONNECT_TIMEOUT), and how long one
 * attempt may take before it is given up for a new one. */
#define XCTD_LINK_CONNECT_EVERY_NS   (1000ULL * 1000 * 1000)
#define XCTD_LINK_CONNECT_TIMEOUT_NS (2000ULL * 1000 * 1000)
/* Multicast: the interface's addresses remembered as our own. */
#define XCTD_LINK_OWN_MAX 16

struct xctd_link {
	enum xctd_link_kind kind;
	int fd;	  /* to poll: the socket, or (TCP) an epoll set of the link's */
	int sock; /* UDP, multicast: the socket; TCP: the listener */
	struct sockaddr_storage peer, local;
	socklen_t peer_len, local_len;
	bool local_given;
	char ifname[IF_NAMESIZE];
	/* Multicast. */
	unsigned int n_own;
	struct sockaddr_storage own[XCTD_LINK_OWN_MAX];
	/* TCP. */
	int out_fd, in_fd;
	bool out_up;
	__u32 out_events; /* what out_fd is polled for */
	__u64 connect_ns; /* the attempt in progress started */
	__u64 next_connect_ns;
	__u8 *tx;
	size_t tx_len, tx_off, tx_cap;
	size_t tx_head; /* the first message not wholly written */
	__u8 *rx;
	size_t rx_len;
	struct xctd_link_stats st;
};

/* "udp", "tcp", "multicast". */
const char *xctd_link_kind_name(enum xctd_link_kind kind);

/* Opens the link; TCP starts connecting.  0, or -errno with a message in
 * err. */
int xctd_link_open(struct xctd_link *l, const struct xctd_link_cfg *c, char *err, size_t errlen);

/* Hands len bytes of whole messages to the transport: 0 once sent (UDP)
 * or taken to be written whole (TCP), -errno when refused. */
int xctd_link_send(struct xctd_link *l, const __u8 *buf, size_t len, __u64 now_ns);

/* What the peer sent, batch by batch: a datagram, or the whole messages a
 * TCP read completed. */
typedef void (*xctd_link_rx_fn)(void *arg, const __u8 *buf, size_t len);

/* Reads what waits on the link's sockets (xctd_link_fd() was readable). */
void xctd_link_input(struct xctd_link *l, xctd_link_rx_fn rx, void *arg, __u64 now_ns);

/* Timers: TCP's reconnection. */
void xctd_link_tick(struct xctd_link *l, __u64 now_ns);

void xctd_link_get_stats(const struct xctd_link *l, struct xctd_link_stats *st);

void xctd_link_close(struct xctd_link *l);

#endif /* XCT_DAEMON_SYNC_LINK_H */
