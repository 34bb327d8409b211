# The two commands: `make demo` and `make test`. Both do all set-up on a fresh machine
# (Python 3.11+, make, apt): a virtualenv in .venv with the package and what it needs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   ?= demo
ACCOUNTS ?= 1000
SEED   ?= 7
PYTEST_ARGS ?=

.PHONY: demo test venv install install-test lint clean bench-smoke

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "healthscore needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV) || { \
	  echo "venv module missing: installing python3-venv with apt"; \
	  apt-get update -q && apt-get install -y -q python3-venv && rm -rf $(VENV) && \
	  $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip

venv: $(BIN)/python

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@ $(VENV)/.installed

# System packages the tests need, from Debian: Chromium for the browser tests (driven through
# Playwright, never `playwright install`), PostgreSQL for the database source and export tests
# (each test run starts its own throw-away server), Java for Spark's local mode.
CHROMIUM ?= /usr/bin/chromium
SYSTEM_PACKAGES := chromium postgresql default-jre-headless
.PHONY: system-packages
system-packages:
	@if [ ! -x $(CHROMIUM) ] || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	    ! command -v java >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    $(SYSTEM_PACKAGES); fi

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## demo: build the demo company (files + workspace), load it, show what it holds,
##       score its last 12 months daily, show today's scores and the month's movers,
##       fit the churn model, check the alert rules on the last day (demo/alerts/),
##       backtest health against churn and expansion against expansions (reports:
##       demo/backtest-health.html, demo/backtest-expansion.html),
##       then serve the dashboard on http://localhost:8000/
demo: install
	$(BIN)/healthscore demo --out $(DEMO) --accounts $(ACCOUNTS) --seed $(SEED) --force
	$(BIN)/healthscore status -w $(DEMO)
	$(BIN)/healthscore backfill -w $(DEMO) --days 365
	$(BIN)/healthscore score -w $(DEMO) --lowest 5
	$(BIN)/healthscore movers -w $(DEMO) --days 30 --limit 5
	$(BIN)/healthscore predict -w $(DEMO)
	$(BIN)/healthscore alerts check -w $(DEMO)
	$(BIN)/healthscore backtest -w $(DEMO) -s health --html $(DEMO)/backtest-health.html
	$(BIN)/healthscore backtest -w $(DEMO) -s expansion --html $(DEMO)/backtest-expansion.html
	$(BIN)/healthscore serve -w $(DEMO) --port 8000

## test: the whole suite
test: install-test system-packages
	$(BIN)/python -m pytest -n auto --dist loadgroup -q $(PYTEST_ARGS)

## bench-smoke: the benchmark machinery on a tiny company (figures: python -m bench run --size S|M)
bench-smoke: install-test
	$(BIN)/python -m pytest -q tests/test_bench_smoke.py

lint: install-test
	$(BIN)/ruff check src tests

clean:
	rm -rf $(VENV) $(DEMO) build dist src/*.egg-info .pytest_cache .ruff_cache
