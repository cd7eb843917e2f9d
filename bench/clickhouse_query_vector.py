"""ClickHouse: a query vector bound as a list of floats against bound as its text, side by side.

    python bench/clickhouse_query_vector.py [--rows 20000] [--dim 384] [--queries 41]

clickhouse-connect writes bound values into the query text: a list of floats
becomes an array literal of ``dim`` numbers, which ClickHouse parses and folds
element by element.  The library binds a query vector as its text
(``[x1,x2,...]``, one string literal) inside ``CAST(... AS Array(Float32))``,
which ClickHouse parses as one value.
On chDB (in-process, a temporary directory), loads ``rows`` random vectors
into a table, builds its ``vector_similarity`` index, and times one cosine
top 5 both ways, interleaved on the same queries, exact (no index asked: the
distance plus 0) and through the index.  Prints medians, the ratio, and the
formatting of one vector alone.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any, Callable, Dict, List

import numpy as np
from clickhouse_connect.driver.binding import format_query_value
from sqlalchemy import Column, Integer, MetaData, Table, text

import sqlalchemy_vector as sv
from sqlalchemy_vector.dialects.base import vector_to_text

SHAPES = {
    "exact": "SELECT id, cosineDistance(embedding, CAST(:q AS Array(Float32))) + 0 AS d FROM items ORDER BY d LIMIT 5",
    "indexed": "SELECT id, cosineDistance(embedding, CAST(:q AS Array(Float32))) AS d FROM items ORDER BY d LIMIT 5",
}
BINDINGS: Dict[str, Callable[[np.ndarray], Any]] = {"list": lambda q: q.tolist(), "text": vector_to_text}


def microseconds(function: Callable[[], Any], repeat: int = 200) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - start) / repeat * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=41)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    data = rng.standard_normal((args.rows, args.dim)).astype(np.float32)
    queries = rng.standard_normal((args.queries + 3, args.dim)).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="sv-ch-bind-") as directory:
        engine = sv.create_engine(f"clickhousedb:///default?interface=chdb&path={directory}/chdb")
        items = Table("items", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False),
                      Column("embedding", sv.Vector(args.dim)))
        with engine.connect() as connection:
            items.create(connection)
            sv.bulk_insert(connection, items, [{"id": i, "embedding": v} for i, v in enumerate(data)])
            sv.create_vector_index(connection, sv.VectorIndex("ix", items.c.embedding, metric="cosine"))
            times: Dict[str, List[float]] = {f"{s} {b}": [] for s in SHAPES for b in BINDINGS}
            for n, q in enumerate(queries):
                keys = list(times) if n % 2 else list(reversed(times))
                for key in keys:
                    shape, binding = key.split()
                    statement = text(SHAPES[shape])
                    start = time.perf_counter()
                    connection.execute(statement, {"q": BINDINGS[binding](q)}).all()
                    if n >= 3:  # warm-up
                        times[key].append((time.perf_counter() - start) * 1000)
        engine.dispose()
    print(f"# cosine top 5 on chDB, {args.rows:,} x {args.dim}, medians of {args.queries} queries (interleaved)")
    print()
    print("| search | list ms | text ms | text / list |")
    print("|---|---:|---:|---:|")
    for shape in SHAPES:
        as_list, as_text = (statistics.median(times[f"{shape} {b}"]) for b in BINDINGS)
        print(f"| {shape} | {as_list:.2f} | {as_text:.2f} | {as_text / as_list:.2f} |")
    q = queries[0]
    print()
    print(f"formatting one vector: clickhouse-connect's of the list {microseconds(lambda: format_query_value(q.tolist())):.0f} us, "
          f"the text {microseconds(lambda: format_query_value(vector_to_text(q))):.0f} us")


if __name__ == "__main__":
    main()
