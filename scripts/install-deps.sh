#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Installs the Debian packages xct needs to build, test and run its demo.
# Idempotent: it asks apt only for what is missing, so a machine that has
# everything pays a dpkg query and nothing more.
set -eu

PACKAGES="
clang llvm libclang-rt-14-dev make gcc pkg-config
libbpf-dev bpftool libelf-dev zlib1g-dev libpcap-dev
iproute2 nftables conntrack iputils-ping tcpdump
python3 python3-scapy socat netcat-openbsd
xdp-tools netsniff-ng iptables ipset
scdoc man-db bash-completion prometheus nfdump keepalived conntrackd tshark
"

missing=""
for pkg in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $pkg" ;;
	esac
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install)" >&2
	exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
