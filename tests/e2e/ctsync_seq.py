#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The sync messages one sender sent for one TCP connection, from a capture.

  ctsync_seq.py [--wscale] PCAP SRC SPORT

PCAP is tcpdump's capture of the sync link (Ethernet, IPv4, UDP); SRC the
sender's address; SPORT the connection's original source port.  Prints one
line per conntrackd protocol message about that connection, in order: DATA
(a CT_NEW or a CT_UPD, which a peer takes alike) or DEL, then its
NTA_TCP_STATE by name; with --wscale, its NTA_TCP_WSCALE_ORIG and _REPL
too (ORIG/REPL, or "-" for a message without them).
"""

import socket
import struct
import sys

STATES = ["NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK",
          "TIME_WAIT", "CLOSE", "SYN_SENT2"]
NTA_L4PROTO, NTA_PORT, NTA_TCP_STATE = 2, 3, 4
NTA_TCP_WSCALE_ORIG, NTA_TCP_WSCALE_REPL = 25, 26


def datagrams(path, src):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        if len(pkt) < 14 + 20 + 8 or pkt[12:14] != b"\x08\x00":
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 17 or socket.inet_ntoa(ip[12:16]) != src:
            continue
        yield ip[ihl + 8:]


def messages(dgram):
    off = 0
    while off + 8 <= len(dgram):
        vt, _, length, _ = struct.unpack("!BBHI", dgram[off:off + 8])
        if length < 8:
            return
        yield vt & 15, dgram[off + 8:off + length]
        off += length


def attrs(body):
    off = 0
    while off + 4 <= len(body):
        alen, atype = struct.unpack("!HH", body[off:off + 4])
        if alen < 4:
            return
        yield atype, body[off + 4:off + alen]
        off += (alen + 3) & ~3


def main():
    args = sys.argv[1:]
    wscale = args[0] == "--wscale"
    if wscale:
        args = args[1:]
    path, src, sport = args[0], args[1], int(args[2])
    for dgram in datagrams(path, src):
        for mtype, body in messages(dgram):
            if mtype > 2:
                continue
            a = dict(attrs(body))
            if a.get(NTA_L4PROTO, b"\0")[0] != 6 or NTA_PORT not in a:
                continue
            if struct.unpack("!H", a[NTA_PORT][:2])[0] != sport:
                continue
            state = STATES[a[NTA_TCP_STATE][0]] if NTA_TCP_STATE in a else "?"
            line = "%s %s" % ("DEL" if mtype == 2 else "DATA", state)
            if wscale:
                if NTA_TCP_WSCALE_ORIG in a and NTA_TCP_WSCALE_REPL in a:
                    line += " %d/%d" % (a[NTA_TCP_WSCALE_ORIG][0], a[NTA_TCP_WSCALE_REPL][0])
                else:
                    line += " -"
            print(line)


if __name__ == "__main__":
    main()
