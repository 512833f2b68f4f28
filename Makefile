# Switchyard - build, test and demo targets (GNU make).
#
#   make deps      install what tests/benchmarks need (Debian 12; as root) or say what is missing
#   make build     swift build (debug) + the C fixtures
#   make release   swift build -c release + the C fixtures
#   make run       release build, then the demo server on http://127.0.0.1:8080/ and https://localhost:8443/
#   make test      deps, build, swift test, fuzz-smoke, the Python end-to-end suite (Tests/e2e)
#   make e2e       only the end-to-end suite (against .build/debug/switchyard)
#   make check-fixtures   drive the WebSocket echo fixtures without the server
#   make fuzz      build the libFuzzer targets, run each for FUZZ_SECONDS (default 60; FUZZ_TARGETS picks some)
#   make fuzz-smoke       each fuzz target for 10 s (part of `make test`)
#   make bench     static-file GETs vs lighttpd (unpinned, then pinned), then `switchyard-bench compare --quick`
#   make compare   the full backend-protocol comparison vs lighttpd (results.md + chart.svg)
#   make scale     WebSockets held at the descriptor limit on one native FastCGI / SCGI app (~3 minutes)
#   make soak      30-minute churn soak of every backend path with 5 000 held WebSockets (not in `make test`)
#   make install   static release build, then binaries, man page, example config and systemd units
#                  under DESTDIR/PREFIX (PREFIX=/usr/local; SYSCONFDIR, SYSTEMDUNITDIR can be set)
#   make clean

SHELL      := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
SWIFT      ?= swift
CC         ?= cc
CFLAGS     ?= -O2 -Wall -Wextra
PYTHON     ?= python3
PYTEST_ARGS ?= -q

export SWITCHYARD_ROOT := $(CURDIR)

C_PROGS := cgi-bin/ws-echo-fast Fixtures/bin/fcgi-ws-echo Fixtures/bin/corrupt-echo Fixtures/bin/hello-cgi

.PHONY: all deps build release c-progs run test swift-test e2e fuzz fuzz-smoke check-fixtures bench compare scale soak install install-build clean

all: build

deps:
	@PYTHON=$(PYTHON) Fixtures/tools/deps.sh

c-progs: $(C_PROGS)

cgi-bin/ws-echo-fast: cgi-bin/ws_echo_fast.c cgi-bin/ws_accept.h
	$(CC) $(CFLAGS) -o $@ $<

Fixtures/bin/fcgi-ws-echo: Fixtures/fcgi/ws_echo_fcgi.c cgi-bin/ws_accept.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -lfcgi

Fixtures/bin/corrupt-echo: Fixtures/bench/corrupt_echo.c cgi-bin/ws_echo_fast.c cgi-bin/ws_accept.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

Fixtures/bin/hello-cgi: Fixtures/bench/hello_cgi.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

build: c-progs
	$(SWIFT) build

release: c-progs
	$(SWIFT) build -c release

# The demo needs the Swift programs and the C echo CGI: of what `make deps` installs, only the
# headers the Swift build links against (OpenSSL, zlib) and the openssl command that makes the
# demo's TLS certificate; no libfcgi, no test peers, so `make run` works on a machine where
# `make test` never ran. The certificate (a local CA + localhost) goes to .demo-tls/ (git-ignored).
RUN_DEPS := libssl-dev zlib1g-dev openssl

run: cgi-bin/ws-echo-fast
	@DEPS_ONLY="$(RUN_DEPS)" PYTHON=$(PYTHON) Fixtures/tools/deps.sh
	$(SWIFT) build -c release
	@Fixtures/tools/demo-cert.sh "$(CURDIR)/.demo-tls" 8443
	@echo "Switchyard demo: http://127.0.0.1:8080/ and https://localhost:8443/   (Ctrl-C to stop)"
	cd $(CURDIR) && exec .build/release/switchyard -f Fixtures/demo/switchyard.conf

swift-test:
	$(SWIFT) test

e2e:
	SWITCHYARD_BIN=$${SWITCHYARD_BIN:-$(CURDIR)/.build/debug/switchyard} $(PYTHON) -m pytest $(PYTEST_ARGS) Tests/e2e

# `make -k test` still runs every stage; each stage's failure fails the target.
test: deps
	$(MAKE) --no-print-directory build
	$(MAKE) --no-print-directory swift-test
	$(MAKE) --no-print-directory fuzz-smoke
	$(MAKE) --no-print-directory e2e

# Fuzzing (README "Fuzzing"): separate scratch path .build-fuzz, corpora in .build-fuzz/corpus/.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_TARGETS ?=

fuzz:
	Fixtures/tools/fuzz.sh run $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke:
	FUZZ_SET=smoke Fixtures/tools/fuzz.sh run $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

check-fixtures: c-progs
	$(PYTHON) Fixtures/tools/check_fixtures.py

# bench: small-file GETs vs lighttpd and the floor server (wrk), server and client on their own cores,
# then all on one core (PIN=1, the pinned mode), then pinned with every process under SCHED_BATCH
# (SCHED=batch: equal turns on the core, see README "Static files"), then the quick protocol
# comparison (< 6 minutes).
# compare: the full comparison (3 runs); both write Fixtures/bench-results/<date>-<host>-<n>cpu/.
# COMPARE_ARGS passes options through, e.g. make compare COMPARE_ARGS="--runs 5 --duration 5".
COMPARE_ARGS ?=

bench: release
	Fixtures/bench/static_bench.sh
	PIN=1 Fixtures/bench/static_bench.sh
	PIN=1 SCHED=batch Fixtures/bench/static_bench.sh
	.build/release/switchyard-bench compare --quick $(COMPARE_ARGS)

compare: release
	.build/release/switchyard-bench compare $(COMPARE_ARGS)

# scale: as many WebSockets as the descriptor limit allows on one native FastCGI and one native
# SCGI app, then 1 000 of each (README "Scale"); options via SCALE_ARGS.
SCALE_ARGS ?= --connections max,1000 --source-addresses 127.0.0.2-127.0.0.5
scale: release
	.build/release/switchyard-bench scale $(SCALE_ARGS)

# soak: SOAK_SECONDS of fixed-rate connect/echo/close + GET on every backend path while SOAK_HELD
# WebSockets stay open; samples, soak.svg and one verdict per path in Fixtures/bench-results/soak-<date>/.
# Every SOAK_* setting (see Fixtures/soak/soak.py --help) can be given here: make soak SOAK_SECONDS=120 SOAK_HELD=500
SOAK_SECONDS ?= 1800

soak: release
	SOAK_SECONDS=$(SOAK_SECONDS) $(PYTHON) Fixtures/soak/soak.py

# install: binaries linked with the Swift runtime statically (they must not depend on where the
# toolchain lives), in their own scratch path so the development builds are untouched.
PREFIX         ?= /usr/local
DESTDIR        ?=
BINDIR         ?= $(PREFIX)/bin
SBINDIR        ?= $(PREFIX)/sbin
MANDIR         ?= $(PREFIX)/share/man
SYSCONFDIR     ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL_BUILD  ?= .build-install/release
DIST_SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

install-build:
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path .build-install

install: install-build
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/switchyard $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(PREFIX)/share/doc/switchyard/examples
	install -m 755 $(INSTALL_BUILD)/switchyard $(DESTDIR)$(SBINDIR)/switchyard
	install -m 755 $(INSTALL_BUILD)/scgi-cgi $(INSTALL_BUILD)/fcgi-cgi $(INSTALL_BUILD)/switchyard-bench \
	    $(INSTALL_BUILD)/switchyard-echo-app $(DESTDIR)$(BINDIR)/
	$(DIST_SUBST) Fixtures/dist/switchyard.8 > $(DESTDIR)$(MANDIR)/man8/switchyard.8
	$(DIST_SUBST) Fixtures/dist/switchyard.conf > $(DESTDIR)$(PREFIX)/share/doc/switchyard/examples/switchyard.conf
	@# an existing configuration is never overwritten
	test -e $(DESTDIR)$(SYSCONFDIR)/switchyard/switchyard.conf || \
	    $(DIST_SUBST) Fixtures/dist/switchyard.conf > $(DESTDIR)$(SYSCONFDIR)/switchyard/switchyard.conf
	$(DIST_SUBST) Fixtures/dist/switchyard.service.in > $(DESTDIR)$(SYSTEMDUNITDIR)/switchyard.service
	install -m 644 Fixtures/dist/switchyard.socket $(DESTDIR)$(SYSTEMDUNITDIR)/switchyard.socket
	@echo "installed under $(DESTDIR)$(PREFIX) (config: $(DESTDIR)$(SYSCONFDIR)/switchyard/switchyard.conf)"

clean:
	rm -rf .build .build-fuzz .build-install Fixtures/bin cgi-bin/ws-echo-fast .pytest_cache Tests/e2e/.pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
