"""What reflection and Alembic see of DuckDB's ``FLOAT[n]`` columns."""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional

from sqlalchemy import JSON, String
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import Dialect

from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.types import NullType, TypeDecorator


def _unknown_array(*args: Any, **kw: Any) -> TypeEngine[Any]:
    return NullType()


def type_names() -> Dict[str, Callable[..., TypeEngine[Any]]]:
    """duckdb_engine 0.17 reports every LIST/ARRAY column as ``array``, without its size.

    Such columns reflect as ``NullType`` without a warning; the Alembic plugin
    reads ``FLOAT[n]`` from ``information_schema`` instead.
    """
    return {"array": _unknown_array}


def same_type(reflected: TypeEngine[Any], declared: TypeEngine[Any], dialect: Dialect) -> bool:
    """DuckDB has one string type: ``TEXT``, ``VARCHAR(n)`` and ``JSON`` all reflect as ``VARCHAR``."""
    if not isinstance(reflected, String):
        return False
    impl = declared.dialect_impl(dialect)
    if isinstance(impl, TypeDecorator):
        impl = impl.impl_instance
    return isinstance(impl, (String, JSON))


def column_type(connection: Connection, table: Any, column: Mapping[str, Any]) -> Optional[TypeEngine[Any]]:
    """``Vector(n)`` for a ``FLOAT[n]`` column.

    duckdb-sqlalchemy reflects it as a sized fixed array; duckdb_engine as
    ``NullType``, and the size is read from ``information_schema``.
    """
    from .dialects import fixed_array_dim

    reflected = column.get("type")
    dim = fixed_array_dim(reflected)
    if dim is None:
        if not isinstance(reflected, NullType):
            return None
        from .index import vector_columns

        dim = vector_columns(connection, table.name, table.schema).get(column["name"])
    if dim is None:
        return None
    from ...types import Vector

    return Vector(dim)
