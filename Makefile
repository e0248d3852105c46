# The entry points people type. The README's two commands are
# `make conformance` and `make test`; both set the machine up first.
SHELL := /bin/bash
VENV := .venv
RZ := $(VENV)/bin/ringzero
PYTEST := $(VENV)/bin/python -m pytest
BUILD := build/unikernel
CXX_SOURCES = $(shell find unikernel -name '*.cpp' -o -name '*.hpp')

.PHONY: setup conformance test lint host-tests unit suites bench images sweep clean

setup:
	@bash scripts/setup.sh

# For now: build and boot `hello` and show its console.
conformance: setup
	$(RZ) boot hello

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

# The kernel suite under both backends, with KVM when it is usable here and
# with TCG (when KVM is not usable, auto is TCG already: no second run).
suites:
	$(PYTEST) suites/kernel --backend libvirt --accel auto
	$(PYTEST) suites/kernel --backend qemu --accel auto
	@if $(VENV)/bin/python -c 'from ringzero.hypervisor.accel import kvm_status as s; raise SystemExit(not s()[0])'; then \
	  set -e; \
	  $(PYTEST) suites/kernel --backend libvirt --accel tcg; \
	  $(PYTEST) suites/kernel --backend qemu --accel tcg; \
	else echo "suites: KVM is not usable here, so the runs above were TCG already"; fi

bench: setup
	$(RZ) bench boot

images: setup
	$(RZ) build

sweep: setup
	$(RZ) sweep

clean:
	rm -rf build
