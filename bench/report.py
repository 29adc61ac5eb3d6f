#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Writes the measured figures of one bench/run.sh run into
docs/BENCHMARKS.md, between the markers <!-- bench:begin --> and
<!-- bench:end -->, the flood's between <!-- bench:flood:begin --> and
<!-- bench:flood:end -->, and the cost of connection events (ct_events.json,
from prog_cost events) between <!-- bench:ct-events:begin --> and
<!-- bench:ct-events:end -->, the IPFIX exporter's rate (ipfix.json, from
bench/ipfix_rate) between <!-- bench:ipfix:begin --> and
<!-- bench:ipfix:end -->, what recording connection owners costs (owner.json,
from prog_cost owner) between <!-- bench:owner:begin --> and
<!-- bench:owner:end -->, state sync's messages and cost (sync.json, from
bench/connrate.py --configs xct,xct_sync) between <!-- bench:sync:begin -->
and <!-- bench:sync:end -->, the end-to-end export (ipfix_e2e.json, from
bench/ipfix_e2e.py) between <!-- bench:ipfix-e2e:begin --> and
<!-- bench:ipfix-e2e:end -->.  Everything outside the markers (sections other
people write, such as "Offline replay") is kept as it is; a file without the
markers gets them appended.  A results directory with only the flood's
figures (bench/run.sh --only flood), only sync.json (--only sync), or only
ct_events.json or owner.json (--only owner), rewrites only that section.

  report.py RESULTS_DIR DOC
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
EV_BEGIN = "<!-- bench:ct-events:begin -->"
EV_END = "<!-- bench:ct-events:end -->"
OWN_BEGIN = "<!-- bench:owner:begin -->"
OWN_END = "<!-- bench:owner:end -->"
IPFIX_BEGIN = "<!-- bench:ipfix:begin -->"
IPFIX_END = "<!-- bench:ipfix:end -->"
SYNC_BEGIN = "<!-- bench:sync:begin -->"
SYNC_END = "<!-- bench:sync:end -->"
IE_BEGIN = "<!-- bench:ipfix-e2e:begin -->"
IE_END = "<!-- bench:ipfix-e2e:end -->"

NAMES = {"floor": "XDP drop-all (floor)", "xdpfilter": "xdp-filter (stateless)",
         "nftables": "nftables + nf_conntrack", "iptables": "iptables-legacy + nf_conntrack",
         "xct": "xct", "none": "no filter (delivered)", "xdp_pass": "XDP pass-all on both ports",
         "xct_tc": "xct, --mode tc", "xct_sync": "xct, xctd syncing to an HA peer",
         "xct_sync_tcp": "xct, xctd syncing over TCP"}
SC_NAMES = {"established": "(a) established flows", "flood": "(b) flood, new flows refused",
            "blocklist": "(c) blocklist", "accept": "(b') new flows accepted (entry created)"}


def load(d, name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f) if name.endswith(".json") else f.read()


def med(runs, key):
    return lib.median([r[key] for r in runs])


def fmt(x, digits=0):
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def met(ok):
    return "**met**" if ok else "**not met**"


def datapath_section(dp, out, goals):
    out.append("### 1. Per-packet cost on a veth pair (trafgen, busy CPU per packet)\n")
    out.append(f"{dp['packets']:,} packets per run ({dp['accept_packets']:,} paced at "
               f"{dp['accept_rate']:,} pps in the accept scenario), {dp['repeats']} interleaved "
               "runs per configuration, medians.  *own*: CPU of the sender's process tree and of "
               "kernel threads (the figure used; see Method); *machine*: the whole machine's busy "
               "time from /proc/stat, polluted by whatever else ran.  *Above floor*: own minus "
               "the floor of the same scenario (the XDP drop-all program, or no filter for the "
               "accept scenario).  *Ratio*: above-floor cost relative to nftables + nf_conntrack's.\n")
    med_own = {}
    for sc, cfgs in dp["runs"].items():
        out.append(f"\n**{SC_NAMES[sc]}**\n")
        out.append("| configuration | own ns/pkt | above floor | ratio to nftables | machine ns/pkt "
                   "| runs (own) | veth drops |")
        out.append("|---|---:|---:|---:|---:|---|---:|")
        m = {cfg: med(runs, "ns_own") for cfg, runs in cfgs.items()}
        med_own[sc] = m
        floor = m.get("floor", m.get("none"))
        nft_above = m["nftables"] - floor
        for cfg, runs in cfgs.items():
            above = m[cfg] - floor
            drops = sum(r.get("veth_dropped", 0) for r in runs)
            out.append(f"| {NAMES[cfg]} | {fmt(m[cfg])} | {fmt(above)} | "
                       f"{fmt(ratio(above, nft_above), 2) if cfg not in ('floor', 'none') else '–'} | "
                       f"{fmt(med(runs, 'ns_machine'))} | "
                       f"{', '.join(fmt(r['ns_own']) for r in runs)} | {drops:,} |")
    est, fl, acc = med_own["established"], med_own["flood"], med_own["accept"]
    r_est = ratio(est["xct"] - est["floor"], est["nftables"] - est["floor"])
    goals.append(("Established-flow cost above the floor ≤ ¼ of nftables + conntrack's",
                  f"xct {fmt(est['xct'] - est['floor'])} ns vs nftables "
                  f"{fmt(est['nftables'] - est['floor'])} ns: ratio {fmt(r_est, 2)}",
                  met(r_est is not None and r_est <= 0.25)))
    r_fl = ratio(fl["xct"] - fl["floor"], fl["nftables"] - fl["floor"])
    r_acc = ratio(acc["xct"] - acc["none"], acc["nftables"] - acc["none"])
    goals.append(("New-flow cost ≤ ½ of nf_conntrack's: flood of new flows refused",
                  f"xct {fmt(fl['xct'] - fl['floor'])} ns vs nftables "
                  f"{fmt(fl['nftables'] - fl['floor'])} ns above the floor: ratio {fmt(r_fl, 2)}",
                  met(r_fl is not None and r_fl <= 0.5)))
    goals.append(("New-flow cost ≤ ½ of nf_conntrack's: new flows accepted (entry created)",
                  f"xct {fmt(acc['xct'] - acc['none'])} ns vs nftables "
                  f"{fmt(acc['nftables'] - acc['none'])} ns above no filter: ratio "
                  f"{fmt(r_acc, 2)}", met(r_acc is not None and r_acc <= 0.5)))


def prog_section(pc, rules_md, out):
    out.append("\n### 2. Program cost alone (BPF_PROG_TEST_RUN)\n")
    out.append(f"xct's XDP program on crafted frames, ruleset `{pc['ruleset']}`.  *repeat*: the "
               "kernel's mean over the best of 5 rounds of 200,000 runs of one frame (one round "
               "of 2,000 in the smoke run).  *distinct*: "
               f"{pc['distinct_n']:,} different frames run once each (a new connection's first "
               "packet creates its entry, so a repeated frame would be new only once), minus the "
               f"timer overhead of one run of a two-instruction program ({fmt(pc['trivial_single_ns'], 1)} "
               f"ns; the same program costs {fmt(pc['trivial_repeat_ns'], 1)} ns per run with repeat).\n")
    out.append("| case | method | ns per packet |")
    out.append("|---|---|---:|")
    for c in pc["cases"]:
        out.append(f"| {c['name']} | {c['method']} | {fmt(c['ns'])} |")
    if rules_md:
        out.append("\nRule count (bench/rules_cost: rules `accept tcp dport P saddr 10.X.Y.0/24`, "
                   "all different, the deciding rule last; NEW is measured with SYNs the rules "
                   "refuse or that no rule matches, which create no entry: the proxy for a new "
                   "connection's rule walk, timed with repeat):\n")
        out.append(rules_md.strip())


def connrate_section(cr, out):
    out.append("\n### 3. Connection rate through a router namespace\n")
    out.append(f"bench/connrate: a client keeps {cr['parallel']} connects in flight for "
               f"{fmt(cr['seconds'], 1)} s and resets each connection once established; the server "
               f"accepts and closes.  {cr['repeats']} interleaved runs, medians.  CPU per connection: "
               "client, server and kernel threads (own meter).\n")
    out.append("| router | connections/s | ratio to none | CPU µs per connection | runs (conn/s) |")
    out.append("|---|---:|---:|---:|---|")
    rates = {cfg: med(runs, "rate") for cfg, runs in cr["runs"].items()}
    for cfg, runs in cr["runs"].items():
        out.append(f"| {NAMES[cfg]} | {fmt(rates[cfg])} | {fmt(ratio(rates[cfg], rates['none']), 2)} | "
                   f"{fmt(med(runs, 'cpu_us_own'), 1)} | {', '.join(fmt(r['rate']) for r in runs)} |")


def scale_section(sc, out, goals):
    x, nf = sc["xct"], sc["nf_conntrack"]
    out.append("\n### 4. A million connections\n")
    # Memory per connection, measured the same way for both: the growth of
    # the kernel's unreclaimable slab + vmalloc + per-CPU memory while the
    # entries were created (the tables already existed), plus each table's
    # preallocated hash buckets (xct: 16-byte buckets, a BPF hash's
    # lock + head; nf_conntrack: 8-byte heads).
    n_buckets = 1 << (x["max_entries"] - 1).bit_length()
    x_buckets = n_buckets * 16 / x["count"]
    x_growth = x["entries_growth"] / x["count"]
    x_per = x_growth + x_buckets
    nf_slab = nf["slab_bytes"] / nf["count"]
    nf_growth = nf["kernel_growth"] / nf["count"]
    nf_buckets = nf["buckets"] * 8 / nf["count"]
    nf_per = nf_growth + nf_buckets
    out.append("| | xct | nf_conntrack |")
    out.append("|---|---:|---:|")
    out.append(f"| connections in the table | {x['count']:,} (ESTABLISHED TCP) | "
               f"{nf['count']:,} (SYN_SENT TCP, from {nf['sent']:,} SYNs) |")
    out.append(f"| table limit / hash buckets | {x['max_entries']:,} / {n_buckets:,} | "
               f"{nf['max']:,} / {nf['buckets']:,} |")
    out.append(f"| bytes per connection, the system's own count | {fmt(x['memlock'] / x['count'])} "
               f"(map memlock {x['memlock']:,} B, buckets included) | {fmt(nf_slab)} (nf_conntrack "
               f"slab, {nf['slab_after']['objsize']} B objects) |")
    out.append(f"| bytes per connection, kernel memory growth + buckets | {fmt(x_growth)} + "
               f"{fmt(x_buckets, 1)} = **{fmt(x_per)}** | {fmt(nf_growth)} + {fmt(nf_buckets, 1)} = "
               f"**{fmt(nf_per)}** |")
    out.append(f"| `{x['list_cmd']}` / `{nf['list_cmd']}` | {fmt(x['list_s'], 2)} s | "
               f"{fmt(nf['list_s'], 2)} s |")
    out.append(f"| filling the table | {fmt(x['fill_s'], 1)} s ({x['fill_packets']:,} test runs) "
               "| trafgen, see commands |")
    lk = x["lookup"]
    keys = sorted(lk, key=int)
    out.append("\nxct lookup cost (an established connection's ACK, BPF_PROG_TEST_RUN): *repeat* "
               "runs one connection's ACK (hot caches); *distinct* runs ACKs of "
               f"{lk[keys[-1]]['distinct_n']:,} randomly chosen connections once each, minus the "
               "timer overhead (cold caches, as with real traffic).\n")
    out.append("| entries | repeat ns | distinct ns |")
    out.append("|---:|---:|---:|")
    for k in keys:
        out.append(f"| {int(k):,} | {fmt(lk[k]['repeat_ns'])} | {fmt(lk[k]['distinct_ns'])} |")
    r_mem = ratio(x_per, nf_per)
    goals.append(("Memory per connection ≤ ½ of nf_conntrack's",
                  f"xct {fmt(x_per)} B vs nf_conntrack {fmt(nf_per)} B (kernel memory growth + "
                  f"buckets): ratio {fmt(r_mem, 2)}",
                  met(r_mem is not None and r_mem <= 0.5)))
    goals.append((f"Listing {x['count']:,} entries in under one second",
                  f"xct ct list {fmt(x['list_s'], 2)} s (conntrack -L {fmt(nf['list_s'], 2)} s)",
                  met(x["list_s"] < 1.0)))


def commands_section(meta, dp, cr, sc, out):
    out.append("\n### Commands\n")
    out.append("The whole run: `make bench` (= `bench/run.sh`; `bench/run.sh --smoke` is the "
               "seconds-long version `make test` runs).  Its steps:\n")
    out.append("```")
    out.extend(meta["commands"])
    out.append("```\n")
    out.append("trafgen, in the sender namespace (`-P 1 --no-sock-mem -Q -C`, one process, "
               "pinned to CPU 0 by trafgen; the accept scenario adds `-b RATEpps`), one "
               "configuration per scenario (receiver 1 shown):\n")
    out.append("```")
    for k, v in dp["trafgen_conf"].items():
        out.append(f"# {k}\n{v}")
    out.append("```\n")
    out.append("nftables (receiver):\n\n```\n" + dp["rules"]["nftables"].rstrip() + "\n```\n")
    out.append("iptables-legacy (receiver):\n\n```\n" + "\n".join(dp["rules"]["iptables"]) + "\n```\n")
    out.append("xct (receiver, `xct attach rN --mode native --max-entries "
               f"{dp['table_size']}` then `xct rules load`):\n\n```\n" + dp["rules"]["xct"].rstrip()
               + "\n```\n")
    out.append("xdp-filter (receiver): `xdp-filter load --mode native --features udp,ipv4 rN`, "
               "`xdp-filter port 9000 --mode dst`, `xdp-filter port 9001 --mode dst`, then "
               f"{dp['xdpfilter_size']:,} source addresses written into its `filter_ipv4` map with "
               "`bpftool batch file` (`map update id ID key A B C D value 1 0 0 0 0 0 0 0`, 1 = "
               "its src flag), because its map holds at most 10,000.\n")
    out.append("Floor: `ip link set dev rN xdpdrv obj build/bench/xdp_drop.bpf.o sec xdp program "
               "xdp_drop_all`.\n")
    out.append("Connection-rate router, nftables:\n\n```\n" + cr["rules"]["nftables"].rstrip()
               + "\n```\n\nxct: `xct attach rc rs --mode native` (or `--mode tc`), rules:\n\n```\n"
               + cr["rules"]["xct"].rstrip() + "\n```\n")
    out.append("A million entries for nf_conntrack: a router namespace with `ct state new counter` "
               "at prerouting, the sink behind it dropping everything in XDP, and trafgen sending "
               "until `conntrack -C` reaches the target:\n\n```\n" + sc["nf_conntrack"]["trafgen_conf"]
               + "\n```\n")


def method_section(meta, out):
    out.append("\n### Method and caveats\n")
    out.append(
        "- **The meter.** machine.md measures the whole machine's busy CPU. This machine is shared "
        "with other engineers' builds and tests, so the whole-machine figure (column *machine*) "
        "swings with their load. Each run therefore also records *own*: the CPU time of the "
        "process tree the run started (RUSAGE_CHILDREN: trafgen, or client and server, "
        "including the softirq work done in their context, which is where a veth delivers) plus "
        "the CPU time of every kernel thread (ksoftirqd, kworkers with nf_conntrack's collector, "
        "RCU). On a quiet machine the two agree (the floor came out at ~1,500–1,700 ns both ways, "
        "machine.md saw ~1,490); every ratio here is computed from *own*.\n"
        "- Work that the kernel does in interrupt context on the other CPU while another user's "
        "process runs there is charged to that process and missed by *own*; xct's collector is a "
        "`bpf_timer` (softirq), so `xct attach` is run pinned to CPU 0, trafgen's CPU, where its "
        "timer fires.\n"
        "- Packets are 64 bytes on the wire (60 + FCS), UDP, IPv4.\n"
        "- Every receiver holds one ruleset covering all scenarios in the same order (blocklist "
        "first), so the established and flood packets also pay for a blocklist lookup that misses. "
        "nftables and iptables evaluate it after conntrack (hook prerouting, mangle priority), "
        "as a stateful ruleset with the blocklist in it does; a blocklist in a raw or netdev chain "
        "would skip conntrack for those packets.\n"
        "- Established flows: before each run the receiver sends one UDP packet from port 9000 to "
        "each of the 256 sender ports, so the tracker has seen both directions; the sender's "
        "packets are then replies, ESTABLISHED in all three trackers.\n"
        "- The flood's new flows are refused (`ct state new drop`): neither tracker keeps an entry. "
        "The accept scenario is the one where every packet creates an entry.\n"
        "- Connection rates swing by ±25% from run to run here (three processes and the router's "
        "softirqs share two CPUs with other people's work); compare the medians and the CPU per "
        "connection, not single runs.\n"
        "- Memory: the kernel's unreclaimable slab, vmalloc and per-CPU memory measured before and "
        "after the entries were created (other work on the machine adds noise of a few bytes per "
        "entry at a million entries), plus the hash buckets, which both tables allocate up front.\n"
        "- Veth drops: a veth drops what its peer cannot take (backlog or XDP ring full) and counts "
        "it on the sender's side; the *veth drops* column shows them. Costs are per packet sent.\n")


FLOOD_BEGIN = "<!-- bench:flood:begin -->"
FLOOD_END = "<!-- bench:flood:end -->"


def pct(x):
    return "n/a" if x is None else f"{100 * x:.1f}%"


def flood_section(fl, ev, meta, out):
    sides = [("xct", "xct"), ("nf", "nf_conntrack, hash = table"),
             ("nf_host_hash", f"nf_conntrack, host's hash ({fl['host_buckets']:,} buckets)")]
    sides = [(k, n) for k, n in sides if fl.get(k)]
    x = fl["xct"]
    out.append("## A flood that fills the table (`make bench`)\n")
    out.append("Generated by `make bench` (bench/flood.sh, `prog_cost evict`, bench/report.py); "
               "do not edit by hand between the markers." +
               (f" Run {meta['date']}, {meta['machine']}, kernel {meta['kernel']}."
                if meta else ""))
    out.append("")
    out.append(f"A router with a table of {x['table']:,} entries and a stateful rule set "
               f"(established traffic passes; new TCP connections to the service open with a SYN; "
               f"UDP to one port is admitted). The client holds {x['long'].get('conns', 0)} "
               "long-lived TCP connections that carry data all along (echoed back, checked byte "
               f"for byte). Then trafgen floods the service with new flows from spoofed sources "
               f"(10.232.0.0/16, random ports), half TCP SYNs (the server answers them with "
               f"syncookies) and half UDP to a closed port, paced at {fl['rate']:,} packets a "
               f"second for {x['seconds']} s, while a legitimate client opens new connections one after another (two "
               "at a time: connect, send a line, read it back, close; 1 s to do it). The same "
               "scenario runs against xct (`xct attach --mode generic --max-entries "
               f"{x['table']}`) and against nf_conntrack with `nf_conntrack_max` = {x['table']:,} "
               "and the hash at the same size (the kernel's default ratio), then, shorter, over "
               "this host's hash, which many entries per bucket would need to fill.\n")
    out.append("| | " + " | ".join(n for _, n in sides) + " |")
    out.append("|---|" + "---:|" * len(sides))

    def row(label, f):
        out.append(f"| {label} | " + " | ".join(f(fl[k]) for k, _ in sides) + " |")

    row("flood: seconds", lambda r: fmt(r["flood_s"], 1))
    row("flood: new flows sent (packets)", lambda r: fmt(r["flood_packets"]))
    row("flood: packets a second", lambda r: fmt(r["flood_pps"]))
    row("flood: new flows a second, in tables", lambda r: fmt(r["flood_pps"] / r["table"], 1))
    row("long-lived connections up before the flood", lambda r: fmt(r["long_up"]))
    row("... transfers intact at the end", lambda r: fmt(r["long"].get("intact")))
    row("... ESTABLISHED and ASSURED right after the flood", lambda r: fmt(r["assured_after_flood"]))
    row("... data carried (MB, both ways)", lambda r: fmt(2 * r["long"].get("bytes", 0) / 1e6, 1))
    row("new connections: attempted", lambda r: fmt(r["probe"].get("attempts")))
    row("new connections: succeeded", lambda r: fmt(r["probe"].get("ok")))
    row("new connections: **success rate**", lambda r: "**" + pct(r["probe"].get("rate")) + "**")
    row("new connections: per second", lambda r: fmt(r["probe"].get("per_s"), 1))
    row("new connections: median time (ms)", lambda r: fmt(r["probe"].get("median_ms"), 2))
    row("early_drop (entries evicted for room)", lambda r: fmt(r["counters"].get("early_drop")))
    row("... of them unreplied / replied (xct)",
        lambda r: (f"{fmt(r['counters']['early_drop_unreplied'])} / "
                   f"{fmt(r['counters']['early_drop_replied'])}")
        if "early_drop_unreplied" in r["counters"] else "")
    row("drop (new flows refused: table full)", lambda r: fmt(r["counters"].get("drop")))
    out.append("")
    out.append("Counters are the trackers' own over the flood (`xct ct stats`, `conntrack -S`). "
               "nf_conntrack's `early_drop` counts entries its packet path and its collector "
               "dropped; with the hash at the table's size, its 8-bucket look at a full table "
               "nearly always finds an unassured entry, and it keeps up as well as xct here. Over a "
               "larger hash the same 8 buckets are mostly empty, and nearly every new flow, "
               "legitimate or not, is refused (`nf_conntrack: table full, dropping packet`). "
               "xct's choice depends on neither: it takes the oldest unassured entries it "
               "knows of, wherever they hash.\n")
    if ev:
        room = ev["cases"][0]["ns"]
        out.append("**Cost of a flood packet in a full table** (`prog_cost evict`: xct's XDP "
                   f"program alone, BPF_PROG_TEST_RUN, a table of {ev['table']:,} entries, "
                   f"{ev['n']:,} distinct SYNs per case run once each, less the timer's overhead of "
                   f"{fmt(ev['trivial_single_ns'], 1)} ns):\n")
        out.append("| case | ns per packet | ratio to a new flow with room |")
        out.append("|---|---:|---:|")
        for c in ev["cases"]:
            out.append(f"| {c['name']} | {fmt(c['ns'])} | {fmt(ratio(c['ns'], room), 2)} |")
        out.append("")
    out.append("Rules, xct:\n\n```\n" + fl["rules_xct"].rstrip() + "\n```\n")
    if fl.get("rules_nft"):
        out.append("nftables (the router's forward hook):\n\n```\n" + fl["rules_nft"].strip()
                   + "\n```\n")
    out.append("trafgen (`timeout --signal=INT SECONDS trafgen -o veth-c --cpus 1 -b RATEpps`), in "
               "the client namespace:\n\n```\n" + fl["trafgen_conf"].rstrip() + "\n```\n")
    out.append("- xct runs in XDP generic mode here: on a veth, native XDP takes packets from a "
               "ring of 256 that the flood's bursts overflow, so legitimate packets would be lost "
               "on the link before any table is involved; generic XDP receives them from the same "
               "per-CPU backlog as nf_conntrack.\n"
               "- trafgen and the router's receive path share the sender's CPU (a veth delivers "
               "in the sender's softirq), so the flood's rate is what each tracker let the CPU "
               f"reach of the {fl['rate']:,} asked: "
               + "; ".join(f"{n}: {fmt(fl[k]['flood_pps'])}" for k, n in sides) + ".\n"
               "- `nf_conntrack_max` and the hash size are global, writable only in the initial "
               "namespace: bench/flood.sh sets them for the nf_conntrack runs only and restores "
               "them at once, on failure too.\n"
               "- The legitimate client's connections close normally, so each leaves a TIME_WAIT "
               f"entry (assured, 120 s) in the table: the {fmt(x['probe'].get('ok'))} of xct's run "
               f"hold {pct(ratio(x['probe'].get('ok'), x['table']))} of it by the end, room "
               "neither tracker takes back on its packet path (both collectors do under "
               "pressure, when nothing else is left).\n")


def ct_events_section(ev):
    out = ["## What connection events cost the datapath (`xct ct events`)\n"]
    out.append("Generated by `make bench` (bench/prog_cost `events`, bench/report.py); do not edit "
               "by hand between the markers.  The XDP program alone (BPF_PROG_TEST_RUN, no "
               "ruleset: every packet accepted), in three configurations run in "
               f"{ev['rounds']} interleaved rounds, medians: *before*, the datapath as it was before "
               "it had connection events (commit 99614cb, built from git by bench/run.sh); *no "
               "reader*, today's datapath with no `xct ct events` subscribed; *reader*, the same "
               "with a reader subscribed, its events taken from the ring between rounds. "
               "*repeat*: best of 5 means of 200,000 runs of one frame; *distinct*: "
               f"{ev['distinct_n']:,} different SYNs run once each, less the timer's overhead "
               f"({fmt(ev['trivial_single_ns'], 1)} ns).\n")
    out.append("| path | method | before, ns | no reader, ns | vs before | reader, ns | vs before |")
    out.append("|---|---|---:|---:|---:|---:|---:|")
    for c in ev["cases"]:
        b, n, r = c["before_ns"], c["no_reader_ns"], c["reader_ns"]
        out.append(f"| {c['name']} | {c['method']} | {fmt(b)} | {fmt(n)} | "
                   f"{(n / b - 1) * 100:+.1f}% | {fmt(r)} | {(r / b - 1) * 100:+.1f}% |")
    out.append("\nRounds (ns), to judge the noise of a machine others share:\n")
    for c in ev["cases"]:
        runs = "; ".join(f"{k.replace('_runs', '')} " + ", ".join(fmt(x) for x in c[k])
                         for k in ("before_runs", "no_reader_runs", "reader_runs"))
        out.append(f"- {c['name']}: {runs}")
    out.append(f"\n{ev['events_taken']:,} events were taken from the ring in the *reader* rounds "
               "(one NEW per SYN, three for the established connection's handshake).  With no "
               "reader, a packet only compares the state and status its update committed with "
               "the ones before, and looks the subscription up when they changed; the copy an "
               "old connection's DESTROY needs is made out of line, and only with a reader.")
    return "\n".join(out).rstrip() + "\n"


def owner_section(ow):
    out = ["## What recording connection owners costs forwarded traffic (`xct attach-cgroup`)\n"]
    out.append("Generated by `make bench` (bench/prog_cost `owner`, bench/report.py; "
               "`bench/run.sh --only owner` runs this step alone); do not edit by hand between the "
               "markers.  Forwarded traffic has no owner, and pays for none: no owner is looked up "
               "for a NEW (the reader does that), and a connection's DESTROY and deletion look "
               "one up only when a packet of it was tracked at egress (`XCT_CT_LOCAL`), which "
               "a forwarded connection's never is.  The XDP program alone "
               "(BPF_PROG_TEST_RUN, no ruleset: every packet accepted, a reader of `xct ct "
               "events` subscribed so that every NEW is sent), in three configurations run in "
               f"{ow['rounds']} interleaved rounds, medians: *before*, the datapath as it was "
               "before it had owners (commit 6c79918, built from git by bench/run.sh); *off*, "
               "today's datapath with no cgroup attached; *on*, the same recording owners (as "
               f"after `xct attach-cgroup`), {ow['owned_others']:,} other connections owned.  "
               "*repeat*: best of 5 means of 200,000 runs of one frame; *distinct*: "
               f"{ow['distinct_n']:,} different SYNs run once each, less the timer's overhead "
               f"({fmt(ow['trivial_single_ns'], 1)} ns).\n")
    out.append("| path | method | before, ns | off, ns | vs before | on, ns | vs before |")
    out.append("|---|---|---:|---:|---:|---:|---:|")
    for c in ow["cases"]:
        b, f, n = c["before_ns"], c["off_ns"], c["on_ns"]
        out.append(f"| {c['name']} | {c['method']} | {fmt(b)} | {fmt(f)} | "
                   f"{(f / b - 1) * 100:+.1f}% | {fmt(n)} | {(n / b - 1) * 100:+.1f}% |")
    out.append("\nRounds (ns), to judge the noise of a machine others share:\n")
    for c in ow["cases"]:
        runs = "; ".join(f"{k.replace('_runs', '')} " + ", ".join(fmt(x) for x in c[k])
                         for k in ("before_runs", "off_runs", "on_runs"))
        out.append(f"- {c['name']}: {runs}")
    out.append(f"\n{ow['events_taken']:,} events were taken from the rings.  The owner programs "
               "themselves run only for local sockets, in their processes' system calls and "
               "on their own packets (cgroup_skb egress); forwarded packets never reach them.")
    return "\n".join(out).rstrip() + "\n"


def ipfix_section(ip):
    out = ["## What the IPFIX exporter sustains (`xct export ipfix`, `xctd --ipfix-collector`)\n"]
    out.append("Generated by `make bench` (bench/ipfix_rate, bench/report.py); do not edit by hand "
               "between the markers.  The exporter of `xct export ipfix` and of xctd (src/export/) fed "
               f"{ip['events']:,} synthetic DESTROY events, no datapath: of every 4 connections 3 "
               "untranslated (2 TCP, 1 UDP) and 1 masqueraded, so "
               f"{ip['records_per_event']} records an event, sent over UDP to a receiver on "
               "127.0.0.1 that another thread drains.  Medians of "
               f"{ip['rounds']} interleaved rounds per message size.  What building the events "
               "costs the datapath is measured in \"What connection events cost the datapath\"; "
               "events the ring had no room for are reported by the exporter when it ends.\n")
    out.append("| message size | records/s | connections/s | rounds (records/s) | messages | lost |")
    out.append("|---:|---:|---:|---|---:|---:|")
    for z in ip["sizes"]:
        out.append(f"| {z['mtu']} B | {fmt(z['records_per_s'])} | "
                   f"{fmt(z['records_per_s'] / ip['records_per_event'])} | "
                   f"{', '.join(fmt(r) for r in z['runs'])} | {fmt(z['messages'])} | "
                   f"{fmt(z['lost_messages'])} |")
    worst = min(z["records_per_s"] / ip["records_per_event"] for z in ip["sizes"])
    out.append(f"\nGoal: keep up with 100,000 connections a second: {fmt(worst)} at the smallest "
               f"message size, {met(worst >= 100000)}.  *lost*: messages the socket refused or "
               "the receiver never got, over every round.")
    out.append("\nCommand: `bench/run.sh --only ipfix` (a step of `make bench`), which runs "
               "`build/bench/ipfix_rate > ipfix.json` and renders this section with "
               "`bench/report.py`.")
    return "\n".join(out).rstrip() + "\n"


def sync_section(sy):
    out = ["## What state sync costs the primary (`xctd --sync-peer`)\n"]
    out.append("Generated by `make bench` (bench/connrate.py --configs "
               "xct,xct_sync,xct_sync_tcp, "
               "bench/report.py); do not edit by hand between the markers.  The router of "
               "section 3 (xct attached, XDP native, `policy drop`, established accepted, new "
               "connections to the server's port accepted), once alone and once with xctd "
               "replicating its table in conntrackd's protocol (NOTRACK, UDP) to a peer on a "
               "link of its own, a socket in a fourth namespace that reads and drops the "
               "messages, and (when measured) once over the TCP transport (`--sync-transport "
               "tcp`) to a socket there that accepts xctd's connection and reads the stream."
               f"  The client keeps {sy['parallel']} connects in flight for "
               f"{fmt(sy['seconds'], 1)} s and resets each connection once established.  "
               f"{sy['repeats']} interleaved runs, medians.  CPU per connection: client, "
               "server, kernel threads and xctd, not the peer's socket.\n")
    out.append("| router | connections/s | CPU µs per connection | sync messages/s | "
               "messages per connection | lost | runs (conn/s) |")
    out.append("|---|---:|---:|---:|---:|---:|---|")
    runs = sy["runs"]
    for cfg in ("xct", "xct_sync", "xct_sync_tcp"):
        if cfg not in runs:
            continue
        rs = runs[cfg]
        sync = cfg != "xct"
        out.append(f"| {NAMES[cfg]} | {fmt(med(rs, 'rate'))} | {fmt(med(rs, 'cpu_us_own'), 1)} | "
                   + (f"{fmt(med(rs, 'sync_per_s'))} | {fmt(med(rs, 'sync_per_conn'), 1)} | "
                      f"{sum(r['sync_lost'] for r in rs)} | " if sync else "| | | ")
                   + f"{', '.join(fmt(r['rate']) for r in rs)} |")
    added = med(runs["xct_sync"], "cpu_us_own") - med(runs["xct"], "cpu_us_own")
    out.append(f"\nAdded cost per new connection with sync on: {fmt(added, 1)} µs of CPU "
               "(the medians' difference): the datapath's connection events, which only a "
               "reader makes it build, and xctd reading them and packing them into datagrams.  Each "
               "connection is a NEW, its state changes as UPDATEs and its end as a DESTROY.  "
               "*sync messages/s* is what the connection rate made xctd send, not a ceiling; "
               "*lost*: messages the socket refused, over every run.")
    if "xct_sync_tcp" in runs:
        added = med(runs["xct_sync_tcp"], "cpu_us_own") - med(runs["xct"], "cpu_us_own")
        out.append(f"\nOver TCP: {fmt(added, 1)} µs of CPU added per new connection; the "
                   "same messages, written to one stream (and *lost* counts those refused "
                   "for want of room to wait for the connection).")
    return "\n".join(out).rstrip() + "\n"


def ring_name(size):
    return "default" if not size else f"{size // 1048576} MiB"


def ipfix_e2e_section(ie, default_ring):
    out = ["## IPFIX end to end: the datapath's connection ends through xctd to a collector\n"]
    out.append("Generated by `make bench` (bench/ipfix_e2e.py, bench/ipfix_e2e.c, bench/report.py); "
               "do not edit by hand between the markers.  xct attached (XDP) to a veth in a "
               "namespace, xctd reading its events ring with `--ipfix-collector 127.0.0.1:4739`, "
               "and a collector that counts on 127.0.0.1 (`ipfix_e2e sink`: it learns the "
               "templates and counts every message's data records, and the records its sequence "
               "numbers say never came; nfcapd, the functional test's collector, writes each "
               "record to disk and would be the one measured).  Connections are made by SYNs run "
               "through the attached program with BPF_PROG_TEST_RUN, each creating a real entry "
               "and a NEW event; their ends are the GC's or a flush's DESTROY events, one flow "
               "record each.\n")
    out.append(f"- **gc**: {ie['gc_rate']:,} SYNs a second for {ie['gc_seconds']} s with "
               "`nf_conntrack_tcp_timeout_syn_sent` at 1 s: the GC, which sweeps once a second "
               "while much expires, ends them as fast as they come, a second's worth per sweep "
               "(its first sweeps, after an empty table, are further apart and larger).")
    out.append(f"- **flush**: {ie['conns']:,} connections, then `xct ct flush`: one sweep of "
               "the control program ends them all at once, the largest burst the ring gets.\n")
    out.append("*offered*: connection ends a second the datapath produced (gc: SYNs a second; "
               "flush: entries over the flush's time); *records/s*: records received over the "
               "time from the first to the last; *ring lost*: events (NEW and DESTROY) the ring "
               "had no room for (`xct_events_lost_total{stream=\"ct_events\"}`); *socket lost*: "
               "records in messages the socket refused (`xct_ipfix_lost_records_total`); *missing*: "
               "connections without a record at the collector.  Medians of "
               f"{ie['rounds']} interleaved rounds; xctd is started anew for each.  The offered rate "
               "is what one process running SYNs through BPF_PROG_TEST_RUN managed beside xctd, "
               "the GC and the collector on 2 shared cores; a flush's records/s is bounded by "
               "how the collector's reads batch the burst.  A 4 MiB ring, the default before, "
               "is shown beside the default: a sweep queues its DESTROY events faster than xctd "
               "reads them, so the ring must hold a second's worth.\n")
    out.append("| case | events ring | offered/s | records/s | connections | ring lost | "
               "socket lost | sent, not received | missing | rounds (records/s / missing) |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    best = {}
    for key, runs in ie["runs"].items():
        mode, ring = key.split(":")
        ring = int(ring)
        name = ring_name(ring) + (f" ({ring_name(default_ring)})" if not ring and default_ring
                                  else "")
        out.append(f"| {mode} | {name} | {fmt(med(runs, 'offered_per_s'))} | "
                   f"{fmt(med(runs, 'records_per_s'))} | {fmt(med(runs, 'conns'))} | "
                   f"{fmt(med(runs, 'ring_lost'))} | {fmt(med(runs, 'socket_lost'))} | "
                   f"{fmt(med(runs, 'not_received'))} | {fmt(med(runs, 'missing'))} | "
                   + "; ".join(f"{fmt(r['records_per_s'])} / {fmt(r['missing'])}" for r in runs)
                   + " |")
        if not ring:
            best[mode] = runs
    gc = best.get("gc")
    if gc:
        rate = med(gc, "records_per_s")
        lossless = max(r["missing"] for r in gc) == 0
        out.append(f"\nGoal: keep up with 100,000 connections a second, with the default ring: "
                   f"{fmt(med(gc, 'offered_per_s'))} ends a second offered, {fmt(rate)} records "
                   f"a second received, {fmt(sum(r['missing'] for r in gc))} missing over every "
                   f"round: {met(lossless and med(gc, 'offered_per_s') >= 100000)}.")
    out.append("\nCommand: `bench/run.sh --only ipfix` (a step of `make bench`), which runs "
               "`bench/ipfix_e2e.py --xct build/xct --xctd build/xctd --tool build/bench/ipfix_e2e "
               f"--conns {ie['conns']} --gc-rate {ie['gc_rate']} --gc-seconds {ie['gc_seconds']} "
               f"--rounds {ie['rounds']} --ring-sizes "
               f"{','.join(str(x) for x in ie['ring_sizes'])} --out ipfix_e2e.json` and renders "
               "this section with `bench/report.py`.")
    return "\n".join(out).rstrip() + "\n"


def write_between(doc, begin, end, text):
    """Replaces what is between begin and end in doc (appending the markers
    if they are missing), keeping everything else."""
    block = begin + "\n" + text.rstrip() + "\n" + end + "\n"
    old = ""
    if os.path.exists(doc):
        with open(doc) as f:
            old = f.read()
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end) + 1:]
    elif old:
        new = old.rstrip() + "\n\n" + block
    else:
        new = "# Benchmarks\n\n" + block
    tmp = doc + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, doc)


def main():
    d, doc = sys.argv[1], sys.argv[2]
    ev = load(d, "ct_events.json")
    if ev:
        write_between(doc, EV_BEGIN, EV_END, ct_events_section(ev))
    ow = load(d, "owner.json")
    if ow:
        write_between(doc, OWN_BEGIN, OWN_END, owner_section(ow))
    ip = load(d, "ipfix.json")
    if ip:
        write_between(doc, IPFIX_BEGIN, IPFIX_END, ipfix_section(ip))
    sy = load(d, "sync.json")
    if sy:
        write_between(doc, SYNC_BEGIN, SYNC_END, sync_section(sy))
    ie = load(d, "ipfix_e2e.json")
    if ie:
        write_between(doc, IE_BEGIN, IE_END, ipfix_e2e_section(ie, ie.get("default_ring")))
    fl = load(d, "flood.json")
    if fl:
        out = []
        flood_section(fl, load(d, "evict.json"), load(d, "meta.json"), out)
        write_between(doc, FLOOD_BEGIN, FLOOD_END, "\n".join(out))
    if not load(d, "datapath.json"):
        return  # only one section's step ran (bench/run.sh --only flood, owner or sync, or ct events alone)
    meta = load(d, "meta.json")
    dp = load(d, "datapath.json")
    pc = load(d, "prog.json")
    rules_md = load(d, "rules_cost.md")
    cr = load(d, "connrate.json")
    sc = load(d, "scale.json")
    out, goals = [], []
    out.append("## xct beside its peers (`make bench`)\n")
    out.append("Generated by `make bench` (bench/run.sh, bench/report.py) from the figures of one "
               "run; do not edit by hand between the markers.\n")
    out.append("| | |")
    out.append("|---|---|")
    for k in ("date", "machine", "cpu", "memory", "kernel", "os", "xct", "peers", "load",
              "total"):
        if k in meta:
            out.append(f"| {k} | {meta[k]} |")
    body = []
    datapath_section(dp, body, goals)
    prog_section(pc, rules_md, body)
    connrate_section(cr, body)
    scale_section(sc, body, goals)
    out.append("\n### Goals\n")
    out.append("| goal | measured | |")
    out.append("|---|---|---|")
    for g in goals:
        out.append(f"| {g[0]} | {g[1]} | {g[2]} |")
    out.append("")
    out.extend(body)
    commands_section(meta, dp, cr, sc, out)
    method_section(meta, out)
    text = BEGIN + "\n" + "\n".join(out).rstrip() + "\n" + END + "\n"

    old = ""
    if os.path.exists(doc):
        with open(doc) as f:
            old = f.read()
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + text + old[old.index(END) + len(END) + 1:]
    elif old:
        new = old.rstrip() + "\n\n" + text
    else:
        new = "# Benchmarks\n\n" + text
    tmp = doc + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, doc)


if __name__ == "__main__":
    main()
