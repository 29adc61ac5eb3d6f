#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""What nfdump decoded of xct's flow and NAT records, against xct's own
entries (`xct -j ct list` taken just before they were flushed, the values
their DESTROY events carry).  Prints ok / not ok lines named PREFIX_*.

  ipfix_check.py [--no-end-reason] [--events] PREFIX CT_JSON NFDUMP_RAW TRANSLATED PORT...

With --events, CT_JSON is what `xct -j ct events -e DESTROY` printed (one
JSON line an event), and the connections are those of its DESTROY events.

NFDUMP_RAW is `nfdump -r FILE -o raw`; PORT... are the source ports (ICMP
identifiers) of the test's connections, TRANSLATED how many of them are
translated.  Every one must have exactly one flow record with its tuple,
both directions' packets and bytes and "forced end" (they were flushed),
and a translated one a NAT create and a NAT delete with its translation;
no other record may be there.
"""
import argparse
import ipaddress
import json

ap = argparse.ArgumentParser()
ap.add_argument("prefix")
ap.add_argument("ct_json")
ap.add_argument("raw")
ap.add_argument("translated", type=int)
ap.add_argument("ports", type=int, nargs="+")
# nfdump's NetFlow v9 decoder has no flowEndReason (IE 136)
ap.add_argument("--no-end-reason", action="store_true")
ap.add_argument("--events", action="store_true")
args = ap.parse_args()

def ok(name, cond, why=""):
    print(("ok " if cond else "not ok ") + args.prefix + "_" + name)
    if not cond and why:
        print("#   " + str(why).replace("\n", "\n#   "))

# nfdump -o raw: one "Flow Record:" block per record, "name = value" lines.
recs, cur = [], None
for line in open(args.raw):
    if line.startswith("Flow Record"):
        cur = {}
        recs.append(cur)
    elif cur is not None and "=" in line:
        k, v = line.split("=", 1)
        cur[k.strip()] = v.split()[0].rstrip(":") if v.split() else ""
flows = [r for r in recs if "nat event" not in r]
nats = [r for r in recs if "nat event" in r]
if args.events:
    lines = [json.loads(l) for l in open(args.ct_json) if l.strip()]
    conns = [e["conn"] for e in lines if e.get("event") == "DESTROY"]
else:
    conns = json.load(open(args.ct_json))
ip = lambda a: str(ipaddress.ip_address(a))
ICMP = (1, 58)

def rec_key(r):
    proto = int(r["proto"])
    ports = (r.get("ICMP"),) if proto in ICMP else (int(r["src port"]), int(r["dst port"]))
    return (proto, ip(r["src addr"]), ip(r["dst addr"])) + ports

def conn_key(c):
    o = c["orig"]
    ports = ("%d.%d" % (o["type"], o["code"]),) if c["protonum"] in ICMP else (o["sport"], o["dport"])
    return (c["protonum"], ip(o["src"]), ip(o["dst"])) + ports

mine = [c for c in conns if c["orig"].get("sport", c["orig"].get("id")) in args.ports]
n = len(args.ports)
ok("connections_listed", len(mine) == n and len(conns) == n,
   ("xct ct events had %d DESTROY events" if args.events else "xct ct list had %d entries")
   % len(conns) + ", %d of the test's" % len(mine))
ok("record_count", len(flows) == n and len(nats) == 2 * args.translated,
   "%d flow and %d NAT records" % (len(flows), len(nats)))

bad, bad_nat, translated = [], [], 0
for c in mine:
    k, o, rp = conn_key(c), c["orig"], c["reply"]
    got = [r for r in flows if rec_key(r) == k]
    if len(got) != 1:
        bad.append("%s: %d flow records" % (k, len(got)))
        continue
    r = got[0]
    want = (o["packets"], o["bytes"], rp["packets"], rp["bytes"],
            None if args.no_end_reason else "0x04")
    have = (int(r.get("in packets", -1)), int(r.get("in bytes", -1)),
            int(r.get("out packets", -1)), int(r.get("out bytes", -1)), r.get("end reason"))
    if want != have or not 0 < int(r["first"]) <= int(r["last"]):
        bad.append("%s: (packets, bytes, reply packets, reply bytes, end) %s, xct %s; "
                   "first %s last %s" % (k, have, want, r["first"], r["last"]))
    # The translation, as conntrack shows it in the reply tuple.
    icmp = c["protonum"] in ICMP
    xlt = (ip(rp["dst"]), ip(rp["src"]),
           rp["id"] if icmp else rp["dport"], 0 if icmp else rp["sport"])
    natted = xlt != (ip(o["src"]), ip(o["dst"]),
                     o["id"] if icmp else o["sport"], 0 if icmp else o["dport"])
    translated += natted
    got = sorted((r for r in nats if rec_key(r) == k), key=lambda r: r["nat event"])
    events = [r["nat event"] for r in got]
    v6 = ":" in o["src"]
    if events != ((["1", "2"] if v6 else ["4", "5"]) if natted else []):
        bad_nat.append("%s: NAT events %s (translated: %s)" % (k, events, natted))
        continue
    for r in got:
        # nfdump has no IPv6 post-NAT addresses: tshark's check below
        have = (xlt[0] if v6 else ip(r["src xlt ip"]), xlt[1] if v6 else ip(r["dst xlt ip"]),
                int(r["src xlt port"]), int(r["dst xlt port"]))
        if have != xlt or int(r["Event time"]) < int(got[0]["Event time"]):
            bad_nat.append("%s: NAT event %s translation %s, xct %s" % (k, r["nat event"], have, xlt))
ok("flows_match_xct", not bad, "\n".join(bad))
ok("nat_events_match_xct", not bad_nat and translated == args.translated,
   "%d translated\n%s" % (translated, "\n".join(bad_nat)))
