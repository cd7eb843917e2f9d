#!/usr/bin/env bash
# Smoke job: the wheel, built once, installed with [sqlite,duckdb] into a fresh virtualenv per
# (Python, SQLAlchemy) pair -- the oldest supported Python with SQLAlchemy 2.0, the newest with
# 2.1 -- then the quickstart on SQLite and a DuckDB top-k, run from outside the source tree so the
# installed package is the one imported.  Any failure fails the job.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
PYTHON=${PYTHON:-.venv/bin/python}
PYENV_VERSIONS=${PYENV_VERSIONS:-${PYENV_ROOT:-$HOME/.pyenv}/versions}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS

"$PYTHON" -m build --no-isolation --wheel --outdir "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/sqlalchemy_vector-*.whl)

newest_python() {  # newest pyenv build of a minor version, e.g. 3.10 -> .../3.10.13/bin/python
    ls -d "$PYENV_VERSIONS/$1".*/bin/python 2>/dev/null | sort -V | tail -n 1
}

smoke() {
    local minor=$1 sqlalchemy=$2 python venv
    python=$(newest_python "$minor")
    if [ -z "$python" ]; then
        echo "smoke: no Python $minor under $PYENV_VERSIONS" >&2
        return 1
    fi
    venv="$work/venv-$minor"
    local t0=$SECONDS
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${wheel}[sqlite,duckdb]" "sqlalchemy${sqlalchemy}" 2>&1 \
        | grep -v "is ignored: it is neither a file nor a directory" || true
    "$venv/bin/python" -c "import sqlalchemy_vector" # the install above must have worked
    (
        cd "$work"
        "$venv/bin/python" "$root/examples/quickstart.py" --db "sqlite:///$work/quickstart-$minor.db" >"$work/quickstart-$minor.log"
        grep -q "cats and kittens" "$work/quickstart-$minor.log"
        "$venv/bin/python" "$root/ci/smoke_duckdb.py"
    )
    # The typed spellings against the installed wheel: mypy --strict and pyright clean, and the
    # declarations map at run time with this SQLAlchemy.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check mypy basedpyright 2>&1 \
        | grep -v "is ignored: it is neither a file nor a directory" || true
    local typing="$work/typing-$minor"
    mkdir -p "$typing"
    cp "$root/tests/typing_samples/knn_types.py" "$root/tests/typing_samples/attribute_types.py" "$typing/"
    echo '{"typeCheckingMode": "standard"}' >"$typing/pyrightconfig.json"
    (
        cd "$typing"
        "$venv/bin/python" -m mypy --strict --no-incremental knn_types.py attribute_types.py
        "$venv/bin/basedpyright" --pythonpath "$venv/bin/python" knn_types.py attribute_types.py
        "$venv/bin/python" -c "import attribute_types, knn_types"
    )
    echo "smoke: python $("$venv/bin/python" -c 'import platform; print(platform.python_version())'), $("$venv/bin/python" -m pip list 2>/dev/null | grep -i -E '^(sqlalchemy|duckdb|duckdb-sqlalchemy|sqlite-vec) ' | tr -s ' ' | tr '\n' ' ')ok in $((SECONDS - t0)) s"
}

smoke 3.10 ">=2.0,<2.1"
smoke 3.13 ">=2.1,<2.2"
echo "smoke: passed in $((SECONDS - started)) s"
