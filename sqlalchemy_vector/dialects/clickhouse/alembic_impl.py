"""Alembic's ``add_column`` / ``drop_column`` of vector columns on ClickHouse.

clickhouse-connect ships the Alembic implementation for ``clickhousedb``
(``ClickHouseImpl``, 1.12).  Importing :mod:`sqlalchemy_vector.alembic`
registers this subclass in its place; it differs only for ``Vector`` columns,
every other column is migrated by clickhouse-connect's code as before:

- ``op.add_column`` of a ``Vector(n)`` column adds its ``CHECK length(col) = n``
  constraint in the same ``ALTER TABLE``, as ``CREATE TABLE`` does.  The rows
  already in the table would get ``[]`` (an ``Array`` holds no NULL), which reads
  back as a vector of length 0: online, a table with rows is refused.  Offline
  (``--sql``) nothing can be counted; the DDL is emitted as it is.
- ``op.drop_column`` of a column with a length constraint drops the constraint in
  the same statement (ClickHouse refuses to drop a column a constraint reads).
  Offline, where the table cannot be read and ``op.drop_column`` names no type,
  every dropped column's statement also drops ``IF EXISTS`` the constraint a vector
  column of that name would have (``<column>_dimension``).
"""

from __future__ import annotations

from typing import Any, Optional

from clickhouse_connect.cc_sqlalchemy.alembic.impl import ClickHouseImpl
from clickhouse_connect.cc_sqlalchemy.sql import full_table
from clickhouse_connect.cc_sqlalchemy.sql.ddlcompiler import ClickHouseDDLHelper, column_specification
from clickhouse_connect.driver.binding import quote_identifier
from sqlalchemy import Column, text
from sqlalchemy.engine import Connection

from ...exc import UnsupportedDialectError
from ...types import Vector
from ..base import engine_state, set_engine_state
from .ddl import length_constraint, length_constraint_name, with_vector_codec
from .index import length_checks

__all__ = ["VectorClickHouseImpl"]


class VectorClickHouseImpl(ClickHouseImpl):  # type: ignore[misc]
    """clickhouse-connect's Alembic implementation, with vector columns' length constraints."""

    __dialect__ = "clickhousedb"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.as_sql and engine_state(self.dialect) is None:
            # Offline (--sql) Alembic makes a dialect of its own from the URL, which no engine prepared:
            # prepared, its CREATE TABLE gets the default MergeTree and the length constraints as online.
            set_engine_state(self.dialect, clickhouse=True, chdb=False)

    def add_column(
        self,
        table_name: str,
        column: Column[Any],
        *,
        schema: Optional[str] = None,
        if_not_exists: Optional[bool] = None,
        **kw: Any,
    ) -> None:
        if not isinstance(column.type, Vector) or getattr(column, "index", False):
            super().add_column(table_name, column, schema=schema, if_not_exists=if_not_exists, **kw)
            return
        dim = int(column.type.dim)
        if not self.as_sql:
            self._refuse_rows(table_name, column.name, dim, schema)
        exists = " IF NOT EXISTS" if if_not_exists else ""
        spec = with_vector_codec(column_specification(self.dialect, column), column)
        sql = f"ALTER TABLE {full_table(table_name, schema)} ADD COLUMN{exists} {spec}"
        after = kw.get("after") or ClickHouseDDLHelper.get_option(column, "after")
        if after:
            sql += f" AFTER {quote_identifier(after)}"
        sql += f", ADD {length_constraint(column.name, dim, quote_identifier, if_not_exists=bool(if_not_exists))}"
        self._alter(sql, kw)

    def _alter(self, sql: str, kw: Any) -> None:
        """Run an ``ALTER TABLE`` with the ``clickhouse_settings`` the operation was given."""
        settings = ClickHouseDDLHelper.render_settings(kw.get("clickhouse_settings"))
        self._exec(text(f"{sql} SETTINGS {settings}" if settings else sql))

    def _online(self) -> Connection:
        assert self.connection is not None  # not as_sql
        return self.connection  # type: ignore[no-any-return]

    def _refuse_rows(self, table_name: str, column_name: str, dim: int, schema: Optional[str]) -> None:
        rows = self._online().execute(text(f"SELECT count() FROM {full_table(table_name, schema)}")).scalar()
        if rows:
            raise UnsupportedDialectError(
                f"{table_name}.{column_name}: adding a Vector({dim}) column to a table with {rows} "
                f"row{'s' if rows != 1 else ''} would give each of them an empty array, which reads back as a "
                "vector of length 0 (ClickHouse stores no NULL vector); create a new table with the "
                f"Vector({dim}) column and copy the rows into it with INSERT ... SELECT, computing their vectors, "
                "then swap the tables; or add the column while the table is empty"
            )

    def drop_column(
        self,
        table_name: str,
        column: Column[Any],
        *,
        schema: Optional[str] = None,
        if_exists: Optional[bool] = None,
        **kw: Any,
    ) -> None:
        constraints = self._length_constraints(table_name, column, schema)
        if not constraints:
            super().drop_column(table_name, column, schema=schema, if_exists=if_exists, **kw)
            return
        exists = " IF EXISTS" if if_exists or self.as_sql else ""
        drops = [f"DROP CONSTRAINT{exists} {quote_identifier(name)}" for name in constraints]
        drops.append(f"DROP COLUMN{' IF EXISTS' if if_exists else ''} {quote_identifier(column.name)}")
        sql = f"ALTER TABLE {full_table(table_name, schema)} {', '.join(drops)}"
        self._alter(sql, kw)

    def _length_constraints(self, table_name: str, column: Column[Any], schema: Optional[str]) -> list[str]:
        """Names of the length constraints that read ``column``.

        Offline the table cannot be read, and ``op.drop_column`` names no type: the
        name a vector column's constraint gets, dropped ``IF EXISTS`` (nothing for
        another column).
        """
        if self.as_sql:
            return [length_constraint_name(column.name)]
        return [
            name for name, checked, _ in length_checks(self._online(), table_name, schema) if checked == column.name and name
        ]
