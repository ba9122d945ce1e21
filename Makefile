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

.PHONY: help deps test bench
## help: list the targets (from their "## target: what" comments)
help:
	@grep -h '^## [a-z-]*:' $(MAKEFILE_LIST) | sed 's/^## //' | sort | \
		awk '{i = index($$0, ": "); printf "  %-16s %s\n", substr($$0, 1, i - 1), substr($$0, i + 2)}'
## deps: install what the tests need (Debian packages, PyPI packages)
deps: $(DEPS_TARGETS)
## test: everything CI runs, then the time of each part
test:
	@start=$$(date +%s); scripts/run-timed $(MAKE) $(TEST_TARGETS); rc=$$?; \
		echo "  total          $$(($$(date +%s) - start))s"; exit $$rc
## bench: benchmarks that print figures
bench: $(BENCH_TARGETS)
