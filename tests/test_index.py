"""Vector indexes (HNSW / IVFFlat / vec0), knn() and search settings on every backend."""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any, Iterator

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.schema import CreateIndex

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import MissingExtensionError, UnsupportedMetricError, VectorIndexError
from sqlalchemy_vector.index import (
    CreateVectorIndex,
    VectorIndex,
    create_statements,
    create_vector_index,
    drop_vector_index,
    list_vector_indexes,
    vector_columns,
)
from sqlalchemy_vector.dialects.sqlite.index import vec0_column_name, vec0_key, vec0_key_column, vec0_key_name
from sqlalchemy_vector.search import knn, knn_select, search_settings

from index_helpers import clustered, exact_ids, explain, fresh_database
from tests.conftest import CLICKHOUSE, WITH_CLICKHOUSE

DIM = 16
ROWS = 1500
CATEGORIES = 30  # cat = id % 30: a filter on one category keeps 50 rows


def duckdb_dialect() -> Any:
    return sv.create_engine("duckdb:///:memory:").dialect


# -- DDL, without a database ---------------------------------------------------------------


def docs_table(dim: int = 3, **column_kw: Any) -> Table:
    return Table(
        "docs",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", sv.Vector(dim), **column_kw),
    )


@pytest.mark.parametrize(
    ("metric", "opclass", "duck", "vec0"),
    [
        ("cosine", "vector_cosine_ops", "cosine", "cosine"),
        ("l2", "vector_l2_ops", "l2sq", "l2"),
        ("max_inner_product", "vector_ip_ops", "ip", None),
        ("ip", "vector_ip_ops", "ip", None),
        ("l1", "vector_l1_ops", None, "L1"),
    ],
)
def test_create_ddl_per_dialect(metric: str, opclass: str, duck: str, vec0: str) -> None:
    table = docs_table()
    index = VectorIndex("ix_docs", table.c.embedding, metric=metric, m=16, ef_construction=64)
    assert str(CreateVectorIndex(index).compile(dialect=postgresql.dialect())) == (
        f"CREATE INDEX ix_docs ON docs USING hnsw (embedding {opclass}) WITH (m = 16, ef_construction = 64)"
    )
    # metadata.create_all on PostgreSQL goes through SQLAlchemy's own CreateIndex: same DDL
    assert str(CreateIndex(index).compile(dialect=postgresql.dialect())) == str(
        CreateVectorIndex(index).compile(dialect=postgresql.dialect())
    )
    if duck is None:
        with pytest.raises(UnsupportedMetricError, match="duckdb has no hnsw index for metric 'l1'"):
            CreateVectorIndex(index).compile(dialect=duckdb_dialect())
    else:
        assert str(CreateVectorIndex(index).compile(dialect=duckdb_dialect())) == (
            f"CREATE INDEX ix_docs ON docs USING HNSW (embedding) WITH (metric = '{duck}', m = 16, ef_construction = 64)"
        )
    if vec0 is None:
        with pytest.raises(UnsupportedMetricError, match="sqlite has no vec0 index for metric 'max_inner_product'"):
            CreateVectorIndex(index).compile(dialect=sqlite.dialect())
    else:
        assert str(CreateVectorIndex(index).compile(dialect=sqlite.dialect())) == (
            f"CREATE VIRTUAL TABLE ix_docs USING vec0(embedding float[3] distance_metric={vec0})"
        )


def test_ivfflat_ddl() -> None:
    table = docs_table()
    index = VectorIndex("ix_ivf", table.c.embedding, metric="l2", method="ivfflat", lists=100)
    assert str(CreateVectorIndex(index).compile(dialect=postgresql.dialect())) == (
        "CREATE INDEX ix_ivf ON docs USING ivfflat (embedding vector_l2_ops) WITH (lists = 100)"
    )
    with pytest.raises(VectorIndexError, match="builds HNSW indexes only, not 'ivfflat'"):
        CreateVectorIndex(index).compile(dialect=duckdb_dialect())


def test_opclass_follows_the_column_key() -> None:
    """postgresql_ops keyed on a name that is not the column's key is silently ignored by SQLAlchemy."""
    table = Table(
        "docs",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("emb_col", sv.Vector(3), key="embedding"),
    )
    trap = sa.Index("plain", table.c.embedding, postgresql_using="hnsw", postgresql_ops={"emb_col": "vector_cosine_ops"})
    assert "vector_cosine_ops" not in str(CreateIndex(trap).compile(dialect=postgresql.dialect()))

    by_string = VectorIndex("ix_a", "embedding")
    table.append_constraint(by_string)
    by_column = VectorIndex("ix_b", table.c.embedding, metric="l2")
    for index, opclass in ((by_string, "vector_cosine_ops"), (by_column, "vector_l2_ops")):
        ddl = str(CreateIndex(index).compile(dialect=postgresql.dialect()))
        assert f"USING hnsw (emb_col {opclass})" in ddl

    class Base(DeclarativeBase):
        pass

    class Doc(Base):
        __tablename__ = "orm_docs"
        id: Mapped[int] = mapped_column(primary_key=True)
        embedding = mapped_column("vector_data", sv.Vector(3))
        __table_args__ = (VectorIndex("ix_orm", "vector_data", metric="max_inner_product"),)

    ddl = str(CreateIndex(next(iter(Doc.__table__.indexes))).compile(dialect=postgresql.dialect()))
    assert ddl == "CREATE INDEX ix_orm ON orm_docs USING hnsw (vector_data vector_ip_ops)"
    late = VectorIndex("ix_late", Doc.embedding, metric="l1")
    assert "vector_data vector_l1_ops" in str(CreateIndex(late).compile(dialect=postgresql.dialect()))


def test_declaration_errors_name_the_index() -> None:
    table = docs_table()
    with pytest.raises(UnsupportedMetricError, match="VectorIndex 'ix': unknown metric 'dot'"):
        VectorIndex("ix", table.c.embedding, metric="dot")
    with pytest.raises(UnsupportedMetricError, match="use 'max_inner_product'"):
        VectorIndex("ix", table.c.embedding, metric="inner_product")
    with pytest.raises(VectorIndexError, match="unknown option.*lists for method 'hnsw'; expected m, ef_construction"):
        VectorIndex("ix", table.c.embedding, lists=10)
    with pytest.raises(VectorIndexError, match="option m expects a positive integer, got 0"):
        VectorIndex("ix", table.c.embedding, m=0)
    with pytest.raises(VectorIndexError, match="unknown method 'diskann'"):
        VectorIndex("ix", table.c.embedding, method="diskann")
    with pytest.raises(VectorIndexError, match="IVFFlat has no operator class for 'l1'"):
        VectorIndex("ix", table.c.embedding, metric="l1", method="ivfflat")
    other = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("title", String(10)))
    with pytest.raises(VectorIndexError, match=r"indexes t.title of type String\(length=10\); expected a Vector"):
        VectorIndex("ix", other.c.title)
    composite = Table(
        "u",
        MetaData(),
        Column("a", Integer, primary_key=True),
        Column("b", String(10), primary_key=True),
        Column("embedding", sv.Vector(3)),
    )
    index = VectorIndex("ix_u", composite.c.embedding)
    with pytest.raises(VectorIndexError, match="needs table 'u' to have a single Integer, String or Uuid primary key"):
        create_statements(index, sqlite.dialect())
    float_keyed = Table("f", MetaData(), Column("key", sa.Float, primary_key=True), Column("embedding", sv.Vector(3)))
    index = VectorIndex("ix_f", float_keyed.c.embedding)
    with pytest.raises(VectorIndexError, match=r"single Integer, String or Uuid primary key.*found: key Float\(\)"):
        create_statements(index, sqlite.dialect())


def test_plain_indexes_are_untouched() -> None:
    table = docs_table()
    plain = sa.Index("ix_plain", table.c.id)
    for dialect in (postgresql.dialect(), sqlite.dialect(), duckdb_dialect()):
        assert str(CreateIndex(plain).compile(dialect=dialect)) == "CREATE INDEX ix_plain ON docs (id)"


# -- create_all / drop_all and the connection-level API ----------------------------------------


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_create_all_and_drop_all(conn: Connection, backend: str) -> None:
    metadata = MetaData()
    table = Table(
        "idx_docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", sv.Vector(4)),
        VectorIndex("idx_docs_cosine", "embedding", metric="cosine", m=8, duckdb_experimental_persistence=True),
        VectorIndex("idx_docs_l2", "embedding", metric="l2", duckdb_experimental_persistence=True),
    )
    if backend == "sqlite-python":
        with pytest.raises(MissingExtensionError, match=r"idx_docs_(cosine|l2).*without the sqlite-vec extension"):
            metadata.create_all(conn)
        return
    metadata.create_all(conn)
    conn.execute(insert(table), [{"id": i, "embedding": [i, 1.0, 0.0, 1.0]} for i in range(1, 6)])
    found = list_vector_indexes(conn, table)
    assert [set(row) for row in found] == [{"name", "table", "column", "metric", "method", "options", "quantization"}] * 2
    method = {"sqlite": "vec0", "duckdb": "hnsw", "postgresql": "hnsw", CLICKHOUSE: "hnsw"}[backend]
    options = {"m": 8} if backend in ("postgresql", CLICKHOUSE) else {}
    assert found == [
        {"name": "idx_docs_cosine", "table": "idx_docs", "column": "embedding", "metric": "cosine", "method": method, "options": options, "quantization": None},
        {"name": "idx_docs_l2", "table": "idx_docs", "column": "embedding", "metric": "l2", "method": method, "options": {}, "quantization": None},
    ]
    assert found == [index.describe(conn.dialect) for index in sorted(table.indexes, key=lambda ix: ix.name)]
    assert list_vector_indexes(conn, "no_such_table") == []
    assert vector_columns(conn, "idx_docs") == {"embedding": 4}
    metadata.drop_all(conn)
    assert list_vector_indexes(conn) == []
    assert "idx_docs" not in sa.inspect(conn).get_table_names()
    if backend == "sqlite":
        assert conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name LIKE 'idx_docs%'")).scalar() == 0


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql"])
@pytest.mark.parametrize("k", [1, 3, 12])
def test_a_stored_zero_vector_ranks_last_through_a_cosine_index(conn: Connection, backend: str, k: int) -> None:
    # sqlite-vec's vec0 gives a zero vector no distance (NULL) and counts it among its k nearest;
    # through the index as without it, it is last, at 2.0. (ClickHouse's index: see docs/backends.md.)
    table = Table(
        "zero_docs",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", sv.Vector(3)),
        VectorIndex("zero_docs_cosine", "embedding", metric="cosine", duckdb_experimental_persistence=True),
    )
    table.metadata.create_all(conn)
    vectors = np.random.default_rng(3).standard_normal((10, 3)).astype(np.float32)
    conn.execute(insert(table), [{"id": 0, "embedding": [0, 0, 0]}] + [{"id": i + 1, "embedding": v} for i, v in enumerate(vectors)])
    query = [1.0, 0.0, 0.0]
    found = [(row.id, row.distance) for row in knn(conn, table.c.embedding, query, k)]
    exact = [(row[0], row[-1]) for row in conn.execute(knn_select(table.c.embedding, query, k, exact=True, dialect=conn.dialect))]
    assert [i for i, _ in found] == [i for i, _ in exact] and None not in [d for _, d in found]
    assert ([i for i, _ in found][-1] == 0 and found[-1][1] == 2.0) if k > 10 else 0 not in [i for i, _ in found]


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_exact_knn_returns_equal_distances_in_key_order(conn: Connection, backend: str) -> None:
    table = Table(
        "tied_docs", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False), Column("embedding", sv.Vector(4))
    )
    table.create(conn)
    conn.execute(insert(table), [{"id": i, "embedding": np.eye(4)[i % 2]} for i in reversed(range(12))])
    exact = knn_select(table.c.embedding, [1, 0, 0, 0], 8, exact=True, dialect=conn.dialect)
    assert [row.id for row in conn.execute(exact)] == [0, 2, 4, 6, 8, 10, 1, 3]


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_create_and_drop_from_a_connection(conn: Connection, backend: str) -> None:
    table = docs_table(dim=3)
    table.create(conn)
    conn.execute(insert(table), [{"id": 1, "embedding": [1, 0, 0]}, {"id": 2, "embedding": [0, 1, 0]}])
    index = VectorIndex("ix_later", table.c.embedding, metric="l2", duckdb_experimental_persistence=True)
    if backend == "sqlite-python":
        with pytest.raises(MissingExtensionError, match="ix_later"):
            create_vector_index(conn, index)
        return
    create_vector_index(conn, index)
    create_vector_index(conn, index, if_not_exists=True)
    assert [row["name"] for row in list_vector_indexes(conn, "docs")] == ["ix_later"]
    drop_vector_index(conn, "ix_later")
    assert list_vector_indexes(conn, "docs") == []
    drop_vector_index(conn, "ix_later", if_exists=True)
    # A name that is no vector index is refused alike everywhere (DuckDB and PostgreSQL raised their own
    # errors, a name of another type AttributeError), and an index of another kind is not dropped.
    with pytest.raises(VectorIndexError, match="no vector index (named )?'ix_later'"):
        drop_vector_index(conn, "ix_later")
    with pytest.raises(VectorIndexError, match="must be a non-empty string, got 123"):
        drop_vector_index(conn, 123)  # type: ignore[arg-type]
    if backend != CLICKHOUSE:
        Index("ix_plain", table.c.id).create(conn)
        with pytest.raises(VectorIndexError, match="no vector index named 'ix_plain'"):
            drop_vector_index(conn, "ix_plain")
        if backend == "duckdb":  # whose SQLAlchemy dialect does not reflect indexes
            names = set(conn.exec_driver_sql("SELECT index_name FROM duckdb_indexes()").scalars())
        else:
            names = {found["name"] for found in sa.inspect(conn).get_indexes("docs")}
        assert "ix_plain" in names
    if backend == "sqlite":
        with pytest.raises(VectorIndexError, match="no vector index named 'docs'"):
            drop_vector_index(conn, "docs")
        assert conn.execute(select(func.count()).select_from(table)).scalar() == 2


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_rebuild_replaces_the_index_of_its_name(conn: Connection, backend: str) -> None:
    table = docs_table(dim=3)
    table.create(conn)
    rows = {1: [1, 0, 0], 2: [0, 1, 0], 3: [0, 0, 1], 4: [1, 1, 0]}
    conn.execute(insert(table), [{"id": key, "embedding": vector} for key, vector in rows.items()])
    options = {"m": 8} if backend in ("postgresql", CLICKHOUSE) else {}  # DuckDB's and vec0's catalogs report none
    declared = VectorIndex("ix_rebuilt", table.c.embedding, metric="l2", duckdb_experimental_persistence=True, **options)
    missing = r"rebuild_vector_index\('ix_rebuilt'\): table 'docs' has no vector index named 'ix_rebuilt' \(existing ones: none\)"
    with pytest.raises(VectorIndexError, match=missing + "; build it with create_vector_index"):
        sv.rebuild_vector_index(conn, declared)
    if backend == "sqlite-python":
        return
    create_vector_index(conn, declared)
    built = list_vector_indexes(conn, "docs")
    conn.execute(sa.delete(table).where(table.c.id == 2))
    conn.execute(insert(table), [{"id": 5, "embedding": [0, 1, 0.1]}])
    sv.rebuild_vector_index(conn, declared)
    assert list_vector_indexes(conn, "docs") == built  # the same name, column, metric and options
    assert [index.name for index in table.indexes] == ["ix_rebuilt"]  # the declaration's table gained no other
    found = knn(conn, table.c.embedding, [0, 1, 0.2], 4, metric="l2", columns=[table.c.id], index=declared)
    assert [row[0] for row in found] == [5, 4, 3, 1]  # distances 0.1, 1.02, 1.28, 1.43
    if options:  # a declaration with other options replaces the index with them
        wider = docs_table(dim=3)
        sv.rebuild_vector_index(conn, VectorIndex("ix_rebuilt", wider.c.embedding, metric="l2", m=12))
        assert [entry["options"]["m"] for entry in list_vector_indexes(conn, "docs")] == [12]
    with pytest.raises(VectorIndexError, match=r"expects a VectorIndex, got str"):
        sv.rebuild_vector_index(conn, "ix_rebuilt")  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])  # the backends with binary quantized indexes
def test_rebuild_keeps_a_quantized_index_quantized(conn: Connection, backend: str) -> None:
    table = Table("bits", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False), Column("embedding", sv.Vector(16)))
    table.create(conn)
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((40, 16)).astype(np.float32)
    conn.execute(insert(table), [{"id": i, "embedding": vector} for i, vector in enumerate(vectors, start=1)])  # 1-based, as exact_ids
    declared = VectorIndex("ix_bits", table.c.embedding, metric="cosine", quantization="binary")
    create_vector_index(conn, declared)
    built = list_vector_indexes(conn, "bits")
    sv.rebuild_vector_index(conn, declared)
    assert list_vector_indexes(conn, "bits") == built and built[0]["quantization"] == "binary"
    query = rng.standard_normal(16)
    found = knn(conn, table.c.embedding, query, 3, columns=[table.c.id], index=declared, rerank=40)
    assert [row[0] for row in found] == exact_ids(vectors, query, "cosine", 3)


@pytest.mark.parametrize("backend", [CLICKHOUSE])
@pytest.mark.parametrize("metric", ["max_inner_product", "l1"])
def test_metric_without_an_index_is_a_clear_error(conn: Connection, metric: str) -> None:
    """ClickHouse's vector_similarity index serves cosine and L2 only: other metrics are refused by name."""
    table = docs_table(dim=3)
    table.create(conn)
    index = VectorIndex("ix_other", table.c.embedding, metric=metric)
    with pytest.raises(UnsupportedMetricError, match=rf"'ix_other'.*no hnsw index for metric '{metric}'.*cosine, l2"):
        create_vector_index(conn, index)
    assert list_vector_indexes(conn, "docs") == []
    # The distance itself works: an exact scan.
    conn.execute(insert(table), [{"id": 1, "embedding": [1, 0, 0]}, {"id": 2, "embedding": [0, 1, 0]}])
    assert [r.id for r in knn(conn, table.c.embedding, [0.1, 0.9, 0.0], 1, metric=metric)] == [2]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_vec0_follows_inserts_updates_and_deletes(conn: Connection) -> None:
    table = docs_table(dim=3)
    VectorIndex("ix_sync", table.c.embedding, metric="l2")
    table.metadata.create_all(conn)
    conn.execute(insert(table), [{"id": i, "embedding": [float(i), 0.0, 0.0]} for i in range(1, 7)])
    conn.execute(insert(table).values(id=7, embedding=None))
    conn.execute(sa.update(table).where(table.c.id == 2).values(embedding=[0.0, 9.0, 0.0]))
    conn.execute(sa.update(table).where(table.c.id == 3).values(embedding=None))
    conn.execute(sa.update(table).where(table.c.id == 7).values(embedding=[7.0, 7.0, 7.0]))
    conn.execute(sa.update(table).where(table.c.id == 4).values(id=40))
    conn.execute(sa.delete(table).where(table.c.id == 5))

    def vec0_rows() -> dict[int, list[float]]:
        rows = conn.execute(text("SELECT rowid, vec_to_json(embedding) FROM ix_sync")).all()
        return {rowid: [float(x) for x in value.strip("[]").split(",")] for rowid, value in rows}

    base = {row.id: row.embedding.tolist() for row in conn.execute(select(table)) if row.embedding is not None}
    assert vec0_rows() == base == {1: [1, 0, 0], 2: [0, 9, 0], 40: [4, 0, 0], 6: [6, 0, 0], 7: [7, 7, 7]}
    rows = knn(conn, table.c.embedding, [4.2, 0.0, 0.0], 3, metric="l2")
    assert [(row.id, round(row.distance, 4)) for row in rows] == [(40, 0.2), (6, 1.8), (1, 3.2)]
    assert "SCAN ix_sync VIRTUAL TABLE" in explain(
        conn, knn_select(table.c.embedding, [4.2, 0, 0], 3, metric="l2", dialect=conn.dialect)
    )
    # A vector of the wrong length cannot slip into vec0 behind the column type's back.
    conn.execute(insert(table).values(id=99, embedding=None))
    with pytest.raises(sa.exc.OperationalError, match="Dimension mismatch"):
        conn.execute(text("UPDATE docs SET embedding = :blob WHERE id = 99"), {"blob": np.zeros(4, "<f4").tobytes()})


def test_duckdb_file_database_needs_explicit_persistence(tmp_path: Any) -> None:
    url = f"duckdb:///{tmp_path}/explicit.duckdb"
    engine = sv.create_engine(url)
    table = docs_table()
    try:
        with engine.begin() as connection:
            table.create(connection)
            connection.execute(insert(table), [{"id": 1, "embedding": [1, 2, 3]}, {"id": 2, "embedding": [3, 2, 1]}])
        with pytest.raises(VectorIndexError, match="duckdb_experimental_persistence=True"):
            with engine.begin() as connection:
                create_vector_index(connection, VectorIndex("ix_implicit", table.c.embedding))
        with engine.begin() as connection:
            create_vector_index(connection, VectorIndex("ix_explicit", table.c.embedding, duckdb_experimental_persistence=True))
    finally:
        engine.dispose()
    reopened = sv.create_engine(url)
    try:
        with reopened.begin() as connection:
            assert [row["name"] for row in list_vector_indexes(connection)] == ["ix_explicit"]
            connection.execute(insert(table).values(id=3, embedding=[1, 2, 3.1]))
        with reopened.connect() as connection:
            statement = select(table.c.id).order_by(table.c.embedding.cosine([1, 2, 3])).limit(2)
            assert "HNSW_INDEX_SCAN" in explain(connection, statement)
            assert connection.execute(statement).scalars().all() == [1, 3]
    finally:
        reopened.dispose()
    memory = sv.create_engine("duckdb:///:memory:")
    try:
        with memory.begin() as connection:  # nothing persists in memory: no opt-in needed
            fresh = docs_table()
            fresh.create(connection)
            create_vector_index(connection, VectorIndex("ix_memory", fresh.c.embedding))
            assert [row["name"] for row in list_vector_indexes(connection)] == ["ix_memory"]
    finally:
        memory.dispose()


@pytest.mark.parametrize("backend", ["sqlite-python"])
def test_without_sqlite_vec_knn_scans_exactly(conn: Connection) -> None:
    data = clustered(60, 4)
    table = docs_table(dim=4)
    table.create(conn)
    conn.execute(insert(table), [{"id": i + 1, "embedding": v} for i, v in enumerate(data)])
    query = data[5] + 0.1
    rows = knn(conn, table.c.embedding, query, 5)
    assert [row.id for row in rows] == exact_ids(data, query, "cosine", 5)


# -- vec0 keyed by a text primary key, and interrupted builds (SQLite) ----------------------------


def uuid_table(dim: int = 4) -> Table:
    """Keyed like the facade's default embeddings: UUID strings."""
    return Table(
        "uuid_docs",
        MetaData(),
        Column("doc_id", String(36), primary_key=True),
        Column("cat", Integer, nullable=False),
        Column("embedding", sv.Vector(dim)),
    )


def test_vec0_key_follows_the_primary_key() -> None:
    table = uuid_table()
    index = VectorIndex("ix_uuid", table.c.embedding, metric="cosine")
    assert (vec0_key_column(index), vec0_key_name(index), vec0_column_name(index)) == (
        table.c.doc_id, "doc_id", "embedding"
    )
    assert str(CreateVectorIndex(index).compile(dialect=sqlite.dialect())) == (
        "CREATE VIRTUAL TABLE ix_uuid USING vec0(doc_id text primary key, embedding float[4] distance_metric=cosine)"
    )
    integer_keyed = docs_table()
    index = VectorIndex("ix_int", integer_keyed.c.embedding)
    assert (vec0_key_column(index), vec0_key_name(index)) == (integer_keyed.c.id, "rowid")
    # The index's DDL and the top-k statement read one rule, on the table.
    assert vec0_key(integer_keyed) == (integer_keyed.c.id, "rowid")
    assert vec0_key(table) == (table.c.doc_id, "doc_id")
    assert vec0_key(table.alias("a")) is not None
    float_keyed = Table("f", MetaData(), Column("key", sa.Float, primary_key=True), Column("embedding", sv.Vector(3)))
    assert vec0_key(float_keyed) is None
    # vec0 has columns of its own called distance and k
    clash = Table("c", MetaData(), Column("k", String(36), primary_key=True), Column("embedding", sv.Vector(3)))
    with pytest.raises(VectorIndexError, match="vec0 tables have a column 'k' of their own"):
        create_statements(VectorIndex("ix_c", clash.c.embedding), sqlite.dialect())


@pytest.mark.parametrize("backend", ["sqlite"])
def test_vec0_keyed_by_uuid_strings_stays_in_sync(conn: Connection) -> None:
    data = clustered(300, 4)
    ids = [str(uuid.UUID(int=i + 1)) for i in range(len(data))]
    table = uuid_table()
    table.create(conn)
    index = VectorIndex("ix_uuid_l2", table.c.embedding, metric="l2")
    conn.execute(insert(table), [{"doc_id": ids[i], "cat": i % 5, "embedding": data[i]} for i in range(150)])
    create_vector_index(conn, index)  # the rows already there are copied
    assert list_vector_indexes(conn, table) == [
        {"name": "ix_uuid_l2", "table": "uuid_docs", "column": "embedding", "metric": "l2", "method": "vec0", "options": {}, "quantization": None}
    ]
    # the triggers: inserts, updates of the vector and of the key, NULL vectors, deletes
    conn.execute(insert(table), [{"doc_id": ids[i], "cat": i % 5, "embedding": data[i]} for i in range(150, 300)])
    conn.execute(insert(table).values(doc_id="no-vector", cat=0, embedding=None))
    conn.execute(sa.update(table).where(table.c.doc_id == ids[0]).values(embedding=data[1] + 0.5))
    conn.execute(sa.update(table).where(table.c.doc_id == ids[2]).values(embedding=None))
    conn.execute(sa.update(table).where(table.c.doc_id == "no-vector").values(embedding=data[3] - 0.5))
    conn.execute(sa.update(table).where(table.c.doc_id == ids[5]).values(doc_id="renamed"))
    conn.execute(sa.delete(table).where(table.c.cat == 4))
    conn.execute(sa.update(table).where(table.c.cat == 3).values(cat=2))  # not the key or the vector: untouched

    base = dict(conn.execute(text("SELECT doc_id, embedding FROM uuid_docs WHERE embedding IS NOT NULL")).all())
    stored = dict(conn.execute(text("SELECT doc_id, embedding FROM ix_uuid_l2")).all())
    assert stored == base and len(base) == 300 - 60 - 1 + 1
    assert ids[2] not in stored and "renamed" in stored and ids[5] not in stored and ids[4] not in stored

    # the same top-k from vec0 as from an exact scan of the base table, filtered by key or not
    knn_sql = text(
        f"SELECT {vec0_key_name(index)} FROM ix_uuid_l2 WHERE {vec0_column_name(index)} MATCH :q AND k = :k"
    )
    # sqlite-vec 0.1.9 returns no row at all when a text key in the IN list is not in vec0 (here ids[2],
    # whose vector is NULL): the keys must be those of rows with a vector.
    filtered_sql = text(
        f"SELECT {vec0_key_name(index)} FROM ix_uuid_l2 WHERE {vec0_column_name(index)} MATCH :q AND k = :k "
        "AND doc_id IN (SELECT doc_id FROM uuid_docs WHERE cat = 2 AND embedding IS NOT NULL)"
    )
    for row in (7, 120, 250):
        q = data[row] + np.float32(0.05)
        blob = q.astype("<f4").tobytes()
        exact = select(table.c.doc_id).where(table.c.embedding.is_not(None)).order_by(table.c.embedding.l2(q)).limit(10)
        assert conn.execute(knn_sql, {"q": blob, "k": 10}).scalars().all() == conn.execute(exact).scalars().all()
        assert conn.execute(filtered_sql, {"q": blob, "k": 10}).scalars().all() == (
            conn.execute(exact.where(table.c.cat == 2)).scalars().all()
        )
    drop_vector_index(conn, index)
    assert conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name LIKE 'ix_uuid%'")).scalar() == 0


def sqlite_objects(conn: Connection, prefix: str) -> set[str]:
    return set(conn.execute(text("SELECT name FROM sqlite_master WHERE name LIKE :p"), {"p": f"{prefix}%"}).scalars())


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("keyed_by", ["rowid", "text"])
def test_half_built_vec0_is_replaced_or_dropped(conn: Connection, keyed_by: str) -> None:
    """A vec0 table without its triggers (a build killed half-way) does not block the index forever."""
    table = docs_table(dim=3) if keyed_by == "rowid" else uuid_table(dim=3)
    key = table.c.id if keyed_by == "rowid" else table.c.doc_id
    table.create(conn)
    index = VectorIndex("ix_half", table.c.embedding, metric="l2")
    values = [{key.name: (i if keyed_by == "rowid" else f"k{i}"), "embedding": [float(i), 0.0, 0.0]} for i in range(1, 5)]
    if keyed_by == "text":
        values = [{**row, "cat": 0} for row in values]
    conn.execute(insert(table), values)

    def half_build() -> None:
        # What a build interrupted after its first statement leaves: the table, some rows, no triggers.
        for statement in create_statements(index, conn.dialect)[:2]:
            conn.execute(statement)
        conn.execute(sa.delete(table).where(key == values[0][key.name]))  # now out of sync

    half_build()
    assert list_vector_indexes(conn) == []  # not a working index
    assert "ix_half" in sqlite_objects(conn, "ix_half")
    create_vector_index(conn, index)  # replaces it
    assert [row["name"] for row in list_vector_indexes(conn)] == ["ix_half"]
    assert conn.execute(text("SELECT count(*) FROM ix_half")).scalar() == 3  # the rows of the base table, no stale one
    conn.execute(insert(table).values({**values[0]}))  # the triggers are there
    assert conn.execute(text("SELECT count(*) FROM ix_half")).scalar() == 4

    drop_vector_index(conn, index)
    half_build()
    create_vector_index(conn, index, if_not_exists=True)  # if_not_exists does not mistake it for a built index
    assert conn.execute(text("SELECT count(*) FROM ix_half")).scalar() == 3
    assert len(sqlite_objects(conn, "ix_half_sync_")) == 3

    drop_vector_index(conn, index)
    half_build()
    drop_vector_index(conn, "ix_half")
    assert sqlite_objects(conn, "ix_half") == set()
    drop_vector_index(conn, "ix_half", if_exists=True)

    # A vec0 table of another shape is not ours to replace or drop.
    conn.execute(text("CREATE VIRTUAL TABLE ix_other USING vec0(embedding float[3], +note text)"))
    with pytest.raises(VectorIndexError, match="no vector index named 'ix_other'"):
        drop_vector_index(conn, "ix_other")
    assert "ix_other" in sqlite_objects(conn, "ix_other")


def test_an_interrupted_vec0_build_leaves_nothing(tmp_path: Any) -> None:
    """The vec0 table, its rows and its triggers are one transaction, even on pysqlite's default connections."""
    url = f"sqlite:///{tmp_path}/atomic.db"
    engine = sv.create_engine(url)
    table = docs_table(dim=3)
    try:
        with engine.begin() as connection:
            table.create(connection)
            connection.execute(insert(table), [{"id": 1, "embedding": [1, 0, 0]}, {"id": 2, "embedding": [0, 1, 0]}])
            # A vector of the wrong length, written behind the column type's back: copying it into vec0 fails.
            connection.execute(text("INSERT INTO docs (id, embedding) VALUES (3, :blob)"), {"blob": b"\0" * 8})
        index = VectorIndex("ix_atomic", table.c.embedding)
        with pytest.raises(sa.exc.OperationalError, match="Dimension mismatch"):
            with engine.begin() as connection:
                create_vector_index(connection, index)
    finally:
        engine.dispose()
    other = sv.create_engine(url)
    try:
        with other.connect() as connection:
            assert sqlite_objects(connection, "ix_atomic") == set()
            assert connection.execute(select(func.count()).select_from(table)).scalar() == 3
    finally:
        other.dispose()


# -- a committed corpus per backend: knn, filters, EXPLAIN, settings -------------------------


@dataclasses.dataclass
class Corpus:
    backend: str
    engine: Engine
    table: Table
    data: np.ndarray
    doc: Any


@pytest.fixture(scope="module", params=["sqlite", "duckdb", "postgresql", CLICKHOUSE])
def corpus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    backend = request.param
    with fresh_database(backend, tmp_path_factory.mktemp(f"corpus-{backend}"), request) as url:
        engine = sv.create_engine(url)
        metadata = MetaData()
        last = {"sqlite": ("l1", "corpus_l1"), CLICKHOUSE: None}.get(backend, ("max_inner_product", "corpus_ip"))
        indexes = [
            VectorIndex(name, "embedding", metric=metric, duckdb_experimental_persistence=True)
            for metric, name in [("cosine", "corpus_cosine"), ("l2", "corpus_l2")] + ([last] if last else [])
        ]
        table = Table(
            "corpus",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("cat", Integer, nullable=False),
            Column("embedding", sv.Vector(DIM)),
            *indexes,
        )
        data = clustered(ROWS, DIM)
        with engine.begin() as connection:
            metadata.create_all(connection)  # empty table: the indexes follow the inserts
        with engine.begin() as connection:
            connection.execute(
                insert(table),
                [{"id": i + 1, "cat": (i + 1) % CATEGORIES, "embedding": v} for i, v in enumerate(data)],
            )
            if backend == "postgresql":
                connection.execute(text("ANALYZE corpus"))

        class Base(DeclarativeBase):
            pass

        class CorpusDoc(Base):
            __table__ = table

        try:
            yield Corpus(backend, engine, table, data, CorpusDoc)
        finally:
            engine.dispose()


QUERIES = [3, 444, 1001]


def query_vector(corpus: Corpus, row: int) -> np.ndarray:
    return corpus.data[row] + np.float32(0.05)


@pytest.mark.parametrize("metric", ["cosine", "l2", "third"])
def test_knn_finds_the_nearest(corpus: Corpus, metric: str) -> None:
    if metric == "third":
        metric = "l1" if corpus.backend == "sqlite" else "max_inner_product"
    with corpus.engine.connect() as connection:
        hits = 0
        for row in QUERIES:
            q = query_vector(corpus, row)
            expected = exact_ids(corpus.data, q, metric, 10)
            rows = knn(connection, corpus.table.c.embedding, q, 10, metric=metric, ef_search=100)
            assert len(rows) == 10
            ids = [r.id for r in rows]
            hits += len(set(ids) & set(expected))
            distances = [r.distance for r in rows]
            assert distances == sorted(distances)
            if corpus.backend == "sqlite":  # vec0 is exact
                assert ids == expected
        assert hits / (10 * len(QUERIES)) >= 0.9


def test_filtered_knn_returns_k_rows(corpus: Corpus) -> None:
    cat = corpus.table.c.cat
    mask = (np.arange(1, ROWS + 1) % CATEGORIES) == 7
    with Session(corpus.engine) as session:
        for row in QUERIES:
            q = query_vector(corpus, row)
            expected = exact_ids(corpus.data, q, "cosine", 10, mask=mask)
            rows = knn(session, corpus.doc.embedding, q, 10, where=corpus.doc.cat == 7)
            assert len(rows) == 10
            docs = [doc for doc, _ in rows]
            assert all(doc.cat == 7 for doc in docs)
            ids = [doc.id for doc in docs]
            if corpus.backend == "postgresql":  # iterative scan: approximate, but k rows
                assert len(set(ids) & set(expected)) >= 8
            else:
                assert ids == expected
        # fewer matches than k: all of them, nearest first
        few = knn(session, corpus.doc.embedding, query_vector(corpus, 3), 10, where=[cat == 7, corpus.doc.id < 100])
        assert [doc.id for doc, _ in few] == exact_ids(
            corpus.data, query_vector(corpus, 3), "cosine", 10, mask=mask & (np.arange(1, ROWS + 1) < 100)
        )
        assert len(few) == 4  # ids 7, 37, 67, 97


def test_short_index_results_fall_back_to_exact(corpus: Corpus) -> None:
    col, cat = corpus.table.c.embedding, corpus.table.c.cat
    q = query_vector(corpus, 444)
    mask = (np.arange(1, ROWS + 1) % CATEGORIES) == 11
    expected = exact_ids(corpus.data, q, "cosine", 10, mask=mask)
    with corpus.engine.connect() as connection:
        approximate = knn_select(col, q, 10, where=cat == 11, columns=[corpus.table.c.id], dialect=connection.dialect)
        if corpus.backend == "postgresql":
            # Force the index path, and let it stop early: ef_search 10, no iterative scan.
            connection.execute(text("SET LOCAL enable_seqscan = off"))
            assert "Index Scan using corpus_cosine" in explain(connection, approximate)
            with search_settings(connection, ef_search=10, iterative_scan="off"):
                short = connection.execute(approximate).all()
            assert len(short) < 10
            rows = knn(connection, col, q, 10, where=cat == 11, ef_search=10, iterative_scan="off")
        elif corpus.backend == "duckdb":
            # vss 1.5 applies WHERE after its HNSW search.
            assert "HNSW_INDEX_SCAN" in explain(connection, approximate)
            assert len(connection.execute(approximate).all()) < 10
            rows = knn(connection, col, q, 10, where=cat == 11)
        elif corpus.backend == CLICKHOUSE:
            # The vector_similarity skip index serves the filtered top-k; knn's answer is the exact one.
            assert "vector_similarity" in explain(connection, approximate)
            assert len(connection.execute(approximate).all()) < 10  # the filter applies after the index search
            rows = knn(connection, col, q, 10, where=cat == 11)
        else:
            # vec0 takes the filter inside the KNN (rowid IN ...): never short.
            assert "rowid IN" in str(approximate.compile(dialect=connection.dialect))
            assert len(connection.execute(approximate).all()) == 10
            rows = knn(connection, col, q, 10, where=cat == 11)
        assert [r.id for r in rows] == expected


def test_documented_query_shapes_use_the_index(corpus: Corpus) -> None:
    table, doc = corpus.table, corpus.doc
    col = table.c.embedding
    q = query_vector(corpus, 1001)
    label = col.cosine(q).label("distance")
    shapes = {
        "corpus_cosine": [
            select(table).order_by(col.cosine(q)).limit(5),
            select(table.c.id, label).order_by(label).limit(5),
            select(doc).order_by(doc.embedding.cosine(q)).limit(5),
            select(doc).where(doc.cat == 3).order_by(doc.embedding.cosine_distance(q)).limit(5),
        ],
        "corpus_l2": [select(table.c.id).order_by(col.l2(q)).limit(5)],
    }
    if corpus.backend not in ("sqlite", CLICKHOUSE):
        shapes["corpus_ip"] = [select(table.c.id).order_by(col.max_inner_product(q)).limit(5)]
    with corpus.engine.connect() as connection:
        if corpus.backend == "sqlite":
            # SQLite has no index for ORDER BY ... LIMIT: knn_select emits the vec0 KNN query.
            for name, metric in (("corpus_cosine", "cosine"), ("corpus_l2", "l2"), ("corpus_l1", "l1")):
                plan = explain(connection, knn_select(col, q, 5, metric=metric, dialect=connection.dialect))
                assert f"SCAN {name} VIRTUAL TABLE INDEX" in plan, plan
            assert "VIRTUAL TABLE" not in explain(connection, shapes["corpus_cosine"][0])
            return
        if corpus.backend == "postgresql":
            connection.execute(text("SET LOCAL enable_seqscan = off"))  # a small table would be scanned
        for name, statements in shapes.items():
            for statement in statements:
                plan = explain(connection, statement)
                if corpus.backend == "postgresql":
                    assert f"Index Scan using {name}" in plan, plan
                elif corpus.backend == CLICKHOUSE:
                    assert f"Name: {name}\n" in plan and "vector_similarity" in plan, plan
                else:
                    # DuckDB boxes and wraps its plan: compare without the box-drawing and spaces
                    # (vss 1.3 spells it HSNWIndex).
                    assert re.search(f"H(NS|SN)WIndex:{name}", re.sub(r"[\s│]+", "", plan)), plan
        # Shapes no index serves: descending similarity, a wrapped expression.
        for statement in (
            select(table.c.id).order_by(col.inner_product(q).desc()).limit(5),
            select(table.c.id).order_by(col.cosine(q) + 0).limit(5),
        ):
            plan = explain(connection, statement)
            assert "Index Scan using corpus" not in plan and "HNSW_INDEX_SCAN" not in plan, plan
            assert "Name: corpus_" not in plan, plan


def test_search_settings_are_scoped(corpus: Corpus) -> None:
    with corpus.engine.connect() as connection:
        if corpus.backend == "postgresql":
            def current(name: str) -> Any:
                return connection.execute(select(func.current_setting(name, True))).scalar()

            knn(connection, corpus.table.c.embedding, query_vector(corpus, 3), 3)  # loads pgvector's settings
            default = current("hnsw.ef_search")
            with search_settings(connection, ef_search=123, iterative_scan="strict_order", probes=7):
                assert current("hnsw.ef_search") == "123"
                assert current("hnsw.iterative_scan") == "strict_order"
                assert current("ivfflat.probes") == "7"
            assert current("hnsw.ef_search") == default == "40"
            assert current("hnsw.iterative_scan") == "off"
            with search_settings(connection, ef_search=77):
                connection.rollback()  # SET LOCAL ends with its transaction
            assert current("hnsw.ef_search") == "40"
        elif corpus.backend == "duckdb":
            def current() -> Any:
                return connection.execute(
                    text("SELECT value FROM duckdb_settings() WHERE name = 'hnsw_ef_search'")
                ).scalar()

            with search_settings(connection, ef_search=123):
                assert current() == "123"
            assert current() in (None, "NULL")  # unset again; DuckDB 1.3 shows a RESET option as 'NULL'
        elif corpus.backend == CLICKHOUSE:
            def setting() -> Any:
                return connection.execute(text("SELECT getSetting('hnsw_candidate_list_size_for_search')")).scalar()

            default = setting()
            with search_settings(connection, ef_search=123):
                assert setting() == 123
            assert setting() == default != 123
        else:
            with search_settings(connection, ef_search=123):  # vec0 is exact: nothing to tune
                assert knn(connection, corpus.table.c.embedding, query_vector(corpus, 3), 3)
        with pytest.raises(sv.exc.InvalidArgumentError, match="ef_search.*from 1 to 1000, got 0"):
            with search_settings(connection, ef_search=0):
                pass
        with pytest.raises(sv.exc.InvalidArgumentError, match="iterative_scan expects one of"):
            with search_settings(connection, iterative_scan="sometimes"):
                pass


def test_indexes_survive_a_new_engine(corpus: Corpus) -> None:
    """Reopen the database (the DuckDB file relies on vss being loaded first) and keep using the index."""
    corpus.engine.dispose()
    engine = sv.create_engine(corpus.engine.url)
    table, col = corpus.table, corpus.table.c.embedding
    far = np.full(DIM, 50.0, dtype=np.float32)
    try:
        with engine.connect() as connection:
            names = [row["name"] for row in list_vector_indexes(connection, table)]
            assert names == sorted(ix.name for ix in table.indexes)
            connection.execute(insert(table).values(id=ROWS + 1, cat=0, embedding=far))
            connection.commit()
            statement = select(table.c.id).order_by(col.l2(far)).limit(1)
            if corpus.backend == "postgresql":
                connection.execute(text("SET LOCAL enable_seqscan = off"))
                assert "Index Scan using corpus_l2" in explain(connection, statement)
            elif corpus.backend == "duckdb":
                assert "HNSW_INDEX_SCAN" in explain(connection, statement)
            elif corpus.backend == CLICKHOUSE:
                assert "Name: corpus_l2\n" in explain(connection, statement)
            assert [r.id for r in knn(connection, col, far, 1, metric="l2")] == [ROWS + 1]
            connection.execute(sa.delete(table).where(table.c.id == ROWS + 1))
            connection.commit()
            assert knn(connection, col, far, 1, metric="l2")[0].id != ROWS + 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql"])
def test_drop_if_exists_leaves_an_index_of_another_kind_under_that_name(conn: Connection, backend: str) -> None:
    # PostgreSQL and DuckDB dropped the plain B-tree index ix_items_cat, which is no vector index: with if_exists the
    # name was never looked up. DuckDB, whose names ignore case, also dropped 'IxMixed' of another table for 'ixmixed'.
    metadata = MetaData()
    items = Table("items", metadata, Column("id", Integer, primary_key=True), Column("cat", Integer), Column("v", sv.Vector(3)))
    other = Table("others", metadata, Column("id", Integer, primary_key=True), Column("v", sv.Vector(3)))
    Index("ix_items_cat", items.c.cat)
    VectorIndex("IxMixed", other.c.v, duckdb_experimental_persistence=True)
    metadata.create_all(conn)
    drop_vector_index(conn, "ix_items_cat", if_exists=True)
    assert [ix["name"] for ix in sa.inspect(conn).get_indexes("items")] == ["ix_items_cat"]
    with pytest.raises(VectorIndexError, match=r"no vector index named 'ix_items_cat'"):
        drop_vector_index(conn, "ix_items_cat")
    drop_vector_index(conn, VectorIndex("ixmixed", items.c.v), if_exists=True)
    assert [found["name"] for found in list_vector_indexes(conn)] == ["IxMixed"]


def test_a_declared_vec0_index_not_in_the_database_is_searched_exactly(tmp_path: Any) -> None:
    # knn() built its vec0 statement from the declaration and failed with "no such table: ix_items_v" where the
    # index was dropped (or the table made before it was declared); PostgreSQL and DuckDB scan the table instead.
    engine = sv.create_engine(f"sqlite:///{tmp_path / 'dropped.db'}")
    items = Table("items", MetaData(), Column("id", Integer, primary_key=True), Column("v", sv.Vector(3)))
    index = VectorIndex("ix_items_v", items.c.v)
    try:
        with engine.begin() as conn:
            items.metadata.create_all(conn)
            conn.execute(insert(items), [{"id": 1, "v": [1, 0, 0]}, {"id": 2, "v": [0, 1, 0]}, {"id": 3, "v": [1, 1, 0]}])
            assert [row.id for row in knn(conn, items.c.v, [1, 0.1, 0], 2)] == [1, 3]
            drop_vector_index(conn, index)
            assert [row.id for row in knn(conn, items.c.v, [1, 0.1, 0], 2)] == [1, 3]
    finally:
        engine.dispose()


def test_insert_or_replace_keeps_a_vec0_index_in_step_with_recursive_triggers(tmp_path: Any) -> None:
    # SQLite's REPLACE deletes the row it replaces without firing delete triggers unless recursive_triggers is on
    # (docs/indexes.md): the vec0 insert then failed on its primary key, or, for a NULL vector, left the old entry.
    engine = sv.create_engine(f"sqlite:///{tmp_path / 'replace.db'}")
    sa.event.listen(engine, "connect", lambda dbapi_connection, _: dbapi_connection.execute("PRAGMA recursive_triggers = ON"))
    items = Table("items", MetaData(), Column("id", Integer, primary_key=True), Column("v", sv.Vector(3)))
    VectorIndex("ix_items_v", items.c.v)
    try:
        with engine.begin() as conn:
            items.metadata.create_all(conn)
            conn.execute(insert(items), [{"id": 1, "v": [1, 0, 0]}, {"id": 2, "v": [0, 1, 0]}])
            conn.execute(insert(items).prefix_with("OR REPLACE"), [{"id": 1, "v": [0, 0, 1]}])
            assert [(row.id, round(row.distance, 6)) for row in knn(conn, items.c.v, [0, 0, 1], 1)] == [(1, 0.0)]
            conn.execute(insert(items).prefix_with("OR REPLACE"), [{"id": 1, "v": None}])
            assert [row.id for row in knn(conn, items.c.v, [0, 0, 1], 5)] == [2]
            assert conn.execute(text("SELECT count(*) FROM ix_items_v")).scalar_one() == 1
    finally:
        engine.dispose()


def test_a_vec0_index_sqlite_cannot_build_is_refused_before_create_table(tmp_path: Any) -> None:
    # A column name vec0 cannot hold, and a binary index over more than 8,192 dimensions, failed after CREATE TABLE
    # (the second with sqlite-vec's own "Dimension on vector column too large"): the table stayed, without its index.
    engine = sv.create_engine(f"sqlite:///{tmp_path / 'refused.db'}")
    spaced = Table("spaced", MetaData(), Column("id", Integer, primary_key=True), Column("Emb Col", sv.Vector(4)))
    VectorIndex("ix_spaced", spaced.c["Emb Col"])
    wide = Table("wide", MetaData(), Column("id", Integer, primary_key=True), Column("v", sv.Vector(8200)))
    VectorIndex("ix_wide", wide.c.v, quantization="binary")
    try:
        with pytest.raises(VectorIndexError, match=r"ix_spaced"):
            spaced.metadata.create_all(engine)
        with pytest.raises(sv.exc.DimensionLimitError, match=r"sqlite-vec indexes binary quantized vectors of at most 8192 dimensions, but column 'wide.v' \(Vector\(8200\)\) has 8200"):
            wide.metadata.create_all(engine)
        with engine.connect() as conn:
            assert not sa.inspect(conn).has_table("spaced") and not sa.inspect(conn).has_table("wide")
    finally:
        engine.dispose()
