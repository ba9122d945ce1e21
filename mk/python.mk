# The Python test dependencies: one list, tests/requirements.txt, installed once per run.
.PHONY: python-deps
DEPS_TARGETS += python-deps

## python-deps: the PyPI packages of tests/requirements.txt
# make test installs them once (PYTHON_DEPS_DONE=1 for the parts it runs).
python-deps:
	@[ -n "$(PYTHON_DEPS_DONE)" ] || \
		$(PYTHON) -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
