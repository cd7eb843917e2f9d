"""What reflection and Alembic see of DuckDB's ``FLOAT[n]`` columns, and of the default schema alone."""

from __future__ import annotations

import re
import weakref
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from sqlalchemy import JSON, String, text
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


# Dialect instances (engines) whose reflection is scoped to the default schema.
_SCOPED: "weakref.WeakSet[Dialect]" = weakref.WeakSet()


def scope_to_default_schema(dialect: Dialect) -> None:
    """Make this dialect instance (one engine) reflect the default schema alone when no schema is named.

    duckdb_engine 0.17 answers ``get_table_names()`` with the tables of every
    schema, and ``get_columns("docs")`` with the columns of every table named
    ``docs``, whatever its schema.  A :class:`~sqlalchemy_vector.FullTextIndex`
    keeps its index in schema ``fts_main_<table>``, which holds a table named
    like the indexed one: Alembic saw its tables as tables of the application,
    and their columns as columns of the indexed table.  Both are asked for
    the default schema by name instead; nothing changes where a schema is
    named, or where the dialect already scoped them.  ``get_schema_names()``
    lists this database's schemas by their own names (the dialects list
    ``database.schema``, which Alembic's ``include_schemas`` took for schemas
    other than the default and proposed to drop every table of).
    """
    if dialect in _SCOPED:
        return
    _SCOPED.add(dialect)
    table_names = dialect.get_table_names
    multi_columns = dialect.get_multi_columns
    schema_names = dialect.get_schema_names

    def get_schema_names(connection: Any, **kw: Any) -> List[str]:
        # Listed as database.schema; those of this database by their own name, which is how tables
        # name them (Table(..., schema="app")) and how Alembic's include_schemas compares them.
        current = connection.exec_driver_sql("SELECT current_database()").scalar()
        names = []
        for name in schema_names(connection, **kw):
            parts = _split_qualified(name)
            names.append(parts[1] if len(parts) == 2 and parts[0] == current else name)
        return names

    def get_table_names(connection: Any, schema: Optional[str] = None, **kw: Any) -> List[str]:
        return table_names(connection, schema if schema is not None else dialect.default_schema_name, **kw)

    def get_multi_columns(connection: Any, schema: Optional[str] = None, **kw: Any) -> List[Tuple[Any, Any]]:
        default = dialect.default_schema_name
        if schema is not None or default is None:
            return list(multi_columns(connection, schema=schema, **kw))
        # Keyed as asked: (None, table) for the default schema.
        return [((None, key[1]), columns) for key, columns in multi_columns(connection, schema=default, **kw)]

    dialect.get_table_names = get_table_names  # type: ignore[method-assign]
    dialect.get_multi_columns = get_multi_columns  # type: ignore[method-assign]
    dialect.get_schema_names = get_schema_names  # type: ignore[method-assign]


_NAME_PART = re.compile(r'"((?:[^"]|"")*)"|([^."]+)')


def _split_qualified(name: str) -> List[str]:
    """``'db."my schema"'`` -> ``['db', 'my schema']``: the parts of a dotted name, unquoted."""
    parts = []
    for match in _NAME_PART.finditer(name):
        quoted, plain = match.groups()
        parts.append(quoted.replace('""', '"') if quoted is not None else plain)
    return parts


def fulltext_schemas(connection: Connection) -> Set[str]:
    """The schemas of this database's full-text indexes (``fts_<schema>_<table>``) and of their write logs."""
    found = connection.execute(
        text(
            "SELECT DISTINCT schema_name FROM duckdb_functions() "
            "WHERE function_name = 'match_bm25' AND database_name = current_database()"
        )
    ).scalars()
    schemas = {str(name) for name in found}
    return schemas | {name + "#writes" for name in schemas}


def bit_kind(
    connection: Connection, table_name: str, column_name: str, schema: Optional[str], type_: TypeEngine[Any]
) -> Optional[Tuple[str, int]]:
    """``("bit", n)`` for a ``BIT`` column: how ``BitVector(n)`` is stored here.

    ``BIT`` declares no length: ``n`` is read from a stored value, 1 when the
    table holds none (DuckDB declares ``BIT`` whatever the length).
    """
    if str(getattr(type_, "__visit_name__", "")).upper() != "BIT":
        return None
    preparer = connection.dialect.identifier_preparer
    source = preparer.quote(table_name)
    if schema is not None:
        source = f"{preparer.quote_schema(schema)}.{source}"
    column = preparer.quote(column_name)
    found = connection.execute(text(f"SELECT bit_length({column}) FROM {source} WHERE {column} IS NOT NULL LIMIT 1")).scalar()
    return "bit", int(found or 1)
