"""Races on first use: concurrent DDL and a concurrent ``CREATE EXTENSION``."""

from __future__ import annotations

from typing import Any, Optional

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
