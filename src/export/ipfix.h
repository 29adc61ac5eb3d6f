/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * IPFIX (RFC 7011) messages from connection events: a flow record for
 * every connection that ends (DESTROY), and NAT session records (RFC 8158)
 * when a translated connection starts (NEW) and ends (DESTROY).
 *
 * This is the encoder only: it writes into a caller's buffer and reads no
 * clock, socket or map, so the exact bytes are testable and whoever sends
 * them (xct export ipfix, a daemon) owns the transport, the sequence
 * number and the observation domain.  The templates and their
 * information elements are listed in docs/IPFIX.md.
 */
#ifndef XCT_EXPORT_IPFIX_H
#define XCT_EXPORT_IPFIX_H

#include <stddef.h>
#include <linux/types.h>
#include "xct/abi.h"

#define XCT_IPFIX_VERSION	 0x000a
#define XCT_IPFIX_HEADER_LEN	 16
#define XCT_IPFIX_SET_HEADER_LEN 4
#define XCT_IPFIX_SET_TEMPLATE	 2

/* NetFlow v9 (RFC 3954), the same templates without the enterprise
 * element: a 20-byte header, template FlowSet ID 0. */
#define XCT_NF9_VERSION	     9
#define XCT_NF9_HEADER_LEN   20
#define XCT_NF9_SET_TEMPLATE 0

/* RFC 7011 §10.3.3: without a known path MTU, messages of at most 512. */
#define XCT_IPFIX_MTU_DEFAULT 512
#define XCT_IPFIX_MTU_MIN     256 /* room for the template set */
#define XCT_IPFIX_MTU_MAX     65535
/* With the path MTU known, messages fill it, up to what an Ethernet
 * frame carries (1500 less the IPv4 and UDP headers): a collector on the
 * loopback gets the messages one behind a LAN would. */
#define XCT_IPFIX_MTU_PATH_MAX 1472

/* Template IDs: flows and NAT sessions, one template per family. */
enum xct_ipfix_template_id {
	XCT_IPFIX_TMPL_FLOW4 = 256,
	XCT_IPFIX_TMPL_FLOW6 = 257,
	XCT_IPFIX_TMPL_NAT4 = 258,
	XCT_IPFIX_TMPL_NAT6 = 259,
};

#define XCT_IPFIX_TMPL_COUNT 4

/*
 * The TCP state has no IANA element: it goes as an enterprise-specific
 * one, element 1 under the documentation enterprise number of RFC 5612,
 * with nf_conntrack's TCP_CONNTRACK_* numbering (0 for UDP and ICMP).
 * Collectors that do not know it skip it by its length.
 */
#define XCT_IPFIX_PEN	       32473
#define XCT_IPFIX_IE_TCP_STATE 1

/* flowEndReason values (RFC 7012 / IANA). */
enum xct_ipfix_end_reason {
	XCT_IPFIX_END_IDLE = 1,
	XCT_IPFIX_END_ACTIVE = 2,
	XCT_IPFIX_END_FLOW_END = 3,
	XCT_IPFIX_END_FORCED = 4,
	XCT_IPFIX_END_RESOURCES = 5,
};

/* natEvent values (RFC 8158 §4.3). */
enum xct_ipfix_nat_event {
	XCT_IPFIX_NAT_CREATE = 1, /* NAT translation create: IPv6-to-IPv6 has no own value */
	XCT_IPFIX_NAT_DELETE = 2,
	XCT_IPFIX_NAT44_CREATE = 4,
	XCT_IPFIX_NAT44_DELETE = 5,
};

/* One information element of a template. */
struct xct_ipfix_field {
	__u16 id;
	__u16 len;
	__u32 pen; /* 0: an IANA element */
	const char *name;
};

struct xct_ipfix_template {
	__u16 id;
	__u16 nfields;
	const struct xct_ipfix_field *fields;
};

/* The templates, in the order the template set carries them. */
extern const struct xct_ipfix_template xct_ipfix_templates[XCT_IPFIX_TMPL_COUNT];

/* The length of a template's data record. */
size_t xct_ipfix_record_len(const struct xct_ipfix_template *t);

/* A message being built in buf (at most cap bytes). */
struct xct_ipfix_msg {
	__u8 *buf;
	size_t cap;
	size_t len;
	size_t set_off; /* where the open set's header is; 0: none open */
	__u16 set_id;
	__u16 count;   /* records of every kind (the v9 header's count) */
	__u32 records; /* data records in the message */
	__u8 netflow9; /* a NetFlow v9 message */
};

/* Starts an empty message (room kept for the header). */
void xct_ipfix_msg_init(struct xct_ipfix_msg *m, void *buf, size_t cap);

/* The same for a NetFlow v9 message. */
void xct_nf9_msg_init(struct xct_ipfix_msg *m, void *buf, size_t cap);

/* Appends a template set with every template: 0, or -ENOSPC with the
 * message unchanged. */
int xct_ipfix_put_templates(struct xct_ipfix_msg *m);

/*
 * Appends the records of one connection event: a DESTROY's flow record
 * and, for a translated connection, a NAT session record of its NEW or
 * DESTROY.  mono_to_real_ns converts the event's monotonic times to the
 * wall clock.  Returns the number of data records appended (0 for an
 * event that makes none), or -ENOSPC with the message unchanged.
 */
int xct_ipfix_put_event(struct xct_ipfix_msg *m, const struct xct_ct_event *ev,
			__s64 mono_to_real_ns);

/* The records an event makes, without encoding them. */
int xct_ipfix_event_records(const struct xct_ct_event *ev);

/* Writes the header (export time in seconds, the sequence number: the
 * data records sent before this message in the domain) and returns the
 * message's length. */
size_t xct_ipfix_msg_finish(struct xct_ipfix_msg *m, __u32 export_time, __u32 seq, __u32 domain);

/* Writes a v9 header (sysUptime in ms, the time, the sequence number:
 * the export packets sent before this one, the source ID) and returns the
 * message's length. */
size_t xct_nf9_msg_finish(struct xct_ipfix_msg *m, __u32 uptime_ms, __u32 unix_secs, __u32 seq,
			  __u32 source_id);

/* The flowEndReason of a DESTROY. */
__u8 xct_ipfix_end_reason(const struct xct_ct_event *ev);

#endif /* XCT_EXPORT_IPFIX_H */
