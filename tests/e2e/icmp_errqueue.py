#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""ICMP errors as a UDP socket sees them, through IP_RECVERR / IPV6_RECVERR.

The kernel queues every ICMP error about a socket's datagrams on its error
queue when the option is on; reading it (MSG_ERRQUEUE) gives a struct
sock_extended_err and the address of the node that sent the error (the
offender), so a test can tell which error reached which socket, from whom.

  icmp_errqueue.py probe DST PORT HOPS TIMEOUT
      one datagram to DST:PORT with that TTL / hop limit; prints the first
      error queued for it, or "none" when none comes within TIMEOUT seconds.
  icmp_errqueue.py peer ADDR PORT TRIGGER TIMEOUT
      binds ADDR:PORT, takes one datagram, connects to its sender and
      answers it; once the file TRIGGER exists, sends another and prints
      the error that comes back for it (or "none").

Printed: "errno=N origin=N type=N code=N offender=ADDR" (origin 2 is
ICMP, 3 is ICMPv6).  Exit status 0 when an error was read, 1 otherwise.
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


def probe(dst, port, hops, timeout):
    fam = family_of(dst)
    s = udp_socket(fam)
    if fam == socket.AF_INET:
        s.setsockopt(socket.SOL_IP, socket.IP_TTL, hops)
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
    s.connect((dst, port))
    s.send(b"probe" * 20)
    return read_error(s, fam, timeout)


def peer(addr, port, trigger, timeout):
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
    try:
        s.send(b"again\n")
    except OSError as e:
        return "none (%s)" % e
    return read_error(s, fam, timeout)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "probe":
        got = probe(args[0], int(args[1]), int(args[2]), float(args[3]))
    elif mode == "peer":
        got = peer(args[0], int(args[1]), args[2], float(args[3]))
    else:
        sys.exit("usage: icmp_errqueue.py probe|peer ...")
    print(got or "none")
    sys.exit(0 if got and not got.startswith("none") else 1)


if __name__ == "__main__":
    main()
