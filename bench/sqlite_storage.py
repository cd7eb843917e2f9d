"""SQLite: the 16 kB pages of databases created through prepared engines, against SQLite's default 4 kB.

Loads the same N x 384 float32 vectors (a seeded Gaussian mixture) with
``VectorRAG.load_documents`` into two new SQLite files through prepared
engines, one as it is and one asking for 4,096-byte pages before the file is
created, builds the vec0 index on each, and times, interleaved in one run
(the order alternating per query): the facade's exact cosine top 5 (before
the index) and its indexed top 5 (vec0), plus ``update_document`` of one
document's metadata.  It prints medians, load and index build times and each
file's size.
Run: ``.venv/bin/python bench/sqlite_storage.py [--rows 100000] [--queries 21]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List


def interleaved(variants: Dict[str, Callable[[Any], Any]], queries: Any) -> Dict[str, float]:
    times: Dict[str, List[float]] = {key: [] for key in variants}
    for n, q in enumerate(queries):
        for key in list(variants) if n % 2 else list(reversed(list(variants))):
            start = time.perf_counter()
            variants[key](q)
            if n >= 3:  # the first three warm up
                times[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) * 1000 for key, values in times.items()}


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one
    import numpy as np
    from sqlalchemy import event

    import sqlalchemy_vector as sv

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=21)
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()

    rng = np.random.default_rng(3)
    centres = rng.standard_normal((8, args.dim))
    data = (centres[rng.integers(0, 8, args.rows)] + 0.6 * rng.standard_normal((args.rows, args.dim))).astype("f")
    queries = centres[rng.integers(0, 8, args.queries + 3)] + 0.6 * rng.standard_normal((args.queries + 3, args.dim))
    queries = queries.astype("f")

    with tempfile.TemporaryDirectory(prefix="sv-sqlite-storage-") as tmp:
        stores: Dict[str, Any] = {}
        for name in ("16 kB (prepared engines)", "4 kB (SQLite's default)"):
            path = f"{tmp}/{len(stores)}.db"
            engine = sv.create_engine(f"sqlite:///{path}")
            if name.startswith("4 kB"):

                def default_pages(dbapi_connection: Any, record: Any) -> None:
                    dbapi_connection.execute("PRAGMA page_size = 4096")  # after the library's own listener

                event.listen(engine, "connect", default_pages)
            rag = sv.VectorRAG(engine, dimension=args.dim)
            start = time.perf_counter()
            ids = rag.load_documents(
                [{"content": f"document {i}", "embedding": v} for i, v in enumerate(data)], show_progress=False
            )
            loaded = time.perf_counter() - start
            with engine.connect() as conn:
                page = conn.exec_driver_sql("PRAGMA page_size").scalar()
            stores[name] = {"rag": rag, "path": path, "ids": ids, "load": loaded, "page": page}

        exact = interleaved({name: (lambda q, r=s["rag"]: r.query_with_embedding(q, top_k=5)) for name, s in stores.items()}, queries)
        for store in stores.values():
            start = time.perf_counter()
            store["rag"].create_index("ix", "cosine")
            store["build"] = time.perf_counter() - start
            store["size"] = os.path.getsize(store["path"]) / 2**20
        indexed = interleaved({name: (lambda q, r=s["rag"]: r.query_with_embedding(q, top_k=5)) for name, s in stores.items()}, queries)
        counter = iter(range(10**9))
        updates = interleaved(
            {
                name: (lambda q, s=s: s["rag"].update_document(s["ids"][next(counter) % len(s["ids"])], metadata={"u": 1}))
                for name, s in stores.items()
            },
            queries,
        )
        for store in stores.values():
            store["rag"].close()

    print(
        f"# {args.rows:,} x {args.dim} float32 in new SQLite files, cosine top 5, medians of {args.queries} queries; "
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs"
    )
    print()
    print("| pages | page size | load s | exact top 5 ms | vec0 build s | indexed top 5 ms | update_document ms | file MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, s in stores.items():
        print(
            f"| {name} | {s['page']} | {s['load']:.1f} | {exact[name]:.2f} | {s['build']:.1f} | {indexed[name]:.2f} "
            f"| {updates[name]:.2f} | {s['size']:.0f} |"
        )
    small, large = list(stores)[1], list(stores)[0]
    print()
    print(f"4 kB / 16 kB: exact {exact[small] / exact[large]:.2f}, indexed {indexed[small] / indexed[large]:.2f}")


if __name__ == "__main__":
    main()
