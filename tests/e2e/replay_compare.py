#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Helpers of test_replay.sh: merging captures and comparing a replay with
the live run of the same packets.

  replay_compare.py merge OUT IN...
      merges captures by timestamp (nanoseconds kept) into OUT.
  replay_compare.py table NAME LIVE REPLAY
      compares two `ct list` outputs flow by flow: the same flows, TCP
      state, [UNREPLIED]/[ASSURED] and packets/bytes per direction (the
      timeouts differ: the replay's clock stops at the last packet).
  replay_compare.py verdicts NAME RULES_SHOW_JSON REPLAY_JSONL LINE...
      the live packet count of each rule line (xct -j rules show) against
      the replayed packets that line decided.
  replay_compare.py same NAME A B...
      replay outputs equal, up to the line of timing figures.
Each comparison prints "ok NAME" or "not ok NAME" with the differences.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ct_compare import counters, entry_key, parse_line  # noqa: E402


def report(name, problems):
    if problems:
        print(f"not ok {name}")
        for p in problems[:12]:
            print(f"#   {p}")
    else:
        print(f"ok {name}")


def merge(out, inputs):
    from scapy.utils import PcapReader, PcapWriter
    pkts = []
    for path in inputs:
        with PcapReader(path) as r:
            pkts.extend(r)
    pkts.sort(key=lambda p: p.time)
    w = PcapWriter(out, nano=True, linktype=1, sync=False)
    for p in pkts:
        w.write(p)
    w.close()
    print(f"# merged {len(pkts)} packets into {out}")


def table_lines(path):
    with open(path) as f:
        return [ln for ln in f.read().splitlines()
                if ln and not ln.startswith("#") and not ln[:1].isspace()]


def table(name, live, replay):
    problems = []
    a = {entry_key(e): e for e in map(parse_line, table_lines(live))}
    b = {entry_key(e): e for e in map(parse_line, table_lines(replay))}
    for k in sorted(set(a) | set(b), key=str):
        if k not in b:
            problems.append(f"only live: {a[k]['raw']}")
            continue
        if k not in a:
            problems.append(f"only replayed: {b[k]['raw']}")
            continue
        x, y = a[k], b[k]
        if x["state"] != y["state"] or x["flags"] != y["flags"] or \
                x["tuples"][1] != y["tuples"][1] or counters(x) != counters(y):
            problems.append(f"live:     {x['raw']}\n#   replayed: {y['raw']}")
    if not a:
        problems.append("the live table is empty")
    print(f"# {len(a)} live flows, {len(b)} replayed")
    report(name, problems)


def verdicts(name, show, replay, lines):
    with open(show) as f:
        live = {r["line"]: r["packets"] for r in json.load(f)}
    got = {}
    with open(replay) as f:
        for ln in f:
            o = json.loads(ln)
            if o.get("by") == "rule":
                got[o["line"]] = got.get(o["line"], 0) + 1
    problems = []
    for line in map(int, lines):
        print(f"# line {line}: live {live.get(line)} packets, replayed {got.get(line, 0)}")
        if live.get(line) != got.get(line, 0):
            problems.append(f"line {line}: live {live.get(line)}, replayed {got.get(line, 0)}")
        if not live.get(line):
            problems.append(f"line {line}: no live packet: the test did not exercise it")
    report(name, problems)


def same(name, files):
    def body(path):
        with open(path) as f:
            return sorted(ln for ln in f.read().splitlines() if not ln.startswith("# replay of"))
    ref = body(files[0])
    problems = [f"{p} differs from {files[0]}" for p in files[1:] if body(p) != ref]
    if not ref:
        problems.append(f"{files[0]} is empty")
    report(name, problems)


def main():
    cmd = sys.argv[1]
    if cmd == "merge":
        merge(sys.argv[2], sys.argv[3:])
    elif cmd == "table":
        table(*sys.argv[2:5])
    elif cmd == "verdicts":
        verdicts(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    elif cmd == "same":
        same(sys.argv[2], sys.argv[3:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
