# cemscan developer tasks.  `sh .ci/setup` first (the README's commands do it).
VENV_PY  := .venv/bin/python
DEB_PY   := /usr/bin/python3
PYTEST_ARGS ?=

.PHONY: setup demo test test-pypi test-debian clean deb test-package soak bench

setup:
	sh .ci/setup

## The main job: the daemon on port 8084 with the default content, one real scan, the result printed.
demo:
	sh .ci/demo

## The whole suite on both stacks: current PyPI releases (venv) and Debian bookworm's packages.
test: test-pypi test-debian test-package

test-pypi:
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

test-debian:
	PYTHONPATH=$(CURDIR) $(DEB_PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf build dist *.egg-info .pytest_cache demo-state twisted/plugins/dropin.cache
	find . -name __pycache__ -prune -exec rm -rf {} +

## The Debian package: dist/cemscan_<version>_all.deb (with its .changes and .buildinfo).
## Built from a copy of the tree in build/deb/ (git's view of it: tracked and untracked
## files, not what .gitignore names), so no venv, dropin.cache or egg-info gets near the
## package and the working tree is left as it was. PATH without pyenv: pybuild must run
## Debian's /usr/bin/python3 (see debian/rules).
DEB_STAGE := build/deb
deb:
	rm -rf $(DEB_STAGE)
	mkdir -p $(DEB_STAGE)/src dist
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files --cached --others --exclude-standard | while IFS= read -r f; do \
			if [ -f "$$f" ] || [ -L "$$f" ]; then printf '%s\n' "$$f"; fi; done > $(DEB_STAGE)/files; \
		tar -cf - -T $(DEB_STAGE)/files | tar -xf - -C $(DEB_STAGE)/src; \
	else \
		tar -cf - --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist \
			--exclude=__pycache__ --exclude=dropin.cache --exclude='*.egg-info' . | tar -xf - -C $(DEB_STAGE)/src; \
	fi
	cd $(DEB_STAGE)/src && PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg-buildpackage -us -uc -b
	rm -f dist/cemscan_*.deb dist/cemscan_*.changes dist/cemscan_*.buildinfo
	mv $(DEB_STAGE)/cemscan_* dist/
	@ls -1 dist/cemscan_*

## Build, lint, install, boot (systemd-nspawn), scan, purge: see .ci/package-check (root only).
test-package:
	sh .ci/package-check

## Long runs, not in CI: a 20-minute scan through an idle-dropping proxy, then an hour of
## back-to-back scans watching the daemon's memory and file descriptors. Writes docs/soak.json.
soak:
	$(VENV_PY) tests/soak.py $(SOAK_ARGS)

## Benchmarks (issue 6): 6-7 minutes on 2 cores; writes docs/benchmarks.md and docs/benchmarks/*.png.
## Needs `sh .ci/setup` first; adds matplotlib to .venv and builds the C tools with gcc.
BENCH := build/bench
bench:
	$(VENV_PY) -c 'import matplotlib' 2>/dev/null || $(VENV_PY) -m pip install -q --disable-pip-version-check matplotlib
	mkdir -p $(BENCH)/bin $(BENCH)/run
	gcc -O2 -Wall -o $(BENCH)/bin/loadgen bench/loadgen.c
	gcc -O2 -Wall -o $(BENCH)/bin/stubscan bench/stubscan.c
	$(VENV_PY) bench/bigarf.py --layout issue --rules 20000 --size-mb 60 --out $(BENCH)/big-arf.xml >/dev/null
	$(VENV_PY) bench/bigarf.py --layout oscap --rules 20000 --out $(BENCH)/big-arf-oscap.xml >/dev/null
	$(VENV_PY) bench/arfcheck.py $(BENCH)/big-arf.xml $(BENCH)/big-arf-oscap.xml tests/content/test-arf.xml
	ulimit -n $$(ulimit -Hn) && $(VENV_PY) bench/run.py $(BENCH_ARGS)
	$(VENV_PY) bench/report.py
