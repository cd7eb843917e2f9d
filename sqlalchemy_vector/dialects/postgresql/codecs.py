"""How vectors travel on each PostgreSQL driver.

- psycopg 3: pgvector's binary format through a private dumper (``__init__``).
- asyncpg: pgvector-python's binary codecs (``pgvector.asyncpg.register_vector``),
  registered on each connection of a prepared engine: measured (``bench/pg_codecs.py``)
  faster than the text form for binding, one value or many.
- psycopg2, pg8000: the text form written by orjson.  pgvector-python's adapters
  for them are text too, and slower (``str()`` of each widened float).

Results of ``vector`` columns come back as ``vector_send`` bytes on every driver;
the result processors also take the text form and pgvector-python's objects, for
rows selected without that wrapper.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..base import engine_state, text_to_vector

#: Engine-state key: the engine's connections have pgvector-python's asyncpg codecs.
ASYNCPG_CODECS = "asyncpg_codecs"

def uses_asyncpg_codecs(dialect: Any) -> bool:
    state = engine_state(dialect)
    return bool(state and state.get(ASYNCPG_CODECS))


def register_asyncpg(dbapi_connection: Any, schema: str) -> None:
    """Give one asyncpg connection pgvector-python's binary codecs (vector, halfvec, sparsevec) of ``schema``.

    Runs in the ``connect`` event, inside SQLAlchemy's greenlet, where
    ``await_only`` awaits the coroutine; ``schema`` is the extension's, found
    once per engine when it was prepared.
    """
    try:
        from pgvector.asyncpg import register_vector
    except ImportError as err:
        from ...exc import MissingDependencyError

        raise MissingDependencyError(
            "vectors on asyncpg travel through pgvector-python's binary codecs, and the pgvector package is not "
            "installed; pip install 'sqlalchemy-vector[postgresql]' (or pip install pgvector)"
        ) from err
    from sqlalchemy.util import await_only

    raw = dbapi_connection.driver_connection
    await_only(register_vector(raw, schema=schema))


def vector_result(value: Any) -> npt.NDArray[np.float32]:
    """A float32 array from any form a ``vector`` value arrives in."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        # vector_send: int16 dim, int16 unused, dim big-endian float32
        return np.frombuffer(value, dtype=">f4", offset=4).astype(np.float32)
    if isinstance(value, str):
        return text_to_vector(value)
    if isinstance(value, np.ndarray):
        return value.astype(np.float32, copy=False)
    return np.asarray(value.to_numpy(), dtype=np.float32)  # pgvector.Vector
