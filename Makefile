# The two commands that do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: setup demo test bench clean

setup: $(STAMP)

# torch is pinned to the CPU build first, so that nothing later pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml setup.py src/gristmill/_native.pyx
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[all,test]'
	touch $(STAMP)

demo: setup
	$(BIN)/gristmill demo

# GRISTMILL_REQUIRE_NATIVE: the tests fail if the compiled kernels did not build (setup.py).
test: setup
	GRISTMILL_REQUIRE_NATIVE=1 $(BIN)/python -m pytest -q -p no:cacheprovider

# Benchmarks against peers (DataTrove, datasketch, trafilatura); see benchmarks/RESULTS.md.
bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf out .pytest_cache
