"""Alembic's implementation for the ``duckdb`` dialect name.

duckdb-sqlalchemy ships one (its module registers it when imported, which
the dialect itself does only once Alembic is imported before its first
connection): import it here so it is the one in use whatever the order.
duckdb_engine 0.17 ships none, and Alembic refuses a dialect it has no
implementation for: define a plain one.  DuckDB has transactional DDL and
PostgreSQL-style ``ALTER TABLE ... ALTER COLUMN ... TYPE``, which Alembic's
default implementation emits.  Imported by
``DuckDBBackend.prepare_migrations`` when ``sqlalchemy_vector.alembic`` loads.
"""

from __future__ import annotations

import importlib

from alembic.ddl import impl as _impl
from sqlalchemy.exc import NoSuchModuleError

from .dialects import traits_of

__all__ = ["DuckDBImpl"]

try:
    _own = traits_of().alembic_impl
except NoSuchModuleError:  # no DuckDB dialect installed: nothing will migrate DuckDB
    _own = None
if _own is not None:
    importlib.import_module(_own)

# Alembic keeps implementations in a registry keyed by dialect name, filled by
# class creation; only define ours where that name is still free.
if "duckdb" not in _impl._impls:

    class DuckDBImpl(_impl.DefaultImpl):
        """Alembic operations on DuckDB."""

        __dialect__ = "duckdb"
        transactional_ddl = True

else:  # pragma: no cover - depends on the installed dialect
    DuckDBImpl = _impl._impls["duckdb"]  # type: ignore[misc,assignment]
