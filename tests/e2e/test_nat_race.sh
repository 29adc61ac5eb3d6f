#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# NAT under many connection attempts at one instant, on both CPUs, with
# real TCP and UDP through the router.
#
#   client  (10.231.1.2) --+
#   client2 (10.231.3.2) --+-- router (snat to 10.231.2.1:20000-20199, -- server (10.231.2.2,
#   client3 (10.231.4.2) --+           dnat to { backends })               10.231.2.3)
#
# Each client runs two agents (nat_race_agent.py), pinned to CPU 0 and
# CPU 1, real-time, that bind their sockets first and connect them all
# back to back at one instant, the six agents at once.  Each client link
# has a queue per CPU, so the router takes each CPU's packets on that CPU:
# the connect() loops on the two CPUs overlap, and each CPU translates
# exactly its own agents' connections (nat_bound per CPU).  The clients use the same source
# ports, inside the translated range: every connection first asks for its
# own port, so three clients ask for each port at the same instant.  The
# agents keep their connections open.
#
#   1. 360 attempts for the 200 ports of an snat range: exactly 200 are
#      translated, all to distinct ports of the range; the server saw
#      exactly xct's reply tuples; the other 160 are refused, each counted
#      once as nat_no_tuple; both CPUs translated at once; the 200 are ESTABLISHED
#      and echo after the refusals;
#   2. half of them closed and their entries deleted: a second wave gets
#      exactly the freed ports, no more, the rest refused and counted;
#   3. the same for UDP: 360 sockets each send one datagram, exactly 200
#      are answered, from xct's reply tuples, the other 160 counted;
#   4. dnat to two backends from three public ports: a client's source
#      port to two public ports is two connections on the two backends
#      (a clash moves to the other backend, never onto the same tuple),
#      to three public ports one is refused and counted; every connection
#      reaches the backend xct names and echoes intact.
#
# A refused attempt's SYN is dropped at the router: the client would
# retransmit it, and each retransmission would be counted again.  The
# clients' output lets the first SYN of a tuple through and drops its
# retransmissions, so that an attempt crosses the router once and the
# counts are exact.
# Each check prints its own ok / not ok line.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
# test_nat.sh's helpers (add_client, nat_cleanup), without its checks.
NAT_FUNCTIONS_ONLY=1 source "$(dirname "${BASH_SOURCE[0]}")/test_nat.sh"

AGENT="$E2E_DIR/nat_race_agent.py"
S4B=10.231.2.3 # the server's second address: the second dnat backend
P_SNAT=7100    # the server port of the snat waves
P_UDP=7101     # ... and of the UDP one
P_PUB=8090     # public ports 8090-8092, forwarded to the backends' P_DNAT
P_DNAT=7090
PORT_LO=20000 # the snat range
PORT_HI=20199
CLIENTS=""      # the client namespaces, in the order agents are started
CLIENT_ADDRS=() # their addresses, in the same order
AGENT_IDX=0  # agents started so far (unique file names)
AGENT_OPTS="" # --udp for datagram agents
WAVE_PROTO=tcp # the protocol and server port of the snat wave checked
WAVE_PORT=$P_SNAT
AGENT_SOCKS=()
AGENT_PIDS=()

fail_setup() {
	echo "not ok nat_race_setup ($*)"
	exit 1
}

# Python over the JSON answers: pyjson 'EXPR-PROGRAM' ARGS... with the
# program reading the files it is given.
pyjson() {
	"$PYTHON" -c "import json, sys
$1" "${@:2}"
}

# two_queues NS VETH RVETH ADDR RADDR: the client's link again, with a
# queue per CPU: what a CPU sends goes out by its own queue (XPS) and is
# received by the router's queue of the same number, whose NAPI, and so
# the XDP and NAT programs, runs on the sending CPU.  With one queue, the
# router takes a client's packets from both CPUs on whichever CPU has its
# NAPI scheduled.
two_queues() {
	local ns=$1 veth=$2 rveth=$3 addr=$4 raddr=$5
	in_ns "$ns" ip link del "$veth" || return 1
	ip link add "$veth" netns "$ns" numtxqueues 2 numrxqueues 2 type veth \
		peer name "$rveth" netns "$NS_R" numtxqueues 2 numrxqueues 2 || return 1
	in_ns "$ns" ip addr add "$addr/24" dev "$veth" &&
		in_ns "$ns" ip link set "$veth" up &&
		in_ns "$NS_R" ip addr add "$raddr/24" dev "$rveth" &&
		in_ns "$NS_R" ip link set "$rveth" up &&
		in_ns "$ns" ip route add default via "$raddr" &&
		in_ns "$ns" sh -c "echo 1 >/sys/class/net/$veth/queues/tx-0/xps_cpus &&
			echo 2 >/sys/class/net/$veth/queues/tx-1/xps_cpus" || return 1
	poll 10 in_ns "$ns" ping -c 1 -W 1 "$raddr"
}

# Client output: the first SYN of each tuple leaves, its retransmissions
# do not (see the top of the file).
one_syn_each() {
	in_ns "$1" nft -f - <<-'EOF'
		table inet natrace {
			set syn_seen {
				type ipv4_addr . inet_service . inet_service
				flags dynamic
				size 65535
			}
			chain out {
				type filter hook output priority 0; policy accept;
				tcp flags & (syn | ack) == syn ip daddr . tcp sport . tcp dport @syn_seen counter drop
				tcp flags & (syn | ack) == syn add @syn_seen { ip daddr . tcp sport . tcp dport }
			}
		}
	EOF
}

start_server() {
	ip netns exec "$NS_S" "$PYTHON" "$AGENT" server --listen "$S4:$P_SNAT" \
		--listen "$S4:$P_DNAT" --listen "$S4B:$P_DNAT" --listen-udp "$S4:$P_UDP" \
		--ctl "$WORK/server.sock" \
		2>"$WORK/server.err" &
	BG_PIDS+=($!)
	poll 10 test -S "$WORK/server.sock"
}

ctl() {
	"$PYTHON" "$AGENT" ctl "$@"
}

# start_agents DST CONNS0 CONNS1: two agents per client, on CPU 0 with
# the --conns of CONNS0, on CPU 1 with CONNS1; all bound and waiting when
# it returns.  AGENT_SOCKS and AGENT_PIDS are theirs.
start_agents() {
	local dst=$1 c0=$2 c1=$3 ns cpu conns i
	AGENT_SOCKS=()
	AGENT_PIDS=()
	for ns in $CLIENTS; do
		for cpu in 0 1; do
			conns=$c0
			[ "$cpu" = 1 ] && conns=$c1
			i=$((AGENT_IDX++))
			# shellcheck disable=SC2086 # conns is a list of --conns options
			ip netns exec "$ns" taskset -c "$cpu" "$PYTHON" "$AGENT" client --dst "$dst" \
				$AGENT_OPTS $conns --ctl "$WORK/a$i.sock" --ready "$WORK/a$i.ready" --go "$WORK/go" \
				2>"$WORK/a$i.err" &
			BG_PIDS+=($!)
			AGENT_SOCKS+=("$WORK/a$i.sock")
			poll 20 test -s "$WORK/a$i.ready" || return 1
			AGENT_PIDS+=("$(cat "$WORK/a$i.ready")")
		done
	done
}

# All at once: the six agents wake at one instant, 200 ms from now.
fire() {
	"$PYTHON" -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC) + 200000000)' \
		>"$WORK/go" &&
		kill -USR1 "${AGENT_PIDS[@]}"
}

stats_json() {
	xct_r -j ct stats
}

# nat_counts BEFORE NOW: "nat_bound_cpu0 nat_bound_cpu1 nat_no_tuple"
# increases between two `ct stats -j` answers.
nat_counts() {
	pyjson '
a, b = (json.load(open(f)) for f in sys.argv[1:3])
bound = [b["cpus"][i]["nat_bound"] - a["cpus"][i]["nat_bound"] for i in range(2)]
print(bound[0], bound[1], b["reasons"]["nat_no_tuple"] - a["reasons"]["nat_no_tuple"])
' "$1" "$2"
}

# settled TOTAL BEFORE: every attempt of the wave is either connected at its
# client or counted as nat_no_tuple at the router.
settled() {
	local total=$1 before=$2 conn refused
	stats_json >"$WORK/now.json" || return 1
	refused=$(nat_counts "$before" "$WORK/now.json" | awk '{print $3}')
	conn=$(ctl state "${AGENT_SOCKS[@]}" | pyjson 'print(sum(json.loads(l)["connected"] for l in sys.stdin))')
	[ $((conn + refused)) -ge "$total" ]
}

# The translated connections to the wave's server port, from xct: one
# JSON list of [reply dst, reply dport, orig src, orig sport, TCP state].
snat_conns() {
	xct_r ct list -o json -p "$WAVE_PROTO" --src-nat --dport "$WAVE_PORT" 2>/dev/null | pyjson '
print(json.dumps(sorted([c["reply"]["dst"], c["reply"]["dport"], c["orig"]["src"],
                         c["orig"]["sport"], c.get("state", "")] for c in json.load(sys.stdin))))'
}

# check_wave NAME TRANSLATED CONNECTED ATTEMPTS BEFORE
# The end of one snat wave: xct's translated tuples (TRANSLATED of them,
# this wave's and those kept from before) are distinct, in the range, and
# the same set as the server's open connections (its UDP peers, for a
# UDP wave); each of the wave's
# ATTEMPTS is connected at its client (CONNECTED of them) or refused and
# counted once.
check_wave() {
	local name=$1 total=$2 want=$3 attempts=$4 before=$5 out b0 b1 refused
	poll 30 settled "$attempts" "$before"
	result "${name}_settled" $? "not all attempts connected or counted in 30 s"
	stats_json >"$WORK/after.json"
	snat_conns >"$WORK/xct.json"
	if [ "$WAVE_PROTO" = tcp ]; then
		ctl open "$WORK/server.sock" >"$WORK/server.json"
	else
		ctl udp "$WORK/server.sock" >"$WORK/server.json"
	fi
	ctl state "${AGENT_SOCKS[@]}" >"$WORK/agents.json"
	out=$(pyjson '
xct = json.load(open(sys.argv[1]))
server = [c for c in json.load(open(sys.argv[2])) if c[3] == int(sys.argv[4])]
want, lo, hi, raddr = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
bad = []
tuples = [(c[0], c[1]) for c in xct]
if len(set(tuples)) != len(tuples):
    bad.append("duplicate translated tuples in xct: %d of %d distinct" % (len(set(tuples)), len(tuples)))
if len(tuples) != want:
    bad.append("xct translated %d connections, not %d" % (len(tuples), want))
out = [t for t in tuples if t[0] != raddr or not lo <= t[1] <= hi]
if out:
    bad.append("translated outside %s:%d-%d: %s" % (raddr, lo, hi, out[:5]))
peers = [(c[0], c[1]) for c in server]
if len(set(peers)) != len(peers) or set(peers) != set(tuples):
    bad.append("the server has %d open (%d distinct), xct %d; only in xct %s, only at the server %s" %
               (len(peers), len(set(peers)), len(tuples), sorted(set(tuples) - set(peers))[:5],
                sorted(set(peers) - set(tuples))[:5]))
print("; ".join(bad))
sys.exit(1 if bad else 0)
' "$WORK/xct.json" "$WORK/server.json" "$WORK/agents.json" "$WAVE_PORT" "$total" \
		"$PORT_LO" "$PORT_HI" "$R4S")
	result "${name}_tuples_distinct" $? "$out"
	# Refused attempts: pending at their clients (the SYN or datagram
	# dropped), each counted once; the others connected (answered).  Every translation is counted
	# once too (nat_bound).
	read -r b0 b1 refused < <(nat_counts "$before" "$WORK/after.json")
	out=$(pyjson '
st = [json.loads(l) for l in open(sys.argv[1])]
conn = sum(s["connected"] for s in st)
pend = sum(s["pending"] for s in st)
fail = sum(s["failed"] for s in st)
want, attempts, refused, bound = (int(x) for x in sys.argv[2:6])
print("connected %d pending %d failed %d; nat_no_tuple +%d nat_bound +%d (want %d connected, %d refused)" %
      (conn, pend, fail, refused, bound, want, attempts - want))
sys.exit(0 if conn == want == bound and pend == refused == attempts - want and fail == 0 else 1)
' "$WORK/agents.json" "$want" "$attempts" "$refused" $((b0 + b1)))
	result "${name}_refused_counted" $? "$out"
	echo "# $name: $out; nat_bound on cpu0 +$b0, cpu1 +$b1"
	# The clashes: three clients asked for each of their ports.
	pyjson '
xct = json.load(open(sys.argv[1]))
print("# %d connections kept their own port, %d were moved to another" %
      (sum(c[1] == c[3] for c in xct), sum(c[1] != c[3] for c in xct)))' "$WORK/xct.json"
}

# The agents on CPU 0 and CPU 1 were calling connect() at the same time,
# and each CPU translated exactly the connections of its own agents: the
# router took each CPU's packets on that CPU (two_queues), so the two CPUs
# were allocating from the one range at once.
check_two_cpus() {
	local name=$1 b0 b1 refused out
	read -r b0 b1 refused < <(nat_counts "$2" "$WORK/after.json")
	out=$(pyjson '
st = [json.loads(l) for l in open(sys.argv[1])]
bound = [int(sys.argv[2]), int(sys.argv[3])]
spans, conn = {0: [], 1: []}, [0, 0]
for s in st:
    if len(s["cpus"]) != 1:
        print("agent not pinned: cpus %s" % s["cpus"]); sys.exit(1)
    spans[s["cpus"][0]].append((s["first"], s["last"]))
    conn[s["cpus"][0]] += s["connected"]
if not spans[0] or not spans[1]:
    print("agents on CPU 0: %d, on CPU 1: %d" % (len(spans[0]), len(spans[1]))); sys.exit(1)
# Some agent on CPU 0 and some on CPU 1 were inside their connect() loops
# at one instant.
overlap = max(min(a[1], b[1]) - max(a[0], b[0]) for a in spans[0] for b in spans[1])
print("longest overlap of connect() loops on the two CPUs: %d us; connected from CPU 0 %d, "
      "CPU 1 %d; nat_bound on CPU 0 +%d, CPU 1 +%d" % (overlap // 1000, conn[0], conn[1], bound[0], bound[1]))
sys.exit(0 if overlap > 0 and conn == bound and all(bound) else 1)
' "$WORK/agents.json" "$b0" "$b1")
	result "${name}_two_cpus" $? "$out"
	echo "# $name: $out"
}

# Every connected socket echoes a payload of its own, byte for byte, and
# its greeting (what the server saw) is the translated tuple xct shows.
check_echo() {
	local name=$1 want=$2 out
	ctl echo "${AGENT_SOCKS[@]}" >"$WORK/echo.json"
	out=$(pyjson '
ans = [json.loads(l) for l in open(sys.argv[1])]
ok = sum(a.get("ok", 0) for a in ans)
bad = [b for a in ans for b in a.get("bad", [a.get("error")])]
print("%d echoed intact, %d bad %s" % (ok, len(bad), bad[:3]))
sys.exit(0 if ok == int(sys.argv[2]) and not bad else 1)
' "$WORK/echo.json" "$want")
	result "${name}_echo" $? "$out"
}

time_wait_is() {
	[ "$(xct_r ct list -p tcp --src-nat --dport "$P_SNAT" --state TIME_WAIT 2>/dev/null | wc -l)" = "$1" ]
}

snat_wave1() {
	local before=$WORK/before1.json n
	stats_json >"$before" || { result nat_race_snat_settled 1 "ct stats"; return 1; }
	# 3 clients x 2 agents x 60 = 360 attempts from ports 20000-20119 on
	# each client, for 200 ports.
	start_agents "$S4" "--conns 20000-20059:$P_SNAT" "--conns 20060-20119:$P_SNAT" ||
		{ result nat_race_snat_settled 1 "agents did not start"; return 1; }
	fire
	check_wave nat_race_snat 200 200 360 "$before"
	check_two_cpus nat_race_snat "$before"
	# Still there after the refusals, ESTABLISHED, and carrying data.
	n=$(xct_r ct list -p tcp --src-nat --dport "$P_SNAT" --state ESTABLISHED 2>/dev/null | wc -l)
	[ "$n" = 200 ]
	result nat_race_snat_established "$?" "$n ESTABLISHED"
	check_echo nat_race_snat 200
}

# Half closed, their entries deleted: their ports are free again, and a
# second wave gets exactly those.
snat_wave2() {
	local before=$WORK/before2.json closed n out
	ctl close-half "${AGENT_SOCKS[@]}" >"$WORK/closed.json"
	closed=$(pyjson 'print(sum(len(json.loads(l)["closed"]) for l in open(sys.argv[1])))' "$WORK/closed.json")
	# Closed both ways: TIME_WAIT in the table, then deleted.
	poll 20 time_wait_is "$closed"
	n=$(xct_r ct list -p tcp --src-nat --dport "$P_SNAT" --state TIME_WAIT 2>/dev/null | wc -l)
	xct_r ct delete -p tcp --dport "$P_SNAT" --state TIME_WAIT >/dev/null 2>&1
	snat_conns >"$WORK/kept.json"
	out=$(pyjson '
kept = json.load(open(sys.argv[1]))
gone = [c for l in open(sys.argv[2]) for c in json.loads(l)["closed"]]
freed = sorted(c[5] for c in gone if len(c) == 6)
print(" ".join(map(str, freed)))
still = set(c[1] for c in kept) & set(freed)
sys.exit(1 if len(kept) != 200 - len(gone) or len(freed) != len(gone) or still else 0)
' "$WORK/kept.json" "$WORK/closed.json" >"$WORK/freed.txt")
	result nat_race_snat_closed_deleted $? "$closed closed, $n in TIME_WAIT, $(pyjson 'print(len(json.load(open(sys.argv[1]))))' "$WORK/kept.json") left"

	# 3 x 2 x 25 = 150 attempts from new ports, for the ~100 freed ones.
	stats_json >"$before"
	start_agents "$S4" "--conns 20120-20144:$P_SNAT" "--conns 20145-20169:$P_SNAT" ||
		{ result nat_race_snat_wave2_settled 1 "agents did not start"; return 1; }
	fire
	check_wave nat_race_snat_wave2 200 "$closed" 150 "$before"
	# The new connections have exactly the freed ports.
	snat_conns >"$WORK/xct2.json"
	out=$(pyjson '
now = json.load(open(sys.argv[1]))
kept = set(c[1] for c in json.load(open(sys.argv[2])))
freed = sorted(int(p) for p in open(sys.argv[3]).read().split())
new = sorted(c[1] for c in now if c[1] not in kept)
print("%d new ports, %d freed; differ: %s" % (len(new), len(freed), sorted(set(new) ^ set(freed))[:5]))
sys.exit(0 if new == freed and len(now) == 200 else 1)
' "$WORK/xct2.json" "$WORK/kept.json" "$WORK/freed.txt")
	result nat_race_snat_freed_ports_reused $? "$out"
	check_echo nat_race_snat_wave2 "$closed"
}

# 3 clients x 2 agents x 60 UDP sockets, one datagram each, from ports
# 20000-20119 on each client, for 200 ports.  No retransmissions here:
# every refused datagram is counted once.
snat_udp() {
	local before=$WORK/before_udp.json
	WAVE_PROTO=udp
	WAVE_PORT=$P_UDP
	AGENT_OPTS=--udp
	stats_json >"$before" || { result nat_race_snat_udp_settled 1 "ct stats"; return 1; }
	if start_agents "$S4" "--conns 20000-20059:$P_UDP" "--conns 20060-20119:$P_UDP"; then
		fire
		check_wave nat_race_snat_udp 200 200 360 "$before"
		check_two_cpus nat_race_snat_udp "$before"
	else
		result nat_race_snat_udp_settled 1 "agents did not start"
	fi
	WAVE_PROTO=tcp
	WAVE_PORT=$P_SNAT
	AGENT_OPTS=""
}

dnat_race() {
	local before=$WORK/before3.json out b0 b1 refused
	stats_json >"$before" || { result nat_race_dnat_settled 1 "ct stats"; return 1; }
	# Each client: ports 21000-21039 to public port 8090 (CPU 0) and 8091
	# (CPU 1); 21000-21019 to 8092 as well (CPU 0).  Three clients share
	# the ports.  Per client 100 attempts: 80 connect, 20 refused.
	start_agents "$R4C" "--conns 21000-21039:$P_PUB --conns 21000-21019:$((P_PUB + 2))" \
		"--conns 21000-21039:$((P_PUB + 1))" ||
		{ result nat_race_dnat_settled 1 "agents did not start"; return 1; }
	fire
	poll 30 settled 300 "$before"
	result nat_race_dnat_settled $? "not all attempts connected or counted in 30 s"
	stats_json >"$WORK/after.json"
	xct_r ct list -o json -p tcp --dst-nat 2>/dev/null >"$WORK/dnat.json"
	ctl open "$WORK/server.sock" >"$WORK/server.json"
	ctl state "${AGENT_SOCKS[@]}" >"$WORK/agents.json"
	read -r b0 b1 refused < <(nat_counts "$before" "$WORK/after.json")
	out=$(pyjson '
xct = json.load(open(sys.argv[1]))
server = [c for c in json.load(open(sys.argv[2])) if c[3] == int(sys.argv[3])]
backends = set(sys.argv[4:6])
bad = []
# Translated tuple: client, its port, the backend, the backend port.
tuples = [(c["reply"]["dst"], c["reply"]["dport"], c["reply"]["src"], c["reply"]["sport"]) for c in xct]
if len(set(tuples)) != len(tuples):
    bad.append("duplicate translated tuples: %d of %d distinct" % (len(set(tuples)), len(tuples)))
if len(tuples) != 240:
    bad.append("%d translated, not 240" % len(tuples))
if any(t[2] not in backends for t in tuples):
    bad.append("translated to no backend: %s" % [t for t in tuples if t[2] not in backends][:3])
seen = [(c[0], c[1], c[2], c[3]) for c in server]
if set(seen) != set(tuples) or len(set(seen)) != len(seen):
    bad.append("the server has %d open, xct %d; only in xct %s, only at the server %s" %
               (len(seen), len(tuples), sorted(set(tuples) - set(seen))[:3], sorted(set(seen) - set(tuples))[:3]))
# A client port to 3 public ports: 2 connections, on the two backends; to 2: both.
groups = {}
for t in tuples:
    groups.setdefault((t[0], t[1]), []).append(t[2])
wrong = [(k, v) for k, v in groups.items() if sorted(v) != sorted(backends)]
if len(groups) != 120:
    bad.append("%d client ports, not 120" % len(groups))
if wrong:
    bad.append("client ports not once on each backend: %s" % wrong[:3])
print("; ".join(bad) or "%d connections, %d client ports, each on both backends" % (len(tuples), len(groups)))
sys.exit(1 if bad else 0)
' "$WORK/dnat.json" "$WORK/server.json" "$P_DNAT" "$S4" "$S4B")
	result nat_race_dnat_tuples_distinct $? "$out"
	out=$(pyjson '
st = [json.loads(l) for l in open(sys.argv[1])]
conn = sum(s["connected"] for s in st)
pend = sum(s["pending"] for s in st)
fail = sum(s["failed"] for s in st)
print("connected %d pending %d failed %d; nat_no_tuple +%s nat_bound +%s" % (conn, pend, fail, sys.argv[2], sys.argv[3]))
sys.exit(0 if conn == 240 == int(sys.argv[3]) and pend == 60 == int(sys.argv[2]) and fail == 0 else 1)
' "$WORK/agents.json" "$refused" $((b0 + b1)))
	result nat_race_dnat_clash_counted $? "$out"
	echo "# dnat: $out"
	check_two_cpus nat_race_dnat "$before"
	# Every connection echoes, and its greeting names the backend xct
	# translated it to.
	ctl echo "${AGENT_SOCKS[@]}" >"$WORK/echo.json"
	out=$(pyjson '
ans = [json.loads(l) for l in open(sys.argv[1])]
xct = json.load(open(sys.argv[2]))
# (client, its port, public port) -> backend, from xct; the agents
# answer two per client, in the order of the clients.
clients = sys.argv[3:]
where = {(c["orig"]["src"], c["orig"]["sport"], c["orig"]["dport"]): c["reply"]["src"] for c in xct}
ok = sum(a.get("ok", 0) for a in ans)
bad = [b for a in ans for b in a.get("bad", [a.get("error")])]
mism = []
for i, a in enumerate(ans):
    for c in a.get("conns", []):
        if where.get((clients[i // 2], c[0], c[1])) != c[2]:
            mism.append(c)
print("%d echoed intact, %d bad %s; %d not at the backend xct names %s" % (ok, len(bad), bad[:3], len(mism), mism[:3]))
sys.exit(0 if ok == 240 and not bad and not mism else 1)
' "$WORK/echo.json" "$WORK/dnat.json" "${CLIENT_ADDRS[@]}")
	result nat_race_dnat_echo $? "$out"
}

# Main -----------------------------------------------------------------

setup_topology || fail_setup topology
add_client "$NS_C2" veth-c2 veth-r-c2 "$C2" "$R4C2" || fail_setup client2
add_client "$NS_C3" veth-c3 veth-r-c3 "$C3" "$R4C3" || fail_setup client3
in_ns "$NS_S" ip addr add "$S4B/24" dev veth-s || fail_setup "second address"
two_queues "$NS_C" veth-c veth-r-c "$C4" "$R4C" || fail_setup "client queues"
two_queues "$NS_C2" veth-c2 veth-r-c2 "$C2" "$R4C2" || fail_setup "client2 queues"
two_queues "$NS_C3" veth-c3 veth-r-c3 "$C3" "$R4C3" || fail_setup "client3 queues"
for ns in "$NS_C" "$NS_C2" "$NS_C3"; do
	one_syn_each "$ns" || fail_setup "client nft"
done
mount_pin_fs || fail_setup bpffs
WORK=$(mktemp -d /tmp/xct-nat-race.XXXXXX) || fail_setup workdir
start_server || fail_setup server
xct_attach native || fail_setup attach
xct_r attach --mode native veth-r-c2 veth-r-c3 >/dev/null || fail_setup "attach clients"
cat >"$WORK/rules.xct" <<EOF
snat to $R4S:$PORT_LO-$PORT_HI oif veth-r-s tcp dport $P_SNAT
snat to $R4S:$PORT_LO-$PORT_HI oif veth-r-s udp dport $P_UDP
dnat to { $S4:$P_DNAT, $S4B:$P_DNAT } daddr $R4C tcp dport $P_PUB-$((P_PUB + 2))
EOF
xct_r rules load "$WORK/rules.xct" >/dev/null || fail_setup "rules load"
CLIENTS="$NS_C $NS_C2 $NS_C3"
CLIENT_ADDRS=("$C4" "$C2" "$C3")

snat_wave1
snat_wave2
snat_udp
dnat_race
