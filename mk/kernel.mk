# Kernel series and config fragments (meta-qcom-scm/recipes-kernel/linux/files):
# patches applied to Debian's 7.2 and 6.12 sources, config audit, W=1 build,
# checkpatch, kernel-doc and the KUnit suite. Big files go to $(CACHE_DIR)/kernel.
.PHONY: kernel-deps kernel-check
DEPS_TARGETS += kernel-deps
TEST_TARGETS += kernel-check

kernel-deps:
	scripts/kernel-check --deps-only

## kernel-check: the series on Debian's kernels: apply, config, builds, checkpatch, KUnit
kernel-check:
	scripts/kernel-check
