#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Compare the router's nf_conntrack table with xct's, flow by flow.

Used as a module by ct_oracle.py, and from the shell tests as

  ct_compare.py --router NS --xct XCT --pin-path PIN --name NAME \\
      [--min N] [--no-tcp-counters] [--exact-counters P,B,P,B] -- LIST-ARGS...

which runs `conntrack -L LIST-ARGS` and `xct ct list LIST-ARGS` in the
router namespace and prints "ok NAME" or "not ok NAME" with the
differences: presence of each flow, TCP state, [UNREPLIED]/[ASSURED],
timeout within 3 s, and packets/bytes per direction (for TCP only with
--no-tcp-counters unset: GRO may merge real TCP segments before
nf_conntrack sees them, while xct sees them one by one).  With --json the
same table is also read with `-o json` and checked against the text.
"""

import argparse
import json
import subprocess
import sys

TUPLE_KEYS = ("src", "dst", "sport", "dport", "type", "code", "id")
TIMEOUT_SLACK = 3


def parse_line(line):
    """A conntrack(8) default-format line, as a dict."""
    toks = line.split()
    e = {"raw": line, "proto": toks[0], "timeout": None, "state": None,
         "tuples": [{}, {}], "flags": set(), "other": {}}
    try:
        e["timeout"] = int(toks[2])
    except (IndexError, ValueError):
        pass
    cur = -1
    for i, t in enumerate(toks[3:], 3):
        if t.startswith("[") and t.endswith("]"):
            e["flags"].add(t[1:-1])
            continue
        if "=" not in t:
            if i == 3:
                e["state"] = t
            else:
                e["other"][t] = ""
            continue
        k, _, v = t.partition("=")
        if k == "src":
            cur += 1
        if 0 <= cur <= 1 and (k in TUPLE_KEYS or k in ("packets", "bytes")) and k not in e["tuples"][cur]:
            e["tuples"][cur][k] = v
        else:
            e["other"][k] = v
    return e


def entry_key(e):
    return (e["proto"],) + tuple(e["tuples"][0].get(k) for k in TUPLE_KEYS)


def counters(e):
    return tuple((e["tuples"][d].get("packets"), e["tuples"][d].get("bytes")) for d in (0, 1))


class Router:
    """conntrack, nft and xct, run in the router namespace."""

    def __init__(self, netns, xct, pin):
        self.netns = netns
        self.xct = xct
        self.pin = pin

    def _run(self, argv):
        p = subprocess.run(["ip", "netns", "exec", self.netns] + argv,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=20)
        return p.returncode, p.stdout, p.stderr

    def _xct(self, argv):
        rc, out, err = self._run([self.xct, "--pin-path", self.pin] + argv)
        if rc != 0:
            raise RuntimeError(f"xct {' '.join(argv)}: rc {rc}: {err.strip()}")
        return out

    def kernel(self, args):
        rc, out, err = self._run(["conntrack", "-L"] + args)
        if rc != 0:
            raise RuntimeError(f"conntrack -L {' '.join(args)}: rc {rc}: {err.strip()}")
        return [line for line in out.splitlines() if line.strip()]

    def flush(self):
        """Empties both tables (both families)."""
        for args in ([], ["-f", "ipv6"]):
            self._run(["conntrack", "-F"] + args)
        self._xct(["ct", "flush"])

    def xct_list(self, args):
        return [line for line in self._xct(["ct", "list"] + args).splitlines() if line.strip()]

    def xct_json(self, args):
        return json.loads(self._xct(["ct", "list"] + args + ["-o", "json"]))

    def kernel_classes(self):
        """(invalid, related) packets so far, from the oracle's nft counters."""
        rc, out, err = self._run(["nft", "list", "chain", "inet", "xctoracle", "pre"])
        if rc != 0:
            raise RuntimeError(f"nft list chain: rc {rc}: {err.strip()}")
        got = {}
        for line in out.splitlines():
            toks = line.split()
            if toks[:2] == ["ct", "state"] and "packets" in toks:
                got[toks[2]] = int(toks[toks.index("packets") + 1])
        return got.get("invalid", 0), got.get("related", 0)

    def xct_classes(self):
        """(invalid, related) packets so far, from xct's counters."""
        cpus = json.loads(self._xct(["-j", "ct", "stats"]))["cpus"]
        return sum(c["invalid"] for c in cpus), sum(c["related"] for c in cpus)


def collect(lister, qs):
    """Entries by original tuple.  A query's filter is a token the line must
    have, or a set of tokens (other scenarios' ICMP ids) it must not."""
    entries = {}
    for args, want in qs:
        for line in lister(args):
            toks = line.split()
            if isinstance(want, str) and want not in toks:
                continue
            if isinstance(want, set) and want & set(toks):
                continue
            e = parse_line(line)
            entries[entry_key(e)] = e
    return entries


def compare(kern, xct, tcp_counters=True):
    """Problems found comparing the kernel's entries to xct's."""
    problems = []
    for key in sorted(set(kern) | set(xct), key=str):
        k, x = kern.get(key), xct.get(key)
        if k is None:
            problems.append(f"xct has an entry the kernel does not: {x['raw']}")
            continue
        if x is None:
            problems.append(f"kernel has an entry xct does not: {k['raw']}")
            continue
        if k["state"] != x["state"]:
            problems.append(f"state: kernel {k['state']}, xct {x['state']}")
        for flag in ("UNREPLIED", "ASSURED"):
            if (flag in k["flags"]) != (flag in x["flags"]):
                problems.append(f"[{flag}]: kernel {flag in k['flags']}, xct {flag in x['flags']}")
        if k["proto"] != "tcp" or tcp_counters:
            if x["timeout"] is None or abs(k["timeout"] - x["timeout"]) > TIMEOUT_SLACK:
                problems.append(f"timeout: kernel {k['timeout']}, xct {x['timeout']}")
        if k["tuples"][1] and x["tuples"][1]:
            kt = {t: k["tuples"][1].get(t) for t in TUPLE_KEYS}
            xt = {t: x["tuples"][1].get(t) for t in TUPLE_KEYS}
            if kt != xt:
                problems.append(f"reply tuple: kernel {kt}, xct {xt}")
        if k["proto"] != "tcp" or tcp_counters:
            kc, xc = counters(k), counters(x)
            for d, name in ((0, "original"), (1, "reply")):
                if kc[d] != xc[d]:
                    problems.append(f"{name} packets/bytes: kernel {kc[d]}, xct {xc[d]}")
    return problems


def compare_json(text, objs):
    """Problems found comparing `xct ct list` with `xct ct list -o json`."""
    problems = []
    if len(objs) != len(text):
        problems.append(f"json has {len(objs)} entries, text {len(text)}")
    by_key = {}
    for o in objs:
        orig = o.get("orig", {})
        key = (o.get("proto"),) + tuple(
            None if orig.get(k) is None else str(orig.get(k)) for k in TUPLE_KEYS)
        by_key[key] = o
    for key, e in text.items():
        o = by_key.get(key)
        if o is None:
            problems.append(f"json lacks {e['raw']}")
            continue
        status = set(o.get("status", []))
        got = {
            "state": o.get("state"),
            "assured": "ASSURED" in status,
            "replied": "SEEN_REPLY" in status,
            "orig": (str(o["orig"].get("packets")), str(o["orig"].get("bytes"))),
            "reply": (str(o["reply"].get("packets")), str(o["reply"].get("bytes"))),
        }
        want = {
            "state": e["state"],
            "assured": "ASSURED" in e["flags"],
            "replied": "UNREPLIED" not in e["flags"],
            "orig": counters(e)[0],
            "reply": counters(e)[1],
        }
        for field in want:
            if got[field] != want[field]:
                problems.append(f"json {field} {got[field]!r}, text {want[field]!r}: {e['raw']}")
        if abs(int(o.get("timeout", -99)) - e["timeout"]) > 1:
            problems.append(f"json timeout {o.get('timeout')}, text {e['timeout']}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--router", required=True)
    ap.add_argument("--xct", required=True)
    ap.add_argument("--pin-path", required=True)
    ap.add_argument("--name", required=True, help="test name to report")
    ap.add_argument("--min", type=int, default=1, help="at least this many flows in the kernel")
    ap.add_argument("--no-tcp-counters", action="store_true",
                    help="TCP: compare state and flags, not counters and timeouts")
    ap.add_argument("--exact-counters", metavar="P,B,P,B",
                    help="every flow must have exactly these packets/bytes per direction")
    ap.add_argument("--json", action="store_true", help="also check xct's -o json")
    ap.add_argument("list_args", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    list_args = [a for a in args.list_args if a != "--"]

    router = Router(args.router, args.xct, args.pin_path)
    problems = []
    kern = xct = {}
    try:
        kern = collect(router.kernel, [(list_args, None)])
        xct = collect(router.xct_list, [(list_args, None)])
        if len(kern) < args.min:
            problems.append(f"kernel has {len(kern)} flows, expected at least {args.min}")
        problems += compare(kern, xct, tcp_counters=not args.no_tcp_counters)
        if args.exact_counters:
            p0, b0, p1, b1 = args.exact_counters.split(",")
            want = ((p0, b0), (p1, b1))
            for who, table in (("kernel", kern), ("xct", xct)):
                for e in table.values():
                    if counters(e) != want:
                        problems.append(f"{who} counters {counters(e)}, sent {want}: {e['raw']}")
        if args.json:
            problems += compare_json(xct, router.xct_json(list_args))
    except Exception as exc:
        problems.append(f"{type(exc).__name__}: {exc}")

    print(f"{'not ok' if problems else 'ok'} {args.name}")
    if problems:
        for p in problems:
            print(f"#   {p}")
        for e in kern.values():
            print(f"#   kernel: {e['raw']}")
        for e in xct.values():
            print(f"#   xct:    {e['raw']}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
