"""Reflection of vector columns as ``Vector(n)`` on the engines sqlalchemy_vector prepared.

clickhouse-connect's inspector (``ChInspector``, 1.12) builds reflected tables
from its own ``get_columns`` and fires no ``column_reflect`` event, so the
listener the other backends use never sees a ClickHouse column.  A prepared
engine's dialect instance gets a subclass of its inspector class instead
(SQLAlchemy's ``inspect()`` constructs ``dialect.inspector``): its
``get_columns`` reports an ``Array(Float32)`` column with a ``CHECK
length(col) = n`` constraint as ``Vector(n)``.  Its ``has_table`` (which
``create_all`` and the inspector ask) reads ``system.tables`` with the name as a
bound value: clickhouse-connect's pastes the name into a ``text()`` statement,
where ``:x`` in a table name is taken for a bind parameter.  The dialect class,
and engines not prepared, keep clickhouse-connect's inspector and ``has_table``.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Optional

from sqlalchemy import text
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.engine.reflection import Inspector

from . import index as _index


@functools.lru_cache(maxsize=None)
def vector_inspector(base: type) -> type:
    """The subclass of inspector class ``base`` whose ``get_columns`` reports vector columns."""

    class VectorInspector(base):  # type: ignore[misc,valid-type]
        def get_columns(self, table_name: str, schema: Optional[str] = None, **kw: Any) -> List[Dict[str, Any]]:
            columns: List[Dict[str, Any]] = super().get_columns(table_name, schema, **kw)
            with self._operation_context() as connection:
                dims = _index.vector_columns(connection, table_name, schema)
            if not dims:
                return columns
            from ...types import Vector

            for column in columns:
                dim = dims.get(column["name"])
                if dim is not None and str(getattr(column["type"], "name", column["type"])) == "Array(Float32)":
                    column["type"] = Vector(dim)
            return columns

    VectorInspector.__name__ = VectorInspector.__qualname__ = f"Vector{base.__name__}"
    return VectorInspector


_HAS_TABLE = text(
    "SELECT count() FROM system.tables WHERE database = coalesce(:schema, currentDatabase()) AND name = :name"
)


def has_table(connection: Connection, table_name: str, schema: Optional[str] = None, **kw: Any) -> bool:
    """Whether ``table_name`` exists in ``schema`` (the connection's database by default), the name bound."""
    return bool(connection.execute(_HAS_TABLE, {"schema": schema, "name": table_name}).scalar())


def enable(dialect: Dialect) -> None:
    """Make this dialect instance (one engine) reflect vector columns as ``Vector(n)``, and find any table name."""
    base = type(dialect).inspector if hasattr(type(dialect), "inspector") else Inspector  # type: ignore[attr-defined]
    dialect.inspector = vector_inspector(base)  # type: ignore[attr-defined]
    dialect.has_table = has_table  # type: ignore[method-assign]
