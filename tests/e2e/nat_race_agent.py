#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Many TCP connection attempts at one instant, for test_nat_race.sh.

  server --listen ADDR:PORT [--listen ...] [--listen-udp ADDR:PORT ...] --ctl SOCK
         accepts on every ADDR:PORT; each accepted connection is first sent
         a greeting line "LOCAL_ADDR LOCAL_PORT PEER_ADDR PEER_PORT" (what the
         server saw: after source NAT, the translated peer; after dnat, the
         backend that took it), then everything it sends is echoed back.
         A datagram to a --listen-udp ADDR:PORT is answered with the
         greeting and the datagram.
  client --dst ADDR --conns LO-HI:DPORT [--conns ...] --ctl SOCK --ready FILE
         --go GOFILE [--udp]
         one socket per (source port, DPORT), bound to the source port with
         SO_REUSEADDR (other clients, and other sockets of this one, use the
         same ports); FILE gets this process's pid once all are bound.
         SIGUSR1 starts the non-blocking connect() of every socket, back to
         back, at the CLOCK_MONOTONIC instant (ns) GOFILE holds; each attempt is then connected, pending (its SYN got no
         answer) or failed (refused by a RST).  With --udp, datagram sockets
         that each send one datagram: connected once the answer came back
         (the greeting and the datagram), pending while none did.
  ctl    CMD SOCK [SOCK ...]
         sends CMD to each agent's control socket, prints one JSON line each.

Control commands (one line, one JSON answer):
  server: open   the connections open now, [peer, peer_port, local, local_port]
          udp    the same for every peer a datagram came from
  client: state  counts of connected / pending / failed attempts, the
                 CLOCK_MONOTONIC times of the first and last connect() call
                 and the CPUs this process may run on
          echo   closes the pending attempts (they are refused: their SYN was
                 dropped), then sends a distinct payload on every connected
                 socket and checks the greeting and the echo, byte for byte
          close-half  closes every other connected socket (after echo), and
                 names their greetings: what the server saw of them
"""
import argparse
import json
import os
import selectors
import signal
import socket
import sys
import time

ECHO_TIMEOUT = 20.0
SO_RCVBUFFORCE = 33  # <asm-generic/socket.h>; not in Python's socket module


def ctl_listener(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)
    s.setblocking(False)
    return s


def ctl_serve(sel, lsock, handle):
    """Answers one control request (a line) with handle(cmd)'s JSON."""
    conn, _ = lsock.accept()
    conn.setblocking(True)
    conn.settimeout(30)
    req = b""
    while not req.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        req += chunk
    try:
        ans = handle(req.decode().strip())
    except Exception as e:  # the answer says what went wrong
        ans = {"error": repr(e)}
    conn.sendall((json.dumps(ans) + "\n").encode())
    conn.close()


# Server ---------------------------------------------------------------


def server(args):
    sel = selectors.DefaultSelector()
    conns = {}  # socket -> [peer, peer_port, local, local_port]
    for spec in args.listen:
        addr, port = spec.rsplit(":", 1)
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, int(port)))
        ls.listen(4096)
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, "listen")
    udp_peers = set()
    for spec in args.listen_udp or []:
        addr, port = spec.rsplit(":", 1)
        us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Room for a whole burst: the default buffer holds about 200 small
        # datagrams, and the ones past it would be lost in this socket.
        us.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        us.bind((addr, int(port)))
        us.setblocking(False)
        sel.register(us, selectors.EVENT_READ, "udp")
    ctl = ctl_listener(args.ctl)
    sel.register(ctl, selectors.EVENT_READ, "ctl")

    def handle(cmd):
        if cmd == "open":
            return sorted(conns.values())
        if cmd == "udp":
            return sorted(udp_peers)
        raise ValueError("unknown command %r" % cmd)

    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if key.data == "ctl":
                ctl_serve(sel, s, handle)
            elif key.data == "udp":
                while True:
                    try:
                        data, peer = s.recvfrom(65536)
                    except BlockingIOError:
                        break
                    local = s.getsockname()
                    udp_peers.add((peer[0], peer[1], local[0], local[1]))
                    s.sendto(("%s %d %s %d\n" % (local[0], local[1], peer[0], peer[1])).encode() + data,
                             peer)
            elif key.data == "listen":
                while True:
                    try:
                        c, peer = s.accept()
                    except BlockingIOError:
                        break
                    local = c.getsockname()
                    conns[c] = [peer[0], peer[1], local[0], local[1]]
                    c.setblocking(True)
                    c.sendall(("%s %d %s %d\n" % (local[0], local[1], peer[0], peer[1])).encode())
                    sel.register(c, selectors.EVENT_READ, "conn")
            else:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if data:
                    s.sendall(data)
                else:
                    sel.unregister(s)
                    del conns[s]
                    s.close()


# Client ---------------------------------------------------------------


def parse_conns(specs):
    out = []
    for spec in specs:
        ports, dport = spec.split(":")
        lo, _, hi = ports.partition("-")
        for p in range(int(lo), int(hi or lo) + 1):
            out.append((p, int(dport)))
    return out


def client(args):
    attempts = []  # [socket, sport, dport, status, greeting]
    for sport, dport in parse_conns(args.conns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if args.udp else socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", sport))
        s.setblocking(False)
        attempts.append([s, sport, dport, "new", None])
    sel = selectors.DefaultSelector()
    ctl = ctl_listener(args.ctl)
    sel.register(ctl, selectors.EVENT_READ, None)
    times = {}

    def fire(signum, frame):
        # At the instant the go file names (CLOCK_MONOTONIC ns), every
        # attempt, back to back: the SYNs leave while the other agents,
        # woken at the same instant on the other CPU, send theirs.
        with open(args.go) as f:
            go = int(f.read())
        wait = go - time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        if wait > 0:
            time.sleep(wait / 1e9)
        times["first"] = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        for a in attempts:
            if args.udp:
                a[0].connect((args.dst, a[2]))
                a.append(("%d %d %s" % (a[1], a[2], os.urandom(8).hex())).encode())
                a[0].send(a[5])
                a[3] = "pending"
                sel.register(a[0], selectors.EVENT_READ, a)
                continue
            try:
                a[0].connect((args.dst, a[2]))
            except BlockingIOError:
                pass
            a[3] = "pending"
            sel.register(a[0], selectors.EVENT_WRITE, a)
        times["last"] = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))

    def counts():
        c = {"connected": 0, "pending": 0, "failed": 0, "closed": 0, "new": 0}
        for a in attempts:
            c[a[3]] += 1
        return c

    def echo():
        for a in attempts:
            if a[3] == "pending":
                sel.unregister(a[0])
                a[0].close()
                a[3] = "closed"
        live = [a for a in attempts if a[3] == "connected"]
        want = {}
        for a in live:
            body = ("%s %d %d %s\n" % (args.dst, a[1], a[2], os.urandom(16).hex())).encode() * 20
            want[a[0]] = body
            a[0].setblocking(True)
            a[0].settimeout(ECHO_TIMEOUT)
            a[0].sendall(body)
        ok, bad = 0, []
        deadline = time.monotonic() + ECHO_TIMEOUT
        for a in live:
            s, got = a[0], b""
            try:
                while got.count(b"\n") < 1 or len(got.partition(b"\n")[2]) < len(want[s]):
                    s.settimeout(max(0.1, deadline - time.monotonic()))
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            except OSError:
                pass
            greeting, _, body = got.partition(b"\n")
            a[4] = greeting.decode(errors="replace").split()
            if body == want[s] and len(a[4]) == 4:
                ok += 1
            else:
                bad.append([a[1], a[2], got[:80].decode(errors="replace")])
        return {"ok": ok, "bad": bad,
                "conns": [[a[1], a[2]] + (a[4] or []) for a in live]}

    def close_half():
        live = [a for a in attempts if a[3] == "connected"]
        gone = []
        for i, a in enumerate(live):
            if i % 2 == 0:
                a[0].close()
                a[3] = "closed"
                gone.append([a[1], a[2]] + (a[4] or []))
        return {"closed": gone}

    def handle(cmd):
        if cmd == "state":
            st = counts()
            st.update(times)
            st["cpus"] = sorted(os.sched_getaffinity(0))
            return st
        if cmd == "echo":
            return echo()
        if cmd == "close-half":
            return close_half()
        raise ValueError("unknown command %r" % cmd)

    # Real-time until the attempts are made: at the go instant, the agents
    # on both CPUs wake and run their connect() loops at once, whatever
    # else the machine is running.  The loops take a few milliseconds.
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    # Signals wait until the loop is in select(), and never interrupt an
    # answer half written.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    signal.signal(signal.SIGUSR1, fire)
    with open(args.ready + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(args.ready + ".tmp", args.ready)
    while True:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
        events = sel.select(timeout=1.0)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        for key, _ in events:
            if key.fileobj is ctl:
                ctl_serve(sel, ctl, handle)
                continue
            a = key.data
            if a[3] != "pending":
                continue
            sel.unregister(a[0])
            if args.udp:
                # The answer: the greeting, then the datagram itself.
                try:
                    greeting, _, body = a[0].recv(65536).partition(b"\n")
                    a[4] = greeting.decode(errors="replace").split()
                    a[3] = "connected" if body == a[5] and len(a[4]) == 4 else "failed"
                except OSError:
                    a[3] = "failed"
                continue
            err = a[0].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            a[3] = "connected" if err == 0 else "failed"


def ctl(args):
    rc = 0
    for path in args.socks:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        try:
            s.connect(path)
            s.sendall((args.cmd + "\n").encode())
            ans = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                ans += chunk
            print(ans.decode().strip())
        except OSError as e:
            print(json.dumps({"error": "%s: %s" % (path, e)}))
            rc = 1
        s.close()
    return rc


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("server")
    p.add_argument("--listen", action="append", required=True)
    p.add_argument("--listen-udp", action="append")
    p.add_argument("--ctl", required=True)
    p = sub.add_parser("client")
    p.add_argument("--dst", required=True)
    p.add_argument("--conns", action="append", required=True)
    p.add_argument("--ctl", required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--go", required=True)
    p.add_argument("--udp", action="store_true")
    p = sub.add_parser("ctl")
    p.add_argument("cmd")
    p.add_argument("socks", nargs="+")
    args = ap.parse_args()
    if args.mode == "server":
        server(args)
    elif args.mode == "client":
        client(args)
    else:
        return ctl(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
