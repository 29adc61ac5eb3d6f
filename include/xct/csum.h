/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Incremental Internet checksum updates (RFC 1624, eqn. 3): a checksum
 * field after some 16-bit words it covers changed, without summing the
 * data again.  Words and checksums are taken as they sit in the packet:
 * the one's complement sum does not depend on the byte order, so no
 * swapping is needed.  For what the kernel's helpers cannot reach: the
 * checksums inside the packet an ICMP error quotes.
 */
#ifndef XCT_CSUM_H
#define XCT_CSUM_H

#include "compat.h"

XCT_INLINE __u16 xct_csum_add_carries(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* HC' = ~(~HC + ~m + m') for one word m becoming m2. */
XCT_INLINE __u16 xct_csum_replace16(__u16 hc, __u16 m, __u16 m2)
{
	__u32 sum = (__u32)(__u16)~hc + (__u16)~m + m2;

	return (__u16)~xct_csum_add_carries(sum);
}

/* The same for a 32-bit field (an IPv4 address), two words at once. */
XCT_INLINE __u16 xct_csum_replace32(__u16 hc, __u32 m, __u32 m2)
{
	__u32 sum = (__u32)(__u16)~hc + (__u16) ~(m & 0xffff) + (__u16) ~(m >> 16) + (m2 & 0xffff) +
		    (m2 >> 16);

	return (__u16)~xct_csum_add_carries(sum);
}

/* The same for a 128-bit field (an IPv6 address), as four 32-bit ones. */
XCT_INLINE __u16 xct_csum_replace128(__u16 hc, const __u32 *m, const __u32 *m2)
{
	hc = xct_csum_replace32(hc, m[0], m2[0]);
	hc = xct_csum_replace32(hc, m[1], m2[1]);
	hc = xct_csum_replace32(hc, m[2], m2[2]);
	return xct_csum_replace32(hc, m[3], m2[3]);
}

#endif /* XCT_CSUM_H */
