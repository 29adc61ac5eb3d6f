/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the xct command's files share: the global options, exit codes, error
 * reporting and the command handlers the dispatcher in main.c calls.
 */
#ifndef XCT_CLI_H
#define XCT_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <syslog.h>
#include "xct/abi.h"

#define XCT_VERSION "0.1.0"

/* Exit statuses, as conntrack(8) and iproute2 use them. */
#define XCT_EXIT_OK	 0
#define XCT_EXIT_RUNTIME 1 /* the system said no: not root, no BPF, no such interface */
#define XCT_EXIT_USAGE	 2 /* the command line is wrong */

struct xct_opts {
	const char *pin_path;
	const char *socket_path; /* xctd's (--socket, $XCT_SOCKET) */
	bool pin_path_given;	 /* by --pin-path or $XCT_PIN_PATH */
	bool json;
	bool verbose;
};

extern struct xct_opts xct_opts;

/* Print "xct: <message>" on stderr. */
void xct_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Report a usage error and return XCT_EXIT_USAGE. */
int xct_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* From xct_syslog_enable() on, in a command that changes what is
 * attached or loaded, every xct_err() message also goes to syslog
 * (LOG_DAEMON, LOG_ERR), and xct_syslog() logs what was done. */
void xct_syslog_enable(void);
void xct_syslog(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Returns 0 when running as root, or reports why not and returns -EPERM. */
int xct_require_root(void);

/* How the pin directory is opened. */
#define XCT_PIN_CREATE	 0x1 /* create it (0700) if it does not exist */
#define XCT_PIN_STALE_OK 0x2 /* accept state left by a namespace that is gone */
/* Observe the state of another network namespace (xct trace: it reads, and
 * names that namespace's interfaces by the state's own records). */
#define XCT_PIN_ANY_NETNS 0x4

/* Opens the pin directory after checking that nobody but root can change
 * it or the path to it (src/util.c), that its parent is a BPF filesystem
 * (mounting the default /sys/fs/bpf if needed, in the initial mount
 * namespace), and that the state there belongs to this network namespace
 * (src/netns.c).  The directory's fd, or -errno after a message (-ENOENT
 * without one, when it does not exist and XCT_PIN_CREATE is not given). */
int xct_open_pin_dir(const char *pin_path, unsigned int flags);

/* xct_open_pin_dir() for commands that only need the check: 0 when the pin
 * path is safe (or does not exist yet, without XCT_PIN_CREATE), else
 * -errno. */
int xct_prepare_pin_path(const char *pin_path, unsigned int flags);

/* Joins the pin path and a name into buf. */
const char *xct_pin(char *buf, size_t len, const char *name);

/* Monotonic time in ns, the clock bpf_ktime_get_ns() reads. */
__u64 xct_now_ns(void);

/* Prints s on stdout as a JSON string, quotes included. */
void xct_json_string(const char *s);

/* Parses an unsigned number in [min, max]; 0 or -EINVAL. */
int xct_parse_u64(const char *s, __u64 min, __u64 max, __u64 *out);

/* --count N (at least 1) and --timeout SECONDS (up to a year) of the
 * commands that follow a stream: 0, or XCT_EXIT_USAGE after the message. */
int xct_parse_count_opt(const char *s, __u64 *out);
int xct_parse_timeout_opt(const char *s, __u64 *out);

/* A reader of an event stream that the datapath only fills while someone
 * reads it (src/subscribe.c).  Call xct_sub_refresh() from the read loop,
 * at least every second; it writes the map only when the slot ages. */
struct xct_sub {
	int fd;
	enum xct_sub_kind kind;
	__u64 last_ns;
};

int xct_sub_open(struct xct_sub *sub, enum xct_sub_kind kind);
/* The same under another pin path than the command's. */
int xct_sub_open_at(struct xct_sub *sub, const char *pin_path, enum xct_sub_kind kind);
int xct_sub_refresh(struct xct_sub *sub);
/* Ends the datapath's work for this kind now rather than when the slot goes
 * stale, unless another reader refreshed the slot since. */
void xct_sub_end(struct xct_sub *sub);
void xct_sub_close(struct xct_sub *sub);

/* The paths of the event streams (src/daemon/stream.h) for this command. */
struct xct_stream_paths;
struct xct_stream_paths *xct_cli_stream_paths(struct xct_stream_paths *p);

/* Command handlers: argv[0] is the command's own name. */
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_ct(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_timeouts(int argc, char **argv);
int cmd_set_timeout(int argc, char **argv);
int cmd_attach_cgroup(int argc, char **argv);
int cmd_detach_cgroup(int argc, char **argv);
int cmd_sync(int argc, char **argv);

/* The tunables in force under pin_path (src/timeouts_cmd.c): read (the
 * defaults if never written), written whole, or applied from xct.conf
 * (values[i] where bit i of set is given, the default elsewhere).  0 or
 * -errno, after a message. */
struct xct_tunables;
int xct_tunables_read(const char *pin_path, struct xct_tunables *t);
int xct_tunables_write(const char *pin_path, const struct xct_tunables *t);
int xct_apply_tunables(const char *pin_path, const __u32 *values, __u32 set);

#endif /* XCT_CLI_H */
