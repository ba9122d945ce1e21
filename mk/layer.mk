# The Yocto layer (meta-qcom-scm/) and its kas files (kas/): kas schema and
# includes, oelint-adv, yocto-check-layer's static requirements, and the
# oeqa runtime cases loaded with stub oeqa classes. Logic in tests/layer/.
LAYER_PY := PYTHONPATH=$(CURDIR)/tests/layer $(PYTHON)

.PHONY: layer-deps layer-check
DEPS_TARGETS += layer-deps
TEST_TARGETS += layer-check

layer-deps:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check \
		'pytest>=8' 'PyYAML>=6' 'cryptography>=41' \
		'kas==5.5' 'oelint-adv==9.11.2' 'jsonschema>=4.20,<5'

layer-check: layer-deps
	$(LAYER_PY) -m pytest -q -rs tests/layer
