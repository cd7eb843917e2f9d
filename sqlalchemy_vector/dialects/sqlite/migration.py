"""What Alembic migrations of vector columns and indexes need on SQLite."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import column, table, update

from ...exc import VectorIndexError
from ...kinds import vector_column_type

if TYPE_CHECKING:
    from alembic.operations import Operations


def keeps_vector_indexes(operation: Any) -> bool:
    # Alembic's batch mode copies the table, losing its sync triggers, for
    # anything but added columns and plain index changes.
    from alembic.operations import ops

    return isinstance(operation, (ops.AddColumnOp, ops.CreateIndexOp, ops.DropIndexOp))


def alter_vector_dimension(
    operations: "Operations",
    table_name: str,
    column_name: str,
    dim: int,
    existing_dim: int,
    schema: Optional[str],
    kind: Optional[str] = None,
) -> None:
    if operations.migration_context.as_sql:
        raise VectorIndexError(
            f"alter_vector_dimension({table_name + '.' + column_name!r}) cannot be rendered as offline SQL on "
            "SQLite (it rebuilds the table from the database's schema); run the migration online"
        )
    # No ALTER COLUMN in SQLite: reset the vectors, then copy the table with the new declared type.
    operations.execute(update(table(table_name, column(column_name), schema=schema)).values({column_name: None}))
    with operations.batch_alter_table(table_name, schema=schema, recreate="always") as batch:
        batch.alter_column(column_name, type_=vector_column_type(kind, dim), existing_type=vector_column_type(kind, existing_dim))
