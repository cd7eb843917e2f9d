"""What the async facade costs over the sync one, on every backend.

For each backend, loads N x 384 float32 documents (default 20,000) with ``VectorRAG`` and
times, interleaved on the same random queries inside one event loop:

- ``sync``: ``VectorRAG.query_with_embedding(q, top_k=5)``;
- ``async``: ``await AsyncVectorRAG.query_with_embedding(q, top_k=5)`` on the same
  database: through the asyncio driver in a greenlet (``sqlite+aiosqlite``,
  ``postgresql+psycopg_async``), or through the synchronous driver in the facade's
  worker thread where the backend has no asyncio driver (DuckDB, ClickHouse);
- ``gather``: 8 such queries at once with ``asyncio.gather``, per query, against 8 in a
  row with the sync facade (what concurrency buys: the worker thread runs them one at a
  time; an asyncio driver can overlap them on its pool's connections).

Exact search (no index), so each figure is mostly the database's own work and the
ratios show the facade's overhead. Medians; ratios are async / sync.
Run: ``.venv/bin/python bench/async_facade.py [--rows 20000] [--queries 31]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from topk_path import BACKENDS, backend_list, log, start_postgresql  # noqa: E402  (the benchmarks' shared PostgreSQL start)

from sqlalchemy_vector import AsyncVectorRAG, VectorRAG  # noqa: E402

DIM = 384
TOP_K = 5
CONCURRENT = 8


def urls(backend: str, workdir: str) -> Tuple[str, str, Any]:
    """The sync and async URLs of one database of ``backend``, and the server to clean up (or None)."""
    if backend == "sqlite":
        path = f"{workdir}/bench.db"
        return f"sqlite:///{path}", f"sqlite+aiosqlite:///{path}", None
    if backend == "duckdb":
        url = f"duckdb:///{workdir}/bench.duckdb"
        return url, url, None
    if backend == "clickhouse":
        url = f"clickhousedb:///default?interface=chdb&path={workdir}/chdb"
        return url, url, None
    url, server = start_postgresql(workdir)
    return url, url.replace("postgresql+psycopg://", "postgresql+psycopg_async://", 1), server


async def measure(sync: VectorRAG, rag: AsyncVectorRAG, queries: np.ndarray, warmup: int) -> Dict[str, float]:
    times: Dict[str, List[float]] = {"sync": [], "async": [], "sync x8": [], "gather x8": []}

    def timed(name: str, start: float, count: int = 1) -> None:
        times[name].append((time.perf_counter() - start) / count)

    for i, q in enumerate(queries):
        batch = queries[(i + np.arange(CONCURRENT)) % len(queries)]
        start = time.perf_counter()
        expected = sync.query_with_embedding(q, top_k=TOP_K)
        timed("sync", start)
        start = time.perf_counter()
        got = await rag.query_with_embedding(q, top_k=TOP_K)
        timed("async", start)
        if [r["document_id"] for r in got] != [r["document_id"] for r in expected]:
            raise AssertionError("the async facade answered differently from the sync one")
        start = time.perf_counter()
        for b in batch:
            sync.query_with_embedding(b, top_k=TOP_K)
        timed("sync x8", start, CONCURRENT)
        start = time.perf_counter()
        await asyncio.gather(*(rag.query_with_embedding(b, top_k=TOP_K) for b in batch))
        timed("gather x8", start, CONCURRENT)
    return {name: statistics.median(values[warmup:]) * 1000 for name, values in times.items()}


def bench_backend(backend: str, workdir: str, data: np.ndarray, queries: np.ndarray, warmup: int) -> Dict[str, Any]:
    sync_url, async_url, server = urls(backend, workdir)
    try:
        sync = VectorRAG(sync_url, dimension=DIM)
        try:
            start = time.perf_counter()
            sync.load_documents(
                [{"content": f"document {i}", "embedding": v} for i, v in enumerate(data)], show_progress=False
            )
            log(f"{backend}: loaded {len(data):,} in {time.perf_counter() - start:.1f} s")

            async def run() -> Dict[str, float]:
                async with AsyncVectorRAG(async_url, dimension=DIM) as rag:
                    how = "worker thread" if isinstance(rag.engine, type(sync.engine)) else "greenlet"
                    log(f"{backend}: async facade through {rag.engine.url.drivername} ({how})")
                    return await measure(sync, rag, queries, warmup)

            result: Dict[str, Any] = asyncio.run(run())
        finally:
            sync.close()
    finally:
        if server is not None:
            server.cleanup()
    result["backend"] = backend
    result["driver"] = async_url.split(":", 1)[0]
    return result


def render(rows: List[Dict[str, Any]]) -> str:
    columns: List[Tuple[str, Callable[[Dict[str, Any]], str]]] = [
        ("backend", lambda r: r["backend"]),
        ("async through", lambda r: r["driver"] + (" (worker thread)" if "+" not in r["driver"] else "")),
        ("sync ms", lambda r: f"{r['sync']:.2f}"),
        ("async ms", lambda r: f"{r['async']:.2f}"),
        ("async / sync", lambda r: f"{r['async'] / r['sync']:.2f}"),
        (f"sync, {CONCURRENT} in a row, ms per query", lambda r: f"{r['sync x8']:.2f}"),
        (f"gather of {CONCURRENT}, ms per query", lambda r: f"{r['gather x8']:.2f}"),
        ("gather / sync in a row", lambda r: f"{r['gather x8'] / r['sync x8']:.2f}"),
    ]
    lines = ["| " + " | ".join(name for name, _ in columns) + " |", "|---|---|" + "---:|" * (len(columns) - 2)]
    lines += ["| " + " | ".join(cell(r) for _, cell in columns) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=31, help="measured queries (after --warmup)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    args = parser.parse_args()
    backends = backend_list(parser, args.backends)
    if args.rows <= TOP_K or args.queries < 1 or args.warmup < 0:
        parser.error(f"--rows must exceed {TOP_K}, --queries be at least 1 and --warmup not negative")

    rng = np.random.default_rng(args.seed)
    data = rng.standard_normal((args.rows, DIM)).astype(np.float32)
    queries = rng.standard_normal((args.warmup + args.queries, DIM)).astype(np.float32)
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="sv-async-bench-") as workdir:
        for backend in backends:
            rows.append(bench_backend(backend, workdir, data, queries, args.warmup))
    print()
    print(
        f"# top-{TOP_K} cosine, exact, {args.rows:,} x {DIM} float32; medians of {args.queries} queries "
        f"(variants interleaved); {time.strftime('%Y-%m-%d')}, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; run {time.perf_counter() - started:.0f} s"
    )
    print()
    print(render(rows))


if __name__ == "__main__":
    main()
