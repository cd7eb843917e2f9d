"""An Alembic implementation for duckdb_engine's ``duckdb`` dialect name.

duckdb_engine 0.17 ships none, and Alembic refuses a dialect it has no
implementation for.  DuckDB has transactional DDL and PostgreSQL-style
``ALTER TABLE ... ALTER COLUMN ... TYPE``, which Alembic's default
implementation emits.  Nothing is registered when another package (such as
duckdb-sqlalchemy) already provides one.  Imported by
``DuckDBBackend.prepare_migrations`` when ``sqlalchemy_vector.alembic`` loads.
"""

from __future__ import annotations

from alembic.ddl import impl as _impl

__all__ = ["DuckDBImpl"]

# Alembic keeps implementations in a registry keyed by dialect name, filled by
# class creation; only define ours where that name is still free.
if "duckdb" not in _impl._impls:

    class DuckDBImpl(_impl.DefaultImpl):
        """Alembic operations on DuckDB."""

        __dialect__ = "duckdb"
        transactional_ddl = True

else:  # pragma: no cover - depends on other installed packages
    DuckDBImpl = _impl._impls["duckdb"]  # type: ignore[misc,assignment]
