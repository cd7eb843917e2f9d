"""The scripts in examples/ run as tests on every backend, so the docs cannot rot."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable

import pytest

from tests.conftest import WITH_CLICKHOUSE

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    module_name = f"examples_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # annotations resolve through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=WITH_CLICKHOUSE)
def example_url(request: pytest.FixtureRequest, fresh_database_url: Callable[[str], str]) -> str:
    return fresh_database_url(request.param)


def test_quickstart(example_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    load("quickstart").main(["--db", example_url])
    rows = load("quickstart").main(["--db", example_url])  # a second run starts from the same four rows
    assert [title for title, _ in rows] == ["cats and kittens", "dogs and puppies", "bond yields"]
    assert rows[0][1] == pytest.approx(0.00904, abs=1e-4)
    out = capsys.readouterr().out
    assert "within L2 0.5: ['cats and kittens', 'dogs and puppies']" in out
    assert "largest dot product: cats and kittens" in out
