#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Item 3 of the benchmark: new TCP connections per second through a router
namespace, with real client and server sockets (bench/connrate.c):

  client 10.252.1.2 -- 10.252.1.1 router 10.252.2.1 -- 10.252.2.2 server

The router runs, in turn (interleaved, repeated):

  none       forwarding only, no filter and no tracker
  xdp_pass   an XDP program that passes everything on both router
             interfaces: what XDP on a veth costs forwarded traffic by
             itself (the veth then runs its NAPI path), xct's floor here
  nftables   nf_conntrack through an nft forward chain: policy drop,
             "ct state established,related accept",
             "tcp dport 5001 ct state new accept"
  xct        xct attached (XDP native) to both router interfaces with the
             same rules in its language
  xct_tc     the same with --mode tc (TC ingress instead of XDP)
  xct_sync   xct as in 'xct', with xctd replicating the table to an HA
             peer (--sync-peer) over a link of its own, to a UDP sink in a
             fourth namespace: the primary's cost of state sync
  xct_sync_tcp  the same over the TCP transport (--sync-transport tcp), to
             a sink that accepts xctd's connection and reads the stream

--configs picks some of them (make bench runs xct,xct_sync,xct_sync_tcp
apart, for the sync section).  For the sync ones the figures add xctd's messages: sent, per
second of the run, per connection, and lost (messages the socket
refused), from xctd's totals when it stops.  The CPU per connection counts
xctd (our child) and leaves the sink out.

The client keeps PARALLEL connects in flight for SECONDS, and closes each
connection with an RST as soon as it is established, so no TIME_WAIT
socket limits the rate.  Reported: connections per second, and the CPU per
connection (lib.py's meter: client, server and kernel threads).
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

CONFIGS = ["none", "xdp_pass", "nftables", "xct", "xct_tc", "xct_sync", "xct_sync_tcp"]
SYNC_CONFIGS = ("xct_sync", "xct_sync_tcp")
XCT_CONFIGS = ("xct", "xct_tc") + SYNC_CONFIGS
PORT = 5001
SYNC_PORT = 3780

NFT_RULES = """table inet xctb {
	chain forward_filter {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		tcp dport 5001 ct state new accept
	}
}
"""

# The backup's side of the sync link: reads and drops xctd's datagrams.
SINK = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    s.recv(65536)
"""

# The same over TCP: accepts xctd's connection (a newer one replacing the
# older, as conntrackd does) and reads the stream.
SINK_TCP = """
import select, socket, sys
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen(1)
c = None
while True:
    r, _, _ = select.select([l] + ([c] if c else []), [], [])
    if l in r:
        if c:
            c.close()
        c, _ = l.accept()
    elif c and not c.recv(1 << 20):
        c.close()
        c = None
"""

XCT_RULES = """policy drop
accept ct state established,related
accept tcp dport 5001 ct state new
"""


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="xctb-cr.")
        lib.on_exit(lambda: lib.run(["rm", "-rf", self.tmp], check=False))
        self.nss = lib.Namespaces()
        self.pin = None
        self.current = None

    def xct(self, *args, **kw):
        return lib.run(["taskset", "-c", "0", self.a.xct, "--pin-path", self.pin, *args],
                       ns=self.r, **kw)

    def setup(self):
        self.c = self.nss.add("cli")
        self.r = self.nss.add("rtr")
        self.s = self.nss.add("srv")
        lib.veth(self.c, "c0", "02:78:63:00:01:02", self.r, "rc", "02:78:63:00:01:01")
        lib.veth(self.s, "s0", "02:78:63:00:02:02", self.r, "rs", "02:78:63:00:02:01")
        lib.run(["ip", "addr", "add", "10.252.1.2/24", "dev", "c0"], ns=self.c)
        lib.run(["ip", "addr", "add", "10.252.1.1/24", "dev", "rc"], ns=self.r)
        lib.run(["ip", "addr", "add", "10.252.2.1/24", "dev", "rs"], ns=self.r)
        lib.run(["ip", "addr", "add", "10.252.2.2/24", "dev", "s0"], ns=self.s)
        lib.run(["ip", "route", "add", "default", "via", "10.252.1.1"], ns=self.c)
        lib.run(["ip", "route", "add", "default", "via", "10.252.2.1"], ns=self.s)
        lib.sysctl(self.r, "net.ipv4.ip_forward=1")
        lib.sysctl(self.c, "net.ipv4.ip_local_port_range=1024 65535")
        lib.sysctl(self.s, "net.core.somaxconn=4096", "net.ipv4.tcp_max_syn_backlog=8192")
        # The sync link, to the peer that stands for the backup.
        self.b = self.nss.add("bak")
        lib.veth(self.r, "sync0", "02:78:63:00:09:01", self.b, "sync0", "02:78:63:00:09:02")
        lib.run(["ip", "addr", "add", "10.252.9.1/24", "dev", "sync0"], ns=self.r)
        lib.run(["ip", "addr", "add", "10.252.9.2/24", "dev", "sync0"], ns=self.b)
        lib.run(["ping", "-c", "1", "-W", "2", "10.252.9.2"], ns=self.r)
        for ns, peer, dev in ((self.c, "10.252.1.1", "c0"), (self.s, "10.252.2.1", "s0")):
            lib.run(["ping", "-c", "1", "-W", "2", peer], ns=ns)
        root = os.path.join(self.tmp, "bpffs")
        os.mkdir(root)
        lib.run(["mount", "-t", "bpf", "bpf", root])
        lib.on_exit(lambda: lib.run(["umount", "-l", root], check=False))
        self.pin = root + "/xct"
        with open(os.path.join(self.tmp, "nft.rules"), "w") as f:
            f.write(NFT_RULES)
        with open(os.path.join(self.tmp, "xct.rules"), "w") as f:
            f.write(XCT_RULES)

    def use(self, cfg):
        """Puts cfg on the router, removing the previous configuration."""
        if self.current == "nftables":
            lib.run(["nft", "delete", "table", "inet", "xctb"], ns=self.r)
            # nf_conntrack's entries of the last run go with the rules.
            lib.run(["conntrack", "-F"], ns=self.r, check=False)
        elif self.current in XCT_CONFIGS:
            self.xct("detach", "--all")
        elif self.current == "xdp_pass":
            for dev in ("rc", "rs"):
                lib.run(["ip", "link", "set", "dev", dev, "xdpdrv", "off"], ns=self.r)
        self.current = None
        if cfg == "nftables":
            lib.run(["nft", "-f", os.path.join(self.tmp, "nft.rules")], ns=self.r)
        elif cfg == "xdp_pass":
            for dev in ("rc", "rs"):
                lib.run(["ip", "link", "set", "dev", dev, "xdpdrv", "obj", self.a.xdp_obj, "sec",
                         "xdp", "program", "xdp_pass_all"], ns=self.r)
        elif cfg in XCT_CONFIGS:
            self.xct("attach", "rc", "rs", "--mode", "tc" if cfg == "xct_tc" else "native")
            lib.on_exit(lambda: self.xct("detach", "--all", check=False))
            self.xct("rules", "load", os.path.join(self.tmp, "xct.rules"))
        self.current = cfg

    def one(self, cfg):
        a = self.a
        self.use(cfg)
        lib.wait_quiet()
        t0 = lib.snapshot()
        if cfg in SYNC_CONFIGS:
            sink, xctd, log = self.start_sync(cfg == "xct_sync_tcp")
        srv = subprocess.Popen(["ip", "netns", "exec", self.s, a.connrate, "server", "10.252.2.2",
                                str(PORT)], stdout=subprocess.DEVNULL)
        lib.on_exit(lambda: srv.poll() is None and srv.kill())
        time.sleep(0.2)
        p = lib.run([a.connrate, "client", "10.252.2.2", PORT, a.seconds, a.parallel],
                    ns=self.c, capture=True)
        srv.terminate()
        srv.wait()
        if cfg in SYNC_CONFIGS:
            sink_s = self.stop_sync(sink, xctd)
        t1 = lib.snapshot()
        r = json.loads(p.stdout)
        d = lib.delta(t0, t1)
        n = max(r["connections"], 1)
        r["rate"] = r["connections"] / r["seconds"]
        if cfg in SYNC_CONFIGS:
            # The sink stands for the backup: its CPU is not the primary's.
            d["own"] -= sink_s
            r.update(self.sync_totals(log, r))
        r["cpu_us_own"] = d["own"] * 1e6 / n
        r["cpu_us_machine"] = d["machine"] * 1e6 / n
        if cfg == "nftables":
            r["table"] = int(lib.out(["conntrack", "-C"], ns=self.r).strip() or 0)
        elif cfg in XCT_CONFIGS:
            r["table"] = int(lib.out(["taskset", "-c", "0", a.xct, "--pin-path", self.pin, "ct",
                                      "count"], ns=self.r).strip() or 0)
        lib.log(f"connrate: {cfg:12s} {r['rate']:8.0f} conn/s, {r['cpu_us_own']:6.1f} us CPU/conn"
                f" ({r['failed']} failed)" + (f", {r['table']} entries" if "table" in r else "")
                + (f", {r['sync_per_s']:.0f} sync messages/s, {r['sync_lost']} lost"
                   if "sync_per_s" in r else ""))
        return r

    def start_sync(self, tcp):
        """The sink on the peer's side, then xctd syncing to it (over TCP
        when tcp); returns once xctd listens."""
        sink = subprocess.Popen(["ip", "netns", "exec", self.b, sys.executable, "-c",
                                 SINK_TCP if tcp else SINK, "10.252.9.2", str(SYNC_PORT)])
        lib.on_exit(lambda: sink.poll() is None and sink.kill())
        log = os.path.join(self.tmp, "xctd.log")
        sock = os.path.join(self.tmp, "run", "xctd.sock")
        os.makedirs(os.path.dirname(sock), mode=0o700, exist_ok=True)
        f = open(log, "w")
        xctd = subprocess.Popen(["ip", "netns", "exec", self.r, "taskset", "-c", "0", self.a.xctd,
                                 "--foreground", "--pin-path", self.pin, "--socket", sock,
                                 "--sync-peer", f"10.252.9.2:{SYNC_PORT}",
                                 "--sync-listen", f"10.252.9.1:{SYNC_PORT}",
                                 *(["--sync-transport", "tcp"] if tcp else [])], stderr=f)
        f.close()
        lib.on_exit(lambda: xctd.poll() is None and xctd.kill())
        deadline = time.monotonic() + 10
        while "listening on" not in open(log).read():
            if time.monotonic() > deadline or xctd.poll() is not None:
                raise RuntimeError("xctd did not start: " + open(log).read())
            time.sleep(0.05)
        return sink, xctd, log

    def stop_sync(self, sink, xctd):
        """Stops xctd (it logs its totals) and the sink; the sink's CPU
        seconds."""
        # What xctd has not read of the ring yet is read before it stops.
        time.sleep(0.5)
        xctd.terminate()
        xctd.wait()
        with open(f"/proc/{sink.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        sink.terminate()
        sink.wait()
        return cpu

    def sync_totals(self, log, r):
        """xctd's totals line: "sync: sent N messages (N new, N updates, N
        destroys), N lost; ..."."""
        line = [l for l in open(log) if "sync: sent" in l][-1]
        words = line.replace("(", " ").replace(",", " ").replace(";", " ").split()
        sent = int(words[words.index("sent") + 1])
        lost = int(words[words.index("lost") - 1])
        return {"sync_sent": sent, "sync_lost": lost, "sync_per_s": sent / r["seconds"],
                "sync_per_conn": sent / max(r["connections"], 1)}

    def main(self):
        self.setup()
        configs = self.a.configs.split(",")
        runs = {cfg: [] for cfg in configs}
        for rep in range(self.a.repeats):
            k = rep % len(configs)
            for cfg in configs[k:] + configs[:k]:
                runs[cfg].append(self.one(cfg))
        self.use(None)
        lib.write_json(self.a.out, {"seconds": self.a.seconds, "parallel": self.a.parallel,
                                    "repeats": self.a.repeats, "runs": runs,
                                    "rules": {"nftables": NFT_RULES, "xct": XCT_RULES}})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--xct", required=True)
    p.add_argument("--connrate", required=True)
    p.add_argument("--xdp-obj", required=True)
    p.add_argument("--xctd", help="xctd, for xct_sync")
    p.add_argument("--configs", default=",".join(c for c in CONFIGS if c not in SYNC_CONFIGS),
                   help="which routers, comma-separated (default: all but the sync ones)")
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--parallel", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    bad = [c for c in a.configs.split(",") if c not in CONFIGS]
    if bad:
        p.error(f"unknown configuration {bad[0]} (one of {', '.join(CONFIGS)})")
    if set(SYNC_CONFIGS) & set(a.configs.split(",")) and not a.xctd:
        p.error("xct_sync and xct_sync_tcp need --xctd")
    Bench(a).main()


if __name__ == "__main__":
    main()
