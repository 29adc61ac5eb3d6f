#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Writes a pcap of established TCP traffic for the xct replay benchmark.

replay_capture.py OUT.pcap [PACKETS] [FLOWS]: FLOWS connections (default
16) are opened with a handshake, then carry data segments of 100 bytes
from the client, each acknowledged by the server, in turn, until PACKETS
packets (default 1,000,000) are written, one microsecond apart.  Every
packet is valid for the TCP tracker (sequence and acknowledgement numbers
inside the windows), so all but the handshakes are ESTABLISHED.  Written
with struct rather than scapy: a million packets take seconds, not minutes.
"""
import struct
import sys

PAYLOAD = 100


def checksum_free_ip(src, dst, proto, length):
    # xct does not verify checksums; 0 keeps the generator fast.
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, length, 0, 0x4000, 64, proto, 0, src, dst)


def tcp(sport, dport, seq, ack, flags, window, opts=b""):
    doff = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, window, 0, 0) + opts


def frame(src, dst, seg):
    eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    return eth + checksum_free_ip(src, dst, 6, 20 + len(seg)) + seg


def main():
    out = sys.argv[1]
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    nflows = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    client = bytes([10, 0, 0, 1])
    server = bytes([10, 0, 0, 2])
    syn_opts = b"\x02\x04\x05\xb4\x01\x03\x03\x07\x04\x02\x00\x00"  # MSS, NOP, WS 7, SACK ok, pad
    payload = b"x" * PAYLOAD
    t_ns = 1700000000 * 10**9
    n = 0
    with open(out, "wb") as f:
        # pcap header, nanosecond timestamps, Ethernet
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))

        def write(pkt):
            nonlocal t_ns, n
            f.write(struct.pack("<IIII", t_ns // 10**9, t_ns % 10**9, len(pkt), len(pkt)))
            f.write(pkt)
            t_ns += 1000
            n += 1

        flows = []
        for i in range(nflows):
            sport = 40000 + i
            cseq, sseq = 1000 + i * 7919, 5000 + i * 104729
            write(frame(client, server, tcp(sport, 80, cseq, 0, 0x02, 64240, syn_opts)))
            write(frame(server, client, tcp(80, sport, sseq, cseq + 1, 0x12, 64240, syn_opts)))
            write(frame(client, server, tcp(sport, 80, cseq + 1, sseq + 1, 0x10, 502)))
            flows.append([sport, cseq + 1, sseq + 1])
        i = 0
        while n < total:
            fl = flows[i % nflows]
            sport, cseq, sseq = fl
            write(frame(client, server, tcp(sport, 80, cseq, sseq, 0x18, 502) + payload))
            cseq = (cseq + PAYLOAD) & 0xFFFFFFFF
            if n < total:
                write(frame(server, client, tcp(80, sport, sseq, cseq, 0x10, 502)))
            fl[1] = cseq
            i += 1


if __name__ == "__main__":
    main()
