#!/usr/bin/env bash
# Install profiles: the wheel, built once, installed into a fresh virtualenv with the core alone and with each
# backend's extra alone (what a user installs), two at a time; ci/profile_check.py then checks the import is quiet
# and loads no driver, and that every other backend's URL names the extra it needs. The [sqlite] profile also runs
# the README's main job (ingest, then query) with the console script, as a newcomer would.
#
#   bash ci/profiles.sh                                  # core sqlite duckdb postgresql clickhouse async alembic
#   bash ci/profiles.sh sqlite duckdb postgresql clickhouse   # what CI runs: the backends' extras
#
# All seven took 129 s one at a time here (12-26 s each, mostly pip unpacking wheels); CI runs the four backends'
# extras, two at a time. The core alone is also checked by tests/test_missing_drivers.py, on a copy of the test
# environment without the drivers.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
PYTHON=${PYTHON:-.venv/bin/python}
PYENV_VERSIONS=${PYENV_VERSIONS:-${PYENV_ROOT:-$HOME/.pyenv}/versions}
BASE=${BASE:-$(ls -d "$PYENV_VERSIONS"/3.11.*/bin/python 2>/dev/null | sort -V | tail -n 1)}
[ -n "$BASE" ] || BASE=$PYTHON
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS

"$PYTHON" -m build --no-isolation --wheel --outdir "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/sqlalchemy_vector-*.whl)

profile() {
    local extra=$1 venv="$work/venv-$1" spec t0=$SECONDS
    spec=$wheel
    [ "$extra" = core ] || spec="${wheel}[$extra]"
    "$BASE" -m venv "$venv"
    # --no-compile: the check imports each module once; byte-compiling every package first doubles the time.
    "$venv/bin/python" -m pip install --quiet --no-compile --disable-pip-version-check "$spec" >"$work/pip-$extra.log" 2>&1 \
        || { cat "$work/pip-$extra.log"; return 1; }
    (cd "$work" && "$venv/bin/python" "$root/ci/profile_check.py" "$extra")
    if [ "$extra" = sqlite ]; then
        mkdir -p "$work/newcomer"
        (
            cd "$work/newcomer"
            "$venv/bin/sqlalchemy-vector" ingest "$root/examples/corpus" >/dev/null 2>"$work/newcomer.err"
            "$venv/bin/python" -m sqlalchemy_vector query "which distance metric should I use for normalized embeddings" -k 3 \
                >"$work/newcomer.out" 2>>"$work/newcomer.err"
            grep -q "distance-metrics.md" "$work/newcomer.out"
            ! grep -q -i -E "warning|traceback" "$work/newcomer.err"
        ) || { echo "profiles: the README's main job failed with [sqlite]"; cat "$work/newcomer.err"; return 1; }
    fi
    echo "profiles: [$extra] ok in $((SECONDS - t0)) s"
}

pids=()
profiles=("$@")
[ ${#profiles[@]} -gt 0 ] || profiles=(core sqlite duckdb postgresql clickhouse async alembic)
for extra in "${profiles[@]}"; do
    profile "$extra" > "$work/out-$extra.log" 2>&1 &
    pids+=("$!:$extra")
    # Two at a time: the machine has two cores.
    if [ ${#pids[@]} -ge ${PARALLEL:-2} ]; then
        entry=${pids[0]}; pids=("${pids[@]:1}")
        wait "${entry%%:*}" || { cat "$work/out-${entry#*:}.log"; exit 1; }
        cat "$work/out-${entry#*:}.log"
    fi
done
for entry in "${pids[@]}"; do
    wait "${entry%%:*}" || { cat "$work/out-${entry#*:}.log"; exit 1; }
    cat "$work/out-${entry#*:}.log"
done
echo "profiles: passed in $((SECONDS - started)) s"
