# Two commands: `make demo` (set up, load the default dataset, run every stage) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DB ?= demo.duckdb
OUT ?= demo_out
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
# the native kernels are compiled by the (editable) install: rebuild when they change
SOURCES := pyproject.toml setup.py src/bundlewise/mining/_kernels.c

.PHONY: install demo test bench clean

$(STAMP): $(SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU build on this disk (an unpinned resolve pulls a multi-GB CUDA build)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	# the spark extra: tests/spark run the Spark engine in local mode (PySpark; Java 17 from the system)
	$(BIN)/python -m pip install --quiet -e '.[test,spark]'
	# the off-policy estimators' test oracle; obp's own pins do not fit our stack, its estimators do
	$(BIN)/python -m pip install --quiet --no-deps obp==0.4.1
	touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

install: $(STAMP)

demo: install
	mkdir -p $(OUT)
	$(BIN)/bundlewise --db $(DB) datasets load complete-journey
	$(BIN)/bundlewise --db $(DB) stats
	$(BIN)/bundlewise --db $(DB) mine --min-count 20
	$(BIN)/bundlewise --db $(DB) rules --min-support 0.002 --min-confidence 0.3 --max-len 3 \
		--output $(OUT)/rules.csv
	$(BIN)/bundlewise --db $(DB) bundles --require-positive --output $(OUT)/bundles.csv
	$(BIN)/bundlewise --db $(DB) report --plan $(OUT)/bundles.csv --output $(OUT)/report.html
	# the service, briefly: a real server on 127.0.0.1, /ready (bounded wait), one answer, stopped; exit 1 if not ready
	$(BIN)/python scripts/demo_serve_check.py --db $(DB) --plan $(OUT)/bundles.csv --timeout 180
	@echo "serve it: $(BIN)/bundlewise --db $(DB) serve --plan $(OUT)/bundles.csv   (console http://127.0.0.1:8000/, API /docs)"

test: install
	# Debian's Chromium for the dashboard's browser test (no browser download; skipped where apt is unreachable)
	bash scripts/install_browser.sh || echo 'warning: could not install chromium; the browser test will skip'
	$(BIN)/python -m pytest

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.bench_ingest
	$(BIN)/python -m bench.bench_rules
	$(BIN)/python -m bench.bench_pairs
	$(BIN)/python -m bench.bench_scaling
	$(BIN)/python -m bench.bench_embed
	$(BIN)/python -m bench.bench_bundles
	$(BIN)/python -m bench.bench_eval

clean:
	rm -rf $(VENV) build src/*.egg-info src/bundlewise/mining/*.so $(DB) $(DB).wal $(OUT)
