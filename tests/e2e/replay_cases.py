#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Hand-built captures through `xct replay`, one verdict or format each.

  replay_cases.py --xct XCT --work DIR

Writes captures with scapy (every link type xct replay reads, pcap and
pcapng), replays them with `-o json --verdicts` and checks each packet's
verdict, deciding rule, ct state and reason and the entry after it, then
prints "ok NAME" or "not ok NAME" with what differed.  Also: the batched
replay (TC ingress, no --verdicts) against the per-packet one (XDP) on a
capture mixing every case, a truncated capture, a bad rules file, expiry
through the collector, and a clock going backwards.
"""

import argparse
import json
import os
import subprocess
import sys

from scapy.all import (ICMP, IP, TCP, UDP, Ether, IPv6, Raw, wrpcap,
                       PcapNgWriter)
from scapy.layers.l2 import CookedLinux

C4, S4 = "10.9.1.2", "10.9.2.2"
C6, S6 = "fd09:1::2", "fd09:2::2"
T0 = 1700000000.0
ETH = Ether(src="02:00:00:00:01:02", dst="02:00:00:00:01:01")
SYN_OPTS = [("MSS", 1460), ("WScale", 7), ("SAckOK", b"")]

XCT = None
WORK = None
FAILED = 0


def result(name, problems):
    global FAILED
    if problems:
        FAILED += 1
        print(f"not ok {name}")
        for p in problems[:10]:
            print(f"#   {p}")
    else:
        print(f"ok {name}")
    sys.stdout.flush()


class Cap:
    """Packets with timestamps; dt is seconds since the previous one."""

    def __init__(self):
        self.pkts = []
        self.t = T0

    def add(self, pkt, dt=0.001):
        self.t += dt
        pkt.time = self.t
        self.pkts.append(pkt)
        return len(self.pkts)


def handshake(cap, sport, dport, c=C4, s=S4, ip=IP, close=False):
    """A TCP connection: handshake, one data segment each way, and a close
    if asked (ending in TIME_WAIT)."""
    cs, ss = 1000 + sport, 5000 + sport
    cap.add(ETH / ip(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="S", seq=cs,
                                        window=64240, options=SYN_OPTS))
    cap.add(ETH / ip(src=s, dst=c) / TCP(sport=dport, dport=sport, flags="SA", seq=ss,
                                        ack=cs + 1, window=64240, options=SYN_OPTS))
    cap.add(ETH / ip(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="A", seq=cs + 1,
                                        ack=ss + 1, window=502))
    cap.add(ETH / ip(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="PA", seq=cs + 1,
                                        ack=ss + 1, window=502) / Raw(b"x" * 100))
    cap.add(ETH / ip(src=s, dst=c) / TCP(sport=dport, dport=sport, flags="PA", seq=ss + 1,
                                        ack=cs + 101, window=502) / Raw(b"y" * 50))
    if close:
        cap.add(ETH / ip(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="FA",
                                            seq=cs + 101, ack=ss + 51, window=502))
        cap.add(ETH / ip(src=s, dst=c) / TCP(sport=dport, dport=sport, flags="FA",
                                            seq=ss + 51, ack=cs + 102, window=502))
        cap.add(ETH / ip(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="A",
                                            seq=cs + 102, ack=ss + 52, window=502))


def replay(path, *args, check=True):
    """Runs xct replay -o json --verdicts; (packets, summary, rc, stderr)."""
    p = subprocess.run([XCT, "replay", "-o", "json", "--verdicts", *args, path],
                       capture_output=True, text=True, timeout=120)
    lines, summary = [], None
    for line in p.stdout.splitlines():
        obj = json.loads(line)
        if "summary" in obj:
            summary = obj["summary"]
        else:
            lines.append(obj)
    if check and p.returncode != 0:
        raise RuntimeError(f"xct replay {path} exited {p.returncode}: {p.stderr.strip()}")
    return lines, summary, p.returncode, p.stderr


def rules(name, text):
    path = os.path.join(WORK, name + ".xct")
    with open(path, "w") as f:
        f.write(text)
    return path


def expect(problems, pkts, n, **want):
    """Packet n (1-based) has each field of want; entry_state checks the
    entry's TCP state, entry=None that there is none."""
    if n > len(pkts):
        problems.append(f"packet {n}: missing (only {len(pkts)})")
        return
    p = pkts[n - 1]
    for k, v in want.items():
        if k == "entry_state":
            got = (p.get("entry") or {}).get("state")
        elif k == "entry_status":
            got = sorted((p.get("entry") or {}).get("status", []))
            v = sorted(v)
        else:
            got = p.get(k)
        if got != v:
            problems.append(f"packet {n}: {k} is {got!r}, want {v!r}")


def case_accept_and_close():
    cap = Cap()
    handshake(cap, 40001, 80, close=True)
    path = os.path.join(WORK, "accept.pcap")
    wrpcap(path, cap.pkts)
    pkts, summ, _, _ = replay(path)
    pr = []
    expect(pr, pkts, 1, verdict="accept", ct_state="new", dir="original", reason="ok",
           entry_state="SYN_SENT")
    expect(pr, pkts, 2, ct_state="established", dir="reply", entry_state="SYN_RECV")
    expect(pr, pkts, 3, entry_state="ESTABLISHED", entry_status=["SEEN_REPLY", "ASSURED"])
    expect(pr, pkts, 8, verdict="accept", entry_state="TIME_WAIT")
    conns = summ["connections"]
    if len(conns) != 1 or conns[0].get("state") != "TIME_WAIT":
        pr.append(f"final table: {conns}")
    if summ["verdicts"]["accept"] != 8:
        pr.append(f"verdicts {summ['verdicts']}")
    result("replay_accept_tcp_to_time_wait", pr)
    return cap


def case_policy_and_rule_drop():
    cap = Cap()
    cap.add(ETH / IP(src=C4, dst=S4) / TCP(sport=40010, dport=22, flags="S", seq=1,
                                          options=SYN_OPTS))
    handshake(cap, 40011, 80)
    cap.add(ETH / IP(src=C4, dst=S4) / UDP(sport=40012, dport=53) / Raw(b"q"))
    path = os.path.join(WORK, "drop.pcap")
    wrpcap(path, cap.pkts)
    rf = rules("drop", "policy drop\n"
                       "accept ct state established,related\n"
                       "drop udp dport 53\n"
                       "accept tcp dport 80\n")
    pkts, summ, _, _ = replay(path, "--rules", rf)
    pr = []
    expect(pr, pkts, 1, verdict="drop", by="policy", line=1, ct_state="new", entry=None)
    expect(pr, pkts, 2, verdict="accept", by="rule", line=4, entry_state="SYN_SENT")
    expect(pr, pkts, 3, verdict="accept", by="rule", line=2)
    expect(pr, pkts, 7, verdict="drop", by="rule", line=3, ct_state="new", entry=None)
    if len(summ["connections"]) != 1:
        pr.append(f"table holds {len(summ['connections'])} connections, want the port 80 one")
    if summ["counters"]["policy_drop"] != 2:
        pr.append(f"policy_drop counter {summ['counters']['policy_drop']}, want 2")
    result("replay_drop_policy_and_rule", pr)
    return cap, rf


def case_reject():
    cap = Cap()
    cap.add(ETH / IP(src=C4, dst=S4) / TCP(sport=40020, dport=23, flags="S", seq=1,
                                          options=SYN_OPTS))
    cap.add(ETH / IP(src=C4, dst=S4) / UDP(sport=40021, dport=69) / Raw(b"r"))
    cap.add(ETH / IPv6(src=C6, dst=S6) / TCP(sport=40022, dport=23, flags="S", seq=1,
                                            options=SYN_OPTS))
    path = os.path.join(WORK, "reject.pcap")
    wrpcap(path, cap.pkts)
    rf = rules("reject", "reject tcp dport 23\nreject udp dport 69\n")
    pr = []
    for mode in ([], ["--per-packet"]):
        pkts, summ, _, _ = replay(path, "--rules", rf, *mode)
        for n in (1, 2, 3):
            expect(pr, pkts, n, verdict="reject", by="rule", entry=None)
        if summ["counters"]["policy_reject"] != 3 or summ["counters"]["reject_error"] != 0:
            pr.append(f"{mode}: counters {summ['counters']}")
    result("replay_reject_tcp_and_udp", pr)
    return cap


def case_notrack_invalid_related():
    cap = Cap()
    cap.add(ETH / IP(src=C4, dst=S4) / UDP(sport=40030, dport=123) / Raw(b"t"))
    cap.add(ETH / IP(src=C4, dst=S4) / TCP(sport=40031, dport=80, flags="SF", seq=1))
    cap.add(ETH / IP(src=C4, dst=S4) / TCP(sport=40032, dport=80, flags="R", seq=1))
    udp = IP(src=C4, dst=S4) / UDP(sport=40033, dport=5000) / Raw(b"u" * 8)
    cap.add(ETH / udp)
    cap.add(ETH / IP(src=S4, dst=C4) / ICMP(type=3, code=3) / bytes(udp))
    cap.add(ETH / IP(src=S4, dst=C4) / ICMP(type=3, code=3) /
            bytes(IP(src=C4, dst=S4) / UDP(sport=1, dport=2)))
    path = os.path.join(WORK, "mixed.pcap")
    wrpcap(path, cap.pkts)
    rf = rules("notrack", "notrack udp dport 123\n")
    pkts, summ, _, _ = replay(path, "--rules", rf)
    pr = []
    expect(pr, pkts, 1, verdict="accept", ct_state="untracked", reason="notrack", entry=None)
    expect(pr, pkts, 2, ct_state="invalid", reason="tcp_bad_flags", entry=None)
    expect(pr, pkts, 3, ct_state="invalid", reason="tcp_invalid_new", entry=None)
    expect(pr, pkts, 5, ct_state="related", reason="ok")
    if len(pkts) >= 5 and (pkts[4].get("entry") or {}).get("proto") != "udp":
        pr.append(f"packet 5: entry {pkts[4].get('entry')}, want the UDP flow it quotes")
    expect(pr, pkts, 6, ct_state="invalid", reason="icmp_error_no_conn")
    result("replay_notrack_invalid_related", pr)
    return cap, rf


def case_link_types(base):
    """The same packets in every link type and in pcapng: the same table."""
    pr = []
    ref_path = os.path.join(WORK, "link_eth.pcap")
    wrpcap(ref_path, base.pkts)
    _, ref, _, _ = replay(ref_path)
    want = sorted(json.dumps(c, sort_keys=True) for c in ref["connections"])

    def l3(p):
        return p[Ether].payload

    variants = {}
    sll = []
    for p in base.pkts:
        q = CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, proto=p[Ether].type) / l3(p)
        q.time = p.time
        sll.append(q)
    variants["sll"] = ("link_sll.pcap", sll, 113)
    raw = []
    for p in base.pkts:
        q = l3(p).copy()
        q.time = p.time
        raw.append(q)
    variants["raw"] = ("link_raw.pcap", raw, 101)
    for name, (fname, pkts, lt) in variants.items():
        path = os.path.join(WORK, fname)
        wrpcap(path, pkts, linktype=lt)
        _, s, _, _ = replay(path)
        got = sorted(json.dumps(c, sort_keys=True) for c in s["connections"])
        if got != want:
            pr.append(f"{name}: table differs:\n    {got}\n    {want}")
        if s["link"] != {"sll": "linux-sll", "raw": "raw-ip"}[name]:
            pr.append(f"{name}: link {s['link']}")
    # SLL2: scapy 2.5 has no writer for it; its 20-byte header by hand.
    path = os.path.join(WORK, "link_sll2.pcap")
    import struct
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 276))
        for p in base.pkts:
            body = bytes(l3(p))
            hdr = struct.pack("!HHIHBB8s", p[Ether].type, 0, 2, 1, 0, 6, b"\x02" * 6 + b"\0\0")
            ns = int(round(float(p.time) * 1e9))
            f.write(struct.pack("<IIII", ns // 10**9, ns % 10**9, len(hdr) + len(body),
                                len(hdr) + len(body)))
            f.write(hdr + body)
    _, s, _, _ = replay(path)
    got = sorted(json.dumps(c, sort_keys=True) for c in s["connections"])
    if got != want or s["link"] != "linux-sll2":
        pr.append(f"sll2: {s['link']} table differs:\n    {got}\n    {want}")
    path = os.path.join(WORK, "link.pcapng")
    w = PcapNgWriter(path)
    for p in base.pkts:
        w.write(p)
    w.close()
    _, s, _, _ = replay(path)
    got = sorted(json.dumps(c, sort_keys=True) for c in s["connections"])
    if got != want:
        pr.append(f"pcapng: table differs:\n    {got}\n    {want}")
    result("replay_link_types_sll_sll2_raw_pcapng", pr)


def case_in_only():
    cap = Cap()
    pkts = []
    for dt, (src, dst, pt) in enumerate([(C4, S4, 0), (C4, S4, 4), (S4, C4, 0), (S4, C4, 4)]):
        q = CookedLinux(pkttype=pt, lladdrtype=1, lladdrlen=6, proto=0x800) / \
            IP(src=src, dst=dst) / UDP(sport=40040 if src == C4 else 53,
                                       dport=53 if src == C4 else 40040)
        q.time = T0 + dt * 0.001
        pkts.append(q)
    path = os.path.join(WORK, "in_only.pcap")
    wrpcap(path, pkts, linktype=113)
    pr = []
    _, s, _, _ = replay(path, "--in-only")
    c = s["connections"]
    if s["skipped"] != 2 or len(c) != 1 or c[0]["orig"]["packets"] != 1 or \
            c[0]["reply"]["packets"] != 1:
        pr.append(f"--in-only: skipped {s['skipped']}, table {c}")
    _, s, _, _ = replay(path)
    c = s["connections"]
    if s["skipped"] != 0 or len(c) != 1 or c[0]["orig"]["packets"] != 2:
        pr.append(f"all packets: skipped {s['skipped']}, table {c}")
    result("replay_in_only_skips_outgoing", pr)


def case_iif():
    cap = Cap()
    cap.add(ETH / IP(src=C4, dst=S4) / UDP(sport=40050, dport=514))
    path = os.path.join(WORK, "iif.pcap")
    wrpcap(path, cap.pkts)
    rf = rules("iif", "drop iif eth7 udp dport 514\n")
    pr = []
    pkts, _, _, _ = replay(path, "--rules", rf, "--iif", "eth7")
    expect(pr, pkts, 1, verdict="drop", by="rule")
    pkts, _, _, _ = replay(path, "--rules", rf)
    expect(pr, pkts, 1, verdict="accept")
    result("replay_iif_rules_match_only_the_named_interface", pr)


def case_expiry_and_clock():
    cap = Cap()
    cap.add(ETH / IP(src=C4, dst=S4) / UDP(sport=40060, dport=53))
    cap.add(ETH / IP(src=C4, dst=S4) / UDP(sport=40061, dport=53), dt=100.0)
    cap.add(ETH / IP(src=C4, dst=S4) / UDP(sport=40062, dport=53), dt=-5.0)
    path = os.path.join(WORK, "expiry.pcap")
    wrpcap(path, cap.pkts)
    pr = []
    pkts, s, _, _ = replay(path)
    ports = sorted(c["orig"]["sport"] for c in s["connections"])
    if ports != [40061, 40062]:
        pr.append(f"table holds sports {ports}, want the two late flows")
    if s["counters"]["expired"] != 1 or s["counters"]["gc_runs"] < 1:
        pr.append(f"collector: expired {s['counters']['expired']} "
                  f"gc_runs {s['counters']['gc_runs']}")
    if s["clock_backwards"] != 1:
        pr.append(f"clock_backwards {s['clock_backwards']}, want 1")
    if len(pkts) == 3 and pkts[2]["time"] != pkts[1]["time"]:
        pr.append(f"clock went back: {pkts[1]['time']} then {pkts[2]['time']}")
    # Batches run the collector at the same instants.
    _, b, _, _ = subprocess_summary(path)
    if b and (b["counters"]["expired"], b["counters"]["gc_runs"]) != \
            (s["counters"]["expired"], s["counters"]["gc_runs"]):
        pr.append(f"batched: collector counters {b['counters']}")
    result("replay_expiry_gc_and_clock_backwards", pr)


def subprocess_summary(path, *args):
    """The batched replay (no --verdicts): its summary only."""
    p = subprocess.run([XCT, "replay", "-o", "json", *args, path], capture_output=True,
                       text=True, timeout=120)
    lines = p.stdout.splitlines()
    s = json.loads(lines[-1])["summary"] if lines else None
    return lines, s, p.returncode, p.stderr


def comparable(s):
    s = dict(s)
    for k in ("replay_s", "packets_per_s"):
        s.pop(k, None)
    s["connections"] = sorted(json.dumps(c, sort_keys=True) for c in s["connections"])
    return s


def case_batch_matches_per_packet(caps, rf):
    allp = []
    for c in caps:
        allp.extend(c.pkts)
    t = T0
    for p in allp:
        t += 0.0005
        p.time = t
    path = os.path.join(WORK, "all.pcap")
    wrpcap(path, allp)
    pr = []
    for args in ([], ["--rules", rf]):
        _, b, rc1, _ = subprocess_summary(path, *args)
        _, p, rc2, _ = subprocess_summary(path, "--per-packet", *args)
        if rc1 or rc2 or comparable(b) != comparable(p):
            pr.append(f"{args}: batched and per-packet differ:\n    {b}\n    {p}")
        # --verdicts runs per packet too, and gives the same summary.
        _, v, _, _ = replay(path, *args)
        if comparable(v) != comparable(p):
            pr.append(f"{args}: --verdicts summary differs")
    result("replay_batched_equals_per_packet", pr)
    return path


def case_damaged(path):
    with open(path, "rb") as f:
        data = f.read()
    cut = os.path.join(WORK, "cut.pcap")
    # Records of all.pcap: find where packet 5's data starts and cut in it.
    off, n = 24, 0
    import struct
    while n < 4:
        caplen = struct.unpack("<I", data[off + 8:off + 12])[0]
        off += 16 + caplen
        n += 1
    with open(cut, "wb") as f:
        f.write(data[:off + 16 + 3])
    pr = []
    for args in ([], ["--verdicts"]):
        p = subprocess.run([XCT, "replay", *args, cut], capture_output=True, text=True,
                           timeout=120)
        if p.returncode != 2:
            pr.append(f"{args}: exit status {p.returncode}, want 2")
        if f"xct: {cut}: packet 5: " not in p.stderr or "truncated" not in p.stderr:
            pr.append(f"{args}: stderr {p.stderr.strip()!r}")
        if "# replay of" not in p.stdout or ": 4 packets" not in p.stdout:
            pr.append(f"{args}: the 4 packets before were not reported: {p.stdout[-300:]!r}")
        if args and len([ln for ln in p.stdout.splitlines() if ln[:7].strip().isdigit()]) != 4:
            pr.append("--verdicts: not 4 packet lines")
    garbage = os.path.join(WORK, "garbage.pcap")
    with open(garbage, "wb") as f:
        f.write(b"this is not a capture at all, just text\n")
    p = subprocess.run([XCT, "replay", garbage], capture_output=True, text=True)
    if p.returncode != 2 or f"xct: {garbage}: " not in p.stderr:
        pr.append(f"garbage: {p.returncode} {p.stderr.strip()!r}")
    result("replay_damaged_capture_names_the_packet", pr)


def case_bad_rules(path):
    rf = rules("bad", "accept tcp dport 80\ndrop udp dportt 53\n")
    p = subprocess.run([XCT, "replay", "--rules", rf, path], capture_output=True, text=True)
    pr = []
    if p.returncode != 2:
        pr.append(f"exit status {p.returncode}, want 2")
    if f"{rf}:2:" not in p.stderr:
        pr.append(f"stderr {p.stderr.strip()!r}")
    if p.stdout:
        pr.append(f"stdout not empty: {p.stdout[:200]!r}")
    p = subprocess.run([XCT, "replay", "--bogus", path], capture_output=True, text=True)
    if p.returncode != 2:
        pr.append(f"--bogus: exit status {p.returncode}, want 2")
    result("replay_bad_rules_and_usage_exit_2", pr)


def main():
    global XCT, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--xct", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    XCT, WORK = a.xct, a.work
    cases = []
    base = case_accept_and_close()
    cases.append(base)
    c, rf = case_policy_and_rule_drop()
    cases.append(c)
    cases.append(case_reject())
    c, _ = case_notrack_invalid_related()
    cases.append(c)
    case_link_types(base)
    case_in_only()
    case_iif()
    case_expiry_and_clock()
    all_path = case_batch_matches_per_packet(cases, rf)
    case_damaged(all_path)
    case_bad_rules(all_path)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
