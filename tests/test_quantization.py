"""Quantized indexes over full-precision columns, and knn(..., rerank=n), on every backend."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import VectorIndexError
from sqlalchemy_vector.kinds import BitVector, HalfVector, SparseVector
from tests.conftest import BACKENDS, CLICKHOUSE, WITH_CLICKHOUSE
from tests.index_helpers import clustered, exact_ids, explain

DIM = 3072  # beyond the 2,000 dimensions pgvector's vector HNSW indexes


def _table(quantization: str, dim: int = DIM) -> sa.Table:
    metadata = sa.MetaData()
    table = sa.Table(
        f"q_{quantization}",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("v", sv.Vector(dim)),
    )
    sv.VectorIndex(f"q_{quantization}_idx", table.c.v, metric="cosine", quantization=quantization)
    return table


def test_quantized_index_ddl() -> None:
    dialect = postgresql.dialect()
    half = next(iter(_table("half").indexes))
    binary = next(iter(_table("binary").indexes))
    assert str(sv.index.CreateVectorIndex(half).compile(dialect=dialect)) == (
        "CREATE INDEX q_half_idx ON q_half USING hnsw ((CAST(v AS halfvec(3072))) halfvec_cosine_ops)"
    )
    assert str(sv.index.CreateVectorIndex(binary).compile(dialect=dialect)) == (
        "CREATE INDEX q_binary_idx ON q_binary USING hnsw ((CAST(binary_quantize(v) AS bit(3072))) bit_hamming_ops)"
    )
    with pytest.raises(VectorIndexError, match="unknown quantization"):
        sv.VectorIndex("bad", sa.Column("v", sv.Vector(3)), quantization="int4")


@pytest.mark.parametrize("quantization", ["half", "binary"])
@pytest.mark.parametrize("backend", WITH_CLICKHOUSE, indirect=True)
def test_rerank_through_quantized_index(conn: Connection, backend: str, quantization: str) -> None:
    table = _table(quantization)
    capabilities = sv.dialects.backend_for(conn.dialect).capabilities
    if quantization not in capabilities.index_quantizations:
        with pytest.raises(VectorIndexError, match="quantized index") as info:
            table.metadata.create_all(conn)
        assert capabilities.missing_quantization and capabilities.missing_quantization in str(info.value)
        assert not sa.inspect(conn).has_table(table.name)
        return
    if backend == "sqlite-python":  # no vec0 without the extension
        with pytest.raises(sv.exc.MissingExtensionError, match="vec0"):
            table.metadata.create_all(conn)
        return
    data = clustered(300, DIM, seed=5)
    table.metadata.create_all(conn)
    conn.execute(table.insert(), [{"id": i + 1, "v": row} for i, row in enumerate(data)])
    (listed,) = sv.list_vector_indexes(conn, table)
    assert (listed["quantization"], listed["metric"]) == (quantization, "cosine" if quantization == "half" else None)
    # What the declaration says it will be listed as (a binary index's metric was "cosine" there).
    assert listed == next(iter(table.indexes)).describe(conn.dialect)  # type: ignore[attr-defined]
    query = data[17] + 0.01
    statement = sv.knn_select(table.c.v, query, 10, rerank=40, dialect=conn.dialect)
    if backend == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a 300-row table would be scanned otherwise
    assert f"q_{quantization}_idx" in explain(conn, statement)
    rows = sv.knn(conn, table.c.v, query, 10, rerank=40)
    truth = exact_ids(data, query, "cosine", 10)
    assert len({row.id for row in rows} & set(truth)) >= 9
    distances = [row.distance for row in rows]
    assert distances == sorted(distances)
    # The distances are the exact ones, on the full vectors.
    exact = {row.id: row.distance for row in sv.knn(conn, table.c.v, query, 10)}
    for row in rows:
        if row.id in exact:
            assert row.distance == pytest.approx(exact[row.id], abs=1e-5)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_binary_index_stays_in_sync_and_filters(conn: Connection, backend: str) -> None:
    dim = 64
    table = _table("binary", dim)
    table.metadata.create_all(conn)
    compiled = str(sv.index.CreateVectorIndex(next(iter(table.indexes))).compile(dialect=conn.dialect))
    assert compiled == "CREATE VIRTUAL TABLE q_binary_idx USING vec0(v bit[64])"
    data = clustered(200, dim, seed=9)
    conn.execute(table.insert(), [{"id": i + 1, "v": row} for i, row in enumerate(data)])
    conn.execute(table.insert(), [{"id": 1000, "v": None}])
    # The triggers keep the bits: an update moves a row next to the query, a delete removes one.
    query = data[40] + 0.01
    conn.execute(table.update().where(table.c.id == 5).values(v=query))
    conn.execute(table.delete().where(table.c.id == 41))
    assert conn.exec_driver_sql("SELECT count(*) FROM q_binary_idx").scalar() == 199
    conn.execute(table.update().where(table.c.id == 7).values(v=None))  # unset: leaves the index
    conn.execute(table.update().where(table.c.id == 1000).values(v=data[6]))  # set: joins it
    assert conn.exec_driver_sql("SELECT count(*) FROM q_binary_idx").scalar() == 199
    assert sv.knn(conn, table.c.v, data[6], 1, rerank=20)[0].id == 1000
    rows = sv.knn(conn, table.c.v, query, 5, rerank=50)
    assert rows[0].id == 5 and rows[0].distance == pytest.approx(0.0, abs=1e-6)
    assert 41 not in [row.id for row in rows]
    # Filters apply inside the hamming KNN; the candidates are re-ranked exactly.
    odd = sv.knn(conn, table.c.v, query, 5, rerank=50, where=table.c.id % 2 == 1)
    assert len(odd) == 5 and all(row.id % 2 == 1 for row in odd)
    reference = {row.id: row.distance for row in sv.knn(conn, table.c.v, query, 200, where=table.c.id % 2 == 1)}
    for row in odd:
        assert row.distance == pytest.approx(reference[row.id], abs=1e-5)
    # More candidates than vec0's k limit: the statement scans the table (same results).
    assert [r.id for r in sv.knn(conn, table.c.v, query, 5, rerank=5000)][:1] == [5]


def test_rerank_needs_a_quantized_index_and_enough_candidates() -> None:
    table = _table("half")
    with pytest.raises(sv.exc.InvalidArgumentError, match="rerank >= k"):
        sv.knn_select(table.c.v, np.ones(DIM), 10, rerank=5)
    plain = sa.Table("plain", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sv.Vector(3)))
    with pytest.raises(VectorIndexError, match="needs a quantized VectorIndex"):
        sv.knn_select(plain.c.v, [1, 2, 3], 1, rerank=5)


KIND_INDEXES = [
    (HalfVector, "cosine", lambda rng, n: rng.normal(size=(n, 8))),
    (BitVector, "hamming", lambda rng, n: rng.random((n, 8)) < 0.5),
    (BitVector, "jaccard", lambda rng, n: rng.random((n, 8)) < 0.5),
    (SparseVector, "l2", lambda rng, n: np.where(rng.random((n, 8)) < 0.4, rng.normal(size=(n, 8)), 0)),
]


@pytest.mark.parametrize(("kind", "metric", "make"), KIND_INDEXES)
@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_index_on_a_compact_column(conn: Connection, backend: str, kind: type, metric: str, make: object) -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        "kind_ix",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("v", kind(8)),
    )
    sv.VectorIndex("kind_ix_idx", table.c.v, metric=metric)
    capabilities = sv.dialects.backend_for(conn.dialect).capabilities
    if kind.kind not in capabilities.indexed_kinds:
        with pytest.raises(sa.exc.SQLAlchemyError):
            metadata.create_all(conn)
        return
    rng = np.random.default_rng(1)
    data = make(rng, 50)  # type: ignore[operator]
    data[:, 0] = 1  # no empty vector
    metadata.create_all(conn)
    conn.execute(table.insert(), [{"id": i, "v": row} for i, row in enumerate(data)])
    query = data[3]
    distance = sv.kinds.KindDistance(metric, table.c.v, query)
    statement = sa.select(table.c.id).order_by(distance).limit(5)
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    assert "kind_ix_idx" in explain(conn, statement)
    assert conn.execute(statement).scalars().first() == 3


#: pgvector 0.8's limits per indexed type, and what a column beyond them is refused with before CREATE INDEX.
PG_INDEX_LIMITS = [
    (HalfVector(4001), "cosine", {}, "half vectors of at most 4000"),
    (BitVector(64001), "hamming", {}, "bit vectors of at most 64000"),
    (sv.Vector(4001), "cosine", {"quantization": "half"}, "half quantized vectors of at most 4000"),
    (sv.Vector(2001), "cosine", {}, "float32 vectors of at most 2000.*quantization='half' \\(up to 4000\\)"),
    (HalfVector(4001), "l2", {"method": "ivfflat"}, "half vectors of at most 4000"),
]


@pytest.mark.parametrize(("column_type", "metric", "options", "message"), PG_INDEX_LIMITS)
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_index_beyond_the_kinds_dimensions_is_refused(
    conn: Connection, backend: str, column_type: Any, metric: str, options: Dict[str, Any], message: str
) -> None:
    metadata = sa.MetaData()
    table = sa.Table("wide", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", column_type))
    index = sv.VectorIndex("wide_ix", table.c.v, metric=metric, **options)
    with pytest.raises(sv.exc.DimensionLimitError, match=message):
        metadata.create_all(conn)
    assert not sa.inspect(conn).has_table("wide")
    with pytest.raises(sv.exc.DimensionLimitError, match=message):
        sv.create_vector_index(conn, index)
    # Within the limits of the same kinds, the same indexes build.
    metadata = sa.MetaData()
    narrower = type(column_type)(column_type.dim - 1)
    table = sa.Table("narrow", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", narrower))
    sv.VectorIndex("narrow_ix", table.c.v, metric=metric, **options)
    metadata.create_all(conn)
    assert [ix["name"] for ix in sv.list_vector_indexes(conn)] == ["narrow_ix"]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_sparse_ivfflat_is_refused_before_create_index(conn: Connection, backend: str) -> None:
    metadata = sa.MetaData()
    table = sa.Table("sparse_ivf", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", SparseVector(8)))
    sv.VectorIndex("sparse_ivf_ix", table.c.v, metric="l2", method="ivfflat")
    with pytest.raises(sv.exc.VectorIndexError, match="HNSW indexes only on sparse vectors, not 'ivfflat'; use method='hnsw'"):
        metadata.create_all(conn)
    assert not sa.inspect(conn).has_table("sparse_ivf")
    # Nothing reached the database: the transaction goes on.
    assert conn.execute(sa.text("SELECT 1")).scalar() == 1


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql", CLICKHOUSE])
def test_an_index_the_backend_cannot_build_leaves_no_table(backend: str, fresh_database_url: Any) -> None:
    # Refused before CREATE TABLE, like a kind the backend cannot store: SQLite's DDL outside a transaction and
    # ClickHouse (no transactions) would otherwise keep a table without its index.
    engine = sv.create_engine(fresh_database_url(backend))
    try:
        metadata = sa.MetaData()
        dim = 2001 if backend == "postgresql" else 8  # pgvector has a half index: refuse its dimensions instead
        table = sa.Table(
            "unbuilt", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False), sa.Column("v", sv.Vector(dim))
        )
        sv.VectorIndex("unbuilt_ix", table.c.v, metric="cosine", **({} if backend == "postgresql" else {"quantization": "half"}))
        with pytest.raises((VectorIndexError, sv.exc.DimensionLimitError)):
            metadata.create_all(engine)
        assert not sa.inspect(engine).has_table("unbuilt")
    finally:
        engine.dispose()


@pytest.mark.parametrize("metric", ["cosine", "l2", "max_inner_product", "l1"])
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_a_binary_index_serves_the_rerank_of_every_metric(conn: Connection, backend: str, metric: str) -> None:
    # The bits are ranked by Hamming distance whatever metric re-ranks them (its listed metric is None).
    dim, rows = 64, 80
    table = _table("binary", dim)
    table.metadata.create_all(conn)
    data = clustered(rows, dim, seed=3)
    conn.execute(table.insert(), [{"id": i + 1, "v": row} for i, row in enumerate(data)])
    query = data[11] + 0.01
    statement = sv.knn_select(table.c.v, query, 5, metric=metric, rerank=rows, dialect=conn.dialect)
    if backend == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    assert "q_binary_idx" in explain(conn, statement)
    # Every row a candidate: the re-ranked top 5 is the exact one.
    found = sv.knn(conn, table.c.v, query, 5, metric=metric, rerank=rows)
    assert [row.id for row in found] == exact_ids(data, query, metric, 5)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_a_binary_index_over_a_dimension_not_a_multiple_of_8(conn: Connection, backend: str) -> None:
    # sqlite-vec packs the bits in whole bytes and refuses other lengths at every insert (the vec0 table built):
    # refused with the index, before CREATE TABLE. pgvector's bit(n) takes any length.
    dim, rows = 12, 60
    table = _table("binary", dim)
    if backend == "sqlite":
        with pytest.raises(VectorIndexError, match=r"'q_binary\.v' \(Vector\(12\)\) has 12.*store 16 dimensions"):
            table.metadata.create_all(conn)
        assert not sa.inspect(conn).has_table(table.name)
        assert sv.dialects.backend_for(conn.dialect).capabilities.quantization_dimension_multiple == {"binary": 8}
        return
    table.metadata.create_all(conn)
    data = clustered(rows, dim, seed=4)
    conn.execute(table.insert(), [{"id": i + 1, "v": row} for i, row in enumerate(data)])
    query = data[8] + 0.01
    found = sv.knn(conn, table.c.v, query, 5, rerank=rows)
    assert [row.id for row in found] == exact_ids(data, query, "cosine", 5)
