"""What Alembic migrations of vector columns need on ClickHouse.

Vector columns are ``Array(Float32)`` with a ``CHECK length(col) = dim``
constraint; reflection reads the dimension back from that constraint.  A
dimension change is refused: the other backends reset the column's vectors to
NULL, and an ``Array`` column holds no NULL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional

from sqlalchemy import text
from sqlalchemy.engine import Connection

from ...exc import UnsupportedDialectError
from . import index as _index

if TYPE_CHECKING:
    from alembic.operations import Operations
    from sqlalchemy.sql.type_api import TypeEngine


# The server's own databases: SHOW DATABASES (what Alembic's include_schemas compares) lists them beside the
# application's, and autogenerate would propose to drop their tables.
SYSTEM_DATABASES = ("system", "INFORMATION_SCHEMA", "information_schema")


def keeps_vector_indexes(operation: Any) -> bool:
    """ClickHouse alters columns in place: skip indexes on the other columns stay."""
    return True


def dimension_change_refusal(table_name: str, column_name: str, dim: int, existing_dim: int) -> str:
    """Why the dimension cannot change (autogenerate raises it instead of rendering the change)."""
    return (
        f"{table_name}.{column_name}: changing a vector column from {existing_dim} to {dim} dimensions resets its "
        "vectors to NULL, and ClickHouse stores no NULL vector (an Array column cannot be Nullable); add a new "
        f"Vector({dim}) column, fill it with new embeddings, then drop the old one"
    )


def refuse_dimension_change(
    operations: "Operations", table_name: str, column_name: str, dim: int, existing_dim: int, schema: Optional[str]
) -> None:
    raise UnsupportedDialectError(dimension_change_refusal(table_name, column_name, dim, existing_dim))


def reflected_column_type(connection: Connection, table: Any, column: Mapping[str, Any]) -> Optional["TypeEngine[Any]"]:
    """``Vector(n)`` for an ``Array(Float32)`` column whose length constraint says ``n``."""
    if "Array(Float32)" not in str(getattr(column["type"], "name", "")) and "Float32" not in repr(column["type"]):
        return None
    dims = _index.vector_columns(connection, table.name, table.schema)
    if column["name"] not in dims:
        return None
    from ...types import Vector

    return Vector(dims[column["name"]])


# Names SQLAlchemy's generic compiler gives and the ClickHouse type the server stores for each.
_ALIASES = {
    "INTEGER": "Int32",
    "INT": "Int32",
    "SMALLINT": "Int16",
    "BIGINT": "Int64",
    "VARCHAR": "String",
    "NVARCHAR": "String",
    "CHAR": "String",
    "NCHAR": "String",
    "TEXT": "String",
    "CLOB": "String",
    "FLOAT": "Float32",
    "REAL": "Float32",
    "DOUBLE": "Float64",
    "DOUBLE PRECISION": "Float64",
    "BOOLEAN": "Bool",
    "DATETIME": "DateTime",
    "TIMESTAMP": "DateTime",
    "DATE": "Date",
    "UUID": "UUID",
}


def _unwrap_nullable(name: str) -> str:
    name = name.strip()
    return name[len("Nullable(") : -1] if name.startswith("Nullable(") and name.endswith(")") else name


def same_type(reflected: "TypeEngine[Any]", declared: "TypeEngine[Any]", dialect: Any) -> bool:
    """Whether ClickHouse stores ``declared`` as the reflected type (``INTEGER`` is ``Int32``, ``VARCHAR(50)`` ``String``)."""
    try:
        declared_sql = _unwrap_nullable(dialect.type_compiler_instance.process(declared))
    except Exception:  # a type this dialect cannot compile: let Alembic compare it
        return False
    base = declared_sql.split("(", 1)[0].strip().upper()
    stored = _ALIASES.get(base, declared_sql)
    return stored == _unwrap_nullable(str(reflected))


def database_has_vectors(connection: Connection) -> bool:
    """Whether a table of the current database has a vector column (a length-checked Array)."""
    found = connection.execute(
        text(
            "SELECT count() FROM system.tables WHERE database = currentDatabase() "
            "AND create_table_query LIKE '%Array(Float32)%CHECK length(%'"
        )
    ).scalar()
    return bool(found)
