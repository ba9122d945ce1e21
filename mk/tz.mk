# The emulated TrustZone board (tz-emulator/): EL3 firmware for QEMU's virt
# machine answering PSCI and the Qualcomm SCM storage calls, and its tests.
TZ_DIR := $(CURDIR)/tz-emulator
# Debian packages: cross compiler, QEMU, dtc/fdtoverlay/fdtput, cpio for
# the initramfs.  Installed only when a tool is missing (fresh CI machine).
TZ_APT_PACKAGES := gcc-aarch64-linux-gnu qemu-system-arm device-tree-compiler cpio
TZ_TOOLS := aarch64-linux-gnu-gcc qemu-system-aarch64 dtc fdtoverlay fdtput cpio

.PHONY: tz-deps tz-emulator tz-dtb tz-test tz-kernel-test tz-clean
DEPS_TARGETS += tz-deps
TEST_TARGETS += tz-test

tz-deps: python-deps
	@missing=""; for t in $(TZ_TOOLS); do command -v $$t >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$(TZ_APT_PACKAGES); \
	fi

## tz-emulator: build the EL3 firmware and the bare-metal SCM test payload
tz-emulator: tz-deps
	$(MAKE) -C $(TZ_DIR) -j2

## tz-dtb: QEMU's virt,secure=on DTB with the qcom-scm overlay (1 GiB, 1 CPU)
tz-dtb: tz-deps
	@mkdir -p $(TZ_DIR)/build
	$(TZ_DIR)/scripts/mkdtb $(TZ_DIR)/build/virt-qcom-scm.dtb

## tz-test: payload tests, a Debian arm64 kernel boot, SCMI over OP-TEE on the board kernel
# The SCMI tests boot the emulated board's kernel (board/build: the layer's
# fragments on Debian's 7.2, cached), so they run in CI instead of skipping.
tz-test: tz-emulator tz-dtb board-deps kernel-deps
	TZ_SCMI_KERNEL=$$(board/build | sed -n 's/^KERNEL=//p') && test -n "$$TZ_SCMI_KERNEL" && \
		TZ_SCMI_KERNEL=$$TZ_SCMI_KERNEL $(PYTHON) -m pytest -q tests/tz

## tz-kernel-test: build an Image from TZ_KERNEL_SRC and test the SCM storage driver on it
# TZ_KERNEL_SRC is a kernel source tree with the storage series applied
# (left untouched: out-of-tree build). Not part of "make test": building
# the kernel takes 3-8 minutes on two cores.
TZ_KERNEL_SRC ?=
TZ_KERNEL_OUT = $(CACHE_DIR)/tz-kernel/build-$(shell echo '$(abspath $(TZ_KERNEL_SRC))' | sha256sum | cut -c1-12)
tz-kernel-test: tz-emulator
	@test -n "$(TZ_KERNEL_SRC)" || { echo "usage: make tz-kernel-test TZ_KERNEL_SRC=<kernel source tree>" >&2; exit 2; }
	$(TZ_DIR)/scripts/build-test-kernel '$(TZ_KERNEL_SRC)' '$(TZ_KERNEL_OUT)'
	TZ_KERNEL='$(TZ_KERNEL_OUT)/arch/arm64/boot/Image' TZ_EXPECT_STORAGE=1 \
		$(PYTHON) -m pytest -q tests/tz/test_linux_boot.py

tz-clean:
	$(MAKE) -C $(TZ_DIR) clean

# SCMI over OP-TEE (docs/scmi-optee.md): the firmware also plays OP-TEE
# with an SCMI server; needs a kernel built with scmi-optee.cfg.
.PHONY: tz-scmi-dtb tz-scmi-test

## tz-scmi-dtb: the board DTB plus the SCMI-over-OP-TEE overlay
tz-scmi-dtb: tz-deps
	@mkdir -p $(TZ_DIR)/build
	$(TZ_DIR)/scripts/mkdtb $(TZ_DIR)/build/virt-scmi-optee.dtb \
		-overlay $(TZ_DIR)/dts/scmi-optee.dtso

## tz-scmi-test: SCMI over OP-TEE tests (TZ_SCMI_KERNEL=Image, default: the board kernel)
tz-scmi-test: tz-emulator
	$(PYTHON) -m pytest -q tests/tz/test_scmi_optee.py
