/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Table entries as text and JSON: conntrack(8)'s default line, field for
 * field (libnetfilter_conntrack's __snprintf_conntrack_default), and a
 * JSON object with the same facts.
 */
#ifndef XCT_CT_FORMAT_H
#define XCT_CT_FORMAT_H

#include <stddef.h>
#include <stdio.h>
#include "xct/abi.h"
#include "xct/nat.h"

#define XCT_FMT_EXTENDED	0x1  /* "-o extended": the l3 prefix "ipv4     2 " */
#define XCT_FMT_TIMESTAMP	0x2  /* "-o timestamp": events start with [sec.usec] */
#define XCT_FMT_NO_ZERO_TIMEOUT 0x4  /* no timeout when none is left (a DESTROY) */
#define XCT_FMT_ID		0x8  /* "-o id": id=N after use=1 */
#define XCT_FMT_KTIMESTAMP	0x10 /* "-o ktimestamp": delta-time=N [start=DATE] */
#define XCT_FMT_LABELS		0x20 /* "-o labels": labels=NAME,... */
#define XCT_FMT_PROCESS		0x40 /* "-o process": each owned connection's owner */

struct xct_labelmap;

/* What a line may show beyond the entry: its labels and the names of
 * their bits (-o labels), and the wall clock's lead over the monotonic
 * one (-o ktimestamp). */
struct xct_fmt_ext {
	const __u64 *labels; /* [2], or NULL: none */
	const struct xct_labelmap *labelmap;
	__s64 wall_offset_ns;
};

/* The connection's id, as conntrack -o id shows one: a hash of its key
 * and its first packet's time, the same for the connection's whole life
 * and different for a later connection on the same tuple. */
__u32 xct_ct_id(const struct xct_ct_key *key, const struct xct_ct_entry *e);

const char *xct_proto_name(__u8 proto);
/* The protocol's name, or its number in buf when it has none. */
const char *xct_proto_label(__u8 proto, char *buf, size_t len);
const char *xct_tcp_state_name(__u8 state);

/*
 * "STATE[, STATE...]": TCP states by the names xct_tcp_state_name() gives
 * (any case; CLOSED too, as conntrackd's State Accept spells CLOSE), into
 * *mask, a bit (1 << enum xct_tcp_state) each.  0, or -EINVAL with *bad at
 * the name that is not a state (or where a name was expected).
 */
int xct_tcp_state_list(const char *s, __u16 *mask, const char **bad);

/* What is wrong at bad, where xct_tcp_state_list() stopped, into buf. */
const char *xct_tcp_state_list_error(const char *bad, char *buf, size_t len);
const char *xct_family_name(__u8 family);

/* Writes an address as inet_ntop does (IPv6 compressed). */
void xct_format_addr(__u8 family, const union xct_addr *a, char *buf, size_t len);

/* Seconds left before the entry expires, rounded down, as conntrack shows. */
__u64 xct_entry_timeout(const struct xct_ct_entry *e, __u64 now_ns);

/* The conntrack(8) line of one entry, without a newline. */
int xct_format_conn(char *buf, size_t len, const struct xct_ct_key *key,
		    const struct xct_ct_entry *e, __u64 now_ns, unsigned int flags);

/* The same for a connection that may be translated: nat is its binding,
 * or NULL, and inner its inner tuple's source translation, or NULL (see
 * xct_nat_reply_tuple()); the reply tuple is then the translated one, as
 * conntrack shows. */
int xct_format_conn_nat(char *buf, size_t len, const struct xct_ct_key *key,
			const struct xct_ct_entry *e, const struct xct_nat_binding *nat,
			const struct xct_nat_binding *inner, __u64 now_ns, unsigned int flags);

/* The same, with what ext (NULL: nothing) adds for XCT_FMT_LABELS and
 * XCT_FMT_KTIMESTAMP. */
int xct_format_conn_ext(char *buf, size_t len, const struct xct_ct_key *key,
			const struct xct_ct_entry *e, const struct xct_nat_binding *nat,
			const struct xct_nat_binding *inner, __u64 now_ns, unsigned int flags,
			const struct xct_fmt_ext *ext);

/* The conntrack -E line of an event (type and end from struct
 * xct_ct_event) about entry e, translated by nat and inner (as for
 * xct_format_conn_nat()), at time_ns, without a newline. */
int xct_format_event(char *buf, size_t len, const struct xct_ct_key *key,
		     const struct xct_ct_entry *e, const struct xct_nat_binding *nat,
		     const struct xct_nat_binding *inner, __u8 type, __u8 end, __u64 time_ns,
		     unsigned int flags);

/* How long the connection of e lasted at time_ns: from its first packet
 * to time_ns, or to its expiry if it timed out before. */
__u64 xct_event_duration_ns(const struct xct_ct_entry *e, __u64 time_ns);

/* One JSON object for the entry, without a newline. */
void xct_print_conn_json(FILE *out, const struct xct_ct_key *key, const struct xct_ct_entry *e,
			 __u64 now_ns);
void xct_print_conn_json_nat(FILE *out, const struct xct_ct_key *key, const struct xct_ct_entry *e,
			     const struct xct_nat_binding *nat, const struct xct_nat_binding *inner,
			     __u64 now_ns);
/* The same with the connection's labels ("labels":[names], when ext has
 * some). */
void xct_print_conn_json_ext(FILE *out, const struct xct_ct_key *key, const struct xct_ct_entry *e,
			     const struct xct_nat_binding *nat, const struct xct_nat_binding *inner,
			     __u64 now_ns, const struct xct_fmt_ext *ext);

#endif /* XCT_CT_FORMAT_H */
