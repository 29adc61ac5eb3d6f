#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A process that owns one connection, for test_owner.sh.

  owner_agent.py MODE ADDR PORT --comm NAME [--uid N] [--out FILE] [--exit]

  tcp      connect() to ADDR:PORT
  refused  connect() to ADDR:PORT, where nothing listens: the peer's RST
           refuses it (the socket is bound first, so its port stays known)
  udp      sendto() ADDR:PORT on an unconnected socket, and read the answer
  udp-conn connect() a datagram socket to ADDR:PORT, send(), read the answer
  listen   bind ADDR:PORT, listen, accept one connection

The process first names itself NAME (what the kernel shows as its comm),
then with --uid takes that uid and gid, then makes its socket.  Once the
connection is up it writes one JSON line to FILE (written whole, then
renamed into place): its pid, the socket's local port (for listen: the
accepted connection's peer port) and the socket's cookie (SO_COOKIE, what
ss -e shows as sk:).  Then it waits to be killed, or with --exit ends at
once, leaving its connection to outlive it.
"""
import argparse
import json
import os
import signal
import socket
import struct

SO_COOKIE = 57


def cookie(s):
    return struct.unpack("=Q", s.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8))[0]


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("tcp", "refused", "udp", "udp-conn", "listen"))
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("--comm", required=True)
    ap.add_argument("--uid", type=int)
    ap.add_argument("--out", required=True)
    ap.add_argument("--exit", action="store_true")
    a = ap.parse_args()

    with open("/proc/self/comm", "w") as f:
        f.write(a.comm)
    if a.uid is not None:
        os.setgroups([])
        os.setgid(a.uid)
        os.setuid(a.uid)

    fam = family_of(a.addr)
    peer = (a.addr, a.port)
    keep = []
    if a.mode == "tcp":
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(peer)
        port, ck = s.getsockname()[1], cookie(s)
    elif a.mode == "refused":
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(10)
        s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", 0))
        port, ck = s.getsockname()[1], cookie(s)
        try:
            s.connect(peer)
        except ConnectionRefusedError:
            pass
        else:
            raise SystemExit("%s:%d accepted the connection" % peer)
    elif a.mode in ("udp", "udp-conn"):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(10)
        if a.mode == "udp-conn":
            s.connect(peer)
            s.send(b"x")
        else:
            s.sendto(b"x", peer)
        s.recv(2048)
        port, ck = s.getsockname()[1], cookie(s)
    else:
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(peer)
        ls.listen(4)
        with open(a.out + ".listening", "w") as f:
            f.write("%d\n" % os.getpid())
        s, (_, port, *_rest) = ls.accept()
        keep.append(ls)
        ck = cookie(s)
    keep.append(s)

    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"pid": os.getpid(), "port": port, "cookie": ck}, f)
        f.write("\n")
    os.rename(tmp, a.out)
    if not a.exit:
        signal.pause()


if __name__ == "__main__":
    main()
