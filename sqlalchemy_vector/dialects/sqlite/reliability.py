"""Races on first use (another connection's DDL, or its write lock, while the tables are created), and writers."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import Table, delete, false
from sqlalchemy.engine import URL, Connection

from ...exc import DatabaseLockedError


def is_concurrent_ddl_error(error: BaseException) -> bool:
    message = str(getattr(error, "orig", error))
    return "already exists" in message or "database is locked" in message


def begin_write(connection: Connection) -> bool:
    """``BEGIN IMMEDIATE`` where the driver has not begun a transaction yet; False where it has (nothing done).

    The driver begins deferred (pysqlite's ``BEGIN`` before a write).  A statement SQLite prepares again (after DDL
    of this connection or another) reads the configuration of a full-text or vec0 table its triggers write, before
    it writes: the transaction then holds a read lock to upgrade, and SQLite refuses the upgrade at once, without
    the busy timeout, while another connection holds the write lock ("database is locked" after 0 s).  Begun
    immediate, the transaction takes the write lock first, waiting for it up to the busy timeout.
    """
    driver = connection.connection.driver_connection
    begun = getattr(driver, "in_transaction", None)  # sqlite3, sqlean, aiosqlite's proxy
    if begun is None or begun or getattr(driver, "autocommit", None) is False:
        return False  # in a transaction already (Python 3.12's autocommit=False always is), or no way to tell
    connection.exec_driver_sql("BEGIN IMMEDIATE")
    return True


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
