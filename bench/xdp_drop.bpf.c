// SPDX-License-Identifier: GPL-2.0-only
/*
 * The floors of the benchmarks: XDP programs that decide without reading
 * the packet.  xdp_drop_all is the datapath benchmark's floor (whatever a
 * firewall costs above it is the firewall's own work); xdp_pass_all shows
 * what merely having an XDP program on a veth costs forwarded traffic (the
 * connection-rate benchmark's reference for xct in XDP mode).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_drop_all(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int xdp_pass_all(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
