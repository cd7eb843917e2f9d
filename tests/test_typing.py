"""Type checkers see knn() rows as (entity, distance) and a vector column as a float32 ndarray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def mypy(sample: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--follow-imports=silent", f"tests/typing_samples/{sample}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_documented_spellings_are_strict_clean() -> None:
    result = mypy("knn_types.py")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("sample", ["knn_types_wrong.py"])
def test_a_wrong_entity_type_is_caught(sample: str) -> None:
    result = mypy(sample)
    assert result.returncode == 1
    assert 'Expression is of type "Doc", not "int"' in result.stdout
