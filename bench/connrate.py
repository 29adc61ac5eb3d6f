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

CONFIGS = ["none", "xdp_pass", "nftables", "xct", "xct_tc"]
PORT = 5001

NFT_RULES = """table inet xctb {
	chain forward_filter {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		tcp dport 5001 ct state new accept
	}
}
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
        elif self.current in ("xct", "xct_tc"):
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
        elif cfg in ("xct", "xct_tc"):
            self.xct("attach", "rc", "rs", "--mode", "native" if cfg == "xct" else "tc")
            lib.on_exit(lambda: self.xct("detach", "--all", check=False))
            self.xct("rules", "load", os.path.join(self.tmp, "xct.rules"))
        self.current = cfg

    def one(self, cfg):
        a = self.a
        self.use(cfg)
        lib.wait_quiet()
        t0 = lib.snapshot()
        srv = subprocess.Popen(["ip", "netns", "exec", self.s, a.connrate, "server", "10.252.2.2",
                                str(PORT)], stdout=subprocess.DEVNULL)
        lib.on_exit(lambda: srv.poll() is None and srv.kill())
        time.sleep(0.2)
        p = lib.run([a.connrate, "client", "10.252.2.2", PORT, a.seconds, a.parallel],
                    ns=self.c, capture=True)
        srv.terminate()
        srv.wait()
        t1 = lib.snapshot()
        r = json.loads(p.stdout)
        d = lib.delta(t0, t1)
        n = max(r["connections"], 1)
        r["rate"] = r["connections"] / r["seconds"]
        r["cpu_us_own"] = d["own"] * 1e6 / n
        r["cpu_us_machine"] = d["machine"] * 1e6 / n
        if cfg == "nftables":
            r["table"] = int(lib.out(["conntrack", "-C"], ns=self.r).strip() or 0)
        elif cfg in ("xct", "xct_tc"):
            r["table"] = int(lib.out(["taskset", "-c", "0", a.xct, "--pin-path", self.pin, "ct",
                                      "count"], ns=self.r).strip() or 0)
        lib.log(f"connrate: {cfg:9s} {r['rate']:8.0f} conn/s, {r['cpu_us_own']:6.1f} us CPU/conn"
                f" ({r['failed']} failed)" + (f", {r['table']} entries" if "table" in r else ""))
        return r

    def main(self):
        self.setup()
        runs = {cfg: [] for cfg in CONFIGS}
        for rep in range(self.a.repeats):
            k = rep % len(CONFIGS)
            for cfg in CONFIGS[k:] + CONFIGS[:k]:
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
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--parallel", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", required=True)
    Bench(p.parse_args()).main()


if __name__ == "__main__":
    main()
