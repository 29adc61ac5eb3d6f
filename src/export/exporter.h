/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An IPFIX exporter over UDP (RFC 7011 §10.3): connection events in,
 * messages of at most mtu bytes out to one collector, for one
 * observation domain.  It owns the sequence number (the data records sent
 * before each message), resends the templates every template_refresh_s
 * seconds (§8.4) and sends what it holds at every xct_ipfix_exporter_tick().
 *
 * The caller feeds it events (from xct_ct_events_run()'s sink, or a
 * daemon's reader) and calls the tick from its loop; no global state, so
 * one process may run several exporters.
 */
#ifndef XCT_EXPORT_EXPORTER_H
#define XCT_EXPORT_EXPORTER_H

#include <stddef.h>
#include <linux/types.h>
#include "export/ipfix.h"

#define XCT_IPFIX_PORT_DEFAULT	     4739
#define XCT_IPFIX_TEMPLATE_REFRESH_S 60

struct xct_ipfix_exporter_cfg {
	const char *host; /* a name or an address */
	const char *port;
	__u32 domain; /* the observation domain ID */
	unsigned int template_refresh_s;
	size_t mtu;   /* the largest message; 0: from the path MTU (path_mtu()) */
	int netflow9; /* NetFlow v9 (RFC 3954) instead of IPFIX; domain: the source ID */
};

struct xct_ipfix_stats {
	__u64 records;	   /* data records in messages handed to the socket */
	__u64 messages;	   /* messages sent, templates' included */
	__u64 send_errors; /* messages the socket refused */
	__u64 lost;	   /* data records in those messages */
};

struct xct_ipfix_exporter {
	int fd;
	struct xct_ipfix_exporter_cfg cfg;
	/* IPFIX: data records exported so far in the domain; v9: packets
	 * sent; mod 2^32 */
	__u32 seq;
	struct xct_ipfix_msg msg;
	__u8 *buf;
	__u64 templates_ns; /* when the templates were last sent (monotonic) */
	__s64 mono_to_real_ns;
	int last_errno;
	struct xct_ipfix_stats stats;
};

/* "HOST:PORT", "[V6ADDR]:PORT" or HOST alone (the IPFIX port): 0, or
 * -EINVAL.  host and port point into buf. */
int xct_ipfix_parse_addr(const char *s, char *buf, size_t len, const char **host,
			 const char **port);

/* Resolves and connects to the collector and sends the templates: 0, or
 * -errno after a message. */
int xct_ipfix_exporter_open(struct xct_ipfix_exporter *x, const struct xct_ipfix_exporter_cfg *cfg);

/* Adds an event's records (sending the message first when they do not
 * fit): the number of records, or -errno. */
int xct_ipfix_exporter_event(struct xct_ipfix_exporter *x, const struct xct_ct_event *ev);

/* Sends what is pending, and the templates when their refresh is due. */
void xct_ipfix_exporter_tick(struct xct_ipfix_exporter *x);

/* Sends what is pending and closes the socket. */
void xct_ipfix_exporter_close(struct xct_ipfix_exporter *x);

#endif /* XCT_EXPORT_EXPORTER_H */
