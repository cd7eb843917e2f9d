"""Vectors on each PostgreSQL driver: exact float32 round trips, distances, and the form each driver sends.

psycopg 3 binds pgvector's binary format (a private dumper), asyncpg through
pgvector-python's binary codecs, psycopg2 the text form (bench/pg_codecs.py has
the measurements behind the choice).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Dict, List

import numpy as np
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, event, insert, select

import sqlalchemy_vector as sv
from sqlalchemy_vector.kinds import BitVector, HalfVector, SparseValue, SparseVector

DRIVERS = ("psycopg", "psycopg2", "asyncpg")
DIM = 5
ROWS = np.random.default_rng(7).standard_normal((20, DIM)).astype(np.float32)
# float32 values whose shortest decimal forms differ from their float64 widening
ROWS[0] = np.array([0.1, 0.6, -1e-30, 12345.678, 1 / 3], dtype=np.float32)


def driver_url(postgresql_url: str, driver: str) -> str:
    return postgresql_url.replace("+psycopg:", f"+{driver}:", 1)


def vectors_table(name: str) -> Table:
    return Table(
        name,
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("embedding", sv.Vector(DIM)),
        Column("half", HalfVector(DIM)),
        Column("bits", BitVector(DIM)),
        Column("sparse", SparseVector(DIM)),
    )


def rows() -> List[Dict[str, Any]]:
    return [
        {
            "id": i,
            "embedding": row,
            "half": row.astype(np.float16),
            "bits": row > 0,
            "sparse": SparseValue.from_dense(np.where(np.abs(row) > 0.5, row, 0)),
        }
        for i, row in enumerate(ROWS)
    ]


def check_round_trip(read: List[Any]) -> None:
    assert [r.id for r in read] == list(range(len(ROWS)))
    for r, expected in zip(read, rows()):
        assert isinstance(r.embedding, np.ndarray) and r.embedding.dtype == np.float32
        assert np.array_equal(r.embedding, expected["embedding"])
        assert np.array_equal(r.half, expected["half"]) and r.half.dtype == np.float16
        assert np.array_equal(r.bits, expected["bits"])
        assert np.array_equal(r.sparse.to_numpy(), expected["sparse"].to_numpy())


def expected_cosine(query: np.ndarray) -> np.ndarray:
    data = ROWS.astype(np.float64)
    q = query.astype(np.float64)
    return 1 - data @ q / (np.linalg.norm(data, axis=1) * np.linalg.norm(q))


def parameters_seen(engine: Any) -> List[Any]:
    """The vector parameters the DBAPI cursor receives, recorded by a before_cursor_execute hook."""
    seen: List[Any] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        batch = parameters if executemany else [parameters]
        for params in batch:
            values = params.values() if isinstance(params, dict) else params
            seen.extend(v for v in values if v is not None and not isinstance(v, (int, float)))

    return seen


@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_sync_driver_round_trip_and_distance(postgresql_url: str, driver: str) -> None:
    engine = sv.create_engine(driver_url(postgresql_url, driver))
    table = vectors_table(f"drv_{driver}_{uuid.uuid4().hex[:8]}")
    try:
        table.create(engine)
        with engine.begin() as conn:
            conn.execute(insert(table), rows())
            check_round_trip(conn.execute(select(table).order_by(table.c.id)).all())
            query = ROWS[3]
            distance = table.c.embedding.cosine(query)
            got = conn.execute(select(table.c.id, distance).order_by(table.c.id)).all()
        assert np.allclose([d for _, d in got], expected_cosine(query), atol=1e-5)
    finally:
        table.drop(engine)
        engine.dispose()


def test_asyncpg_round_trip_and_distance(postgresql_url: str) -> None:
    async def run() -> None:
        engine = sv.create_async_engine(driver_url(postgresql_url, "asyncpg"))
        table = vectors_table(f"drv_asyncpg_{uuid.uuid4().hex[:8]}")
        try:
            async with engine.begin() as conn:
                await conn.run_sync(table.create)
                await conn.execute(insert(table), rows())
                check_round_trip((await conn.execute(select(table).order_by(table.c.id))).all())
                query = ROWS[3]
                distance = table.c.embedding.cosine(query)
                got = (await conn.execute(select(table.c.id, distance).order_by(table.c.id))).all()
                assert np.allclose([d for _, d in got], expected_cosine(query), atol=1e-5)
                # A vector column read without the library's wrapper comes back through the codec.
                raw = (await conn.exec_driver_sql(f"SELECT embedding FROM {table.name} ORDER BY id")).scalars().all()
                assert np.array_equal(np.stack([v.to_numpy() for v in raw]), ROWS)
                await conn.run_sync(table.drop)
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.mark.parametrize(
    "driver, form",
    [("psycopg", "binary"), ("psycopg2", "text"), ("asyncpg", "binary")],
)
def test_form_each_driver_sends(postgresql_url: str, driver: str, form: str) -> None:
    query = ROWS[0]

    def check(seen: List[Any], value: Any) -> None:
        assert seen, "no vector parameter reached the driver"
        if form == "text":
            assert all(isinstance(v, str) for v in seen)
        elif driver == "psycopg":
            # the private wrapper psycopg dumps in pgvector's binary format
            assert all(type(v).__name__ == "_BinaryVector" for v in seen)
        else:
            # the float32 array itself: pgvector-python's binary codec encodes it
            assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in seen)
        assert np.array_equal(value, query)

    table = vectors_table(f"form_{driver}_{uuid.uuid4().hex[:8]}")
    stmt = select(table.c.embedding).where(table.c.embedding.cosine(query) < 1e-6)
    if driver == "asyncpg":

        async def run() -> None:
            engine = sv.create_async_engine(driver_url(postgresql_url, driver))
            seen = parameters_seen(engine.sync_engine)
            try:
                async with engine.begin() as conn:
                    await conn.run_sync(table.create)
                    await conn.execute(insert(table), [{"id": 1, "embedding": query}])
                    value = (await conn.execute(stmt)).scalar_one()
                    raw = await conn.get_raw_connection()
                    codec_value = await raw.driver_connection.fetchval("SELECT CAST($1 AS vector)", query)
                    assert np.array_equal(codec_value.to_numpy(), query)
                    await conn.run_sync(table.drop)
                check(seen, value)
            finally:
                await engine.dispose()

        asyncio.run(run())
        return
    engine = sv.create_engine(driver_url(postgresql_url, driver))
    seen = parameters_seen(engine)
    try:
        with engine.begin() as conn:
            table.create(conn)
            conn.execute(insert(table), [{"id": 1, "embedding": query}])
            value = conn.execute(stmt).scalar_one()
            table.drop(conn)
        check(seen, value)
    finally:
        engine.dispose()
