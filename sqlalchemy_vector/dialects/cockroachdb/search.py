"""CockroachDB's query-time vector search setting, for a block."""

from __future__ import annotations

import contextlib
from typing import Iterator, List, Optional

from sqlalchemy.engine import Connection

from ...exc import InvalidArgumentError


def statements(*, ef_search: Optional[int], iterative_scan: Optional[str], probes: Optional[int]) -> List[str]:
    """``SET LOCAL vector_search_beam_size`` from ``probes``; HNSW's and pgvector's settings are refused."""
    if ef_search is not None or iterative_scan not in (None, "off"):
        given = "ef_search" if ef_search is not None else "iterative_scan"
        raise InvalidArgumentError(
            f"{given} is a setting of HNSW indexes; CockroachDB's vector index is a partition tree tuned by "
            "vector_search_beam_size (partitions explored per level, default 32): pass probes=<beam size> instead"
        )
    return [] if probes is None else [f"SET LOCAL vector_search_beam_size = {int(probes)}"]


@contextlib.contextmanager
def settings(
    connection: Connection, *, ef_search: Optional[int], iterative_scan: Optional[str], probes: Optional[int]
) -> Iterator[None]:
    """The beam size for the rest of the transaction (``SET LOCAL``), as pgvector's settings are."""
    for statement in statements(ef_search=ef_search, iterative_scan=iterative_scan, probes=probes):
        connection.exec_driver_sql(statement)
    yield
