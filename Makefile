# Both targets set themselves up: a virtualenv in .venv with the package and its extras.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench bench-loader bench-index clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all,test]"
	touch $@

# The main job: ingest the guides in examples/corpus into ./sqlalchemy_vector.db (SQLite), then ask.
demo: $(VENV)/.installed
	$(PY) -m sqlalchemy_vector ingest examples/corpus
	$(PY) -m sqlalchemy_vector query "which distance metric should I use for normalized embeddings" -k 3

test: $(VENV)/.installed
	SQLALCHEMY_VECTOR_REQUIRE_BACKENDS=sqlite,sqlite-python,duckdb,postgresql $(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(PY) bench/query_latency.py

bench-loader: $(VENV)/.installed
	$(PY) bench/loader.py

bench-index: $(VENV)/.installed
	$(PY) bench/index_recall.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
