"""ClickHouse: what reading the top documents by key adds to a top-5 ranking, statement by statement.

    python bench/clickhouse_document_fetch.py [--rows 100000] [--queries 31] [--warmup 5]

On chDB (in-process, a temporary directory), loads ``rows`` x 384 float32
vectors (the Gaussian mixture of ``bench/topk_path.py``) with
``VectorRAG.load_documents`` into the default models, then times, interleaved
on the same query vectors, exact and after ``rag.create_index``, statements
sent as text through the driver's client (no SQLAlchemy, no facade):

- ``ranking``: the cosine top 5 of the embeddings table, ``document_id`` and
  distance (what ``bench/topk_path.py`` calls ``table``);
- ``two statements``: that ranking, then the five documents read by key
  (``WHERE id IN (...)``), as the facade reads them on ClickHouse;
- ``one statement, IN``: the documents ``WHERE id IN (SELECT document_id FROM
  (ranking))``, which returns no distances: a floor for any one statement;
- ``one statement, join``: the ranking joined to the documents, the ranking on
  the build side, with ``enable_join_runtime_filters_index_analysis = 1`` (the
  plain join reads every document);
- ``SELECT 1``: a statement's own cost;

and ``facade``: ``rag.query_with_embedding(q, top_k=5)`` itself.  Prints
medians and each one's ratio to ``ranking``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from topk_path import DIM, balanced_orders, mixture  # noqa: E402

from sqlalchemy_vector import VectorRAG  # noqa: E402
from sqlalchemy_vector.dialects.base import vector_to_text  # noqa: E402

RANKING = (
    "SELECT document_id, cosineDistance(embedding, CAST('{q}' AS Array(Float32))) AS distance "
    "FROM embeddings ORDER BY distance LIMIT 5"
)


def variants(rag: VectorRAG, client: Any) -> Dict[str, Callable[[np.ndarray], Any]]:
    def ranking(q: np.ndarray) -> bytes:
        return bytes(client.raw_query(RANKING.format(q=vector_to_text(q))))

    def two(q: np.ndarray) -> bytes:
        keys = [line.split(b"\t")[0].decode() for line in ranking(q).splitlines()]
        quoted = ", ".join(f"'{key}'" for key in keys)
        return bytes(client.raw_query(f"SELECT id, content, metadata FROM documents WHERE id IN ({quoted})"))

    def one_in(q: np.ndarray) -> bytes:
        sub = RANKING.format(q=vector_to_text(q))
        return bytes(client.raw_query(f"SELECT id, content, metadata FROM documents WHERE id IN (SELECT document_id FROM ({sub}))"))

    def one_join(q: np.ndarray) -> bytes:
        sub = RANKING.format(q=vector_to_text(q))
        return bytes(
            client.raw_query(
                f"SELECT d.id, d.content, d.metadata, r.distance FROM ({sub}) AS r INNER JOIN documents AS d "
                "ON d.id = r.document_id SETTINGS enable_join_runtime_filters_index_analysis = 1"
            )
        )

    return {
        "ranking": ranking,
        "two statements": two,
        "one statement, IN": one_in,
        "one statement, join": one_join,
        "SELECT 1": lambda q: client.raw_query("SELECT 1"),
        "facade": lambda q: rag.query_with_embedding(q, top_k=5),
    }


def measure(runs: Dict[str, Callable[[np.ndarray], Any]], warmup: np.ndarray, queries: np.ndarray) -> Dict[str, float]:
    for q in warmup:
        for run in runs.values():
            run(q)
    times: Dict[str, List[float]] = {name: [] for name in runs}
    names = list(runs)
    orders = [[names[i] for i in order] for order in balanced_orders(len(names))]
    for n, q in enumerate(queries):
        for name in orders[n % len(orders)]:
            start = time.perf_counter()
            runs[name](q)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=31)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    data, drawn = mixture(args.rows, args.warmup + args.queries, DIM, 8, 0.6, 3)
    warmup, queries = drawn[: args.warmup], drawn[args.warmup :]
    rows = []
    with tempfile.TemporaryDirectory(prefix="sv-ch-fetch-") as directory:
        rag = VectorRAG(f"clickhousedb:///default?interface=chdb&path={directory}/chdb", dimension=DIM)
        try:
            rag.load_documents([{"content": f"document {i}", "embedding": v} for i, v in enumerate(data)], show_progress=False)
            raw = rag.engine.raw_connection()
            try:
                runs = variants(rag, raw.driver_connection.client)
                for mode in ("exact", "indexed"):
                    if mode == "indexed":
                        rag.create_index("ix", "cosine")
                    result = measure(runs, warmup, queries)
                    rows.append((mode, result))
                    print(f"{mode}: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in result.items()), flush=True)
            finally:
                raw.close()
        finally:
            rag.close()

    names = list(rows[0][1])
    print()
    print(f"# chDB, {args.rows:,} x {DIM} float32, top 5 cosine, medians of {args.queries} queries (interleaved); "
          f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs")
    print()
    print("| mode | " + " | ".join(f"{name} ms (/ ranking)" for name in names) + " |")
    print("|---|" + "---:|" * len(names))
    for mode, result in rows:
        base = result["ranking"]
        print(f"| {mode} | " + " | ".join(f"{result[name]:.2f} ({result[name] / base:.2f})" for name in names) + " |")


if __name__ == "__main__":
    main()
