"""Several processes writing one database: concurrent ingests of the same files, and a database another holds.

docs/inputs-and-errors.md describes what holds on each backend.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

import sqlalchemy_vector as sv
from sqlalchemy_vector import cli
from sqlalchemy_vector import exc as x
from sqlalchemy_vector.cli import main as cli_main
from sqlalchemy_vector.dialects import backend_for
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
options = sys.argv[5:]
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
sys.exit(cli.main(["ingest", corpus, "--db", url, "--quiet", *options]))
"""


def _wait_for(path: Path, child: "subprocess.Popen[str]") -> None:
    deadline = time.time() + 120
    while not path.exists():
        assert child.poll() is None, child.communicate()
        assert time.time() < deadline, "the paused ingest never got to its write"
        time.sleep(0.02)


def _notes(tmp_path: Path, text: Callable[[int], str]) -> Path:
    """A directory of ``FILES`` notes, note ``i`` holding ``text(i)``."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(FILES):
        (corpus / f"note{i:02d}.txt").write_text(text(i))
    return corpus


def _race(url: str, corpus: Path, tmp_path: Path, options: Sequence[str] = ()) -> str:
    """Two ingests of ``corpus`` with ``options``: one paused before its first write while the other runs to its
    end; the paused one's output."""
    ready, go = tmp_path / "ready", tmp_path / "go"
    paused = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_INGEST.format(root=str(ROOT)), url, str(corpus), str(ready), str(go), *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for(ready, paused)
        assert cli_main(["ingest", str(corpus), "--db", url, "--quiet", *options]) == 0
    finally:
        go.touch()
        out, err = paused.communicate(timeout=120)
    assert paused.returncode == 0, err
    return out


@pytest.mark.parametrize("backend", ("sqlite", "postgresql"))  # DuckDB: one writing process per file (below)
def test_concurrent_ingests_of_the_same_files_store_each_once(
    backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = fresh_database_url(backend)
    corpus = _notes(tmp_path, lambda i: f"note {i} is about topic number {i}\n")
    out = _race(url, corpus, tmp_path)
    assert f"ingested {FILES} passages from {FILES} files" in out  # it stored the files it had found new
    _assert_each_file_stored_once(url, corpus, capsys)


@pytest.mark.parametrize("backend", ("sqlite", "postgresql"))
def test_a_concurrent_ingest_seen_once_is_remembered_for_every_later_write(
    backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The paused ingest writes its files in two flushes (two passages a file, 12 a flush). Its first flush found
    # that the other ingest had written since it looked up what was stored, and deleted the passages of the files
    # it wrote; the second compared the count of writes with its own first flush only, found nothing new, and
    # stored 6 files a second time (59,117 passages became 78,015 with two ingests of 3,000 files).
    url = fresh_database_url(backend)
    corpus = _notes(tmp_path, lambda i: f"note {i} is about topic number {i}.\n\nsecond part of note {i} here now.\n")
    out = _race(url, corpus, tmp_path, ["--max-words", "7", "--overlap", "0", "--batch-size", str(FILES)])
    assert f"ingested {2 * FILES} passages from {FILES} files" in out, out
    capsys.readouterr()
    with VectorRAG(url) as rag:
        passages: Dict[str, Any] = {}
        for found in rag.query_with_filters({}, top_k=1000):
            passages.setdefault(Path(found["metadata"]["path"]).name, []).append(found["content"])
    assert {name: sorted(texts) for name, texts in passages.items()} == {
        f"note{i:02d}.txt": [f"note {i} is about topic number {i}.", f"second part of note {i} here now."] for i in range(FILES)
    }


@pytest.mark.parametrize("backend", ("sqlite", "duckdb", "postgresql"))
@pytest.mark.parametrize("stored_before", (False, True), ids=("new-database", "one-file-stored-before"))
def test_concurrent_ingests_in_one_process_store_each_once(
    backend: str, stored_before: bool, fresh_database_url: Callable[[str], str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # Two threads of one process (DuckDB lets only one process write a file): each has looked up what is stored
    # and read its files, then both write at once.
    url = fresh_database_url(backend)
    corpus = _notes(tmp_path, lambda i: f"note {i} is about topic number {i}\n")
    if stored_before:  # an older version of one file: both ingests replace it
        (corpus / "note00.txt").write_text("an older note 0\n")
        assert cli_main(["ingest", str(corpus / "note00.txt"), "--db", url, "--quiet"]) == 0
        (corpus / "note00.txt").write_text("note 0 is about topic number 0\n")
    arrived, together = threading.Event(), threading.Barrier(2, timeout=60)
    flush = cli._PendingWrite.flush

    def flush_together(self: Any) -> None:
        if self.identities and not getattr(self, "met", False):  # each ingest's first write
            self.met = True
            arrived.set()
            together.wait()
        flush(self)

    monkeypatch.setattr(cli._PendingWrite, "flush", flush_together)
    codes: List[Any] = []

    def ingest() -> None:
        try:
            codes.append(cli_main(["ingest", str(corpus), "--db", url, "--quiet"]))
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            codes.append(err)

    first, second = threading.Thread(target=ingest), threading.Thread(target=ingest)
    first.start()
    assert arrived.wait(60)  # the second opens the database once the first has it open (DuckDB 1.5.5 opens and
    second.start()  # closes of one file in two threads at the same moment can fail: "Unique file handle conflict")
    first.join(120)
    second.join(120)
    monkeypatch.undo()
    assert codes == [0, 0], capsys.readouterr().err
    _assert_each_file_stored_once(url, corpus, capsys)


def _assert_each_file_stored_once(url: str, corpus: Path, capsys: Any) -> None:
    """Each note is stored once, as one passage, and an ingest of the same files after finds them all unchanged."""
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


# -- DuckDB: the writers' lock of a process -------------------------------------------------------------------------

_COUNTER = Table("counter", MetaData(), Column("key", String(8), primary_key=True), Column("value", Integer))


def _counting_engine(tmp_path: Path) -> Engine:
    engine = sv.create_engine(f"duckdb:///{tmp_path}/writers.duckdb")
    with engine.begin() as connection:
        _COUNTER.create(connection)
        connection.execute(insert(_COUNTER), {"key": "n", "value": 0})
    return engine


def _lock(connection: Connection) -> None:
    backend_for(connection.dialect).lock_writers(connection, _COUNTER)


def _count(connection: Connection) -> int:
    return int(connection.execute(select(_COUNTER.c.value)).scalar_one())


def test_duckdb_writers_of_one_process_wait_for_each_other(tmp_path: Path) -> None:
    # Each transaction reads the counter and writes it again (delete, insert): without the lock, or with a lock let go
    # before the driver's commit (SQLAlchemy's commit event), more than half of them failed with "Conflict on tuple
    # deletion" at 4 threads.  Every fifth one raises after its write, and is rolled back.
    engine = _counting_engine(tmp_path)
    errors: List[str] = []
    committed = []

    def count_up(thread: int) -> None:
        for i in range(40):
            try:
                with engine.begin() as connection:
                    _lock(connection)
                    value = _count(connection)
                    connection.execute(delete(_COUNTER))
                    connection.execute(insert(_COUNTER), {"key": "n", "value": value + 1})
                    if i % 5 == thread:
                        raise KeyError("rolled back")
                committed.append(1)
            except KeyError:
                pass
            except Exception as err:  # noqa: BLE001 - collected for the assertion
                errors.append(x.first_line(err))

    threads = [threading.Thread(target=count_up, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    try:
        assert errors == []
        assert len(committed) == 4 * 32
        with engine.connect() as connection:
            assert _count(connection) == 4 * 32
    finally:
        engine.dispose()


def _taken_by_another_thread(engine: Engine) -> "threading.Thread":
    """A thread that takes the writers' lock in a transaction of its own, and lets it go at once."""

    def take() -> None:
        with engine.begin() as connection:
            _lock(connection)

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return thread


def _waits(thread: "threading.Thread") -> bool:
    thread.join(0.5)
    return thread.is_alive()


def test_duckdb_writers_lock_is_taken_once_per_transaction_and_let_go_when_it_ends(tmp_path: Path) -> None:
    engine = _counting_engine(tmp_path)
    try:
        with engine.begin() as connection:
            _lock(connection)
            _lock(connection)  # taken once: the transaction does not wait for itself
            other = _taken_by_another_thread(engine)
            assert _waits(other)
        other.join(30)
        assert not other.is_alive()  # let go at commit

        with pytest.raises(KeyError), engine.begin() as connection:
            _lock(connection)
            raise KeyError("rolled back")
        assert not _waits(_taken_by_another_thread(engine))  # and at rollback

        with engine.connect() as connection:
            connection.begin()
            _lock(connection)
            connection.invalidate()  # the driver connection closed: its transaction is gone
            assert not _waits(_taken_by_another_thread(engine))

        def commit_then_write_elsewhere() -> None:
            with engine.connect() as kept:
                with kept.begin():
                    _lock(kept)
                with engine.begin() as connection:  # this thread committed that transaction: it has ended
                    _lock(connection)

        alone = threading.Thread(target=commit_then_write_elsewhere, daemon=True)
        alone.start()
        assert not _waits(alone)

        with engine.connect() as kept:
            with kept.begin():
                _lock(kept)
            other = _taken_by_another_thread(engine)
            assert _waits(other)  # a connection still checked out after its commit: let go at its next begin
            with kept.begin():
                other.join(30)
                assert not other.is_alive()
                _lock(kept)  # the new transaction takes it anew
                assert _waits(_taken_by_another_thread(engine))

            with kept.begin():
                _lock(kept)
                with engine.connect() as connection:
                    with pytest.raises(x.DatabaseLockedError) as caught:
                        _lock(connection)  # would wait for this thread's own transaction forever
        message = str(caught.value)
        assert "writers.duckdb" in message and "same thread" in message and "commit or roll back" in message
    finally:
        engine.dispose()


def test_an_ingest_alone_deletes_only_the_files_it_replaces(tmp_path: Path) -> None:
    # Deleting the stored passages of every file written (what a concurrent ingest needs) scans the table once
    # per write: 1.75x the time of a first ingest of 100,000 passages, growing with the table. Alone, an ingest
    # deletes only what it found stored; the count of ingest writes says when another one wrote.
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    url = f"sqlite:///{tmp_path}/alone.db"
    corpus = _notes(tmp_path, lambda i: f"note {i}\n")
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


_WRITES: Dict[str, Callable[[VectorRAG, Any], Any]] = {
    "load": lambda rag, doc: rag.load_documents([{"content": "more", "embedding": [0.0, 1.0, 0.0, 0.0]}], show_progress=False),
    "update": lambda rag, doc: rag.update_document(doc, content="changed"),
    "delete": lambda rag, doc: rag.delete_documents(ids=[doc]),
}


@pytest.mark.parametrize("write", sorted(_WRITES))
def test_sqlite_write_after_ddl_waits_for_the_write_lock(tmp_path: Path, write: str) -> None:
    # Another connection's DDL, then this one's (create_index), make SQLite prepare its statements again at their
    # next use; a write of the documents then reads the full-text index's configuration first.  Begun deferred, the
    # write had to upgrade that read lock, which SQLite refuses at once, without the busy timeout, while another
    # connection holds the write lock: DatabaseLockedError after 0 s, from 8 threads sharing a facade that created
    # and dropped indexes.  The facade's writes now take the write lock as they begin.
    path = tmp_path / "fts.db"
    rag = VectorRAG(sv.create_engine(f"sqlite:///{path}", pool_size=1, max_overflow=0), dimension=4)
    docs = rag.load_documents(
        [{"content": f"note {i}", "embedding": [1.0, float(i), 0.0, 0.0]} for i in range(3)], show_progress=False
    )
    rag.create_fulltext_index()
    _WRITES[write](rag, docs[0])  # the statements of this write are prepared on the facade's one connection
    # The engine's own driver: two copies of SQLite in one process do not see each other's locks.
    other = rag.engine.dialect.dbapi.connect(str(path), isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE elsewhere (n INTEGER)")
    rag.create_index("late_ix")  # DDL after another connection's: prepared again at their next use
    other.execute("BEGIN IMMEDIATE")  # another connection's write lock, let go after 0.5 s
    let_go = threading.Timer(0.5, other.rollback)
    let_go.start()
    try:
        _WRITES[write](rag, docs[1])  # waits for it
    finally:
        let_go.join()
        other.close()
    stats = rag.get_statistics()
    assert (stats["document_count"], stats["embedding_count"]) == {"delete": (1, 1), "load": (5, 5)}.get(write, (3, 3))
    rag.close()


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


def test_duckdb_connections_opened_while_another_thread_closes_the_database(tmp_path: Path) -> None:
    # DuckDB shares one database instance between a process's connections to a file and shuts it down with the last:
    # a connection opened meanwhile by another thread failed ("Unique file handle conflict"), 19 of 200 here.
    url = f"duckdb:///{tmp_path}/shared.duckdb"
    first = sv.create_engine(url)
    with first.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    first.dispose()
    errors: List[str] = []

    def open_and_close(rounds: int) -> None:
        for _ in range(rounds):
            engine = sv.create_engine(url)  # an engine per unit of work, disposed after it
            try:
                with engine.connect() as connection:
                    connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one()
            except Exception as error:  # noqa: BLE001 - every failure is collected and reported
                errors.append(str(error).splitlines()[0])
            finally:
                engine.dispose()

    threads = [threading.Thread(target=open_and_close, args=(80,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_duckdb_engines_still_run_the_applications_do_connect_listeners(tmp_path: Path) -> None:
    from sqlalchemy import event

    engine = sv.create_engine(f"duckdb:///{tmp_path}/listened.duckdb")
    seen: List[Dict[str, Any]] = []

    @event.listens_for(engine, "do_connect")
    def set_threads(dialect: Any, record: Any, cargs: Any, cparams: Dict[str, Any]) -> None:
        cparams.setdefault("config", {})["threads"] = 1  # an application's own connection option
        seen.append(cparams)

    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT current_setting('threads')").scalar_one() == 1
        assert len(seen) == 1
    finally:
        engine.dispose()
