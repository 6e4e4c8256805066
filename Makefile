# Everything a fresh machine needs goes through these targets; .ci/run calls `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: all install test demo bench clean

all: install

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel "cython>=3.0"

# Rebuild the package (and its compiled core) whenever a source file changed.
$(STAMP): $(VENV)/bin/python pyproject.toml setup.py $(shell find src -name '*.py' -o -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' | grep -v '_core/core.c$$') $(wildcard csrc/*.c csrc/*.h) $(wildcard patches/*.patch)
	$(PIP) install --quiet --no-build-isolation ".[test,bench]"
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
