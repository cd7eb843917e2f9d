"""Dialects derived from supported ones find their parent's backend and compile as the parent does.

The CockroachDB dialect (sqlalchemy-cockroachdb) subclasses PostgreSQL's, under the name ``cockroachdb``:
every distance, index shape and top-k statement must compile to exactly PostgreSQL's SQL.  No CockroachDB
server runs here, so this is compile-tested only; the live matrix runs a PostgreSQL subclass
(``postgresql-derived`` in conftest).  A SQLite subclass defined here finds SQLite's backend the same way.
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
from sqlalchemy.schema import CreateIndex, CreateTable, DropIndex
from sqlalchemy_cockroachdb.asyncpg import CockroachDBDialect_asyncpg
from sqlalchemy_cockroachdb.psycopg import CockroachDBDialect_psycopg
from sqlalchemy_cockroachdb.psycopg2 import CockroachDBDialect_psycopg2

import sqlalchemy_vector as sv
from sqlalchemy_vector.dialects import backend_for, find_backend
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
    "derivedsqlite": (DerivedSQLiteDialect, SQLiteDialect_pysqlite),
}
COCKROACH = sorted(name for name in PAIRS if name.startswith("cockroachdb"))

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
    assert find_backend(derived) is backend_for(parent)
    assert find_backend(type(derived)) is backend_for(parent)
    assert backend_for(derived).name == parent.name


@pytest.mark.parametrize("pair", COCKROACH)
def test_cockroachdb_is_postgresqls_backend(pair: str) -> None:
    derived, _ = _both(pair)
    assert derived.name == "cockroachdb"
    assert backend_for(derived) is backend_for("postgresql")


# -- distances and storage -------------------------------------------------------------------


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


@pytest.mark.parametrize("shape", sorted(INDEX_SHAPES))
@pytest.mark.parametrize("pair", COCKROACH)
def test_index_ddl_compiles_as_postgresql(pair: str, shape: str) -> None:
    index = INDEX_SHAPES[shape]()
    try:
        created = assert_same_sql(pair, CreateVectorIndex(index))
        assert created.startswith("CREATE INDEX ") and " USING " in created
        assert_same_sql(pair, CreateVectorIndex(index, if_not_exists=True))
        # SQLAlchemy's own CREATE INDEX (metadata.create_all) renders the same index.
        assert_same_sql(pair, CreateIndex(index))
        assert_same_sql(pair, DropIndex(index))
        assert_same_sql(pair, DropVectorIndex(index.name, if_exists=True))
        assert_same_sql(pair, DropVectorIndex(index.name, schema="s"))
        derived, parent = _both(pair)
        for make in (
            lambda d: create_statements(index, d, if_not_exists=True),
            lambda d: drop_statements(index.name, None, d, if_exists=True),
        ):
            assert [str(s.compile(dialect=derived)) for s in make(derived)] == [
                str(s.compile(dialect=parent)) for s in make(parent)
            ]
    finally:
        docs.indexes.discard(index)


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
        assert str(KNN_SHAPES[shape](derived).compile(dialect=derived, **kw)) == expected
    finally:
        for index in set(docs.indexes) - before:
            docs.indexes.discard(index)
