"""Every ```python block in README.md runs, in a fresh namespace and an empty directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code = compile(BLOCKS[index], f"README.md block {index}", "exec", dont_inherit=True)
    namespace: dict = {"__name__": f"readme_block_{index}"}
    exec(code, namespace)  # noqa: S102 - the README's own examples
    out = capsys.readouterr().out
    if "rag.query(" in BLOCKS[index]:
        assert "Deep learning is machine learning" in out.splitlines()[0]
    if "bulk_insert(conn, docs, rows)" in BLOCKS[index]:
        assert out.splitlines()[0] == "Machine learning finds patterns in data."
