"""The facade's searches answer alike on SQLite, DuckDB, PostgreSQL and ClickHouse: seeded random corpora.

Small vectors of a few whole and half values make many exact ties; the documents' ids are given, so ties come
back in the same key order everywhere.  Each seed draws a corpus and 30 searches (``query_with_embedding`` with
a threshold or a filter, ``find_similar_documents``, ``query_batch``, ``mmr_query``) under cosine or L2, run on the
four backends exactly and, for one metric per seed, through each backend's vector index.

What the backends may answer differently is left out by the draw, as the documentation says why: stored zero
vectors (each index has its own answer), inner products (SQLite's is computed, its ties differ in the last bits),
and writes between searches through an index (DuckDB's index misses rows after deletes; ClickHouse's answers after
deletes are compared with numpy's in test_clickhouse.py).
Distances are compared rounded to 4 decimals, and ids where their distance is below the last one returned (at the
cut, rows equal in exact arithmetic may differ in their last float bits).
"""

from __future__ import annotations

import random
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import pytest

from index_helpers import fresh_database
from sqlalchemy_vector import VectorRAG

BACKENDS = ("sqlite", "duckdb", "postgresql", "clickhouse")
VALUES = (-1.0, 0.0, 0.5, 1.0, 2.0)
QUERIES = 30

Answer = Tuple[Tuple[Tuple[str, float], ...], ...]


def corpus(rng: random.Random) -> Tuple[int, List[Dict[str, Any]]]:
    dim = rng.choice([2, 3, 4])
    documents = []
    for i in range(rng.randint(2, 24)):
        vector = [rng.choice(VALUES) for _ in range(dim)]
        if not any(vector):
            vector[rng.randrange(dim)] = 1.0  # no zero vector
        documents.append(
            {
                "document_id": f"d{i:02d}",
                "content": f"doc {i} " + rng.choice(["alpha", "beta", "gamma delta"]),
                "metadata": {"g": rng.choice([1, 2, 3]), "s": rng.choice(["x", "y"]), "f": rng.choice([0.5, 1.5, -1.0])},
                "embedding": vector,
            }
        )
    return dim, documents


def searches(rng: random.Random, dim: int, documents: List[Dict[str, Any]], metric: str | None) -> List[Callable[[VectorRAG], Any]]:
    drawn: List[Callable[[VectorRAG], Any]] = []
    for _ in range(QUERIES):
        vector = np.array([rng.choice(VALUES + (0.25,)) for _ in range(dim)], np.float32)
        if not vector.any():
            vector[0] = 1.0
        function = metric or rng.choice(["cosine", "euclidean"])
        top_k = rng.randint(1, len(documents) + 3)
        threshold = rng.choice([None, None, 0.0, 0.5, -1.0, 0.9])
        filters = rng.choice([None, {"g": 2}, {"s": "x", "g": {"$gte": 2}}, {"f": {"$lt": 1}}])
        similar_to = rng.choice(documents)["document_id"]
        kind = rng.choice(["query", "similar"] if metric else ["query", "similar", "batch", "mmr"])

        def search(rag: VectorRAG, kind: str = kind, **a: Any) -> Any:
            if kind == "query":
                return [rag.query_with_embedding(a["vector"], top_k=a["top_k"], similarity_threshold=a["threshold"],
                                                 similarity_function=a["function"], filters=a["filters"])]
            if kind == "similar":
                return [rag.find_similar_documents(a["similar_to"], top_k=a["top_k"], similarity_function=a["function"])]
            if kind == "batch":
                return rag.query_batch(["alpha", "gamma beta"], top_k=a["top_k"], similarity_function=a["function"],
                                       filters=a["filters"])
            return [rag.mmr_query("alpha", top_k=min(a["top_k"], 5), fetch_k=len(documents) + 2, lambda_mult=0.5,
                                  filters=a["filters"])]

        arguments = dict(vector=vector, function=function, top_k=top_k, threshold=threshold, filters=filters,
                         similar_to=similar_to)
        drawn.append(lambda rag, search=search, arguments=arguments: search(rag, **arguments))
    return drawn


def comparable(result_lists: Any) -> Answer:
    """Rounded distances in order; ids sorted within each distance, and only below the last distance returned."""
    out = []
    for results in result_lists:
        rows = [(r["document_id"], round(float(r["distance"]), 4)) for r in results]
        last = rows[-1][1] if rows else None
        below = sorted((d, key) for key, d in rows if d != last)
        out.append(tuple((key, d) for d, key in below) + tuple(("-", d) for _, d in rows if d == last))
    return tuple(out)


@pytest.mark.parametrize("indexed", [False, True], ids=["exact", "indexed"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_backends_answer_alike(seed: int, indexed: bool, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    rng = random.Random(seed)
    dim, documents = corpus(rng)
    metric = rng.choice(["cosine", "euclidean"]) if indexed else None
    drawn = searches(rng, dim, documents, metric)
    answers: Dict[str, List[Answer]] = {}
    with ExitStack() as stack:
        for backend in BACKENDS:
            url = stack.enter_context(fresh_database(backend, tmp_path, request))
            rag = VectorRAG(url, dimension=dim)
            stack.callback(rag.close)
            rag.load_documents(documents, show_progress=False)
            if metric is not None:
                options = {"duckdb_experimental_persistence": True} if backend == "duckdb" else {}
                rag.create_index("ix", metric, **options)
            answers[backend] = [comparable(search(rag)) for search in drawn]
    reference = answers["postgresql"]
    for backend in BACKENDS:
        differing = [i for i, (a, b) in enumerate(zip(answers[backend], reference)) if a != b]
        assert not differing, (backend, [(i, answers[backend][i], reference[i]) for i in differing[:3]])
