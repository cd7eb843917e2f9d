"""Same data, same query, same answer: every backend against a numpy reference."""

from __future__ import annotations

from typing import Callable, Dict, List, Tuple

import numpy as np
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, insert, select
from sqlalchemy.engine import Engine

import sqlalchemy_vector as sv

from conftest import WITH_CLICKHOUSE

from sqlalchemy_vector.dialects import backend_for

ROWS = 300
TOP_K = 10
QUERIES = 4


def numpy_distances(metric: str, data: np.ndarray, query: np.ndarray) -> np.ndarray:
    x, q = data.astype(np.float64), query.astype(np.float64)
    if metric == "l2":
        return np.linalg.norm(x - q, axis=1)
    if metric == "l1":
        return np.abs(x - q).sum(axis=1)
    if metric == "inner_product":
        return x @ q
    if metric == "max_inner_product":
        return -(x @ q)
    norms = np.linalg.norm(x, axis=1) * np.linalg.norm(q)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = 1.0 - (x @ q) / norms
    return np.where(norms == 0, 2.0, cos)


def dataset(dim: int) -> Tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(dim)
    data = rng.standard_normal((ROWS, dim)).astype(np.float32)
    data[10] = data[20]  # exact duplicates: ties that only the primary key can break
    data[30] = data[20]
    data[40] = 0.0  # a zero vector: cosine distance 2.0 by definition
    queries = rng.standard_normal((QUERIES, dim)).astype(np.float32)
    queries[0] = data[20]  # the duplicated vector is the best match, three times
    return data, queries


def ranked(metric: str, data: np.ndarray, query: np.ndarray) -> List[Tuple[int, float]]:
    d = numpy_distances(metric, data, query)
    order = sorted(range(len(d)), key=lambda i: (d[i], i))  # ties by primary key
    return [(i, float(d[i])) for i in order[:TOP_K]]


def run_backend(engine: Engine, dim: int, data: np.ndarray, queries: np.ndarray) -> Dict[Tuple[str, int], list]:
    table = Table(
        f"consistency_{dim}",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", sv.Vector(dim)),
    )
    results: Dict[Tuple[str, int], list] = {}
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            table.create(conn)
            conn.execute(insert(table), [{"id": i, "embedding": v} for i, v in enumerate(data)])
            for metric in sv.METRICS:
                for qi, query in enumerate(queries):
                    distance = sv.distance(metric, table.c.embedding, query).label("d")
                    stmt = select(table.c.id, distance).order_by(distance, table.c.id).limit(TOP_K)
                    results[metric, qi] = [(row.id, row.d) for row in conn.execute(stmt)]
        finally:
            transaction.rollback()
            if not backend_for(conn.dialect).capabilities.transactions:  # ClickHouse keeps it: drop it
                table.drop(conn, checkfirst=True)
    return results


@pytest.mark.parametrize("dim", [3, 64, 384])
def test_all_backends_agree_with_numpy(dim: int, engine_for: Callable[[str], Engine]) -> None:
    data, queries = dataset(dim)
    per_backend = {backend: run_backend(engine_for(backend), dim, data, queries) for backend in WITH_CLICKHOUSE}

    for metric in sv.METRICS:
        for qi, query in enumerate(queries):
            expected = ranked(metric, data, query)
            expected_ids = [i for i, _ in expected]
            for backend, results in per_backend.items():
                got = results[metric, qi]
                assert [i for i, _ in got] == expected_ids, (backend, metric, qi)
                scale = max(1.0, max(abs(d) for _, d in expected))
                for (_, got_d), (_, want_d) in zip(got, expected):
                    assert got_d == pytest.approx(want_d, abs=2e-5 * scale, rel=2e-5), (backend, metric, qi)
            if qi == 0 and metric in ("l2", "cosine", "l1"):
                assert expected_ids[:3] == [10, 20, 30]  # the duplicates, tied at 0, in key order


def test_sqlite_inner_product_error_scales_with_the_norms(engine_for: Callable[[str], Engine]) -> None:
    # SQLite derives the dot product from sqlite-vec's float32 cosine distance (docs/backends.md): its error is
    # about 1e-7 * |a| * |b|, where the other backends, summing the products in float32, err by about 1e-7 of the
    # sum of their magnitudes (as large for most pairs, far smaller where the large elements do not meet).
    rng = np.random.default_rng(5)
    pairs = rng.standard_normal((2, 100, 16)).astype(np.float32) * rng.uniform(0.1, 1000, (2, 100, 1)).astype(np.float32)
    vector = sv.Vector(16)
    statement = select(sv.inner_product(bindparam("a", type_=vector), bindparam("b", type_=vector)))
    perpendicular = select(
        sv.inner_product(bindparam("a", [1e4, 0, 0, 0], type_=sv.Vector(4)), bindparam("b", [1e-4, 1e4, 0, 0], type_=sv.Vector(4)))
    )
    for backend in WITH_CLICKHOUSE:
        with engine_for(backend).connect() as connection:
            for a, b in zip(*pairs):
                got = float(connection.execute(statement, {"a": a, "b": b}).scalar_one())
                want = float(a.astype(np.float64) @ b.astype(np.float64))
                norms = float(np.linalg.norm(a) * np.linalg.norm(b))
                magnitudes = float(np.abs(a.astype(np.float64) * b).sum())
                bound = 1e-6 * (norms if backend == "sqlite" else magnitudes)
                assert abs(got - want) <= bound, (backend, got, want, norms)
            found = float(connection.execute(perpendicular).scalar_one())
            assert found == (0.0 if backend == "sqlite" else pytest.approx(1.0, rel=1e-5)), backend
