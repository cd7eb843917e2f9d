"""Alembic operations and autogenerate comparison for full-text indexes.

Importing this module (``sqlalchemy_vector.alembic`` does) registers on ``op``:

- ``op.create_fulltext_index(name, table_name, column_name, language="english", schema=None, key=None)``
- ``op.drop_fulltext_index(name, table_name, schema=None)``

Autogenerate adds a ``create_fulltext_index`` for a declared
:class:`~sqlalchemy_vector.FullTextIndex` the database lacks, and a
``drop_fulltext_index`` for one the database has on a table of the metadata
that no longer declares it, or on a table the metadata no longer has (before
its ``drop_table``); Alembic's own index comparison does not see them.
Both are rendered outside any batch block (drops before the table's other
changes, creates after them), and :mod:`.compare` drops and builds again an
index whose table a migration copies (SQLite's batch mode loses the FTS5
triggers with the old table).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import MigrateOperation, Operations, ops
from alembic.runtime.plugins import Plugin
from alembic.util import PriorityDispatchResult
from sqlalchemy import Column, MetaData, Table, Text

from ..dialects.base import find_backend
from ..exc import InvalidArgumentError
from ..fulltext import (
    FullTextIndex,
    FullTextSpec,
    check_database_language,
    check_fulltext_name,
    create_statements,
    drop_statements,
)
from ..fulltext import list_fulltext_indexes
from .operations import AFTER, BEFORE, place

__all__ = ["CreateFullTextIndexOp", "DropFullTextIndexOp", "drop_op", "setup"]


@Operations.register_operation("create_fulltext_index")
class CreateFullTextIndexOp(MigrateOperation):
    """Build a :class:`~sqlalchemy_vector.FullTextIndex` on an existing text column (and fill it)."""

    def __init__(
        self,
        index_name: str,
        table_name: str,
        column_name: str,
        *,
        language: str = "english",
        schema: Optional[str] = None,
        key: Optional[str] = None,
    ) -> None:
        self.index_name = index_name
        self.table_name = table_name
        self.column_name = column_name
        self.language = language
        self.schema = schema
        #: The table's key column, where it is not ``id``: offline SQL cannot read it (DuckDB's index names it).
        self.key = key

    @classmethod
    def create_fulltext_index(
        cls,
        operations: Operations,
        index_name: str,
        table_name: str,
        column_name: str,
        *,
        language: str = "english",
        schema: Optional[str] = None,
        key: Optional[str] = None,
    ) -> None:
        """Build a full-text index ``index_name`` on ``table_name.column_name``.

        ``key`` is the table's primary-key column: online it is read from the
        database, offline (``--sql``) it is ``id`` unless given.
        """
        operations.invoke(cls(index_name, table_name, column_name, language=language, schema=schema, key=key))

    @classmethod
    def from_index(cls, index: FullTextIndex) -> "CreateFullTextIndexOp":
        spec = index.spec
        key = _key_of(spec.table)
        return cls(spec.name, spec.table.name, spec.column.name, language=spec.language, schema=spec.schema, key=key)

    def spec(self, key_name: str = "id") -> FullTextSpec:
        # The statements need names only: a stand-in table with the key and the column.
        table = Table(
            self.table_name, MetaData(), Column(key_name, Text, primary_key=True), Column(self.column_name, Text),
            schema=self.schema,
        )
        return FullTextSpec(self.index_name, table, table.c[self.column_name], self.language)

    def reverse(self) -> "DropFullTextIndexOp":
        return DropFullTextIndexOp(self.index_name, self.table_name, schema=self.schema, reverse=self)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("add_fulltext_index", self.index_name, self.table_name, self.column_name)


@Operations.register_operation("drop_fulltext_index")
class DropFullTextIndexOp(MigrateOperation):
    """Drop a full-text index (on SQLite its FTS5 table and triggers, on DuckDB its fts schema)."""

    def __init__(
        self,
        index_name: str,
        table_name: str,
        *,
        schema: Optional[str] = None,
        reverse: Optional[CreateFullTextIndexOp] = None,
    ) -> None:
        self.index_name = index_name
        self.table_name = table_name
        self.schema = schema
        self._reverse = reverse

    @classmethod
    def drop_fulltext_index(
        cls, operations: Operations, index_name: str, table_name: str, *, schema: Optional[str] = None
    ) -> None:
        """Drop the full-text index ``index_name`` of ``table_name``."""
        operations.invoke(cls(index_name, table_name, schema=schema))

    def reverse(self) -> CreateFullTextIndexOp:
        if self._reverse is None:
            raise InvalidArgumentError(
                f"drop_fulltext_index({self.index_name!r}) cannot be reversed: its column is unknown; "
                "write the create_fulltext_index of the downgrade by hand"
            )
        return self._reverse

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("remove_fulltext_index", self.index_name, self.table_name)


def _key_of(table: Optional[Table]) -> Optional[str]:
    """The name of ``table``'s one primary-key column where it is not ``id`` (the offline default), else None."""
    columns = list(table.primary_key.columns) if table is not None else []
    return str(columns[0].name) if len(columns) == 1 and columns[0].name != "id" else None


def _primary_key(operations: Operations, operation: CreateFullTextIndexOp) -> str:
    if operation.key is not None:
        return operation.key
    if operations.migration_context.as_sql:
        return "id"
    from sqlalchemy import inspect

    names = inspect(operations.get_bind()).get_pk_constraint(operation.table_name, schema=operation.schema)
    found = names.get("constrained_columns") or ["id"]
    return str(found[0])


@Operations.implementation_for(CreateFullTextIndexOp)
def _create(operations: Operations, operation: CreateFullTextIndexOp) -> None:
    dialect = operations.migration_context.dialect
    spec = operation.spec(_primary_key(operations, operation))
    statements = create_statements(spec, dialect)
    if not operations.migration_context.as_sql:  # online: the database says which languages and names it has
        check_database_language(operations.get_bind(), spec)
        check_fulltext_name(operations.get_bind(), spec)
    for statement in _offline(operations, statements):
        operations.execute(statement)


@Operations.implementation_for(DropFullTextIndexOp)
def _drop(operations: Operations, operation: DropFullTextIndexOp) -> None:
    dialect = operations.migration_context.dialect
    statements = drop_statements(operation.index_name, operation.table_name, operation.schema, dialect)
    for statement in _offline(operations, statements):
        operations.execute(statement)


def _offline(operations: Operations, statements: List[Any]) -> List[Any]:
    """``statements`` as a migration runs them: offline, with what the engine would have set up first."""
    backend = find_backend(operations.migration_context.dialect)
    if not operations.migration_context.as_sql or backend is None:
        return statements
    return backend.offline_fulltext_statements(statements)


def _schema_keyword(schema: Optional[str]) -> str:
    return "" if schema is None else f", schema={schema!r}"


@renderers.dispatch_for(CreateFullTextIndexOp)
def _render_create(autogen_context: AutogenContext, operation: CreateFullTextIndexOp) -> str:
    autogen_context.imports.add("import sqlalchemy_vector.alembic")
    key = "" if operation.key is None else f", key={operation.key!r}"
    return (
        f"op.create_fulltext_index({operation.index_name!r}, {operation.table_name!r}, {operation.column_name!r}, "
        f"language={operation.language!r}{_schema_keyword(operation.schema)}{key})"
    )


@renderers.dispatch_for(DropFullTextIndexOp)
def _render_drop(autogen_context: AutogenContext, operation: DropFullTextIndexOp) -> str:
    autogen_context.imports.add("import sqlalchemy_vector.alembic")
    return f"op.drop_fulltext_index({operation.index_name!r}, {operation.table_name!r}{_schema_keyword(operation.schema)})"


# -- autogenerate ------------------------------------------------------------------------


def _compare_table(
    autogen_context: AutogenContext,
    modify_table_ops: ops.ModifyTableOps,
    schema: Optional[str],
    tname: str,
    conn_table: Optional[Table],
    metadata_table: Optional[Table],
) -> PriorityDispatchResult:
    connection = autogen_context.connection
    if connection is None or find_backend(connection.dialect) is None:
        return PriorityDispatchResult.CONTINUE
    # A table the models no longer declare: its indexes are dropped before it (SQLite's FTS5 table and DuckDB's
    # fts schema would outlive it), and its downgrade builds them again.
    indexes = metadata_table.indexes if metadata_table is not None else ()
    wanted = {
        str(i.name): i
        for i in indexes
        if isinstance(i, FullTextIndex) and autogen_context.run_object_filters(i, i.name, "fulltext_index", False, None)  # type: ignore[arg-type]
    }
    existing: Dict[str, Dict[str, Any]] = {}
    for found in list_fulltext_indexes(connection, tname, schema=schema) if conn_table is not None else []:
        # include_object sees the database's full-text indexes too (reflected=True), as stand-ins.
        stand_in = _stand_in(drop_op(found, schema).reverse())
        if autogen_context.run_object_filters(stand_in, found["name"], "fulltext_index", True, wanted.get(found["name"])):  # type: ignore[arg-type]
            existing[found["name"]] = found
    # Outside any batch block, as vector indexes: drops before the table's other changes, creates after
    # them (a create inside a batch block would run before the table copy that loses its triggers).
    operations: List[MigrateOperation] = []
    for name, found in existing.items():
        index = wanted.get(name)
        if index is None or (found["column"], found["language"]) != (index.text_column.name, index.language):
            operations.append(place(drop_op(found, schema, key=_key_of(conn_table)), BEFORE))
            existing[name] = {}
    for name, index in wanted.items():
        if not existing.get(name):
            _check_buildable(connection, index)
            operations.append(place(CreateFullTextIndexOp.from_index(index), AFTER))
    modify_table_ops.ops.extend(operations)  # type: ignore[arg-type]
    return PriorityDispatchResult.CONTINUE


def _check_buildable(connection: Any, index: FullTextIndex) -> None:
    """Refuse, before a migration is written, an index the database cannot build.

    (A language it lacks, a second index on a table where there is one per
    table.)  At upgrade it would fail after the migration's other changes,
    which a migration run outside a transaction (a bare ``MigrationContext``
    on SQLite) keeps.
    """
    index.check_buildable(connection.dialect)
    check_database_language(connection, index.spec)


def _stand_in(operation: CreateFullTextIndexOp) -> FullTextIndex:
    """The :class:`FullTextIndex` ``operation`` builds, on a stand-in table of its key and text column."""
    spec = operation.spec()
    return FullTextIndex(spec.name, spec.column, language=spec.language)


def drop_op(found: Dict[str, Any], schema: Optional[str], key: Optional[str] = None) -> DropFullTextIndexOp:
    """A drop of an index :func:`~sqlalchemy_vector.list_fulltext_indexes` reported; its reverse builds it again
    (``key``: the table's key column, where it is not ``id``)."""
    name, table_name = found["name"], found["table"]
    reverse = CreateFullTextIndexOp(name, table_name, found["column"], language=found["language"], schema=schema, key=key)
    return DropFullTextIndexOp(name, table_name, schema=schema, reverse=reverse)


def setup(plugin: Plugin) -> None:
    """Register the full-text index comparison on ``plugin``."""
    plugin.add_autogenerate_comparator(_compare_table, "table", "fulltext_indexes")
