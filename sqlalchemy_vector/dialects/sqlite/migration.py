"""What Alembic migrations of vector columns and indexes need on SQLite."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional

from sqlalchemy import column, event, table, update
from sqlalchemy.engine import Connection

from ...exc import VectorIndexError
from ...kinds import vector_column_type

if TYPE_CHECKING:
    from alembic.operations import Operations


def keeps_vector_indexes(operation: Any) -> bool:
    # Alembic's batch mode copies the table, losing its sync triggers, for
    # anything but added columns and plain index changes.
    from alembic.operations import ops

    return isinstance(operation, (ops.AddColumnOp, ops.CreateIndexOp, ops.DropIndexOp))


def _begin(connection: Connection) -> None:
    if not getattr(connection.connection.driver_connection, "in_transaction", False):
        connection.exec_driver_sql("BEGIN")


def transactional_migrations(connection: Connection) -> Dict[str, Any]:
    """Run each Alembic migration over ``connection`` in one transaction: a failure leaves none of its changes.

    Alembic takes SQLite's DDL as non-transactional, since pysqlite begins a
    transaction before DML only: a migration failing midway (a NOT NULL its
    rows break, in a table copy) kept what ran before, its tables' vector and
    full-text indexes dropped and a half-made ``_alembic_tmp_`` table, and
    could not run again.  SQLite's DDL is transactional once a transaction is
    begun: SQLAlchemy's recipe, on this connection only.
    """
    if not event.contains(connection, "begin", _begin):
        event.listen(connection, "begin", _begin)
    return {"transactional_ddl": True}


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
