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

layer-deps:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check \
		'pytest>=8' 'PyYAML>=6' 'cryptography>=41' \
		'kas==5.5' 'oelint-adv==9.11.2' 'jsonschema>=4.20,<5' 'bitbake-setup==2.19.0'

layer-check: layer-deps
	$(LAYER_PY) -m pytest -q -rs tests/layer
