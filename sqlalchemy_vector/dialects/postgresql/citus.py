"""Citus: distribute a table across workers, as an Alembic operation.

Citus is a PostgreSQL extension, reached through the PostgreSQL dialect, so it
needs no backend of its own: pgvector columns, distances and HNSW indexes are
PostgreSQL's, built on every shard, and the coordinator merges the shards'
``ORDER BY ... LIMIT k``.  What Citus adds is ``create_distributed_table``:

- ``op.create_distributed_table("embeddings", "document_id", colocate_with="documents")``
- ``op.undistribute_table("embeddings")``

Citus requires the distribution column in every primary key and unique
constraint of the table (``PRIMARY KEY (document_id, id)`` for embeddings
distributed by document id).  Not run against a Citus server here: the tests
check the SQL and the rendering only.

The facade's ``VectorRAG(..., distributed=True)`` uses
:func:`distribution_statements`: documents distributed by their key,
embeddings by ``document_id`` co-located with them, each only if not
distributed yet (so opening the facade again does nothing).
"""

from __future__ import annotations

from typing import Any, List, Optional

from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import MigrateOperation, Operations
from sqlalchemy import text as sql_text
from sqlalchemy import cast, func, literal, select
from sqlalchemy.dialects.postgresql import REGCLASS
from sqlalchemy.engine import Connection
from sqlalchemy.schema import Column, Table
from sqlalchemy.sql import Select

from ...exc import InvalidArgumentError, MissingExtensionError, ModelConfigurationError

__all__ = [
    "CreateDistributedTableOp",
    "UndistributeTableOp",
    "create_distributed_table_statement",
    "distribution_statements",
    "require_citus",
]


def _qualified(table_name: str, schema: Optional[str]) -> str:
    def quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    return f"{quote(schema)}.{quote(table_name)}" if schema else quote(table_name)


def create_distributed_table_statement(
    table_name: str, distribution_column: str, *, colocate_with: Optional[str] = None, schema: Optional[str] = None
) -> "Select[Any]":
    """``SELECT create_distributed_table('t'::regclass, 'col', 'hash', 'other')``, every value bound."""
    # str(): a quoted_name (a column's or table's name) would bind with no type.
    arguments = [cast(literal(str(_qualified(table_name, schema))), REGCLASS), literal(str(distribution_column))]
    if colocate_with is not None:
        arguments += [literal("hash"), literal(str(colocate_with))]
    return select(func.create_distributed_table(*arguments))


def _unless_distributed(statement: "Select[Any]", table: Table) -> "Select[Any]":
    """``statement`` only while ``table`` is not in Citus's ``pg_dist_partition`` yet (the name bound)."""
    condition = sql_text(
        "NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = CAST(:relation AS REGCLASS))"
    ).bindparams(relation=str(_qualified(table.name, table.schema)))
    return statement.where(condition)


def check_distributable(key: Column[Any]) -> None:
    """Raise :class:`ModelConfigurationError` unless ``key`` is in every primary key and unique constraint of its table."""
    table = key.table
    assert isinstance(table, Table)
    constraints: List[Any] = [("primary key", table.primary_key.columns)]
    constraints += [
        (f"unique constraint {getattr(c, 'name', None) or ''}".strip(), c.columns)  # type: ignore[attr-defined]
        for c in table.constraints
        if c.__class__.__name__ == "UniqueConstraint"
    ]
    constraints += [(f"unique index {ix.name}", ix.columns) for ix in table.indexes if ix.unique]
    for what, columns in constraints:
        if key.name not in [c.name for c in columns]:
            raise ModelConfigurationError(
                f"table {table.name!r} cannot be distributed by {key.name!r}: Citus needs the distribution column in "
                f"every primary key and unique constraint, and its {what} is ({', '.join(c.name for c in columns)}); "
                "declare the embedding model with __distributed_by_document__ = True (make_models(..., "
                "distributed=True)), which makes its primary key (id, document_id)"
            )


def distribution_statements(documents: Column[Any], embeddings: Optional[Column[Any]]) -> List[Any]:
    """Distribute the documents by their key and the embeddings by ``document_id``, co-located with them."""
    document_table = documents.table
    assert isinstance(document_table, Table)
    check_distributable(documents)
    statements = [
        _unless_distributed(
            create_distributed_table_statement(document_table.name, documents.name, schema=document_table.schema),
            document_table,
        )
    ]
    if embeddings is not None:
        embedding_table = embeddings.table
        assert isinstance(embedding_table, Table)
        check_distributable(embeddings)
        statements.append(
            _unless_distributed(
                create_distributed_table_statement(
                    embedding_table.name,
                    embeddings.name,
                    colocate_with=_qualified(document_table.name, document_table.schema)
                    if document_table.schema
                    else document_table.name,
                    schema=embedding_table.schema,
                ),
                embedding_table,
            )
        )
    return statements


def require_citus(connection: Connection) -> None:
    """Raise :class:`MissingExtensionError` unless the Citus extension is installed in the database."""
    installed = connection.execute(sql_text("SELECT extversion FROM pg_extension WHERE extname = 'citus'")).scalar()
    if installed is None:
        raise MissingExtensionError(
            "distributed=True needs the Citus extension in this PostgreSQL database, and it is not installed; "
            "run CREATE EXTENSION citus (on the coordinator, with Citus in shared_preload_libraries), "
            "or leave distributed out"
        )


@Operations.register_operation("create_distributed_table")
class CreateDistributedTableOp(MigrateOperation):
    """Shard a table across the Citus workers by one column, optionally co-located with another table."""

    def __init__(
        self, table_name: str, distribution_column: str, *, colocate_with: Optional[str] = None, schema: Optional[str] = None
    ) -> None:
        self.table_name = table_name
        self.distribution_column = distribution_column
        self.colocate_with = colocate_with
        self.schema = schema

    @classmethod
    def create_distributed_table(
        cls,
        operations: Operations,
        table_name: str,
        distribution_column: str,
        *,
        colocate_with: Optional[str] = None,
        schema: Optional[str] = None,
    ) -> None:
        """Distribute ``table_name`` by ``distribution_column`` (Citus ``create_distributed_table``)."""
        operations.invoke(cls(table_name, distribution_column, colocate_with=colocate_with, schema=schema))

    def reverse(self) -> "UndistributeTableOp":
        return UndistributeTableOp(self.table_name, schema=self.schema, distribution_column=self.distribution_column,
                                   colocate_with=self.colocate_with)


@Operations.register_operation("undistribute_table")
class UndistributeTableOp(MigrateOperation):
    """Bring a distributed table's rows back to the coordinator as a plain table."""

    def __init__(
        self,
        table_name: str,
        *,
        schema: Optional[str] = None,
        distribution_column: Optional[str] = None,
        colocate_with: Optional[str] = None,
    ) -> None:
        self.table_name = table_name
        self.schema = schema
        # What reverse() needs to distribute it again.
        self.distribution_column = distribution_column
        self.colocate_with = colocate_with

    @classmethod
    def undistribute_table(cls, operations: Operations, table_name: str, *, schema: Optional[str] = None) -> None:
        """Undo ``create_distributed_table`` (Citus ``undistribute_table``)."""
        operations.invoke(cls(table_name, schema=schema))

    def reverse(self) -> CreateDistributedTableOp:
        if self.distribution_column is None:
            # A ValueError as well, as Alembic's own irreversible operations raise.
            raise InvalidArgumentError(
                f"undistribute_table({self.table_name!r}) cannot be reversed without the distribution column; "
                "write op.create_distributed_table(...) in the downgrade"
            )
        return CreateDistributedTableOp(
            self.table_name, self.distribution_column, colocate_with=self.colocate_with, schema=self.schema
        )


@Operations.implementation_for(CreateDistributedTableOp)
def _create_distributed_table(operations: Operations, operation: CreateDistributedTableOp) -> None:
    operations.execute(
        create_distributed_table_statement(
            operation.table_name,
            operation.distribution_column,
            colocate_with=operation.colocate_with,
            schema=operation.schema,
        )
    )


@Operations.implementation_for(UndistributeTableOp)
def _undistribute_table(operations: Operations, operation: UndistributeTableOp) -> None:
    target = cast(literal(_qualified(operation.table_name, operation.schema)), REGCLASS)
    operations.execute(select(func.undistribute_table(target)))


def _keywords(**values: Any) -> str:
    return "".join(f", {key}={value!r}" for key, value in values.items() if value is not None)


@renderers.dispatch_for(CreateDistributedTableOp)
def _render_create(autogen_context: AutogenContext, operation: CreateDistributedTableOp) -> str:
    autogen_context.imports.add("import sqlalchemy_vector.alembic")
    return (
        f"op.create_distributed_table({operation.table_name!r}, {operation.distribution_column!r}"
        f"{_keywords(colocate_with=operation.colocate_with, schema=operation.schema)})"
    )


@renderers.dispatch_for(UndistributeTableOp)
def _render_undistribute(autogen_context: AutogenContext, operation: UndistributeTableOp) -> str:
    autogen_context.imports.add("import sqlalchemy_vector.alembic")
    return f"op.undistribute_table({operation.table_name!r}{_keywords(schema=operation.schema)})"
