"""Races on first use, the one-writer-process rule of DuckDB files, writers of a database in one process, and
connections opened while another thread closes the database."""

from __future__ import annotations

import os
import re
import threading
import time
import weakref
from typing import Any, Dict, Optional

from sqlalchemy import Table, event
from sqlalchemy.engine import URL, Connection, Engine

from ...exc import DatabaseLockedError, SharedConnectionError


def is_concurrent_ddl_error(error: BaseException) -> bool:
    # Two connections of one process creating the same table: a catalog
    # write-write conflict (DuckDB 1.5), or "already exists" once the other committed.
    message = str(getattr(error, "orig", error))
    return "write-write conflict" in message or "already exists" in message


def explain_error(error: BaseException, url: URL) -> Optional[Exception]:
    message = str(getattr(error, "orig", error))
    if "cannot start a transaction within a transaction" in message:
        # Begun on a connection another caller has in a transaction: only where the pool shares one (in memory).
        return SharedConnectionError.of(url, "one connection per thread")
    if "Could not set lock on file" not in message:
        return None
    holder = re.search(r"\(PID (\d+)\)", message)
    who = f"process {holder.group(1)}" if holder else "another process"
    return DatabaseLockedError(
        f"the DuckDB database {url.database!r} is held by {who}: DuckDB lets one process open a file for writing "
        "(several may open it only if all are read-only); close it there, or have one process own the database "
        "and serve the others, or use PostgreSQL for several writing processes",
        error,
    )


def transaction_open(driver_connection: Any) -> bool:
    """Whether the connection is in a transaction its wrapper began.

    DuckDB's client does not say, and a BEGIN inside a transaction aborts it: duckdb-sqlalchemy's connection
    wrapper counts the statements of the transaction it began (None outside one).  duckdb_engine's says
    nothing; there the facade's own BEGIN is refused, which :func:`explain_error` names.
    """
    return getattr(driver_connection, "_transaction_statements", None) is not None


# -- opening a database another thread is closing --------------------------------------------------

# DuckDB's Python client shares one database instance between the connections of a process to a file, and shuts
# it down with the last of them: a connection opened while another thread closes that last one fails with this
# error (5 of 600 open/close pairs of two threads, DuckDB 1.5.5), where a moment later it succeeds.
_CLOSING = "Unique file handle conflict"
#: Attempts at a connection that meets a database being closed, and the pause before the first retry (doubled each time).
CONNECT_ATTEMPTS = 8
CONNECT_PAUSE = 0.005


def retry_connects_during_close(engine: Engine) -> None:
    """Open the engine's connections again, briefly, when they meet the database being closed by another thread."""

    @event.listens_for(engine, "do_connect")
    def connect(dialect: Any, connection_record: Any, cargs: Any, cparams: Dict[str, Any]) -> Any:
        # The first do_connect listener returning a connection ends SQLAlchemy's loop: the application's own
        # listeners, registered after this one, are run here (each attempt), as SQLAlchemy would run them.
        listeners = list(dialect.dispatch.do_connect)
        later = listeners[listeners.index(connect) + 1 :] if connect in listeners else []

        def attempt() -> Any:
            # The dialect's connect takes its options out of the dict it is given: each attempt gets a copy.
            given = {k: dict(v) if isinstance(v, dict) else v for k, v in cparams.items()}
            for listener in later:
                made = listener(dialect, connection_record, cargs, given)
                if made is not None:
                    return made
            return dialect.connect(*cargs, **given)

        pause = CONNECT_PAUSE
        for _ in range(CONNECT_ATTEMPTS - 1):
            try:
                return attempt()
            except Exception as error:  # noqa: BLE001 - the driver's error class, re-raised unless it is this race
                if _CLOSING not in str(error):
                    raise
            time.sleep(pause)
            pause *= 2
        return attempt()  # the last: its error, whatever it is, is the caller's


# -- writers of one database in this process -------------------------------------------------------

# DuckDB has no lock a writer waits for (its optimistic concurrency fails the second of two transactions that write
# the same rows, at commit), and lets one process write a file: writers of a database wait for each other on a lock
# of this process, held by a transaction until it has ended.  SQLAlchemy's commit and rollback events come before
# the driver's call, so the lock is let go after it: when the connection goes back to the pool (or is closed) or
# begins its next transaction.

#: The key, in a pooled connection's ``info``, of the claim its transaction holds.
_HELD = "sqlalchemy_vector.duckdb.writers"
_GUARD = threading.Lock()


class _Writers:
    """The writers' lock of one database, and the claim that holds it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.claim: Optional[_Claim] = None


# Held weakly: a database's lives while a transaction holds or waits for its lock, so a process writing ever new
# databases (one per tenant, per job) keeps none of those it has stopped writing.
_WRITERS: "weakref.WeakValueDictionary[str, _Writers]" = weakref.WeakValueDictionary()


class _Claim:
    """One transaction's hold on a database's writers' lock."""

    def __init__(self, writers: _Writers) -> None:
        self.writers = writers
        self.thread = threading.get_ident()
        self.ended = False  # committed or rolled back (the driver's call may still be under way)
        self.released = False

    def release(self) -> None:
        with _GUARD:
            if self.released:
                return
            self.released = True
            if self.writers.claim is self:
                self.writers.claim = None
        self.writers.lock.release()


def database_key(url: URL) -> Optional[str]:
    """What names ``url``'s database in this process, or ``None`` for a private in-memory one."""
    database = url.database
    if not database or database == ":memory:":
        return None  # each connection has its own: no other writes it
    if database.startswith(":memory:"):
        return database  # a named in-memory database, shared by the connections of this process that name it
    return os.path.realpath(database)


def lock_writers(connection: Connection, table: Table) -> None:
    key = database_key(connection.engine.url)
    if key is None:
        return
    watch_writers(connection.engine)
    if not connection.in_transaction():
        connection.begin()  # as the first statement would: the lock belongs to a transaction
    held = connection.info.get(_HELD)
    if held is not None and not held.released:
        return  # this transaction holds it
    with _GUARD:
        writers = _WRITERS.setdefault(key, _Writers())
        current = writers.claim
    if current is not None and current.thread == threading.get_ident():
        if not current.ended:
            raise DatabaseLockedError(_waits_for_itself(key), RuntimeError("writers' lock held by this thread"))
        current.release()  # this thread ended that transaction: the driver's commit or rollback has returned
    claim = _Claim(writers)
    writers.lock.acquire()
    try:
        with _GUARD:
            writers.claim = claim
        connection.info[_HELD] = claim
    except BaseException:  # interrupted before the connection recorded it: nothing else would let it go
        claim.release()
        raise


def _waits_for_itself(key: str) -> str:
    return (
        f"the DuckDB database {key!r}: a writer of this thread waits for the writers' lock, which a transaction of "
        "this same thread on another connection holds (expected: no transaction of this thread holding it); it "
        "would wait for itself forever: commit or roll back that transaction first, or write in it"
    )


def watch_writers(engine: Engine) -> None:
    """Let go of a transaction's writers' lock once the transaction has ended (idempotent)."""
    with _GUARD:
        if event.contains(engine, "checkin", _release_at_checkin):
            return
        event.listen(engine, "begin", _release_at_begin)
        event.listen(engine, "commit", _ended)
        event.listen(engine, "rollback", _ended)
        event.listen(engine, "checkin", _release_at_checkin)
        event.listen(engine, "close", _release_at_checkin)


def _ended(connection: Connection) -> None:
    if connection.invalidated or connection.closed:
        return  # let go of when the pool closes it
    held = connection.info.get(_HELD)
    if held is not None:
        held.ended = True


def _release_at_begin(connection: Connection) -> None:
    # The connection's previous transaction has ended, and the driver's commit or rollback returned.
    if connection.invalidated or connection.closed:
        return
    held = connection.info.pop(_HELD, None)
    if held is not None:
        held.release()


def _release_at_checkin(dbapi_connection: Any, connection_record: Any) -> None:
    # Back in the pool (after the pool's rollback), or closed: the transaction is over.
    held = connection_record.info.pop(_HELD, None)
    if held is not None:
        held.release()
