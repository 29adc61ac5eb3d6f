# SPDX-License-Identifier: GPL-2.0-only
"""Runs the evasion cases (evasion_cases.py) through two identical routers,
one with xct and one with nftables + conntrack, and prints one ok / not ok
line per case.

  evasion_run.py RULESET MODE RUN XCT_NS NFT_NS [CASE...]

XCT_NS and NFT_NS are "CLIENT,ROUTER,SERVER" namespace names.  The process
works in all six namespaces at once: it enters each one (setns) to open its
sockets there.  It is pinned to one CPU, so that the frames it sends keep
their order through the veth pairs and the routers' backlogs: after a
case's frames it sends a marker (a SYN both rulesets accept) down the same
path, and once the marker has reached the server, everything sent before it
has been delivered or dropped.  No waiting on a clock.

At the server, every frame arriving on its interface is counted (as a first
or a later fragment) by the tag in its payload, and every datagram that
reaches its IP stack (raw sockets: after reassembly and extension-header
processing, before the transport layer) too.  xct's reason counters
(`xct -j ct stats`) before and after each case say why xct did what it did.
"""

import ctypes
import json
import os
import re
import select
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from scapy.all import conf, get_if_hwaddr  # noqa: E402

import evasion_cases as ev  # noqa: E402

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
TAG_RE = re.compile(rb"xctEV\d{5}")
_libc = ctypes.CDLL(None, use_errno=True)


def enter(ns):
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + ns)
    finally:
        os.close(fd)


def frame_kind(f):
    """'first' or 'later' (a non-first IP fragment) for an Ethernet frame."""
    et, off = int.from_bytes(f[12:14], "big"), 14
    while et in (0x8100, 0x88A8):
        et, off = int.from_bytes(f[off + 2 : off + 4], "big"), off + 4
    if et == 0x0800:
        return "later" if int.from_bytes(f[off + 6 : off + 8], "big") & 0x1FFF else "first"
    if et == 0x86DD:
        nh, p = f[off + 6], off + 40
        while nh in (0, 43, 60, 51, 44) and p + 8 <= len(f):
            if nh == 44:
                return "later" if int.from_bytes(f[p + 2 : p + 4], "big") & 0xFFF8 else "first"
            hlen = (f[p + 1] + 2) * 4 if nh == 51 else (f[p + 1] + 1) * 8
            nh, p = f[p], p + hlen
    return "first"


class Path:
    """One client -> router -> server chain."""

    def __init__(self, label, names):
        self.label = label
        self.client, self.router, self.server = names.split(",")
        enter(self.router)
        self.router_mac = get_if_hwaddr("veth-r-c")
        enter(self.client)
        self.client_mac = get_if_hwaddr("veth-c")
        self.tx = conf.L2socket(iface="veth-c")
        enter(self.server)
        self.sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sniff.bind(("veth-s", 0))
        self.raw = []
        for fam, proto in (
            (socket.AF_INET, socket.IPPROTO_TCP),
            (socket.AF_INET, socket.IPPROTO_UDP),
            (socket.AF_INET, socket.IPPROTO_ICMP),
            (socket.AF_INET6, socket.IPPROTO_TCP),
            (socket.AF_INET6, socket.IPPROTO_UDP),
            (socket.AF_INET6, socket.IPPROTO_ICMPV6),
        ):
            s = socket.socket(fam, socket.SOCK_RAW, proto)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
            self.raw.append(s)
        self.listeners = {}
        self.held = []
        for s in [self.sniff] + self.raw:
            s.setblocking(False)
        self.reset()

    def reset(self, probes=()):
        # tag -> counts of frames and of deliveries to the stack
        self.l2 = {}
        self.up = {}
        self.frag_tags = {i: p.tag for p in probes for i in p.frag_ids}

    def send(self, frames):
        for f in frames:
            self.tx.send(f)

    def drain(self):
        """Reads what arrived; returns the tags seen in this round."""
        seen = set()
        while True:
            r, _, _ = select.select([self.sniff] + self.raw, [], [], 0)
            if not r:
                return seen
            for s in r:
                try:
                    data, addr = s.recvfrom(65536)
                except BlockingIOError:
                    continue
                if s is self.sniff:
                    if addr[2] == PACKET_OUTGOING:
                        continue
                    kind = frame_kind(data)
                    tags = set(TAG_RE.findall(data))
                    fid = ev.frag_id(data)
                    if fid is not None and fid in self.frag_tags:
                        tags.add(self.frag_tags[fid])
                    for t in tags:
                        self.l2.setdefault(t, {"first": 0, "later": 0})[kind] += 1
                        seen.add(("l2", t))
                else:
                    for t in set(TAG_RE.findall(data)):
                        self.up[t] = self.up.get(t, 0) + 1
                        seen.add(("up", t))

    def connect(self, port):
        """A real TCP connection from the client to a listener on the
        server, through the router; returns the client's port.  Both ends
        stay open until the run ends."""
        enter(self.server)
        if port not in self.listeners:
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(("0.0.0.0", port))
            ls.listen(16)
            self.listeners[port] = ls
        enter(self.client)
        c = socket.create_connection((ev.S4, port), timeout=3)
        a, _ = self.listeners[port].accept()
        self.held += [c, a]
        return c.getsockname()[1]


def marker(b, family):
    """A SYN to the allowed port, which every ruleset passes."""
    sport, tag = b.next()
    if family == 6:
        return tag, [b.eth(ev.syn6(b, ev.ALLOWED, sport, tag, n=20))]
    return tag, [b.eth(ev.syn4(b, ev.ALLOWED, sport, tag, n=20))]


def xct_stats(cmd):
    try:
        out = subprocess.run(cmd + ["-j", "ct", "stats"], capture_output=True, text=True, timeout=10).stdout
        j = json.loads(out)
    except (subprocess.SubprocessError, ValueError):
        return {}
    st = dict(j["reasons"])
    for k in ("policy_drop", "invalid", "untracked"):
        st["#" + k] = sum(c.get(k, 0) for c in j["cpus"])
    return st


def stats_delta(before, after):
    parts = []
    for k in sorted(after):
        d = after[k] - before.get(k, 0)
        if d and k != "ok":
            parts.append("%s+%d" % (k.lstrip("#"), d))
    return " ".join(parts) or "none"


def judge(p, x, n):
    """Why probe p fails, given what xct's (x) and nftables' (n) servers
    saw of it, or None."""
    t = p.tag
    xu, nu = x.up.get(t, 0), n.up.get(t, 0)
    xl = x.l2.get(t, {"first": 0, "later": 0})
    seen = "xct: %d delivered, frames %d first %d later; nft: %d delivered, frames %d first %d later" % (
        xu,
        xl["first"],
        xl["later"],
        nu,
        n.l2.get(t, {}).get("first", 0),
        n.l2.get(t, {}).get("later", 0),
    )
    if p.legit and not nu:
        return seen + " (nftables dropped a legitimate probe: the case tests nothing)"
    if p.expect == "same" and xu != nu:
        return seen
    if p.expect == "no_more" and xu > nu:
        return seen
    if p.expect == "none" and (xu or xl["first"] or xl["later"]):
        return seen + " (want: nothing through xct)"
    if p.expect == "no_later" and (xu or xl["later"]):
        return seen + " (want: no later fragment through xct)"
    return None


def main():
    ruleset, mode, run, xct_names, nft_names = sys.argv[1:6]
    only = set(sys.argv[6:])
    xct_cmd = os.environ["EVASION_XCT"].split()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    paths = [Path("xct", xct_names), Path("nft", nft_names)]
    builders = [ev.Builder(p, ruleset, int(run)) for p in paths]
    known = {name for name, _ in ev.CASES}
    for name in only - known:
        print("not ok evasion_unknown_case_%s" % name)
        print("#   known cases: %s" % " ".join(sorted(known)))
        return 1
    failed = 0
    for idx, (name, case) in enumerate(ev.CASES):
        if only and name not in only:
            continue
        line = "evasion_%s_%s_%s" % (mode, ruleset, name)
        before = xct_stats(xct_cmd)
        probes, markers = [], []
        try:
            for b in builders:
                b.start(idx)
                probes.append(case(b))
            for b, ps in zip(builders, probes):
                b.path.reset(ps)
                for p in ps:
                    b.path.send(p.frames)
                fams = {6 if f[12:14] == b"\x86\xdd" else 4 for p in ps for f in p.frames}
                mk = []
                for fam in sorted(fams):
                    tag, frames = marker(b, fam)
                    b.path.send(frames)
                    mk.append(tag)
                markers.append(mk)
        except OSError as e:
            print("not ok %s\n#   could not run: %s" % (line, e))
            failed += 1
            continue
        # Wait for every marker at both servers, at the link and at the
        # stack.
        want = {(i, k, t) for i, mk in enumerate(markers) for t in mk for k in ("l2", "up")}
        deadline = time.monotonic() + 3
        while want and time.monotonic() < deadline:
            rs = [s for b in builders for s in [b.path.sniff] + b.path.raw]
            select.select(rs, [], [], 0.05)
            for i, b in enumerate(builders):
                for k, t in b.path.drain():
                    want.discard((i, k, t))
        after = xct_stats(xct_cmd)
        why = []
        if want:
            why.append("markers lost: %s" % sorted({(paths[i].label, k) for i, k, _ in want}))
        for p, _ in zip(probes[0], probes[1]):
            w = judge(p, paths[0], paths[1])
            if w:
                why.append("%s [%s]: %s" % (p.name, p.expect, w))
        if why:
            failed += 1
            print("not ok %s" % line)
            for w in why:
                print("#   %s" % w)
        else:
            print("ok %s" % line)
        print("#   xct reasons: %s" % stats_delta(before, after))
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
