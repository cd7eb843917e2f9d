"""The sqlalchemy-vector command, end to end in a temporary directory, on every backend."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, List, Set

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, Inspector

from sqlalchemy_vector.cli import main
from sqlalchemy_vector.collection import SETTINGS_TABLE

from cli_fixtures import CORPUS, REPO, workspace  # noqa: F401  (workspace is a fixture)


@pytest.fixture(params=["sqlite", "duckdb", "postgresql", "clickhouse"])
def db_url(request: pytest.FixtureRequest, workspace: Path, fresh_database_url: Callable[[str], str]) -> str:
    return fresh_database_url(request.param)


def test_ingest_query_stats(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "corpus", "--db", db_url, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ingested 25 passages from 5 files into ")

    assert main(["query", "which distance metric should I use for normalized embeddings", "-k", "3", "--db", db_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("1. ") and "corpus/distance-metrics.md > " in lines[0]
    assert len([line for line in lines if line[:2] in ("1.", "2.", "3.")]) == 3

    assert main(["query", "HNSW graph ef_search recall", "--mode", "vector", "--json", "--db", db_url]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results[0]["metadata"]["source"] == "corpus/indexes.md"
    assert [r["similarity"] for r in results] == sorted((r["similarity"] for r in results), reverse=True)
    assert set(results[0]) == {"document_id", "content", "metadata", "distance", "similarity"}

    assert main(["query", "database", "--where", "source=corpus/backends.md", "--json", "--db", db_url]) == 0
    filtered = json.loads(capsys.readouterr().out)
    assert filtered and {r["metadata"]["source"] for r in filtered} == {"corpus/backends.md"}
    assert main(["query", "database", "--where", "chunk=0", "--json", "-k", "10", "--db", db_url]) == 0
    first_chunks = json.loads(capsys.readouterr().out)
    assert len(first_chunks) == 5 and {r["metadata"]["chunk"] for r in first_chunks} == {0}

    assert main(["stats", "--db", db_url]) == 0
    stats = capsys.readouterr().out
    assert "documents:  25" in stats and "embeddings: 25 x 384" in stats

    # ingesting a file again replaces its passages
    assert main(["ingest", "corpus/backends.md", "--db", db_url, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["stats", "--db", db_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["document_count"] == 25


def test_stats_of_a_database_built_through_the_api(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    # A database that records no model (built through the API) was reported with the lexical default's name and
    # 384 dimensions, whatever its vectors were.
    import sqlalchemy_vector as sv
    from sqlalchemy_vector.embedding import HashingEmbedder

    rag = sv.VectorRAG(db_url, embedder=HashingEmbedder(dimension=96))
    try:
        rag.load_documents([{"content": "cosine distance"}, {"content": "an index"}], show_progress=False)
    finally:
        rag.close()
    assert main(["stats", "--db", db_url, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["embedding_count"], stats["dimension"], stats["embedding_model"]) == (2, 96, "hashing-v3-96")
    assert stats["precision"] == "float32"
    assert main(["stats", "--db", db_url]) == 0
    assert "embeddings: 2 x 96 (hashing-v3-96)" in capsys.readouterr().out


def test_a_database_of_another_dimension_is_refused_in_the_command_words(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # ingest and import opened the database with a facade of the default model first, which refused it in the API's
    # words: "open it with dimension=128 and an embedder of that size, ... or migrate the column".
    import sqlalchemy_vector as sv
    from sqlalchemy_vector.embedding import HashingEmbedder

    rag = sv.VectorRAG(db_url, embedder=HashingEmbedder(dimension=128))
    try:
        rag.load_documents([{"content": "cosine distance"}], show_progress=False)
    finally:
        rag.close()
    assert main(["ingest", "corpus/indexes.md", "--db", db_url, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "embedded with 'hashing-v3-128' (128 dimensions), not 'hashing-v3-384' (384)" in err
    assert "pass --model 'hashing-v3-128' (the lexical model at 128 dimensions)" in err and "dimension=" not in err
    assert main(["ingest", "corpus", "--db", f"sqlite:///{Path.cwd() / 'other.db'}", "--quiet"]) == 0
    assert main(["export", "lexical384.parquet", "--db", f"sqlite:///{Path.cwd() / 'other.db'}"]) == 0
    capsys.readouterr()
    assert main(["import", "lexical384.parquet", "--db", db_url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "import the file into a database of its model (another --db)" in err
    assert main(["stats", "--json", "--db", db_url]) == 0
    assert json.loads(capsys.readouterr().out)["document_count"] == 1
    assert main(["ingest", "corpus/indexes.md", "--model", "hashing-v3-128", "--db", db_url, "--quiet"]) == 0


@pytest.mark.parametrize(
    "backend, id_type",
    [*((b, uuid.UUID) for b in ("sqlite", "duckdb", "postgresql", "clickhouse")), *((b, int) for b in ("sqlite", "duckdb", "postgresql"))],
    ids=lambda value: value if isinstance(value, str) else value.__name__,
)
def test_a_database_whose_tables_the_api_keyed_otherwise(
    backend: str, id_type: type, workspace: Path, fresh_database_url: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    # VectorRAG(url, id_type=...) makes the same tables with UUID or integer keys: the tool reads the stored key
    # type as it reads the stored precision.
    import sqlalchemy_vector as sv

    url = fresh_database_url(backend)
    rag = sv.VectorRAG(url, id_type=id_type)
    try:
        (made,) = rag.load_documents([{"content": "a note on cosine distance", "metadata": {"source": "note"}}], show_progress=False)
    finally:
        rag.close()
    assert main(["ingest", "corpus", "--db", url, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["query", "which distance metric should I use for normalized embeddings", "-k", "30", "--json", "--db", url]) == 0
    results = json.loads(capsys.readouterr().out)
    assert len(results) == 26 and str(made) in {str(r["document_id"]) for r in results}
    assert main(["stats", "--db", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["document_count"] == 26
    assert main(["ingest", "corpus", "--db", url, "--quiet", "--prune"]) == 0  # unchanged files: nothing written


@pytest.mark.parametrize(
    "backend, id_type",
    [(b, t) for b in ("sqlite", "duckdb", "postgresql") for t in (uuid.UUID, int)],
    ids=lambda value: value if isinstance(value, str) else value.__name__,
)
def test_empty_tables_the_api_keyed_otherwise(
    backend: str, id_type: type, workspace: Path, fresh_database_url: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    # No stored key to read: the column's type says it (ClickHouse's String does not: there the tool writes text keys).
    import sqlalchemy_vector as sv

    url = fresh_database_url(backend)
    sv.VectorRAG(url, id_type=id_type).close()  # the tables, empty
    assert main(["ingest", "corpus", "--db", url, "--quiet"]) == 0
    rag = sv.VectorRAG(url, id_type=id_type)
    try:
        found = rag.query("distance metric", top_k=3)
        assert len(found) == 3 and all(isinstance(r["document_id"], id_type) for r in found)
    finally:
        rag.close()


def test_default_database_is_a_sqlite_file_here(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "corpus/embeddings.md", "--quiet"]) == 0
    assert (workspace / "sqlalchemy_vector.db").is_file()
    assert "sqlite:///sqlalchemy_vector.db" in capsys.readouterr().out
    assert main(["query", "machine learning model weights"]) == 0
    assert "corpus/embeddings.md" in capsys.readouterr().out


def test_errors_are_short_and_clear(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "anything", "--db", f"sqlite:///{workspace}/missing.db"]) == 1
    err = capsys.readouterr().err
    assert "no database at" in err and "sqlalchemy-vector ingest PATH" in err
    assert not (workspace / "missing.db").exists()
    assert main(["ingest", "nope/"]) == 1
    assert "no such file or directory: nope/" in capsys.readouterr().err
    assert main(["ingest", "corpus", "--quiet"]) == 0
    assert main(["query", "x", "--where", "novalue"]) == 1
    assert "--where expects KEY=VALUE, got 'novalue'" in capsys.readouterr().err


def test_console_entry_points(workspace: Path) -> None:
    env = {**os.environ, "SQLALCHEMY_VECTOR_DB": f"sqlite:///{workspace}/env.db"}
    done = subprocess.run([sys.executable, "-m", "sqlalchemy_vector", "--help"], capture_output=True, text=True, check=True)
    assert "ingest" in done.stdout and "query" in done.stdout and "stats" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "sqlalchemy_vector", "ingest", "corpus/retrieval.md", "--quiet"],
        capture_output=True, text=True, env=env, check=True,
    )
    assert "into sqlite:///" in done.stdout and (workspace / "env.db").is_file()
    script = shutil.which("sqlalchemy-vector", path=str(Path(sys.executable).parent))
    assert script is not None, "console script not installed"
    done = subprocess.run([script, "query", "chunking passages", "-k", "1"], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.startswith("1. ") and "corpus/retrieval.md" in done.stdout


#: Commands that read a database the test ingested first.
READING_COMMANDS = [
    ["query", "distance metric", "-k", "3"],
    ["query", "distance metric", "--mode", "vector", "--json"],
    ["stats"],
    ["export", "out.parquet"],
]


def _command_id(command: List[str]) -> str:
    """A command in a test id: its first and last words."""
    return " ".join(command[:1] + command[-1:])


@pytest.mark.parametrize("command", [["ingest", "corpus", "--quiet"], *READING_COMMANDS], ids=_command_id)
def test_a_command_opens_its_database_once(
    command: List[str], db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # One engine for the whole command: on DuckDB each engine opened the file again (about 0.1 s),
    # elsewhere each was a connection of its own. And one read of the stored settings, which every
    # step of the command consults.
    assert main(["ingest", "corpus", "--db", db_url, "--quiet"]) == 0
    engines: Set[int] = set()
    settings_reads: List[str] = []

    def opened(connection: Connection) -> None:
        engines.add(id(connection.engine))

    def executed(connection: Connection, cursor: Any, statement: str, *args: Any) -> None:
        # The settings, not the write counter: every key but the counter's (identifiers as any backend quotes them).
        bare = statement.replace('"', "").replace("`", "")
        if f"FROM {SETTINGS_TABLE}" in bare and ("!=" in bare or "<>" in bare):
            settings_reads.append(statement)

    event.listen(Engine, "engine_connect", opened)
    event.listen(Engine, "before_cursor_execute", executed)
    try:
        assert main([*command, "--db", db_url]) == 0, capsys.readouterr().err
    finally:
        event.remove(Engine, "engine_connect", opened)
        event.remove(Engine, "before_cursor_execute", executed)
    assert len(engines) == 1
    assert len(settings_reads) == 1, settings_reads


@pytest.mark.parametrize("command", READING_COMMANDS, ids=_command_id)
def test_a_reading_command_looks_for_each_table_once(
    command: List[str], db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # These commands open a facade to fail on a missing table before the model loads, then one with
    # the model, and check the stored vectors: the tables are looked for by the first only.
    assert main(["ingest", "corpus", "--db", db_url, "--quiet"]) == 0
    probed: List[str] = []
    has_table = Inspector.has_table

    def probe(self: Inspector, table_name: str, *args: Any, **kw: Any) -> bool:
        probed.append(table_name)
        return has_table(self, table_name, *args, **kw)

    monkeypatch.setattr(Inspector, "has_table", probe)
    assert main([*command, "--db", db_url]) == 0, capsys.readouterr().err
    assert {"documents", "embeddings"} <= set(probed)
    assert len(probed) == len(set(probed)), probed
