// SPDX-License-Identifier: GPL-2.0-only
/*
 * The capture reader of xct replay (see capture.h).  libpcap does the file
 * formats and notices damage (a record cut short, an impossible length);
 * this file turns each link type into Ethernet.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <pcap/pcap.h>

#include "replay/capture.h"

#define ETH_HDR		14
#define SLL_HDR		16
#define SLL2_HDR	20
#define PACKET_OUTGOING 4 /* linux/if_packet.h */

enum link {
	LINK_ETHERNET,
	LINK_SLL,
	LINK_SLL2,
	LINK_RAW,
};

struct xct_capture {
	pcap_t *pcap;
	enum link link;
	__u8 *buf; /* frames built here: XCT_FRAME_MAX bytes */
};

static const char *const link_names[] = {
	[LINK_ETHERNET] = "ethernet",
	[LINK_SLL] = "linux-sll",
	[LINK_SLL2] = "linux-sll2",
	[LINK_RAW] = "raw-ip",
};

static int capture_init(pcap_t *p, struct xct_capture **out, char *err, size_t errlen)
{
	struct xct_capture *c;
	int dlt = pcap_datalink(p);
	enum link link;

	switch (dlt) {
	case DLT_EN10MB:
		link = LINK_ETHERNET;
		break;
	case DLT_LINUX_SLL:
		link = LINK_SLL;
		break;
	case DLT_LINUX_SLL2:
		link = LINK_SLL2;
		break;
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		link = LINK_RAW;
		break;
	default: {
		const char *name = pcap_datalink_val_to_name(dlt);

		snprintf(err, errlen,
			 "link type %d (%s) is not supported: Ethernet, Linux cooked (SLL, SLL2) "
			 "and raw IP are",
			 dlt, name ? name : "unknown");
		pcap_close(p);
		return -EINVAL;
	}
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->buf = malloc(XCT_FRAME_MAX);
	if (!c || !c->buf) {
		free(c);
		pcap_close(p);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->pcap = p;
	c->link = link;
	*out = c;
	return 0;
}

int xct_capture_open(const char *path, struct xct_capture **out, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, perr);

	if (!p) {
		size_t n = strlen(path);

		/* libpcap names the file first; the caller does too. */
		if (!strncmp(perr, path, n) && !strncmp(perr + n, ": ", 2))
			snprintf(err, errlen, "%s", perr + n + 2);
		else
			snprintf(err, errlen, "%s", perr);
		return -EINVAL;
	}
	return capture_init(p, out, err, errlen);
}

int xct_capture_open_stream(FILE *f, struct xct_capture **out, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, perr);

	if (!p) {
		fclose(f);
		snprintf(err, errlen, "%s", perr);
		return -EINVAL;
	}
	return capture_init(p, out, err, errlen);
}

static __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

/* The ethertype of a raw IP packet, from its version nibble. */
static __u16 raw_ethertype(const __u8 *p, __u32 caplen)
{
	if (!caplen)
		return 0;
	switch (p[0] >> 4) {
	case 4:
		return 0x0800;
	case 6:
		return 0x86dd;
	}
	return 0; /* the datapath calls it not_ip, as it would on a wire */
}

int xct_capture_next(struct xct_capture *c, struct xct_frame *f, char *err, size_t errlen)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	__u32 hdr = 0, caplen, copy;
	__u64 len; /* 64 bits: a damaged record may say 4 GiB, and a header is added */
	__u16 ethertype = 0;
	int ret;

	memset(f, 0, sizeof(*f));
	ret = pcap_next_ex(c->pcap, &h, &data);
	if (ret == PCAP_ERROR_BREAK)
		return 0;
	if (ret != 1) {
		snprintf(err, errlen, "%s", pcap_geterr(c->pcap));
		return -EINVAL;
	}
	/* Nanosecond precision was asked for: tv_usec holds nanoseconds. */
	f->ts_ns = (__u64)h->ts.tv_sec * 1000000000ULL + (__u64)h->ts.tv_usec;
	caplen = h->caplen;
	len = h->len > caplen ? h->len : caplen;

	switch (c->link) {
	case LINK_ETHERNET:
		break;
	case LINK_SLL:
		hdr = SLL_HDR;
		if (caplen >= hdr) {
			f->outgoing = get16(data) == PACKET_OUTGOING;
			ethertype = get16(data + 14);
		}
		break;
	case LINK_SLL2:
		hdr = SLL2_HDR;
		if (caplen >= hdr) {
			f->outgoing = data[10] == PACKET_OUTGOING;
			ethertype = get16(data);
		}
		break;
	case LINK_RAW:
		ethertype = raw_ethertype(data, caplen);
		break;
	}
	if (caplen < hdr + (c->link == LINK_ETHERNET ? ETH_HDR : 0)) {
		f->runt = 1;
		f->data = data;
		f->caplen = f->len = caplen;
		return 1;
	}
	caplen -= hdr;
	len -= hdr;
	data += hdr;
	if (c->link != LINK_ETHERNET) {
		/* No addresses: xct never reads them. */
		memset(c->buf, 0, 12);
		c->buf[12] = (__u8)(ethertype >> 8);
		c->buf[13] = (__u8)ethertype;
		caplen += ETH_HDR;
		len += ETH_HDR;
	}
	if (len > XCT_FRAME_MAX) {
		f->cut = 1;
		len = XCT_FRAME_MAX;
		if (caplen > len)
			caplen = (__u32)len;
	}
	f->len = (__u32)len;
	f->caplen = caplen;
	f->snapped = caplen < len;
	if (c->link == LINK_ETHERNET && !f->snapped) {
		f->data = data; /* no copy */
		return 1;
	}
	hdr = c->link == LINK_ETHERNET ? 0 : ETH_HDR;
	copy = caplen - hdr;
	memcpy(c->buf + hdr, data, copy);
	memset(c->buf + caplen, 0, len - caplen);
	f->data = c->buf;
	return 1;
}

const char *xct_capture_link_name(const struct xct_capture *c)
{
	return link_names[c->link];
}

void xct_capture_close(struct xct_capture *c)
{
	if (!c)
		return;
	pcap_close(c->pcap);
	free(c->buf);
	free(c);
}
