# Two commands: `make demo` (set up, load the default dataset, run every stage) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DB ?= demo.duckdb
STAMP := $(VENV)/.installed

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/bundlewise --db $(DB) datasets load complete-journey
	$(BIN)/bundlewise --db $(DB) stats

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench.bench_ingest

clean:
	rm -rf $(VENV) build src/*.egg-info $(DB) $(DB).wal
