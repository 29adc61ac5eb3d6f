# SPDX-License-Identifier: GPL-2.0-only
"""What loading the datapath costs: `xct attach` of two interfaces, and each
program's share of the verifier's budget.

Attach: RUNS times, a fresh state each time (its own pin directory, the
default table of 262,144 preallocated entries), `xct attach va vb` of the
two ends of a veth pair in a namespace; the CPU time of the command
(user + system, from wait4: the verifier runs in the command's system
call) and its wall time, medians and ranges.  The CPU time is the figure to
read on a shared machine: the wall time grows with whatever else runs.

Verifier: bench/verifier_cost -j loads the datapath object as xct does and
reports each program's processed instructions as the kernel counts them
(bpf_prog_info.verified_insns), against the limit of 1,000,000.

  load.py --xct build/xct --verifier-cost build/bench/verifier_cost \\
          [--runs N] [--out FILE.json] [--doc docs/BENCHMARKS.md]
  load.py --render FILE.json --doc docs/BENCHMARKS.md

The section between <!-- bench-load:begin --> and <!-- bench-load:end -->
in the document is written by this script.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

BEGIN, END = "<!-- bench-load:begin -->", "<!-- bench-load:end -->"
PIN_ROOT = "/sys/fs/bpf"


def timed(cmd):
    """Runs cmd; returns (user + system seconds, wall seconds).  Raises if
    it fails."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    err = p.stderr.read()
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {err.strip()[-2000:]}")
    return ru.ru_utime + ru.ru_stime, wall


def attach_runs(xct, runs):
    nss = lib.Namespaces()
    ns = nss.add("load")
    run_in = ["nsenter", f"--net=/run/netns/{ns}"]
    lib.run(["ip", "link", "add", "va", "type", "veth", "peer", "name", "vb"], ns=ns)
    lib.run(["ip", "link", "set", "va", "up"], ns=ns)
    lib.run(["ip", "link", "set", "vb", "up"], ns=ns)
    # nsenter keeps the host's mount namespace, and with it the host's bpffs
    # (ip netns exec would give the command a /sys of its own).
    pin = f"{PIN_ROOT}/xctb-load-{lib.TAG}"

    def clean():
        subprocess.run(run_in + [xct, "--pin-path", pin, "detach", "--all"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", pin])

    lib.on_exit(clean)
    cpu, wall = [], []
    for i in range(runs):
        c, w = timed(run_in + [xct, "--pin-path", pin, "attach", "va", "vb"])
        cpu.append(c)
        wall.append(w)
        lib.log(f"attach {i + 1}/{runs}: cpu {c:.3f} s, wall {w:.3f} s")
        clean()
    return {"cpu_s": cpu, "wall_s": wall}


def section(res):
    at = res["attach"]
    v = res["verifier"]
    limit = v["limit"]
    progs = v["programs"]
    total = sum(p["verified_insns"] for p in progs)
    cpu, wall = at["cpu_s"], at["wall_s"]
    out = [BEGIN, "## Loading: `xct attach` and the verifier (`bench/load.py`)\n"]
    out.append(
        f"`xct attach` of the two ends of a veth pair, each run from a fresh state "
        f"(the default table of 262,144 preallocated entries), {len(cpu)} runs: CPU time "
        f"(user + system) **{lib.median(cpu):.2f} s** ({min(cpu):.2f}-{max(cpu):.2f}), "
        f"wall time {lib.median(wall):.2f} s ({min(wall):.2f}-{max(wall):.2f}). "
        f"{res['load']}; the wall time grows with the machine's other work, the CPU "
        "time hardly.\n")
    out.append("Each program's processed instructions as the kernel counts them "
               "(`verified_insns`, after a load as xct makes it) against the verifier's "
               f"limit of {limit:,} per program:\n")
    out.append("| program | verified instructions | of the limit |")
    out.append("|---|---:|---:|")
    for p in progs:
        out.append(f"| {p['name']} | {p['verified_insns']:,} | "
                   f"{100.0 * p['verified_insns'] / limit:.1f}% |")
    out.append(f"| all {len(progs)} | {total:,} | |\n")
    out.append(f"Command: `{res['command']}`.  `tests/bpf` (`verifier_budget_*`) fails when "
               "a program takes more than half of the limit.\n")
    out.append(END + "\n")
    return "\n".join(out)


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
    p.add_argument("--verifier-cost")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--out", help="the raw results, as JSON")
    p.add_argument("--doc")
    p.add_argument("--render", metavar="JSON",
                   help="no measurement: write --doc's section from an earlier run's --out")
    a = p.parse_args()
    if a.render:
        with open(a.render) as f:
            res = json.load(f)
        if a.doc:
            write_doc(a.doc, res)
        return
    if not a.xct or not a.verifier_cost:
        p.error("--xct and --verifier-cost are needed to measure")
    if a.runs < 1:
        p.error("--runs must be at least 1")
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    res = {"load": f"Load average {load} when the run started",
           "command": " ".join(["/usr/bin/python3", "bench/load.py", "--xct", "build/xct",
                                "--verifier-cost", "build/bench/verifier_cost",
                                "--runs", str(a.runs)])}
    res["attach"] = attach_runs(os.path.abspath(a.xct), a.runs)
    res["verifier"] = json.loads(lib.out([os.path.abspath(a.verifier_cost), "-j"]))
    if a.out:
        lib.write_json(a.out, res)
    if a.doc:
        write_doc(a.doc, res)
    print(section(res))


if __name__ == "__main__":
    main()
