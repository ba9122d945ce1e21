# The boot-chain oracle (tests/oracle/): its self-tests (imagegen NORs, a few seconds).
.PHONY: oracle-test oracle-bench
TEST_TARGETS += oracle-test
BENCH_TARGETS += oracle-bench

## oracle-test: the boot-chain oracle's self-tests
oracle-test: agent-deps
	$(PYTHON) -m pytest -q tests/oracle

## oracle-bench: the oracle's decision time
oracle-bench: agent-deps
	PYTHONPATH=$(CURDIR)/agent/src:$(CURDIR)/tests $(PYTHON) tests/oracle/bench.py
