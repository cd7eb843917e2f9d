"""How PostgreSQL stores the vector columns of tables created here: ``STORAGE MAIN``.

pgvector declares its ``vector`` type ``EXTERNAL``: once a row passes about
2 kB (a vector of more than about 500 dimensions), PostgreSQL moves the vector
out of the row into the table's TOAST table, and every exact scan then fetches
each vector back through the TOAST index.  ``MAIN`` keeps the vector in the
row while the row fits on a page (up to about 2,000 dimensions) and moves it
out only when it does not fit; the vectors do not compress, so they are stored
as they are either way.  Measured on PostgreSQL 18 + pgvector 0.8.6 by
``bench/storage_defaults.py`` at 50,000 x 768 through the facade: an exact
top 5 took 60.0 ms with ``MAIN`` against 182.5 ms with ``EXTERNAL``.

``CREATE TABLE`` declares ``STORAGE MAIN`` on vector columns when the server
is PostgreSQL 16 or newer (the first to accept ``STORAGE`` in a column
definition) and its version is known, that is on an engine that has
connected; offline DDL and older servers keep pgvector's default, which
``ALTER TABLE t ALTER COLUMN c SET STORAGE MAIN`` changes for rows written
afterwards.  Only the PostgreSQL backend does this, not the engines derived
from it (CockroachDB, YugabyteDB have their own storage).
"""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn

from ..base import column_head, find_backend

#: The first PostgreSQL that accepts ``STORAGE`` in a column definition.
FIRST_SERVER = (16,)


@compiles(CreateColumn, "postgresql")
def _create_column(element: Any, compiler: Any, **kw: Any) -> Optional[str]:
    text: Optional[str] = compiler.visit_create_column(element, **kw)
    column = element.element
    if text is None or not _stored_main(column, compiler.dialect):
        return text
    # STORAGE follows the data type, before the constraints (NOT NULL, DEFAULT, ...).
    head = " ".join(column_head(compiler, column))
    return f"{head} STORAGE MAIN{text[len(head):]}" if text.startswith(head) else text


def _stored_main(column: Any, dialect: Any) -> bool:
    from ...types import Vector

    version = getattr(dialect, "server_version_info", None)
    if not isinstance(column.type, Vector) or version is None or tuple(version[:1]) < FIRST_SERVER:
        return False
    backend = find_backend(dialect)
    return backend is not None and backend.name == "postgresql"
