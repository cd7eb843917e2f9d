"""ClickHouse (chDB): vector columns stored plain (``CODEC(NONE)``) against the server's codec for merged parts.

Tables created through ``sqlalchemy_vector`` declare their vector columns
``CODEC(NONE)`` (``dialects/clickhouse/ddl.py``).  Without a declared codec a
part takes the server's compression, which in chDB is LZ4 for small parts and
ZSTD(3) once background merges make a large one.  This script loads N x 384
float32 vectors (a seeded Gaussian mixture) with ``VectorRAG.load_documents``,
copies the embeddings into a second table declared the same way but without
the codec, merges both into one part (``OPTIMIZE ... FINAL``, what background
merges do in time), then times, interleaved in one run (the order alternating
per query), an exact cosine top 5 on each table in SQL on the driver, and the
facade's own exact top 5 on the first.  It prints each table's codec, stored
size and median time.
Run: ``.venv/bin/python bench/clickhouse_storage.py [--rows 100000] [--queries 21]``.
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


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one
    import numpy as np

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

    with tempfile.TemporaryDirectory(prefix="sv-clickhouse-storage-") as tmp:
        rag = sv.VectorRAG(f"clickhousedb://?interface=chdb&path={tmp}/chdb", dimension=args.dim)
        rag.load_documents([{"content": f"document {i}", "embedding": v} for i, v in enumerate(data)], show_progress=False)
        engine = rag.engine
        with engine.connect() as conn:
            ddl = conn.exec_driver_sql("SHOW CREATE TABLE embeddings").scalar()
            copy = str(ddl).replace("default.embeddings", "default.embeddings_server_codec", 1).replace(" CODEC(NONE)", "")
            conn.exec_driver_sql(copy)
            conn.exec_driver_sql("INSERT INTO embeddings_server_codec SELECT * FROM embeddings")
            stored: Dict[str, Any] = {}
            for table in ("embeddings", "embeddings_server_codec"):
                conn.exec_driver_sql(f"OPTIMIZE TABLE {table} FINAL")
                stored[table] = conn.exec_driver_sql(
                    "SELECT any(p.default_compression_codec), any(c.compression_codec), "
                    "sum(pc.column_data_compressed_bytes), count(DISTINCT p.name) "
                    "FROM system.parts AS p "
                    "JOIN system.parts_columns AS pc ON pc.table = p.table AND pc.name = p.name AND pc.active "
                    "JOIN system.columns AS c ON c.table = p.table AND c.name = pc.column "
                    f"WHERE p.active AND p.table = '{table}' AND pc.column = 'embedding' "
                    "AND p.database = currentDatabase() AND c.database = currentDatabase()"
                ).one()

        def scan(table: str) -> Callable[[Any], Any]:
            sql = (
                f"SELECT document_id, cosineDistance(embedding, CAST(%(q)s AS Array(Float32))) AS d "
                f"FROM {table} ORDER BY d LIMIT 5"
            )

            def run(q: Any) -> Any:
                with engine.connect() as conn:
                    return conn.exec_driver_sql(sql, {"q": q.tolist()}).all()

            return run

        variants: Dict[str, Callable[[Any], Any]] = {
            "scan embeddings": scan("embeddings"),
            "scan embeddings_server_codec": scan("embeddings_server_codec"),
            "facade": lambda q: rag.query_with_embedding(q, top_k=5),
        }
        times: Dict[str, List[float]] = {key: [] for key in variants}
        for n, q in enumerate(queries):
            for key in list(variants) if n % 2 else list(reversed(list(variants))):
                start = time.perf_counter()
                variants[key](q)
                if n >= 3:  # the first three warm up
                    times[key].append(time.perf_counter() - start)
        median = {key: statistics.median(values) * 1000 for key, values in times.items()}
        rag.close()

    print(
        f"# exact cosine top 5, {args.rows:,} x {args.dim} float32 on chDB, one merged part per table, "
        f"medians of {args.queries} queries; {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs"
    )
    print()
    print("| table | declared codec | part codec | vectors stored MB | exact top 5 ms (SQL) | facade ms |")
    print("|---|---|---|---:|---:|---:|")
    for table, (part_codec, declared, size, _) in stored.items():
        facade = f"{median['facade']:.2f}" if table == "embeddings" else "-"
        print(
            f"| {table} | {declared or '(none: the server decides)'} | {part_codec} | {size / 2**20:.0f} "
            f"| {median['scan ' + table]:.2f} | {facade} |"
        )
    print()
    print(f"server codec / CODEC(NONE): {median['scan embeddings_server_codec'] / median['scan embeddings']:.2f}")


if __name__ == "__main__":
    main()
