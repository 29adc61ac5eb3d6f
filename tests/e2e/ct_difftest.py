#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Random conversations through the router, xct checked against nf_conntrack
packet by packet.

Each seed makes one conversation of a few flows (TCP, UDP, ICMP echo; IPv4
and IPv6) whose packets are interleaved: handshakes (plain, simultaneous
open, mid-stream pickup, retransmitted or re-initialised SYNs, stale
SYN/ACKs), window scaling on, off or offered by one side only, data in and
out of the window, old retransmissions, ACKs of unsent data, duplicate ACKs,
zero windows, RSTs with the exact, an inexact or an out-of-window sequence
number (and seq 0, and ack 0), late and repeated SYNs, closes from either
side and reopens from TIME_WAIT, UDP streams, and ICMP errors quoting a
packet of every flow (and of none).  The packets are sent from raw sockets
in the client and server namespaces (ct_oracle.py's endpoints) and cross
the router, where both trackers see them.  After every packet the router's
`conntrack -L` is compared with `xct ct list` (presence, TCP state,
[UNREPLIED] and [ASSURED], timeout within 3 s, counters) and the packet's
classification (INVALID or RELATED, from the oracle's nft counters and
xct's).

A conversation that disagrees is shrunk: delta debugging over its packet
list (ddmin) replays ever smaller subsets, keeping one that still shows the
first disagreement's kind, and prints the minimal sequence, as packets and,
for TCP, as the body of a unit test for tests/unit/test_tcp.c.

What xct does differently on purpose (README, "How xct differs") is known
here: fragments, oversized first datagrams and ICMPv6 redirects are never
generated; with --known-differences, some segments carry a bad checksum,
which the kernel calls INVALID and xct does not verify: the comparison
expects exactly that for the packet, says so, and stops comparing that
flow.

Output: "ok ct_difftest_seed_N" / "not ok ct_difftest_seed_N" per seed,
diagnostics as "# ..." lines.
"""

import argparse
import random
import sys
import time

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest,
                                ICMPv6PacketTooBig, ICMPv6TimeExceeded, IPv6)
from scapy.packet import Raw

from ct_compare import Router, collect, compare
from ct_oracle import Endpoint, l3_key

KNOWN_CHECKSUM = ("checksums are not verified (README, How xct differs): the kernel "
                  "calls the segment INVALID, xct tracks it")


class Step:
    """One packet: who sends it ("c" or "s"), the flow it belongs to, and
    what it is.  Built into bytes only when sent, so that a shrunk list
    still prints as what was meant."""

    def __init__(self, who, flow, kind, **kw):
        self.who = who
        self.flow = flow
        self.kind = kind  # tcp, udp, echo, error, sleep
        self.flags = kw.get("flags", "")
        self.seq = kw.get("seq", 0) & 0xFFFFFFFF
        self.ack = kw.get("ack", 0) & 0xFFFFFFFF
        self.win = kw.get("win", 0)
        self.data = kw.get("data", 0)
        self.wscale = kw.get("wscale")  # None: no option
        self.sack = kw.get("sack", False)
        self.badsum = kw.get("badsum", False)
        self.quote = kw.get("quote")  # the Step an ICMP error quotes
        self.etype = kw.get("etype", "port")
        self.icmp_seq = kw.get("icmp_seq", 0)
        self.secs = kw.get("secs", 0.0)

    def text(self):
        f = self.flow
        if self.kind == "sleep":
            return f"sleep {self.secs:.1f}"
        head = f"{self.who} flow{f.idx} ipv{f.family}"
        if self.kind == "tcp":
            opts = []
            if self.wscale is not None:
                opts.append(f"wscale={self.wscale}")
            if self.sack:
                opts.append("sackOK")
            if self.badsum:
                opts.append("badsum")
            return (f"{head} tcp {self.flags or '-'} seq={self.seq} ack={self.ack} "
                    f"win={self.win} len={self.data} {' '.join(opts)}").rstrip()
        if self.kind == "udp":
            return f"{head} udp len={self.data}"
        if self.kind == "echo":
            return f"{head} echo-{'request' if self.who == 'c' else 'reply'} seq={self.icmp_seq}"
        quoted = self.quote.text() if self.quote else "an unknown flow"
        return f"{head} icmp error {self.etype} quoting [{quoted}]"

    def build(self):
        f = self.flow
        src, dst = (f.caddr, f.saddr) if self.who == "c" else (f.saddr, f.caddr)
        ip = IP(src=src, dst=dst, ttl=64) if f.family == 4 else IPv6(src=src, dst=dst, hlim=64)
        sport, dport = (f.cport, f.sport) if self.who == "c" else (f.sport, f.cport)
        payload = bytes((i * 7 + 3) & 0xFF for i in range(self.data))
        if self.kind == "tcp":
            opts = []
            if self.flags and "S" in self.flags:
                opts.append(("MSS", 1460))
            if self.sack:
                opts.append(("SAckOK", b""))
            if self.wscale is not None:
                opts += [("NOP", None), ("WScale", self.wscale)]
            seg = TCP(sport=sport, dport=dport, flags=self.flags, seq=self.seq, ack=self.ack,
                      window=self.win, options=opts)
            if self.badsum:
                seg.chksum = 0xBAD
            pkt = ip / seg
        elif self.kind == "udp":
            pkt = ip / UDP(sport=sport, dport=dport)
        elif self.kind == "echo":
            if f.family == 4:
                msg = ICMP(type=8 if self.who == "c" else 0, id=f.icmp_id, seq=self.icmp_seq)
            elif self.who == "c":
                msg = ICMPv6EchoRequest(id=f.icmp_id, seq=self.icmp_seq)
            else:
                msg = ICMPv6EchoReply(id=f.icmp_id, seq=self.icmp_seq)
            pkt = ip / msg
            payload = bytes((i + self.icmp_seq) & 0xFF for i in range(self.data or 32))
        else:
            quoted = self.quote.build() if self.quote else bytes(
                (IP(src=dst, dst=src) if f.family == 4 else IPv6(src=dst, dst=src)) /
                UDP(sport=dport ^ 0x5A5A, dport=sport) / Raw(b"q" * 16))
            if f.family == 4:
                msg = {"port": ICMP(type=3, code=3), "frag": ICMP(type=3, code=4, nexthopmtu=1280),
                       "ttl": ICMP(type=11, code=0)}[self.etype]
                pkt = ip / msg / Raw(quoted[:548])
            else:
                msg = {"port": ICMPv6DestUnreach(code=4), "frag": ICMPv6PacketTooBig(mtu=1280),
                       "ttl": ICMPv6TimeExceeded(code=0)}[self.etype]
                pkt = ip / msg / Raw(quoted[:1232])
            payload = b""
        if payload:
            pkt = pkt / Raw(payload)
        return bytes(pkt)


class Flow:
    def __init__(self, idx, proto, family, addrs, seed):
        self.idx = idx
        self.proto = proto
        self.family = family
        self.caddr, self.saddr = addrs[family]
        self.cport = 40000 + (seed * 5 + idx) % 20000
        self.sport = 8000 + idx
        self.icmp_id = 0x6000 + (seed * 5 + idx) % 0x1000

    def matches(self, e):
        """Whether a listed entry is this flow's (either orientation)."""
        t = e["tuples"][0]
        if self.proto == "echo":
            return e["proto"] in ("icmp", "icmpv6") and t.get("id") == str(self.icmp_id)
        ports = {str(self.cport), str(self.sport)}
        return e["proto"] == self.proto and {t.get("sport"), t.get("dport")} == ports


# --- the generator -------------------------------------------------------------


class TcpPeers:
    """What each side of a TCP flow would send next, roughly as a real stack
    would, with the generator free to lie at every step."""

    WS_CHOICES = ((7, 7), (None, None), (7, None), (None, 7), (14, 14), (2, 9))

    def __init__(self, rng, flow):
        self.rng = rng
        self.flow = flow
        self.isn = {"c": rng.getrandbits(32), "s": rng.getrandbits(32)}
        self.nxt = dict(self.isn)
        self.ws = dict(zip("cs", rng.choice(self.WS_CHOICES)))
        self.phase = "closed"  # closed, syn, open, closing
        self.fin = set()

    def other(self, who):
        return "s" if who == "c" else "c"

    def win(self, who):
        both = self.ws["c"] is not None and self.ws["s"] is not None
        return self.rng.choice((502, 509, 1000, 200)) if both else self.rng.choice(
            (64240, 65160, 29200, 8000))

    def seg(self, who, flags, seq=None, ack=None, data=0, win=None, **kw):
        o = self.other(who)
        if "A" in flags and ack is None:
            ack = self.nxt[o]
        return Step(who, self.flow, "tcp", flags=flags, seq=self.nxt[who] if seq is None else seq,
                    ack=ack or 0, win=self.win(who) if win is None else win, data=data, **kw)

    def syn(self, who, flags="S", isn=None, ack=None):
        if isn is not None:
            self.isn[who] = isn
        self.nxt[who] = self.isn[who] + 1
        return Step(who, self.flow, "tcp", flags=flags, seq=self.isn[who], ack=ack or 0,
                    win=self.rng.choice((64240, 65535, 29200)), wscale=self.ws[who],
                    sack=self.rng.random() < 0.8)

    def opening(self):
        r, out = self.rng.random(), []
        c, s = "c", "s"
        if r < 0.55:
            out.append(self.syn(c))
            if self.rng.random() < 0.25:  # retransmitted, or a new incarnation
                again = self.isn[c] + (self.rng.choice((0, 1000, 4998000, -50000)))
                out.append(self.syn(c, isn=again & 0xFFFFFFFF))
            if self.rng.random() < 0.15:  # a stale SYN/ACK first
                out.append(Step(s, self.flow, "tcp", flags="SA", seq=self.isn[s] - 777777,
                                ack=self.nxt[c] + self.rng.choice((99999, -99999)), win=65160,
                                wscale=self.ws[s]))
            out.append(self.syn(s, "SA", ack=self.nxt[c]))
            if self.rng.random() < 0.2:
                out.append(self.syn(s, "SA", isn=self.isn[s], ack=self.nxt[c]))
            out.append(self.seg(c, "A"))
        elif r < 0.7:  # simultaneous open
            out.append(self.syn(c))
            out.append(self.syn(s))
            out.append(self.syn(c, "SA", isn=self.isn[c], ack=self.nxt[s]))
            out.append(self.syn(s, "SA", isn=self.isn[s], ack=self.nxt[c]))
            out.append(self.seg(c, "A"))
        elif r < 0.85:  # picked up mid-stream
            n = self.rng.choice((0, 100, 1000))
            out.append(self.seg(c, "PA" if n else "A", data=n))
            self.nxt[c] += n
        else:  # a SYN nobody answers, or answered by a RST
            out.append(self.syn(c))
            if self.rng.random() < 0.5:
                out.append(Step(s, self.flow, "tcp", flags="RA", seq=0, ack=self.nxt[c], win=0))
                self.phase = "closed"
                return out
        self.phase = "open"
        return out

    def data(self, who):
        r = self.rng.random()
        n = self.rng.choice((1, 100, 536, 1400))
        o = self.other(who)
        if r < 0.6:  # in window
            st = self.seg(who, "PA", data=n)
            self.nxt[who] += n
            return [st]
        if r < 0.7:  # retransmission of the last bytes
            return [self.seg(who, "PA", seq=self.nxt[who] - n, data=n)]
        if r < 0.8:  # far beyond the window, or a little beyond
            return [self.seg(who, "PA", seq=self.nxt[who] + self.rng.choice(
                (10000000, 70000, 243955)), data=n)]
        if r < 0.9:  # old data, long acked
            return [self.seg(who, "PA", seq=self.nxt[who] - self.rng.choice((200000, 3000000)),
                             data=n)]
        return [self.seg(who, "A", ack=self.nxt[o] + self.rng.choice((100000, 1, -70000)))]

    def rst(self, who):
        o = self.other(who)
        kind = self.rng.choice(("exact", "inexact", "far", "zero", "ack0", "below"))
        seq = {"exact": self.nxt[who], "inexact": self.nxt[who] + 1000,
               "far": self.nxt[who] + 5000000, "zero": 0, "ack0": self.nxt[who],
               "below": self.nxt[who] - 50}[kind]
        flags = "RA" if kind in ("ack0",) or self.rng.random() < 0.4 else "R"
        ack = 0 if kind == "ack0" else self.nxt[o]
        return [Step(who, self.flow, "tcp", flags=flags, seq=seq, ack=ack, win=0)]

    def late_syn(self, who):
        isn = (self.nxt[who] + self.rng.choice((3000000, 1, -1000000))) & 0xFFFFFFFF
        out = [Step(who, self.flow, "tcp", flags="S", seq=isn, win=64240,
                    wscale=self.rng.choice((None, 7, 14)), sack=True)]
        r = self.rng.random()
        if r < 0.2:  # an injected SYN and RST from one side, the RST acking the SYN
            out.append(Step(who, self.flow, "tcp", flags=self.rng.choice(("R", "RA")),
                            seq=self.nxt[who] + 5000000, ack=isn + 1, win=0))
        elif r < 0.7:  # the challenge ACK, or an answer
            o = self.other(who)
            if self.rng.random() < 0.5:
                out.append(self.seg(o, "A"))
            else:
                out.append(Step(o, self.flow, "tcp", flags="SA", seq=self.rng.getrandbits(32),
                                ack=isn + 1, win=65160, wscale=self.rng.choice((None, 7))))
        return out

    def close(self, who):
        o = self.other(who)
        st = self.seg(who, "FA")
        self.nxt[who] += 1
        self.fin.add(who)
        out = [st]
        if self.rng.random() < 0.8:
            out.append(self.seg(o, "A"))
        if len(self.fin) == 2:
            self.phase = "closing"
        return out

    def reopen(self):
        self.nxt = {k: v + 500000 for k, v in self.nxt.items()}
        self.isn = dict(self.nxt)
        self.fin = set()
        self.phase = "closed"
        return self.opening()

    def next(self, badsum=False):
        rng = self.rng
        if self.phase == "closed":
            return self.opening()
        who = rng.choice("cs")
        r = rng.random()
        if self.phase == "closing" or (r < 0.06 and self.fin):
            if rng.random() < 0.6:
                return self.reopen()
            return self.rst(who) if rng.random() < 0.5 else [self.seg(who, "A")]
        if badsum and r < 0.05:
            st = self.seg(who, "PA", data=100, badsum=True)
            return [st]
        if r < 0.45:
            return self.data(who)
        if r < 0.6:
            return [self.seg(who, "A", win=0 if rng.random() < 0.1 else None)]
        if r < 0.7:
            return self.rst(who)
        if r < 0.8:
            return self.late_syn(who)
        if r < 0.9 and who not in self.fin:
            return self.close(who)
        return [self.seg(who, "A") for _ in range(rng.choice((2, 4)))]


def conversation(seed, addrs, max_packets, sleep_budget, known):
    """The seed's packets, interleaved over its flows."""
    rng = random.Random(seed)
    flows, gens = [], []
    for idx in range(rng.choice((1, 2, 3))):
        proto = rng.choices(("tcp", "udp", "echo"), weights=(6, 2, 1))[0]
        flow = Flow(idx, proto, rng.choice((4, 4, 6)), addrs, seed)
        flows.append(flow)
        gens.append(TcpPeers(rng, flow) if proto == "tcp" else None)
    steps, sent = [], []
    echo_seq = 0
    while len(steps) < max_packets:
        i = rng.randrange(len(flows))
        flow, gen = flows[i], gens[i]
        if sent and rng.random() < 0.08:
            quoted = rng.choice(sent + [None])
            qflow = quoted.flow if quoted else flow
            steps.append(Step("s" if (quoted and quoted.who == "c") else "c", qflow, "error",
                              quote=quoted, etype=rng.choice(("port", "frag", "ttl"))))
            continue
        if gen:
            new = gen.next(badsum=known)
        elif flow.proto == "udp":
            if rng.random() < 0.1 and sleep_budget >= 2.1:
                sleep_budget -= 2.1
                new = [Step("c", flow, "sleep", secs=2.1)]
            else:
                new = [Step(rng.choice("ccs"), flow, "udp", data=rng.choice((8, 64, 512)))]
        else:
            who = "c" if rng.random() < 0.6 else "s"
            echo_seq += who == "c"
            new = [Step(who, flow, "echo", icmp_seq=echo_seq, data=rng.choice((8, 56)))]
        steps += new
        sent += [s for s in new if s.kind in ("tcp", "udp", "echo")]
    return flows, steps[:max_packets]


# --- running and comparing ------------------------------------------------------


class Runner:
    def __init__(self, eps, router, verbose):
        self.eps = eps
        self.router = router
        self.verbose = verbose
        self.replays = 0

    def tables(self, flows):
        kern, xct = {}, {}
        args = [([], None), (["-f", "ipv6"], None)]
        for key, e in collect(self.router.kernel, args).items():
            if any(f.matches(e) for f in flows):
                kern[key] = e
        for key, e in collect(self.router.xct_list, [([], None)]).items():
            if any(f.matches(e) for f in flows):
                xct[key] = e
        return kern, xct

    def run(self, flows, steps):
        """Replays steps on empty tables; returns (index, kind, problems) of
        the first disagreement, or None.  Known differences are noted on
        stdout and take their flow out of the comparison."""
        self.replays += 1
        self.router.flush()
        out_of_scope = set()
        kc, xc = self.router.kernel_classes(), self.router.xct_classes()
        for n, st in enumerate(steps):
            if st.kind == "sleep":
                time.sleep(st.secs)
                continue
            raw = st.build()
            src, dst = (self.eps["c"], self.eps["s"]) if st.who == "c" else (self.eps["s"],
                                                                             self.eps["c"])
            f = st.flow
            dst.drain()
            src.send(raw, f.family, f.saddr if st.who == "c" else f.caddr)
            if not dst.wait_for(l3_key(raw)):
                return n, "lost", [f"packet {n + 1} did not arrive"]
            kc2, xc2 = self.router.kernel_classes(), self.router.xct_classes()
            delta = [(kc2[i] - kc[i], xc2[i] - xc[i]) for i in (0, 1)]
            kc, xc = kc2, xc2
            in_scope = [fl for fl in flows if fl.idx not in out_of_scope]
            if st.badsum and f.idx not in out_of_scope:
                out_of_scope.add(f.idx)
                if delta[0] != (1, 0):
                    return n, "INVALID", [f"bad checksum: INVALID kernel {delta[0][0]}, "
                                          f"xct {delta[0][1]}, expected 1 and 0"]
                print(f"#   known difference at packet {n + 1}: {KNOWN_CHECKSUM}; "
                      f"flow{f.idx} no longer compared")
                continue
            if f.idx in out_of_scope or (st.quote and st.quote.flow.idx in out_of_scope):
                continue
            problems = []
            for i, name in ((0, "INVALID"), (1, "RELATED")):
                if delta[i][0] != delta[i][1]:
                    problems.append(f"{name}: kernel {delta[i][0]}, xct {delta[i][1]}")
            kern, xct = self.tables(in_scope)
            problems += compare(kern, xct)
            if problems:
                kind = problems[0].split(":")[0]
                detail = [f"packet {n + 1}: {st.text()}"] + problems
                detail += [f"kernel: {e['raw']}" for e in kern.values()] or ["kernel: (none)"]
                detail += [f"xct:    {e['raw']}" for e in xct.values()] or ["xct:    (none)"]
                return n, kind, detail
        return None


def ddmin(steps, still_fails, budget):
    """Zeller's delta debugging: a 1-minimal sublist (within budget replays)
    for which still_fails() holds."""
    n = 2
    while len(steps) >= 2 and budget[0] > 0:
        chunk = max(1, len(steps) // n)
        subsets = [steps[i:i + chunk] for i in range(0, len(steps), chunk)]
        reduced = False
        for i, sub in enumerate(subsets):
            complement = [s for j, part in enumerate(subsets) if j != i for s in part]
            for cand in (sub, complement):
                if budget[0] <= 0 or not cand or len(cand) == len(steps):
                    continue
                budget[0] -= 1
                if still_fails(cand):
                    steps, n, reduced = cand, (2 if cand is sub else max(n - 1, 2)), True
                    break
            if reduced:
                break
        if not reduced:
            if n >= len(steps):
                break
            n = min(len(steps), n * 2)
    return steps


C_FLAGS = {"S": "SYN", "A": "ACK", "F": "FIN", "R": "RST", "P": "PSH", "U": "URG"}


def as_unit_test(steps):
    """The TCP steps as calls of tests/unit/test_tcp.c's helpers."""
    lines = ["struct conn c;", "", "conn_init(&c);"]
    for st in steps:
        if st.kind != "tcp":
            lines.append(f"/* {st.text()}: not TCP */")
            continue
        side = "CLIENT" if st.who == "c" else "SERVER"
        flags = " | ".join(C_FLAGS[ch] for ch in st.flags) or "0"
        if st.wscale is not None:
            lines.append(f"send_syn_ws(&c, {side}, {flags}, {st.seq}U, {st.ack}U, {st.win}, "
                         f"{st.wscale});")
        else:
            lines.append(f"send_seg(&c, {side}, {flags}, {st.seq}U, {st.ack}U, {st.win}, "
                         f"{st.data});")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for opt in ("client", "router", "server", "c4", "s4", "c6", "s6", "xct", "pin-path"):
        ap.add_argument(f"--{opt}", required=True)
    ap.add_argument("--seeds", type=int, default=5, help="how many seeds")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--packets", type=int, default=24, help="packets per conversation")
    ap.add_argument("--sleep-budget", type=float, default=0.0,
                    help="seconds a conversation may sleep (UDP streams become ASSURED after 2 s)")
    ap.add_argument("--known-differences", action="store_true",
                    help="also send what xct treats differently on purpose (bad checksums)")
    ap.add_argument("--shrink-budget", type=int, default=120, help="replays per shrink")
    ap.add_argument("--print", action="store_true", help="print each conversation")
    args = ap.parse_args()

    addrs = {4: (args.c4, args.s4), 6: (args.c6, args.s6)}
    try:
        eps = {"c": Endpoint(args.client, "veth-c"), "s": Endpoint(args.server, "veth-s")}
    except OSError as exc:
        print(f"not ok ct_difftest_sockets ({exc})")
        return 1
    runner = Runner(eps, Router(args.router, args.xct, args.pin_path), args.print)
    failed = 0
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        name = f"ct_difftest_seed_{seed}"
        flows, steps = conversation(seed, addrs, args.packets, args.sleep_budget,
                                    args.known_differences)
        if args.print:
            for st in steps:
                print(f"#   {st.text()}")
        try:
            got = runner.run(flows, steps)
        except Exception as exc:  # one broken conversation must not hide the others
            got = (0, "error", [f"{type(exc).__name__}: {exc}"])
        if got is None:
            print(f"ok {name}")
            sys.stdout.flush()
            continue
        failed += 1
        idx, kind, detail = got
        print(f"not ok {name}")
        for line in detail:
            print(f"#   {line}")
        if kind not in ("lost", "error"):
            def still_fails(cand):
                res = runner.run(flows, cand)
                return res is not None and res[1] == kind

            budget = [args.shrink_budget]
            start = steps[:idx + 1]
            # The failing packet's flow alone first: most disagreements
            # are about one flow, and the other flows' packets then go in
            # one replay instead of many.
            flow = steps[idx].flow
            alone = [st for st in start if st.flow is flow]
            if len(alone) < len(start):
                budget[0] -= 1
                if still_fails(alone):
                    start = alone
            small = ddmin(start, still_fails, budget)
            res = runner.run(flows, small)
            print(f"#   shrunk to {len(small)} packets (from {idx + 1}, "
                  f"{args.shrink_budget - budget[0]} replays), still: "
                  f"{res[2][1] if res else 'no longer fails: the full sequence is needed'}")
            for st in small:
                print(f"#     {st.text()}")
            print("#   as a unit test (tests/unit/test_tcp.c):")
            for line in as_unit_test(small):
                print(f"#     {line}")
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
