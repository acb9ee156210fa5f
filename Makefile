# cemscan developer tasks.  `sh .ci/setup` first (the README's commands do it).
VENV_PY  := .venv/bin/python
DEB_PY   := /usr/bin/python3
PYTEST_ARGS ?=

.PHONY: setup demo test test-pypi test-debian clean

setup:
	sh .ci/setup

## The main job: the daemon on port 8084 with the default content, one real scan, the result printed.
demo:
	sh .ci/demo

## The whole suite on both stacks: current PyPI releases (venv) and Debian bookworm's packages.
test: test-pypi test-debian

test-pypi:
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

test-debian:
	PYTHONPATH=$(CURDIR) $(DEB_PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf build dist *.egg-info .pytest_cache demo-state twisted/plugins/dropin.cache
	find . -name __pycache__ -prune -exec rm -rf {} +
