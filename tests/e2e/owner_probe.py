#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""What a process's connection attempts get, for test_owner_rules.sh.

  owner_probe.py try ADDR TCP_PORT UDP_PORT [--uid N] [--gid N]
  owner_probe.py hold ADDR TCP_PORT --dir DIR [--uid N] [--gid N]

try: with --uid/--gid taken first (and no supplementary groups), one TCP
connect() to ADDR:TCP_PORT and one UDP sendto() to ADDR:UDP_PORT; prints
"tcp=R udp=R", R being ok, timeout or the errno's name (ECONNREFUSED,
EPERM).  udp=ok is a datagram sent and answered by the echo server.

hold: connects, writes DIR/held, then for each line of DIR/hold.in sends
it and writes the echo (or "no answer", or the errno's name) to
DIR/hold.out: a connection made before a rule, used after it.
"""
import argparse
import errno
import os
import socket
import sys


def name_of(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    return errno.errorcode.get(e.errno, str(e.errno))


def tcp_try(addr, port):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.settimeout(3)
    try:
        s.connect((addr, port))
        return "ok"
    except OSError as e:
        return name_of(e)
    finally:
        s.close()


def udp_try(addr, port):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    try:
        s.sendto(b"probe\n", (addr, port))
        s.recvfrom(2048)
        return "ok"
    except OSError as e:
        return name_of(e)
    finally:
        s.close()


def hold(addr, port, d):
    s = socket.create_connection((addr, port), timeout=5)
    s.settimeout(3)
    f = s.makefile("rwb", buffering=0)
    with open(os.path.join(d, "held"), "w") as h:
        h.write("%d\n" % s.getsockname()[1])
    out = open(os.path.join(d, "hold.out"), "w", buffering=1)
    for line in open(os.path.join(d, "hold.in"), "rb", buffering=0):
        try:
            f.write(line)
            got = f.readline()
            out.write(got.decode() if got else "closed\n")
        except OSError as e:
            out.write(name_of(e) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("try", "hold"))
    ap.add_argument("addr")
    ap.add_argument("tcp_port", type=int)
    ap.add_argument("udp_port", type=int, nargs="?")
    ap.add_argument("--uid", type=int)
    ap.add_argument("--gid", type=int)
    ap.add_argument("--dir")
    a = ap.parse_args()
    if a.gid is not None or a.uid is not None:
        os.setgroups([])
        os.setgid(a.gid if a.gid is not None else a.uid)
        os.setuid(a.uid if a.uid is not None else 0)
    if a.mode == "hold":
        hold(a.addr, a.tcp_port, a.dir)
        return 0
    print("tcp=%s udp=%s" % (tcp_try(a.addr, a.tcp_port), udp_try(a.addr, a.udp_port)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
