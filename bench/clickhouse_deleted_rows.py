"""ClickHouse: the index's top-k as a plain statement against the library's, after deletes, side by side.

    python bench/clickhouse_deleted_rows.py [--rows 50000] [--dim 384] [--parts 4] [--nearest 4] [--deleted 0.02] [--queries 61]

On chDB (in-process, a temporary directory), creates a table with its
``vector_similarity`` index, loads ``rows`` random vectors in ``parts``
inserts (a part and a graph each), then times one cosine top 5, interleaved
on the same queries:

- ``plain``: ``SELECT id, cosineDistance(...) AS distance ... ORDER BY distance
  LIMIT 5``, the shape the index serves;
- ``library``: ``knn_select(...)`` with the index, as ``knn()`` and the facade
  run it: the 10 nearest of every row (``apply_deleted_mask = 0``), of which a
  statement around it keeps the first 5 live ones.

Both are timed on the table as loaded, then after a lightweight DELETE of the
``nearest`` rows of each query and a ``deleted`` share of the others.  Before and
after the deletes, each statement's answer is compared with numpy's exact top 5 of
the rows stored then (``!= exact``; as loaded, what the index's approximation
misses): ``plain`` misses rows
(ClickHouse/ClickHouse#117286).  The library's statement comes back short
where more than 5 of its 10 were deleted (counted), which ``knn()`` completes
with the exact search (``knn = exact``: its answers).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any, Dict, List

import numpy as np
from sqlalchemy import Column, Integer, MetaData, Table, select

import sqlalchemy_vector as sv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--nearest", type=int, default=4, help="the nearest rows of each query deleted")
    parser.add_argument("--deleted", type=float, default=0.02, help="share of the other rows deleted")
    parser.add_argument("--queries", type=int, default=61)
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    data = rng.standard_normal((args.rows, args.dim)).astype(np.float32)
    queries = rng.standard_normal((args.queries + 3, args.dim)).astype(np.float32)
    normed = data / np.linalg.norm(data, axis=1, keepdims=True)
    distances = [1 - normed @ (q / np.linalg.norm(q)) for q in queries]
    with tempfile.TemporaryDirectory(prefix="sv-ch-deleted-") as directory:
        engine = sv.create_engine(f"clickhousedb:///default?interface=chdb&path={directory}/chdb")
        items = Table("items", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False),
                      Column("embedding", sv.Vector(args.dim)))
        index = sv.VectorIndex("ix", items.c.embedding, metric="cosine")
        rows: Dict[str, Any] = {}
        counts: Dict[str, List[int]] = {}
        with engine.connect() as connection:
            items.create(connection)
            for part in np.array_split(np.arange(args.rows), args.parts):
                sv.bulk_insert(connection, items, [{"id": int(i), "embedding": data[i]} for i in part])

            def statements(q: np.ndarray) -> Dict[str, Any]:
                distance = sv.cosine_distance(items.c.embedding, q).label("distance")
                return {
                    "plain": select(items.c.id, distance).order_by(distance).limit(5),
                    "library": sv.knn_select(items.c.embedding, q, 5, columns=[items.c.id], index=index,
                                             dialect=connection.dialect),
                }

            def timed(stage: str) -> Dict[str, List[List[int]]]:
                times: Dict[str, List[float]] = {"plain": [], "library": []}
                answers: Dict[str, List[List[int]]] = {"plain": [], "library": []}
                for n, q in enumerate(queries):
                    shapes = statements(q)
                    for name in (list(shapes) if n % 2 else list(reversed(shapes))):
                        start = time.perf_counter()
                        found = connection.execute(shapes[name]).all()
                        if n >= 3:  # warm-up
                            times[name].append((time.perf_counter() - start) * 1000)
                            answers[name].append([row.id for row in found])
                rows[stage] = {name: statistics.median(values) for name, values in times.items()}
                return answers

            def compared(stage: str, live: np.ndarray) -> None:
                answers = timed(stage)
                truth = [list(live[np.argsort(d[live], kind="stable")[:5]]) for d in distances[3:]]
                counts[stage] = [
                    *(sum(found != expected for found, expected in zip(answers[name], truth) if len(found) == 5)
                      for name in ("plain", "library")),
                    sum(len(found) < 5 for found in answers["library"]),
                    sum(
                        [row.id for row in sv.knn(connection, items.c.embedding, q, 5, columns=[items.c.id],
                                                  index=index)] == expected
                        for q, expected in zip(queries[3:], truth)
                    ),
                ]

            compared("as loaded", np.arange(args.rows))
            doomed = {int(i) for d in distances for i in np.argsort(d)[: args.nearest]}
            others = np.setdiff1d(np.arange(args.rows), sorted(doomed))
            doomed |= {int(i) for i in rng.choice(others, size=int(len(others) * args.deleted), replace=False)}
            connection.execute(items.delete().where(items.c.id.in_(sorted(doomed))))
            parts = connection.exec_driver_sql(
                "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'items' AND active"
            ).scalar()
            compared("after deletes", np.setdiff1d(np.arange(args.rows), sorted(doomed)))
        engine.dispose()
    print(f"# cosine top 5 on chDB, {args.rows:,} x {args.dim} in {args.parts} inserts ({parts} active parts after "
          f"the deletes), {len(doomed):,} rows deleted; medians of {args.queries} queries (interleaved)")
    print()
    print("| table | plain ms | library ms | library / plain | plain: 5 rows != exact | library: 5 rows != exact "
          "| library short | knn = exact |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for stage, medians in rows.items():
        plain, library, short, right = counts[stage]
        print(f"| {stage} | {medians['plain']:.2f} | {medians['library']:.2f} | "
              f"{medians['library'] / medians['plain']:.2f} | {plain} | {library} | {short} | {right} / {args.queries} |")


if __name__ == "__main__":
    main()
