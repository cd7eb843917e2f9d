"""Races on first use, and the one-writer-process rule of DuckDB files."""

from __future__ import annotations

import re
from typing import Optional

from sqlalchemy.engine import URL

from ...exc import DatabaseLockedError


def is_concurrent_ddl_error(error: BaseException) -> bool:
    # Two connections of one process creating the same table: a catalog
    # write-write conflict (DuckDB 1.5), or "already exists" once the other committed.
    message = str(getattr(error, "orig", error))
    return "write-write conflict" in message or "already exists" in message


def explain_error(error: BaseException, url: URL) -> Optional[Exception]:
    message = str(getattr(error, "orig", error))
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
