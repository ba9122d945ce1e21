# The Yocto layer (meta-qcom-scm/) and its set-up files (kas/): kas schema,
# includes and lock files, the bitbake-setup configurations (checked with
# bitbake-setup itself, no fetch), oelint-adv, the layer copied alone and
# yocto-check-layer's static requirements, and the oeqa runtime cases loaded
# with stub oeqa classes. Logic in tests/layer/. bitbake-setup 2.19.0 is the
# release on PyPI (none for 2.18); it reads bitbake 2.18's format (1.0).
LAYER_PY := PYTHONPATH=$(CURDIR)/tests/layer $(PYTHON)

.PHONY: layer-deps layer-check
DEPS_TARGETS += layer-deps
TEST_TARGETS += layer-check

layer-deps: python-deps

## layer-check: kas, bitbake-setup, oelint-adv and the layer's static rules
layer-check: layer-deps
	$(LAYER_PY) -m pytest -q -rs tests/layer
