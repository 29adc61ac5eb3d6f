/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reading a capture for xct replay: pcap and pcapng files through libpcap,
 * every packet handed out as the Ethernet frame an XDP program would see.
 *
 * Link types: Ethernet as it is; Linux cooked captures (SLL, SLL2: what
 * "tcpdump -i any" writes) and raw IP get an Ethernet header built in
 * front, its type taken from the cooked header's protocol field or the IP
 * version.  A packet the capture cut short (caplen below the length on the
 * wire, "tcpdump -s 96") is padded with zeros to its true length: xct reads
 * only its headers, so it decides such a packet as it decided the original.
 */
#ifndef XCT_REPLAY_CAPTURE_H
#define XCT_REPLAY_CAPTURE_H

#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

/* The longest frame handed out: an IP packet of 65535 bytes and its
 * Ethernet header; longer packets are cut to it. */
#define XCT_FRAME_MAX (65535 + 14)

struct xct_capture;

struct xct_frame {
	const __u8 *data; /* the Ethernet frame */
	__u32 len;	  /* its length: the packet's length on the wire (padded) */
	__u32 caplen;	  /* bytes of it the capture holds */
	__u64 ts_ns;	  /* capture timestamp, ns since the epoch */
	__u8 outgoing;	  /* SLL/SLL2: the capturing host sent it */
	__u8 runt;	  /* too short for its link header: not a packet */
	__u8 snapped;	  /* padded: the capture holds fewer bytes than it had */
	__u8 cut;	  /* longer than XCT_FRAME_MAX: cut to it */
};

/* Opens FILE (pcap or pcapng); 0, or -errno with err filled. */
int xct_capture_open(const char *path, struct xct_capture **out, char *err, size_t errlen);

/* The same from a stream, which the capture then owns (tests, fuzzing). */
int xct_capture_open_stream(FILE *f, struct xct_capture **out, char *err, size_t errlen);

/*
 * The next packet, valid until the next call.  Returns 1 for a packet, 0 at
 * the end, or -EINVAL for a damaged or truncated capture, err saying what
 * (libpcap's words, without the packet number, which the caller knows).
 */
int xct_capture_next(struct xct_capture *c, struct xct_frame *f, char *err, size_t errlen);

/* "ethernet", "linux-sll", "linux-sll2", "raw-ip". */
const char *xct_capture_link_name(const struct xct_capture *c);

void xct_capture_close(struct xct_capture *c);

#endif /* XCT_REPLAY_CAPTURE_H */
