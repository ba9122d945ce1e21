# meta-qcom-scm: top-level entry points. Each area adds its own targets in
# mk/*.mk and appends to TEST_TARGETS / BENCH_TARGETS / DEPS_TARGETS.
SHELL := /bin/bash
CACHE_DIR ?= $(HOME)/.cache/meta-qcom-scm
PYTHON ?= python3
export CACHE_DIR PYTHON

TEST_TARGETS :=
BENCH_TARGETS :=
DEPS_TARGETS :=

include $(sort $(wildcard mk/*.mk))

.PHONY: deps test bench
## deps: install what the tests need (Debian packages, PyPI packages)
deps: $(DEPS_TARGETS)
## test: everything CI runs
test: $(TEST_TARGETS)
## bench: benchmarks that print figures
bench: $(BENCH_TARGETS)
