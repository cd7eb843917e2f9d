"""The library's exceptions cross process boundaries: pickled and unpickled, each keeps its type and message.

A worker of ``multiprocessing`` or of a ``concurrent.futures`` process pool sends the exception it raised to its
parent by pickling it; one that cannot be rebuilt there breaks the pool instead of reaching the caller.
"""

from __future__ import annotations

import inspect
import pickle
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from sqlalchemy_vector import exc

ERRORS = sorted(
    (cls for cls in vars(exc).values() if inspect.isclass(cls) and issubclass(cls, Exception) and cls.__module__ == exc.__name__),
    key=lambda cls: cls.__name__,
)


def make(cls: type) -> Exception:
    if cls is exc.DatabaseLockedError:
        return exc.DatabaseLockedError("the SQLite database 'app.db' is locked: retry", sqlite3.OperationalError("database is locked"))
    return cls(f"a {cls.__name__} message")  # type: ignore[no-any-return]


def test_every_exception_is_listed() -> None:
    assert exc.DatabaseLockedError in ERRORS and exc.InvalidVectorError in ERRORS and len(ERRORS) >= 20


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_an_exception_survives_pickling(cls: type) -> None:
    error = make(cls)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert str(copy) == str(error)


def test_a_lock_error_keeps_its_driver_error() -> None:
    copy = pickle.loads(pickle.dumps(make(exc.DatabaseLockedError)))
    assert isinstance(copy.orig, sqlite3.OperationalError) and str(copy.orig) == "database is locked"


def _load_while_locked(url: str) -> None:
    import sqlalchemy_vector as sv
    from sqlalchemy_vector.rag import VectorRAG

    engine = sv.create_engine(url, connect_args={"timeout": 0.1})
    with VectorRAG(engine, dimension=4) as rag:
        rag.load_document("written while the file is locked", document_id="second")


def test_a_lock_error_raised_in_a_worker_process_reaches_the_caller(tmp_path: Path) -> None:
    from sqlalchemy_vector.rag import VectorRAG

    path = tmp_path / "held.db"
    url = f"sqlite:///{path}"
    with VectorRAG(url, dimension=4) as rag:
        rag.load_document("first", document_id="first")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the one write lock, held until the worker gave up
    try:
        with ProcessPoolExecutor(max_workers=1) as pool:
            with pytest.raises(exc.DatabaseLockedError, match="is locked") as caught:
                pool.submit(_load_while_locked, url).result(timeout=120)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "database is locked" in str(caught.value.orig)
