# Everything a fresh machine needs goes through these targets; .ci/run calls `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# The build requirements pinned in pyproject.toml (the venv builds without isolation, for speed).
BUILD_REQUIRES := $(shell sed -n 's/^requires = \[\(.*\)\]/\1/p' pyproject.toml | tr -d '",')

.PHONY: all install test demo bench clean

all: install

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip $(BUILD_REQUIRES)

# Rebuild the package (and its compiled core) whenever a source file changed.
$(STAMP): $(VENV)/bin/python pyproject.toml setup.py $(shell find src -name '*.py' -o -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' | grep -v '_core/core.c$$') $(wildcard csrc/*.c csrc/*.h) $(wildcard patches/*.patch)
	@echo "jqgate: building the compiled core and installing into $(VENV)."
	@echo "jqgate: this compiles libjq (first time only) and one large Cython extension:"
	@echo "jqgate: 2-3 minutes on 2 cores, during which pip prints nothing. It has not hung."
	@# An older venv may lack a build requirement added since (cmake came with libnghttp2).
	$(PIP) install --quiet $(BUILD_REQUIRES)
	@start=$$(date +%s); \
	$(PIP) install --quiet --no-build-isolation ".[test,bench]" & pid=$$!; \
	while kill -0 $$pid 2>/dev/null; do sleep 15; kill -0 $$pid 2>/dev/null && \
		echo "jqgate: still building... $$(( $$(date +%s) - start ))s"; done; \
	wait $$pid
	@echo "jqgate: installed."
	touch $(STAMP)

install: $(STAMP)

test: install
	cd tests && ../$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

demo: install
	$(VENV)/bin/jqgate demo

# System tools (wrk, nginx + njs) from Debian packages, then the whole benchmark (≈20 min);
# `make bench BENCH_ARGS=--quick` is a smoke run of a minute or two. See bench/README.md.
BENCH_ARGS ?=
bench: install
	bash bench/install.sh
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf build $(VENV) src/*.egg-info src/jqgate/_core/*.c src/jqgate/_core/*.so
