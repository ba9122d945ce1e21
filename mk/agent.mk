# The update agent (agent/): unit tests, power-cut matrix, lint, benchmarks.
AGENT_PY := PYTHONPATH=$(CURDIR)/agent/src $(PYTHON)
# pytest-xdist workers: the power-cut matrices keep both cores busy.
AGENT_TEST_JOBS ?= 2

.PHONY: agent-deps agent-test agent-lint agent-bench
DEPS_TARGETS += agent-deps
TEST_TARGETS += agent-lint agent-test
BENCH_TARGETS += agent-bench

agent-deps: python-deps
	@command -v fw_setenv >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libubootenv-tool; }

## agent-lint: ruff check and format of agent/ and tests/
agent-lint: agent-deps
	$(PYTHON) -m ruff check agent tests
	$(PYTHON) -m ruff format --check agent tests

## agent-test: the agent's units, CLI, hostile inputs and power-cut matrices
# bootchain-host (the firmware's boot chain built for the host) judges the mutants too.
agent-test: agent-deps
	$(MAKE) -s -C tz-emulator host
	$(AGENT_PY) -m pytest -q -n $(AGENT_TEST_JOBS) --dist worksteal tests/agent

## agent-bench: engine and bundle benchmarks (figures)
agent-bench: agent-deps
	$(PYTHON) tests/agent/bench.py
	$(AGENT_PY) tests/agent/bench_install.py
