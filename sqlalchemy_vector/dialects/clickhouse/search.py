"""Query-time settings of ClickHouse's vector-similarity index."""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

from sqlalchemy import text
from sqlalchemy.engine import Connection


@contextlib.contextmanager
def settings(connection: Connection, *, ef_search: Optional[int]) -> Iterator[None]:
    """``hnsw_candidate_list_size_for_search`` (HNSW's ef_search) for the block, put back on exit.

    The index has no iterative scan or probes: those are ignored.
    """
    if ef_search is None:
        yield
        return
    previous = int(connection.execute(text("SELECT getSetting('hnsw_candidate_list_size_for_search')")).scalar_one())
    connection.exec_driver_sql(f"SET hnsw_candidate_list_size_for_search = {int(ef_search)}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"SET hnsw_candidate_list_size_for_search = {previous}")
