# The Python test dependencies: one list, tests/requirements.txt, installed once per run.
.PHONY: python-deps
DEPS_TARGETS += python-deps

## python-deps: the PyPI packages of tests/requirements.txt
python-deps:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
