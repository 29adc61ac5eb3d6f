#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Crafted packet sequences through the router, xct checked against nf_conntrack.

Each scenario is a short list of packets, built with scapy and sent from raw
sockets in the client namespace (original direction) and the server
namespace (reply direction).  The packets cross the router, where both the
kernel's nf_conntrack and xct track them.  A packet is sent only once the
previous one has arrived at the far end, so both trackers have seen every
packet in order.  After the scenario the router's `conntrack -L` and
`xct ct list` are compared for the scenario's flows: presence, state,
[UNREPLIED]/[ASSURED], timeout (within 3 s), and packets/bytes per
direction.  Every scenario has its own ports (or ICMP id), so the tuples
never meet.

The endpoints do not answer: the test script drops the test protocols at
their input, so only the crafted packets are on the wire.

Output: one "ok NAME" / "not ok NAME" line per scenario, diagnostics as
"# ..." lines.
"""

import argparse
import ctypes
import os
import select
import socket
import sys
import time

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.packet import Raw

from ct_compare import Router, collect, compare, counters

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
ARRIVAL_TIMEOUT = 2.0

_libc = ctypes.CDLL(None, use_errno=True)


def in_netns(name, fn):
    """Run fn() with the calling thread in network namespace name."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {name}: {os.strerror(err)}")
        try:
            return fn()
        finally:
            if _libc.setns(own, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns back: {os.strerror(err)}")
    finally:
        os.close(target)
        os.close(own)


def l3_key(pkt):
    """(src, dst, proto, transport bytes) of an IPv4/IPv6 packet: what the
    router does not change on the way through."""
    if not pkt:
        return None
    ver = pkt[0] >> 4
    if ver == 4 and len(pkt) >= 20:
        ihl = (pkt[0] & 0x0F) * 4
        total = int.from_bytes(pkt[2:4], "big")
        return (pkt[12:16], pkt[16:20], pkt[9], bytes(pkt[ihl:total]))
    if ver == 6 and len(pkt) >= 40:
        plen = int.from_bytes(pkt[4:6], "big")
        return (pkt[8:24], pkt[24:40], pkt[6], bytes(pkt[40 : 40 + plen]))
    return None


class Endpoint:
    """Raw sockets to send from, and a packet socket to see what arrives."""

    def __init__(self, netns, ifname):
        self.netns = netns

        def open_sockets():
            raw4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            raw6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
            sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            sniff.bind((ifname, ETH_P_ALL))
            sniff.setblocking(False)
            return raw4, raw6, sniff

        self.raw4, self.raw6, self.sniff = in_netns(netns, open_sockets)

    def send(self, pkt, family, dst):
        if family == 4:
            self.raw4.sendto(pkt, (dst, 0))
        else:
            self.raw6.sendto(pkt, (dst, 0, 0, 0))

    def drain(self):
        while True:
            try:
                self.sniff.recv(65535)
            except BlockingIOError:
                return

    def wait_for(self, key, timeout=ARRIVAL_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select([self.sniff], [], [], left)
            if not ready:
                continue
            try:
                frame, addr = self.sniff.recvfrom(65535)
            except BlockingIOError:
                continue
            if addr[2] == PACKET_OUTGOING:
                continue
            ethertype = int.from_bytes(frame[12:14], "big")
            if ethertype not in (0x0800, 0x86DD):
                continue
            if l3_key(frame[14:]) == key:
                return True


# --- flows: builders for each scenario's packets --------------------------

SYN_WIN = 64240
SYNACK_WIN = 65160


class Flow:
    """One scenario's packets; c() come from the client, s() from the server."""

    def __init__(self, idx, family, addrs, base=0):
        self.idx = idx
        self.family = family
        self.caddr, self.saddr = addrs[family]
        self.cport = 20000 + base + idx
        self.sport = 30000 + base + idx
        self.icmp_id = 0x4000 + base + idx
        self.icmp_foreign = {f"id={0x4000 + base + i}" for i in range(len(SCENARIOS)) if i != idx}
        # Initial sequence numbers far apart and different per scenario.
        self.ci = (0x1A2B3C4D + idx * 0x01000193) & 0xFFFFFFFF
        self.si = (0x9E3779B9 + idx * 0x00C0FFEE) & 0xFFFFFFFF
        self.steps = []
        self.sent = {"c": [0, 0], "s": [0, 0]}
        self.cts = 100000 + idx * 1000
        self.sts = 700000 + idx * 1000
        self.wscale = 7
        self.cwin = 502  # 64256 once scaled by 7
        self.swin = 509  # 65152 once scaled by 7
        self.last_udp = None

    def ip(self, who):
        src, dst = (self.caddr, self.saddr) if who == "c" else (self.saddr, self.caddr)
        if self.family == 4:
            return IP(src=src, dst=dst, ttl=64, id=(self.idx * 131 + len(self.steps)) & 0xFFFF)
        return IPv6(src=src, dst=dst, hlim=64)

    def add(self, who, pkt):
        raw = bytes(pkt)
        self.steps.append((who, raw))
        self.sent[who][0] += 1
        self.sent[who][1] += len(raw)
        return raw

    def sleep(self, secs):
        self.steps.append(("sleep", secs))

    # TCP ------------------------------------------------------------------

    def _tsopt(self, who, echo=True):
        if who == "c":
            self.cts += 7
            return ("Timestamp", (self.cts, self.sts if echo else 0))
        self.sts += 5
        return ("Timestamp", (self.sts, self.cts if echo else 0))

    def syn_opts(self, who, wscale=True, echo=False):
        opts = [("MSS", 1460), ("SAckOK", b""), self._tsopt(who, echo)]
        if wscale:
            opts += [("NOP", None), ("WScale", self.wscale if wscale is True else wscale)]
        return opts

    def tcp(self, who, flags, seq, ack=0, win=None, data=0, opts=None):
        if win is None:
            win = self.cwin if who == "c" else self.swin
        if opts is None:
            opts = [("NOP", None), ("NOP", None), self._tsopt(who)]
        if isinstance(data, int):
            data = bytes((i * 7 + 3) & 0xFF for i in range(data))
        sport, dport = (self.cport, self.sport) if who == "c" else (self.sport, self.cport)
        seg = TCP(sport=sport, dport=dport, flags=flags, seq=seq & 0xFFFFFFFF,
                  ack=ack & 0xFFFFFFFF, window=win, options=opts)
        pkt = self.ip(who) / seg
        if data:
            pkt = pkt / Raw(data)
        return self.add(who, pkt)

    def c(self, flags, seq, ack=0, **kw):
        return self.tcp("c", flags, seq, ack, **kw)

    def s(self, flags, seq, ack=0, **kw):
        return self.tcp("s", flags, seq, ack, **kw)

    def handshake(self, wscale=True, swscale=None, synack_win=SYNACK_WIN):
        """SYN, SYN/ACK, ACK. Afterwards the client's next seq is ci+1, the
        server's si+1."""
        if swscale is None:
            swscale = wscale
        if not wscale or not swscale:
            self.cwin, self.swin = 64240, 65160
        self.c("S", self.ci, win=SYN_WIN, opts=self.syn_opts("c", wscale))
        self.s("SA", self.si, self.ci + 1, win=synack_win, opts=self.syn_opts("s", swscale, True))
        self.c("A", self.ci + 1, self.si + 1)

    def established(self):
        """Handshake and one data exchange each way: client next seq ci+101,
        server next seq si+201."""
        self.handshake()
        self.c("PA", self.ci + 1, self.si + 1, data=100)
        self.s("A", self.si + 1, self.ci + 101)
        self.s("PA", self.si + 1, self.ci + 101, data=200)
        self.c("A", self.ci + 101, self.si + 201)

    def client_close(self, upto):
        """From established(): client FIN, server ACK, server FIN, client
        ACK, stopping after `upto` of those packets."""
        steps = [
            lambda: self.c("FA", self.ci + 101, self.si + 201),
            lambda: self.s("A", self.si + 201, self.ci + 102),
            lambda: self.s("FA", self.si + 201, self.ci + 102),
            lambda: self.c("A", self.ci + 102, self.si + 202),
        ]
        for step in steps[:upto]:
            step()

    def server_close(self, upto):
        steps = [
            lambda: self.s("FA", self.si + 201, self.ci + 101),
            lambda: self.c("A", self.ci + 101, self.si + 202),
            lambda: self.c("FA", self.ci + 101, self.si + 202),
            lambda: self.s("A", self.si + 202, self.ci + 102),
        ]
        for step in steps[:upto]:
            step()

    # UDP ------------------------------------------------------------------

    def udp(self, who, n):
        sport, dport = (self.cport, self.sport) if who == "c" else (self.sport, self.cport)
        data = bytes((i * 5 + 1) & 0xFF for i in range(n))
        raw = self.add(who, self.ip(who) / UDP(sport=sport, dport=dport) / Raw(data))
        if who == "c":
            self.last_udp = raw
        return raw

    # ICMP -----------------------------------------------------------------

    def echo(self, who, seq, n=56):
        data = bytes((i + seq) & 0xFF for i in range(n))
        if self.family == 4:
            msg = ICMP(type=8 if who == "c" else 0, id=self.icmp_id, seq=seq)
        elif who == "c":
            msg = ICMPv6EchoRequest(id=self.icmp_id, seq=seq)
        else:
            msg = ICMPv6EchoReply(id=self.icmp_id, seq=seq)
        return self.add(who, self.ip(who) / msg / Raw(data))

    def port_unreachable(self, who, quoted):
        """An ICMP port unreachable from `who` quoting packet `quoted`."""
        if self.family == 4:
            msg = ICMP(type=3, code=3) / Raw(quoted[:576 - 28])
        else:
            msg = ICMPv6DestUnreach(code=4) / Raw(quoted[:1280 - 48])
        return self.add(who, self.ip(who) / msg)


# --- scenarios --------------------------------------------------------------


class Scenario:
    def __init__(self, name, fn, expect, family, proto, exact_counts):
        self.name = name
        self.fn = fn
        self.expect = expect
        self.family = family
        self.proto = proto
        self.exact_counts = exact_counts


SCENARIOS = []


def scenario(name, expect, family=4, proto="tcp", exact_counts=False):
    """expect: the kernel's verdict as "STATE FLAG..." (flags without
    brackets), or "absent".  It only checks that the scenario reaches the
    state its name promises; the test itself compares xct to the kernel."""

    def register(fn):
        SCENARIOS.append(Scenario(name, fn, expect, family, proto, exact_counts))
        return fn

    return register


# Handshake and data ----------------------------------------------------------


@scenario("tcp_syn_only", "SYN_SENT UNREPLIED")
def _(f):
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))


@scenario("tcp_syn_synack", "SYN_RECV")
def _(f):
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("SA", f.si, f.ci + 1, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))


@scenario("tcp_handshake", "ESTABLISHED ASSURED")
def _(f):
    f.handshake()


@scenario("tcp_handshake_data", "ESTABLISHED ASSURED")
def _(f):
    f.established()


@scenario("tcp_counted_once", "ESTABLISHED ASSURED", exact_counts=True)
def _(f):
    """A forwarded flow counts each packet once per direction: the counters
    must equal exactly what was sent."""
    f.handshake()
    f.c("PA", f.ci + 1, f.si + 1, data=300)
    f.s("A", f.si + 1, f.ci + 301)


@scenario("tcp_handshake_no_options", "ESTABLISHED ASSURED")
def _(f):
    f.c("S", f.ci, win=SYN_WIN, opts=[])
    f.s("SA", f.si, f.ci + 1, win=SYNACK_WIN, opts=[])
    f.c("A", f.ci + 1, f.si + 1, win=SYN_WIN, opts=[])
    f.c("PA", f.ci + 1, f.si + 1, win=SYN_WIN, opts=[], data=50)
    f.s("A", f.si + 1, f.ci + 51, win=SYNACK_WIN, opts=[])


@scenario("tcp_data_unacknowledged", "ESTABLISHED ASSURED")
def _(f):
    """Data the receiver has not acked: the kernel uses the 300 s UNACK timeout."""
    f.handshake()
    f.c("PA", f.ci + 1, f.si + 1, data=400)


# Closing ---------------------------------------------------------------------


@scenario("tcp_client_close_fin_wait", "FIN_WAIT ASSURED")
def _(f):
    f.established()
    f.client_close(1)


@scenario("tcp_client_close_close_wait", "CLOSE_WAIT ASSURED")
def _(f):
    f.established()
    f.client_close(2)


@scenario("tcp_client_close_last_ack", "LAST_ACK ASSURED")
def _(f):
    f.established()
    f.client_close(3)


@scenario("tcp_client_close_time_wait", "TIME_WAIT ASSURED")
def _(f):
    f.established()
    f.client_close(4)


@scenario("tcp_server_close_close_wait", "CLOSE_WAIT ASSURED")
def _(f):
    f.established()
    f.server_close(2)


@scenario("tcp_server_close_time_wait", "TIME_WAIT ASSURED")
def _(f):
    f.established()
    f.server_close(4)


@scenario("tcp_simultaneous_close", "TIME_WAIT ASSURED")
def _(f):
    f.established()
    f.c("FA", f.ci + 101, f.si + 201)
    f.s("FA", f.si + 201, f.ci + 101)
    f.c("A", f.ci + 102, f.si + 202)
    f.s("A", f.si + 202, f.ci + 102)


@scenario("tcp_simultaneous_close_last_ack", "LAST_ACK ASSURED")
def _(f):
    f.established()
    f.c("FA", f.ci + 101, f.si + 201)
    f.s("FA", f.si + 201, f.ci + 101)


@scenario("tcp_fin_retransmit", "LAST_ACK ASSURED")
def _(f):
    """The state table knows no FIN direction: a retransmitted FIN moves
    FIN_WAIT on to LAST_ACK."""
    f.established()
    f.c("FA", f.ci + 101, f.si + 201)
    f.c("FA", f.ci + 101, f.si + 201)


@scenario("tcp_fin_with_data", "LAST_ACK ASSURED")
def _(f):
    f.established()
    f.c("FPA", f.ci + 101, f.si + 201, data=60)
    f.s("FA", f.si + 201, f.ci + 162)


# RST in every state -----------------------------------------------------------


@scenario("tcp_rst_client_syn_sent", "absent")
def _(f):
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.c("R", f.ci + 1, win=0, opts=[])


@scenario("tcp_rst_answering_syn", "absent")
def _(f):
    """The server refuses: RST/ACK seq 0 to a SYN; the entry must vanish."""
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("RA", 0, f.ci + 1, win=0, opts=[])


@scenario("tcp_rst_client_syn_recv", "CLOSE")
def _(f):
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("SA", f.si, f.ci + 1, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))
    f.c("R", f.ci + 1, win=0, opts=[])


@scenario("tcp_rst_server_syn_recv", "CLOSE")
def _(f):
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("SA", f.si, f.ci + 1, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))
    f.s("RA", f.si + 1, f.ci + 1, win=0, opts=[])


@scenario("tcp_rst_client_established", "CLOSE ASSURED")
def _(f):
    f.established()
    f.c("RA", f.ci + 101, f.si + 201, win=0, opts=[])


@scenario("tcp_rst_server_established", "CLOSE ASSURED")
def _(f):
    f.established()
    f.s("RA", f.si + 201, f.ci + 101, win=0, opts=[])


@scenario("tcp_rst_client_fin_wait", "CLOSE ASSURED")
def _(f):
    f.established()
    f.client_close(1)
    f.c("R", f.ci + 102, win=0, opts=[])


@scenario("tcp_rst_server_fin_wait", "CLOSE ASSURED")
def _(f):
    f.established()
    f.client_close(1)
    f.s("RA", f.si + 201, f.ci + 102, win=0, opts=[])


@scenario("tcp_rst_client_close_wait", "CLOSE ASSURED")
def _(f):
    f.established()
    f.client_close(2)
    f.c("R", f.ci + 102, win=0, opts=[])


@scenario("tcp_rst_server_close_wait", "CLOSE ASSURED")
def _(f):
    f.established()
    f.client_close(2)
    f.s("R", f.si + 201, win=0, opts=[])


@scenario("tcp_rst_client_last_ack", "CLOSE ASSURED")
def _(f):
    f.established()
    f.client_close(3)
    f.c("R", f.ci + 102, win=0, opts=[])


@scenario("tcp_rst_server_last_ack", "CLOSE ASSURED")
def _(f):
    f.established()
    f.client_close(3)
    f.s("R", f.si + 202, win=0, opts=[])


@scenario("tcp_rst_client_time_wait", "CLOSE ASSURED")
def _(f):
    f.established()
    f.client_close(4)
    f.c("R", f.ci + 102, win=0, opts=[])


@scenario("tcp_rst_server_time_wait", "CLOSE ASSURED")
def _(f):
    f.established()
    f.client_close(4)
    f.s("R", f.si + 202, win=0, opts=[])


@scenario("tcp_rst_out_of_window", "ESTABLISHED ASSURED")
def _(f):
    """RSTs far from the window are INVALID: not counted, state unchanged."""
    f.established()
    f.c("R", f.ci + 101 + 1000000, win=0, opts=[])
    f.s("R", f.si + 201 + 3000000, win=0, opts=[])


@scenario("tcp_rst_seq_zero_established", "ESTABLISHED ASSURED")
def _(f):
    f.established()
    f.s("R", 0, win=0, opts=[])


@scenario("tcp_rst_below_window", "ESTABLISHED ASSURED")
def _(f):
    """A RST below what the peer already acked is INVALID."""
    f.established()
    f.s("R", f.si + 50, win=0, opts=[])


@scenario("tcp_rst_inexact_in_window", "ESTABLISHED ASSURED")
def _(f):
    """In window but not the exact next seq: state kept (challenge ACK)."""
    f.established()
    f.s("R", f.si + 201 + 1000, win=0, opts=[])


@scenario("tcp_rst_inexact_then_exact", "CLOSE ASSURED")
def _(f):
    f.established()
    f.s("R", f.si + 201 + 1000, win=0, opts=[])
    f.c("A", f.ci + 101, f.si + 201)
    f.s("R", f.si + 201, win=0, opts=[])


@scenario("tcp_rst_after_rst_close_wait", "CLOSE ASSURED")
def _(f):
    """After a RST in CLOSE_WAIT a spurious peer RST is not INVALID."""
    f.established()
    f.client_close(2)
    f.s("RA", f.si + 201, f.ci + 102, win=0, opts=[])
    f.c("R", f.ci + 102 + 5000, win=0, opts=[])


# Retransmissions and windows ----------------------------------------------------


@scenario("tcp_syn_retransmit", "SYN_SENT UNREPLIED")
def _(f):
    """A retransmitted SYN does not refresh the SYN_SENT timer."""
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.sleep(4.2)
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))


@scenario("tcp_syn_retransmit_new_isn", "ESTABLISHED ASSURED")
def _(f):
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.c("S", f.ci + 1000, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("SA", f.si, f.ci + 1001, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))
    f.c("A", f.ci + 1001, f.si + 1)


@scenario("tcp_synack_retransmit", "ESTABLISHED ASSURED")
def _(f):
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("SA", f.si, f.ci + 1, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))
    f.s("SA", f.si, f.ci + 1, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))
    f.c("A", f.ci + 1, f.si + 1)


@scenario("tcp_data_retransmit", "ESTABLISHED ASSURED")
def _(f):
    f.established()
    f.c("PA", f.ci + 101, f.si + 201, data=500)
    f.c("PA", f.ci + 101, f.si + 201, data=500)
    f.s("A", f.si + 201, f.ci + 601)


@scenario("tcp_old_retransmit_below_window", "ESTABLISHED ASSURED")
def _(f):
    """Data acked long ago sent again: below the lower bound, ignored."""
    f.handshake(wscale=False, synack_win=1000)
    f.swin = 1000
    for k in range(4):
        f.c("PA", f.ci + 1 + 500 * k, f.si + 1, data=500)
        f.s("A", f.si + 1, f.ci + 1 + 500 * (k + 1))
    f.c("PA", f.ci + 1, f.si + 1, data=500)


@scenario("tcp_data_beyond_window", "ESTABLISHED ASSURED")
def _(f):
    f.established()
    f.c("PA", f.ci + 101 + 10000000, f.si + 201, data=100)


@scenario("tcp_data_overshoot_window", "ESTABLISHED ASSURED")
def _(f):
    """A little more than the window: tolerated (ignored), not INVALID."""
    f.handshake(wscale=False)
    f.s("A", f.si + 1, f.ci + 1, win=65160)
    f.c("PA", f.ci + 1 + 100000, f.si + 1, data=100)
    f.s("A", f.si + 1, f.ci + 1, win=65160)


@scenario("tcp_ack_unsent_data", "ESTABLISHED ASSURED")
def _(f):
    f.established()
    f.s("A", f.si + 201, f.ci + 101 + 100000)


@scenario("tcp_window_scale_large", "ESTABLISHED ASSURED")
def _(f):
    """Window scale 14: ~1 GiB windows make far data in window."""
    f.wscale = 14
    f.cwin = f.swin = 65535
    f.c("S", f.ci, win=65535, opts=f.syn_opts("c"))
    f.s("SA", f.si, f.ci + 1, win=65535, opts=f.syn_opts("s", echo=True))
    f.c("A", f.ci + 1, f.si + 1)
    f.s("A", f.si + 1, f.ci + 1)
    f.c("PA", f.ci + 1 + 200000000, f.si + 1, data=1000)
    f.s("A", f.si + 1, f.ci + 1 + 200001000)


@scenario("tcp_window_scale_one_side", "ESTABLISHED ASSURED")
def _(f):
    """Only the client offers window scaling: neither side scales, and
    data the scaled window would allow is INVALID."""
    f.cwin, f.swin = 65535, 65535
    f.c("S", f.ci, win=65535, opts=f.syn_opts("c", wscale=14))
    f.s("SA", f.si, f.ci + 1, win=65535, opts=f.syn_opts("s", wscale=False, echo=True))
    f.c("A", f.ci + 1, f.si + 1)
    f.s("A", f.si + 1, f.ci + 1)
    f.c("PA", f.ci + 1 + 2000000, f.si + 1, data=1000)


@scenario("tcp_zero_window", "ESTABLISHED ASSURED")
def _(f):
    f.established()
    f.s("A", f.si + 201, f.ci + 101, win=0)
    f.c("A", f.ci + 101, f.si + 201, data=1)
    f.s("A", f.si + 201, f.ci + 101, win=0)


@scenario("tcp_dup_ack_retrans", "ESTABLISHED ASSURED")
def _(f):
    """Identical ACKs repeated: the kernel's retransmission counter."""
    f.established()
    for _ in range(5):
        f.s("A", f.si + 201, f.ci + 101, opts=[])


# Opening corner cases --------------------------------------------------------------


@scenario("tcp_simultaneous_open", "ESTABLISHED ASSURED")
def _(f):
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("S", f.si, win=SYNACK_WIN, opts=f.syn_opts("s"))
    f.c("SA", f.ci, f.si + 1, win=SYN_WIN, opts=f.syn_opts("c", echo=True))
    f.s("SA", f.si, f.ci + 1, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))
    f.c("A", f.ci + 1, f.si + 1)
    f.s("A", f.si + 1, f.ci + 1)


@scenario("tcp_simultaneous_open_syn_sent2", "SYN_SENT2")
def _(f):
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("S", f.si, win=SYNACK_WIN, opts=f.syn_opts("s"))


@scenario("tcp_time_wait_reopen", "SYN_RECV")
def _(f):
    """A new SYN on a TIME_WAIT tuple replaces the old connection."""
    f.established()
    f.client_close(4)
    ni = f.ci + 500000
    f.c("S", ni, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("SA", f.si + 900000, ni + 1, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))


@scenario("tcp_time_wait_reopen_by_server", "SYN_SENT UNREPLIED")
def _(f):
    """A SYN from the former server on a TIME_WAIT tuple: roles switch."""
    f.established()
    f.client_close(4)
    f.s("S", f.si + 700000, win=SYN_WIN, opts=f.syn_opts("s"))


@scenario("tcp_syn_in_established", "ESTABLISHED ASSURED")
def _(f):
    """A SYN on an established tuple is ignored; the challenge ACK passes."""
    f.established()
    f.c("S", f.ci + 3000000, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("A", f.si + 201, f.ci + 101)


@scenario("tcp_syn_reuse_after_challenge", "SYN_RECV")
def _(f):
    """New SYN, challenge ACK, RST answering it, SYN again, SYN/ACK."""
    f.established()
    ni = f.ci + 3000000
    f.c("S", ni, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("A", f.si + 201, f.ci + 101)
    f.c("R", f.ci + 101, win=0, opts=[])
    f.c("S", ni, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("SA", f.si + 800000, ni + 1, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))


@scenario("tcp_syn_challenge_ack_in_syn_sent", "ESTABLISHED ASSURED")
def _(f):
    """SYN answered by an ACK of an old incarnation, RST, SYN, SYN/ACK."""
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    old_next = f.ci - 123456
    f.s("A", f.si - 5000, old_next)
    f.c("R", old_next, win=0, opts=[])
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("SA", f.si, f.ci + 1, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))
    f.c("A", f.ci + 1, f.si + 1)


@scenario("tcp_synack_old_incarnation", "ESTABLISHED ASSURED")
def _(f):
    """A stale SYN/ACK (wrong ack) is INVALID; the right one then works."""
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("SA", f.si - 777777, f.ci + 99999, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("SA", f.si, f.ci + 1, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))
    f.c("A", f.ci + 1, f.si + 1)


@scenario("tcp_synack_ack_below_window", "ESTABLISHED ASSURED")
def _(f):
    """A SYN/ACK acking far below the SYN: ignored, neither state nor INVALID."""
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("SA", f.si - 777777, f.ci - 99999, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))
    f.s("SA", f.si, f.ci + 1, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))
    f.c("A", f.ci + 1, f.si + 1)


@scenario("tcp_last_ack_syn_challenge", "LAST_ACK ASSURED")
def _(f):
    """In LAST_ACK a new SYN draws a challenge ACK, which must not move
    the connection to TIME_WAIT."""
    f.established()
    f.client_close(3)
    f.c("S", f.ci + 4000000, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("A", f.si + 202, f.ci + 102)


@scenario("tcp_resyn_keeps_window_scale", "ESTABLISHED ASSURED")
def _(f):
    """A second SYN with a higher seq re-initialises the client's side but
    keeps its window scale: 1000 << 7 lets the server send 25 segments."""
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    ni = f.ci + 4998000
    f.c("S", ni, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("SA", f.si, ni + 1, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))
    f.c("A", ni + 1, f.si + 1, win=1000)
    for k in range(25):
        f.s("PA", f.si + 1 + 1400 * k, ni + 1, data=1400)


@scenario("tcp_rst_after_ignored_syn_same_side", "ESTABLISHED ASSURED")
def _(f):
    """An injected SYN, then a RST from the same side acking it, out of
    window: no answer to the SYN, so INVALID, and the connection stays."""
    f.established()
    ni = f.ci + 3000000
    f.c("S", ni, win=SYN_WIN, opts=f.syn_opts("c"))
    f.c("RA", f.ci + 101 + 5000000, ni + 1, win=0, opts=[])


@scenario("tcp_rst_after_ignored_syn_other_side", "CLOSE ASSURED")
def _(f):
    """The same RST from the server answers the SYN: CLOSE."""
    f.established()
    ni = f.ci + 3000000
    f.c("S", ni, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("RA", f.si + 201 + 5000000, ni + 1, win=0, opts=[])


@scenario("tcp_simultaneous_open_rst_same_side", "SYN_SENT2")
def _(f):
    """After a simultaneous open, an out-of-window RST from the side of the
    last SYN is INVALID."""
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("S", f.si, win=SYNACK_WIN, opts=f.syn_opts("s"))
    f.s("R", f.si + 5000000, 0, win=0, opts=[])


@scenario("tcp_simultaneous_open_rst_other_side", "CLOSE")
def _(f):
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("S", f.si, win=SYNACK_WIN, opts=f.syn_opts("s"))
    f.c("R", f.ci + 5000000, 0, win=0, opts=[])


@scenario("tcp_rst_after_ignored_synack", "SYN_SENT")
def _(f):
    """SYN, a SYN/ACK acking far below it (let through), then an
    out-of-window client RST: INVALID."""
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("SA", f.si, f.ci - 99999, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))
    f.c("R", f.ci + 5000000, 0, win=0, opts=[])


@scenario("tcp_rst_answering_ack_same_side", "CLOSE")
def _(f):
    """Before ASSURED, a RST acking the end of the last ACK closes, from
    either side: the kernel's shortcut for ACKs has no direction."""
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("SA", f.si, f.ci + 1, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))
    f.s("A", f.si + 1, f.ci + 1)
    f.s("R", f.si + 1 + 5000000, f.si + 1, win=0, opts=[])


@scenario("tcp_resync_keeps_liberal", "SYN_RECV")
def _(f):
    """Picked up mid-stream, then a SYN (wscale 14) the server answers: the
    resync keeps the server's side liberal, so far data still passes."""
    f.c("PA", f.ci, f.si, data=100)
    ni = f.ci + 7000000
    f.wscale = 14
    f.c("S", ni, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("SA", f.si + 9000, ni + 1, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))
    f.s("PA", f.si + 9001 + 243955, ni + 1, data=100)


@scenario("tcp_midstream_pickup", "ESTABLISHED UNREPLIED")
def _(f):
    f.c("PA", f.ci, f.si, data=100)


@scenario("tcp_midstream_pickup_reply", "ESTABLISHED")
def _(f):
    f.c("PA", f.ci, f.si, data=100)
    f.s("A", f.si, f.ci + 100)


@scenario("tcp_midstream_pickup_assured", "ESTABLISHED ASSURED")
def _(f):
    f.c("PA", f.ci, f.si, data=100)
    f.s("PA", f.si, f.ci + 100, data=40)
    f.c("A", f.ci + 100, f.si + 40)


@scenario("tcp_synack_without_syn", "absent")
def _(f):
    f.s("SA", f.si, f.ci + 1, win=SYNACK_WIN, opts=f.syn_opts("s", echo=True))


@scenario("tcp_fin_without_connection", "absent")
def _(f):
    f.c("FA", f.ci, f.si)


@scenario("tcp_rst_without_connection", "absent")
def _(f):
    f.c("R", f.ci, win=0, opts=[])


@scenario("tcp_flags_null", "absent")
def _(f):
    f.c("", f.ci, win=1024, opts=[])


@scenario("tcp_flags_xmas", "absent")
def _(f):
    f.c("FPU", f.ci, win=1024, opts=[])


@scenario("tcp_flags_syn_fin", "absent")
def _(f):
    f.c("SF", f.ci, win=1024, opts=[])


@scenario("tcp_flags_syn_rst", "absent")
def _(f):
    f.c("SR", f.ci, win=1024, opts=[])


@scenario("tcp_flags_fin_only", "absent")
def _(f):
    f.c("F", f.ci, win=1024, opts=[])


@scenario("tcp_flags_invalid_in_established", "ESTABLISHED ASSURED")
def _(f):
    """Invalid flag combinations on an established tuple: not counted."""
    f.established()
    f.c("FPU", f.ci + 101, f.si + 201, opts=[])
    f.s("SF", f.si + 201, f.ci + 101, opts=[])
    f.c("", f.ci + 101, f.si + 201, opts=[])


# IPv6 TCP -------------------------------------------------------------------------


@scenario("tcp6_handshake", "ESTABLISHED ASSURED", family=6)
def _(f):
    f.handshake()


@scenario("tcp6_handshake_data_close", "TIME_WAIT ASSURED", family=6)
def _(f):
    f.established()
    f.client_close(4)


@scenario("tcp6_rst_answering_syn", "absent", family=6)
def _(f):
    f.c("S", f.ci, win=SYN_WIN, opts=f.syn_opts("c"))
    f.s("RA", 0, f.ci + 1, win=0, opts=[])


@scenario("tcp6_counted_once", "ESTABLISHED ASSURED", family=6, exact_counts=True)
def _(f):
    f.handshake()
    f.c("PA", f.ci + 1, f.si + 1, data=1000)
    f.s("A", f.si + 1, f.ci + 1001)


# UDP ---------------------------------------------------------------------------


@scenario("udp_one_way", "UNREPLIED", proto="udp", exact_counts=True)
def _(f):
    f.udp("c", 40)
    f.udp("c", 60)


@scenario("udp_request_response", "", proto="udp", exact_counts=True)
def _(f):
    f.udp("c", 32)
    f.udp("s", 120)


@scenario("udp_stream_assured", "ASSURED", proto="udp", exact_counts=True)
def _(f):
    """Traffic both ways more than 2 s after the first packet: ASSURED."""
    f.udp("c", 32)
    f.udp("s", 64)
    f.sleep(2.3)
    f.udp("c", 32)
    f.udp("s", 64)


@scenario("udp6_request_response", "", family=6, proto="udp", exact_counts=True)
def _(f):
    f.udp("c", 32)
    f.udp("s", 120)


# ICMP --------------------------------------------------------------------------


@scenario("icmp_echo_request", "UNREPLIED", proto="icmp", exact_counts=True)
def _(f):
    f.echo("c", 1)


@scenario("icmp_echo_request_reply", "", proto="icmp", exact_counts=True)
def _(f):
    for seq in (1, 2):
        f.echo("c", seq)
        f.echo("s", seq)


@scenario("icmp_echo_reply_only", "absent", proto="icmp")
def _(f):
    f.echo("s", 1)


@scenario("icmp_error_related", "UNREPLIED", proto="icmp_error", exact_counts=True)
def _(f):
    """Port unreachable quoting a tracked UDP flow: RELATED, counted nowhere,
    and no entry for the error itself."""
    f.udp("c", 40)
    f.port_unreachable("s", f.last_udp)
    f.sent["s"] = [0, 0]


@scenario("icmp_error_unknown_flow", "absent", proto="icmp_error")
def _(f):
    """Port unreachable quoting a flow no tracker knows: no entry anywhere."""
    quoted = bytes(f.ip("c") / UDP(sport=f.cport, dport=f.sport) / Raw(b"q" * 20))
    f.port_unreachable("s", quoted)


@scenario("icmp6_echo_request", "UNREPLIED", family=6, proto="icmp", exact_counts=True)
def _(f):
    f.echo("c", 1)


@scenario("icmp6_echo_request_reply", "", family=6, proto="icmp", exact_counts=True)
def _(f):
    for seq in (1, 2, 3):
        f.echo("c", seq)
        f.echo("s", seq)


@scenario("icmp6_error_related", "UNREPLIED", family=6, proto="icmp_error", exact_counts=True)
def _(f):
    f.udp("c", 40)
    f.port_unreachable("s", f.last_udp)
    f.sent["s"] = [0, 0]


# --- comparing the two tables ------------------------------------------------------


def queries(scn, f):
    """(list arguments, line filter) pairs covering every entry the scenario
    could have created, in either orientation."""
    fam = ["-f", "ipv6"] if f.family == 6 else []
    icmp = "icmp" if f.family == 4 else "icmpv6"
    if scn.proto in ("tcp", "udp"):
        return [(["-p", scn.proto, "--sport", str(p)] + fam, None) for p in (f.cport, f.sport)]
    if scn.proto == "icmp":
        want = f"id={f.icmp_id}"
        return [(["-p", icmp, "-s", a] + fam, want) for a in (f.caddr, f.saddr)]
    # An ICMP error about a UDP flow: the flow, and any ICMP entry from the
    # end that sent the error (the error must not create one).
    return ([(["-p", "udp", "--sport", str(p)] + fam, None) for p in (f.cport, f.sport)] +
            [(["-p", icmp, "-s", f.saddr] + fam, f.icmp_foreign)])


def check_expectation(scn, kern):
    """Whether the kernel reached the state the scenario is about."""
    main = [e for e in kern.values() if e["proto"] in ("tcp", "udp", "icmp", "icmpv6")]
    if scn.expect == "absent":
        return None if not main else f"expected no entry, kernel has {len(main)}"
    if len(main) != 1:
        return f"expected one entry ({scn.expect}), kernel has {len(main)}"
    e = main[0]
    got = set(e["flags"]) & {"UNREPLIED", "ASSURED"}
    if e["state"]:
        got.add(e["state"])
    want = set(scn.expect.split())
    return None if got == want else f"expected {scn.expect!r}, kernel shows {' '.join(sorted(got))!r}"


def check_exact_counts(f, entries, who):
    """A forwarded flow is counted once: counters equal what was sent."""
    main = [e for e in entries.values() if e["proto"] in ("tcp", "udp", "icmp", "icmpv6")]
    if len(main) != 1:
        return [f"{who}: expected one entry for exact counters, found {len(main)}"]
    got = counters(main[0])
    want = tuple((str(f.sent[d][0]), str(f.sent[d][1])) for d in ("c", "s"))
    if got != want:
        return [f"{who} counters {got}, sent {want}"]
    return []


def run_scenario(idx, scn, eps, router, addrs, use_xct, base=0, verbose=False):
    f = Flow(idx, scn.family, addrs, base)
    scn.fn(f)
    kern_before = router.kernel_classes()
    xct_before = router.xct_classes() if use_xct else None
    for n, (who, what) in enumerate(f.steps, 1):
        if who == "sleep":
            time.sleep(what)
            continue
        src, dst = (eps["c"], eps["s"]) if who == "c" else (eps["s"], eps["c"])
        dst_addr = f.saddr if who == "c" else f.caddr
        dst.drain()
        src.send(what, f.family, dst_addr)
        if not dst.wait_for(l3_key(what)):
            return False, [f"packet {n} from {who} did not arrive"], {}, {}

    qs = queries(scn, f)
    kern = collect(router.kernel, qs)
    notes = []
    why = check_expectation(scn, kern)
    if why:
        notes.append(f"scenario does not do what it says on this kernel: {why}")
    if not use_xct:
        return None, notes, kern, {}
    xct = collect(router.xct_list, qs)
    problems = compare(kern, xct)
    # How each packet was classified: INVALID and RELATED packets seen by
    # each tracker during the scenario.
    kern_after, xct_after = router.kernel_classes(), router.xct_classes()
    for i, name in ((0, "INVALID"), (1, "RELATED")):
        kd, xd = kern_after[i] - kern_before[i], xct_after[i] - xct_before[i]
        if kd != xd:
            problems.append(f"{name} packets: kernel {kd}, xct {xd}")
        elif verbose and kd:
            notes.append(f"{name} packets: {kd} in both")
    if scn.exact_counts:
        problems += check_exact_counts(f, kern, "kernel")
        problems += check_exact_counts(f, xct, "xct")
    return not problems, problems + notes, kern, xct


def same_text(k, x):
    """Whether two entries print the same line, but for the seconds left."""
    kt, xt = k["raw"].split(), x["raw"].split()
    return kt[:2] + kt[3:] == xt[:2] + xt[3:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--client", required=True, help="client netns")
    ap.add_argument("--router", required=True, help="router netns")
    ap.add_argument("--server", required=True, help="server netns")
    ap.add_argument("--c4", required=True)
    ap.add_argument("--s4", required=True)
    ap.add_argument("--c6", required=True)
    ap.add_argument("--s6", required=True)
    ap.add_argument("--xct", help="xct binary; without it only the kernel side runs")
    ap.add_argument("--pin-path", help="xct pin path")
    ap.add_argument("--only", action="append", help="run only these scenarios")
    ap.add_argument("--list", action="store_true", help="list the scenarios")
    ap.add_argument("--pass", dest="pass_no", type=int, default=0,
                    help="pass number: each pass uses its own ports and ICMP ids")
    ap.add_argument("--suffix", default="", help="appended to every test name")
    ap.add_argument("--verbose", action="store_true", help="print both tables for every scenario")
    args = ap.parse_args()

    if args.list:
        for scn in SCENARIOS:
            print(scn.name)
        return 0

    addrs = {4: (args.c4, args.s4), 6: (args.c6, args.s6)}
    try:
        eps = {"c": Endpoint(args.client, "veth-c"), "s": Endpoint(args.server, "veth-s")}
    except OSError as exc:
        print(f"not ok ct_oracle_sockets ({exc})")
        return 1
    router = Router(args.router, args.xct, args.pin_path)
    use_xct = bool(args.xct)
    failed = 0
    format_diffs = []
    format_checked = 0

    for idx, scn in enumerate(SCENARIOS):
        if args.only and scn.name not in args.only:
            continue
        try:
            ok, msgs, kern, xct = run_scenario(idx, scn, eps, router, addrs, use_xct,
                                               1000 * args.pass_no, args.verbose)
        except Exception as exc:  # one broken scenario must not hide the others
            ok, msgs, kern, xct = False, [f"{type(exc).__name__}: {exc}"], {}, {}
        if ok is None:
            print(f"not ok {scn.name}{args.suffix} (xct not available)")
            failed += 1
        elif ok:
            print(f"ok {scn.name}{args.suffix}")
        else:
            print(f"not ok {scn.name}{args.suffix}")
            failed += 1
        if not ok or args.verbose or msgs:
            for m in msgs:
                print(f"#   {m}")
            for line in [e["raw"] for e in kern.values()] or ["(none)"]:
                print(f"#   kernel: {line}")
            if use_xct:
                for line in [e["raw"] for e in xct.values()] or ["(none)"]:
                    print(f"#   xct:    {line}")
        if ok:
            # Same entries: the lines must also be the same text.
            for key, k in kern.items():
                format_checked += 1
                if not same_text(k, xct[key]):
                    format_diffs.append((scn.name, k["raw"], xct[key]["raw"]))
        sys.stdout.flush()

    if use_xct and not args.only:
        if format_checked and not format_diffs:
            print("ok ct_list_line_format")
        else:
            print("not ok ct_list_line_format")
            failed += 1
            if not format_checked:
                print("#   no scenario passed, so no line could be compared")
            for name, kl, xl in format_diffs[:5]:
                print(f"#   {name}:")
                print(f"#     kernel: {kl}")
                print(f"#     xct:    {xl}")
            if len(format_diffs) > 5:
                print(f"#   ... and {len(format_diffs) - 5} more")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
