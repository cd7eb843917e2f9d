"""Several processes writing one database: concurrent ingests of the same files, and a database held by another.

docs/inputs-and-errors.md describes what holds on each backend.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

from sqlalchemy_vector.cli import main as cli_main
from sqlalchemy_vector.rag import VectorRAG

ROOT = Path(__file__).resolve().parent.parent
FILES = 12

# An ingest that has looked up what is stored and read its files, then waits (before writing anything) until the
# test says go on: another ingest of the same files runs to its end in between.
_PAUSED_INGEST = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from sqlalchemy_vector import cli

url, corpus, ready, go = sys.argv[1:5]
flush = cli._PendingWrite.flush
paused = []

def flush_later(self):
    if not paused:
        paused.append(True)
        Path(ready).touch()
        deadline = time.time() + 120
        while not Path(go).exists() and time.time() < deadline:
            time.sleep(0.02)
    flush(self)

cli._PendingWrite.flush = flush_later
sys.exit(cli.main(["ingest", corpus, "--db", url, "--quiet"]))
"""


def _wait_for(path: Path, child: "subprocess.Popen[str]") -> None:
    deadline = time.time() + 120
    while not path.exists():
        assert child.poll() is None, child.communicate()
        assert time.time() < deadline, "the paused ingest never got to its write"
        time.sleep(0.02)


@pytest.mark.parametrize("backend", ("sqlite", "postgresql"))  # DuckDB: one writing process per file (below)
def test_concurrent_ingests_of_the_same_files_store_each_once(
    backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = fresh_database_url(backend)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(FILES):
        (corpus / f"note{i:02d}.txt").write_text(f"note {i} is about topic number {i}\n")
    ready, go = tmp_path / "ready", tmp_path / "go"
    paused = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_INGEST.format(root=str(ROOT)), url, str(corpus), str(ready), str(go)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for(ready, paused)
        assert cli_main(["ingest", str(corpus), "--db", url, "--quiet"]) == 0
    finally:
        go.touch()
        out, err = paused.communicate(timeout=120)
    assert paused.returncode == 0, err
    assert f"ingested {FILES} passages from {FILES} files" in out  # it stored the files it had found new
    capsys.readouterr()
    assert cli_main(["stats", "--json", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out)["document_count"] == FILES
    with VectorRAG(url) as rag:
        passages: Dict[str, Any] = {}
        for found in rag.query_with_filters({}, top_k=1000):
            passages.setdefault(Path(found["metadata"]["path"]).name, []).append(found["content"])
    assert passages == {f"note{i:02d}.txt": [f"note {i} is about topic number {i}"] for i in range(FILES)}
    # The database goes on: an ingest of the same files finds them all unchanged.
    assert cli_main(["ingest", str(corpus), "--db", url, "--quiet"]) == 0
    assert f"({FILES} unchanged, 0 replaced, 0 pruned)" in capsys.readouterr().out
