#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""TCP traffic through a pair of HA firewalls, checked end to end (test_ha_failover.sh).

Every connection carries frames both ways: a header (sequence number, length),
FRAME bytes of a pattern that depends on the connection and the sequence
number, and a short tag, the CRC-32 of those bytes.  A reader thread on each
side checks that each frame is the next one, that its bytes are the pattern
and its tag their CRC: a lost, repeated or corrupted byte ends the connection
with an error.  A writer thread on each side sends a frame every PERIOD.

  ha_traffic.py server PORT STATE          the server; STATE: what it received
  ha_traffic.py streams ADDR PORT N STATE  N long-lived connections
  ha_traffic.py newconns ADDR PORT STATE   a new connection every 100 ms: one
      frame sent, the same frame expected back, closed
  ha_traffic.py frames STATE...            frames received per connection
      and direction, one number each (for progressed)
  ha_traffic.py progressed COUNTS N STATE...   exit 0 when every count has
      grown by N since COUNTS (what frames printed)
  ha_traffic.py stalled COUNTS STATE...    exit 0 when no count has grown
  ha_traffic.py report SINCE STATE...      per connection and direction: the
      frames, the longest silence since SINCE; exit 0 when all are alive
  ha_traffic.py new_ok SINCE COUNT STATE   exit 0 when COUNT connections
      started after SINCE succeeded in a row
  ha_traffic.py now                        the clock of SINCE

STATE files are JSON, rewritten every 100 ms.  Times are CLOCK_BOOTTIME
seconds, one clock for every namespace.
"""

import json
import os
import random
import socket
import struct
import sys
import threading
import time
import zlib

FRAME = 8192
PERIOD = 0.02
HEADER = struct.Struct("!II")
TAG = struct.Struct("!I")
# A gap is kept when it is clearly more than the send period; the last
# GAPS_KEPT of them.
GAP_MIN = 0.05
GAPS_KEPT = 1000

_rng = random.Random(20)
BLOCK = bytes(_rng.getrandbits(8) for _ in range(65536)) * 2


def now():
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def pattern(conn, seq):
    off = (seq * 7919 + conn * 104729) % 65536
    return BLOCK[off : off + FRAME]


def frame(conn, seq):
    body = pattern(conn, seq)
    return HEADER.pack(seq, len(body)) + body + TAG.pack(zlib.crc32(body))


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        d = sock.recv(n - len(buf))
        if not d:
            raise EOFError("closed by the peer")
        buf += d
    return bytes(buf)


def read_frame(sock, conn, want_seq):
    seq, n = HEADER.unpack(recv_exact(sock, HEADER.size))
    body = recv_exact(sock, n)
    (tag,) = TAG.unpack(recv_exact(sock, TAG.size))
    if seq != want_seq:
        raise ValueError("frame %d where %d was due" % (seq, want_seq))
    if zlib.crc32(body) != tag:
        raise ValueError("frame %d: tag %08x, CRC of the bytes %08x" % (seq, tag, zlib.crc32(body)))
    if body != pattern(conn, seq):
        raise ValueError("frame %d: bytes differ from the pattern" % seq)


class Direction:
    """What one side received on one connection."""

    def __init__(self):
        self.frames = 0
        self.last = now()
        self.gaps = []
        self.error = None

    def got(self):
        t = now()
        if t - self.last > GAP_MIN:
            self.gaps.append([t, t - self.last])
            del self.gaps[:-GAPS_KEPT]
        self.last = t
        self.frames += 1

    def state(self):
        return {"frames": self.frames, "last": self.last, "gaps": self.gaps, "error": self.error}


def reader(sock, conn, d):
    seq = 1
    try:
        while True:
            read_frame(sock, conn, seq)
            d.got()
            seq += 1
    except (OSError, EOFError, ValueError) as e:
        d.error = "receive: %s" % e


def writer(sock, conn, d):
    seq = 1
    due = now()
    try:
        while d.error is None:
            sock.sendall(frame(conn, seq))
            seq += 1
            due += PERIOD
            time.sleep(max(0.0, due - now()))
            # After a stall the frames are not sent in a burst to catch up.
            due = max(due, now() - PERIOD)
    except OSError as e:
        d.error = "send: %s" % e


def write_state(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def keep_writing(path, get):
    while True:
        write_state(path, get())
        time.sleep(0.1)


def both_ways(sock, conn, d):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=reader, args=(sock, conn, d), daemon=True).start()
    threading.Thread(target=writer, args=(sock, conn, d), daemon=True).start()


def server(port, path):
    conns = {}
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(64)
    threading.Thread(
        target=keep_writing,
        args=(path, lambda: {"conns": {k: d.state() for k, d in list(conns.items())}}),
        daemon=True,
    ).start()

    def handle(sock):
        try:
            kind, conn = recv_exact(sock, 5).decode().split()
            conn = int(conn)
            if kind == "N":
                # One frame, returned as it came.
                read_frame(sock, conn, 1)
                sock.sendall(frame(conn, 1))
                sock.close()
                return
            conns["%d" % conn] = d = Direction()
            both_ways(sock, conn, d)
        except (OSError, EOFError, ValueError):
            sock.close()

    while True:
        sock, _ = ls.accept()
        threading.Thread(target=handle, args=(sock,), daemon=True).start()


def streams(addr, port, n, path):
    dirs = []
    for conn in range(n):
        sock = socket.create_connection((addr, port), timeout=5)
        sock.settimeout(None)
        sock.sendall(b"S %3d" % conn)
        dirs.append(Direction())
        both_ways(sock, conn, dirs[-1])
    keep_writing(path, lambda: {"conns": {"%d" % k: d.state() for k, d in enumerate(dirs)}})


def newconns(addr, port, path):
    attempts = []
    k = 100
    while True:
        start = now()
        ok = False
        try:
            with socket.create_connection((addr, port), timeout=1) as s:
                s.settimeout(1)
                s.sendall(b"N %3d" % (k % 1000) + frame(k % 1000, 1))
                read_frame(s, k % 1000, 1)
                ok = True
        except (OSError, EOFError, ValueError):
            pass
        attempts.append([start, ok])
        write_state(path, {"attempts": attempts[-600:]})
        k += 1
        time.sleep(max(0.0, start + 0.1 - now()))


def load(paths):
    """(label, Direction state) for every connection of every file, in order."""
    out = []
    for p in paths:
        with open(p) as f:
            conns = json.load(f)["conns"]
        for k in sorted(conns, key=int):
            out.append(("%s connection %s" % (os.path.basename(p), k), conns[k]))
    return out


def counts(paths):
    return [c["frames"] for _, c in load(paths)]


def report(since, paths):
    ok = True
    worst = 0.0
    t = now()
    def gap(g):
        return "%.3f s" % g if g >= GAP_MIN else "under %.3f s" % GAP_MIN

    for label, c in load(paths):
        gaps = [g for at, g in c["gaps"] if at >= since] + [t - c["last"]]
        worst = max(worst, max(gaps))
        alive = c["error"] is None and t - c["last"] < 1.0
        ok = ok and alive
        print(
            "# %s: %d frames of %d bytes, longest gap %s%s"
            % (label, c["frames"], FRAME, gap(max(gaps)),
               "" if alive else ", DEAD: %s" % (c["error"] or "silent for %.1f s" % (t - c["last"])))
        )
    print("# longest gap of any connection, either way: %s" % gap(worst))
    return 0 if ok else 1


def main(argv):
    cmd, args = (argv[1], argv[2:]) if len(argv) > 1 else ("", [])
    if cmd == "server" and len(args) == 2:
        server(int(args[0]), args[1])
    elif cmd == "streams" and len(args) == 4:
        streams(args[0], int(args[1]), int(args[2]), args[3])
    elif cmd == "newconns" and len(args) == 3:
        newconns(args[0], int(args[1]), args[2])
    elif cmd == "frames" and args:
        print(" ".join(str(n) for n in counts(args)))
    elif cmd == "progressed" and len(args) >= 3:
        before = [int(x) for x in args[0].split()]
        cur = counts(args[2:])
        return 0 if len(cur) == len(before) and all(
            a >= b + int(args[1]) for a, b in zip(cur, before)) else 1
    elif cmd == "stalled" and len(args) >= 2:
        before = [int(x) for x in args[0].split()]
        return 0 if counts(args[1:]) == before else 1
    elif cmd == "report" and len(args) >= 2:
        return report(float(args[0]), args[1:])
    elif cmd == "new_ok" and len(args) == 3:
        since, want = float(args[0]), int(args[1])
        with open(args[2]) as f:
            attempts = json.load(f)["attempts"]
        run = 0
        for start, ok in attempts:
            if start >= since:
                run = run + 1 if ok else 0
                if run >= want:
                    return 0
        return 1
    elif cmd == "now" and not args:
        print("%.6f" % now())
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
