"""Races on first use (another connection's DDL, or its write lock, while the tables are created), and writers."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import Table, delete, false
from sqlalchemy.engine import URL, Connection

from ...exc import DatabaseLockedError


def is_concurrent_ddl_error(error: BaseException) -> bool:
    message = str(getattr(error, "orig", error))
    return "already exists" in message or "database is locked" in message


def lock_writers(connection: Connection, table: Table) -> None:
    # A write statement takes SQLite's one write lock (RESERVED) until the transaction ends, even one that
    # matches no row; a deferred transaction whose first statement only reads would take it later, or fail
    # with "database is locked" where it must upgrade a read lock while another connection commits.
    connection.execute(delete(table).where(false()))


def explain_error(error: BaseException, url: URL) -> Optional[Exception]:
    message = str(getattr(error, "orig", error))
    if "database is locked" not in message and "database table is locked" not in message:
        return None
    return DatabaseLockedError(
        f"the SQLite database {url.database!r} is locked: another connection (of this process or another) held its "
        "write lock longer than this one waits for it (the driver's busy timeout, 5 s unless set); retry, keep "
        "write transactions short, or wait longer: "
        "create_engine(url, connect_args={'timeout': 30})",
        error,
    )
