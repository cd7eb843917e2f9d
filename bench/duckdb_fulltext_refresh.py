"""DuckDB hybrid queries: the cost of knowing whether the fts index is stale, scan against write counter.

DuckDB's fts index is a snapshot, so something must tell a query whether rows
changed since the index was built.  ``refresh_fulltext_index(scan=True)``
hashes every key and text of the table and compares; the RAG facade instead
logs its own writes beside the index (``scan=False``: reads the log's length, whatever the table's size).
This script loads N passages into a DuckDB file through ``VectorRAG`` with the
lexical embedder and times, interleaved in one run:

- the staleness check alone, with and without the scan (index up to date);
- a whole ``hybrid_query`` (top 10) with the facade's check, and the same
  query preceded by a scanning check (what ``hybrid_query`` did before).

Medians over the repetitions, in milliseconds.
Run: ``.venv/bin/python bench/duckdb_fulltext_refresh.py [--rows 20000] [--repeat 30]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

WORDS = (
    "vector index search query table column backend distance cosine embedding model passage document text token "
    "cluster centre recall latency batch commit schema migration engine session driver python database file"
).split()


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one
    import sqlalchemy_vector as sv
    from sqlalchemy_vector.fulltext import FullTextSpec, list_fulltext_indexes, refresh_fulltext_index

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    passages = [
        {"content": " ".join(WORDS[(i * 7 + j * 13) % len(WORDS)] for j in range(40)) + f" item{i}"}
        for i in range(args.rows)
    ]
    questions = [f"{WORDS[i % len(WORDS)]} {WORDS[(i * 5) % len(WORDS)]} item{i * 37}" for i in range(args.repeat)]
    with tempfile.TemporaryDirectory() as tmp:
        rag = sv.VectorRAG(f"duckdb:///{tmp}/bench.duckdb")
        rag.load_documents(passages, show_progress=False)
        rag.create_fulltext_index()
        table = rag.document_model.__table__
        with rag.engine.connect() as connection:
            found = list_fulltext_indexes(connection, table)[0]
        spec = FullTextSpec(found["name"], table, table.c[found["column"]], found["language"])
        rag.hybrid_query(questions[0], top_k=10)  # warm up

        def check(scan: bool) -> Callable[[], object]:
            def run() -> object:
                with rag.engine.begin() as connection:
                    return refresh_fulltext_index(connection, spec, scan=scan)

            return run

        def query(scan_first: bool) -> Callable[[], object]:
            position = iter(range(10**9))

            def run() -> object:
                if scan_first:
                    check(True)()
                return rag.hybrid_query(questions[next(position) % len(questions)], top_k=10)

            return run

        variants: Dict[str, Callable[[], object]] = {
            "staleness check, scan (before)": check(True),
            "staleness check, write log (now)": check(False),
            "hybrid_query with a scan first (before)": query(True),
            "hybrid_query, write log (now)": query(False),
        }
        times: Dict[str, List[float]] = {name: [] for name in variants}
        for _ in range(args.repeat):
            for name, run in variants.items():  # interleaved, so load changes hit every variant alike
                start = time.perf_counter()
                run()
                times[name].append((time.perf_counter() - start) * 1000)
        rag.close()
    print(f"DuckDB, {args.rows} passages, {args.repeat} repetitions, median ms")
    print()
    print("| what | median ms |")
    print("|---|---:|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} |")


if __name__ == "__main__":
    main()
