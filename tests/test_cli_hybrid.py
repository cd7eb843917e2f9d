"""The CLI's ranking modes, and what it does with user mistakes: one line, no traceback, nothing written."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any, Callable, List

import pytest

import sqlalchemy_vector as sv
from sqlalchemy_vector.cli import main

from cli_fixtures import CORPUS, REPO, workspace  # noqa: F401  (workspace is a fixture)


@pytest.fixture(params=["sqlite", "duckdb", "postgresql"])
def db_url(request: pytest.FixtureRequest, workspace: Path, fresh_database_url: Callable[[str], str]) -> str:
    return fresh_database_url(request.param)


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def test_query_modes(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "corpus", "--db", db_url, "--quiet"]) == 0
    capsys.readouterr()
    question = "which distance metric should I use for normalized embeddings"
    assert main(["query", question, "--json", "-k", "5", "--db", db_url]) == 0
    hybrid = _json(capsys)
    assert len(hybrid) == 5 and hybrid[0]["metadata"]["source"] == "corpus/distance-metrics.md"
    assert {"score", "vector_rank", "text_rank"} <= set(hybrid[0])
    assert [r["score"] for r in hybrid] == sorted((r["score"] for r in hybrid), reverse=True)
    assert main(["query", question, "--mode", "vector", "--json", "-k", "5", "--db", db_url]) == 0
    vector = _json(capsys)
    assert "score" not in vector[0]
    assert main(["query", "HNSW", "--mode", "text", "--json", "-k", "50", "--db", db_url]) == 0
    text = _json(capsys)
    assert text and all("hnsw" in r["content"].lower() for r in text)
    assert [r["text_rank"] for r in text] == list(range(1, len(text) + 1))
    # Weights: 1,0 ranks as the vector arm alone.
    assert main(["query", question, "--weights", "1,0", "--rrf-k", "10", "--json", "-k", "5", "--db", db_url]) == 0
    assert [r["vector_rank"] for r in _json(capsys)] == [1, 2, 3, 4, 5]
    # One constant per rank: the smaller one leads (here full text: its first three ranks come first, in order).
    assert main(["query", "HNSW index", "--rrf-k", "60,1", "--json", "-k", "5", "--db", db_url]) == 0
    assert [r["text_rank"] for r in _json(capsys)][:3] == [1, 2, 3]
    assert main(["query", question, "--rrf-k", "1,60,3", "--db", db_url]) == 1
    assert "--rrf-k expects a whole number K or two" in capsys.readouterr().err
    assert main(["query", question, "--weights", "heavy", "--db", db_url]) == 1
    assert "--weights expects two numbers" in capsys.readouterr().err
    for mode, given in (("vector", ["--weights", "1,2"]), ("vector", ["--rrf-k", "5"]), ("text", ["--weights", "1,2", "--rrf-k", "5"])):
        assert main(["query", question, "--mode", mode, *given, "--db", db_url]) == 1  # it was ignored
        options = " and ".join(option for option in given if option.startswith("--"))
        verb = "apply" if len(given) > 2 else "applies"
        assert f"error: {options} {verb} to --mode hybrid only; this query is --mode {mode}\n" in capsys.readouterr().err
    long_question = " ".join(f"word{i}" for i in range(1100))
    assert main(["query", long_question, "--db", db_url]) == 1
    assert "1,100 distinct words, more than the 1,024" in capsys.readouterr().err
    # Filters reach both arms.
    assert main(["query", "index", "--where", "source=corpus/backends.md", "--json", "--db", db_url]) == 0
    assert {r["metadata"]["source"] for r in _json(capsys)} == {"corpus/backends.md"}
    # Punctuation in the question is not query syntax.
    assert main(["query", 'what\'s "HNSW -ef_search: NEAR(*', "--json", "--db", db_url]) == 0
    assert _json(capsys)
    assert main(["query", "HNSW", "--db", db_url]) == 0
    assert capsys.readouterr().out.startswith("1. ")


def _schema(path: Path) -> List[Any]:
    with sqlite3.connect(path) as connection:
        return sorted(connection.execute("SELECT type, name, sql FROM sqlite_master").fetchall(), key=str)


def test_read_only_commands_change_nothing(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A database built through the API, without a full-text index.
    url = f"sqlite:///{workspace / 'api.db'}"
    rag = sv.VectorRAG(url)
    rag.load_documents([{"content": "vectors in SQL", "metadata": {"source": "x"}}], show_progress=False)
    rag.close()
    before = _schema(workspace / "api.db")
    assert main(["stats", "--db", url]) == 0
    assert main(["query", "vectors", "--db", url]) == 0  # no full-text index: vector mode
    assert "1. " in capsys.readouterr().out
    assert _schema(workspace / "api.db") == before
    assert main(["query", "vectors", "--mode", "hybrid", "--db", url]) == 1
    assert "--mode hybrid needs a full-text index" in capsys.readouterr().err
    assert _schema(workspace / "api.db") == before


def test_read_only_commands_on_missing_database(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["stats"], ["query", "x"]):
        assert main([*command, "--db", f"sqlite:///{workspace / 'none.db'}"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no database at" in err
    assert not (workspace / "none.db").exists()
    # An existing database without the tables: a clear error, and still no table.
    sqlite3.connect(workspace / "empty.db").close()
    assert main(["stats", "--db", f"sqlite:///{workspace / 'empty.db'}"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no documents or embeddings table" in err and "ingest" in err
    assert _schema(workspace / "empty.db") == []


def test_missing_driver_names_the_extra(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the driver were not installed
    assert main(["stats", "--db", "postgresql+psycopg://me@localhost/rag"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'sqlalchemy-vector[postgresql]'" in err
    assert main(["stats", "--db", "nosuchdb://x"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_database_error_is_one_line_without_sql(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace / "garbage.db").write_bytes(b"this is not a database" * 100)
    assert main(["stats", "--db", f"sqlite:///{workspace / 'garbage.db'}"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a database" in err and "SQL" not in err


def test_ctrl_c_writes_nothing(workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy_vector.rag import store as rag_module

    insert = rag_module._Store.insert

    def interrupted(self: Any, session: Any, documents: Any) -> Any:
        insert(self, session, documents)
        raise KeyboardInterrupt

    monkeypatch.setattr(rag_module._Store, "insert", interrupted)
    url = f"sqlite:///{workspace / 'ctrl-c.db'}"
    assert main(["ingest", "corpus", "--db", url, "--quiet"]) == 130
    assert capsys.readouterr().err == "sqlalchemy-vector: interrupted\n"
    with sqlite3.connect(workspace / "ctrl-c.db") as connection:
        assert connection.execute("SELECT count(*) FROM documents").fetchone() == (0,)


def test_ctrl_c_that_duckdb_takes_itself_is_an_interruption(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # DuckDB's client takes Ctrl-C to stop its statement: a query raises InterruptException, a commit a plain
    # RuntimeError('Query interrupted'), which came out as a traceback and exit status 1 in place of 130.
    import threading

    import duckdb

    from sqlalchemy_vector.dialects import backend_for
    from sqlalchemy_vector.rag import store as rag_module

    backend = backend_for(sv.create_engine("duckdb://").dialect)
    connection = duckdb.connect()
    timer = threading.Timer(0.2, connection.interrupt)
    timer.start()
    with pytest.raises(duckdb.InterruptException) as stopped:  # a real one: a long query stopped
        connection.execute("SELECT count(*) FROM range(10000000000) a, range(1000) b WHERE a.range + b.range < 0").fetchall()
    timer.join()
    connection.close()
    assert backend.interrupted(stopped.value) and backend.interrupted(RuntimeError("Query interrupted"))
    assert not backend.interrupted(RuntimeError("another failure"))

    url = f"duckdb:///{workspace / 'ctrl-c.duckdb'}"
    insert = rag_module._Store.insert

    def interrupted(self: Any, session: Any, documents: Any) -> Any:
        insert(self, session, documents)
        raise RuntimeError("Query interrupted")  # what duckdb_sqlalchemy's commit passes on

    monkeypatch.setattr(rag_module._Store, "insert", interrupted)
    assert main(["ingest", "corpus", "--db", url, "--quiet"]) == 130
    assert capsys.readouterr().err == "sqlalchemy-vector: interrupted\n"

    def failing(self: Any, session: Any, documents: Any) -> Any:
        raise RuntimeError("another failure")

    monkeypatch.setattr(rag_module._Store, "insert", failing)
    with pytest.raises(RuntimeError, match="another failure"):  # any other RuntimeError is not taken for one
        main(["ingest", "corpus", "--db", url, "--quiet"])


def test_query_mmr(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{workspace / 'mmr.db'}"
    assert main(["ingest", "corpus", "--db", url, "--quiet"]) == 0
    capsys.readouterr()
    for mode in ("hybrid", "vector"):
        assert main(["query", "HNSW index", "--mmr", "--mode", mode, "-k", "3", "--fetch-k", "10", "--json", "--db", url]) == 0
        picked = _json(capsys)
        assert len(picked) == 3 and len({r["document_id"] for r in picked}) == 3
    assert main(["query", "HNSW index", "--mmr", "--lambda", "1", "-k", "3", "--mode", "vector", "--json", "--db", url]) == 0
    by_relevance = [r["document_id"] for r in _json(capsys)]
    assert main(["query", "HNSW index", "-k", "3", "--mode", "vector", "--json", "--db", url]) == 0
    assert by_relevance == [r["document_id"] for r in _json(capsys)]
    assert main(["query", "HNSW", "--mmr", "--mode", "text", "--db", url]) == 1
    assert "--mmr compares embeddings" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["sqlite", "clickhouse"])
def test_query_without_fulltext_index_checks_options_and_names_the_cause(
    backend: str, workspace: Path, fresh_database_url: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    db_url = fresh_database_url(backend)
    assert main(["ingest", "corpus", "--db", db_url, "--quiet"]) == 0
    if backend == "sqlite":  # a database whose index is not built
        rag = sv.VectorRAG(db_url)
        table = rag.document_model.__table__.name
        with rag.engine.begin() as connection:
            sv.drop_fulltext_index(connection, f"{table}_content_fts", table_name=table)
        rag.engine.dispose()
    capsys.readouterr()
    # The options are checked before the fall-back to vector mode.
    for option, value, message in [
        ("--weights", "0,0", "--weights must be non-negative and not both zero"),
        ("--weights", "nan,1", "--weights must be finite numbers"),
        ("--weights", "1e400,1", "--weights must be finite numbers"),
        ("--rrf-k", "-1", "--rrf-k expects a whole number K or two"),
        ("--rrf-k", "1,2,3", "--rrf-k expects a whole number K or two"),
    ]:
        assert main(["query", "HNSW", option, value, "--db", db_url]) == 1, (option, value)
        assert message in capsys.readouterr().err
    assert main(["query", "HNSW", "--json", "--db", db_url]) == 0
    assert "score" not in _json(capsys)[0]  # vector mode
    # Valid, but for a fusion this database cannot make: refused, not passed over (it was ignored).
    assert main(["query", "HNSW", "--weights", "1,2", "--db", db_url]) == 1
    assert "--weights applies to --mode hybrid only; this query ranks in vector mode (this database has no full-text index)" in capsys.readouterr().err
    assert main(["query", "HNSW", "--mode", "text", "--db", db_url]) == 1
    err = capsys.readouterr().err
    if backend == "clickhouse":
        assert "has no full-text search" in err and "--mode vector" in err and "ingest" not in err
    else:
        assert "run `sqlalchemy-vector ingest" in err
