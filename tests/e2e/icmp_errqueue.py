#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""ICMP errors as a UDP socket sees them, through IP_RECVERR / IPV6_RECVERR.

The kernel queues every ICMP error about a socket's datagrams on its error
queue when the option is on; reading it (MSG_ERRQUEUE) gives a struct
sock_extended_err and the address of the node that sent the error (the
offender), so a test can tell which error reached which socket, from whom.

  icmp_errqueue.py [--quote] probe DST PORT HOPS TIMEOUT
      one datagram to DST:PORT with that TTL / hop limit; prints the first
      error queued for it, or "none" when none comes within TIMEOUT seconds.
  icmp_errqueue.py [--quote] peer ADDR PORT TRIGGER TIMEOUT
      binds ADDR:PORT, takes one datagram, connects to its sender and
      answers it; once the file TRIGGER exists, sends another and prints
      the error that comes back for it (or "none").

Printed: "errno=N origin=N type=N code=N offender=ADDR" (origin 2 is
ICMP, 3 is ICMPv6).  With --quote the error packet itself is read too
(from a raw socket opened before the datagram is sent) and " quote=ok" is
added when the datagram it quotes is ours, whole, with a valid IPv4
header checksum and UDP checksum; otherwise quote=short, bad-ip, bad-udp
or missing.  The checksums are only complete when the sender's kernel
computed them: with checksum offload (veth's default) a datagram carries
a partial sum, and so does the quote.  Exit status 0 when an error was
read, 1 otherwise.
"""

import ipaddress
import os
import select
import socket
import struct
import sys
import time

IP_RECVERR = 11
IPV6_RECVERR = 25
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3


def family_of(addr):
    return socket.AF_INET6 if ipaddress.ip_address(addr).version == 6 else socket.AF_INET


def udp_socket(fam):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET:
        s.setsockopt(socket.SOL_IP, IP_RECVERR, 1)
    else:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
    return s


def offender(fam, raw):
    """The address in the sockaddr that follows sock_extended_err."""
    if fam == socket.AF_INET and len(raw) >= 8:
        return socket.inet_ntop(socket.AF_INET, raw[4:8])
    if fam == socket.AF_INET6 and len(raw) >= 24:
        return socket.inet_ntop(socket.AF_INET6, raw[8:24])
    return "?"


def read_error(s, fam, timeout):
    """The first entry of the error queue, as printed; None on timeout."""
    p = select.poll()
    p.register(s, select.POLLERR)
    if not p.poll(int(timeout * 1000)):
        return None
    _, anc, _, _ = s.recvmsg(2048, 1024, socket.MSG_ERRQUEUE)
    want = (socket.SOL_IP, IP_RECVERR) if fam == socket.AF_INET else (
        socket.IPPROTO_IPV6, IPV6_RECVERR)
    for level, kind, data in anc:
        if (level, kind) != want or len(data) < 16:
            continue
        errno, origin, etype, code, _, _, _ = struct.unpack("=IBBBBII", data[:16])
        return "errno=%d origin=%d type=%d code=%d offender=%s" % (
            errno, origin, etype, code, offender(fam, data[16:]))
    return None


def csum_fold(data):
    """The ones' complement sum of data; 0xffff over a valid checksum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def quoted_udp(fam, msg):
    """(sport, dport, verdict) of the UDP datagram an ICMP error (msg, from
    its ICMP header on) quotes; None when it quotes none."""
    q = msg[8:]
    if fam == socket.AF_INET:
        if len(q) < 20 or q[0] >> 4 != 4 or q[9] != socket.IPPROTO_UDP:
            return None
        ihl = (q[0] & 15) * 4
        ip_ok = csum_fold(q[:ihl]) == 0xFFFF
        src, dst, udp = q[12:16], q[16:20], q[ihl:]
    else:
        if len(q) < 40 or q[6] != socket.IPPROTO_UDP:
            return None
        ip_ok = True  # IPv6 has no header checksum
        src, dst, udp = q[8:24], q[24:40], q[40:]
    if len(udp) < 8:
        return None
    sport, dport, ulen = struct.unpack("!HHH", udp[:6])
    if len(udp) < ulen:
        return sport, dport, "short"
    if not ip_ok:
        return sport, dport, "bad-ip"
    if fam == socket.AF_INET:
        pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_UDP, ulen)
    else:
        pseudo = src + dst + struct.pack("!IxxxB", ulen, socket.IPPROTO_UDP)
    ok = csum_fold(pseudo + udp[:ulen]) == 0xFFFF
    return sport, dport, "ok" if ok else "bad-udp"


def raw_icmp(fam):
    """A socket that gets a copy of every ICMP(v6) packet the host receives."""
    if fam == socket.AF_INET:
        return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    return socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)


def read_quote(raw, fam, sport, dport, timeout):
    """The verdict on the first ICMP error on raw that quotes a datagram
    from sport to dport."""
    deadline = time.monotonic() + timeout
    raw.settimeout(timeout)
    while True:
        try:
            pkt = raw.recv(4096)
        except socket.timeout:
            return "missing"
        # An IPv4 raw socket gets the IP header too, an ICMPv6 one not.
        msg = pkt[(pkt[0] & 15) * 4:] if fam == socket.AF_INET else pkt
        is_error = msg[0] in (3, 11) if fam == socket.AF_INET else msg[0] < 128
        q = quoted_udp(fam, msg) if is_error else None
        if q and q[:2] == (sport, dport):
            return q[2]
        if time.monotonic() > deadline:
            return "missing"
        raw.settimeout(max(deadline - time.monotonic(), 0.01))


def with_quote(got, raw, fam, sport, dport, timeout):
    if not got or raw is None:
        return got
    return got + " quote=" + read_quote(raw, fam, sport, dport, timeout)


def probe(dst, port, hops, timeout, quote):
    fam = family_of(dst)
    s = udp_socket(fam)
    if fam == socket.AF_INET:
        s.setsockopt(socket.SOL_IP, socket.IP_TTL, hops)
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
    s.connect((dst, port))
    raw = raw_icmp(fam) if quote else None
    s.send(b"probe" * 20)
    got = read_error(s, fam, timeout)
    return with_quote(got, raw, fam, s.getsockname()[1], port, timeout)


def peer(addr, port, trigger, timeout, quote):
    fam = family_of(addr)
    s = udp_socket(fam)
    s.bind((addr, port))
    s.settimeout(timeout)
    try:
        _, src = s.recvfrom(2048)
    except socket.timeout:
        return None
    s.connect(src[:2])
    s.send(b"answer\n")
    # The client closes its socket, then says so.
    deadline = time.monotonic() + timeout
    while not os.path.exists(trigger):
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)
    raw = raw_icmp(fam) if quote else None
    try:
        s.send(b"again\n")
    except OSError as e:
        return "none (%s)" % e
    got = read_error(s, fam, timeout)
    return with_quote(got, raw, fam, port, src[1], timeout)


def main():
    args = sys.argv[1:]
    quote = bool(args) and args[0] == "--quote"
    if quote:
        args = args[1:]
    mode, args = (args[0], args[1:]) if args else ("", [])
    if mode == "probe" and len(args) == 4:
        got = probe(args[0], int(args[1]), int(args[2]), float(args[3]), quote)
    elif mode == "peer" and len(args) == 4:
        got = peer(args[0], int(args[1]), args[2], float(args[3]), quote)
    else:
        print("usage: icmp_errqueue.py [--quote] probe|peer ...", file=sys.stderr)
        sys.exit(2)
    print(got or "none")
    sys.exit(0 if got and not got.startswith("none") else 1)


if __name__ == "__main__":
    main()
