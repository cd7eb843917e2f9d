"""Nothing silent, nothing half-written: hostile input, schema drift, hostile names and first-use races.

Every rule here is the same on every backend (docs/inputs-and-errors.md): rejected
input raises a sqlalchemy_vector exception naming the value and the fix, and
leaves no row behind.  Crashes mid-write are in test_reliability_crash.py,
property-based tests in test_reliability_properties.py.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, List

import numpy as np
import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine as sa_create_engine, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable

import sqlalchemy_vector as sv
from reliability_cases import CASES, run_cases, stored_rows
from sqlalchemy_vector import exc as x
from sqlalchemy_vector.orm import make_models
from sqlalchemy_vector.rag import AsyncVectorRAG, VectorRAG

SYNC = ("sqlite", "duckdb", "postgresql", "clickhouse")
# DuckDB and ClickHouse have no asyncio driver: their async facade runs the sync driver in a worker thread.
ASYNC = ("sqlite", "postgresql", "duckdb", "clickhouse")
ROOT = Path(__file__).resolve().parent.parent


def async_url(url: str) -> str:
    return url.replace("sqlite:", "sqlite+aiosqlite:", 1).replace("postgresql+psycopg:", "postgresql+psycopg_async:", 1)


# -- garbage in: one clear error, nothing written ------------------------------------------------


@pytest.mark.parametrize("backend", SYNC)
def test_hostile_input_is_refused_clearly(backend: str, fresh_database_url: Callable[[str], str]) -> None:
    rag = VectorRAG(fresh_database_url(backend), dimension=4)
    try:
        outcome = run_cases(rag)
    finally:
        rag.close()
    assert outcome["unclear"] == []
    assert outcome["rows"] == 0  # nothing half-written by rejected input
    assert outcome["cases"] == len(CASES) > 100


@pytest.mark.parametrize("backend", ASYNC)
async def test_hostile_input_is_refused_clearly_async(backend: str, fresh_database_url: Callable[[str], str]) -> None:
    rag = AsyncVectorRAG(async_url(fresh_database_url(backend)), dimension=4)
    try:
        for document, error in [
            ({"content": "a\x00b"}, x.InvalidDocumentError),
            ({"content": "a", "metadata": {"k": float("nan")}}, x.InvalidDocumentError),
            ({"content": "a", "metadata": {"a\x00b": 1}}, x.InvalidDocumentError),
            ({"content": "\ud800"}, x.InvalidDocumentError),
            ({"content": "a", "embedding": [True, 0.5, 0.0, 1.0]}, x.InvalidVectorError),
        ]:
            with pytest.raises(error):
                await rag.load_documents([document], show_progress=False)
        with pytest.raises(x.InvalidFilterError, match="NUL"):
            await rag.query_with_filters({"a\x00b": 1})
        with pytest.raises(x.UnsupportedMetricError):
            await rag.query("a", similarity_function=["cosine"])  # type: ignore[arg-type]
        assert (await rag.get_statistics())["document_count"] == 0
    finally:
        await rag.close()


@pytest.mark.parametrize("backend", SYNC)
def test_nul_key_filter_is_not_read_as_another_key(backend: str, fresh_database_url: Callable[[str], str]) -> None:
    # SQLite's JSON path stopped at the NUL: a filter on 'a\x00b' matched documents with key 'a'.
    with VectorRAG(fresh_database_url(backend), dimension=4) as rag:
        rag.load_document("x", {"a": 1})
        with pytest.raises(x.InvalidFilterError, match="NUL"):
            rag.query_with_filters({"a\x00b": 1})
        assert [r["metadata"] for r in rag.query_with_filters({"a": 1})] == [{"a": 1}]


def test_error_names_the_place_and_the_fix(tmp_path: Path) -> None:
    with VectorRAG(f"sqlite:///{tmp_path}/m.db", dimension=4) as rag:
        with pytest.raises(x.InvalidDocumentError, match=r"documents\[1\] metadata\['tags'\]\[0\] holds nan.*use None"):
            rag.load_documents([{"content": "ok"}, {"content": "a", "metadata": {"tags": [float("nan")]}}], show_progress=False)
        with pytest.raises(x.InvalidVectorError, match="booleans are not read as 0/1"):
            rag.load_documents([{"content": "a", "embedding": [1, True, 0, 0]}], show_progress=False)
        with pytest.raises(x.InvalidRowError, match=r"row 0 .* is a tuple, not a mapping; .*dict\(zip"):
            with rag.engine.begin() as connection:
                sv.bulk_insert(connection, rag.document_model.__table__, [("id", "text")])  # type: ignore[list-item]


# -- vector sizes beyond what a backend stores or indexes ------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "limit"),
    [(postgresql.dialect(), 16000), (sqlite.dialect(), None), ("duckdb", 100000)],
    ids=["postgresql", "sqlite", "duckdb"],
)
def test_dimension_limit_at_ddl(dialect: Any, limit: Any) -> None:
    if dialect == "duckdb":
        dialect = sa_create_engine("duckdb://").dialect
    for dim, fails in [(limit or 20000, False), ((limit or 20000) + 1, limit is not None)]:
        table = Table("t", MetaData(), Column("id", String, primary_key=True), Column("v", sv.Vector(dim)))
        if fails:
            with pytest.raises(x.DimensionLimitError, match=rf"column 't.v' \(Vector\({dim}\)\) has more dimensions .*\({limit} at most\)"):
                CreateTable(table).compile(dialect=dialect)
        else:
            assert str(dim) in str(CreateTable(table).compile(dialect=dialect))


@pytest.mark.parametrize(("backend", "dim"), [("sqlite", 8193), ("postgresql", 2001)])
def test_index_dimension_limit(backend: str, dim: int, fresh_database_url: Callable[[str], str]) -> None:
    with VectorRAG(fresh_database_url(backend), dimension=dim) as rag:
        with pytest.raises(x.DimensionLimitError, match=rf"at most {dim - 1} dimensions.*has {dim}"):
            rag.create_index("too_wide")
        assert rag.get_statistics()["indexes"] == []


@pytest.mark.parametrize("backend", SYNC)
def test_pgvector_storage_limit_before_the_database(backend: str, fresh_database_url: Callable[[str], str]) -> None:
    too_many = {"postgresql": 16001, "duckdb": 100001, "sqlite": None, "clickhouse": None}[backend]
    if too_many is None:  # SQLite (a BLOB) and ClickHouse (an Array) store any size; SQLite's limit is the index's
        with VectorRAG(fresh_database_url(backend), dimension=9000) as rag:
            assert rag.load_documents([{"content": "a", "embedding": np.ones(9000)}], show_progress=False)
        return
    with pytest.raises(x.DimensionLimitError, match=f"Vector\\({too_many}\\)"):
        VectorRAG(fresh_database_url(backend), dimension=too_many)


# -- schema drift: the tables found must be the tables the facade expects --------------------------


@pytest.mark.parametrize("backend", SYNC)
def test_dimension_drift_is_named_on_open(backend: str, fresh_database_url: Callable[[str], str]) -> None:
    url = fresh_database_url(backend)
    with VectorRAG(url, dimension=8) as rag:
        rag.load_document("kept")
    with pytest.raises(x.SchemaMismatchError, match=r"embeddings.embedding in the database stores 8-dimensional .* expects 4.*dimension=8"):
        VectorRAG(url, dimension=4)
    with VectorRAG(url, dimension=8) as rag:  # nothing was changed
        assert rag.get_statistics()["document_count"] == 1


@pytest.mark.parametrize("backend", ("sqlite", "duckdb", "postgresql", "clickhouse"))
def test_dimension_drift_names_a_migration_the_backend_can_run(
    backend: str, fresh_database_url: Callable[[str], str]
) -> None:
    # ClickHouse refuses op.alter_vector_dimension, which the error told users to run there too.
    url = fresh_database_url(backend)
    VectorRAG(url, dimension=8).close()
    with pytest.raises(x.SchemaMismatchError) as raised:
        VectorRAG(url, dimension=4)
    if backend == "clickhouse":
        assert "alter_vector_dimension" not in str(raised.value)
        assert str(raised.value).endswith("or add a Vector(4) column, fill it with new embeddings and drop the old one")
    else:
        assert str(raised.value).endswith("or migrate the column (Alembic with op.alter_vector_dimension)")


@pytest.mark.parametrize("backend", ASYNC)
async def test_dimension_drift_is_named_on_open_async(backend: str, fresh_database_url: Callable[[str], str]) -> None:
    url = fresh_database_url(backend)
    VectorRAG(url, dimension=8).close()
    rag = AsyncVectorRAG(async_url(url), dimension=4)
    try:
        with pytest.raises(x.SchemaMismatchError, match="stores 8-dimensional"):
            await rag.load_document("x")
    finally:
        await rag.close()


@pytest.mark.parametrize("backend", SYNC)
def test_missing_column_is_named_on_open(backend: str, fresh_database_url: Callable[[str], str]) -> None:
    url = fresh_database_url(backend)
    engine = sv.create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE documents (id VARCHAR PRIMARY KEY, content TEXT)"))
    engine.dispose()
    with pytest.raises(x.SchemaMismatchError, match=r"table 'documents' exists without the column\(s\) 'metadata', 'created_at'"):
        VectorRAG(url, dimension=4)


# -- hostile names: quoted end to end, or refused clearly --------------------------------------------

QUOTED_NAMES = ["select", "order", "a b", "a,b", "a'b", "x'); DROP TABLE t; --", "é字", "a.b", "%s", ":p", "1a"]
REFUSED_NAMES = ['a"b', 'x"; CREATE TABLE pwn (i int); --', "a\x00b", "a\ud800", "n" * 64, ""]


def _hostile_models(name: str, id_type: type = int) -> Any:
    return make_models(
        4,
        id_type=id_type,
        document_table="t " + name,
        embedding_table="e " + name,
        document_columns={"id": name + " id", "content": name, "metadata_": name + " m"},
        embedding_columns={"id": name + " eid", "document_id": name + " d", "embedding": name + "_v", "model_name": name + " n"},
    )


@pytest.mark.parametrize("backend", SYNC)
def test_hostile_names_round_trip(backend: str, fresh_database_url: Callable[[str], str]) -> None:
    url = fresh_database_url(backend)
    engine = sv.create_engine(url)
    try:
        for name in QUOTED_NAMES:
            # (ClickHouse generates no integer keys.)
            Document, Embedding = _hostile_models(name, str if backend == "clickhouse" else int)
            Document.metadata.create_all(engine)
            rag = VectorRAG(engine, document_model=Document, embedding_model=Embedding)
            ids = rag.load_documents(
                [
                    {"content": "a", "metadata": {name: 1}, "embedding": [1, 0, 0, 0]},
                    {"content": "b", "metadata": {name: 2}, "embedding": [0, 1, 0, 0]},
                ],
                show_progress=False,
            )
            assert [r["document_id"] for r in rag.query_with_filters({name: 2})] == [ids[1]]
            options = {"duckdb_experimental_persistence": True} if backend == "duckdb" else {}
            try:
                rag.create_index("i " + name, **options)
            except x.VectorIndexError as err:
                # sqlite-vec's vec0 takes plain column names only: refused clearly, before any DDL.
                assert backend == "sqlite" and "plain vector column name" in str(err), err
            else:
                assert [i["name"] for i in rag.get_statistics()["indexes"]] == ["i " + name]
            assert [r["document_id"] for r in rag.query_with_embedding([1, 0.1, 0, 0], top_k=1)] == [ids[0]]
            rag.delete_index("i " + name)
            assert rag.delete_documents(ids=[ids[0]]) == 1
            assert rag.get_statistics()["document_count"] == 1
        with engine.connect() as connection:
            assert not sa_inspect_has(connection, "t")  # no statement was split by a name
    finally:
        engine.dispose()


def sa_inspect_has(connection: Any, table: str) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(connection).has_table(table))


@pytest.mark.parametrize("name", REFUSED_NAMES, ids=range(len(REFUSED_NAMES)))
def test_hostile_names_refused(name: str) -> None:
    with pytest.raises(x.ModelConfigurationError):
        make_models(4, document_table=name)
    with pytest.raises(x.ModelConfigurationError, match="__column_names__"):
        make_models(4, document_columns={"content": name})


# -- first use from several threads and processes ------------------------------------------------------


@pytest.mark.parametrize("backend", SYNC)
def test_first_use_from_four_threads(backend: str, fresh_database_url: Callable[[str], str]) -> None:
    url = fresh_database_url(backend)
    errors: List[BaseException] = []
    barrier = threading.Barrier(4)

    def open_and_write(i: int) -> None:
        try:
            barrier.wait()
            with VectorRAG(url, dimension=4) as rag:
                rag.load_document(f"thread {i}", document_id=f"t{i}")
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=open_and_write, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with VectorRAG(url, dimension=4) as rag:
        assert rag.get_statistics()["document_count"] == 4


_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from sqlalchemy_vector.rag import VectorRAG
from sqlalchemy_vector.exc import DatabaseLockedError
start = float(sys.argv[2])
while time.time() < start:
    pass
try:
    with VectorRAG(sys.argv[1], dimension=4) as rag:
        rag.load_document("process " + sys.argv[3], document_id="p" + sys.argv[3])
    print("ok")
except DatabaseLockedError as err:
    print("locked", err)
except Exception as err:
    print("error", type(err).__name__, err)
"""


@pytest.mark.parametrize("backend", ("sqlite", "postgresql"))  # DuckDB: one process per file (next test)
def test_first_use_from_four_processes(backend: str, fresh_database_url: Callable[[str], str]) -> None:
    url = fresh_database_url(backend)
    start = time.time() + 2.0  # the children start together, once imported
    code = _CHILD.format(root=str(ROOT))
    children = [
        subprocess.Popen([sys.executable, "-c", code, url, str(start), str(i)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for i in range(4)
    ]
    outcomes = [child.communicate(timeout=120)[0].strip() for child in children]
    assert outcomes == ["ok"] * 4
    with VectorRAG(url, dimension=4) as rag:
        assert rag.get_statistics()["document_count"] == 4


def test_duckdb_second_process_is_told_what_to_do(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/held.duckdb"
    with VectorRAG(url, dimension=4) as rag:
        rag.load_document("held")
        code = _CHILD.format(root=str(ROOT))
        out = subprocess.run([sys.executable, "-c", code, url, "0", "1"], capture_output=True, text=True, timeout=120).stdout
        assert out.startswith("locked") and "held by process" in out and "one process" in out, out
        assert stored_rows(rag) == 2
