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

from sqlalchemy_vector.dialects.duckdb import reliability
from sqlalchemy_vector.rag import VectorRAG, locks

DIM = 4
OPENED = 12  # databases opened one after the other


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
