# Each target sets itself up: a virtualenv in .venv with what that target needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint bench bench-loader bench-index clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The demo needs only SQLite; the tests and benchmarks need every backend (and torch, for one test).
$(VENV)/.installed-sqlite: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[sqlite]"
	touch $@

$(VENV)/.installed-all: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[all,test]"
	touch $@

# The main job: ingest the guides in examples/corpus into ./sqlalchemy_vector.db (SQLite), then ask.
demo: $(VENV)/.installed-sqlite
	$(PY) -m sqlalchemy_vector ingest examples/corpus
	$(PY) -m sqlalchemy_vector query "which distance metric should I use for normalized embeddings" -k 3

# Two pytest-xdist workers, one per core, each a test file at a time (each starts its own PostgreSQL and
# chDB); TEST_WORKERS=0 runs the suite in one process, TEST_WORKERS=auto one worker per core.
TEST_WORKERS ?= 2

test: $(VENV)/.installed-all
	SQLALCHEMY_VECTOR_REQUIRE_BACKENDS=sqlite,sqlite-python,duckdb,postgresql,sqlite-plugin,sqlite-attach,duckdb-plugin,duckdb-attach,postgresql-plugin,postgresql-attach,postgresql-derived,clickhouse $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(VENV)/.installed-all
	$(PY) -m ruff check sqlalchemy_vector tests examples bench
	$(PY) -m mypy

bench: $(VENV)/.installed-all
	$(PY) bench/query_latency.py

bench-loader: $(VENV)/.installed-all
	$(PY) bench/loader.py

bench-index: $(VENV)/.installed-all
	$(PY) bench/index_recall.py

.PHONY: bench-topk
bench-topk: $(VENV)/.installed-all
	$(PY) bench/topk_path.py --backends sqlite,duckdb,postgresql,clickhouse --shared-buffers 1GB

.PHONY: bench-async
bench-async: $(VENV)/.installed-all
	$(PY) bench/async_facade.py

.PHONY: bench-storage
bench-storage: $(VENV)/.installed-all
	$(PY) bench/storage_defaults.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

# The built wheel in fresh virtualenvs on Python 3.10 + SQLAlchemy 2.0 and 3.13 + 2.1 (pyenv's builds).
.PHONY: smoke
smoke: $(VENV)/.installed-all
	PYTHON=$(PY) bash ci/smoke.sh

# The built wheel with the core alone and with each extra alone, each in a fresh virtualenv (about 2 minutes).
.PHONY: profiles
profiles: $(VENV)/.installed-all
	PYTHON=$(PY) bash ci/profiles.sh
