#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Item 1 of the benchmark: what a packet costs in each firewall, on a veth
pair between namespaces, with trafgen sending a fixed number of 64-byte UDP
frames (60 bytes + FCS) and the busy CPU time divided by the packet count
(see lib.py for the meter).

One sender namespace, one receiver namespace per configuration, each joined
to the sender by its own veth pair, all set up once; runs are then
interleaved (every configuration of every scenario once, then again) so
that drift hits all of them alike.  Each receiver holds one ruleset that
covers every scenario, in the same order everywhere:

  1. drop packets from a blocklist of source prefixes
  2. drop UDP to port 9000 in state ESTABLISHED
  3. drop UDP to port 9001 in state NEW
  (anything else is accepted)

Scenarios (what trafgen sends; every scenario's packets are decided by one
of the rules, the earlier ones looked at and missed):

  established  256 flows 10.250.N.1:10000-10255 -> 10.250.N.2:9000, each
               made ESTABLISHED before the run by one UDP packet from the
               receiver to the sender on that flow (the tracker has then
               seen both directions; the sender's packets are replies)
  flood        every packet a new flow: random source 10.124.x.y (outside
               the blocklist, which ends at 10.112.211.255) and random
               source port, to port 9001, dropped as NEW (no entry is kept)
  blocklist    random sources inside the blocklist, to port 9003 (no port
               rule): dropped by rule 1
  accept       every packet a new flow, to port 9002: accepted, so each one
               creates an entry; the packets then reach the receiver's
               stack (a closed UDP port).  Its reference is "none", a
               receiver with no filter at all.  Paced (trafgen -b, which
               sends with sendto(): a different generator cost, the same
               for every configuration of this scenario), because at full
               speed the receiving stack falls behind and the veth drops
               packets.  Tables: 1,048,576 entries for xct and for
               nf_conntrack (limit and hash size raised on the host for
               the run, then restored), so none fills.

Configurations:

  floor      XDP program that drops everything (bench/xdp_drop.bpf.c)
  xdpfilter  xdp-filter, stateless: ports 9000 and 9001 denied by
             destination, the blocklist as exact source addresses (its
             filter_ipv4 map holds at most 10,000: the 4,096 addresses the
             traffic uses and others)
  nftables   table inet, chain at hook prerouting priority -150 (mangle),
             after conntrack (-200); the blocklist an interval set
  iptables   iptables-legacy, mangle PREROUTING, -m conntrack --ctstate;
             the blocklist an ipset hash:net matched with -m set
  xct        xct attached (XDP native) with the same rules in its language;
             the blocklist a set
  none       nothing (only in the accept scenario)

The blocklist holds SET_SIZE /28 prefixes 32 addresses apart from
10.64.0.0, so it is not one range; the blocklist traffic comes from
10.64.X.0-15, inside it.
"""
import argparse
import ipaddress
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

CONFIGS = ["floor", "xdpfilter", "nftables", "iptables", "xct", "none"]
SCENARIOS = {
    "established": ["floor", "xdpfilter", "nftables", "iptables", "xct"],
    "flood": ["floor", "xdpfilter", "nftables", "iptables", "xct"],
    "blocklist": ["floor", "xdpfilter", "nftables", "iptables", "xct"],
    "accept": ["none", "nftables", "iptables", "xct"],
}
STATEFUL = ("nftables", "iptables", "xct")
N_FLOWS = 256
TABLE_SIZE = 1048576


def rmac(n):
    return f"02:78:62:00:{n:02x}:02"


def smac(n):
    return f"02:78:62:00:{n:02x}:01"


def rip(n):
    return f"10.250.{n}.2"


def sip(n):
    return f"10.250.{n}.1"


def blocklist(size):
    base = int(ipaddress.IPv4Address("10.64.0.0"))
    return [f"{ipaddress.IPv4Address(base + 32 * i)}/28" for i in range(size)]


def xdpfilter_addrs(limit=10000):
    """The traffic's 4096 sources first, then other addresses up to limit."""
    addrs = [f"10.64.{x}.{y}" for x in range(256) for y in range(16)]
    base = int(ipaddress.IPv4Address("10.65.0.0"))
    i = 0
    while len(addrs) < limit:
        addrs.append(str(ipaddress.IPv4Address(base + i)))
        i += 1
    return addrs[:limit]


def trafgen_conf(n, scenario):
    eth = f"eth(da={rmac(n)}, sa={smac(n)})"
    tail = "fill(0x00, 18)"
    if scenario == "established":
        ip = f"ipv4(saddr={sip(n)}, daddr={rip(n)}, ttl=64)"
        udp = f"udp(sport=dinc({10000}, {10000 + N_FLOWS - 1}), dport=9000)"
    elif scenario in ("flood", "accept"):
        port = 9001 if scenario == "flood" else 9002
        ip = f"ipv4(saddr=10.124.0.0, saddr[2]=drnd(), saddr[3]=drnd(), daddr={rip(n)}, ttl=64)"
        udp = f"udp(sport=drnd(1024, 65535), dport={port})"
    else:
        ip = f"ipv4(saddr=10.64.0.0, saddr[2]=drnd(), saddr[3]=drnd(0, 15), daddr={rip(n)}, ttl=64)"
        udp = "udp(sport=drnd(1024, 65535), dport=9003)"
    return "{ " + ", ".join([eth, ip, udp, tail]) + " }\n"


def nft_rules(elements):
    return ("table inet xctb {\n\tset bl {\n\t\ttype ipv4_addr; flags interval;\n"
            "\t\telements = { " + elements + " }\n\t}\n"
            "\tchain pre {\n\t\ttype filter hook prerouting priority -150; policy accept;\n"
            "\t\tip saddr @bl drop\n"
            "\t\tudp dport 9000 ct state established drop\n"
            "\t\tudp dport 9001 ct state new drop\n\t}\n}\n")


def xct_rules(elements):
    return ("set bl { " + elements + " }\n"
            "policy accept\n"
            "drop saddr @bl\n"
            "drop udp dport 9000 ct state established\n"
            "drop udp dport 9001 ct state new\n")


IPT_RULES = [
    "ipset create xctb-bl hash:net family inet hashsize 65536 maxelem 200000",
    "ipset add xctb-bl 10.64.0.0/28 ...",
    "iptables-legacy -t mangle -A PREROUTING -m set --match-set xctb-bl src -j DROP",
    "iptables-legacy -t mangle -A PREROUTING -p udp --dport 9000 -m conntrack --ctstate ESTABLISHED -j DROP",
    "iptables-legacy -t mangle -A PREROUTING -p udp --dport 9001 -m conntrack --ctstate NEW -j DROP",
]


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="xctb-dp.")
        lib.on_exit(lambda: lib.run(["rm", "-rf", self.tmp], check=False))
        self.nss = lib.Namespaces()
        self.snd = self.nss.add("snd")
        self.rcv = {}
        self.pin_root = None

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def mount_bpffs(self):
        self.pin_root = self.path("bpffs")
        os.mkdir(self.pin_root)
        lib.run(["mount", "-t", "bpf", "bpf", self.pin_root])
        lib.on_exit(lambda: lib.run(["umount", "-l", self.pin_root], check=False))

    def xct(self, ns, *args, **kw):
        return lib.run(["taskset", "-c", "0", self.a.xct, "--pin-path",
                        f"{self.pin_root}/xct", *args], ns=ns, **kw)

    def setup(self):
        a = self.a
        self.mount_bpffs()
        bl = blocklist(a.set_size)
        for i, cfg in enumerate(CONFIGS, start=1):
            ns = self.nss.add(cfg)
            self.rcv[cfg] = (ns, i)
            lib.veth(self.snd, f"s{i}", smac(i), ns, f"r{i}", rmac(i))
            lib.run(["ip", "addr", "add", f"{sip(i)}/24", "dev", f"s{i}"], ns=self.snd)
            lib.run(["ip", "addr", "add", f"{rip(i)}/24", "dev", f"r{i}"], ns=ns)
            lib.run(["ip", "neigh", "replace", rip(i), "lladdr", rmac(i), "dev", f"s{i}",
                     "nud", "permanent"], ns=self.snd)
            lib.run(["ip", "neigh", "replace", sip(i), "lladdr", smac(i), "dev", f"r{i}",
                     "nud", "permanent"], ns=ns)
            lib.run(["ip", "route", "add", "10.64.0.0/10", "via", sip(i)], ns=ns)
            lib.sysctl(ns, "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
                       f"net.ipv4.conf.r{i}.rp_filter=0")
            getattr(self, "setup_" + cfg)(ns, f"r{i}", bl)
            lib.log(f"datapath: {cfg} ready in {ns}")
        for sc in SCENARIOS:
            for cfg in SCENARIOS[sc]:
                self.write(f"{sc}-{cfg}.cfg", trafgen_conf(self.rcv[cfg][1], sc))

    def setup_floor(self, ns, dev, bl):
        lib.run(["ip", "link", "set", "dev", dev, "xdpdrv", "obj", self.a.drop_obj, "sec", "xdp",
                 "program", "xdp_drop_all"],
                ns=ns)

    def setup_none(self, ns, dev, bl):
        pass

    def xdp_filter(self, ns, *args):
        """Runs xdp-filter in ns with this run's bpffs at /sys/fs/bpf.
        xdp-filter pins its maps in the first bpffs it finds, /sys/fs/bpf
        or else any other mounted on the host (another test's), and `ip
        netns exec` hides the host's /sys/fs/bpf: so each call gets the run's
        own, in the private mount namespace that `ip netns exec` makes."""
        lib.run(["sh", "-c", 'mount --bind "$0" /sys/fs/bpf && exec "$@"', self.pin_root,
                 "xdp-filter", *args], ns=ns)

    def setup_xdpfilter(self, ns, dev, bl):
        self.xdp_filter(ns, "load", "--mode", "native", "--features", "udp,ipv4", dev)
        for port in (9000, 9001):
            self.xdp_filter(ns, "port", str(port), "--mode", "dst")
        # 10,000 addresses through bpftool in one batch (one xdp-filter call
        # per address would take minutes).  Value: the "src" mode flag.
        self.xdp_filter(ns, "ip", "10.64.0.0", "--mode", "src")
        pinned = os.path.join(self.pin_root, "xdp-filter", "filter_ipv4")
        try:
            mid = json.loads(lib.out(["bpftool", "-j", "map", "show", "pinned", pinned]))["id"]
        except (RuntimeError, ValueError, KeyError) as e:
            raise RuntimeError(f"xdp-filter: no filter_ipv4 map at {pinned}: {e}")
        lines = []
        for addr in xdpfilter_addrs(self.a.xdpfilter_size):
            key = " ".join(addr.split("."))
            lines.append(f"map update id {mid} key {key} value 1 0 0 0 0 0 0 0")
        lib.run(["bpftool", "batch", "file", self.write("xdpfilter.batch", "\n".join(lines) + "\n")])

    def setup_nftables(self, ns, dev, bl):
        lib.run(["nft", "-f", self.write("nft.rules", nft_rules(",\n".join(bl)))], ns=ns)

    def setup_iptables(self, ns, dev, bl):
        lines = ["create xctb-bl hash:net family inet hashsize 65536 maxelem 200000"]
        lines += [f"add xctb-bl {p}" for p in bl]
        lib.run(["ipset", "restore"], ns=ns, input="\n".join(lines) + "\n")
        ipt = ["iptables-legacy", "-w", "-t", "mangle", "-A", "PREROUTING"]
        lib.run(ipt + ["-m", "set", "--match-set", "xctb-bl", "src", "-j", "DROP"], ns=ns)
        lib.run(ipt + ["-p", "udp", "--dport", "9000", "-m", "conntrack", "--ctstate",
                       "ESTABLISHED", "-j", "DROP"], ns=ns)
        lib.run(ipt + ["-p", "udp", "--dport", "9001", "-m", "conntrack", "--ctstate", "NEW",
                       "-j", "DROP"], ns=ns)

    def setup_xct(self, ns, dev, bl):
        self.xct(ns, "attach", dev, "--mode", "native", "--max-entries", str(TABLE_SIZE))
        lib.on_exit(lambda: self.xct(ns, "detach", "--all", check=False))
        self.xct(ns, "rules", "load", self.write("xct.rules", xct_rules(",\n".join(bl))))

    # ---- Runs ----

    def precreate(self, cfg):
        """Makes the 256 flows ESTABLISHED: one packet from the receiver on
        each, so the sender's packets are the replies."""
        ns, i = self.rcv[cfg]
        code = ("import socket\n"
                "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                f"s.bind(('{rip(i)}', 9000))\n"
                f"for p in range(10000, {10000 + N_FLOWS}):\n"
                f"    s.sendto(b'x' * 18, ('{sip(i)}', p))\n")
        lib.run([sys.executable, "-c", code], ns=ns)

    def flush(self, cfg):
        ns, _ = self.rcv[cfg]
        if cfg in ("nftables", "iptables"):
            lib.run(["conntrack", "-F"], ns=ns, check=False)
        elif cfg == "xct":
            self.xct(ns, "ct", "flush", check=False)

    def table_count(self, cfg):
        ns, _ = self.rcv[cfg]
        if cfg in ("nftables", "iptables"):
            return int(lib.out(["conntrack", "-C"], ns=ns).strip() or 0)
        if cfg == "xct":
            return int(lib.out(["taskset", "-c", "0", self.a.xct, "--pin-path",
                                f"{self.pin_root}/xct", "ct", "count"], ns=ns).strip() or 0)
        return None

    def tx_stats(self, cfg):
        """The sender side's packets and drops: a veth drops what its peer
        cannot take (a full backlog or XDP ring), and counts it here."""
        dev = f"s{self.rcv[cfg][1]}"
        st = json.loads(lib.out(["ip", "-s", "-j", "link", "show", "dev", dev], ns=self.snd))
        tx = st[0]["stats64"]["tx"]
        return tx["packets"], tx["dropped"]

    def one(self, sc, cfg):
        if cfg in STATEFUL:
            self.flush(cfg)
        lib.wait_quiet()
        if sc == "established" and cfg in STATEFUL:
            self.precreate(cfg)
        n = self.a.accept_packets if sc == "accept" else self.a.packets
        cmd = ["trafgen", "-o", f"s{self.rcv[cfg][1]}", "-c", self.path(f"{sc}-{cfg}.cfg"),
               "-n", str(n), "-P", "1", "--no-sock-mem", "-Q", "-C"]
        if sc == "accept":
            # Paced: at full speed the receiving stack falls behind and
            # the veth drops part of the packets.
            cmd += ["-b", f"{self.a.accept_rate}pps"]
        p0, d0 = self.tx_stats(cfg)
        t0 = lib.snapshot()
        lib.run(cmd, ns=self.snd)
        t1 = lib.snapshot()
        p1, d1 = self.tx_stats(cfg)
        d = lib.delta(t0, t1)
        r = {"ns_own": d["own"] * 1e9 / n, "ns_machine": d["machine"] * 1e9 / n,
             "wall_s": d["wall"], "packets": n, "veth_dropped": d1 - d0, "veth_sent": p1 - p0}
        if sc == "accept" and cfg in STATEFUL:
            r["entries_after"] = self.table_count(cfg)
            if r["entries_after"] < 0.98 * n:
                lib.log(f"datapath: WARNING: {cfg} kept {r['entries_after']} entries for {n} "
                        "new flows")
        if sc == "established" and cfg in STATEFUL:
            r["entries_after"] = self.table_count(cfg)
        lib.log(f"datapath: {sc:11s} {cfg:9s} {r['ns_own']:7.0f} ns/pkt own, "
                f"{r['ns_machine']:7.0f} machine, {d['wall']:.1f} s"
                + (f", {r['entries_after']} entries" if "entries_after" in r else "")
                + (f", {r['veth_dropped']} dropped by the veth" if r["veth_dropped"] else ""))
        return r

    def main(self):
        a = self.a
        if max(a.packets, a.accept_packets) > 200000:
            # The accept scenario puts 2M entries in nf_conntrack's table:
            # its limit and hash size (global, settable only in the initial
            # namespace) go up for the run, to xct's table size, and back
            # afterwards.
            lib.HostSysctl("net.netfilter.nf_conntrack_max", TABLE_SIZE)
            lib.HostSysctl("net.netfilter.nf_conntrack_buckets", TABLE_SIZE)
        self.setup()
        runs = {sc: {cfg: [] for cfg in SCENARIOS[sc]} for sc in SCENARIOS}
        for rep in range(a.repeats):
            for sc in SCENARIOS:
                cfgs = SCENARIOS[sc]
                # Rotate the order each round so that no configuration is
                # always first after a scenario change.
                k = rep % len(cfgs)
                for cfg in cfgs[k:] + cfgs[:k]:
                    runs[sc][cfg].append(self.one(sc, cfg))
        for cfg in STATEFUL:
            self.flush(cfg)
        res = {"packets": a.packets, "accept_packets": a.accept_packets,
               "accept_rate": a.accept_rate, "repeats": a.repeats, "set_size": a.set_size,
               "xdpfilter_size": a.xdpfilter_size, "flows": N_FLOWS, "table_size": TABLE_SIZE,
               "runs": runs,
               "trafgen_conf": {sc: trafgen_conf(1, sc).strip() for sc in SCENARIOS},
               "rules": {"nftables": nft_rules("..."), "xct": xct_rules("..."),
                         "iptables": IPT_RULES}}
        lib.write_json(a.out, res)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--xct", required=True)
    p.add_argument("--drop-obj", required=True)
    p.add_argument("--packets", type=int, default=2000000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--accept-packets", type=int, default=500000)
    p.add_argument("--accept-rate", type=int, default=150000)
    p.add_argument("--set-size", type=int, default=100000)
    p.add_argument("--xdpfilter-size", type=int, default=10000)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    Bench(a).main()


if __name__ == "__main__":
    main()
