"""The Vector type and distance functions on every real backend."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, literal, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, aliased, mapped_column

import sqlalchemy_vector as sv
from tests.conftest import BACKENDS, CLICKHOUSE, ENGINE_VARIANTS
from sqlalchemy_vector.dialects import backend_for, engine_state
from sqlalchemy_vector.exc import DimensionMismatchError, InvalidVectorError

VECTORS = {
    1: [1.0, 0.0, 0.0],
    2: [0.0, 1.0, 0.0],
    3: [1.0, 1.0, 0.0],
    4: [-1.0, 0.5, 2.0],
    5: [0.25, -3.0, 1.5],
}


def make_table(metadata: MetaData, dim: int = 3, name: str = "items") -> Table:
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("label", String(20)),
        Column("embedding", sv.Vector(dim)),
    )


@pytest.fixture
def items(conn: Connection) -> Table:
    table = make_table(MetaData())
    table.create(conn)
    conn.execute(insert(table), [{"id": i, "label": f"v{i}", "embedding": v} for i, v in VECTORS.items()])
    return table


def reference(metric: str, query: list[float]) -> dict[int, float]:
    q = np.asarray(query, dtype=np.float64)
    out = {}
    for i, v in VECTORS.items():
        x = np.asarray(v, dtype=np.float64)
        if metric == "cosine":
            out[i] = 1 - x @ q / (np.linalg.norm(x) * np.linalg.norm(q))
        elif metric == "l2":
            out[i] = float(np.linalg.norm(x - q))
        elif metric == "inner_product":
            out[i] = float(x @ q)
        elif metric == "max_inner_product":
            out[i] = float(-(x @ q))
        elif metric == "l1":
            out[i] = float(np.abs(x - q).sum())
    return out


@pytest.fixture(params=BACKENDS + ENGINE_VARIANTS + (CLICKHOUSE,))
def backend(request: pytest.FixtureRequest) -> str:
    """This module's matrix: every backend, and each reached through the plugin, attach() and a derived dialect."""
    return str(request.param)


def test_backend_is_really_there(conn: Connection, backend: str) -> None:
    state = engine_state(conn.dialect)
    assert state is not None
    if backend.endswith("-derived"):
        assert conn.dialect.name == "derivedpg"
    backend = backend.partition("-")[0] if backend != "sqlite-python" else backend
    if backend == "sqlite":
        assert state["sqlite_vec"] == "extension"
        assert conn.execute(text("select vec_version()")).scalar().startswith("v")
    elif backend == "sqlite-python":
        assert state["sqlite_vec"] == "python"
    elif backend == "postgresql":
        assert state["pgvector"] >= "0.7"  # <+> (L1) needs pgvector 0.7
        assert conn.execute(text("select extversion from pg_extension where extname = 'vector'")).scalar() == state["pgvector"]
    elif backend == CLICKHOUSE:
        assert state["chdb"] is True
        assert conn.execute(text("select version()")).scalar() >= "25.8"  # vector_similarity is GA from 25.8
    elif backend == "duckdb":
        assert state["vss"] is not None
        loaded = conn.execute(text("select loaded from duckdb_extensions() where extension_name = 'vss'")).scalar()
        assert loaded is True


@pytest.mark.parametrize("value", [[1.5, -2.0, 3.25], (1.5, -2.0, 3.25), np.array([1.5, -2.0, 3.25]), np.array([3, -2, 1], dtype=np.int64)])
def test_round_trip(conn: Connection, value: Any) -> None:
    table = make_table(MetaData())
    table.create(conn)
    conn.execute(insert(table).values(id=1, embedding=value))
    got = conn.execute(select(table.c.embedding)).scalar_one()
    assert isinstance(got, np.ndarray)
    assert got.dtype == np.float32 and got.shape == (3,)
    np.testing.assert_array_equal(got, np.asarray(value, dtype=np.float32))
    # Read-only: an ORM attribute changed in place would compare equal to its loaded state and be lost.
    with pytest.raises(ValueError, match="read-only"):
        got[0] = 42.0
    mine = got.copy()
    mine[0] = 42.0


def test_float32_values_round_trip_exactly(conn: Connection) -> None:
    table = make_table(MetaData(), dim=384)
    table.create(conn)
    vector = np.random.default_rng(7).standard_normal(384).astype(np.float32) * np.float32(1e-3)
    conn.execute(insert(table).values(id=1, embedding=vector))
    np.testing.assert_array_equal(conn.execute(select(table.c.embedding)).scalar_one(), vector)


def test_null_round_trip_and_null_distance(conn: Connection, items: Table) -> None:
    if not backend_for(conn.dialect).capabilities.null_vectors:  # ClickHouse: an Array is never NULL
        with pytest.raises(InvalidVectorError, match=r"column 'items\.embedding' \(Vector\(3\)\) got None, .* no NULL vector"):
            conn.execute(insert(items).values(id=99, embedding=None))
        return
    conn.execute(insert(items).values(id=99, embedding=None))
    assert conn.execute(select(items.c.embedding).where(items.c.id == 99)).scalar_one() is None
    for metric in sv.METRICS:
        distance = sv.distance(metric, items.c.embedding, [1.0, 2.0, 3.0])
        assert conn.execute(select(distance).where(items.c.id == 99)).scalar_one() is None, metric
        # a NULL row does not break the ranking of the others
        ids = conn.execute(select(items.c.id).where(items.c.id != 99).order_by(distance, items.c.id)).scalars().all()
        assert sorted(ids) == sorted(VECTORS)


@pytest.mark.parametrize("metric", sv.METRICS)
def test_distances_match_numpy(conn: Connection, items: Table, metric: str) -> None:
    query = [0.5, 2.0, -1.0]
    distance = sv.distance(metric, items.c.embedding, query).label("d")
    rows = conn.execute(select(items.c.id, distance).order_by(distance, items.c.id)).all()
    expected = reference(metric, query)
    assert [r.id for r in rows] == sorted(expected, key=lambda i: (expected[i], i))
    for row in rows:
        assert row.d == pytest.approx(expected[row.id], rel=1e-5, abs=1e-5)


def test_comparator_methods_match_functions(conn: Connection, items: Table) -> None:
    q = [0.0, 1.0, 1.0]
    col = items.c.embedding
    pairs = [
        (col.cosine(q), sv.cosine_distance(col, q)),
        (col.cosine_distance(q), sv.cosine_distance(col, q)),
        (col.l2(q), sv.l2_distance(col, q)),
        (col.l2_distance(q), sv.l2_distance(col, q)),
        (col.inner_product(q), sv.inner_product(col, q)),
        (col.max_inner_product(q), sv.max_inner_product(col, q)),
        (col.l1_distance(q), sv.l1_distance(col, q)),
    ]
    for method_expr, function_expr in pairs:
        a = conn.execute(select(method_expr).order_by(items.c.id)).scalars().all()
        b = conn.execute(select(function_expr).order_by(items.c.id)).scalars().all()
        assert a == b
    inner = conn.execute(select(col.inner_product(q)).order_by(items.c.id)).scalars().all()
    negative = conn.execute(select(col.max_inner_product(q)).order_by(items.c.id)).scalars().all()
    assert inner == pytest.approx([-x for x in negative], abs=1e-5)


def test_filter_by_distance(conn: Connection, items: Table) -> None:
    q = [1.0, 0.0, 0.0]
    expected = {i for i, d in reference("cosine", q).items() if d < 0.5}
    got = set(conn.execute(select(items.c.id).where(items.c.embedding.cosine(q) < 0.5)).scalars())
    assert got == expected == {1, 3}


def test_self_join_distances(conn: Connection, items: Table) -> None:
    other = items.alias("other")
    distance = items.c.embedding.l2(other.c.embedding).label("d")
    rows = conn.execute(
        select(items.c.id, other.c.id.label("other_id"), distance)
        .where(items.c.id < other.c.id)
        .order_by(items.c.id, other.c.id)
    ).all()
    assert len(rows) == 10
    for row in rows:
        expected = np.linalg.norm(np.subtract(VECTORS[row.id], VECTORS[row.other_id]))
        assert row.d == pytest.approx(expected, rel=1e-5)


def test_scalar_subquery_as_query_vector(conn: Connection, items: Table) -> None:
    anchor = select(items.c.embedding).where(items.c.id == 3).scalar_subquery()
    ids = conn.execute(
        select(items.c.id).where(items.c.id != 3).order_by(items.c.embedding.cosine(anchor), items.c.id).limit(2)
    ).scalars().all()
    expected = reference("cosine", VECTORS[3])
    del expected[3]
    assert ids == sorted(expected, key=lambda i: (expected[i], i))[:2]


class Base(DeclarativeBase):
    pass


class Doc(Base):
    __tablename__ = "orm_docs"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(50))
    embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(3), nullable=True)


def test_orm_select_and_query(conn: Connection) -> None:
    Base.metadata.create_all(conn)
    with Session(bind=conn, join_transaction_mode="rollback_only") as session:
        session.add_all([Doc(id=i, title=f"doc {i}", embedding=v) for i, v in VECTORS.items()])
        session.flush()
        q = [1.0, 0.9, 0.0]
        expected = reference("cosine", q)
        ranked = sorted(expected, key=lambda i: (expected[i], i))[:3]
        docs = session.scalars(select(Doc).order_by(Doc.embedding.cosine(q), Doc.id).limit(3)).all()
        assert [d.id for d in docs] == ranked
        assert isinstance(docs[0].embedding, np.ndarray)
        legacy = session.query(Doc).order_by(Doc.embedding.cosine(q), Doc.id).limit(3).all()
        assert [d.id for d in legacy] == ranked
        # distances as a column next to the entity
        rows = session.execute(select(Doc, Doc.embedding.l2(q).label("d")).order_by("d").limit(1)).one()
        assert rows.Doc.id == min(reference("l2", q), key=reference("l2", q).get)
        # updating a vector through the unit of work
        docs[0].embedding = [0.0, 0.0, 5.0]
        session.flush()
        session.expire_all()
        np.testing.assert_array_equal(session.get(Doc, docs[0].id).embedding, [0.0, 0.0, 5.0])
        # self-join through aliased()
        other = aliased(Doc)
        pair = session.execute(
            select(Doc.id, other.id).join(other, Doc.id != other.id).order_by(Doc.embedding.l2(other.embedding), Doc.id).limit(1)
        ).one()
        current = {d.id: d.embedding for d in session.scalars(select(Doc))}
        closest = min(
            ((a, b) for a in current for b in current if a != b),
            key=lambda ab: (float(np.linalg.norm(current[ab[0]] - current[ab[1]])), ab),
        )
        assert tuple(pair) == closest


def test_zero_vector_cosine_is_two(conn: Connection, items: Table) -> None:
    conn.execute(insert(items).values(id=50, embedding=[0.0, 0.0, 0.0]))
    got = conn.execute(select(items.c.embedding.cosine([1.0, 2.0, 3.0])).where(items.c.id == 50)).scalar_one()
    assert got == 2.0
    ids = conn.execute(select(items.c.id).order_by(items.c.embedding.cosine([1.0, 2.0, 3.0]), items.c.id)).scalars().all()
    assert ids[-1] == 50
    other = items.alias("other")
    self_join = conn.execute(
        # ON names both sides: clickhouse-connect 1.12's join compiler registers joins with SQLAlchemy's
        # cartesian-product linter only through the ON clause's columns.
        select(items.c.embedding.cosine(other.c.embedding))
        .join_from(items, other, (other.c.id == 1) & (other.c.id != items.c.id))
        .where(items.c.id == 50)
    ).scalar_one()
    assert self_join == 2.0
    with pytest.raises(InvalidVectorError, match="all zeros"):
        items.c.embedding.cosine([0, 0, 0])


class _NeedsGradients:
    """An array-like whose own conversion refuses, as a tensor that needs gradients (or lives on a GPU) does."""

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")

    def __repr__(self) -> str:
        return "tensor([0.1, 0.2, 0.3], requires_grad=True)"


def test_bad_values_raise_before_anything_is_written(conn: Connection, items: Table) -> None:
    before = conn.execute(select(func.count()).select_from(items)).scalar_one()
    bad_rows = [
        ([1.0, 2.0], DimensionMismatchError, r"column 'items.embedding' \(Vector\(3\)\) expects 3 dimensions, got 2"),
        ([1.0, float("nan"), 2.0], InvalidVectorError, "finite"),
        ([1.0, float("inf"), 2.0], InvalidVectorError, "finite"),
        ([1e39, 0.0, 0.0], InvalidVectorError, "float32 range"),
        ([[1.0, 2.0, 3.0]], InvalidVectorError, r"1-D vector, got an array of shape \(1, 3\)"),
        ("1,2,3", InvalidVectorError, "sequence of numbers, got str"),
        (["a", "b", "c"], InvalidVectorError, "numeric elements"),
        ([1, [2], 3], InvalidVectorError, "flat sequence"),
        (_NeedsGradients(), InvalidVectorError, r"could not read _NeedsGradients .* \(RuntimeError: Can't call numpy"),
    ]
    for bad, error, message in bad_rows:
        rows = [{"id": 100 + k, "embedding": [0.1, 0.2, 0.3]} for k in range(3)]
        rows[1]["embedding"] = bad
        with pytest.raises(error, match=message):
            conn.execute(insert(items), rows)
        with pytest.raises(error, match=message):
            conn.execute(insert(items).values(id=200, embedding=bad))
    assert conn.execute(select(func.count()).select_from(items)).scalar_one() == before


def test_query_vector_errors_are_early(items: Table) -> None:
    with pytest.raises(DimensionMismatchError, match="items.embedding.*expects 3 dimensions, got 4"):
        items.c.embedding.l2([1, 2, 3, 4])
    with pytest.raises(InvalidVectorError, match="finite"):
        items.c.embedding.cosine([1, float("nan"), 3])
    with pytest.raises(InvalidVectorError, match="items.embedding.*could not read _NeedsGradients"):
        items.c.embedding.cosine(_NeedsGradients())
    other = make_table(MetaData(), dim=4, name="other")
    with pytest.raises(DimensionMismatchError, match="same dimensions, got 3 and 4"):
        items.c.embedding.l2(other.c.embedding)


def test_literal_vector_expression(conn: Connection) -> None:
    # both sides literal: the dimension comes from the values
    got = conn.execute(select(sv.l2_distance(literal([3.0, 4.0], sv.Vector(2)), [0.0, 0.0]))).scalar_one()
    assert got == pytest.approx(5.0)
