"""A long-running process: what the facades leave behind over many databases, facades and calls.

An application opens a facade per request or per tenant and closes it, or keeps
one and writes through it for days: nothing the library keeps may grow with
the number of databases opened or of writes made.  Each test counts objects
after many operations (never time).
"""

from __future__ import annotations

import gc
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
