#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Item 4 of the benchmark: a table of a million connections.

xct      bench/prog_cost fill creates ENTRIES established TCP connections
         (SYN, SYN-ACK, ACK each, run through the XDP program with
         BPF_PROG_TEST_RUN) in a table of MAX entries pinned on a private
         bpffs, and times lookups at 1,000 and at ENTRIES entries.  Memory:
         the map's memlock as bpftool shows it (for a BPF_F_NO_PREALLOC
         hash the kernel counts the bucket array plus each element in use,
         key + value + its header), cross-checked with the growth of the
         kernel's unreclaimable slab and vmalloc use.
nf_conntrack
         trafgen sends SYNs from random sources through a router namespace
         with an nft ct rule until the table holds ENTRIES connections
         (SYN_SENT; the limit and the hash size are raised on the host for
         the run, then restored).  Memory: the nf_conntrack slab's objects,
         the growth of the unreclaimable slab (objects plus their extension
         areas), plus the hash buckets (8 bytes each).

Then `xct ct list > /dev/null` and `conntrack -L > /dev/null` are timed on
the full tables.
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402


def meminfo():
    m = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            m[k] = int(v.split()[0]) * 1024
    return m


def kernel_bytes(m):
    return m["SUnreclaim"] + m["VmallocUsed"] + m.get("Percpu", 0)


def slab(name):
    with open("/proc/slabinfo") as f:
        for line in f:
            p = line.split()
            if p and p[0] == name:
                return {"active": int(p[1]), "objects": int(p[2]), "objsize": int(p[3])}
    return {"active": 0, "objects": 0, "objsize": 0}


def timed(cmd, ns=None, times=3):
    """Wall seconds of cmd with its output thrown away: the median."""
    ts = []
    for _ in range(times):
        t0 = time.monotonic()
        lib.run(cmd, ns=ns)
        ts.append(time.monotonic() - t0)
    return lib.median(ts), ts


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="xctb-sc.")
        lib.on_exit(lambda: lib.run(["rm", "-rf", self.tmp], check=False))
        self.nss = lib.Namespaces()

    def xct_part(self):
        a = self.a
        root = os.path.join(self.tmp, "bpffs")
        os.mkdir(root)
        lib.run(["mount", "-t", "bpf", "bpf", root])
        lib.on_exit(lambda: lib.run(["umount", "-l", root], check=False))
        pin = root + "/xct"
        lib.on_exit(lambda: lib.run(["rm", "-rf", pin], check=False))
        lib.wait_quiet()
        m0 = meminfo()
        cmd = [a.prog_cost, "fill", pin, a.entries, a.max_entries] + (["-q"] if a.quick else [])
        r = json.loads(lib.out(cmd))
        m1 = meminfo()
        info = json.loads(lib.out(["bpftool", "-j", "map", "show", "pinned", pin + "/xct_ct"]))
        r["memlock"] = info.get("bytes_memlock")
        r["kernel_growth"] = kernel_bytes(m1) - kernel_bytes(m0)
        r["count"] = int(lib.out([a.xct, "--pin-path", pin, "ct", "count"]).strip())
        # xct ct list prints its summary on stderr, which run() captures.
        r["list_s"], r["list_runs"] = timed(["sh", "-c", f"{a.xct} --pin-path {pin} ct list "
                                             ">/dev/null"], times=a.list_times)
        r["list_cmd"] = "xct --pin-path DIR ct list > /dev/null"
        lib.run(["rm", "-rf", pin])
        lib.log(f"scale: xct {r['count']} entries, memlock {r['memlock']} B "
                f"({r['memlock'] / max(r['count'], 1):.0f} B/entry), list {r['list_s']:.2f} s")
        return r

    def nf_part(self):
        a = self.a
        buckets = 1 << (max(a.entries, 1) - 1).bit_length()
        lib.HostSysctl("net.netfilter.nf_conntrack_max", max(262144, a.entries + a.entries // 4))
        lib.HostSysctl("net.netfilter.nf_conntrack_buckets", max(262144, buckets))
        with open("/proc/sys/net/netfilter/nf_conntrack_buckets") as f:
            buckets = int(f.read())
        with open("/proc/sys/net/netfilter/nf_conntrack_max") as f:
            ct_max = int(f.read())
        g = self.nss.add("gen")
        r_ = self.nss.add("ctr")
        s = self.nss.add("sink")
        lib.veth(g, "g0", "02:78:64:00:01:02", r_, "rg", "02:78:64:00:01:01")
        lib.veth(s, "k0", "02:78:64:00:02:02", r_, "rk", "02:78:64:00:02:01")
        lib.run(["ip", "addr", "add", "10.253.1.1/24", "dev", "rg"], ns=r_)
        lib.run(["ip", "addr", "add", "10.253.2.1/24", "dev", "rk"], ns=r_)
        lib.run(["ip", "addr", "add", "10.253.1.2/24", "dev", "g0"], ns=g)
        lib.run(["ip", "addr", "add", "10.253.2.2/24", "dev", "k0"], ns=s)
        lib.run(["ip", "route", "add", "10.100.0.0/16", "via", "10.253.1.2"], ns=r_)
        lib.run(["ip", "neigh", "replace", "10.253.2.2", "lladdr", "02:78:64:00:02:02", "dev",
                 "rk", "nud", "permanent"], ns=r_)
        lib.sysctl(r_, "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                   "net.ipv4.conf.default.rp_filter=0", "net.ipv4.conf.rg.rp_filter=0")
        # The sink drops everything in XDP: no answer comes back.
        lib.run(["ip", "link", "set", "dev", "k0", "xdpdrv", "obj", a.drop_obj, "sec", "xdp",
                 "program", "xdp_drop_all"], ns=s)
        lib.run(["nft", "-f", "-"], ns=r_, input="table inet xctb {\n\tchain pre {\n"
                "\t\ttype filter hook prerouting priority 0; policy accept;\n"
                "\t\tct state new counter\n\t}\n}\n")
        conf = os.path.join(self.tmp, "syn.cfg")
        with open(conf, "w") as f:
            f.write("{ eth(da=02:78:64:00:01:01, sa=02:78:64:00:01:02), "
                    "ipv4(saddr=10.100.0.0, saddr[2]=drnd(), saddr[3]=drnd(), "
                    "daddr=10.253.2.2, ttl=64), "
                    "tcp(sp=drnd(1024, 65535), dp=443, syn, seq=drnd(), win=65535) }\n")
        lib.run(["conntrack", "-F"], ns=r_, check=False)
        lib.wait_quiet()
        s0, m0 = slab("nf_conntrack"), meminfo()
        count, sent = 0, 0
        for _ in range(8):
            need = a.entries - count
            if need <= 0:
                break
            n = need + need // 50 + 16
            lib.run(["trafgen", "-o", "g0", "-c", conf, "-n", n, "-P", "1", "--no-sock-mem",
                     "-Q", "-C"], ns=g)
            sent += n
            time.sleep(0.2)
            count = int(lib.out(["conntrack", "-C"], ns=r_).strip() or 0)
        s1, m1 = slab("nf_conntrack"), meminfo()
        r = {"count": count, "sent": sent, "buckets": buckets, "max": ct_max, "slab_before": s0, "slab_after": s1,
             "kernel_growth": kernel_bytes(m1) - kernel_bytes(m0),
             "sunreclaim_growth": m1["SUnreclaim"] - m0["SUnreclaim"],
             "trafgen_conf": open(conf).read().strip()}
        r["slab_bytes"] = (s1["objects"] - s0["objects"]) * s1["objsize"]
        r["list_s"], r["list_runs"] = timed(["sh", "-c", "conntrack -L >/dev/null 2>&1"], ns=r_,
                                            times=a.list_times)
        r["list_cmd"] = "conntrack -L > /dev/null"
        after = int(lib.out(["conntrack", "-C"], ns=r_).strip() or 0)
        r["count_after_listing"] = after
        lib.run(["conntrack", "-F"], ns=r_, check=False)
        lib.log(f"scale: nf_conntrack {count} entries ({sent} SYNs), slab objects "
                f"{r['slab_bytes'] / max(count, 1):.0f} B/entry, unreclaimable slab "
                f"{r['sunreclaim_growth'] / max(count, 1):.0f} B/entry, list {r['list_s']:.2f} s")
        return r

    def main(self):
        res = {"entries": self.a.entries, "max_entries": self.a.max_entries,
               "xct": self.xct_part(), "nf_conntrack": self.nf_part()}
        lib.write_json(self.a.out, res)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--xct", required=True)
    p.add_argument("--prog-cost", required=True)
    p.add_argument("--drop-obj", required=True)
    p.add_argument("--entries", type=int, default=1000000)
    p.add_argument("--max-entries", type=int, default=1048576)
    p.add_argument("--list-times", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", required=True)
    Bench(p.parse_args()).main()


if __name__ == "__main__":
    main()
