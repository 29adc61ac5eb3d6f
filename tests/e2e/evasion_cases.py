# SPDX-License-Identifier: GPL-2.0-only
"""The evasion suite's header tricks, as packets (scapy).

Each case builds, for one router path, the probes it sends: a probe is a
list of frames (sent in order) carrying one tag in their payload, and an
expectation that says how what xct lets through must compare with what
nftables lets through on an identical router:

  same     legitimate traffic, or traffic both must block: xct delivers to
           the server's stack exactly what nftables delivers;
  no_more  malformed traffic: xct may be stricter, never looser (nothing
           reaches the server through xct that nftables blocked);
  none     a deliberate difference: xct passes no frame of the probe at
           all, whatever nftables does (docs/SECURITY.md says why);
  no_later a deliberate difference: no later fragment of the probe passes
           and its datagram is never delivered (the first fragment may).

The two rulesets: "open" is `policy accept; drop tcp dport 22`, "closed" is
`policy drop; accept ct state established,related; accept tcp dport 8080`.
Probes go to BLOCKED (22: dropped by both rulesets) and ALLOWED (8080:
accepted by both).
"""

import socket
import struct

from scapy.all import (
    Dot1AD,
    Dot1Q,
    Ether,
    HBHOptUnknown,
    ICMP,
    ICMPv6MLReport,
    ICMPv6MLReport2,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6ND_Redirect,
    ICMPv6PacketTooBig,
    IP,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    IPv6ExtHdrSegmentRouting,
    IPOption_RR,
    PadN,
    Raw,
    TCP,
    UDP,
)

BLOCKED = 22
ALLOWED = 8080

C4, S4, S4_OTHER = "10.231.1.2", "10.231.2.2", "10.231.2.3"
C6, S6, S6_OTHER = "fd00:231:1::2", "fd00:231:2::2", "fd00:231:2::3"
# VLAN tags on the client's frames: one, two (QinQ), three.
VLANS = {
    "vlan1": [(0x8100, 100)],
    "qinq": [(0x88A8, 200), (0x8100, 300)],
    "vlan3": [(0x88A8, 400), (0x8100, 500), (0x8100, 600)],
}


class Probe:
    """legit: nftables must deliver it (a probe it drops would test
    nothing); the fragment identifiers of its frames name the frames that
    carry no tag (a first fragment of 8 bytes of TCP)."""

    def __init__(self, name, frames, expect, tag, legit=False):
        self.name, self.frames, self.expect, self.tag, self.legit = name, frames, expect, tag, legit
        self.frag_ids = {i for i in (frag_id(f) for f in frames) if i is not None}


def frag_id(f):
    """("4", id) or ("6", id) for an Ethernet frame that is an IP
    fragment, else None."""
    et, off = int.from_bytes(f[12:14], "big"), 14
    while et in (0x8100, 0x88A8):
        et, off = int.from_bytes(f[off + 2 : off + 4], "big"), off + 4
    if et == 0x0800:
        if int.from_bytes(f[off + 6 : off + 8], "big") & 0x3FFF:
            return ("4", f[off + 12 : off + 20], int.from_bytes(f[off + 4 : off + 6], "big"))
        return None
    if et == 0x86DD:
        nh, p = f[off + 6], off + 40
        while nh in (0, 43, 60, 51, 44) and p + 8 <= len(f):
            if nh == 44:
                return ("6", f[off + 8 : off + 40], int.from_bytes(f[p + 4 : p + 8], "big"))
            hlen = (f[p + 1] + 2) * 4 if nh == 51 else (f[p + 1] + 1) * 8
            nh, p = f[p], p + hlen
    return None


class Builder:
    """What a case needs of one path: its MAC addresses, a fresh source
    port per probe, the tag of each probe (the same on both paths, since
    every case builds its probes in the same order) and, for cases that
    need one, a real connection through the router."""

    def __init__(self, path, ruleset, run):
        self.path, self.ruleset, self.run = path, ruleset, run
        self.n = 0

    def start(self, case_index):
        # Source ports and tags depend only on the run, the case and the
        # probe's rank in it: identical on both paths, never reused by
        # another run of the script (runs are numbered 0..3).
        self.base = 20000 + self.run * 1600 + case_index * 40
        self.n = 0

    def next(self):
        self.n += 1
        sport = self.base + self.n
        tag = b"xctEV%05d" % sport
        return sport, tag

    def eth(self, l3, vlans=()):
        """One frame: Ethernet to the router, VLAN tags, the IP packet."""
        v6 = isinstance(l3, IPv6) or (isinstance(l3, bytes) and l3[0] >> 4 == 6)
        kind = 0x86DD if v6 else 0x0800
        frame = Ether(src=self.path.client_mac, dst=self.path.router_mac)
        for tpid, vid in vlans:
            frame.type = tpid
            frame = frame / (Dot1AD(vlan=vid) if tpid == 0x88A8 else Dot1Q(vlan=vid))
        frame.lastlayer().type = kind
        return bytes(frame / (Raw(l3) if isinstance(l3, bytes) else l3))


def payload(tag, n):
    """n bytes of the tag repeated: any slice of 2 * len(tag) - 1 bytes
    (a later fragment) still holds a whole tag."""
    return (tag * (n // len(tag) + 1))[:n]


def syn4(b, dport, sport, tag, n=40, src=C4, **ip):
    tcp = TCP(sport=sport, dport=dport, flags="S", seq=1000)
    return IP(src=src, dst=S4, id=sport, **ip) / tcp / payload(tag, n)


def syn6(b, dport, sport, tag, exts=None, n=40, **tcp):
    p = IPv6(src=C6, dst=S6, fl=sport)
    for h in exts or ():
        p = p / h
    return p / TCP(sport=sport, dport=dport, flags="S", seq=1000, **tcp) / payload(tag, n)


def frag4(pkt, cuts, order=None):
    """The IPv4 packet cut at the given offsets of its payload (multiples
    of 8), as fragments, in the given order of their indices."""
    raw = bytes(pkt)
    ihl = (raw[0] & 15) * 4
    body = raw[ihl:]
    bounds = [0] + list(cuts) + [len(body)]
    frags = []
    for i in range(len(bounds) - 1):
        h = IP(raw[:ihl])
        h.len = None
        h.chksum = None
        h.flags = "MF" if i < len(bounds) - 2 else 0
        h.frag = bounds[i] // 8
        h.remove_payload()
        frags.append(IP(bytes(h / Raw(body[bounds[i] : bounds[i + 1]]))))
    return [frags[i] for i in (order or range(len(frags)))]


def frag6(pkt, cuts, fid, order=None):
    """The IPv6 packet (no extension header before the fragmentable part)
    cut at the given offsets of its fragmentable part."""
    raw = bytes(pkt)
    nh, body = raw[6], raw[40:]
    bounds = [0] + list(cuts) + [len(body)]
    frags = []
    for i in range(len(bounds) - 1):
        h = IPv6(raw[:40])
        h.remove_payload()
        h.nh, h.plen = 44, None
        fh = IPv6ExtHdrFragment(nh=nh, offset=bounds[i] // 8, m=int(i < len(bounds) - 2), id=fid)
        frags.append(h / fh / Raw(body[bounds[i] : bounds[i + 1]]))
    return [frags[i] for i in (order or range(len(frags)))]


def dst_pad():
    """An 8-byte destination options header: 6 bytes of PadN."""
    return IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\x00" * 4)])


def big_dstopt(n):
    """A destination options header holding one n-byte option of an
    unknown type whose action is 'skip' (RFC 8200, 4.2)."""
    return IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x1E, optdata=b"\x00" * n)])


def chain(n):
    """n extension headers: hop-by-hop first, then a routing header type 0
    with segments left 0, an atomic fragment header, then destination
    options; every header 8 bytes, padding only."""
    hs = [IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\x00" * 4)])]
    if n >= 3:
        hs.append(IPv6ExtHdrRouting(type=0, segleft=0, addresses=[]))
    if n >= 4:
        hs.append(IPv6ExtHdrFragment(offset=0, m=0, id=0xE0000000 | n))
    while len(hs) < n:
        hs.append(dst_pad())
    return hs[:n]


def syn_pair(b, build, blocked_expect="same", allowed_expect="same", legit=True):
    """The usual two probes: a SYN to the blocked port and one to the
    allowed port, built by build(dport, sport, tag) as L3 packets.  The
    one to the allowed port is legitimate traffic unless legit is False
    (Linux itself refuses the trick)."""
    out = []
    for name, dport, expect in (("to22", BLOCKED, blocked_expect), ("to8080", ALLOWED, allowed_expect)):
        sport, tag = b.next()
        l3 = build(dport, sport, tag)
        frames = [b.eth(p) for p in (l3 if isinstance(l3, list) else [l3])]
        out.append(Probe(name, frames, expect, tag, legit and dport == ALLOWED))
    return out


# ---- IPv6 extension headers ----


def exthdr_case(n):
    """A chain of n headers.  Linux 6.18 delivers chains of up to 12
    headers; a longer one is discarded by the receiving host (the count
    is not a protocol limit, so xct must still pass nothing nftables
    blocks)."""

    def case(b):
        exts = [dst_pad()] if n == 1 else chain(n)
        return syn_pair(b, lambda d, s, t: syn6(b, d, s, t, exts), legit=n <= 12)

    return case


def case_rh4_sl0(b):
    """A segment routing header (type 4) with segments left 0."""

    def build(d, s, t):
        return syn6(b, d, s, t, [IPv6ExtHdrSegmentRouting(addresses=[S6], segleft=0, lastentry=0)])

    return syn_pair(b, build)


def case_large_option(b):
    """One destination options header holding a 196-byte option (an
    unknown type whose action is 'skip'): the TCP header starts at byte
    254 of the frame."""
    return syn_pair(b, lambda d, s, t: syn6(b, d, s, t, [big_dstopt(196)]))


def case_padded_chain(b):
    """256 bytes of chain before TCP: a hop-by-hop header of 248 bytes (a
    244-byte option: Linux refuses more than 7 bytes of padding in a
    row) and a destination options header."""
    hbh = IPv6ExtHdrHopByHop(options=[HBHOptUnknown(otype=0x1E, optdata=b"\x00" * 244)])
    return syn_pair(b, lambda d, s, t: syn6(b, d, s, t, [hbh, dst_pad()]))


def case_tcp_opts_past_256(b):
    """The TCP header at byte 230 with 40 bytes of options, the window
    scale last: the options run past byte 256."""
    opts = [("NOP", None)] * 30 + [("MSS", 1400), ("SAckOK", b""), ("WScale", 7), ("EOL", None)]

    def build(d, s, t):
        return syn6(b, d, s, t, [big_dstopt(172)], options=opts)

    return syn_pair(b, build)


def case_tcp_hdr_past_256(b):
    """The TCP header itself beyond byte 256 (a 208-byte option header)."""
    return syn_pair(b, lambda d, s, t: syn6(b, d, s, t, [big_dstopt(204)]))


# ---- fragments ----


def case_frag4_tiny(b):
    """IPv4 first fragment with 8 bytes of TCP (ports and sequence, no
    flags), the rest in a second fragment: dropped whatever the port."""
    return syn_pair(b, lambda d, s, t: frag4(syn4(b, d, s, t), [8]), "none", "none")


def case_frag6_no_l4(b):
    """IPv6 first fragment holding only a destination options header;
    the TCP header in the second fragment."""

    def build(d, s, t):
        return frag6(syn6(b, d, s, t, [dst_pad()]), [8], 0xE6000000 | s)

    # Linux refuses such a first fragment too (RFC 7112).
    return syn_pair(b, build, "none", "none", legit=False)


def case_frag6_overlap(b):
    """IPv6: a first fragment [options][TCP to the allowed port], then a
    fragment at offset 8 that overlaps the TCP header with the blocked
    port (RFC 5722: the datagram must be discarded)."""
    out = []
    for name, first, later in (("8080_then_22", ALLOWED, BLOCKED),):
        sport, tag = b.next()
        good = syn6(b, first, sport, tag, [dst_pad()])
        evil = syn6(b, later, sport, tag, [dst_pad()])
        fid = 0xE7000000 | sport
        f1 = frag6(good, [48], fid)[0]
        f2 = frag6(evil, [8], fid)[1]
        f2[IPv6ExtHdrFragment].m = 0
        out.append(Probe(name, [b.eth(f1), b.eth(f2)], "same", tag))
    return out


def case_frag4_dup_first(b):
    """IPv4: a first fragment to the allowed port, a second first
    fragment (same id) to the blocked port, the last fragment.  Linux keeps
    the first copy; xct, which cannot know which copy a receiver keeps,
    drops the datagram once any of its first fragments is refused."""
    sport, tag = b.next()
    good = frag4(syn4(b, ALLOWED, sport, tag), [24])
    evil = frag4(syn4(b, BLOCKED, sport, tag), [24])
    return [Probe("8080_then_22", [b.eth(good[0]), b.eth(evil[0]), b.eth(good[1])], "no_more",
                  tag)]


def case_frag_no_first(b):
    """Later fragments of datagrams whose first fragment never comes."""
    out = []
    for name, mk in (
        ("ipv4", lambda d, s, t: frag4(syn4(b, d, s, t, n=200), [48, 104])[1:]),
        ("ipv6", lambda d, s, t: frag6(syn6(b, d, s, t, n=200), [48, 104], 0xE8000000 | s)[1:]),
    ):
        for dport in (BLOCKED, ALLOWED):
            sport, tag = b.next()
            frames = [b.eth(p) for p in mk(dport, sport, tag)]
            out.append(Probe("%s_to%d" % (name, dport), frames, "none", tag))
    return out


def case_frag_first_dropped(b):
    """A first fragment the rules drop (blocked port), then its later
    fragments; beside it a fragmented SYN to the allowed port, which must
    pass whole."""
    out = []
    for name, mk in (
        ("ipv4", lambda d, s, t: frag4(syn4(b, d, s, t, n=200), [48, 104])),
        ("ipv6", lambda d, s, t: frag6(syn6(b, d, s, t, n=200), [48, 104], 0xE9000000 | s)),
    ):
        for dport, expect in ((BLOCKED, "none"), (ALLOWED, "same")):
            sport, tag = b.next()
            frames = [b.eth(p) for p in mk(dport, sport, tag)]
            out.append(Probe("%s_to%d" % (name, dport), frames, expect, tag, dport == ALLOWED))
    return out


def case_frag_out_of_order(b):
    """The later fragments before the first one: xct drops later
    fragments it has seen no accepted first fragment for."""
    out = []
    for name, mk in (
        ("ipv4", lambda d, s, t: frag4(syn4(b, d, s, t, n=200), [48, 104], order=[1, 2, 0])),
        ("ipv6", lambda d, s, t: frag6(syn6(b, d, s, t, n=200), [48, 104], 0xEA000000 | s, order=[1, 2, 0])),
    ):
        sport, tag = b.next()
        frames = [b.eth(p) for p in mk(ALLOWED, sport, tag)]
        out.append(Probe(name + "_to8080", frames, "no_later", tag, True))
    return out


def case_frag_udp(b):
    """A legitimate fragmented UDP datagram (3000 bytes, three
    fragments) to the allowed port number."""
    out = []
    sport, tag = b.next()
    p4 = IP(src=C4, dst=S4, id=sport) / UDP(sport=sport, dport=ALLOWED) / payload(tag, 3000)
    frames = [b.eth(p) for p in frag4(p4, [1480, 2960])]
    out.append(Probe("ipv4", frames, "same", tag, b.ruleset == "open"))
    sport, tag = b.next()
    p6 = IPv6(src=C6, dst=S6) / UDP(sport=sport, dport=ALLOWED) / payload(tag, 3000)
    frames = [b.eth(p) for p in frag6(p6, [1448, 2896], 0xEB000000 | sport)]
    out.append(Probe("ipv6", frames, "same", tag, b.ruleset == "open"))
    return out


# ---- VLAN ----


def vlan_case(key):
    tags = VLANS[key]

    def case(b):
        out = []
        for name, dport in (("to22", BLOCKED), ("to8080", ALLOWED)):
            sport, tag = b.next()
            out.append(Probe(name, [b.eth(syn4(b, dport, sport, tag), tags)], "same", tag))
        return out

    return case


# ---- IPv4 options ----


def case_ipv4_rr(b):
    """Record route with room for 9 addresses: a 60-byte IPv4 header."""
    return syn_pair(b, lambda d, s, t: syn4(b, d, s, t, options=[IPOption_RR(routers=["0.0.0.0"] * 9)]))


def case_ipv4_pad40(b):
    """40 bytes of no-op options."""
    return syn_pair(b, lambda d, s, t: syn4(b, d, s, t, options=Raw(b"\x01" * 39 + b"\x00")))


# ---- TCP data offset ----


def doff_case(doff, tcp_len):
    """A SYN whose data offset says doff words, in a TCP segment of
    tcp_len bytes."""

    def case(b):
        def build(d, s, t):
            seg = bytearray(bytes(TCP(sport=s, dport=d, flags="S", seq=1000)) + payload(t, tcp_len - 20))
            seg[12] = doff << 4
            p = IP(src=C4, dst=S4, id=s, proto=6) / Raw(bytes(seg))
            raw = bytearray(bytes(p))
            # The checksum over the segment as sent (scapy computes it
            # for a TCP layer, not for raw bytes).
            ph = socket.inet_aton(C4) + socket.inet_aton(S4) + struct.pack("!BBH", 0, 6, len(seg))
            seg[16:18] = b"\x00\x00"
            csum = _csum(ph + bytes(seg))
            raw[20 + 16 : 20 + 18] = struct.pack("!H", csum)
            return IP(bytes(raw))

        return syn_pair(b, build, "no_more", "no_more")

    return case


def _csum(data):
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


# ---- ICMP errors ----


def quoted4(sport, tag, cut=None, src=S4, dst=C4):
    """The packet an ICMP error quotes: the server's segment to the
    client (a reply of the client's connection), cut to cut bytes."""
    q = bytes(IP(src=src, dst=dst, id=1) / TCP(sport=ALLOWED, dport=sport, flags="SA") / payload(tag, 32))
    return q[:cut] if cut else q


def icmp4_err(outer_dst, q):
    return IP(src="10.231.1.9", dst=outer_dst) / ICMP(type=3, code=4, nexthopmtu=1200) / Raw(q)


def case_icmp_forged(b):
    """ICMP errors quoting connections that do not exist (IPv4 and
    IPv6), then a TCP ACK on the quoted tuple: no error opens it."""
    out = []
    sport, tag = b.next()
    out.append(Probe("icmp4", [b.eth(icmp4_err(S4, quoted4(sport, tag)))], "same", tag))
    sport6, tag6 = b.next()
    q6 = bytes(IPv6(src=S6, dst=C6) / TCP(sport=ALLOWED, dport=sport6, flags="SA") / payload(tag6, 32))
    err6 = IPv6(src="fd00:231:1::9", dst=S6) / ICMPv6PacketTooBig(mtu=1280) / Raw(q6)
    out.append(Probe("icmp6", [b.eth(err6)], "same", tag6))
    # The tuple the first error quoted, opened by nothing: an ACK to a
    # port no rule accepts must still be refused under policy drop.
    sport2, tag2 = b.next()
    q = IP(src=S4, dst=C4) / TCP(sport=23, dport=sport2, flags="SA") / payload(tag2, 16)
    err = icmp4_err(S4, bytes(q))
    ack = IP(src=C4, dst=S4, id=sport2) / TCP(sport=sport2, dport=23, flags="A", seq=5000, ack=7000)
    ack = ack / payload(tag2, 40)
    out.append(Probe("then_ack", [b.eth(err), b.eth(ack)], "same", tag2))
    return out


def case_icmp_related(b):
    """ICMP errors about a real connection to the allowed port: whole
    (related, must pass), with a spoofed outer destination (must not),
    and quoting only 4 bytes of TCP (the receiving stack needs 8: xct
    may refuse it)."""
    sport = b.path.connect(ALLOWED)
    out = []
    _, tag = b.next()
    out.append(Probe("related", [b.eth(icmp4_err(S4, quoted4(sport, tag)))], "same", tag, True))
    _, tag = b.next()
    out.append(Probe("spoofed_outer", [b.eth(icmp4_err(S4_OTHER, quoted4(sport, tag)))], "same", tag))
    _, tag = b.next()
    # The tag goes after the quote, as trailing bytes of the ICMP payload.
    cut = quoted4(sport, tag, cut=24) + b"\x00" * 4 + tag
    out.append(Probe("truncated_quote", [b.eth(icmp4_err(S4, cut))], "no_more", tag))
    return out


# ---- ND and MLD ----


def case_nd_bad_hoplimit(b):
    """ND and MLD messages through the router to the server's address,
    with hop limits their receivers must refuse (255 for ND, 1 for MLD
    wanted): nothing a router forwards is legitimate ND."""
    out = []
    msgs = (
        ("ns", lambda: ICMPv6ND_NS(tgt=S6)),
        ("na", lambda: ICMPv6ND_NA(tgt=C6, R=0, S=1, O=1)),
        ("ra", lambda: ICMPv6ND_RA()),
        ("redirect", lambda: ICMPv6ND_Redirect(tgt="fe80::1", dst=S6)),
        ("mld_report", lambda: ICMPv6MLReport(mladdr="ff02::1:ff00:2")),
        ("mld2_report", lambda: ICMPv6MLReport2()),
    )
    for name, mk in msgs:
        sport, tag = b.next()
        out.append(Probe(name, [b.eth(IPv6(src=C6, dst=S6, hlim=64) / mk() / Raw(tag * 2))], "no_more", tag))
    return out


CASES = [
    ("exthdr_1", exthdr_case(1)),
    ("exthdr_2", exthdr_case(2)),
    ("exthdr_6", exthdr_case(6)),
    ("exthdr_7", exthdr_case(7)),
    ("exthdr_8", exthdr_case(8)),
    ("exthdr_12", exthdr_case(12)),
    ("exthdr_16", exthdr_case(16)),
    ("exthdr_rh4_sl0", case_rh4_sl0),
    ("exthdr_large_option", case_large_option),
    ("exthdr_padded_256", case_padded_chain),
    ("tcp_opts_past_256", case_tcp_opts_past_256),
    ("tcp_hdr_past_256", case_tcp_hdr_past_256),
    ("frag4_tiny_first", case_frag4_tiny),
    ("frag6_first_no_l4", case_frag6_no_l4),
    ("frag6_overlap_ports", case_frag6_overlap),
    ("frag4_dup_first", case_frag4_dup_first),
    ("frag_no_first", case_frag_no_first),
    ("frag_first_dropped", case_frag_first_dropped),
    ("frag_out_of_order", case_frag_out_of_order),
    ("frag_udp", case_frag_udp),
    ("vlan1", vlan_case("vlan1")),
    ("vlan_qinq", vlan_case("qinq")),
    ("vlan3", vlan_case("vlan3")),
    ("ipv4_opt_rr", case_ipv4_rr),
    ("ipv4_opt_pad40", case_ipv4_pad40),
    ("tcp_doff_4", doff_case(4, 40)),
    ("tcp_doff_0", doff_case(0, 40)),
    ("tcp_doff_beyond", doff_case(15, 40)),
    ("icmp_err_forged", case_icmp_forged),
    ("icmp_err_related", case_icmp_related),
    ("nd_mld_bad_hoplimit", case_nd_bad_hoplimit),
]
