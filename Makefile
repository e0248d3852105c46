# The entry points people type. The README's two commands are
# `make conformance` and `make test`; both set the machine up first.
SHELL := /bin/bash
VENV := .venv
RZ := $(VENV)/bin/ringzero
PYTEST := $(VENV)/bin/python -m pytest
BUILD := build/unikernel
CXX_SOURCES = $(shell find unikernel -name '*.cpp' -o -name '*.hpp')

.PHONY: setup conformance test lint host-tests unit suites fuzz bench images sweep clean

setup:
	@bash scripts/setup.sh

# The conformance run: every protocol suite against the bundled unikernel
# (its `conformance` service, under libvirt) and then against the Linux
# reference stack, two workers each (each with its own wire); the report of
# both side by side goes to reports/<run-id>/ (conformance.json, .md, .html,
# JUnit XML, Allure). TARGETS=ringzero for the unikernel alone.
CONFORMANCE_SUITES := suites/arp suites/ipv4 suites/icmp suites/udp suites/dhcp suites/dns suites/tcp suites/http suites/flood
TARGETS ?= ringzero,linux
conformance: setup
	$(RZ) conformance $(CONFORMANCE_SUITES) --targets $(TARGETS) -n 2

# Everything CI checks, in order of speed.
test: setup lint host-tests unit suites

lint:
	$(VENV)/bin/ruff check harness tests suites
	$(VENV)/bin/ruff format --check harness tests suites
	@clang-format --dry-run --Werror $(CXX_SOURCES) && echo "clang-format: $(words $(CXX_SOURCES)) files formatted"

# The kernel images and the host-side unit tests (ASan + UBSan).
host-tests:
	cmake -S unikernel -B $(BUILD) -G Ninja >/dev/null
	cmake --build $(BUILD)
	ctest --test-dir $(BUILD) --output-on-failure

unit:
	$(PYTEST) tests

# Every suite against both targets: the unikernel under both backends (one
# of them with two xdist workers, each on its own wire), and the Linux
# reference stack, serially and with two workers. The runs with workers go
# through `ringzero conformance`, so that CI makes the conformance report
# too. A second pair of unikernel runs under TCG when KVM is usable
# (otherwise auto is TCG already).
suites:
	$(PYTEST) suites --target ringzero --backend libvirt --accel auto
	$(PYTEST) suites --target linux
	$(RZ) conformance suites --targets ringzero,linux --backend qemu --accel auto -n 2
	@if $(VENV)/bin/python -c 'from ringzero.hypervisor.accel import kvm_status as s; raise SystemExit(not s()[0])'; then \
	  set -e; \
	  $(PYTEST) suites --target ringzero --backend libvirt --accel tcg; \
	  $(PYTEST) suites --target ringzero --backend qemu --accel tcg -n 2; \
	else echo "suites: KVM is not usable here, so the runs above were TCG already"; fi

# The fuzzers (frames into the stack; DNS messages into the codec and the
# server) for longer than their 15 s runs in host-tests, each in turn:
# FUZZ_SECONDS=3600 make fuzz
FUZZ_SECONDS ?= 600
fuzz: setup
	cmake -S unikernel -B $(BUILD) -G Ninja -DRINGZERO_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	cmake --build $(BUILD) --target fuzz-frame
	cmake --build $(BUILD) --target fuzz-dns
	cmake --build $(BUILD) --target fuzz-http

# ringzero against the Linux microVM, side by side: a table on stdout and
# reports/bench/<run-id>/ (bench.json, bench.md, SVG plots). BENCH_ARGS=--quick
# for the two-minute version.
BENCH_ARGS ?=
bench: setup
	$(RZ) bench $(BENCH_ARGS)

images: setup
	$(RZ) build

sweep: setup
	$(RZ) sweep

clean:
	rm -rf build
