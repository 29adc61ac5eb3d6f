#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""IPFIX end to end: connection ends from the real datapath, through the
real events ring, read by the real xctd, encoded and sent to a collector.

In a namespace, xct is attached (XDP) to one end of a veth pair and xctd
runs with --ipfix-collector 127.0.0.1:PORT, the collector being
bench/ipfix_e2e's counting sink (it learns the templates, counts the data
records of every message, and the records the sequence numbers say never
came).  Each round:

  1. `ipfix_e2e syns` runs CONNS distinct SYNs through the attached XDP
     program (BPF_PROG_TEST_RUN): CONNS entries in the table, a NEW
     event each in the ring (no record: an untranslated connection's
     record is its end);
  2. once xctd has read them, `xct ct flush` deletes every entry in one
     sweep of the control program, as a GC sweep deletes what expired:
     CONNS DESTROY events at the sweep's pace, a flow record each;
  3. once xctd has sent what it will send, the sink's count: records
     received, the time from the first to the last, and the losses: events
     the ring had no room for (xct_events_lost_total{stream="ct_events"}),
     records the socket refused (xct_ipfix_lost_records_total), records
     sent and not received.

xctd is started again for every round (its first seconds, when it keeps a
backlog for resuming readers, are over before the flush), and each ring
size given is a configuration of the rounds, interleaved.

  ipfix_e2e.py --xct X --xctd D --tool T [--conns N] [--rounds R]
               [--ring-sizes BYTES,...] --out FILE
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

PORT = 4739
METRICS = "127.0.0.1:9478"


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="xctb-ie.")
        os.chmod(self.tmp, 0o700)
        lib.on_exit(lambda: lib.run(["rm", "-rf", self.tmp], check=False))
        self.nss = lib.Namespaces()
        self.ns = self.nss.add("ie")
        peer = self.nss.add("iep")
        lib.veth(self.ns, "ie0", "02:00:00:00:1e:01", peer, "ie1", "02:00:00:00:1e:02")
        self.bpffs = os.path.join(self.tmp, "bpffs")
        os.mkdir(self.bpffs)
        lib.run(["mount", "-t", "bpf", "bpf", self.bpffs])
        lib.on_exit(lambda: lib.run(["umount", "-l", self.bpffs], check=False))
        self.pin = self.bpffs + "/xct"
        self.sock = os.path.join(self.tmp, "run", "xctd.sock")
        self.xctd = None
        self.default_ring = 0
        self.sink = subprocess.Popen(["ip", "netns", "exec", self.ns, a.tool, "sink", str(PORT)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        lib.on_exit(self.stop_sink)
        json.loads(self.sink.stdout.readline())  # listening

    def stop_sink(self):
        if self.sink.poll() is None:
            self.sink.stdin.close()
            self.sink.wait(timeout=5)

    def sink_round(self):
        self.sink.stdin.write("r\n")
        self.sink.stdin.flush()
        return json.loads(self.sink.stdout.readline())

    def xct(self, *args):
        return lib.out([self.a.xct, "--pin-path", self.pin, *args], ns=self.ns)

    def metrics(self):
        text = lib.out(["curl", "-sf", f"http://{METRICS}/metrics"], ns=self.ns)
        m = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                m[k] = float(v)
        return m

    def start(self, ring):
        args = ["attach", "--mode", "native", "--max-entries", "1048576"] + \
            (["--ct-events-size", str(ring)] if ring else [])
        self.xct(*args, "ie0")
        if not ring and not self.default_ring:
            info = json.loads(lib.out(["bpftool", "-j", "map", "show", "pinned",
                                       self.pin + "/xct_ct_events"]))
            self.default_ring = info["max_entries"]
        log = open(os.path.join(self.tmp, "xctd.log"), "w")
        self.xctd = subprocess.Popen(["ip", "netns", "exec", self.ns, self.a.xctd, "--foreground",
                                      "--pin-path", self.pin, "--socket", self.sock,
                                      "--metrics-listen", METRICS, "--ipfix-collector",
                                      f"127.0.0.1:{PORT}"], stderr=log)
        lib.on_exit(self.stop)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                return self.metrics()
            except RuntimeError:
                time.sleep(0.1)
        raise RuntimeError("xctd did not start: " + open(log.name).read())

    def stop(self):
        if self.xctd and self.xctd.poll() is None:
            self.xctd.terminate()
            self.xctd.wait(timeout=10)
        self.xctd = None
        lib.run([self.a.xct, "--pin-path", self.pin, "detach", "--all"], ns=self.ns, check=False)
        lib.run(["rm", "-rf", self.pin], check=False)

    def settle(self, key, quiet=0.5, max_s=30.0):
        """Waits until xctd's counter key has not moved for quiet seconds."""
        last, since = None, time.monotonic()
        deadline = since + max_s
        while time.monotonic() < deadline:
            m = self.metrics()
            if m.get(key) != last:
                last, since = m.get(key), time.monotonic()
            elif time.monotonic() - since >= quiet:
                return m
            time.sleep(0.1)
        return self.metrics()

    def one_round(self, mode, ring):
        a = self.a
        t_start = time.monotonic()
        self.start(ring)
        lost_key = 'xct_events_lost_total{stream="ct_events"}'
        if mode == "flush":
            fill = json.loads(lib.out([a.tool, "syns", "ie0", a.conns], ns=self.ns))
        else:
            self.xct("set-timeout", "nf_conntrack_tcp_timeout_syn_sent", "1")
        # xctd's backlog for resuming readers is kept for its first 3 s.
        time.sleep(max(0.0, 3.5 - (time.monotonic() - t_start)))
        if mode == "flush":
            m0 = self.settle('xct_events_total{stream="ct_events"}')
            self.sink_round()  # what came before is not this round's
            count = int(self.xct("ct", "count").strip())
            t0 = time.monotonic()
            self.xct("ct", "flush")
            offered = count / (time.monotonic() - t0)
        else:
            m0 = self.metrics()
            self.sink_round()
            count = a.gc_rate * a.gc_seconds
            fill = json.loads(lib.out([a.tool, "syns", "ie0", count, a.gc_rate], ns=self.ns))
            offered = count / fill["seconds"]
            # Until the GC has removed everything: sweeps a second apart.
            self.settle("xct_conntrack_expired_total", quiet=2.5)
        m1 = self.settle("xct_ipfix_records_total")
        got = self.sink_round()
        self.stop()
        if fill["not_passed"]:
            raise RuntimeError(f"{fill['not_passed']} SYNs were not passed")
        r = {
            "mode": mode, "ring": ring, "conns": count, "offered_per_s": offered,
            "received": got["records"], "span_s": got["span_s"],
            "records_per_s": got["records_per_s"], "seq_missing": got["missing"],
            "ring_lost": m1[lost_key] - m0[lost_key],
            "sent": m1["xct_ipfix_records_total"] - m0["xct_ipfix_records_total"],
            "socket_lost": m1["xct_ipfix_lost_records_total"] - m0["xct_ipfix_lost_records_total"],
            "send_errors": m1["xct_ipfix_send_errors_total"] - m0["xct_ipfix_send_errors_total"],
            "messages": got["messages"],
        }
        r["missing"] = count - r["received"]
        r["not_received"] = r["sent"] - r["received"]
        lib.log(f"ipfix e2e {mode}, ring {ring or 'default'}: {r['received']:,.0f} of "
                f"{count:,} records in {r['span_s']:.3f} s ({r['records_per_s']:,.0f}/s), "
                f"offered {r['offered_per_s']:,.0f}/s, ring lost {r['ring_lost']:,.0f}, "
                f"socket lost {r['socket_lost']:,.0f}, not received {r['not_received']:,.0f}, "
                f"missing {r['missing']:,.0f}")
        return r

    def main(self):
        a = self.a
        cases = [(m, s) for m in ("gc", "flush") for s in a.ring_sizes]
        runs = {f"{m}:{s}": [] for m, s in cases}
        for _ in range(a.rounds):
            for m, s in cases:
                runs[f"{m}:{s}"].append(self.one_round(m, s))
        return {"conns": a.conns, "gc_rate": a.gc_rate, "gc_seconds": a.gc_seconds,
                "rounds": a.rounds, "ring_sizes": a.ring_sizes, "runs": runs,
                "default_ring": self.default_ring,
                "collector": "bench/ipfix_e2e sink (counts records; nfcapd writes them to disk)"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--xct", required=True)
    p.add_argument("--xctd", required=True)
    p.add_argument("--tool", required=True)
    p.add_argument("--conns", type=int, default=200000)
    p.add_argument("--gc-rate", type=int, default=100000)
    p.add_argument("--gc-seconds", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--ring-sizes", default="0",
                   help="comma-separated ring sizes in bytes, 0 for the default")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    a.ring_sizes = [int(x) for x in a.ring_sizes.split(",")]
    lib.write_json(a.out, Bench(a).main())


if __name__ == "__main__":
    main()
