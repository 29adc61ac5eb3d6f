# SPDX-License-Identifier: GPL-2.0-only
"""The answers to rejected probes, for tests/e2e/test_reject_with.sh.

  reject_probe.py probe S4 S6 OUT.json   (in the client's namespace)
      sends each probe of PROBES, the same bytes every run, and writes the
      answer each got (its IP packet, hex) or null;
  reject_probe.py compare NFT.json XCT.json
      prints one ok / not ok line per probe: xct's answer against
      nftables', field by field.

What nftables sends from its forward chain differs from xct's answer in
what the router adds of its own, and only there: an ICMP error comes from
the router's address (xct answers from the rejected destination, as
nftables' input chain does), the packet it quotes had its TTL lowered by
the forwarding, and the IP identification is the kernel's.  Everything
else is compared byte for byte: the ICMP type, code and unused word, the
quoted packet (its TTL and IP checksum aside), and the whole TCP RST with
its IP addresses, TTL and flags.
"""
import json
import sys

from scapy.all import ICMP, IP, IPv6, TCP, UDP, Raw, conf, sr1  # noqa: E402
from scapy.layers.inet6 import ICMPv6DestUnreach  # noqa: E402

# name, family, protocol, destination port; the rules of the test script
# say what each is rejected with.
PROBES = [
    ("icmp_admin_prohibited", 4, "udp", 9),
    ("icmp_host_unreachable", 4, "udp", 10),
    ("icmp_net_unreachable", 4, "udp", 11),
    ("icmp_prot_unreachable", 4, "udp", 12),
    ("icmp_port_unreachable", 4, "udp", 13),
    ("tcp_reset", 4, "tcp", 14),
    ("icmpx_admin_prohibited", 4, "udp", 15),
    ("icmp_admin_prohibited_tcp", 4, "tcp", 16),
    ("icmpv6_admin_prohibited", 6, "udp", 21),
    ("icmpv6_no_route", 6, "udp", 22),
    ("icmpv6_addr_unreachable", 6, "udp", 23),
    ("icmpv6_port_unreachable", 6, "udp", 24),
    ("tcp_reset6", 6, "tcp", 25),
    ("icmpx_no_route6", 6, "udp", 26),
]


def probe(s4, s6, out):
    conf.verb = 0
    got = {}
    for i, (name, fam, proto, port) in enumerate(PROBES):
        ip = IP(dst=s4, id=0x4200 + i, ttl=64) if fam == 4 else IPv6(dst=s6, hlim=64)
        if proto == "udp":
            pkt = ip / UDP(sport=33000 + i, dport=port) / Raw(b"xct-probe")
        else:
            pkt = ip / TCP(sport=33000 + i, dport=port, flags="S", seq=1000 + i, window=1024)
        ans = sr1(pkt, timeout=2)
        got[name] = bytes(ans).hex() if ans is not None else None
    with open(out, "w") as f:
        json.dump(got, f)


def is_icmp(p, v4):
    # Before TCP: the TCP header an ICMP error quotes is a TCP layer too.
    return p.haslayer(ICMP) if v4 else p.haslayer(ICMPv6DestUnreach)


def fields(hexstr):
    """What is compared of one answer, as a dict."""
    b = bytes.fromhex(hexstr)
    v4 = b[0] >> 4 == 4
    p = IP(b) if v4 else IPv6(b)
    f = {}
    if not is_icmp(p, v4):
        t = p[TCP]
        f["ip"] = (p.src, p.dst, p.ttl if v4 else p.hlim)
        if v4:
            f["ip_flags"] = (int(p.flags), p.tos)
        tcp = bytearray(bytes(t))
        # The kernel leaves its RST's IPv4 checksum to the device
        # (CHECKSUM_PARTIAL), which a veth never fills in: not compared;
        # xct's is checked on its own (checksums_ok()).
        tcp[16:18] = b"\0\0"
        f["tcp"] = bytes(tcp).hex()
        return f
    if v4:
        ic = bytes(p[ICMP])
        f["icmp"] = ic[:2].hex() + ic[4:8].hex()
        quote = bytearray(ic[8:])
        quote[8] = 0  # TTL
        quote[10:12] = b"\0\0"  # its checksum, which follows the TTL
    else:
        ic = bytes(p[ICMPv6DestUnreach])
        f["icmp"] = ic[:2].hex() + ic[4:8].hex()
        quote = bytearray(ic[8:])
        quote[7] = 0  # hop limit
    f["quote"] = bytes(quote).hex()
    f["dst"] = p.dst
    return f


def checksums_ok(hexstr):
    """Whether the IP and transport checksums of an answer are right."""
    b = bytes.fromhex(hexstr)
    v4 = b[0] >> 4 == 4
    p = IP(b) if v4 else IPv6(b)
    layer = (ICMP if v4 else ICMPv6DestUnreach) if is_icmp(p, v4) else TCP
    name = "cksum" if layer is ICMPv6DestUnreach else "chksum"
    sent = getattr(p[layer], name)
    if v4:
        ip_sent = p.chksum
        del p.chksum
    delattr(p[layer], name)
    q = IP(bytes(p)) if v4 else IPv6(bytes(p))
    return sent == getattr(q[layer], name) and (not v4 or q.chksum == ip_sent)


def compare(nft_file, xct_file):
    nft = json.load(open(nft_file))
    xct = json.load(open(xct_file))
    failed = 0
    for name, _, _, _ in PROBES:
        a, b = nft.get(name), xct.get(name)
        if a is None or b is None:
            ok, why = False, "no answer from %s" % ("nftables" if a is None else "xct")
        else:
            fa, fb = fields(a), fields(b)
            ok = fa == fb and checksums_ok(b)
            why = "nftables %s, xct %s%s" % (
                fa, fb, "" if checksums_ok(b) else ", xct's checksums wrong")
        print("%s reject_with_%s" % ("ok" if ok else "not ok", name))
        if not ok:
            print("#   " + why)
            failed += 1
    return failed


if __name__ == "__main__":
    if sys.argv[1] == "probe":
        probe(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(1 if compare(sys.argv[2], sys.argv[3]) else 0)
