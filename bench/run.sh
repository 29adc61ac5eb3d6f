#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# xct beside its peers, in one run: what `make bench` calls.
#
#   bench/run.sh            the full run (about 12 minutes on the 2-core
#                           machine); writes docs/BENCHMARKS.md
#   bench/run.sh --smoke    the same steps with tiny counts and one repeat
#                           (2-3 minutes), docs untouched: tests/bench runs
#                           it so that the benchmark cannot rot
#   bench/run.sh --only flood   steps 5 and 6 alone; rewrites only their
#                           section of docs/BENCHMARKS.md
#   bench/run.sh --only nat     step 7 alone (about 5 minutes); rewrites
#                           only its section
#   bench/run.sh --only owner   the owner step of 2 alone (under a minute);
#                           rewrites only its section
#   bench/run.sh --only ipfix   steps 8 and 10 alone; rewrites only their
#                           sections
#   bench/run.sh --only sync    step 9 alone (about 1 minute); rewrites
#                           only its section
#   bench/run.sh --only load    step 11 alone (under a minute); rewrites
#                           only its section
#
# Steps (each a script or program in bench/, results as JSON in a temporary
# directory, then bench/report.py writes the document):
#   1. datapath.py   per-packet cost on a veth pair, trafgen, 5 systems
#   2. prog_cost, rules_cost   the XDP program alone, BPF_PROG_TEST_RUN;
#      prog_cost events: what connection events cost, beside the datapath
#      before them (built from git); prog_cost owner: what recording
#      connection owners costs forwarded traffic, beside the datapath
#      before owners (built from git)
#   3. connrate.py   new TCP connections per second through a router
#   4. scale.py      a million connections: memory, lookups, listing
#   5. prog_cost evict   a new flow's cost in a full table (eviction)
#   6. flood.sh      a flood that fills the table: xct and nf_conntrack
#   7. nat.py        masqueraded and port-forwarded (dnat) flows through a
#                    router, both ways: xct and nftables; what a dnat rule
#                    costs the flows it does not translate, with prog_cost
#                    dnat (writes its own section of the document)
#   8. ipfix_rate    records per second the IPFIX exporter sustains from a
#                    synthetic event stream (no datapath), and its losses
#   9. connrate.py --configs xct,xct_sync,xct_sync_tcp   state sync: xctd's messages
#                    per second to an HA peer, and what they add to the
#                    primary's CPU per new connection
#  10. ipfix_e2e.py  the same exporter in xctd, end to end: connection ends
#                    of the real datapath (through the GC at a set rate, and
#                    a flush), through the events ring, to a collector
#  11. load.py       xct attach of two interfaces (CPU and wall time), and
#                    each program's verified instructions against the
#                    verifier's limit (writes its own section)
# Needs root; every namespace, mount and host setting it makes is undone
# on exit, on failure too.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
SMOKE=0
ONLY=""
DOC=docs/BENCHMARKS.md
while [ $# -gt 0 ]; do
	arg=$1
	shift
	case "$arg" in
	--smoke) SMOKE=1 ;;
	--only)
		ONLY=${1:-}
		shift || true
		if [ "$ONLY" != flood ] && [ "$ONLY" != nat ] && [ "$ONLY" != owner ] && [ "$ONLY" != ipfix ] && [ "$ONLY" != sync ] && [ "$ONLY" != load ]; then
			echo "bench/run.sh: --only takes 'flood', 'nat', 'owner', 'ipfix', 'sync' or 'load', not '$ONLY'" >&2
			exit 2
		fi
		;;
	-h | --help)
		sed -n '3,51p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench/run.sh: unknown argument '$arg'" >&2
		exit 2
		;;
	esac
done

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/run.sh: needs root (BPF, network namespaces)" >&2
	exit 1
fi
for tool in trafgen xdp-filter nft iptables-legacy ipset conntrack bpftool taskset curl /usr/bin/python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench/run.sh: $tool is missing (scripts/install-deps.sh installs it)" >&2
		exit 1
	fi
done
case "$BUILD" in
/*) ;;
*) BUILD=$PWD/$BUILD ;;
esac
XCT=$BUILD/xct
for bin in "$XCT" "$BUILD/bench/prog_cost" "$BUILD/bench/rules_cost" "$BUILD/bench/connrate" \
	"$BUILD/bench/verifier_cost" "$BUILD/bench/xdp_drop.bpf.o" "$BUILD/bench/ipfix_rate" "$BUILD/bench/ipfix_e2e" "$BUILD/xctd"; do
	if [ ! -e "$bin" ]; then
		echo "bench/run.sh: $bin is missing (make all builds it)" >&2
		exit 1
	fi
done
BENCH_BUILD=$BUILD/bench

# $XCT_BENCH_KEEP=DIR keeps the raw results (JSON) there.
if [ -n "${XCT_BENCH_KEEP:-}" ]; then
	OUT=$XCT_BENCH_KEEP
	mkdir -p "$OUT"
else
	OUT=$(mktemp -d /tmp/xctb-results.XXXXXX)
	trap 'rm -rf "$OUT"' EXIT
fi
export PYTHONDONTWRITEBYTECODE=1
# The system's Python, not a wrapper (a pyenv shim is a shell script that
# would take a signal meant for the benchmark and leave it running).
PYTHON=${PYTHON:-/usr/bin/python3}

if [ "$SMOKE" = 1 ]; then
	Q=-q
	DP_ARGS=(--packets 20000 --accept-packets 5000 --repeats 1 --set-size 1000 --xdpfilter-size 1000)
	CR_ARGS=(--seconds 0.5 --repeats 1)
	SY_ARGS=(--seconds 0.5 --repeats 1)
	SC_ARGS=(--entries 5000 --max-entries 8192 --quick --list-times 1)
	FL_ARGS=(--seconds 2 --conns 20 --host-hash-seconds 0)
	NAT_ARGS=(--packets 20000 --repeats 1 --quick)
	IE_ARGS=(--conns 20000 --gc-rate 20000 --gc-seconds 1 --rounds 1)
	LD_ARGS=(--runs 1)
else
	Q=
	DP_ARGS=(--packets 2000000 --accept-packets 500000 --repeats 3)
	CR_ARGS=(--seconds 4 --repeats 3)
	SY_ARGS=(--seconds 4 --repeats 5)
	SC_ARGS=(--entries 1000000 --max-entries 1048576 --list-times 3)
	FL_ARGS=(--seconds 60 --conns 200 --host-hash-seconds 20)
	NAT_ARGS=(--packets 1000000 --repeats 3 --doc "$DOC")
	IE_ARGS=(--conns 200000 --gc-rate 120000 --gc-seconds 8 --rounds 3 --ring-sizes 0,4194304)
	LD_ARGS=(--runs 7 --doc "$DOC")
fi

CHILD=
on_signal() {
	if [ -n "$CHILD" ]; then
		kill -TERM "$CHILD" 2>/dev/null
		wait "$CHILD" 2>/dev/null
	fi
	exit 130
}
trap on_signal INT TERM HUP

COMMANDS=()
START=$SECONDS
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# step NAME CMD...: runs one step, its stdout to $OUT/NAME, timed.
step() {
	local name=$1 t0=$SECONDS
	shift
	echo "== $name: ${*/#$PWD\//}" >&2
	local cmd="${*//$PWD\//}"
	COMMANDS+=("${cmd//$OUT/RESULTS}")
	# In the background, so that a signal reaches the step (which then
	# removes its namespaces and restores what it changed) and not only us.
	"$@" >"$OUT/$name" &
	CHILD=$!
	wait "$CHILD"
	CHILD=
	echo "== $name: $((SECONDS - t0)) s" >&2
}

# build_datapath_of REV NAME [CLANG_FLAG...]: the datapath of commit REV,
# from git, as $OUT/NAME.bpf.o, to measure today's beside it; false when
# the tree has no history to take it from.
build_datapath_of() {
	local rev=$1 name=$2
	shift 2
	git rev-parse -q --verify "$rev^{commit}" >/dev/null 2>&1 || return 1
	mkdir -p "$OUT/$name"
	git archive "$rev" bpf include | tar -x -C "$OUT/$name"
	(cd "$OUT/$name" &&
		clang -O2 -g -target bpf -D__TARGET_ARCH_"$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')" \
			-Iinclude -Ibpf -I/usr/include/"$(gcc -print-multiarch)" "$@" \
			-c bpf/xct.bpf.c -o "$OUT/$name.bpf.o") ||
		{ echo "bench/run.sh: cannot build the datapath of $rev" >&2; exit 1; }
}

if [ -z "$ONLY" ]; then
	step prog.json "$BENCH_BUILD/prog_cost" $Q
	step rules_cost.md "$BENCH_BUILD/rules_cost" $Q
	step ipfix.json "$BENCH_BUILD/ipfix_rate" $Q
	# The datapath before connection events (commit 99614cb), from git,
	# for what they cost.  It asked XDP for metadata, which some kernels'
	# XDP does not offer: built here as a driver without metadata runs it
	# (the helper answering -EOPNOTSUPP), which the measured paths never
	# reach.
	if build_datapath_of 99614cb before-ct-events '-Dbpf_xdp_adjust_meta(ctx, delta)=(-95)'; then
		step ct_events.json "$BENCH_BUILD/prog_cost" events "$OUT/before-ct-events.bpf.o" $Q
	else
		echo "bench/run.sh: no git history: connection events' cost not measured" >&2
	fi
fi
# The datapath before connection owners (commit 6c79918), from git, for
# what recording them costs the traffic that has none.
if [ -z "$ONLY" ] || [ "$ONLY" = owner ]; then
	if build_datapath_of 6c79918 before-owner; then
		step owner.json "$BENCH_BUILD/prog_cost" owner "$OUT/before-owner.bpf.o" $Q
	else
		echo "bench/run.sh: no git history: the cost of recording owners not measured" >&2
	fi
fi
if [ -z "$ONLY" ]; then
	step datapath.log "$PYTHON" bench/datapath.py --xct "$XCT" --drop-obj "$BENCH_BUILD/xdp_drop.bpf.o" \
		"${DP_ARGS[@]}" --out "$OUT/datapath.json"
	step connrate.log "$PYTHON" bench/connrate.py --xct "$XCT" --connrate "$BENCH_BUILD/connrate" \
		--xdp-obj "$BENCH_BUILD/xdp_drop.bpf.o" "${CR_ARGS[@]}" --out "$OUT/connrate.json"
	step scale.log "$PYTHON" bench/scale.py --xct "$XCT" --prog-cost "$BENCH_BUILD/prog_cost" \
		--drop-obj "$BENCH_BUILD/xdp_drop.bpf.o" "${SC_ARGS[@]}" --out "$OUT/scale.json"
fi
if [ -z "$ONLY" ] || [ "$ONLY" = nat ]; then
	step nat.log "$PYTHON" bench/nat.py --xct "$XCT" --drop-obj "$BENCH_BUILD/xdp_drop.bpf.o" \
		--prog-cost "$BENCH_BUILD/prog_cost" "${NAT_ARGS[@]}" --out "$OUT/nat.json"
fi
if [ "$ONLY" = ipfix ]; then
	step ipfix.json "$BENCH_BUILD/ipfix_rate" $Q
fi
if [ -z "$ONLY" ] || [ "$ONLY" = sync ]; then
	step sync.log "$PYTHON" bench/connrate.py --xct "$XCT" --xctd "$BUILD/xctd" \
		--connrate "$BENCH_BUILD/connrate" --xdp-obj "$BENCH_BUILD/xdp_drop.bpf.o" \
		--configs xct,xct_sync,xct_sync_tcp "${SY_ARGS[@]}" --out "$OUT/sync.json"
fi
if [ -z "$ONLY" ] || [ "$ONLY" = ipfix ]; then
	step ipfix_e2e.log "$PYTHON" bench/ipfix_e2e.py --xct "$XCT" --xctd "$BUILD/xctd" \
		--tool "$BENCH_BUILD/ipfix_e2e" "${IE_ARGS[@]}" --out "$OUT/ipfix_e2e.json"
fi
if [ -z "$ONLY" ] || [ "$ONLY" = load ]; then
	step load.log "$PYTHON" bench/load.py --xct "$XCT" --verifier-cost "$BENCH_BUILD/verifier_cost" \
		"${LD_ARGS[@]}" --out "$OUT/load.json"
fi
if [ -z "$ONLY" ] || [ "$ONLY" = flood ]; then
	step evict.json "$BENCH_BUILD/prog_cost" evict $Q
	step flood.log bench/flood.sh --xct "$XCT" "${FL_ARGS[@]}" --out "$OUT/flood.json"
fi
TOTAL=$((SECONDS - START))

# What ran where, for the document.
ver() { "$@" 2>&1 | head -1 | tr -s ' ' | cut -c1-60; }
"$PYTHON" - "$OUT/meta.json" "$TOTAL" "$LOAD_START" "${COMMANDS[@]}" <<EOF
import json, sys, datetime, os, subprocess
out, total, load, cmds = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
mem = [l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")][0]
rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
meta = {
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "machine": f"{os.cpu_count()} CPUs, {int(mem) // 1048576} GiB",
    "cpu": cpu[0] if cpu else "unknown",
    "memory": f"{int(mem) // 1024:,} MiB",
    "kernel": os.uname().release,
    "os": open("/etc/debian_version").read().strip().join(["Debian ", ""]) if os.path.exists("/etc/debian_version") else "unknown",
    "xct": f"$("$XCT" version 2>&1 | head -1), tree at {rev} (with uncommitted work of the day)",
    "peers": "$(ver nft --version); $(ver iptables-legacy --version); $(ver xdp-filter load --version); $(ver trafgen -v | cut -d, -f1); $(ver conntrack --version); $(ver ipset --version)",
    "load": f"load average {load} when the run started (other engineers' work shares the machine)",
    "total": f"{total} s for the whole run",
    "commands": cmds,
}
json.dump(meta, open(out, "w"), indent=1)
EOF

if [ "$SMOKE" = 1 ]; then
	# The generator too, on the smoke figures, into a scratch copy.
	cp "$DOC" "$OUT/doc.md" 2>/dev/null || true
	"$PYTHON" bench/report.py "$OUT" "$OUT/doc.md"
	grep -q '<!-- bench:end -->' "$OUT/doc.md"
	grep -q '<!-- bench:ipfix-e2e:end -->' "$OUT/doc.md"
	if [ -e "$OUT/nat.json" ]; then
		"$PYTHON" bench/nat.py --render "$OUT/nat.json" --doc "$OUT/doc.md"
		grep -q '<!-- bench-nat:end -->' "$OUT/doc.md"
	fi
	if [ -e "$OUT/load.json" ]; then
		"$PYTHON" bench/load.py --render "$OUT/load.json" --doc "$OUT/doc.md"
		grep -q '<!-- bench-load:end -->' "$OUT/doc.md"
	fi
	echo "bench/run.sh --smoke: every step ran, in $TOTAL s" >&2
else
	"$PYTHON" bench/report.py "$OUT" "$DOC"
	echo "bench/run.sh: $DOC written; the run took $TOTAL s" >&2
fi
