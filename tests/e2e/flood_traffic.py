#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The legitimate traffic of the flood scenario (test_flood.sh, bench/flood.sh).

  server  --port P [--port Q]   echo every byte back, on each port
  long    --addr A --port P --conns N --duration S --ready FILE
          N connections opened first (FILE is written once all are up and
          have echoed once), each then sending a chunk every --interval
          seconds for S seconds; the echo must come back byte for byte.
  probe   --addr A --port P --duration S [--workers W]
          new connections one after another, W at a time: connect, send
          a line, read it back, close; each within --timeout seconds.

long and probe print one JSON object on stdout.
"""
import argparse
import asyncio
import hashlib
import json
import os
import sys
import time


async def echo(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def server(ports):
    servers = [await asyncio.start_server(echo, "0.0.0.0", p, backlog=4096) for p in ports]
    await asyncio.gather(*(s.serve_forever() for s in servers))


class Conn:
    def __init__(self, index):
        self.index = index
        self.sent = hashlib.sha256()
        self.got = hashlib.sha256()
        self.sent_bytes = 0
        self.got_bytes = 0
        self.sport = 0
        self.error = None


async def long_conn(c, args, start_evt, first_echo):
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(args.addr, args.port), 10)
        c.sport = writer.get_extra_info("sockname")[1]

        async def receive():
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                c.got.update(data)
                c.got_bytes += len(data)
                if not first_echo[c.index].done():
                    first_echo[c.index].set_result(True)

        rx = asyncio.ensure_future(receive())
        hello = b"%08d" % c.index
        writer.write(hello)
        c.sent.update(hello)
        c.sent_bytes += len(hello)
        await start_evt.wait()
        end = time.monotonic() + args.duration
        n = 0
        while time.monotonic() < end:
            chunk = os.urandom(args.chunk)
            writer.write(chunk)
            c.sent.update(chunk)
            c.sent_bytes += len(chunk)
            await writer.drain()
            n += 1
            await asyncio.sleep(args.interval)
        writer.write_eof()
        await asyncio.wait_for(rx, args.drain_timeout)
        writer.close()
    except Exception as e:  # noqa: BLE001: every failure is reported
        c.error = "%s: %s" % (type(e).__name__, e)
        if not first_echo[c.index].done():
            first_echo[c.index].set_result(False)


async def long_main(args):
    conns = [Conn(i) for i in range(args.conns)]
    start_evt = asyncio.Event()
    loop = asyncio.get_running_loop()
    first_echo = [loop.create_future() for _ in conns]
    tasks = []
    for c in conns:
        tasks.append(asyncio.ensure_future(long_conn(c, args, start_evt, first_echo)))
        await asyncio.sleep(0.002)
    up = await asyncio.wait_for(asyncio.gather(*first_echo), 30)
    with open(args.ready, "w") as f:
        f.write("%d\n" % sum(1 for x in up if x))
    start_evt.set()
    await asyncio.gather(*tasks)
    intact = [c for c in conns
              if c.error is None and c.sent_bytes == c.got_bytes
              and c.sent.digest() == c.got.digest()]
    bad = [{"index": c.index, "sport": c.sport, "sent": c.sent_bytes,
            "got": c.got_bytes, "error": c.error}
           for c in conns if c not in intact]
    print(json.dumps({"conns": len(conns), "intact": len(intact),
                      "bytes": sum(c.sent_bytes for c in conns),
                      "sports": [c.sport for c in conns], "bad": bad[:10]}))


async def probe_worker(args, end, stats):
    line = b"probe\n"
    while time.monotonic() < end:
        stats["attempts"] += 1
        t0 = time.monotonic()
        stage = "connect"
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(args.addr, args.port), args.timeout)
            stage = "echo"
            try:
                writer.write(line)
                got = await asyncio.wait_for(reader.readexactly(len(line)),
                                             max(0.05, args.timeout - (time.monotonic() - t0)))
                if got == line:
                    stats["ok"] += 1
                    stats["ms"].append((time.monotonic() - t0) * 1000)
            finally:
                writer.close()
        except (asyncio.TimeoutError, OSError, asyncio.IncompleteReadError):
            stats["failed_" + stage] += 1
        await asyncio.sleep(args.pause)


async def probe_main(args):
    stats = {"attempts": 0, "ok": 0, "ms": [], "failed_connect": 0, "failed_echo": 0}
    end = time.monotonic() + args.duration
    await asyncio.gather(*(probe_worker(args, end, stats) for _ in range(args.workers)))
    ms = sorted(stats["ms"])
    rate = stats["ok"] / stats["attempts"] if stats["attempts"] else 0.0
    print(json.dumps({"attempts": stats["attempts"], "ok": stats["ok"],
                      "rate": round(rate, 4),
                      "per_s": round(stats["ok"] / args.duration, 1),
                      "failed_connect": stats["failed_connect"],
                      "failed_echo": stats["failed_echo"],
                      "median_ms": round(ms[len(ms) // 2], 2) if ms else None}))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--port", type=int, action="append", required=True)
    lg = sub.add_parser("long")
    lg.add_argument("--addr", required=True)
    lg.add_argument("--port", type=int, required=True)
    lg.add_argument("--conns", type=int, default=200)
    lg.add_argument("--duration", type=float, required=True)
    lg.add_argument("--interval", type=float, default=0.1)
    lg.add_argument("--chunk", type=int, default=2048)
    lg.add_argument("--drain-timeout", type=float, default=20)
    lg.add_argument("--ready", required=True)
    pr = sub.add_parser("probe")
    pr.add_argument("--addr", required=True)
    pr.add_argument("--port", type=int, required=True)
    pr.add_argument("--duration", type=float, required=True)
    pr.add_argument("--workers", type=int, default=2)
    pr.add_argument("--timeout", type=float, default=1.0)
    pr.add_argument("--pause", type=float, default=0.05)
    args = p.parse_args()
    if args.cmd == "server":
        asyncio.run(server(args.port))
    elif args.cmd == "long":
        asyncio.run(long_main(args))
    else:
        asyncio.run(probe_main(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
