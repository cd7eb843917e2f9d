"""Races on first use (concurrent DDL and a concurrent ``CREATE EXTENSION``), and writers that must not overlap."""

from __future__ import annotations

import hashlib
from typing import Any, Optional

from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection

# unique_violation (two CREATE TABLEs racing on pg_type), duplicate_table, duplicate_object.
_CONCURRENT_DDL_STATES = frozenset({"23505", "42P07", "42710"})


def sqlstate(error: BaseException) -> Optional[str]:
    """The SQLSTATE of a driver error (psycopg 3, psycopg2 and asyncpg spell it differently)."""
    original: Any = getattr(error, "orig", error)
    for attribute in ("sqlstate", "pgcode"):
        value = getattr(original, attribute, None)
        if isinstance(value, str):
            return value
    return None


def is_concurrent_ddl_error(error: BaseException) -> bool:
    return sqlstate(error) in _CONCURRENT_DDL_STATES


def lock_writers(connection: Connection, table: Table) -> None:
    # A transaction-scoped advisory lock, keyed by the table: released at COMMIT or ROLLBACK, and a
    # READ COMMITTED statement after it sees what the previous holder committed.
    name = f"sqlalchemy_vector writers {table.schema or ''}.{table.name}".encode()
    key = int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "big", signed=True)
    connection.execute(select(func.pg_advisory_xact_lock(key)))
