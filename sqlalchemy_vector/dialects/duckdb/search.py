"""Query-time settings of the vss extension's HNSW index."""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

from sqlalchemy import text
from sqlalchemy.engine import Connection


@contextlib.contextmanager
def settings(
    connection: Connection, *, ef_search: Optional[int], iterative_scan: Optional[str], probes: Optional[int]
) -> Iterator[None]:
    """``hnsw_ef_search`` for the block, per connection, put back on exit.

    vss has no iterative scan or probes: those are ignored.
    """
    if ef_search is None:
        yield
        return
    # current_setting() raises for a never-set extension option (DuckDB 1.5.5);
    # duckdb_settings() has the row as soon as vss is loaded.
    current = connection.execute(text("SELECT value FROM duckdb_settings() WHERE name = 'hnsw_ef_search'")).all()
    if not current:  # vss not loaded: there is no HNSW index to tune
        yield
        return
    # Never set: NULL on DuckDB 1.5; on 1.3 an empty string, and the text 'NULL' after a RESET.
    previous = current[0][0]
    connection.execute(text("SET hnsw_ef_search = :value"), {"value": ef_search})
    try:
        yield
    finally:
        if previous in (None, "", "NULL"):
            connection.execute(text("RESET hnsw_ef_search"))
        else:
            connection.execute(text("SET hnsw_ef_search = :value"), {"value": int(previous)})
