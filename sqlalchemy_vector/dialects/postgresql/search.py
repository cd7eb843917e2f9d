"""Query-time settings of pgvector's indexes, transaction-local."""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, Optional

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from ...exc import MissingExtensionError
from ..base import engine_state


@contextlib.contextmanager
def settings(
    connection: Connection, *, ef_search: Optional[int], iterative_scan: Optional[str], probes: Optional[int]
) -> Iterator[None]:
    """``hnsw.ef_search``, ``ivfflat.probes`` and the iterative scans, as ``SET LOCAL`` for the block.

    Values are set with ``set_config(..., true)`` and the previous ones put back
    when the block exits normally; after an error the transaction is aborted
    and its rollback discards them anyway.
    """
    values: Dict[str, str] = {}
    if ef_search is not None:
        values["hnsw.ef_search"] = str(ef_search)
    if probes is not None:
        values["ivfflat.probes"] = str(probes)
    if iterative_scan is not None:
        require_pgvector(connection, (0, 8), "iterative_scan")
        values["hnsw.iterative_scan"] = iterative_scan
        values["ivfflat.iterative_scan"] = "off" if iterative_scan == "off" else "relaxed_order"
    if not values:
        yield
        return
    previous = {key: connection.execute(select(func.current_setting(key, True))).scalar() for key in values}
    for key, value in values.items():
        connection.execute(select(func.set_config(key, value, True)))
    yield
    for key, old in previous.items():
        if old is not None:
            connection.execute(select(func.set_config(key, old, True)))


def installed_version(connection: Connection) -> tuple[int, ...]:
    installed: Any = (engine_state(connection.dialect) or {}).get("pgvector")
    if installed is None:
        installed = connection.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
    return tuple(int(p) for p in str(installed or "0").split(".")[:2] if p.isdigit())


def require_pgvector(connection: Connection, version: tuple[int, int], feature: str) -> None:
    """Raise :class:`MissingExtensionError` unless the server's pgvector is at least ``version``."""
    installed = installed_version(connection)
    if installed < version:
        raise MissingExtensionError(
            f"{feature} needs pgvector {'.'.join(map(str, version))} or later, the server has "
            f"{'.'.join(map(str, installed)) if installed != (0,) else 'no pgvector'}; "
            "upgrade the extension (ALTER EXTENSION vector UPDATE)"
        )


def default_iterative_scan(connection: Connection, filtered: bool) -> Optional[str]:
    """A filtered search keeps scanning the index until it has enough rows (pgvector 0.8+)."""
    return "relaxed_order" if filtered and installed_version(connection) >= (0, 8) else None
