# Both targets set themselves up: a virtualenv in .venv with the package and its extras.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all,test]"
	touch $@

demo: $(VENV)/.installed
	$(PY) examples/quickstart.py

test: $(VENV)/.installed
	SQLALCHEMY_VECTOR_REQUIRE_BACKENDS=sqlite,sqlite-python,duckdb,postgresql $(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(PY) bench/query_latency.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
