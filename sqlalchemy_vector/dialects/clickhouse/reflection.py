"""Reflection of vector columns as ``Vector(n)`` on the engines sqlalchemy_vector prepared.

clickhouse-connect's inspector (``ChInspector``, 1.12) builds reflected tables
from its own ``get_columns`` and fires no ``column_reflect`` event, so the
listener the other backends use never sees a ClickHouse column.  A prepared
engine's dialect instance gets a subclass of its inspector class instead
(SQLAlchemy's ``inspect()`` constructs ``dialect.inspector``): its
``get_columns`` reports an ``Array(Float32)`` column with a ``CHECK
length(col) = n`` constraint as ``Vector(n)``.  The dialect class, and engines
not prepared, keep clickhouse-connect's inspector.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Optional

from sqlalchemy.engine import Dialect
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


def enable(dialect: Dialect) -> None:
    """Make this dialect instance (one engine) reflect vector columns as ``Vector(n)``."""
    base = type(dialect).inspector if hasattr(type(dialect), "inspector") else Inspector  # type: ignore[attr-defined]
    dialect.inspector = vector_inspector(base)  # type: ignore[attr-defined]
