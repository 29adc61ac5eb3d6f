#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Only root can change xct's state: a pin path that another user could
# change (a directory of theirs, one that others may write without the
# sticky bit, a symbolic link on the way, a pin directory others may enter)
# is refused with exit 1 and a message naming the component; under a good
# pin path an unprivileged user (setpriv, uid 65534) can neither open,
# unlink nor replace xct's pins, nor claim the directory after detach --all.
set -u
cd "$(dirname "$0")/../.." || exit 1
XCT=$PWD/build/xct
PY=/usr/bin/python3
ID="$$-$RANDOM"
NS="xct-pin-$ID"
PEER="xct-pinp-$ID"
STATE=$(mktemp -d /tmp/xct-pin.XXXXXX)
BPFFS="$STATE/bpf"
PIN="$BPFFS/xct"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
. tests/cli/lib.sh

# xp PIN_PATH ARGS...: xct in the namespace under another pin path.
xp() {
	local pin=$1
	shift
	ip netns exec "$NS" "$XCT" --pin-path "$pin" "$@"
}
x() { xp "$PIN" "$@"; }

# obj_get PATH FLAGS: BPF_OBJ_GET as the unprivileged user (FLAGS 0 for
# read-write, 8 for BPF_F_RDONLY); prints "fd" or the errno's name.
obj_get() {
	"${NOBODY[@]}" "$PY" -c '
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
class Attr(ctypes.Structure):
    _fields_ = [("pathname", ctypes.c_uint64), ("bpf_fd", ctypes.c_uint32),
                ("file_flags", ctypes.c_uint32), ("path_fd", ctypes.c_int32)]
buf = ctypes.create_string_buffer(sys.argv[1].encode())
a = Attr(ctypes.cast(buf, ctypes.c_void_p).value, 0, int(sys.argv[2]), 0)
fd = libc.syscall(321, 7, ctypes.byref(a), ctypes.sizeof(a))  # bpf(BPF_OBJ_GET)
print("fd" if fd >= 0 else errno.errorcode[ctypes.get_errno()])
' "$1" "$2"
}

# xdp_attached: xc0 still runs an XDP program.
xdp_attached() { ip -n "$NS" link show xc0 | grep -q "xdp"; }

# A bpffs of our own, which is a sticky 1777 root as /sys/fs/bpf is; the
# unprivileged user may pass through $STATE to reach it.
mkdir -p "$BPFFS"
chmod 0711 "$STATE"
mount -t bpf bpf "$BPFFS" || {
	not_ok pin_setup_bpffs
	exit 1
}
if [ "$(stat -c %a "$BPFFS")" != 1777 ]; then
	echo "  the bpffs root has mode $(stat -c %a "$BPFFS"), not 1777" >&2
	not_ok pin_setup_bpffs_sticky
	exit 1
fi
if ! cli_one_veth; then
	not_ok pin_setup_namespaces
	exit 1
fi
IFINDEX=$(ip -n "$NS" -o link show xc0 | cut -d: -f1)

# A directory the unprivileged user made first, where it would unlink
# the XDP link's pin later: refused, nothing attached.
"${NOBODY[@]}" mkdir "$BPFFS/claimed" || not_ok pin_setup_user_mkdir
expect pin_refuses_dir_made_by_user 1 "$BPFFS/claimed is owned by uid 65534, not by root" \
	xp "$BPFFS/claimed" attach xc0 --mode generic
check pin_refused_dir_left_empty test -z "$(ls -A "$BPFFS/claimed")"
check pin_refused_attaches_nothing eval '! xdp_attached'
# Another user's directory: the same, and for reading commands too.
mkdir -m 0700 "$BPFFS/theirs"
chown 1000:1000 "$BPFFS/theirs"
expect pin_refuses_dir_of_other_user 1 "$BPFFS/theirs is owned by uid 1000, not by root" \
	xp "$BPFFS/theirs" attach xc0 --mode generic
expect pin_refuses_dir_of_other_user_to_read 1 "$BPFFS/theirs is owned by uid 1000" \
	xp "$BPFFS/theirs" ct list
expect pin_refuses_dir_of_other_user_for_rules 1 "$BPFFS/theirs is owned by uid 1000" \
	xp "$BPFFS/theirs" rules clear
# A component others (or the group) may write, without the sticky bit:
# anyone could rename the directory below it and put their own in.
mkdir -m 0777 "$BPFFS/wide"
chmod 0777 "$BPFFS/wide"
expect pin_refuses_component_writable_by_others 1 \
	"$BPFFS/wide is writable by others and not sticky \(mode 0777\)" \
	xp "$BPFFS/wide/xct" attach xc0 --mode generic
check pin_refused_component_left_alone test ! -e "$BPFFS/wide/xct"
mkdir "$BPFFS/team"
chmod 0770 "$BPFFS/team"
expect pin_refuses_component_writable_by_group 1 \
	"$BPFFS/team is writable by its group and not sticky \(mode 0770\)" \
	xp "$BPFFS/team/xct" attach xc0 --mode generic
# A symbolic link is never followed, on the way or as the directory.
mkdir -m 0700 "$BPFFS/real"
ln -s "$BPFFS/real" "$BPFFS/link"
expect pin_refuses_symlinked_component 1 "$BPFFS/link is a symbolic link" \
	xp "$BPFFS/link/xct" attach xc0 --mode generic
check pin_refused_symlink_target_untouched test ! -e "$BPFFS/real/xct"
expect pin_refuses_symlinked_pin_dir 1 "$BPFFS/link is a symbolic link" \
	xp "$BPFFS/link" attach xc0 --mode generic
check pin_refused_symlink_target_empty test -z "$(ls -A "$BPFFS/real")"
# A pin directory others may enter and list.
mkdir -m 0755 "$BPFFS/open"
expect pin_refuses_pin_dir_open_to_others 1 \
	"$BPFFS/open has mode 0755: group and others must have no access" \
	xp "$BPFFS/open" attach xc0 --mode generic
expect pin_refuses_dot_dot 1 "plain absolute path" xp "$BPFFS/../bpf/xct" attach xc0
check pin_refusals_attach_nothing eval '! xdp_attached'

# A good attach: the directory is root's 0700, every pin root's 0600.
expect pin_attach 0 "xc0: attached" x attach xc0 --mode generic
check pin_dir_is_root_0700 test "$(stat -c '%u %a' "$PIN")" = "0 700"
bad_pins=$(find "$PIN" -mindepth 1 ! \( -uid 0 -perm 0600 \) -printf '%p %u %m\n')
check pin_files_are_root_0600 test -z "$bad_pins" -a -e "$PIN/link_xdp_$IFINDEX"
[ -n "$bad_pins" ] && echo "  $bad_pins" >&2
# What the unprivileged user tries against it.
"${NOBODY[@]}" rm -f "$PIN/link_xdp_$IFINDEX" "$PIN/xct_ct" 2>/dev/null
check pin_user_cannot_unlink_pins test -e "$PIN/link_xdp_$IFINDEX" -a -e "$PIN/xct_ct"
check pin_user_cannot_open_map test "$(obj_get "$PIN/xct_ct" 8) $(obj_get "$PIN/xct_ct" 0)" = \
	"EACCES EACCES"
check pin_user_cannot_open_link test "$(obj_get "$PIN/link_xdp_$IFINDEX" 0)" = "EACCES"
"${NOBODY[@]}" mv "$PIN" "$BPFFS/moved" 2>/dev/null
"${NOBODY[@]}" touch "$PIN/xct_extra" 2>/dev/null
check pin_user_cannot_move_or_fill_dir test -d "$PIN" -a ! -e "$BPFFS/moved" -a ! -e "$PIN/xct_extra"
check pin_attach_survives_user xdp_attached

# detach --all empties the directory but keeps it, so the name cannot be
# claimed before the next attach.
expect pin_detach_all 0 "" x detach --all
check pin_detach_all_keeps_empty_dir test -d "$PIN" -a -z "$(ls -A "$PIN")" -a \
	"$(stat -c '%u %a' "$PIN")" = "0 700"
"${NOBODY[@]}" mkdir "$PIN" 2>/dev/null
check pin_user_cannot_claim_after_detach test "$(stat -c %u "$PIN")" = 0
expect pin_attach_again 0 "xc0: attached" x attach xc0 --mode generic
"${NOBODY[@]}" rm -f "$PIN/link_xdp_$IFINDEX" 2>/dev/null
check pin_user_cannot_unlink_after_reattach test -e "$PIN/link_xdp_$IFINDEX"
check pin_reattach_survives_user xdp_attached

[ "$failures" -eq 0 ]
