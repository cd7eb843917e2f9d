"""One facade shared by threads, as a web application's worker threads share it.

Each test makes another thread's call land at the one point where it did
harm, with an engine event (``before_cursor_execute``) that runs the call to
its end before the statement it precedes: the same interleaving every run.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, List

import numpy as np
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from rag_fixtures import fresh_engine, pg_database  # noqa: F401  (fixtures)
from sqlalchemy_vector.exc import VectorIndexError
from sqlalchemy_vector.rag import VectorRAG
from tests.conftest import WITH_CLICKHOUSE

DIM = 4


def vectors(count: int, seed: int) -> List[np.ndarray]:
    return list(np.random.default_rng(seed).standard_normal((count, DIM)).astype(np.float32))


def in_another_thread(call: Callable[[], Any]) -> None:
    """Run ``call`` to its end in a thread of its own, raising what it raised."""
    failures: List[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as error:  # noqa: BLE001  (re-raised below)
            failures.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the other thread's call did not end"
    if failures:
        raise failures[0]


def before_first(engine: Engine, marker: str, call: Callable[[], Any]) -> List[str]:
    """Run ``call`` in another thread just before the first statement containing ``marker``; returns those seen."""
    seen: List[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def interleave(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if marker in statement and not seen and threading.current_thread() is threading.main_thread():
            seen.append(statement)
            in_another_thread(call)

    return seen


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_search_outlives_its_facade_dropping_the_index_under_it(fresh_engine: Engine) -> None:  # noqa: F811
    # The search read the catalog (index present), another thread's delete_index on the same facade dropped
    # the vec0 table and cleared the shared catalog, and the search's "is my index gone?" check found no
    # catalog to compare: OperationalError "no such table" reached the caller.
    rag = VectorRAG(fresh_engine, dimension=DIM)
    rag.load_documents([{"content": f"d{i}", "embedding": v} for i, v in enumerate(vectors(40, 1))], show_progress=False)
    rag.create_index("shared_ix")
    query = vectors(1, 2)[0]
    expected = [r["document_id"] for r in rag.query_with_embedding(query, top_k=5)]
    seen = before_first(rag.engine, "shared_ix", lambda: rag.delete_index("shared_ix"))
    found = [r["document_id"] for r in rag.query_with_embedding(query, top_k=5)]
    assert seen, "the search did not read the index"
    assert found == expected
    assert rag.get_statistics()["indexes"] == []
    rag.close()


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_statistics_count_one_state_of_the_tables(fresh_engine: Engine, backend: str) -> None:  # noqa: F811
    # Documents and embeddings were counted by two statements: a load committed between them gave
    # document_count 10 with embedding_count 11.
    rag = VectorRAG(fresh_engine, dimension=DIM)
    rag.load_documents([{"content": f"d{i}", "embedding": v} for i, v in enumerate(vectors(10, 3))], show_progress=False)
    writer = VectorRAG(fresh_engine, dimension=DIM)
    seen = before_first(
        rag.engine, "GROUP BY", lambda: writer.load_documents([{"content": "late", "embedding": vectors(1, 4)[0]}], show_progress=False)
    )
    stats = rag.get_statistics()
    assert seen
    assert stats["document_count"] == stats["embedding_count"] in (10, 11)
    assert sum(stats["models"].values()) == stats["embedding_count"]
    after = rag.get_statistics()
    assert (after["document_count"], after["embedding_count"]) == (11, 11)
    rag.close()
    writer.close()


@pytest.mark.parametrize("backend", ["duckdb"])
def test_an_index_change_waits_for_the_searches_under_way(fresh_engine: Engine) -> None:  # noqa: F811
    # DuckDB's vss crashed the process (segfault, or "database has been invalidated") when an HNSW index was
    # built or dropped while other threads queried; the facades of a process now hold an index change back
    # until the calls under way end, and hold new calls back until it is committed.
    rag = VectorRAG(fresh_engine, dimension=DIM)
    rag.load_documents([{"content": f"d{i}", "embedding": v} for i, v in enumerate(vectors(40, 5))], show_progress=False)
    query = vectors(1, 6)[0]
    expected = [r["document_id"] for r in rag.query_with_embedding(query, top_k=5)]
    changed = threading.Event()
    workers: List[threading.Thread] = []

    def change() -> None:
        rag.create_index("waiting_ix", duckdb_experimental_persistence=True)
        changed.set()

    @event.listens_for(rag.engine, "before_cursor_execute")
    def during_the_search(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "array_cosine_distance" in statement and not workers and threading.current_thread() is threading.main_thread():
            workers.append(threading.Thread(target=change))
            workers[0].start()
            assert not changed.wait(0.5), "the index was built while a search of the same database ran"

    found = [r["document_id"] for r in rag.query_with_embedding(query, top_k=5)]
    event.remove(rag.engine, "before_cursor_execute", during_the_search)
    assert workers, "the search did not run its ranking"
    workers[0].join(60)
    assert changed.is_set()
    assert found == expected
    assert [found["name"] for found in rag.get_statistics()["indexes"]] == ["waiting_ix"]
    rag.close()


def during_first(engine: Engine, marker: str, call: Callable[[], Any]) -> List[Any]:
    """Start ``call`` in another thread just before the first statement containing ``marker``, and give it 0.5 s.

    Returns ``[thread, failures]`` once started: the caller joins the thread.
    """
    started: List[Any] = []
    failures: List[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as error:  # noqa: BLE001  (asserted by the caller)
            failures.append(error)

    @event.listens_for(engine, "before_cursor_execute")
    def interleave(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if marker in statement and not started and threading.current_thread() is threading.main_thread():
            worker = threading.Thread(target=run)
            started.extend([worker, failures])
            worker.start()
            worker.join(0.5)

    return started


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql"])
def test_a_delete_during_an_update_of_the_same_document(fresh_engine: Engine) -> None:  # noqa: F811
    # The update had changed the document's row when another thread deleted the document: PostgreSQL
    # detected a deadlock (the update waited for the embeddings the delete had taken, the delete for
    # the document's row), DuckDB failed the delete ("Conflict on tuple deletion").  Facade writes that
    # read what they change now take the database's writers' lock first: the delete waits its turn.
    rag = VectorRAG(fresh_engine, dimension=DIM)
    kept, doomed = rag.load_documents(
        [{"content": f"d{i}", "embedding": v} for i, v in enumerate(vectors(2, 7))], show_progress=False
    )
    other = during_first(rag.engine, "DELETE FROM embeddings", lambda: rag.delete_document(doomed))
    assert rag.update_document(doomed, content="new") is True
    assert other, "the update did not replace the embeddings"
    other[0].join(60)
    assert not other[0].is_alive() and other[1] == []
    assert rag.get_document(doomed) is None
    stats = rag.get_statistics()
    assert (stats["document_count"], stats["embedding_count"]) == (1, 1)
    assert rag.get_document(kept) is not None
    rag.close()


_CREATES = {"postgresql": "CREATE INDEX shared_ix", "clickhouse": "ADD INDEX `shared_ix`"}


# SQLite's index changes take the write lock before they look (a write's BEGIN IMMEDIATE), DuckDB's wait for each other.
@pytest.mark.parametrize("backend", ["postgresql", "clickhouse"])
def test_two_create_index_of_one_name_at_once(fresh_engine: Engine, backend: str) -> None:  # noqa: F811
    # Both looked the name up and found none; the later one's DDL then failed with the driver's error
    # ("relation ... already exists", "index with this name already exists"; on SQLite "table ... already exists").
    rag = VectorRAG(fresh_engine, dimension=DIM)
    rag.load_documents([{"content": f"d{i}", "embedding": v} for i, v in enumerate(vectors(20, 8))], show_progress=False)
    seen = before_first(rag.engine, _CREATES[backend], lambda: rag.create_index("shared_ix"))
    with pytest.raises(VectorIndexError, match=r"create_index\('shared_ix'\): embeddings has a vector index named 'shared_ix' already"):
        rag.create_index("shared_ix")
    assert seen
    assert [found["name"] for found in rag.get_statistics()["indexes"]] == ["shared_ix"]
    rag.close()


@pytest.mark.parametrize("backend", ["duckdb"])
def test_two_hybrid_queries_rebuild_a_stale_fulltext_index_at_once(fresh_engine: Engine) -> None:  # noqa: F811
    # DuckDB's full-text index is rebuilt by the first hybrid query after a write: two at once both
    # rebuilt it, and the later one failed ("Catalog write-write conflict on alter with dict").  Here the
    # other one rebuilds it after this one's transaction began, before this one found it stale.
    rag = VectorRAG(fresh_engine, dimension=DIM)
    notes = [f"a note about ducks number {i}" for i in range(10)]
    rag.load_documents([{"content": n, "embedding": v} for n, v in zip(notes, vectors(10, 9))], show_progress=False)
    rag.create_fulltext_index()
    rag.load_documents([{"content": "a late note about geese", "embedding": vectors(1, 10)[0]}], show_progress=False)
    answers: List[Any] = []
    seen = before_first(
        rag.engine, '#writes".log', lambda: answers.append(rag.hybrid_query("geese", top_k=1))
    )
    found = rag.hybrid_query("geese", top_k=1)
    assert seen, "the hybrid query did not look at the index's write log"
    assert [r["content"] for r in found] == [r["content"] for r in answers[0]] == ["a late note about geese"]
    rag.close()


@pytest.mark.parametrize("backend", ["clickhouse"])  # the others drop with IF EXISTS, or take a lock first
def test_two_delete_index_of_one_name_at_once(fresh_engine: Engine) -> None:  # noqa: F811
    # Both found the index; the later one's ALTER TABLE ... DROP INDEX then failed with the driver's
    # error ("Cannot find index `shared_ix` to drop").
    rag = VectorRAG(fresh_engine, dimension=DIM)
    rag.load_documents([{"content": f"d{i}", "embedding": v} for i, v in enumerate(vectors(20, 11))], show_progress=False)
    rag.create_index("shared_ix")
    dropped: List[bool] = []
    seen = before_first(rag.engine, "DROP INDEX", lambda: dropped.append(rag.delete_index("shared_ix")))
    assert rag.delete_index("shared_ix") is True  # it was there when it looked
    assert seen and dropped == [True]
    assert rag.get_statistics()["indexes"] == []
    assert rag.delete_index("shared_ix") is False
    rag.close()
