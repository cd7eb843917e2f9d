"""What Alembic migrations of vector columns and indexes need on DuckDB."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Executable

from ...kinds import vector_column_type

if TYPE_CHECKING:
    from alembic.operations import Operations

    from ...index import VectorIndex


def keeps_vector_indexes(operation: Any) -> bool:
    # DuckDB 1.5 refuses ALTER TABLE on an indexed table, but ADD COLUMN.
    from alembic.operations import ops

    return isinstance(operation, ops.AddColumnOp)


def commit_index_drop(connection: Connection) -> None:
    # DuckDB 1.5 keeps a dropped index's dependency until commit and refuses
    # the ALTER TABLE that follows in the same transaction: commit here.
    if connection.in_transaction():
        connection.exec_driver_sql("COMMIT")
        connection.exec_driver_sql("BEGIN TRANSACTION")


def offline_create_statements(index: "VectorIndex", statements: List[Executable]) -> List[Executable]:
    # Online, the engine loads vss and create_index turns on its persistence for an index that opted in; an
    # offline script does both itself (a new DuckDB session has neither, and autoloading vss downloads it).
    loaded = [text("LOAD vss")]
    if not index.duckdb_experimental_persistence:
        return [*loaded, *statements]
    return [*loaded, text("SET hnsw_enable_experimental_persistence = true"), *statements]


def offline_fulltext_statements(statements: List[Executable]) -> List[Executable]:
    # Online, the engine loads fts; a new DuckDB session (1.5.5) has not, and autoloading it for PRAGMA
    # create_fts_index / drop_fts_index tries a download even where it is installed, which fails offline.
    return [text("LOAD fts"), *statements]


#: What an offline script runs after DROP INDEX, as commit_index_drop does online.
OFFLINE_AFTER_INDEX_DROP = ["COMMIT", "BEGIN TRANSACTION"]


def alter_vector_dimension(
    operations: "Operations",
    table_name: str,
    column_name: str,
    dim: int,
    existing_dim: int,
    schema: Optional[str],
    kind: Optional[str] = None,
) -> None:
    # DuckDB 1.5 casts every stored array, NULLed or not, unless told USING NULL.
    dialect = operations.migration_context.dialect
    preparer = dialect.identifier_preparer
    target = preparer.quote(table_name)
    if schema:
        target = f"{preparer.quote(schema)}.{target}"
    operations.execute(
        text(
            f"ALTER TABLE {target} ALTER COLUMN {preparer.quote(column_name)} "
            f"TYPE {vector_column_type(kind, dim).compile(dialect=dialect)} USING NULL"
        )
    )
