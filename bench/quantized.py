"""Compact indexes on PostgreSQL: float32 HNSW, half-precision HNSW, binary HNSW + exact re-rank.

For each variant: table size with its TOAST data (``pg_table_size``), index size (``pg_relation_size``), build time,
recall@10 against the exact top 10 (numpy), and the median query latency.
Then a 3,072-dimension column (beyond the 2,000 dimensions a ``vector`` HNSW
index takes) indexed through half precision and through binary + re-rank.

    python bench/quantized.py --rows 100000 --dim 384 --wide-rows 20000

``--rows 1000000`` is the issue's target size (hours of index builds on two cores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

import numpy as np
import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy_vector as sv  # noqa: E402
from bench.topk_path import mixture, start_postgresql  # noqa: E402

K = 10


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def exact_top(data: np.ndarray, queries: np.ndarray) -> List[List[int]]:
    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    result = []
    for q in queries:
        scores = unit @ (q / np.linalg.norm(q))
        result.append([int(i) + 1 for i in np.argsort(-scores)[:K]])
    return result


def load(url: str, name: str, data: np.ndarray) -> sa.Table:
    table = sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("v", sv.Vector(data.shape[1])),
    )
    engine = sv.create_engine(url)
    with engine.begin() as conn:
        table.metadata.drop_all(conn)
        table.metadata.create_all(conn)
        for start in range(0, len(data), 10000):
            chunk = data[start : start + 10000]
            sv.bulk_insert(conn, table, [{"id": start + i + 1, "v": row} for i, row in enumerate(chunk)])
    engine.dispose()
    return table


def run_variant(
    url: str, table: sa.Table, label: str, quantization: Optional[str], rerank: Optional[int],
    queries: np.ndarray, truth: List[List[int]], build: bool = True,
) -> Dict[str, Any]:
    engine = sv.create_engine(url)
    name = f"{table.name}_{quantization or 'f32'}"
    index = sv.VectorIndex(name, table.c.v, metric="cosine", quantization=quantization)
    seconds = 0.0
    with engine.begin() as conn:
        if build:
            sv.drop_vector_index(conn, name, if_exists=True)
            started = time.perf_counter()
            sv.create_vector_index(conn, index)
            seconds = time.perf_counter() - started
        index_bytes = conn.exec_driver_sql(f"SELECT pg_relation_size('{name}')").scalar()
        table_bytes = conn.exec_driver_sql(f"SELECT pg_table_size('{table.name}')").scalar()
    latencies, hits = [], 0
    with engine.connect() as conn:
        for q, expected in zip(queries, truth):
            started = time.perf_counter()
            rows = sv.knn(conn, table.c.v, q, K, index=index, rerank=rerank, ef_search=None if rerank else 40)
            latencies.append(time.perf_counter() - started)
            hits += len({row.id for row in rows} & set(expected))
    table.indexes.discard(index)
    engine.dispose()
    return {
        "variant": label,
        "table MB": table_bytes / 1e6,
        "index MB": index_bytes / 1e6,
        "build s": seconds,
        "recall@10": hits / (K * len(queries)),
        "median ms": 1000 * statistics.median(latencies),
    }


def table_text(results: List[Dict[str, Any]]) -> str:
    head = "| variant | table MB | index MB | build s | recall@10 | median ms |"
    lines = [head, "|---|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(
            f"| {r['variant']} | {r['table MB']:.1f} | {r['index MB']:.1f} | {r['build s']:.1f} | "
            f"{r['recall@10']:.3f} | {r['median ms']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--wide-rows", type=int, default=20000)
    parser.add_argument("--wide-dim", type=int, default=3072)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--candidates", type=int, nargs=2, default=(40, 200))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        url, server = start_postgresql(workdir)
        try:
            results = []
            data, queries = mixture(args.rows, args.queries, args.dim, clusters=64, spread=0.6, seed=1)
            truth = exact_top(data, queries)
            table = load(url, "items", data)
            log(f"loaded {args.rows} x {args.dim}")
            results.append(run_variant(url, table, f"float32 HNSW ({args.dim}-d)", None, None, queries, truth))
            results.append(run_variant(url, table, f"half HNSW + rerank {K}", "half", K, queries, truth))
            # Without re-ranking the half index orders by the half distance: rerank=k re-ranks its top k exactly.
            low, high = args.candidates
            results.append(run_variant(url, table, f"binary HNSW + rerank {low}", "binary", low, queries, truth))
            results.append(
                run_variant(url, table, f"binary HNSW + rerank {high}", "binary", high, queries, truth, build=False)
            )
            wide, wide_queries = mixture(args.wide_rows, args.queries, args.wide_dim, clusters=64, spread=0.6, seed=2)
            wide_truth = exact_top(wide, wide_queries)
            wide_table = load(url, "wide", wide)
            log(f"loaded {args.wide_rows} x {args.wide_dim}")
            results.append(
                run_variant(url, wide_table, f"half HNSW ({args.wide_dim}-d) + rerank {K}", "half", K, wide_queries, wide_truth)
            )
            results.append(
                run_variant(url, wide_table, f"binary HNSW ({args.wide_dim}-d) + rerank {high}", "binary", high,
                            wide_queries, wide_truth)
            )
            print(f"{args.rows} x {args.dim} and {args.wide_rows} x {args.wide_dim}, clustered, cosine, top {K}")
            print(table_text(results))
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
