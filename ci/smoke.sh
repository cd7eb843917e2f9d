#!/usr/bin/env bash
# Smoke job: the wheel, built once, installed with [sqlite,duckdb] into a fresh virtualenv per
# (Python, SQLAlchemy) pair -- the oldest supported Python with SQLAlchemy 2.0, the newest with
# 2.1 -- then the quickstart on SQLite and a DuckDB top-k, run from outside the source tree so the
# installed package is the one imported; then the same on Python 3.10 with every dependency at its
# declared lower bound.  Any failure fails the job.
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

# The declared lower bounds (ci/floors.py reads them from pyproject.toml) on the oldest Python: the core's
# (SQLAlchemy 2.0.30) with [sqlite] for the quickstart, then [duckdb]'s (which raise SQLAlchemy's) for the DuckDB
# smoke, in one virtualenv.
floors() {
    local python venv t0=$SECONDS
    python=$(newest_python 3.10)
    [ -n "$python" ] || { echo "smoke: no Python 3.10 under $PYENV_VERSIONS" >&2; return 1; }
    venv="$work/venv-floors"
    "$python" -m venv "$venv"
    # shellcheck disable=SC2046  # one argument per requirement
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${wheel}[sqlite]" $("$PYTHON" ci/floors.py sqlite) 2>&1 \
        | grep -v "is ignored: it is neither a file nor a directory" || true
    "$venv/bin/python" -c "import sqlalchemy_vector"
    ( cd "$work" && "$venv/bin/python" "$root/examples/quickstart.py" --db "sqlite:///$work/quickstart-floors.db" >"$work/quickstart-floors.log" \
        && grep -q "cats and kittens" "$work/quickstart-floors.log" )
    local sqlite_versions
    sqlite_versions=$("$venv/bin/python" -m pip list 2>/dev/null | grep -i -E '^(sqlalchemy|numpy|sqlite-vec|sqlean.py) ' | tr -s ' ' | tr '\n' ' ')
    # shellcheck disable=SC2046
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${wheel}[sqlite,duckdb]" $("$PYTHON" ci/floors.py sqlite duckdb) 2>&1 \
        | grep -v "is ignored: it is neither a file nor a directory" || true
    ( cd "$work" && "$venv/bin/python" "$root/ci/smoke_duckdb.py" )
    echo "smoke: floors on python $("$venv/bin/python" -c 'import platform; print(platform.python_version())'): quickstart with ${sqlite_versions}then $("$venv/bin/python" -m pip list 2>/dev/null | grep -i -E '^(sqlalchemy|duckdb|duckdb-sqlalchemy|pyarrow) ' | tr -s ' ' | tr '\n' ' ')ok in $((SECONDS - t0)) s"
}

smoke 3.10 ">=2.0,<2.1"
smoke 3.13 ">=2.1,<2.2"
floors
echo "smoke: passed in $((SECONDS - started)) s"
