#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A flood that fills the table, against xct and against nf_conntrack with
# the same table size (the scenario is tests/e2e/flood_lib.sh; the e2e test
# runs it briefly).  Writes one JSON object with each side's figures.
#
#   bench/flood.sh --xct PATH --seconds S --out FILE [--conns N] [--host-hash-seconds S2]
#
# Sides: xct; nf_conntrack with nf_conntrack_max and the hash at the table
# size (the kernel's ratio); and, for S2 seconds (0: skipped),
# nf_conntrack_max at the table size over this host's hash.  The global
# nf_conntrack settings are restored after each nf_conntrack run and on
# any exit.
set -u
SECONDS_EACH=60
HOST_HASH_SECONDS=0
OUT=""
while [ $# -gt 0 ]; do
	case "$1" in
	--xct) XCT=$2; shift 2 ;;
	--seconds) SECONDS_EACH=$2; shift 2 ;;
	--conns) export FLOOD_CONNS=$2; shift 2 ;;
	--host-hash-seconds) HOST_HASH_SECONDS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	*)
		echo "bench/flood.sh: unknown argument '$1'" >&2
		exit 2
		;;
	esac
done
if [ -z "$OUT" ]; then
	echo "bench/flood.sh: --out FILE is required" >&2
	exit 2
fi
export XCT
source "$(dirname "$0")/../tests/e2e/lib.sh"
source "$(dirname "$0")/../tests/e2e/flood_lib.sh"

if ! flood_setup; then
	echo "bench/flood.sh: cannot set up the namespaces" >&2
	exit 1
fi
HOST_BUCKETS=$(sysctl -n net.netfilter.nf_conntrack_buckets)
echo "== flood: xct, ${SECONDS_EACH} s" >&2
flood_run xct "$SECONDS_EACH" "$FLOOD_WORK/r-xct.json" || exit 1
echo "== flood: nf_conntrack, ${SECONDS_EACH} s" >&2
flood_run nf "$SECONDS_EACH" "$FLOOD_WORK/r-nf.json" || exit 1
if [ "$HOST_HASH_SECONDS" -gt 0 ]; then
	echo "== flood: nf_conntrack over the host's hash, ${HOST_HASH_SECONDS} s" >&2
	FLOOD_NF_BUCKETS=$HOST_BUCKETS flood_run nf "$HOST_HASH_SECONDS" "$FLOOD_WORK/r-nfhost.json" ||
		exit 1
fi

"$PYTHON" - "$OUT" "$FLOOD_WORK" "$FLOOD_RATE" "$HOST_BUCKETS" "$FLOOD_WORK/rules.xct" \
	"$FLOOD_WORK/flood.trafgen" <<'PY'
import json, os, sys
out, work, rate, host_buckets, rules, conf = sys.argv[1:7]
nft = os.path.join(work, "rules.nft")
def load(name):
    p = os.path.join(work, name)
    return json.load(open(p)) if os.path.exists(p) else None
res = {"rate": int(rate), "host_buckets": int(host_buckets),
       "xct": load("r-xct.json"), "nf": load("r-nf.json"), "nf_host_hash": load("r-nfhost.json"),
       "rules_xct": open(rules).read(),
       "rules_nft": open(nft).read() if os.path.exists(nft) else "", "trafgen_conf": open(conf).read()}
json.dump(res, open(out, "w"), indent=1)
PY
