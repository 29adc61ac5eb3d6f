#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""What a translated packet costs: one established UDP flow forwarded by a
router namespace that masquerades it, with xct and with nftables.

  sender (trafgen) --veth-- router --veth-- sink (XDP drop: the floor)
  10.251.1.2              10.251.1.1  10.251.2.1      10.251.2.2

trafgen sends 64-byte UDP frames 10.251.1.2:10000 -> 10.251.2.2:9000; the
router forwards them, its source rewritten to 10.251.2.1.  Before each run
one packet each way makes the flow established (and, with NAT, bound): the
sink's answer goes to the translated tuple.  Configurations, interleaved
run by run as in datapath.py, each the busy CPU time per packet (lib.py's
meter):

  forward     plain forwarding, nothing loaded
  xct         xct attached (XDP native) on both router interfaces, no rules:
              tracking, no translation
  xct_masq    the same with 'masquerade oif r2'
  nft_masq    nftables: 'oifname r2 masquerade' in a postrouting NAT chain
              (conntrack and nf_nat)

The costs above 'forward' are the per-packet price of tracking and NAT.
With --doc FILE the section between <!-- bench-nat:begin --> and
<!-- bench-nat:end --> in FILE is written (inserted before the main
benchmark's section the first time).
"""
import argparse
import os
import sys
import tempfile
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

CONFIGS = ["forward", "xct", "xct_masq", "nft_masq"]
SND, R1, R2, SINK = "10.251.1.2", "10.251.1.1", "10.251.2.1", "10.251.2.2"
MAC = {"s": "02:78:63:00:01:02", "r1": "02:78:63:00:01:01", "r2": "02:78:63:00:02:01",
       "k": "02:78:63:00:02:02"}
BEGIN, END = "<!-- bench-nat:begin -->", "<!-- bench-nat:end -->"
NFT = ("table ip xctbnat {\n\tchain post {\n"
       "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
       "\t\toifname \"r2\" masquerade\n\t}\n}\n")


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="xct-bench-nat.")
        lib.on_exit(lambda: lib.run(["rm", "-rf", self.tmp], check=False))
        self.ns = lib.Namespaces()
        self.attached = False

    def xct(self, *args, **kw):
        return lib.run([self.a.xct, "--pin-path", f"{self.pin_root}/xct", *args], ns=self.r,
                       **kw)

    def setup(self):
        self.s, self.r, self.k = (self.ns.add(x) for x in ("nsnd", "nrtr", "nsink"))
        lib.veth(self.s, "s1", MAC["s"], self.r, "r1", MAC["r1"])
        lib.veth(self.r, "r2", MAC["r2"], self.k, "k1", MAC["k"])
        lib.run(["ip", "addr", "add", f"{SND}/24", "dev", "s1"], ns=self.s)
        lib.run(["ip", "addr", "add", f"{R1}/24", "dev", "r1"], ns=self.r)
        lib.run(["ip", "addr", "add", f"{R2}/24", "dev", "r2"], ns=self.r)
        lib.run(["ip", "addr", "add", f"{SINK}/24", "dev", "k1"], ns=self.k)
        lib.run(["ip", "route", "add", "default", "via", R1], ns=self.s)
        lib.run(["ip", "route", "add", "default", "via", R2], ns=self.k)
        lib.sysctl(self.r, "net.ipv4.ip_forward=1")
        # The sink drops everything at XDP, ARP too: static neighbours.
        lib.run(["ip", "neigh", "replace", SINK, "lladdr", MAC["k"], "dev", "r2"], ns=self.r)
        lib.run(["ip", "neigh", "replace", SND, "lladdr", MAC["s"], "dev", "r1"], ns=self.r)
        lib.run(["ip", "neigh", "replace", R2, "lladdr", MAC["r2"], "dev", "k1"], ns=self.k)
        lib.run(["ip", "neigh", "replace", R1, "lladdr", MAC["r1"], "dev", "s1"], ns=self.s)
        lib.run(["ip", "link", "set", "k1", "xdpdrv", "obj", self.a.drop_obj, "sec", "xdp"],
                ns=self.k)
        self.pin_root = os.path.join(self.tmp, "bpffs")
        os.makedirs(self.pin_root)
        lib.run(["mount", "-t", "bpf", "bpf", self.pin_root])
        lib.on_exit(lambda: lib.run(["umount", "-l", self.pin_root], check=False))
        with open(os.path.join(self.tmp, "flow.cfg"), "w") as f:
            f.write("{ eth(da=%s, sa=%s), ipv4(saddr=%s, daddr=%s, ttl=64), "
                    "udp(sport=10000, dport=9000), fill(0x00, 18) }\n"
                    % (MAC["r1"], MAC["s"], SND, SINK))
        with open(os.path.join(self.tmp, "masq.xct"), "w") as f:
            f.write("masquerade oif r2\n")

    def configure(self, cfg):
        """From a clean router to cfg."""
        lib.run(["nft", "flush", "ruleset"], ns=self.r)
        lib.run(["conntrack", "-F"], ns=self.r, check=False)
        if self.attached:
            self.xct("detach", "--all", check=False)
            self.attached = False
        if cfg.startswith("xct"):
            self.xct("attach", "--mode", "native", "r1", "r2")
            self.attached = True
            if cfg == "xct_masq":
                self.xct("rules", "load", os.path.join(self.tmp, "masq.xct"))
        elif cfg == "nft_masq":
            lib.run(["nft", "-f", "-"], ns=self.r, input=NFT)

    def precreate(self, cfg):
        """One packet out and its answer: the flow is established (bound,
        with NAT), as the sender's packets then find it."""
        masq = cfg.endswith("masq")
        send = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                f"s.bind(('{SND}', 10000))\ns.sendto(b'x' * 18, ('{SINK}', 9000))\n")
        answer = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                  f"s.bind(('{SINK}', 9000))\n"
                  f"s.sendto(b'x' * 18, ('{R2 if masq else SND}', 10000))\n")
        lib.run([sys.executable, "-c", send], ns=self.s)
        lib.run([sys.executable, "-c", answer], ns=self.k)

    def check(self, cfg):
        """The flow is there, translated where it should be."""
        if cfg == "nft_masq":
            t = lib.out(["conntrack", "-L", "-p", "udp"], ns=self.r)
        elif cfg.startswith("xct"):
            t = lib.out([self.a.xct, "--pin-path", f"{self.pin_root}/xct", "ct", "list", "-p",
                         "udp"], ns=self.r)
        else:
            return
        want = f"dst={R2 if cfg.endswith('masq') else SND} sport=9000 dport=10000"
        if want not in t or "UNREPLIED" in t:
            raise SystemExit(f"nat bench: {cfg}: the flow is not established as expected:\n{t}")

    def one(self, cfg):
        self.configure(cfg)
        self.precreate(cfg)
        self.check(cfg)
        lib.wait_quiet()
        n = self.a.packets
        cmd = ["trafgen", "-o", "s1", "-c", os.path.join(self.tmp, "flow.cfg"), "-n", str(n),
               "-P", "1", "--no-sock-mem", "-Q", "-C"]
        t0 = lib.snapshot()
        lib.run(cmd, ns=self.s)
        t1 = lib.snapshot()
        d = lib.delta(t0, t1)
        r = {"ns_own": d["own"] * 1e9 / n, "ns_machine": d["machine"] * 1e9 / n,
             "wall_s": d["wall"], "packets": n}
        lib.log(f"nat: {cfg:9s} {r['ns_own']:7.0f} ns/pkt own, {r['ns_machine']:7.0f} machine")
        return r

    def main(self):
        self.setup()
        runs = {cfg: [] for cfg in CONFIGS}
        for rep in range(self.a.repeats):
            k = rep % len(CONFIGS)
            for cfg in CONFIGS[k:] + CONFIGS[:k]:
                runs[cfg].append(self.one(cfg))
        self.configure("forward")
        res = {"packets": self.a.packets, "repeats": self.a.repeats, "runs": runs,
               "nft": NFT, "xct_rules": "masquerade oif r2"}
        lib.write_json(self.a.out, res)
        if self.a.doc:
            write_doc(self.a.doc, res)


def section(res):
    own = {c: [r["ns_own"] for r in res["runs"][c]] for c in CONFIGS}
    med = {c: lib.median(own[c]) for c in CONFIGS}
    base = med["forward"]
    rows = [("forward", "plain forwarding, nothing loaded"),
            ("xct", "xct tracking the flow, no NAT"),
            ("xct_masq", "xct: `masquerade oif r2`"),
            ("nft_masq", "nftables `masquerade` (nf_conntrack + nf_nat)")]
    wrap = lambda t: textwrap.fill(t, 76)  # noqa: E731
    out = [BEGIN, "## NAT: a translated flow (`bench/nat.py`)", "",
           wrap("One established UDP flow of 64-byte frames forwarded by a router namespace "
                "that masquerades it (trafgen in the sender, an XDP drop in the sink), "
                f"{res['packets']:,} packets a run, median of {res['repeats']} interleaved "
                "runs; busy CPU time per packet (lib.py's meter), the range of the runs "
                "beside it. Each run starts from a clean router with the flow established "
                "by one packet each way."), "",
           "| configuration | ns per packet | runs | above forwarding |",
           "|---|---:|---:|---:|"]
    for cfg, what in rows:
        extra = "" if cfg == "forward" else f"+{med[cfg] - base:.0f}"
        out.append(f"| {what} | {med[cfg]:.0f} | {min(own[cfg]):.0f}-{max(own[cfg]):.0f} "
                   f"| {extra} |")
    out += ["", wrap(
        f"xct with masquerade costs {med['xct_masq'] - base:.0f} ns a packet above plain "
        f"forwarding, nftables' masquerade {med['nft_masq'] - base:.0f} ns; the "
        f"translation itself adds {med['xct_masq'] - med['xct']:.0f} ns to xct's "
        "tracking. A translated packet is parsed twice: at XDP, where it is tracked, "
        "and at TC egress, where xct_nat_egress finds its binding and rewrites it "
        "with the kernel's checksum helpers (replies likewise: XDP, then TC ingress). "
        "The runs spread by some hundred nanoseconds on this shared machine: read the "
        "differences between the stateful configurations with that in mind."), END]
    return "\n".join(out) + "\n"


def write_doc(path, res):
    with open(path) as f:
        doc = f.read()
    text = section(res)
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        doc = head + text + rest.split(END, 1)[1].lstrip("\n")
    elif "<!-- bench:begin -->" in doc:
        head, rest = doc.split("<!-- bench:begin -->", 1)
        doc = head + text + "\n<!-- bench:begin -->" + rest
    else:
        doc += "\n" + text
    with open(path, "w") as f:
        f.write(doc)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--xct", required=True)
    p.add_argument("--drop-obj", required=True)
    p.add_argument("--packets", type=int, default=1000000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", required=True)
    p.add_argument("--doc")
    a = p.parse_args()
    Bench(a).main()


if __name__ == "__main__":
    main()
