"""Dialects derived from supported ones find their parent's backend and compile as the parent does.

The CockroachDB dialect (sqlalchemy-cockroachdb) subclasses PostgreSQL's, under the name ``cockroachdb``, and
has a backend that subclasses PostgreSQL's: distances, filters and top-k statements compile to exactly
PostgreSQL's SQL, the vector index to CockroachDB's ``CREATE VECTOR INDEX``.  No CockroachDB server runs here,
so this is compile-tested only; the live matrix runs a PostgreSQL subclass (``postgresql-derived`` in
conftest).  A SQLite subclass defined here finds SQLite's backend the same way.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import CompileError
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy_cockroachdb.asyncpg import CockroachDBDialect_asyncpg
from sqlalchemy_cockroachdb.psycopg import CockroachDBDialect_psycopg
from sqlalchemy_cockroachdb.psycopg2 import CockroachDBDialect_psycopg2

import sqlalchemy_vector as sv
from sqlalchemy_vector.dialects import backend_for, find_backend
from sqlalchemy_vector.dialects.cockroachdb import CockroachDBBackend
from sqlalchemy_vector.dialects.cockroachdb import index as crdb_index
from sqlalchemy_vector.dialects.cockroachdb import search as crdb_search
from sqlalchemy_vector.dialects.postgresql import PostgreSQLBackend
from sqlalchemy_vector.dialects.yugabytedb import YugabyteDBBackend
from sqlalchemy_vector.dialects.yugabytedb import dialect as yb_dialect
from sqlalchemy_vector.dialects.yugabytedb import index as yb_index
from sqlalchemy_vector.exc import InvalidArgumentError, UnsupportedMetricError
from sqlalchemy_vector.index import CreateVectorIndex, DropVectorIndex, create_statements, drop_statements
from sqlalchemy_vector.orm import MetadataJSON


class DerivedSQLiteDialect(SQLiteDialect_pysqlite):
    """A SQLite dialect under another name, as a user's own subclass would be."""

    name = "derivedsqlite"
    supports_statement_cache = True


# Each derived dialect class with the supported dialect class it derives from.
PAIRS: Dict[str, Tuple[type, type]] = {
    "cockroachdb+psycopg2": (CockroachDBDialect_psycopg2, PGDialect_psycopg2),
    "cockroachdb+psycopg": (CockroachDBDialect_psycopg, PGDialect_psycopg),
    "cockroachdb+asyncpg": (CockroachDBDialect_asyncpg, PGDialect_asyncpg),
    "yugabytedb+psycopg": (yb_dialect.YugabyteDBDialect_psycopg, PGDialect_psycopg),
    "yugabytedb+psycopg2": (yb_dialect.YugabyteDBDialect_psycopg2, PGDialect_psycopg2),
    "yugabytedb+asyncpg": (yb_dialect.YugabyteDBDialect_asyncpg, PGDialect_asyncpg),
    "derivedsqlite": (DerivedSQLiteDialect, SQLiteDialect_pysqlite),
}
COCKROACH = sorted(name for name in PAIRS if name.startswith("cockroachdb"))
YUGABYTE = sorted(name for name in PAIRS if name.startswith("yugabytedb"))

metadata = MetaData()
docs = Table(
    "docs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("label", String(20)),
    Column("meta", MetadataJSON()),
    Column("embedding", sv.Vector(3)),
)
Q = [1.0, 2.0, 3.0]


def _both(pair: str) -> Tuple[Dialect, Dialect]:
    """Instances of the derived dialect and its parent, made without a connection."""
    derived, parent = PAIRS[pair]
    return derived(), parent()


def assert_same_sql(pair: str, stmt: Any, **compile_kw: Any) -> str:
    derived, parent = _both(pair)
    expected = str(stmt.compile(dialect=parent, **compile_kw))
    assert str(stmt.compile(dialect=derived, **compile_kw)) == expected
    return expected


# -- lookup by class hierarchy -----------------------------------------------------------------


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_derived_dialect_finds_its_parents_backend(pair: str) -> None:
    derived, parent = _both(pair)
    assert derived.name != parent.name
    found = find_backend(derived)
    assert found is find_backend(type(derived))
    # CockroachDB and YugabyteDB have backends of their own, subclasses of PostgreSQL's; others get the parent's.
    assert isinstance(found, type(backend_for(parent)))
    assert found is (find_backend(derived.name) or backend_for(parent))
    assert (found is backend_for(parent)) is (derived.name == "derivedsqlite")


@pytest.mark.parametrize("pair", COCKROACH)
def test_cockroachdb_backend_inherits_postgresqls(pair: str) -> None:
    derived, parent = _both(pair)
    backend = backend_for(derived)
    assert derived.name == "cockroachdb" and backend.name == "cockroachdb"
    assert type(backend) is CockroachDBBackend and isinstance(backend, PostgreSQLBackend)
    assert backend.vector_extension_statements(True) == () == backend.vector_extension_statements(False)
    assert backend_for(parent).vector_extension_statements(True) == ("CREATE EXTENSION IF NOT EXISTS vector",)
    assert backend.capabilities.index_metrics == {"cspann": ("l2", "cosine", "max_inner_product")}


# -- distances and storage -------------------------------------------------------------------


KIND_TYPES = {"half": sv.HalfVector, "bit": sv.BitVector, "sparse": sv.SparseVector, "int8": sv.Int8Vector}


@pytest.mark.parametrize("kind", sorted(KIND_TYPES))
@pytest.mark.parametrize("pair", COCKROACH + YUGABYTE)
def test_kinds_the_database_lacks_are_refused(pair: str, kind: str) -> None:
    """halfvec, bit and sparsevec are pgvector's, not CockroachDB's or YugabyteDB's: refused as int8 is, not rendered."""
    derived, parent = _both(pair)
    table = Table("codes", MetaData(), Column("id", Integer, primary_key=True), Column("v", KIND_TYPES[kind](8)))
    query = [1, 0, 1, 0, 1, 0, 1, 0]
    metric = "hamming" if kind == "bit" else "l2"
    reason = "CockroachDB has VECTOR only" if pair in COCKROACH else "YugabyteDB documents the vector type only"
    message = rf"{derived.name} cannot store {kind} vectors: {reason}"
    with pytest.raises(sv.exc.UnsupportedKindError, match=message):
        table.c.v.type.dialect_impl(derived)
    with pytest.raises(CompileError, match=message):
        CreateTable(table).compile(dialect=derived)
    with pytest.raises(sv.exc.UnsupportedKindError, match=message):
        select(table.c.id).order_by(sv.distance(metric, table.c.v, query)).limit(3).compile(dialect=derived)
    if kind != "int8":  # pgvector itself stores the others
        assert "CREATE TABLE codes" in str(CreateTable(table).compile(dialect=parent))


def _distance_shapes() -> List[Tuple[str, Callable[[], Any]]]:
    shapes: List[Tuple[str, Callable[[], Any]]] = []
    for metric in sv.METRICS:
        shapes.append((f"distance({metric})", lambda m=metric: sv.distance(m, docs.c.embedding, Q)))
        shapes.append(
            (f"column-to-column {metric}", lambda m=metric: sv.distance(m, docs.c.embedding, docs.alias("o").c.embedding))
        )
        shapes.append(
            (
                f"ORDER BY {metric} LIMIT",
                lambda m=metric: select(docs.c.id).order_by(sv.distance(m, docs.c.embedding, Q)).limit(5),
            )
        )
    for method in ("cosine", "l2", "inner_product", "max_inner_product", "l1_distance"):
        shapes.append((f"comparator .{method}()", lambda m=method: getattr(docs.c.embedding, m)(Q)))
    shapes.append(("CREATE TABLE", lambda: CreateTable(docs)))
    return shapes


DISTANCE_SHAPES = dict(_distance_shapes())


@pytest.mark.parametrize("literal_binds", [False, True], ids=["bound", "literal"])
@pytest.mark.parametrize("shape", sorted(DISTANCE_SHAPES))
@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_distances_compile_as_the_parent(pair: str, shape: str, literal_binds: bool) -> None:
    stmt = DISTANCE_SHAPES[shape]()
    kw = {"compile_kwargs": {"literal_binds": True}} if literal_binds and shape != "CREATE TABLE" else {}
    assert_same_sql(pair, stmt, **kw)


def test_cockroachdb_distance_is_pgvectors_operator() -> None:
    # CockroachDB's vector index serves these operators (<->, <=>, <#>) in ORDER BY ... LIMIT.
    # Not only equal to PostgreSQL's output: the operator pgvector's index matches.
    sql = assert_same_sql("cockroachdb+psycopg", sv.distance("cosine", docs.c.embedding, Q))
    assert sql == "(docs.embedding <=> CAST(%(param_1)s AS VECTOR(3)))"


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_metadata_filters_compile_as_the_parent(pair: str) -> None:
    where = sv.metadata_filter(docs.c.meta, {"lang": "en", "year": {"$gte": 2020}, "tag": {"$like": "a%"}})
    assert_same_sql(pair, select(docs.c.id).where(where))
    assert_same_sql(pair, select(docs.c.id).where(where), compile_kwargs={"literal_binds": True})


# -- vector indexes -------------------------------------------------------------------------


def _index_shapes() -> Dict[str, Callable[[], sv.VectorIndex]]:
    shapes: Dict[str, Callable[[], sv.VectorIndex]] = {}
    for metric in ("cosine", "l2", "max_inner_product", "l1"):
        shapes[f"hnsw {metric}"] = lambda m=metric: sv.VectorIndex(f"ix_{m}", docs.c.embedding, metric=m)
        shapes[f"hnsw {metric} m ef_construction"] = lambda m=metric: sv.VectorIndex(
            f"ix_{m}_opts", docs.c.embedding, metric=m, m=16, ef_construction=64
        )
    for metric in ("cosine", "l2", "max_inner_product"):
        shapes[f"ivfflat {metric} lists"] = lambda m=metric: sv.VectorIndex(
            f"ix_ivf_{m}", docs.c.embedding, metric=m, method="ivfflat", lists=100
        )
    shapes["hnsw ip alias"] = lambda: sv.VectorIndex("ix_ip", docs.c.embedding, metric="ip", m=8)
    return shapes


INDEX_SHAPES = _index_shapes()


OPCLASS = {"cosine": "vector_cosine_ops", "l2": "vector_l2_ops", "max_inner_product": "vector_ip_ops"}


@pytest.mark.parametrize("shape", sorted(INDEX_SHAPES))
@pytest.mark.parametrize("pair", COCKROACH)
def test_index_ddl_is_cockroachdbs_vector_index(pair: str, shape: str) -> None:
    """CREATE VECTOR INDEX with the metric's operator class, whatever method and HNSW/IVFFlat options are declared."""
    index = INDEX_SHAPES[shape]()
    derived, parent = _both(pair)
    try:
        if index.metric not in OPCLASS:  # L1: PostgreSQL indexes it, CockroachDB does not
            assert str(CreateVectorIndex(index).compile(dialect=parent)).startswith("CREATE INDEX ")
            with pytest.raises(UnsupportedMetricError, match=rf"{index.name!r}: cockroachdb has no cspann index for metric 'l1'"):
                CreateVectorIndex(index).compile(dialect=derived)
            return
        expected = f"CREATE VECTOR INDEX {index.name} ON docs (embedding {OPCLASS[index.metric]})"
        assert str(CreateVectorIndex(index).compile(dialect=derived)) == expected
        assert str(CreateVectorIndex(index, if_not_exists=True).compile(dialect=derived)) == expected.replace(
            "INDEX ix", "INDEX IF NOT EXISTS ix"
        )
        assert [str(s.compile(dialect=derived)) for s in create_statements(index, derived)] == [expected]
        # Dropping is PostgreSQL's statement.
        assert_same_sql(pair, DropVectorIndex(index.name, if_exists=True))
        assert_same_sql(pair, DropVectorIndex(index.name, schema="s"))
        assert [str(s.compile(dialect=derived)) for s in drop_statements(index.name, None, derived, if_exists=True)] == [
            f"DROP INDEX IF EXISTS {index.name}"
        ]
        assert index.describe(derived) == {
            "name": index.name, "table": "docs", "column": "embedding", "metric": index.metric,
            "method": "cspann", "options": {}, "quantization": None,
        }
    finally:
        docs.indexes.discard(index)


@pytest.mark.parametrize("pair", COCKROACH)
def test_create_all_leaves_the_index_to_create_vector_index(pair: str) -> None:
    """create_all skips SQLAlchemy's CREATE INDEX (it would say USING hnsw) and builds CREATE VECTOR INDEX instead."""
    from sqlalchemy_vector.index import _built_by_create_index

    derived, parent = _both(pair)
    index = sv.VectorIndex("ix_all", docs.c.embedding, metric="cosine", m=16)
    try:
        assert _built_by_create_index(None, index, None, dialect=parent) is True
        assert _built_by_create_index(None, index, None, dialect=derived) is False
        assert "USING hnsw" in str(CreateIndex(index).compile(dialect=derived))  # what create_all would have said
    finally:
        docs.indexes.discard(index)


def test_cockroachdb_search_setting_is_the_beam_size() -> None:
    assert crdb_search.statements(ef_search=None, iterative_scan=None, probes=48) == [
        "SET LOCAL vector_search_beam_size = 48"
    ]
    assert crdb_search.statements(ef_search=None, iterative_scan=None, probes=None) == []
    with pytest.raises(InvalidArgumentError, match="ef_search is a setting of HNSW.*pass probes=<beam size>"):
        crdb_search.statements(ef_search=100, iterative_scan=None, probes=None)
    with pytest.raises(InvalidArgumentError, match="iterative_scan is a setting of HNSW"):
        crdb_search.statements(ef_search=None, iterative_scan="relaxed_order", probes=None)


def test_cockroachdb_catalog_reads_show_create_table() -> None:
    """The vector indexes in CREATE TABLE as CockroachDB prints it (text shaped as in its manual)."""
    statement = (
        "CREATE TABLE public.items (\n\tid UUID NOT NULL DEFAULT gen_random_uuid(),\n\tcustomer_id INT8 NOT NULL,\n"
        "\tembedding VECTOR(512) NULL,\n\tCONSTRAINT items_pkey PRIMARY KEY (id ASC),\n"
        "\tVECTOR INDEX items_customer_id_embedding_idx (customer_id ASC, embedding vector_cosine_ops),\n"
        "\tVECTOR INDEX items_l2 (embedding)\n)"
    )
    found = crdb_index.parse_create_statement("items", statement)
    assert [(f["name"], f["column"], f["metric"], f["method"]) for f in found] == [
        ("items_customer_id_embedding_idx", "embedding", "cosine", "cspann"),
        ("items_l2", "embedding", "l2", "cspann"),  # vector_l2_ops is the default opclass
    ]


def test_cockroachdb_vectors_travel_as_text() -> None:
    """No vector_send/vector_recv on CockroachDB: selected columns are not wrapped, parameters are text."""
    import numpy as np

    derived, parent = _both("cockroachdb+psycopg")
    assert "vector_send" in str(select(docs.c.embedding).compile(dialect=parent))
    assert str(select(docs.c.embedding).compile(dialect=derived)) == "SELECT docs.embedding \nFROM docs"
    impl = sv.Vector(3).dialect_impl(derived)
    assert impl.bind_processor(derived)(np.array([1.5, -2.0, 0.25], np.float32)) == "[1.5,-2.0,0.25]"
    assert impl.result_processor(derived, None)("[1.5,-2,0.25]").tolist() == [1.5, -2.0, 0.25]


def _knn_shapes() -> Dict[str, Callable[[Dialect], Any]]:
    shapes: Dict[str, Callable[[Dialect], Any]] = {}
    for metric in ("cosine", "l2", "max_inner_product", "l1"):
        shapes[f"knn {metric}"] = lambda d, m=metric: sv.knn_select(docs.c.embedding, Q, 5, metric=m, dialect=d)
        shapes[f"knn {metric} exact"] = lambda d, m=metric: sv.knn_select(
            docs.c.embedding, Q, 5, metric=m, dialect=d, exact=True
        )
    shapes["knn filtered, some columns"] = lambda d: sv.knn_select(
        docs.c.embedding,
        Q,
        3,
        metric="l2",
        where=[docs.c.label == "a", sv.metadata_filter(docs.c.meta, {"lang": "en"})],
        columns=[docs.c.id, docs.c.label],
        dialect=d,
    )
    shapes["knn through an index"] = lambda d: sv.knn_select(
        docs.c.embedding, Q, 5, metric="cosine", dialect=d, index=sv.VectorIndex("ix_knn", docs.c.embedding)
    )
    return shapes


KNN_SHAPES = _knn_shapes()


@pytest.mark.parametrize("literal_binds", [False, True], ids=["bound", "literal"])
@pytest.mark.parametrize("shape", sorted(KNN_SHAPES))
@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_knn_select_compiles_as_the_parent(pair: str, shape: str, literal_binds: bool) -> None:
    derived, parent = _both(pair)
    before = set(docs.indexes)
    try:
        kw: Dict[str, Any] = {"compile_kwargs": {"literal_binds": True}} if literal_binds else {}
        expected = str(KNN_SHAPES[shape](parent).compile(dialect=parent, **kw))
        if derived.name == "cockroachdb":  # vectors come back as text there: no vector_send around the column
            expected = expected.replace("vector_send(docs.embedding) AS embedding", "docs.embedding")
        assert str(KNN_SHAPES[shape](derived).compile(dialect=derived, **kw)) == expected
    finally:
        for index in set(docs.indexes) - before:
            docs.indexes.discard(index)


# -- YugabyteDB --------------------------------------------------------------------------------


@pytest.mark.parametrize("url, cls", [
    ("yugabytedb://u@host/db", yb_dialect.YugabyteDBDialect_psycopg),
    ("yugabytedb+psycopg://u@host/db", yb_dialect.YugabyteDBDialect_psycopg),
    ("yugabytedb+psycopg2://u@host/db", yb_dialect.YugabyteDBDialect_psycopg2),
    ("yugabytedb+asyncpg://u@host/db", yb_dialect.YugabyteDBDialect_asyncpg),
])
def test_yugabytedb_urls_select_its_dialect(url: str, cls: type) -> None:
    """create_engine("yugabytedb://...") as for any SQLAlchemy dialect (no connection is made)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    assert make_url(url).get_dialect() is cls
    engine = sv.create_engine(url) if "asyncpg" not in url else create_engine(url)
    try:
        assert engine.dialect.name == "yugabytedb"
        assert type(backend_for(engine.dialect)) is YugabyteDBBackend
    finally:
        engine.dispose()


def test_yugabytedb_entry_points_match_the_registry() -> None:
    """The installed package declares the same URL names as importing it registers."""
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    declared = project["project"]["entry-points"]["sqlalchemy.dialects"]
    assert declared == {name: f"{yb_dialect.__name__}:{cls}" for name, cls in yb_dialect.URL_NAMES.items()}


@pytest.mark.parametrize("pair", YUGABYTE)
def test_yugabytedb_backend_inherits_postgresqls(pair: str) -> None:
    derived, parent = _both(pair)
    backend = backend_for(derived)
    assert isinstance(backend, PostgreSQLBackend) and backend.name == "yugabytedb"
    # pgvector is the extension there too: created the same way.
    assert backend.vector_extension_statements(True) == backend_for(parent).vector_extension_statements(True)
    assert backend.capabilities.index_metrics == {"hnsw": ("cosine", "l2", "max_inner_product")}


@pytest.mark.parametrize("shape", sorted(INDEX_SHAPES))
@pytest.mark.parametrize("pair", YUGABYTE)
def test_yugabytedb_index_ddl_is_ybhnsw(pair: str, shape: str) -> None:
    index = INDEX_SHAPES[shape]()
    derived, _ = _both(pair)
    try:
        if index.method == "ivfflat":
            with pytest.raises(sv.exc.VectorIndexError, match=rf"{index.name!r}: YugabyteDB's ybhnsw builds HNSW indexes only"):
                CreateVectorIndex(index).compile(dialect=derived)
            return
        if index.metric not in OPCLASS:
            with pytest.raises(UnsupportedMetricError, match=rf"{index.name!r}: yugabytedb has no hnsw index for metric 'l1'"):
                CreateVectorIndex(index).compile(dialect=derived)
            return
        options = ", ".join(f"{k} = {v}" for k, v in index.options.items())
        expected = (
            f"CREATE INDEX NONCONCURRENTLY {index.name} ON docs USING ybhnsw (embedding {OPCLASS[index.metric]})"
            + (f" WITH ({options})" if options else "")
        )
        assert str(CreateVectorIndex(index).compile(dialect=derived)) == expected
        assert [str(s.compile(dialect=derived)) for s in create_statements(index, derived, if_not_exists=True)] == [
            expected.replace("NONCONCURRENTLY ix", "NONCONCURRENTLY IF NOT EXISTS ix")
        ]
        assert_same_sql(pair, DropVectorIndex(index.name, if_exists=True))  # dropping is PostgreSQL's
        assert index.describe(derived)["method"] == "hnsw"
    finally:
        docs.indexes.discard(index)


def test_yugabytedb_settings_and_catalog() -> None:
    with pytest.raises(InvalidArgumentError, match="ybhnsw has no iterative scan"):
        yb_index.check_settings(iterative_scan="relaxed_order", probes=None)
    with pytest.raises(InvalidArgumentError, match="probes is IVFFlat's setting"):
        yb_index.check_settings(iterative_scan=None, probes=10)
    yb_index.check_settings(iterative_scan="off", probes=None)
    row = {"name": "ix", "table_name": "docs", "column_name": "embedding", "opclass": "vector_ip_ops", "options": ["m=16"]}
    assert yb_index.described(row) == {
        "name": "ix", "table": "docs", "column": "embedding", "metric": "max_inner_product",
        "method": "hnsw", "options": {"m": 16}, "quantization": None,
    }
