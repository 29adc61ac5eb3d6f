# SPDX-License-Identifier: GPL-2.0-only
# xct: `make` builds everything, `make test` runs every test, `make demo`
# runs the example topology.  Both install missing Debian packages first.

BUILD    ?= build
CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= gcc
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude -Isrc -I$(BUILD)
LDLIBS   += -lbpf -lelf -lz -lpcap

BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Iinclude -Ibpf -I/usr/include/$(MULTIARCH)

BPF_SRC  := bpf/xct.bpf.c
BPF_HDRS := $(wildcard bpf/*.h) $(wildcard include/xct/*.h)
CLI_SRC  := $(filter-out src/xctd.c,$(wildcard src/*.c src/*/*.c))
CLI_HDRS := $(wildcard src/*.h src/*/*.h)
CLI_OBJ  := $(patsubst src/%.c,$(BUILD)/src/%.o,$(CLI_SRC))
CLI_LIB_OBJ := $(filter-out $(BUILD)/src/main.o,$(CLI_OBJ))

UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(BUILD)/tests/unit_tests
BPFT_SRC := $(wildcard tests/bpf/*.c)
BPFT_BIN := $(BUILD)/tests/bpf_tests

BENCH_BIN := $(BUILD)/bench/rules_cost
BENCH_BINS := $(BENCH_BIN) $(BUILD)/bench/prog_cost $(BUILD)/bench/connrate \
	$(BUILD)/bench/xdp_drop.bpf.o $(BUILD)/bench/verifier_cost $(BUILD)/bench/ipfix_rate \
	$(BUILD)/bench/ipfix_e2e

.PHONY: all deps test difftest evasion demo bench clean format check-headers

all: $(BUILD)/xct $(BUILD)/xctd $(UNIT_BIN) $(BPFT_BIN) $(BENCH_BINS)

deps:
	@./scripts/install-deps.sh

$(BUILD)/xct.bpf.o: $(BPF_SRC) $(BPF_HDRS) | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/xct.skel.h: $(BUILD)/xct.bpf.o
	$(BPFTOOL) gen skeleton $< name xct_bpf > $@

# xct replay's batch feeder: a second object, tail-calling into xct_xdp.
$(BUILD)/replay.bpf.o: bpf/replay.bpf.c $(BPF_HDRS) | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/replay.skel.h: $(BUILD)/replay.bpf.o
	$(BPFTOOL) gen skeleton $< name xct_replay_bpf > $@

# xct trace's tracepoint programs: their own object, built against the
# running kernel's BTF for CO-RE.
$(BUILD)/vmlinux.h: | $(BUILD)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/trace.bpf.o: bpf/trace.bpf.c include/xct/trace.h $(BUILD)/vmlinux.h | $(BUILD)
	$(CLANG) -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Iinclude -I$(BUILD) -c $< -o $@

$(BUILD)/trace.skel.h: $(BUILD)/trace.bpf.o
	$(BPFTOOL) gen skeleton $< name xct_trace_bpf > $@

# xct attach-cgroup's owner programs: cgroup and sockops hooks sharing the
# datapath's pinned owner maps.
$(BUILD)/owner.bpf.o: bpf/owner.bpf.c $(BPF_HDRS) | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/owner.skel.h: $(BUILD)/owner.bpf.o
	$(BPFTOOL) gen skeleton $< name xct_owner_bpf > $@

$(BUILD)/src/%.o: src/%.c $(BUILD)/xct.skel.h $(BUILD)/replay.skel.h $(BUILD)/trace.skel.h $(BUILD)/owner.skel.h $(CLI_HDRS) $(BPF_HDRS) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/xct: $(CLI_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# xctd, the daemon: its own main over the same library objects.
$(BUILD)/xctd: $(BUILD)/src/xctd.o $(CLI_LIB_OBJ)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(UNIT_BIN): $(UNIT_SRC) $(CLI_LIB_OBJ) $(wildcard tests/lib/*.h) $(BPF_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -Itests/lib $(UNIT_SRC) $(CLI_LIB_OBJ) -o $@ $(LDLIBS)

$(BPFT_BIN): $(BPFT_SRC) tests/bpf/fixture.h $(BUILD)/xct.skel.h $(CLI_LIB_OBJ) $(wildcard tests/lib/*.h) $(BPF_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -Itests/lib $(BPFT_SRC) $(CLI_LIB_OBJ) -o $@ $(LDLIBS)

$(BENCH_BIN): bench/rules_cost.c $(BUILD)/xct.skel.h $(CLI_LIB_OBJ) $(BPF_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc bench/rules_cost.c $(CLI_LIB_OBJ) -o $@ $(LDLIBS)

$(BUILD)/bench/prog_cost: bench/prog_cost.c $(BUILD)/xct.skel.h $(CLI_LIB_OBJ) $(BPF_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc bench/prog_cost.c $(CLI_LIB_OBJ) -o $@ $(LDLIBS)

$(BUILD)/bench/verifier_cost: bench/verifier_cost.c $(BUILD)/xct.skel.h $(BPF_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) bench/verifier_cost.c -o $@ $(LDLIBS)

$(BUILD)/bench/ipfix_rate: bench/ipfix_rate.c $(CLI_LIB_OBJ) $(CLI_HDRS) $(BPF_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc bench/ipfix_rate.c $(CLI_LIB_OBJ) -o $@ $(LDLIBS) -lpthread

$(BUILD)/bench/ipfix_e2e: bench/ipfix_e2e.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) bench/ipfix_e2e.c -o $@ $(LDLIBS)

$(BUILD)/bench/connrate: bench/connrate.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) bench/connrate.c -o $@

$(BUILD)/bench/xdp_drop.bpf.o: bench/xdp_drop.bpf.c
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD):
	@mkdir -p $(BUILD)

test: deps
	@$(MAKE) --no-print-directory all
	@./tests/run.sh

# The differential test against nf_conntrack for many seeds (make test runs
# seeds 1-6): SEEDS conversations from FIRST_SEED, disagreements shrunk.
SEEDS      ?= 200
FIRST_SEED ?= 1
# The header tricks of docs/SECURITY.md through xct and through nftables.
evasion: deps
	@$(MAKE) --no-print-directory $(BUILD)/xct
	@bash tests/e2e/test_evasion.sh

difftest: deps
	@$(MAKE) --no-print-directory all
	@bash tests/e2e/test_ct_difftest.sh --seeds $(SEEDS) --first-seed $(FIRST_SEED) --sleep-budget 2.1

# Measurements, not tests: xct beside its peers in one run (about 12
# minutes on the 2-core machine); writes docs/BENCHMARKS.md.  tests/bench
# runs a smoke version (2-3 minutes).
bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/xct $(BENCH_BINS)
	@BUILD=$(BUILD) ./bench/run.sh

demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/xct
	@./scripts/demo.sh

format:
	clang-format -i $(BPF_SRC) $(BPF_HDRS) $(CLI_SRC) $(CLI_HDRS) $(UNIT_SRC) tests/bpf/*.[ch] tests/lib/*.h bench/*.c

# Every header compiles alone, in the order of the stack it declares:
# bpf/ headers for BPF, the shared include/xct/ headers for BPF and for
# userspace.  Unused static functions are a header's normal state here, and
# the trackers' tunables lookup (xct_tunables_now()) is declared by
# include/xct/timeouts.h and defined beside its map in bpf/maps.h.
check-headers:
	@rc=0; \
	for h in $(wildcard bpf/*.h) $(wildcard include/xct/*.h); do \
		if printf '#include "%s"\n' "$$h" | $(CLANG) $(BPF_CFLAGS) -I. \
			-Wno-unused-function -Wno-undefined-internal -fsyntax-only -x c - 2>$(BUILD)/.hdr.err; \
		then echo "ok $$h (bpf)"; \
		else echo "not ok $$h (bpf)"; cat $(BUILD)/.hdr.err; rc=1; fi; \
		case $$h in include/*) \
		if printf '#include "%s"\n' "$$h" | $(CC) $(CFLAGS) -I. \
			-fsyntax-only -x c - 2>$(BUILD)/.hdr.err; \
		then echo "ok $$h (userspace)"; \
		else echo "not ok $$h (userspace)"; cat $(BUILD)/.hdr.err; rc=1; fi;; \
		esac; \
	done; rm -f $(BUILD)/.hdr.err; exit $$rc

clean:
	rm -rf $(BUILD)

# ---- Installation (GNU conventions: PREFIX, DESTDIR and the directory
# variables may be overridden; `make install PREFIX=/usr` for a distribution
# layout).  The configuration under SYSCONFDIR/xct is installed only where
# none exists, and uninstall keeps it, as a package manager would.
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SCDOC      ?= scdoc

MAN_SRC    := $(wildcard man/*.scd)
MAN_PAGES  := $(patsubst man/%.scd,$(BUILD)/man/%,$(MAN_SRC))
UNITS      := $(BUILD)/systemd/xct.service $(BUILD)/systemd/xctd.service
# xctd is installed with its unit and page when the build has it.
XCTD_BIN   := $(wildcard $(BUILD)/xctd)

.PHONY: man install uninstall

all: $(MAN_PAGES) $(UNITS)

man: $(MAN_PAGES)

$(BUILD)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	$(SCDOC) < $< > $@.tmp && mv $@.tmp $@

# The units name the binary and the configuration where they are installed.
$(BUILD)/systemd/%: systemd/%.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@.tmp && mv $@.tmp $@

install: $(BUILD)/xct $(MAN_PAGES)
	@rm -f $(UNITS)
	@$(MAKE) --no-print-directory $(UNITS) SBINDIR=$(SBINDIR) SYSCONFDIR=$(SYSCONFDIR)
	install -D -m 0755 $(BUILD)/xct $(DESTDIR)$(SBINDIR)/xct
	install -D -m 0644 $(BUILD)/man/xct.8 $(DESTDIR)$(MANDIR)/man8/xct.8
	install -D -m 0644 $(BUILD)/man/xct.conf.5 $(DESTDIR)$(MANDIR)/man5/xct.conf.5
	install -D -m 0644 $(BUILD)/man/xct.rules.5 $(DESTDIR)$(MANDIR)/man5/xct.rules.5
	install -D -m 0644 $(BUILD)/systemd/xct.service $(DESTDIR)$(UNITDIR)/xct.service
	install -D -m 0644 completion/xct $(DESTDIR)$(BASHCOMPDIR)/xct
ifneq ($(XCTD_BIN),)
	install -D -m 0755 $(BUILD)/xctd $(DESTDIR)$(SBINDIR)/xctd
	install -D -m 0644 $(BUILD)/man/xctd.8 $(DESTDIR)$(MANDIR)/man8/xctd.8
	install -D -m 0644 $(BUILD)/systemd/xctd.service $(DESTDIR)$(UNITDIR)/xctd.service
	install -D -m 0755 etc/xct-ha-notify.sh $(DESTDIR)$(SBINDIR)/xct-ha-notify
	ln -sf xct $(DESTDIR)$(BASHCOMPDIR)/xctd
endif
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/xct
	@for f in xct.conf rules.xct; do \
		if [ -e $(DESTDIR)$(SYSCONFDIR)/xct/$$f ]; then \
			echo "$(DESTDIR)$(SYSCONFDIR)/xct/$$f exists: kept"; \
		else \
			echo "install -m 0644 etc/$$f $(DESTDIR)$(SYSCONFDIR)/xct/$$f"; \
			install -m 0644 etc/$$f $(DESTDIR)$(SYSCONFDIR)/xct/$$f || exit 1; \
		fi; \
	done

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/xct $(DESTDIR)$(SBINDIR)/xctd $(DESTDIR)$(SBINDIR)/xct-ha-notify
	rm -f $(DESTDIR)$(MANDIR)/man8/xct.8 $(DESTDIR)$(MANDIR)/man8/xctd.8
	rm -f $(DESTDIR)$(MANDIR)/man5/xct.conf.5 $(DESTDIR)$(MANDIR)/man5/xct.rules.5
	rm -f $(DESTDIR)$(UNITDIR)/xct.service $(DESTDIR)$(UNITDIR)/xctd.service
	rm -f $(DESTDIR)$(BASHCOMPDIR)/xct $(DESTDIR)$(BASHCOMPDIR)/xctd
	@echo "$(DESTDIR)$(SYSCONFDIR)/xct is kept (your configuration)"
