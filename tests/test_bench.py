"""The benchmark scripts: each answers --help, and refuses a misspelt backend before it measures anything.

The scripts themselves run for minutes; these checks start each one only as far as its argument parsing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(path.name for path in BENCH.glob("*.py"))

# The scripts that take --backends, with arguments small enough that one that ignored the
# misspelt name would still finish fast (and then fail the test by exiting 0).
WITH_BACKENDS = {
    "async_facade.py": ["--rows", "20", "--queries", "1", "--warmup", "1"],
    "index_recall.py": ["--rows", "50", "--dim", "4", "--queries", "1", "--clusters", "2"],
    "ingest_incremental.py": ["--files", "1", "--passages-per-file", "1"],
    "loader.py": ["--rows", "20", "--runs", "1"],
    "long_running.py": ["--calls", "10", "--facades", "1"],
    "quantized.py": ["--rows", "50", "--dim", "8", "--wide-rows", "0", "--queries", "1"],
    "query_latency.py": ["--rows", "20", "--queries", "1"],
    "soak.py": ["--seconds", "0.1", "--threads", "1", "--crash-trials", "0"],
    "storage_defaults.py": ["--rows", "20", "--queries", "1", "--dim", "4"],
    "topk_path.py": ["--rows", "20", "--queries", "1", "--warmup", "1", "--clusters", "2"],
}


def run(script: str, args: List[str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=240, cwd=BENCH.parent
    )


def test_every_script_with_backends_is_listed() -> None:
    takes_backends = {name for name in SCRIPTS if '"--backends"' in (BENCH / name).read_text(encoding="utf-8")}
    assert takes_backends == set(WITH_BACKENDS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script: str) -> None:
    done = run(script, ["--help"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ") and "--help" in done.stdout


@pytest.mark.parametrize("script", sorted(WITH_BACKENDS))
def test_misspelt_backend_is_a_usage_error(script: str) -> None:
    """``sqlite,postgres`` (for postgresql): exit status 2 and the known names, before sqlite is measured."""
    done = run(script, [*WITH_BACKENDS[script], "--backends", "sqlite,postgres"])
    assert done.returncode == 2, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    assert "postgres" in done.stderr and "choose from" in done.stderr and "postgresql" in done.stderr, done.stderr
    assert done.stdout == ""  # nothing measured, no table printed
