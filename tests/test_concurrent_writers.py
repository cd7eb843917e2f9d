"""Several processes writing one database: concurrent ingests of the same files, and a database another holds.

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
from sqlalchemy.exc import OperationalError

import sqlalchemy_vector as sv
from sqlalchemy_vector import exc as x
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



def test_an_ingest_alone_deletes_only_the_files_it_replaces(tmp_path: Path) -> None:
    # Deleting the stored passages of every file written (what a concurrent ingest needs) scans the table once
    # per write: 1.75x the time of a first ingest of 100,000 passages, growing with the table. Alone, an ingest
    # deletes only what it found stored; the count of ingest writes says when another one wrote.
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    url = f"sqlite:///{tmp_path}/alone.db"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(FILES):
        (corpus / f"note{i:02d}.txt").write_text(f"note {i}\n")
    deletes = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().startswith("DELETE FROM documents") and "WHERE 0 = 1" not in statement:  # not the lock
            deletes.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        assert cli_main(["ingest", str(corpus), "--db", url, "--quiet", "--batch-size", "4"]) == 0
        assert deletes == []
        (corpus / "note03.txt").write_text("note 3, changed\n")
        assert cli_main(["ingest", str(corpus), "--db", url, "--quiet", "--batch-size", "4"]) == 0
        assert len(deletes) == 1  # the changed file's batch
    finally:
        event.remove(Engine, "before_cursor_execute", record)


# Holds a write transaction on the database (SQLite's write lock; the DuckDB file itself) until told to let go.
_HOLDER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from sqlalchemy_vector.rag import VectorRAG

url, ready, go, dimension = sys.argv[1:5]
with VectorRAG(url, dimension=int(dimension)) as rag:
    rag.get_statistics()
    with rag.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        Path(ready).touch()
        deadline = time.time() + 120
        while not Path(go).exists() and time.time() < deadline:
            time.sleep(0.02)
"""


def _holding(url: str, tmp_path: Path, dimension: int) -> "subprocess.Popen[str]":
    ready = tmp_path / "held"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER.format(root=str(ROOT)), url, str(ready), str(tmp_path / "let-go"), str(dimension)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _wait_for(ready, holder)
    return holder


def _let_go(holder: "subprocess.Popen[str]", tmp_path: Path) -> None:
    (tmp_path / "let-go").touch()
    _, err = holder.communicate(timeout=120)
    assert holder.returncode == 0, err


def test_sqlite_write_lock_held_elsewhere_is_named_with_the_fix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/held.db"
    with VectorRAG(url, dimension=4) as rag:
        rag.load_documents([{"content": "before", "embedding": [1.0, 0.0, 0.0, 0.0]}], show_progress=False)
    holder = _holding(url, tmp_path, 4)
    try:
        with VectorRAG(sv.create_engine(url, connect_args={"timeout": 0.2}), dimension=4) as rag:
            with pytest.raises(x.DatabaseLockedError) as caught:
                rag.load_documents([{"content": "blocked", "embedding": [0.0, 1.0, 0.0, 0.0]}], show_progress=False)
            message = str(caught.value)
            assert "held.db" in message and "is locked" in message and "connect_args={'timeout': 30}" in message
            assert isinstance(caught.value, OperationalError)  # code catching the driver's error still does
    finally:
        _let_go(holder, tmp_path)
    with VectorRAG(url, dimension=4) as rag:  # nothing half-written, and the next call works
        assert [d["content"] for d in rag.query_with_filters({}, top_k=10)] == ["before"]
        rag.load_documents([{"content": "after", "embedding": [0.0, 1.0, 0.0, 0.0]}], show_progress=False)
        assert rag.get_statistics()["document_count"] == 2


def test_cli_on_a_duckdb_file_another_process_holds_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"duckdb:///{tmp_path}/held.duckdb"
    (tmp_path / "note.txt").write_text("a note about ducks\n")
    holder = _holding(url, tmp_path, 384)  # the lexical embedder's, as ingest then uses
    try:
        capsys.readouterr()
        assert cli_main(["ingest", str(tmp_path / "note.txt"), "--db", url, "--quiet"]) == 1
        err = capsys.readouterr().err
        assert "held by process" in err and "one process" in err, err
        assert "IO Error" not in err
    finally:
        _let_go(holder, tmp_path)
    assert cli_main(["ingest", str(tmp_path / "note.txt"), "--db", url, "--quiet"]) == 0  # once it is free
