#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""What a translated packet costs: one established UDP flow forwarded by a
router namespace that translates it, with xct and with nftables.

  sender (trafgen) --veth-- router --veth-- sink (XDP drop: the floor)
  10.251.1.2              10.251.1.1  10.251.2.1      10.251.2.2

Three flows, each one established UDP flow of 64-byte frames:

  plain  10.251.1.2:10000 -> 10.251.2.2:9000, forwarded as it is
  masq   the same, its source rewritten to 10.251.2.1 (masquerade)
  dnat   10.251.1.2:10000 -> 10.251.1.1:8080, the router's own address,
         forwarded to 10.251.2.2:9000 (port forwarding)

Before each run one packet each way makes the flow established (and, with
NAT, bound): the sink's answer goes to the translated tuple.  Then
trafgen sends the flow's packets: in the original direction from the
sender, or in the reply direction from the sink (10.251.2.2:9000 ->
10.251.1.2:10000, which the router translates back; the sender then
drops them in XDP too).  Configurations, interleaved run by run as in
datapath.py, each the busy CPU time per packet (lib.py's meter):

  forward        plain forwarding, nothing loaded
  xct            xct attached (XDP native) on both router interfaces, no
                 rules: tracking, no translation
  xct_masq       the same with 'masquerade oif r2'
  nft_masq       nftables: 'oifname r2 masquerade' in a postrouting NAT
                 chain (conntrack and nf_nat)
  xct_dnat       xct with 'dnat to 10.251.2.2:9000 iif r1 udp dport 8080',
                 the dnat flow
  nft_dnat       nftables: the same dnat in a prerouting NAT chain
  xct_dnat_miss  xct with that dnat rule, the plain flow, which it does not
                 translate: what a dnat rule costs the other packets
  *_rev          forward, xct, xct_dnat, nft_dnat in the reply direction

The costs above 'forward' are the per-packet price of tracking and NAT.
With --prog-cost, `prog_cost dnat` adds the programs' own cost at each
hook (BPF_PROG_TEST_RUN).  With --doc FILE the section between
<!-- bench-nat:begin --> and <!-- bench-nat:end --> in FILE is written
(inserted before the main benchmark's section the first time).
"""
import argparse
import json
import os
import sys
import tempfile
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

SND, R1, R2, SINK = "10.251.1.2", "10.251.1.1", "10.251.2.1", "10.251.2.2"
MAC = {"s": "02:78:63:00:01:02", "r1": "02:78:63:00:01:01", "r2": "02:78:63:00:02:01",
       "k": "02:78:63:00:02:02"}
BEGIN, END = "<!-- bench-nat:begin -->", "<!-- bench-nat:end -->"
NFT_MASQ = ("table ip xctbnat {\n\tchain post {\n"
            "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
            "\t\toifname \"r2\" masquerade\n\t}\n}\n")
NFT_DNAT = ("table ip xctbnat {\n\tchain pre {\n"
            "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
            f"\t\tiifname \"r1\" udp dport 8080 dnat to {SINK}:9000\n\t}}\n}}\n")
XCT_MASQ = "masquerade oif r2"
XCT_DNAT = f"dnat to {SINK}:9000 iif r1 udp dport 8080"
PUB_PORT = 8080

# name: (flow, direction, xct rules (None: no xct), nftables ruleset)
CONFIG = {
    "forward": ("plain", "orig", None, None),
    "xct": ("plain", "orig", "", None),
    "xct_masq": ("masq", "orig", XCT_MASQ, None),
    "nft_masq": ("masq", "orig", None, NFT_MASQ),
    "xct_dnat": ("dnat", "orig", XCT_DNAT, None),
    "nft_dnat": ("dnat", "orig", None, NFT_DNAT),
    "xct_dnat_miss": ("plain", "orig", XCT_DNAT, None),
    "forward_rev": ("plain", "reply", None, None),
    "xct_rev": ("plain", "reply", "", None),
    "xct_dnat_rev": ("dnat", "reply", XCT_DNAT, None),
    "nft_dnat_rev": ("dnat", "reply", None, NFT_DNAT),
}
CONFIGS = list(CONFIG)
# Below what any configuration here can cost a packet: every one forwards
# it, and receiving a packet on a veth pair only to drop it in XDP costs
# ~1,500 ns (machine.md's floor).
FLOOR_NS = 1500


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
        # Both ends drop what reaches them in XDP: the floor, either way.
        lib.run(["ip", "link", "set", "k1", "xdpdrv", "obj", self.a.drop_obj, "sec", "xdp"],
                ns=self.k)
        lib.run(["ip", "link", "set", "s1", "xdpdrv", "obj", self.a.drop_obj, "sec", "xdp"],
                ns=self.s)
        self.pin_root = os.path.join(self.tmp, "bpffs")
        os.makedirs(self.pin_root)
        lib.run(["mount", "-t", "bpf", "bpf", self.pin_root])
        lib.on_exit(lambda: lib.run(["umount", "-l", self.pin_root], check=False))
        frame = ("{ eth(da=%s, sa=%s), ipv4(saddr=%s, daddr=%s, ttl=64), "
                 "udp(sport=%d, dport=%d), fill(0x00, 18) }\n")
        self.trafgen_cfg = {
            ("plain", "orig"): frame % (MAC["r1"], MAC["s"], SND, SINK, 10000, 9000),
            ("dnat", "orig"): frame % (MAC["r1"], MAC["s"], SND, R1, 10000, PUB_PORT),
            ("plain", "reply"): frame % (MAC["r2"], MAC["k"], SINK, SND, 9000, 10000),
        }
        self.trafgen_cfg[("masq", "orig")] = self.trafgen_cfg[("plain", "orig")]
        self.trafgen_cfg[("dnat", "reply")] = self.trafgen_cfg[("plain", "reply")]
        for (flow, way), text in self.trafgen_cfg.items():
            with open(os.path.join(self.tmp, f"{flow}-{way}.cfg"), "w") as f:
                f.write(text)

    def configure(self, cfg):
        """From a clean router to cfg."""
        _, _, rules, nft = CONFIG.get(cfg, CONFIG["forward"])
        lib.run(["nft", "flush", "ruleset"], ns=self.r)
        lib.run(["conntrack", "-F"], ns=self.r, check=False)
        if self.attached:
            self.xct("detach", "--all", check=False)
            self.attached = False
        if rules is not None:
            self.xct("attach", "--mode", "native", "r1", "r2")
            self.attached = True
            if rules:
                path = os.path.join(self.tmp, "rules.xct")
                with open(path, "w") as f:
                    f.write(rules + "\n")
                self.xct("rules", "load", path)
        if nft:
            lib.run(["nft", "-f", "-"], ns=self.r, input=nft)

    def precreate(self, cfg):
        """One packet out and its answer: the flow is established (bound,
        with NAT), as the packets trafgen sends then find it."""
        flow = CONFIG[cfg][0]
        dst, dport = (R1, PUB_PORT) if flow == "dnat" else (SINK, 9000)
        send = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                f"s.bind(('{SND}', 10000))\ns.sendto(b'x' * 18, ('{dst}', {dport}))\n")
        answer = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                  f"s.bind(('{SINK}', 9000))\n"
                  f"s.sendto(b'x' * 18, ('{R2 if flow == 'masq' else SND}', 10000))\n")
        lib.run([sys.executable, "-c", send], ns=self.s)
        lib.run([sys.executable, "-c", answer], ns=self.k)

    def check(self, cfg):
        """The flow is there, established, translated where it should be."""
        flow, _, rules, nft = CONFIG[cfg]
        if nft:
            t = lib.out(["conntrack", "-L", "-p", "udp"], ns=self.r)
        elif rules is not None:
            t = lib.out([self.a.xct, "--pin-path", f"{self.pin_root}/xct", "ct", "list", "-p",
                         "udp"], ns=self.r)
        else:
            return
        dnat = flow == "dnat"
        want = [f"src={SND} dst={R1 if dnat else SINK} sport=10000 "
                f"dport={PUB_PORT if dnat else 9000}",
                f"src={SINK} dst={R2 if flow == 'masq' else SND} sport=9000 dport=10000"]
        if any(w not in t for w in want) or "UNREPLIED" in t:
            raise SystemExit(f"nat bench: {cfg}: the flow is not established as expected:\n{t}")

    def one(self, cfg):
        """One run of cfg; again (twice at most) when the figure is below
        what any forwarded packet costs: the meter then missed the
        generator's CPU time (it was charged outside the process tree),
        and the figure is the meter's loss, not a cost."""
        for attempt in range(3):
            r = self.measure(cfg)
            if r["ns_own"] >= FLOOR_NS or attempt == 2:
                return r
            lib.log(f"nat: {cfg}: {r['ns_own']:.0f} ns a packet is below any forwarding "
                    "cost: the generator's CPU time was missed; run again")

    def measure(self, cfg):
        self.configure(cfg)
        self.precreate(cfg)
        self.check(cfg)
        lib.wait_quiet()
        n = self.a.packets
        flow, way = CONFIG[cfg][:2]
        ns, dev = (self.s, "s1") if way == "orig" else (self.k, "k1")
        cmd = ["trafgen", "-o", dev, "-c", os.path.join(self.tmp, f"{flow}-{way}.cfg"), "-n",
               str(n), "-P", "1", "--no-sock-mem", "-Q", "-C"]
        t0 = lib.snapshot()
        lib.run(cmd, ns=ns)
        t1 = lib.snapshot()
        d = lib.delta(t0, t1)
        r = {"ns_own": d["own"] * 1e9 / n, "ns_machine": d["machine"] * 1e9 / n,
             "wall_s": d["wall"], "packets": n}
        lib.log(f"nat: {cfg:13s} {r['ns_own']:7.0f} ns/pkt own, {r['ns_machine']:7.0f} machine")
        return r

    def main(self):
        load = open("/proc/loadavg").read().split()[:3]
        self.setup()
        runs = {cfg: [] for cfg in CONFIGS}
        for rep in range(self.a.repeats):
            k = rep % len(CONFIGS)
            for cfg in CONFIGS[k:] + CONFIGS[:k]:
                runs[cfg].append(self.one(cfg))
        self.configure("forward")
        res = {"packets": self.a.packets, "repeats": self.a.repeats, "runs": runs,
               "load": " ".join(load), "nft_masq": NFT_MASQ, "nft_dnat": NFT_DNAT,
               "xct_masq": XCT_MASQ, "xct_dnat": XCT_DNAT, "command": self.a.command}
        if self.a.prog_cost:
            cmd = [self.a.prog_cost, "dnat"] + (["-q"] if self.a.quick else [])
            res["prog_cost"] = json.loads(lib.out(cmd))
        if self.a.out:
            lib.write_json(self.a.out, res)
        if self.a.doc:
            write_doc(self.a.doc, res)


def fmt(x):
    return f"{x:,.0f}"


def signed(x):
    return f"{x:+,.0f}"


def section(res):
    own = {c: [r["ns_own"] for r in res["runs"][c]] for c in CONFIGS}
    med = {c: lib.median(own[c]) for c in CONFIGS}
    spread = {c: f"{fmt(min(own[c]))}-{fmt(max(own[c]))}" for c in CONFIGS}
    base, base_rev = med["forward"], med["forward_rev"]
    above = lambda c, b: med[c] - b  # noqa: E731
    wrap = lambda t: textwrap.fill(t, 76)  # noqa: E731
    out = [BEGIN, "## NAT: translated flows (`bench/nat.py`)", "",
           wrap("One established UDP flow of 64-byte frames forwarded by a router namespace "
                "that translates it (trafgen in the sender, or in the sink for the reply "
                "direction; an XDP drop at the far end), "
                f"{res['packets']:,} packets a run, median of {res['repeats']} interleaved "
                "runs; busy CPU time per packet (lib.py's meter), the range of the runs "
                "beside it. Each run starts from a clean router with the flow established "
                "by one packet each way. The machine is shared with other work (load "
                f"average {res.get('load', '?')} when the run started): the runs spread by "
                "some hundred nanoseconds, so read the differences between the stateful "
                "configurations with that in mind."), "",
           "### Masquerade", "",
           "| configuration | ns per packet | runs | above forwarding |",
           "|---|---:|---:|---:|"]
    for cfg, what in [("forward", "plain forwarding, nothing loaded"),
                      ("xct", "xct tracking the flow, no NAT"),
                      ("xct_masq", f"xct: `{XCT_MASQ}`"),
                      ("nft_masq", "nftables `masquerade` (nf_conntrack + nf_nat)")]:
        extra = "" if cfg == "forward" else signed(above(cfg, base))
        out.append(f"| {what} | {fmt(med[cfg])} | {spread[cfg]} | {extra} |")
    out += ["", wrap(
        f"xct with masquerade costs {fmt(above('xct_masq', base))} ns a packet above plain "
        f"forwarding, nftables' masquerade {fmt(above('nft_masq', base))} ns (ratio "
        f"{above('xct_masq', base) / above('nft_masq', base):.2f}); the translation itself "
        f"adds {fmt(med['xct_masq'] - med['xct'])} ns to xct's tracking. A translated "
        "packet is parsed twice: at XDP, where it is tracked, and at TC egress, where "
        "xct_nat_egress finds its binding and rewrites it with the kernel's checksum "
        "helpers (replies likewise: XDP, then TC ingress).")]
    out += ["", "### Port forwarding (dnat)", "",
            wrap(f"The flow {SND}:10000 -> {R1}:{PUB_PORT} (the router's address), forwarded "
                 f"to {SINK}:9000; its replies come back from {R1}:{PUB_PORT}. The reference "
                 f"for each direction is the plain flow ({SND}:10000 <-> {SINK}:9000) "
                 "forwarded untouched."), "",
            "| configuration | original direction, ns | runs | above forwarding "
            "| reply direction, ns | runs | above forwarding |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for cfg, what in [("forward", "plain forwarding, nothing loaded"),
                      ("xct", "xct tracking the flow, no NAT"),
                      ("xct_dnat", f"xct: `{XCT_DNAT}`"),
                      ("nft_dnat", "nftables `dnat` (nf_conntrack + nf_nat)")]:
        rev = "forward_rev" if cfg == "forward" else cfg + "_rev"
        a = "" if cfg == "forward" else signed(above(cfg, base))
        b = "" if cfg == "forward" else signed(above(rev, base_rev))
        out.append(f"| {what} | {fmt(med[cfg])} | {spread[cfg]} | {a} | {fmt(med[rev])} "
                   f"| {spread[rev]} | {b} |")
    out += ["", wrap(
        f"Above plain forwarding, xct's dnat costs {fmt(above('xct_dnat', base))} ns a "
        f"packet in the original direction and {fmt(above('xct_dnat_rev', base_rev))} ns "
        f"in the reply direction; nftables' dnat {fmt(above('nft_dnat', base))} and "
        f"{fmt(above('nft_dnat_rev', base_rev))} ns (ratios "
        f"{above('xct_dnat', base) / above('nft_dnat', base):.2f} and "
        f"{above('xct_dnat_rev', base_rev) / above('nft_dnat_rev', base_rev):.2f}). An "
        "original-direction packet is parsed three times: tracked at XDP and marked, its "
        "destination rewritten at TC ingress by xct_nat_ingress, before routing, and looked "
        "at by xct_nat_egress at TC egress, which finds it translated already. A reply is "
        "parsed four times: marked at XDP (its tuple has no connection of its own), its "
        "binding found at TC ingress, tracked there under its connection, and its source "
        "put back at TC egress. The programs' share, hook by hook, is in the last table "
        "below.")]
    miss = above("xct_dnat_miss", med["xct"]) if "xct_dnat_miss" in med else None
    # What the programs alone say of the same packet (prog_cost dnat).
    pc = res.get("prog_cost")
    progs = sum(c["dnat_ns"] - c["plain_ns"] for c in pc["untranslated"]
                if "egress" in c["name"] or "XDP" in c["name"]) if pc else None
    out += ["", "### What a dnat rule costs the packets it does not translate", "",
            wrap(f"While a dnat rule is loaded, the tracker hands an accepted "
                 "original-direction packet to xct_nat_ingress at TC ingress (which parses "
                 "it again and looks its connection and binding up) only while its "
                 "connection is destination-translated or may still be: new, or not yet "
                 "answered; an established connection that no rule translated is not handed "
                 "over. As with any NAT rule, every forwarded packet still goes to "
                 "xct_nat_egress at TC egress (parsed again, its connection looked up), "
                 "where the replies of translated connections are put back. The plain "
                 f"flow, which `{XCT_DNAT}` does not match, through xct with no rules and "
                 f"with that rule: {fmt(med['xct'])} and {fmt(med['xct_dnat_miss'])} ns a "
                 f"packet (runs {spread['xct']} and {spread['xct_dnat_miss']}), "
                 f"{signed(miss)} ns, "
                 f"{100 * miss / (med['xct'] - base):+.0f}% of xct's tracking cost above "
                 "forwarding. "
                 + (f"The programs alone (below) account for {progs:+.0f} ns of it, most "
                    "of it the pass at TC egress; the rest is time the meter sees outside "
                    "the programs, measured, not explained here." if progs is not None
                    else ""))]
    if pc:
        out += ["", wrap(
            "The programs alone (`prog_cost dnat`: BPF_PROG_TEST_RUN, two datapaths side by "
            f"side, one without NAT rules and one with `{pc['dnat_rules']}`, "
            f"{pc['rounds']} interleaved rounds, medians; *repeat*: best of 5 means of "
            "200,000 runs of one frame; *single*: a frame the program rewrites, run "
            f"{pc['single_n']:,} times once each, less the timer's overhead of "
            f"{pc['trivial_tc_single_ns']:.1f} ns). TC ingress is where the tracker runs when "
            "XDP cannot attach (`--mode tc`); with XDP, the tracker's part runs at XDP and "
            "the TC ingress program hands a marked packet to the same xct_nat_ingress."), "",
            "| an untranslated ESTABLISHED UDP packet | no NAT rule, ns | a dnat rule, ns "
            "| difference | rounds (no rule; dnat) |",
            "|---|---:|---:|---:|---|"]
        for c in pc["untranslated"]:
            d = c["dnat_ns"] - c["plain_ns"]
            runs = (", ".join(f"{x:.0f}" for x in c["plain_runs"]) + "; "
                    + ", ".join(f"{x:.0f}" for x in c["dnat_runs"]))
            out.append(f"| {c['name'].replace('untranslated ESTABLISHED UDP, ', '')} "
                       f"| {c['plain_ns']:.0f} | {c['dnat_ns']:.0f} | {d:+.0f} | {runs} |")
        out += ["", "| a translated flow's packet, hook by hook | method | ns | rounds |",
                "|---|---|---:|---|"]
        for c in pc["translated"]:
            runs = ", ".join(f"{x:.0f}" for x in c["runs"])
            out.append(f"| {c['name'].replace('translated, ', '')} | {c['method']} "
                       f"| {c['ns']:.0f} | {runs} |")
    out += ["", "### Rules and commands", "",
            "The section alone, as it was produced (as root, from the repository, after "
            "`make`; `bench/run.sh --only nat` runs the same, about 5 minutes here):", "",
            "```", res.get("command", "bench/nat.py ..."), "```", "",
            f"xct: `xct attach --mode native r1 r2`, then `xct rules load` of `{XCT_MASQ}` or "
            f"`{XCT_DNAT}`. nftables (router):", "", "```", res["nft_masq"].rstrip(), "```",
            "", "```", res["nft_dnat"].rstrip(), "```", "",
            "trafgen (`-P 1 --no-sock-mem -Q -C`, in the sender or, for the reply direction, "
            "in the sink):", "", "```"]
    out += [f"{{ eth(...), ipv4(saddr={SND}, daddr={SINK}, ttl=64), udp(sport=10000, "
            "dport=9000), fill(0x00, 18) }   # plain, masq",
            f"{{ eth(...), ipv4(saddr={SND}, daddr={R1}, ttl=64), udp(sport=10000, "
            f"dport={PUB_PORT}), fill(0x00, 18) }}   # dnat",
            f"{{ eth(...), ipv4(saddr={SINK}, daddr={SND}, ttl=64), udp(sport=9000, "
            "dport=10000), fill(0x00, 18) }   # the reply direction", "```", END]
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
    p.add_argument("--xct")
    p.add_argument("--drop-obj")
    p.add_argument("--packets", type=int, default=1000000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", help="the raw results, as JSON")
    p.add_argument("--doc")
    p.add_argument("--prog-cost", help="bench/prog_cost, for its dnat cases")
    p.add_argument("--quick", action="store_true", help="prog_cost's quick counts")
    p.add_argument("--render", metavar="JSON",
                   help="no measurement: write --doc's section from the results of an "
                   "earlier run (its --out)")
    a = p.parse_args()
    if a.render:
        with open(a.render) as f:
            res = json.load(f)
        if a.doc:
            write_doc(a.doc, res)
        return
    if not a.xct or not a.drop_obj:
        p.error("--xct and --drop-obj are needed to measure")
    # For the document: the command that wrote it, paths relative to the
    # repository, without where the raw results went.
    args, skip = [], False
    for x in sys.argv[1:]:
        if skip or x == "--out" or x.startswith("--out="):
            skip = x == "--out"
            continue
        if os.path.isabs(x) and x.startswith(lib.repo_dir() + "/"):
            x = os.path.relpath(x, lib.repo_dir())
        args.append(x)
    a.command = " ".join(["/usr/bin/python3", "bench/nat.py"] + args)
    Bench(a).main()


if __name__ == "__main__":
    main()
