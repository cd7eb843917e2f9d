"""Compact vector kinds: round trips, each distance against numpy, refusals, indexes and reflection."""

from __future__ import annotations

from typing import Any, List

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Session

import sqlalchemy_vector as sv
from sqlalchemy_vector.dialects import backend_for
from sqlalchemy_vector.exc import DimensionMismatchError, InvalidVectorError, UnsupportedKindError, UnsupportedMetricError
from sqlalchemy_vector.kinds import KINDS, BitVector, HalfVector, Int8Vector, SparseValue, SparseVector

from tests.conftest import BACKENDS, CLICKHOUSE

TYPES = {"half": HalfVector, "int8": Int8Vector, "bit": BitVector, "sparse": SparseVector}

#: What each backend claims, written out so a change of capability data is a visible change here.
CLAIMED = {
    "postgresql": {"half": ("cosine", "l2", "max_inner_product", "l1"), "bit": ("hamming", "jaccard"),
                   "sparse": ("cosine", "l2", "max_inner_product", "l1")},
    "sqlite": {"int8": ("cosine", "l2", "l1"), "bit": ("hamming",)},
    "sqlite-python": {"int8": ("cosine", "l2", "l1"), "bit": ("hamming",)},
    "duckdb": {"bit": ("hamming", "jaccard")},
    "clickhouse": {},
}

DIM = 16
rng = np.random.default_rng(7)


def sample(kind: str, n: int) -> List[Any]:
    if kind == "half":
        return [rng.normal(size=DIM).astype(np.float16) for _ in range(n)]
    if kind == "int8":
        return [rng.integers(-128, 128, size=DIM).astype(np.int8) for _ in range(n)]
    if kind == "bit":
        return [rng.random(DIM) < 0.5 for _ in range(n)]
    dense = np.where(rng.random((n, DIM)) < 0.3, rng.normal(size=(n, DIM)), 0).astype(np.float32)
    dense[:, 0] = 1.0  # no all-zero vector
    return [SparseValue.from_dense(row) for row in dense]


def dense(value: Any) -> np.ndarray:
    return value.to_numpy().astype(np.float64) if isinstance(value, SparseValue) else np.asarray(value, np.float64)


def reference(metric: str, a: Any, b: Any) -> float:
    x, y = dense(a), dense(b)
    if metric == "cosine":
        return 1.0 - float(x @ y) / float(np.linalg.norm(x) * np.linalg.norm(y))
    if metric == "l2":
        return float(np.linalg.norm(x - y))
    if metric == "l1":
        return float(np.abs(x - y).sum())
    if metric == "max_inner_product":
        return -float(x @ y)
    bx, by = x.astype(bool), y.astype(bool)
    if metric == "hamming":
        return float((bx != by).sum())
    return 1.0 - float((bx & by).sum()) / float((bx | by).sum())


def test_capability_data_matches_the_claims() -> None:
    import sqlalchemy.dialects.sqlite as sqlite_dialects
    from sqlalchemy.dialects import postgresql

    from sqlalchemy_vector.dialects.duckdb import DuckDBBackend

    caps = {
        "postgresql": backend_for(postgresql.dialect()).capabilities,
        "sqlite": backend_for(sqlite_dialects.dialect()).capabilities,
        "duckdb": DuckDBBackend.capabilities,
        "clickhouse": backend_for("clickhousedb").capabilities,
    }
    for name, capabilities in caps.items():
        assert dict(capabilities.vector_kinds) == CLAIMED[name]
        # Every kind is either stored or refused with a reason.
        assert set(capabilities.vector_kinds) | set(capabilities.missing_kinds) == set(KINDS)
        assert not set(capabilities.vector_kinds) & set(capabilities.missing_kinds)


def _table(kind: str) -> sa.Table:
    metadata = sa.MetaData()
    return sa.Table(
        f"kind_{kind}",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("v", TYPES[kind](DIM)),
    )


CASES = [(b, k) for b in (*BACKENDS, CLICKHOUSE) for k in KINDS]


@pytest.mark.parametrize(("backend", "kind"), CASES, indirect=["backend"])
def test_round_trip_and_distances(conn: Connection, backend: str, kind: str) -> None:
    table = _table(kind)
    claimed = CLAIMED[backend].get(kind)
    if claimed is None:
        # Raised before the CREATE TABLE, as the library's own class (the compiler would make it a CompileError).
        with pytest.raises(UnsupportedKindError, match=f"cannot store {kind} vectors"):
            table.metadata.create_all(conn)
        assert not sa.inspect(conn).has_table(table.name)
        return
    table.metadata.create_all(conn)
    values = sample(kind, 5)
    conn.execute(table.insert(), [{"id": i, "v": v} for i, v in enumerate(values)])
    conn.execute(table.insert(), [{"id": 99, "v": None}])
    rows = dict(conn.execute(sa.select(table.c.id, table.c.v).order_by(table.c.id)).all())
    assert rows.pop(99) is None
    for i, value in enumerate(values):
        got = rows[i]
        if isinstance(value, SparseValue):
            assert got == value
        else:
            assert got.dtype == value.dtype and np.array_equal(got, value)
    query = sample(kind, 1)[0]
    comparator = table.c.v.comparator
    for metric in claimed:
        method = getattr(comparator, {"l1": "l1_distance"}.get(metric, metric))
        found = dict(conn.execute(sa.select(table.c.id, method(query)).where(table.c.id < 99)).all())
        for i, value in enumerate(values):
            assert found[i] == pytest.approx(reference(metric, value, query), rel=2e-3, abs=1e-4), (metric, i)
            assert type(found[i]) is float, (metric, found[i])  # every backend, every metric: a Python float
    # A distance the backend lacks is a compile-time error naming it.
    missing = [m for m in TYPES[kind].metrics if m not in claimed]
    for metric in missing:
        with pytest.raises(UnsupportedMetricError, match=metric):
            conn.execute(sa.select(sv.kinds.KindDistance(metric, table.c.v, query)))


def test_validation_rules() -> None:
    with pytest.raises(InvalidVectorError, match="float16 range"):
        HalfVector(2).validate([1.0, 70000.0])
    with pytest.raises(InvalidVectorError, match="finite"):
        HalfVector(2).validate([1.0, float("nan")])
    with pytest.raises(DimensionMismatchError):
        HalfVector(3).validate([1.0, 2.0])
    with pytest.raises(InvalidVectorError, match="booleans"):
        HalfVector(2).validate([True, 0.5])
    with pytest.raises(InvalidVectorError, match="whole numbers"):
        Int8Vector(2).validate([1.5, 2])
    with pytest.raises(InvalidVectorError, match="whole numbers"):
        Int8Vector(2).validate([1, 300])
    with pytest.raises(InvalidVectorError, match="0 or 1"):
        BitVector(2).validate([1, 2])
    with pytest.raises(InvalidVectorError, match="booleans or the integers"):
        BitVector(2).validate([0.5, 1.0])
    with pytest.raises(InvalidVectorError):
        BitVector(2).validate("01")
    assert BitVector(3).validate([1, 0, 1]).tolist() == [True, False, True]
    with pytest.raises(InvalidVectorError, match=r"has index 5, outside 0\.\.2 .*declare SparseVector\(n\) with n above 5"):
        SparseVector(3).validate({5: 1.0})
    with pytest.raises(InvalidVectorError, match="finite"):
        SparseVector(3).validate({1: float("inf")})
    # A value that is not finite is named by its index in the vector, not its place among the stored values.
    with pytest.raises(InvalidVectorError, match="got -inf at index 6"):
        SparseVector(8).validate({3: 1.0, 6: float("-inf")})
    with pytest.raises(InvalidVectorError, match="got nan at index 7"):
        SparseVector(8).validate(SparseValue(8, [2, 7], [1.0, float("nan")]))
    with pytest.raises(InvalidVectorError, match="integer indices"):
        SparseVector(3).validate({"a": 1.0})
    assert SparseVector(4).validate([0, 2.5, 0, -1]) == SparseValue(4, [1, 3], [2.5, -1])
    assert SparseVector(4).validate({3: 1.0, 0: 0.0, 1: 2.0}).to_dict() == {1: 2.0, 3: 1.0}
    with pytest.raises(InvalidVectorError, match="positive integer"):
        HalfVector(0)


def test_pgvector_python_sparse_values_are_accepted() -> None:
    import pgvector
    value = pgvector.SparseVector({0: 1.0, 2: 3.0}, 4)
    assert SparseVector(4).validate(value) == SparseValue(4, [0, 2], [1.0, 3.0])


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_a_distance_between_kinds_is_refused_before_the_database(conn: Connection, backend: str) -> None:
    kinds = CLAIMED[backend]
    metadata = sa.MetaData()
    table = sa.Table(
        "kind_mix",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("f", sv.Vector(DIM)),
        *(sa.Column(kind, TYPES[kind](DIM)) for kind in kinds),
    )
    metadata.create_all(conn)
    row = {"id": 1, "f": np.ones(DIM, np.float32), **{kind: sample(kind, 1)[0] for kind in kinds}}
    conn.execute(table.insert(), [row])
    for kind, metrics in kinds.items():
        column, metric = table.c[kind], metrics[0]
        others = [table.c.f, sa.literal(np.ones(DIM, np.float32), sv.Vector(DIM))]
        others += [table.c[k] for k in kinds if k != kind]
        for other in others:
            for a, b in ((column, other), (other, column)):
                with pytest.raises(DimensionMismatchError, match=f"{kind}.*another kind.*pass the query as a Python value"):
                    conn.execute(sa.select(sv.kinds.KindDistance(metric, a, b)))
        # Vector's own distances refuse a compact side too, naming the kind's distances.
        with pytest.raises(DimensionMismatchError, match="another kind"):
            conn.execute(sa.select(table.c.f.l2(column)))
        with pytest.raises(DimensionMismatchError, match="another kind"):
            conn.execute(sa.select(sv.distance("l2" if kind != "bit" else "hamming", table.c.f, column)))
        with pytest.raises(InvalidVectorError, match=f"{kind}.*own distances.*{metric}"):
            sv.l2_distance(column, np.ones(DIM))
        # An untyped bind parameter is bound as the column's kind, as with Vector.
        method = getattr(column.comparator, metric)
        found = conn.execute(sa.select(method(sa.bindparam("q"))), {"q": row[kind]}).scalar()
        assert found == pytest.approx(reference(metric, row[kind], row[kind]), abs=1e-4)
    # Nothing reached the database: the transaction is still usable (PostgreSQL aborts it on an error).
    assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 1


INVALID = {"half": [1e6] * DIM, "int8": [0.5] * DIM, "bit": [2] * DIM, "sparse": {DIM + 3: 1.0}}


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_bulk_insert_names_the_row_of_an_invalid_value(conn: Connection, backend: str) -> None:
    for kind in CLAIMED[backend]:
        table = _table(kind)
        table.metadata.create_all(conn)
        rows = [{"id": i, "v": value} for i, value in enumerate(sample(kind, 3))]
        rows[2]["v"] = INVALID[kind]
        with pytest.raises(InvalidVectorError, match=rf"column 'kind_{kind}.v' \(\w+\({DIM}\)\) in row 2 "):
            sv.bulk_insert(conn, table, rows)
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_pgvector_kind_limits_before_the_database(conn: Connection, backend: str) -> None:
    # halfvec declares up to 16,000 dimensions, sparsevec up to 10**9 with at most 16,000 non-zero elements.
    for column_type, limit in ((HalfVector(16001), 16000), (SparseVector(10**9 + 1), 10**9)):
        metadata = sa.MetaData()
        table = sa.Table("too_wide", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", column_type))
        with pytest.raises(sv.exc.DimensionLimitError, match=rf"too_wide.v' \({type(column_type).__name__}\({column_type.dim}\)\).*\({limit} at most\)"):
            metadata.create_all(conn)
        assert not sa.inspect(conn).has_table("too_wide")
    metadata = sa.MetaData()
    table = sa.Table("sparse_wide", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", SparseVector(20000)))
    metadata.create_all(conn)
    fits, too_many = ({i: 1.0 for i in range(n)} for n in (16000, 16001))
    conn.execute(table.insert(), [{"id": 1, "v": fits}])
    message = r"sparse_wide.v' \(SparseVector\(20000\)\) has 16001 non-zero elements; postgresql stores at most 16000"
    with pytest.raises(InvalidVectorError, match=message):
        conn.execute(table.insert(), [{"id": 2, "v": too_many}])
    with pytest.raises(InvalidVectorError, match=message):
        sv.bulk_insert(conn, table, [{"id": 2, "v": too_many}])
    with pytest.raises(InvalidVectorError, match=message):
        conn.execute(sa.select(table.c.v.l2(too_many)))
    assert conn.execute(sa.select(table.c.v.l2(fits))).scalar() == 0.0


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_sparse_value_beyond_the_hnsw_limit_names_the_column(conn: Connection, backend: str) -> None:
    # pgvector's HNSW index holds sparse vectors of at most 1,000 non-zero elements (the column 16,000); its error
    # named neither the column nor the count.
    metadata = sa.MetaData()
    table = sa.Table(
        "sparse_hnsw",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("plain", SparseVector(5000)),
        sa.Column("v", SparseVector(5000)),
        sv.VectorIndex("sparse_hnsw_v", "v", metric="cosine"),
    )
    metadata.create_all(conn)
    fits, too_many = ({i: 1.0 for i in range(n)} for n in (1000, 1001))
    conn.execute(table.insert(), [{"id": 1, "plain": too_many, "v": fits}])  # the other column has no index
    message = (
        r"sparse_hnsw.v has 1001 non-zero elements{}; pgvector's HNSW index on sparse_hnsw.v takes at most 1000 in a "
        r"sparse vector \(the column stores up to 16000\); keep the 1000 largest in magnitude, or drop the HNSW index "
        r"on sparse_hnsw.v and search it exactly"
    )
    attempts = [
        ("", lambda: conn.execute(table.insert(), [{"id": 2, "plain": None, "v": too_many}])),
        (r" \(row 1 of the statement\)", lambda: conn.execute(table.insert(), [{"id": 2, "plain": too_many, "v": fits}, {"id": 3, "plain": None, "v": too_many}])),
        (r" \(row 1 of the statement\)", lambda: conn.execute(table.insert().values([{"id": 2, "plain": None, "v": fits}, {"id": 3, "plain": None, "v": too_many}]))),
        ("", lambda: conn.execute(table.update().where(table.c.id == 1).values(v=too_many))),
        ("", lambda: sv.bulk_insert(conn, table, [{"id": 2, "plain": None, "v": too_many}])),
    ]
    for where, attempt in attempts:
        with pytest.raises(InvalidVectorError, match=message.format(where)), conn.begin_nested():
            attempt()

    class Base(DeclarativeBase):
        pass

    class Row(Base):
        __table__ = table

    with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
        session.add(Row(id=4, plain=None, v=too_many))
        with pytest.raises(InvalidVectorError, match=message.format("")):
            session.flush()
    assert conn.execute(sa.select(table.c.id)).scalars().all() == [1]

    # An index built over a stored value that long.
    conn.execute(table.insert(), [{"id": 5, "plain": None, "v": fits}])
    other = sv.VectorIndex("sparse_hnsw_plain", table.c.plain, metric="l2")
    message = (
        r"VectorIndex 'sparse_hnsw_plain' on sparse_hnsw.plain: pgvector's HNSW index takes sparse vectors of at most "
        r"1000 non-zero elements, and a row of sparse_hnsw.plain has more; keep the 1000 largest in magnitude in each "
        r"value, or leave sparse_hnsw.plain without an HNSW index and search it exactly"
    )
    for build in (lambda: sv.create_vector_index(conn, other), lambda: other.create(conn)):
        with pytest.raises(sv.exc.VectorIndexError, match=message), conn.begin_nested():
            build()
    assert [i["name"] for i in sv.list_vector_indexes(conn, table)] == ["sparse_hnsw_v"]


@pytest.mark.filterwarnings("ignore:duckdb-engine doesn't yet support reflection on indices")
@pytest.mark.parametrize("backend", ["duckdb", "postgresql"], indirect=True)
def test_a_reflected_bit_string_is_named_with_the_fix(conn: Connection, backend: str) -> None:
    # Reflection keeps PostgreSQL's bit(n) and DuckDB's BIT plain bit strings (ordinary columns are common).
    table = _table("bit")
    table.metadata.create_all(conn)
    value = sample("bit", 1)[0]
    conn.execute(table.insert(), [{"id": 1, "v": value}])
    reflected = sa.Table(table.name, sa.MetaData(), autoload_with=conn)
    assert not isinstance(reflected.c.v.type, BitVector)
    with pytest.raises(UnsupportedMetricError, match=r"got 'kind_bit.v' of type BIT.*declare the column BitVector\(n\)"):
        sv.distance("hamming", reflected.c.v, value)
    coerced = sa.type_coerce(reflected.c.v, BitVector(DIM))
    assert conn.execute(sa.select(sv.distance("hamming", coerced, value))).scalar() == 0.0


def test_sparse_value_refuses_what_it_would_change() -> None:
    # An index of 1.5 used to become 1 (the value stored at another position), a dimension of 8.7 became 8.
    for build, message in [
        (lambda: SparseValue(8, [1.5], [2.0]), "integer indices"),
        (lambda: SparseValue.from_dict({1.5: 2.0}, 8), "integer indices"),
        (lambda: SparseValue(8, [True], [2.0]), "integer indices"),
        (lambda: SparseValue(8, ["a"], [2.0]), "integer indices"),
        (lambda: SparseValue(8.7, [1], [2.0]), "whole number of dimensions"),
        (lambda: SparseValue(8, [1], [True]), "numeric values"),
        (lambda: SparseValue(8, [1], ["x"]), "numeric values"),
        (lambda: SparseValue(8, [[1]], [[2.0]]), "flat sequences"),
        (lambda: SparseValue(8, [1, 2], [2.0]), "2 indices and 1 values"),
        (lambda: SparseValue.from_dense([[1.0, 2.0]]), "1-D"),
        # Beyond float32: once cast to inf with numpy's overflow warning, and left to the column's finite check.
        (lambda: SparseValue(8, [0], [1e39]), r"SparseValue value 1e\+39 \(for index 0\) is beyond the float32 range"),
    ]:
        with pytest.raises(InvalidVectorError, match=message):
            build()
    assert SparseValue(8, np.array([1], np.int32), [3]) == SparseValue.from_dict({1: 3.0}, 8)
    assert SparseValue(8, [], []).to_numpy().tolist() == [0.0] * 8


def test_a_sparse_value_has_the_norms_every_vector_has() -> None:
    # A dict such as {0: 1e-30} was refused for its norm, the same element given as SparseValue stored: its
    # cosine distances then came out as 0.0 or 2.0 where the true one was 0.4.
    column = sa.Table("sparse_norms", sa.MetaData(), sa.Column("v", SparseVector(4))).c.v
    for value in ({0: 1e-30}, SparseValue(4, [0], [1e-30]), {0: 3e38}, SparseValue(4, [0], [3e38])):
        with pytest.raises(InvalidVectorError, match=r"column 'sparse_norms.v' \(SparseVector\(4\)\) has a norm of .*outside what float32 distances handle"):
            column.type.validate(value)
    assert column.type.validate(SparseValue(4, [0, 3], [1.5, -2.0])) == SparseValue.from_dict({0: 1.5, 3: -2.0}, 4)
