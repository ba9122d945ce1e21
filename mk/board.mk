# The emulated board booted in QEMU (board/, tests/board/): labgrid tests,
# the demo (README's main command) and the in-VM benchmark.
BOARD_APT_PACKAGES := qemu-system-arm device-tree-compiler cpio e2fsprogs gcc-aarch64-linux-gnu \
	bc bison flex libssl-dev libelf-dev
BOARD_TOOLS := qemu-system-aarch64 fdtput cpio mke2fs aarch64-linux-gnu-gcc bison flex bc

.PHONY: board-deps board-test demo bench-qemu
DEPS_TARGETS += board-deps
TEST_TARGETS += board-test

board-deps: python-deps
	@missing=""; for t in $(BOARD_TOOLS); do command -v $$t >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $(BOARD_APT_PACKAGES); \
	fi

## board-test: booted tests on the emulated board (builds what is missing)
# Built once here, then two QEMUs at a time (pytest-xdist): each is one host thread.
BOARD_TEST_JOBS ?= 2
board-test: board-deps kernel-deps
	BOARD_BUILT="$$(board/build)" && export BOARD_BUILT && \
		$(PYTHON) -m pytest -q -n $(BOARD_TEST_JOBS) --dist worksteal tests/board

## demo: boot the emulated board and install a signed firmware release (boot sets)
demo: board-deps kernel-deps
	$(PYTHON) board/demo

## bench-qemu: agent install against flashcp -p and flashcp in the VM
bench-qemu: board-deps kernel-deps
	$(PYTHON) tests/board/bench_qemu.py
