"""The page size of SQLite databases created through prepared engines.

An embedding row (a 384-d float32 vector is a 1,536-byte BLOB) fills much of a
4 kB page, SQLite's default: two rows fit, and the rest of the page is left
empty.  Engines sqlalchemy_vector prepares ask for 16 kB pages on each
connection; SQLite applies the setting when it creates a database file and
ignores it on an existing one (``VACUUM`` rewrites a file with it).  Measured
by ``bench/storage_defaults.py`` at 100,000 x 384: the facade's exact top 5
took 92.8 ms against 134.8 ms with 4 kB pages, its vec0 top 5 54.9 ms against
68.6 ms, and the file 337 MB against 376 MB; ``update_document`` cost the same.
"""

from __future__ import annotations

from typing import Any

#: Bytes per page of new databases (SQLite's default is 4,096).
PAGE_SIZE = 16384


def set_page_size(dbapi_connection: Any) -> None:
    """Ask for :data:`PAGE_SIZE`-byte pages: used if the database is new, a no-op otherwise."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    finally:
        cursor.close()
