"""Races on first use: another connection's DDL, or its write lock, while the tables are created."""

from __future__ import annotations


def is_concurrent_ddl_error(error: BaseException) -> bool:
    message = str(getattr(error, "orig", error))
    return "already exists" in message or "database is locked" in message
