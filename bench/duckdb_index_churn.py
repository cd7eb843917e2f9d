"""DuckDB: recall of the vss HNSW index after rows are replaced, against the same index built again.

    python bench/duckdb_index_churn.py [--rows 5000] [--dim 32] [--rounds 3] [--share 0.2] [--queries 100]
                                       [--seeds 1] [--one-at-a-time] [--in-place] [--facade-runs 0] [--small-corpora 150]
                                       [--compact]

In an in-memory DuckDB, loads ``rows`` random vectors into a table created
with its L2 HNSW index, then replaces a ``share`` of the rows (a DELETE, then an
INSERT of the same keys with new vectors, in one transaction, or with
``--one-at-a-time`` one transaction per row as ``update_document`` writes; with
``--in-place`` an UPDATE of each row's vector instead) ``rounds`` times.  After
the load, after each round, and after dropping and building the index again,
prints the recall@10 of ``knn()`` through the index against numpy's exact top
10 of the rows stored then, one line per seed.

``--facade-runs N`` also loads ``rows`` documents through ``VectorRAG`` (an
embedder seeded by each text), builds its index, gives a ``share`` of them new
content with ``update_document()`` (each a DELETE and an INSERT of its
embedding, in one transaction), and prints the facade's recall@10 as built,
after the updates and through the index built again by ``rebuild_index()``, one line per seed.

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
import zlib
from typing import Dict, List, Sequence

import numpy as np
from sqlalchemy import Column, Integer, MetaData, Table, insert, update
from sqlalchemy.engine import Engine

import sqlalchemy_vector as sv
from sqlalchemy_vector import VectorRAG


def table(dim: int, name: str = "items") -> Table:
    return Table(name, MetaData(), Column("id", Integer, primary_key=True, autoincrement=False),
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
    how = "one row per transaction, as update_document does" if args.one_at_a_time else "in one transaction"
    if args.in_place:
        how += ", by UPDATE of the vector"
    print(f"# recall@10 of knn() through vss's HNSW index, {args.rows:,} x {args.dim} random vectors, "
          f"{args.queries} queries per cell; each round replaces {args.share:.0%} of the rows ({how})")
    print()
    rounds = " | ".join(f"after round {n + 1}" for n in range(args.rounds))
    print(f"| seed | as built | {rounds} | built again |")
    print("|---:|---:|" + "---:|" * args.rounds + "---:|")
    for seed in range(args.seeds):
        print(f"| {seed} | " + " | ".join(f"{r:.3f}" for r in churn_once(args, seed)) + " |", flush=True)


def churn_once(args: argparse.Namespace, seed: int) -> List[float]:
    """Recall@10 as built, after each round of replacements, and through the index built again."""
    rng = np.random.default_rng(seed)
    engine = sv.create_engine("duckdb:///:memory:")
    items = table(args.dim)
    index = sv.VectorIndex("ix", items.c.embedding, metric="l2")
    vectors = {i: rng.standard_normal(args.dim).astype(np.float32) for i in range(args.rows)}
    with engine.begin() as connection:
        items.create(connection)
        connection.execute(insert(items), [{"id": i, "embedding": v} for i, v in vectors.items()])
    recalls = [recall(engine, items, index, vectors, rng, args.queries)]
    for _ in range(args.rounds):
        replaced = [int(k) for k in rng.choice(sorted(vectors), size=int(args.rows * args.share), replace=False)]
        for k in replaced:
            vectors[k] = rng.standard_normal(args.dim).astype(np.float32)
        batches = [[k] for k in replaced] if args.one_at_a_time else [replaced]
        for batch in batches:
            with engine.begin() as connection:
                if args.in_place:
                    for k in batch:
                        connection.execute(update(items).where(items.c.id == k).values(embedding=vectors[k]))
                    continue
                connection.execute(items.delete().where(items.c.id.in_(batch)))
                connection.execute(insert(items), [{"id": k, "embedding": vectors[k]} for k in batch])
        recalls.append(recall(engine, items, index, vectors, rng, args.queries))
    with engine.begin() as connection:
        sv.drop_vector_index(connection, "ix")
        sv.create_vector_index(connection, index)
    recalls.append(recall(engine, items, index, vectors, rng, args.queries))
    engine.dispose()
    return recalls


class SeededEmbedder:
    """Each text's vector from a generator seeded by the text's CRC: fixed across runs, random across texts."""

    model_name = "seeded"

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(self.dimension)
                         for t in texts]).astype(np.float32)


def facade_recall(rag: VectorRAG, embedder: SeededEmbedder, content: Dict[str, str], queries: np.ndarray) -> float:
    """Recall@10 of ``query_with_embedding`` against numpy's exact top 10 of the documents' current vectors."""
    keys = list(content)
    matrix = embedder.embed([content[k] for k in keys])
    found = 0
    for q in queries:
        exact = {keys[j] for j in np.argsort(np.linalg.norm(matrix - q, axis=1))[:10]}
        rows = rag.query_with_embedding(q, top_k=10, similarity_function="euclidean")
        found += len(exact & {r["document_id"] for r in rows})
    return found / (10 * len(queries))


def facade_updates(args: argparse.Namespace) -> None:
    """Recall@10 of the facade through its index, as built, after ``update_document`` of ``share`` of the rows,
    and after ``rebuild_index``."""
    print()
    print(f"# recall@10 of the facade's query_with_embedding() through its HNSW index, {args.rows:,} documents x "
          f"{args.dim}, {args.queries} queries; {args.share:.0%} of them given new content by update_document()")
    print()
    print("| seed | as built | after the updates | built again |")
    print("|---:|---:|---:|---:|")
    embedder = SeededEmbedder(args.dim)
    for seed in range(args.facade_runs):
        rng = np.random.default_rng(seed)
        rag = VectorRAG("duckdb:///:memory:", embedder=embedder)
        texts = [f"document {seed} {i}" for i in range(args.rows)]
        ids = rag.load_documents([{"content": t} for t in texts], show_progress=False)
        content = dict(zip(ids, texts))
        rag.create_index("ix", "euclidean")
        queries = rng.standard_normal((args.queries, args.dim)).astype(np.float32)

        recalls = [facade_recall(rag, embedder, content, queries)]
        for j in rng.choice(args.rows, int(args.rows * args.share), replace=False):
            content[ids[j]] = f"{texts[j]} (new)"
            rag.update_document(ids[j], content=content[ids[j]])
        recalls.append(facade_recall(rag, embedder, content, queries))
        rag.rebuild_index("ix")
        recalls.append(facade_recall(rag, embedder, content, queries))
        rag.close()
        print(f"| {seed} | " + " | ".join(f"{r:.3f}" for r in recalls) + " |", flush=True)


def small_corpora(count: int, compact: bool) -> None:
    engine = sv.create_engine("duckdb:///:memory:")
    items = table(3)
    index = sv.VectorIndex("ix", items.c.embedding, metric="l2")
    fresh = table(3, "fresh_items")
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
    parser.add_argument("--seeds", type=int, default=1, help="corpora (seeds 0 to N-1), one line each")
    parser.add_argument("--one-at-a-time", action="store_true",
                        help="replace each row in a transaction of its own (a DELETE, then an INSERT)")
    parser.add_argument("--in-place", action="store_true",
                        help="replace a row's vector by UPDATE instead of a DELETE and an INSERT")
    parser.add_argument("--small-corpora", type=int, default=150)
    parser.add_argument("--facade-runs", type=int, default=0,
                        help="also run the facade: N seeded runs of update_document() on --share of the documents")
    parser.add_argument("--compact", action="store_true",
                        help="PRAGMA hnsw_compact_index after each step of the small corpora")
    args = parser.parse_args()
    churn(args)
    if args.facade_runs:
        facade_updates(args)
    if args.small_corpora:
        small_corpora(args.small_corpora, args.compact)


if __name__ == "__main__":
    main()
