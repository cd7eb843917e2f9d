"""Races on first use (another connection's DDL, or its write lock, while the tables are created), and writers."""

from __future__ import annotations

from sqlalchemy import Table, delete, false
from sqlalchemy.engine import Connection


def is_concurrent_ddl_error(error: BaseException) -> bool:
    message = str(getattr(error, "orig", error))
    return "already exists" in message or "database is locked" in message


def lock_writers(connection: Connection, table: Table) -> None:
    # A write statement takes SQLite's one write lock (RESERVED) until the transaction ends, even one that
    # matches no row; a deferred transaction whose first statement only reads would take it later, or fail
    # with "database is locked" where it must upgrade a read lock while another connection commits.
    connection.execute(delete(table).where(false()))
