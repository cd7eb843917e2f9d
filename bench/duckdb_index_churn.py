"""DuckDB: recall of the vss HNSW index after rows are replaced, against the same index built again.

    python bench/duckdb_index_churn.py [--rows 5000] [--dim 32] [--rounds 3] [--share 0.2] [--queries 100]
                                       [--small-corpora 150]

In an in-memory DuckDB, loads ``rows`` random vectors into a table created
with its L2 HNSW index, then replaces a ``share`` of the rows (a DELETE, then an
INSERT of the same keys with new vectors, in one transaction) ``rounds``
times.  After the load, after each round, and after dropping and building
the index again, prints the recall@10 of ``knn()`` through the index against
numpy's exact top 10 of the rows stored then.

``--small-corpora N`` also runs N seeded corpora of 9 rows of 3 dimensions,
each through 12 random steps (a delete, a replacement, a reload of every row,
an insert, or nothing), with one top-k (k from 1 to 4) after each step, and
counts the answers that differ from numpy's exact ones, through that index and
through an index built for the same rows after the step: tiny graphs are where
a deleted node's place shows most.  ``--compact`` runs vss's
``PRAGMA hnsw_compact_index`` after each of those steps.
"""

from __future__ import annotations

import argparse
from typing import Dict

import numpy as np
from sqlalchemy import Column, Integer, MetaData, Table, insert
from sqlalchemy.engine import Engine

import sqlalchemy_vector as sv


def table(dim: int) -> Table:
    return Table("items", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False),
                 Column("embedding", sv.Vector(dim)))


def recall(engine: Engine, items: Table, index: sv.VectorIndex, vectors: Dict[int, np.ndarray],
           rng: np.random.Generator, queries: int) -> float:
    keys = np.array(sorted(vectors))
    matrix = np.stack([vectors[int(k)] for k in keys])
    found = 0
    with engine.connect() as connection:
        for _ in range(queries):
            q = rng.standard_normal(matrix.shape[1]).astype(np.float32)
            exact = set(keys[np.argsort(np.linalg.norm(matrix - q, axis=1))[:10]].tolist())
            rows = sv.knn(connection, items.c.embedding, q, 10, metric="l2", columns=[items.c.id], index=index)
            found += len(exact & {row.id for row in rows})
    return found / (10 * queries)


def churn(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(0)
    engine = sv.create_engine("duckdb:///:memory:")
    items = table(args.dim)
    index = sv.VectorIndex("ix", items.c.embedding, metric="l2")
    vectors = {i: rng.standard_normal(args.dim).astype(np.float32) for i in range(args.rows)}
    with engine.begin() as connection:
        items.create(connection)
        connection.execute(insert(items), [{"id": i, "embedding": v} for i, v in vectors.items()])
    print(f"# recall@10 of knn() through vss's HNSW index, {args.rows:,} x {args.dim} random vectors, "
          f"{args.queries} queries per line; each round replaces {args.share:.0%} of the rows")
    print()
    print("| index | recall@10 |")
    print("|---|---:|")
    print(f"| as built | {recall(engine, items, index, vectors, rng, args.queries):.3f} |")
    for n in range(args.rounds):
        replaced = [int(k) for k in rng.choice(sorted(vectors), size=int(args.rows * args.share), replace=False)]
        with engine.begin() as connection:
            connection.execute(items.delete().where(items.c.id.in_(replaced)))
            for k in replaced:
                vectors[k] = rng.standard_normal(args.dim).astype(np.float32)
            connection.execute(insert(items), [{"id": k, "embedding": vectors[k]} for k in replaced])
        print(f"| after round {n + 1} | {recall(engine, items, index, vectors, rng, args.queries):.3f} |")
    with engine.begin() as connection:
        sv.drop_vector_index(connection, "ix")
        sv.create_vector_index(connection, index)
    print(f"| built again | {recall(engine, items, index, vectors, rng, args.queries):.3f} |")
    engine.dispose()


def small_corpora(count: int, compact: bool) -> None:
    engine = sv.create_engine("duckdb:///:memory:")
    items = table(3)
    index = sv.VectorIndex("ix", items.c.embedding, metric="l2")
    fresh = Table("fresh_items", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False),
                  Column("embedding", sv.Vector(3)))
    fresh_index = sv.VectorIndex("fresh_ix", fresh.c.embedding, metric="l2")
    answers = differ = differ_fresh = 0
    for seed in range(count):
        rng = np.random.default_rng(seed)
        vectors = {i: rng.standard_normal(3).astype(np.float32) for i in range(9)}
        with engine.begin() as connection:
            items.drop(connection, checkfirst=True)
            items.create(connection)
            connection.execute(insert(items), [{"id": i, "embedding": v} for i, v in vectors.items()])
        following = 9
        for _ in range(12):
            step = rng.choice(["delete", "replace", "reload", "insert", "none"])
            with engine.begin() as connection:
                if step == "delete" and len(vectors) > 2:
                    key = int(rng.choice(sorted(vectors)))
                    del vectors[key]
                    connection.execute(items.delete().where(items.c.id == key))
                elif step == "replace":
                    key = int(rng.choice(sorted(vectors)))
                    vectors[key] = rng.standard_normal(3).astype(np.float32)
                    connection.execute(items.delete().where(items.c.id == key))
                    connection.execute(insert(items).values(id=key, embedding=vectors[key]))
                elif step == "reload":
                    connection.execute(items.delete())
                    connection.execute(insert(items), [{"id": i, "embedding": v} for i, v in vectors.items()])
                elif step == "insert":
                    vectors[following] = rng.standard_normal(3).astype(np.float32)
                    connection.execute(insert(items).values(id=following, embedding=vectors[following]))
                    following += 1
                if compact:
                    connection.exec_driver_sql("PRAGMA hnsw_compact_index('ix')")
            q = rng.standard_normal(3).astype(np.float32)
            k = int(rng.integers(1, 5))
            exact = sorted(vectors, key=lambda i: (float(np.linalg.norm(vectors[i] - q)), i))[:k]
            with engine.connect() as connection:
                rows = sv.knn(connection, items.c.embedding, q, k, metric="l2", columns=[items.c.id], index=index)
            with engine.begin() as connection:  # the same rows under an index built for them
                fresh.create(connection)
                connection.execute(insert(fresh).from_select(["id", "embedding"], items.select()))
                again = sv.knn(connection, fresh.c.embedding, q, k, metric="l2", columns=[fresh.c.id],
                               index=fresh_index)
                fresh.drop(connection)
            answers += 1
            differ += [row.id for row in rows] != exact
            differ_fresh += [row.id for row in again] != exact
    engine.dispose()
    print()
    print(f"# {count} corpora of 9 x 3, 12 steps each, top-k answers that differ from the exact ones: "
          f"{differ} of {answers} through the index the steps changed, {differ_fresh} through one built for the rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--share", type=float, default=0.2, help="share of the rows replaced per round")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--small-corpora", type=int, default=150)
    parser.add_argument("--compact", action="store_true",
                        help="PRAGMA hnsw_compact_index after each step of the small corpora")
    args = parser.parse_args()
    churn(args)
    if args.small_corpora:
        small_corpora(args.small_corpora, args.compact)


if __name__ == "__main__":
    main()
