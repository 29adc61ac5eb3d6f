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

bool xct_filter_match(const struct xct_filter *f, const struct xct_ct_key *key,
		      const struct xct_ct_entry *e);

/* The same for a connection that may be translated (nat: its binding or
 * NULL; inner: see xct_nat_reply_tuple()): the reply filters see the
 * translated reply tuple. */
bool xct_filter_match_nat(const struct xct_filter *f, const struct xct_ct_key *key,
			  const struct xct_ct_entry *e, const struct xct_nat_binding *nat,
			  const struct xct_nat_binding *inner);

#endif /* XCT_CT_FILTER_H */
