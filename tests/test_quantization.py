"""Quantized indexes over full-precision columns, and knn(..., rerank=n), on every backend."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import VectorIndexError
from sqlalchemy_vector.kinds import BitVector, HalfVector, SparseVector
from tests.conftest import BACKENDS
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
@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_rerank_through_quantized_index(conn: Connection, backend: str, quantization: str) -> None:
    table = _table(quantization)
    capabilities = sv.dialects.backend_for(conn.dialect).capabilities
    if quantization not in capabilities.index_quantizations:
        with pytest.raises(VectorIndexError, match="quantized index") as info:
            table.metadata.create_all(conn)
        assert capabilities.missing_quantization in str(info.value)
        return
    data = clustered(300, DIM, seed=5)
    table.metadata.create_all(conn)
    conn.execute(table.insert(), [{"id": i + 1, "v": row} for i, row in enumerate(data)])
    query = data[17] + 0.01
    statement = sv.knn_select(table.c.v, query, 10, rerank=40, dialect=conn.dialect)
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
