# SPDX-License-Identifier: GPL-2.0-only
"""What the benchmark scripts share: running commands in network namespaces
that are removed on exit (on failure and on a signal too), and the busy-CPU
meter.

The meter.  The method of ../shared/reference/machine.md counts the busy CPU
time of the whole machine during a run.  This machine is shared: other
engineers' builds and tests run beside the benchmark, and their CPU time
lands in that count.  So each run records two figures:

  own      the CPU time of the process tree the run started (RUSAGE_CHILDREN:
           trafgen, or the client and server programs, including the softirq
           work the kernel did in their context, which is where veth
           delivers) plus every kernel thread's (ksoftirqd, kworkers, RCU:
           deferred work such as nf_conntrack's collector and RCU frees);
  machine  the whole machine's busy time from /proc/stat (user, nice,
           system, irq, softirq; steal excluded), as machine.md does it.

On an idle machine the two agree within a few per cent; on a busy one only
"own" stays put, so the reports are computed from it and show both.
"""
import atexit
import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
TAG = f"{os.getpid() % 100000}"
VERBOSE = os.environ.get("XCT_BENCH_VERBOSE") == "1"


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


_cleanups = []


def on_exit(fn):
    """Registers fn to run at exit, last registered first."""
    _cleanups.append(fn)


def _run_cleanups():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # keep cleaning whatever failed
            log(f"cleanup: {e}")


atexit.register(_run_cleanups)


def _on_signal(signum, frame):
    sys.exit(128 + signum)


for _s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_s, _on_signal)


def run(cmd, ns=None, check=True, input=None, capture=False, timeout=None):
    """Runs cmd (a list), in network namespace ns if given.  Returns the
    CompletedProcess; stdout as text when capture."""
    if ns:
        cmd = ["ip", "netns", "exec", ns] + list(cmd)
    if VERBOSE:
        log("+ " + " ".join(str(c) for c in cmd))
    p = subprocess.run([str(c) for c in cmd], input=input, text=True, timeout=timeout,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(str(c) for c in cmd)}: exit {p.returncode}: "
                           f"{p.stderr.strip()[-2000:]}")
    return p


def out(cmd, ns=None, **kw):
    return run(cmd, ns=ns, capture=True, **kw).stdout


def sysctl(ns, *settings):
    run(["sysctl", "-qw"] + list(settings), ns=ns)


class Namespaces:
    """Network namespaces named xctb-<role>-<tag>, deleted at exit."""

    def __init__(self):
        self.names = []
        on_exit(self.delete_all)

    def add(self, role):
        name = f"xctb-{role}-{TAG}"
        run(["ip", "netns", "add", name])
        self.names.append(name)
        run(["ip", "link", "set", "lo", "up"], ns=name)
        # IPv6 off unless a benchmark asks for it: no MLD or router
        # solicitations in the middle of a measurement.
        sysctl(name, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        return name

    def delete_all(self):
        for name in reversed(self.names):
            subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)
        self.names = []


def veth(ns_a, name_a, mac_a, ns_b, name_b, mac_b):
    run(["ip", "link", "add", name_a, "netns", ns_a, "address", mac_a, "type", "veth",
         "peer", "name", name_b, "netns", ns_b, "address", mac_b])
    run(["ip", "link", "set", name_a, "up"], ns=ns_a)
    run(["ip", "link", "set", name_b, "up"], ns=ns_b)


class HostSysctl:
    """Sets a host (initial namespace) sysctl and restores it at exit: some
    of nf_conntrack's settings can only be changed there."""

    def __init__(self, key, value):
        path = "/proc/sys/" + key.replace(".", "/")
        with open(path) as f:
            self.old = f.read().strip()
        self.path = path
        if self.old == str(value):
            return
        on_exit(self.restore)
        with open(path, "w") as f:
            f.write(str(value))

    def restore(self):
        with open(self.path, "w") as f:
            f.write(self.old)


# ---- The meter ----

def _kthread_seconds():
    t = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        if p == "2" or fields[1] == "2":
            t += int(fields[11]) + int(fields[12])
    return t / CLK_TCK


def _machine_seconds():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / CLK_TCK


def _children_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# Orphans come back to us.  trafgen's worker process is sometimes left
# unreaped by its parent; it would then be reaped by init and its CPU time
# lost to RUSAGE_CHILDREN.  As a subreaper this process inherits it instead,
# and snapshot() reaps it first.
PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_orphans(max_s=30.0):
    """Waits for every child not reaped yet (orphaned descendants that were
    reparented to us), so that their CPU time is counted."""
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def snapshot():
    """Call with no child process of ours running, or it is waited for."""
    reap_orphans()
    return (_children_seconds(), _kthread_seconds(), _machine_seconds(), time.monotonic())


def delta(a, b):
    """Seconds of CPU between two snapshots: own, machine, wall."""
    return {"own": (b[0] - a[0]) + (b[1] - a[1]), "machine": b[2] - a[2], "wall": b[3] - a[3]}


def wait_quiet(max_s=15.0):
    """Waits until the kernel threads have stopped working off what the last
    run left (conntrack flushes, RCU frees of a big table): at most max_s.
    Other users' processes are not waited for: the meter leaves them out."""
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        a = _kthread_seconds()
        time.sleep(0.3)
        if _kthread_seconds() - a <= 0.02:
            return True
    return False


def median(xs):
    s = sorted(xs)
    n = len(s)
    if not n:
        return None
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def repo_dir():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
