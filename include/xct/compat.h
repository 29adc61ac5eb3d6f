/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What lets the header-only logic compile both with clang -target bpf (for
 * the datapath) and with gcc (for the unit tests and the CLI): inlining,
 * byte order and branch hints, with no libc and no kernel headers beyond
 * the uapi ones.
 */
#ifndef XCT_COMPAT_H
#define XCT_COMPAT_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define XCT_INLINE static __always_inline

/* One load of a field other CPUs write without a lock, neither repeated
 * nor merged with another by the compiler. */
#define XCT_READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))

#ifndef likely
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define xct_ntohs(x) ((__u16)__builtin_bswap16(x))
#define xct_ntohl(x) ((__u32)__builtin_bswap32(x))
#else
#define xct_ntohs(x) ((__u16)(x))
#define xct_ntohl(x) ((__u32)(x))
#endif
#define xct_htons(x) xct_ntohs(x)
#define xct_htonl(x) xct_ntohl(x)

/* Sequence-space comparisons (RFC 1982), as the kernel's before()/after(). */
XCT_INLINE int xct_seq_before(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
}

XCT_INLINE int xct_seq_after(__u32 a, __u32 b)
{
	return xct_seq_before(b, a);
}

/*
 * x & mask that the compiler may not drop.  Clang removes a mask it can
 * prove redundant, but the verifier cannot always follow that proof; in BPF
 * the mask is therefore written in assembly so that it reaches the verifier.
 */
#ifdef __bpf__
#define xct_mask(x, m)                                                                             \
	({                                                                                         \
		__u64 __v = (x);                                                                   \
		asm volatile("%[v] &= %[mask]" : [v] "+r"(__v) : [mask] "i"(m));                   \
		__v;                                                                               \
	})
#else
#define xct_mask(x, m) ((__u64)(x) & (m))
#endif

#define XCT_NSEC_PER_SEC 1000000000ULL

#endif /* XCT_COMPAT_H */
