"""A long-running process: what the facades leave behind over many databases, facades and calls.

An application opens a facade per request or per tenant and closes it, or keeps
one and writes through it for days: nothing the library keeps may grow with
the number of databases opened or of writes made.  Each test counts objects
after many operations (never time).
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from rag_fixtures import fresh_engine, pg_database  # noqa: F401  (fixtures)
from sqlalchemy_vector.dialects.duckdb import reliability
from sqlalchemy_vector.rag import VectorRAG, locks
from tests.conftest import WITH_CLICKHOUSE

DIM = 4
OPENED = 12  # databases opened one after the other
WRITES = 20  # write cycles of one facade


def registries() -> Dict[str, int]:
    """The sizes of the process-wide registries keyed by database."""
    return {
        "setup locks": len(locks._SETUP_LOCKS),
        "index locks": len(locks._INDEX_LOCKS),
        "DuckDB writers": len(reliability._WRITERS),
    }


@pytest.mark.parametrize("backend", ["sqlite", "duckdb"])
def test_facades_of_many_databases_leave_no_lock_behind(backend: str, tmp_path: Path) -> None:
    """A facade per tenant database, opened, written (insert, update, delete) and closed: the locks go with it."""
    gc.collect()
    before = registries()
    suffix = {"sqlite": "db", "duckdb": "duckdb"}[backend]
    for tenant in range(OPENED):
        with VectorRAG(f"{backend}:///{tmp_path / f'tenant{tenant}.{suffix}'}", dimension=DIM) as rag:
            [document_id] = rag.load_documents([{"content": "a", "embedding": np.ones(DIM, np.float32)}], show_progress=False)
            rag.update_document(document_id, metadata={"tenant": tenant})
            rag.delete_documents(ids=[document_id])
            assert rag.query_with_embedding(np.ones(DIM, np.float32)) == []
        del rag
    gc.collect()
    after = registries()
    assert after == before, f"registries grew with the {OPENED} databases opened and closed: {before} -> {after}"


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_writes_leave_the_engines_statement_cache_as_it_was(fresh_engine: Engine) -> None:  # noqa: F811
    """Loads, updates and deletes through one facade, again and again: no statement cached per write.

    SQLAlchemy's statement cache holds 500 to 750 statements; statements made
    new by each write (a name of their own) filled it, pushing out those run
    again (the application's, on a shared engine) and holding about 13 KB each.
    """
    rag = VectorRAG(fresh_engine, dimension=DIM)

    def cycle(step: int) -> None:
        [document_id] = rag.load_documents(
            [{"content": f"text {step}", "embedding": np.full(DIM, step + 1, np.float32)}], show_progress=False
        )
        rag.update_document(document_id, content=f"new text {step}", metadata={"step": step})
        rag.query_with_embedding(np.ones(DIM, np.float32), top_k=2)
        rag.delete_documents(ids=[document_id])

    cache = fresh_engine._compiled_cache
    for step in range(3):  # every statement of a cycle, cached once
        cycle(step)
    before = len(cache) if cache is not None else 0
    for step in range(3, 3 + WRITES):
        cycle(step)
    after = len(cache) if cache is not None else 0
    assert after == before, f"{WRITES} write cycles added {after - before} statements to the engine's cache"


def listener_counts(engine: Engine) -> Dict[str, int]:
    """The event listeners on an engine and its pool, per event."""
    names = ("connect", "first_connect", "checkout", "checkin", "close", "begin", "commit", "rollback",
             "before_cursor_execute", "after_cursor_execute", "handle_error", "engine_connect")
    return {
        f"{owner}.{name}": len(getattr(dispatch, name, ()))
        for owner, dispatch in (("engine", engine.dispatch), ("pool", engine.pool.dispatch))
        for name in names
    }


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_facades_on_a_shared_engine_leave_it_as_they_found_it(fresh_engine: Engine) -> None:  # noqa: F811
    """A facade per request on the application's engine: no listener, connection or facade stays behind."""
    VectorRAG(fresh_engine, dimension=DIM).close()  # the engine's own set-up, once
    before = listener_counts(fresh_engine)
    for request in range(OPENED):
        with VectorRAG(fresh_engine, dimension=DIM) as rag:
            rag.load_documents([{"content": f"request {request}", "embedding": np.ones(DIM, np.float32)}], show_progress=False)
            rag.query_with_embedding(np.ones(DIM, np.float32), top_k=2)
        del rag
    gc.collect()
    assert listener_counts(fresh_engine) == before
    assert fresh_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    # (type(), not isinstance(): that asks some objects of other libraries for __class__, which warns)
    assert not [o for o in gc.get_objects() if issubclass(type(o), VectorRAG)]


def test_models_made_per_facade_are_collectable(tmp_path: Path) -> None:
    """Classes from make_models() used by a facade, then dropped: nothing of the library's keeps them.

    (SQLAlchemy's statement cache keeps the statements compiled for them until it evicts them: bounded.)
    """
    from sqlalchemy_vector import create_engine
    from sqlalchemy_vector.orm import make_models

    engine = create_engine(f"sqlite:///{tmp_path / 'models.db'}")
    try:
        gone = []
        for _ in range(3):
            document, embedding = make_models(DIM)
            document.metadata.create_all(engine)
            with VectorRAG(engine, document_model=document, embedding_model=embedding) as rag:
                rag.load_documents([{"content": "a", "embedding": np.ones(DIM, np.float32)}], show_progress=False)
                rag.query_with_embedding(np.ones(DIM, np.float32), top_k=1)
            gone.append(weakref.ref(document))
            del rag, document, embedding
        if engine._compiled_cache is not None:
            engine._compiled_cache.clear()
        gc.collect()
        assert [ref() for ref in gone] == [None, None, None]
    finally:
        engine.dispose()
