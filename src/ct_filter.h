/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * conntrack-tools' entry filters (-p, -s, -d, -r, -q, --sport, --dport,
 * --state, -f, --status, --icmp-type/code/id, -m), parsed and matched
 * against table entries.
 */
#ifndef XCT_CT_FILTER_H
#define XCT_CT_FILTER_H

#include <stdbool.h>
#include "xct/abi.h"
#include "xct/nat.h"

struct xct_cidr {
	__u8 family;
	__u8 prefix;
	union xct_addr addr;
};

enum xct_addr_field {
	XCT_F_ORIG_SRC,
	XCT_F_ORIG_DST,
	XCT_F_REPLY_SRC,
	XCT_F_REPLY_DST,
	XCT_F_ADDR_COUNT,
};

/* --src-nat/--dst-nat/--any-nat's optional IP[:PORT]: the address the
 * connection is translated to, as conntrack's filter_nat() takes it. */
struct xct_nat_match {
	bool has_addr;
	struct xct_cidr addr;
	int port; /* -1: any */
};

/* -l may be given several times: a connection matches when it has every
 * label of one of the lists. */
#define XCT_F_LABEL_SETS 8

struct xct_filter {
	__u8 family; /* 0: any */
	int proto;   /* -1: any */
	bool has_addr[XCT_F_ADDR_COUNT];
	struct xct_cidr addr[XCT_F_ADDR_COUNT];
	int sport; /* original source port, host order; -1: any */
	int dport;
	int state;	   /* TCP state; -1: any */
	__u16 status_set;  /* these XCT_CT_* bits must be set */
	bool status_unset; /* --status UNSET: no status bit set */
	int icmp_type;	   /* -1: any */
	int icmp_code;
	int icmp_id;
	__u32 mark, mark_mask; /* mark_mask 0: any */
	__u16 nat_any;	       /* --src-nat, --dst-nat, --any-nat: one of these XCT_CT_*_NAT bits */
	struct xct_nat_match snat, dnat, anynat;
	int reply_sport; /* reply tuple's ports (--reply-port-src/dst), host order; -1: any */
	int reply_dport;
	bool has_id; /* --id */
	__u32 id;
	long long timeout_max; /* -t on list: at most this many seconds left; -1: any */
	int zone;	       /* --zone: -1: any */
	/* --orig-zone, --reply-zone: a zone of one direction only, which
	 * xct's zones never are (each holds both directions): 0 matches
	 * every connection, as conntrack finds no directional zone on one
	 * without; another matches none; -1: any. */
	int dir_zone;
	int nlabel_sets;       /* -l */
	__u64 labels[XCT_F_LABEL_SETS][2];
};

void xct_filter_init(struct xct_filter *f);

/* Each returns 0, or -EINVAL for text that is not what it should be. */
int xct_parse_cidr(const char *s, struct xct_cidr *out);
/* The same, with the reason for -EINVAL in msg, as the rules file says it
 * ("host bits set in 10.0.0.1/8 (did you mean 10.0.0.0/8?)"). */
int xct_parse_cidr_msg(const char *s, struct xct_cidr *out, char *msg, size_t msglen);
int xct_parse_proto(const char *s, int *proto);
int xct_parse_tcp_state(const char *s, int *state);
int xct_parse_status(const char *s, __u16 *set, bool *unset);
int xct_parse_family(const char *s, __u8 *family);
int xct_parse_mark(const char *s, __u32 *mark, __u32 *mask);

/* --mask-src/--mask-dst: a dotted (or IPv6) netmask as a prefix length;
 * -EINVAL for a mask whose ones are not contiguous. */
int xct_parse_netmask(const char *s, __u8 *family, __u8 *plen);
/* --src-nat's IP[:PORT] ([IPv6]:PORT for IPv6). */
int xct_parse_nat_match(const char *s, struct xct_nat_match *m);

bool xct_filter_match(const struct xct_filter *f, const struct xct_ct_key *key,
		      const struct xct_ct_entry *e);

/* The same for a connection that may be translated (nat: its binding or
 * NULL; inner: see xct_nat_reply_tuple()): the reply filters see the
 * translated reply tuple. */
bool xct_filter_match_nat(const struct xct_filter *f, const struct xct_ct_key *key,
			  const struct xct_ct_entry *e, const struct xct_nat_binding *nat,
			  const struct xct_nat_binding *inner);

/* The same, with the connection's labels (NULL: none) for -l, at now_ns
 * for -t. */
bool xct_filter_match_ext(const struct xct_filter *f, const struct xct_ct_key *key,
			  const struct xct_ct_entry *e, const struct xct_nat_binding *nat,
			  const struct xct_nat_binding *inner, const __u64 *labels, __u64 now_ns);

/* Does the filter look at labels (so that the caller reads them)? */
static inline bool xct_filter_wants_labels(const struct xct_filter *f)
{
	return f->nlabel_sets > 0;
}

#endif /* XCT_CT_FILTER_H */
