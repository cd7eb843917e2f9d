"""DuckDB files: vectors stored plain (prepared engines) against DuckDB's own ALPRD compression.

At a checkpoint DuckDB compresses float data with ALPRD; engines made by
``sqlalchemy_vector`` disable that method (``dialects/duckdb/storage.py``).
This script loads the same N x 384 float32 vectors (a seeded Gaussian mixture)
with ``VectorRAG.load_documents`` into two DuckDB files, one through a prepared
engine as it is and one whose connections enable ALPRD again, checkpoints
both, then times, interleaved in one run (the order alternating per query):

- ``facade``: an exact cosine top 5, ``rag.query_with_embedding(q, top_k=5)``;
- ``scan``: the same top 5 on the embeddings table alone in SQL on the driver
  (``ORDER BY array_cosine_distance(embedding, q) LIMIT 5``).

It prints the median of each, their ratio, the compression methods of the
stored float segments, the database's blocks in use and its file's size
after the checkpoint (the file also keeps blocks freed by earlier checkpoints).
Run: ``.venv/bin/python bench/duckdb_storage.py [--rows 100000] [--queries 21]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one
    import duckdb
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
    queries = (centres[rng.integers(0, 8, args.queries + 3)] + 0.6 * rng.standard_normal((args.queries + 3, args.dim)))
    queries = queries.astype("f")

    with tempfile.TemporaryDirectory(prefix="sv-duckdb-storage-") as tmp:
        stores: Dict[str, Any] = {}
        for name in ("plain", "ALPRD"):
            path = f"{tmp}/{name}.duckdb"
            engine = sv.create_engine(f"duckdb:///{path}")
            if name == "ALPRD":

                def enable(dbapi_connection: Any, record: Any) -> None:
                    cursor = dbapi_connection.cursor()
                    cursor.execute("SET disabled_compression_methods = ''")  # DuckDB's default
                    cursor.close()

                event.listen(engine, "connect", enable)  # after the library's own listener
            rag = sv.VectorRAG(engine, dimension=args.dim)
            start = time.perf_counter()
            rag.load_documents([{"content": f"document {i}", "embedding": v} for i, v in enumerate(data)], show_progress=False)
            with engine.connect() as conn:
                conn.exec_driver_sql("CHECKPOINT")
                methods = sorted(
                    conn.exec_driver_sql(
                        "SELECT DISTINCT compression FROM pragma_storage_info('embeddings') WHERE segment_type = 'FLOAT'"
                    ).scalars()
                )
                used = conn.exec_driver_sql("SELECT used_blocks * block_size FROM pragma_database_size()").scalar()
            loaded = time.perf_counter() - start
            stores[name] = (rag, engine, path, (methods, used), loaded)

        def facade(rag: Any) -> Any:
            return lambda q: rag.query_with_embedding(q, top_k=5)

        def scan(engine: Any) -> Any:
            sql = (
                "SELECT document_id FROM embeddings "
                f"ORDER BY array_cosine_distance(embedding, CAST(? AS FLOAT[{args.dim}])) LIMIT 5"
            )

            def run(q: Any) -> Any:
                with engine.connect() as conn:
                    return conn.exec_driver_sql(sql, (q.tolist(),)).all()

            return run

        variants = {
            f"{kind} {name}": (facade(rag) if kind == "facade" else scan(engine))
            for name, (rag, engine, _, _, _) in stores.items()
            for kind in ("facade", "scan")
        }
        times: Dict[str, List[float]] = {key: [] for key in variants}
        for n, q in enumerate(queries):
            order = list(variants) if n % 2 else list(reversed(list(variants)))
            for key in order:
                start = time.perf_counter()
                variants[key](q)
                if n >= 3:  # the first three warm up
                    times[key].append(time.perf_counter() - start)
        median = {key: statistics.median(values) * 1000 for key, values in times.items()}
        for rag, engine, _, _, _ in stores.values():
            rag.close()
            engine.dispose()
        print(
            f"# exact cosine top 5, {args.rows:,} x {args.dim} float32 in a DuckDB {duckdb.__version__} file, "
            f"medians of {args.queries} queries; {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs"
        )
        print()
        print("| stored | float segments | blocks in use MB | file MB | load s | facade ms | scan ms |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for name, (_, _, path, (methods, used), loaded) in stores.items():
            size = os.path.getsize(path) / 2**20
            print(
                f"| {name} | {', '.join(methods)} | {used / 2**20:.0f} | {size:.0f} | {loaded:.1f} "
                f"| {median['facade ' + name]:.2f} | {median['scan ' + name]:.2f} |"
            )
        print()
        print(
            f"ALPRD / plain: facade {median['facade ALPRD'] / median['facade plain']:.2f}, "
            f"scan {median['scan ALPRD'] / median['scan plain']:.2f}"
        )


if __name__ == "__main__":
    main()
