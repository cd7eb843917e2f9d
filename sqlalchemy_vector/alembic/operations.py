"""Alembic operations for vector indexes, vector dimensions and the pgvector extension.

Importing this module registers, on Alembic's ``op``:

- ``op.create_vector_index(name, table, column, metric=..., method=..., **options)``
  (``dim=`` for a quantized index in offline SQL)
- ``op.drop_vector_index(name, table_name=...)``
- ``op.alter_vector_dimension(table, column, dim, existing_dim=..., kind=None)``
- ``op.create_vector_extension()`` / ``op.drop_vector_extension()``

and how autogenerate renders each of them.  Registration only adds these
names; it changes nothing else in Alembic.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional, Sequence, Union

from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import MigrateOperation, Operations
from sqlalchemy import Integer, MetaData, String, Table, Uuid, inspect
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.schema import Column

from ..dialects.base import backend_for, find_backend
from ..exc import InvalidArgumentError, SchemaMismatchError, UnsupportedDialectError, VectorIndexError
from ..fulltext import list_fulltext_indexes
from ..index import INDEX_METHODS, VectorIndex, create_statements, create_vector_index, drop_statements
from ..index import drop_vector_index, list_vector_indexes, vector_columns
from ..kinds import KINDS, kind_type, stored_kind
from ..types import Vector, whole_number

__all__ = [
    "CreateVectorIndexOp",
    "DropVectorIndexOp",
    "AlterVectorDimensionOp",
    "CreateVectorExtensionOp",
    "DropVectorExtensionOp",
]

IMPORTS = ("import sqlalchemy_vector", "import sqlalchemy_vector.alembic")

# Where autogenerate puts an operation around its table's other changes (outside any batch block):
# drops first, then the table's own changes, then dimension changes, then creates.
BEFORE, ALTER, AFTER = "before", "alter", "after"


def place(operation: Any, position: str) -> Any:
    """Mark ``operation`` to be rendered at ``position`` (:data:`BEFORE`, :data:`ALTER`, :data:`AFTER`)."""
    operation._vector_position = position
    return operation


@Operations.register_operation("create_vector_index")
class CreateVectorIndexOp(MigrateOperation):
    """Build a :class:`~sqlalchemy_vector.VectorIndex` on an existing table column."""

    def __init__(
        self,
        index_name: str,
        table_name: str,
        column_name: str,
        *,
        metric: str = "cosine",
        method: str = "hnsw",
        schema: Optional[str] = None,
        duckdb_experimental_persistence: bool = False,
        quantization: Optional[str] = None,
        kind: Optional[str] = None,
        dim: Optional[int] = None,
        key: Optional[str] = None,
        text_key: bool = False,
        **options: int,
    ) -> None:
        if kind is not None and kind not in KINDS:
            raise VectorIndexError(
                f"create_vector_index({index_name!r}): unknown kind {kind!r}; expected one of {', '.join(KINDS)} "
                "(or None for a Vector column)"
            )
        for argument, value in (("index_name", index_name), ("table_name", table_name), ("column_name", column_name)):
            if not isinstance(value, str):
                raise InvalidArgumentError(
                    f"create_vector_index({index_name!r}): {argument} must be a name (a string), got "
                    f"{type(value).__name__} {value!r}"
                    + ("; a vector index is on one column: give its name" if argument == "column_name" else "")
                )
        taken = sorted({"name", "column"} & options.keys())
        if taken:
            raise InvalidArgumentError(
                f"create_vector_index({index_name!r}) got {', '.join(f'{k}={options[k]!r}' for k in taken)}: the "
                "index is named by index_name and its column by column_name, the first and third arguments"
            )
        self.index_name = index_name
        self.table_name = table_name
        self.column_name = column_name
        self.metric = metric
        self.method = method
        self.schema = schema
        self.duckdb_experimental_persistence = duckdb_experimental_persistence
        self.quantization = quantization
        #: The compact kind of the indexed column (``half``, ``bit``, ``sparse``...), None for ``Vector``.
        self.kind = kind
        #: The column's dimension, which a quantized index's DDL declares (offline SQL cannot read it).
        self.dim = dim
        #: The table's primary-key column, and whether it is text, where the index DDL declares it (offline SQL
        #: cannot read it either).
        self.key = key
        self.text_key = text_key
        self.options: Dict[str, int] = dict(options)

    @classmethod
    def create_vector_index(
        cls,
        operations: Operations,
        index_name: str,
        table_name: str,
        column_name: str,
        *,
        metric: str = "cosine",
        method: str = "hnsw",
        schema: Optional[str] = None,
        duckdb_experimental_persistence: bool = False,
        quantization: Optional[str] = None,
        kind: Optional[str] = None,
        dim: Optional[int] = None,
        key: Optional[str] = None,
        text_key: bool = False,
        **options: int,
    ) -> None:
        """Build vector index ``index_name`` on ``table_name.column_name`` (see :class:`~sqlalchemy_vector.VectorIndex`).

        ``kind`` names the column's compact kind (``"half"``, ``"bit"``,
        ``"sparse"``), which picks the operator class; None is a ``Vector`` column.
        ``dim`` is the column's dimension, which a quantized index declares:
        online it is read from the database, offline (``--sql``) it is needed.
        So are, where the index DDL declares the table's key, ``key`` (its
        primary-key column) and ``text_key`` (True for a text key).
        """
        operations.invoke(
            cls(
                index_name,
                table_name,
                column_name,
                metric=metric,
                method=method,
                schema=schema,
                duckdb_experimental_persistence=duckdb_experimental_persistence,
                quantization=quantization,
                kind=kind,
                dim=dim,
                key=key,
                text_key=text_key,
                **options,
            )
        )

    @classmethod
    def from_index(cls, index: VectorIndex, dialect: Union[Dialect, str, None] = None) -> "CreateVectorIndexOp":
        """The operation building ``index``; with the migration's ``dialect``, the dimension where its DDL declares one."""
        declared = index.quantization is not None or _declares_dimension(dialect)
        return cls(
            index.index_name,
            index.bound_table.name,
            index.vector_column.name,
            metric=index.metric,
            method=index.method,
            schema=index.bound_table.schema,
            duckdb_experimental_persistence=index.duckdb_experimental_persistence,
            quantization=index.quantization,
            kind=getattr(index.vector_column.type, "kind", None),
            dim=index.vector_column.type.dim if declared else None,  # type: ignore[attr-defined]
            **_table_key(index.bound_table, dialect),
            **index.options,  # type: ignore[arg-type]  # build options (ints), checked by VectorIndex
        )

    def to_index(self, dim: int, primary_key: Sequence[Column[Any]] = ()) -> VectorIndex:
        """A :class:`VectorIndex` on a stand-in table holding just what the DDL needs.

        The stand-in column is of the op's ``kind`` (so the index gets that
        kind's operator class), else a ``Vector``.  ``primary_key`` are the
        table's primary key columns, for backends whose index is keyed by them.
        """
        column_type = Vector(dim) if self.kind is None else kind_type(self.kind, dim)
        columns: List[Column[Any]] = [Column(self.column_name, column_type)]
        columns[:0] = [Column(key.name, key.type, primary_key=True) for key in primary_key if key.name != self.column_name]
        stand_in = Table(self.table_name, MetaData(), *columns, schema=self.schema)
        return VectorIndex(
            self.index_name,
            stand_in.c[self.column_name],
            metric=self.metric,
            method=self.method,
            duckdb_experimental_persistence=self.duckdb_experimental_persistence,
            quantization=self.quantization,
            **self.options,  # type: ignore[arg-type]  # build options, checked by VectorIndex
        )

    def reverse(self) -> "DropVectorIndexOp":
        return DropVectorIndexOp(
            self.index_name,
            table_name=self.table_name,
            schema=self.schema,
            _reverse=self,
        )

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("add_vector_index", self.table_name, self.index_name, self.column_name, self.metric)


@Operations.register_operation("drop_vector_index")
class DropVectorIndexOp(MigrateOperation):
    """Drop a vector index (on SQLite: its vec0 table and sync triggers)."""

    def __init__(
        self,
        index_name: str,
        table_name: Optional[str] = None,
        *,
        schema: Optional[str] = None,
        if_exists: bool = False,
        _reverse: Optional[CreateVectorIndexOp] = None,
    ) -> None:
        self.index_name = index_name
        self.table_name = table_name
        self.schema = schema
        self.if_exists = if_exists
        self._reverse = _reverse

    @classmethod
    def drop_vector_index(
        cls,
        operations: Operations,
        index_name: str,
        table_name: Optional[str] = None,
        *,
        schema: Optional[str] = None,
        if_exists: bool = False,
    ) -> None:
        """Drop vector index ``index_name``."""
        operations.invoke(cls(index_name, table_name, schema=schema, if_exists=if_exists))

    @classmethod
    def from_reflected(
        cls,
        found: Dict[str, Any],
        schema: Optional[str] = None,
        *,
        dialect: Union[Dialect, str],
        index: Optional[VectorIndex] = None,
        kind: Optional[str] = None,
        dim: Optional[int] = None,
        table: Optional[Table] = None,
    ) -> "DropVectorIndexOp":
        """A drop of an index as :func:`~sqlalchemy_vector.list_vector_indexes` reported it on ``dialect``.

        Its reverse builds the same index again: from ``index`` (the model's
        declaration) when given, otherwise from what the database reports
        (``kind``: the indexed column's compact kind, read from its type;
        ``dim``: its dimension in the database, which a quantized index
        declares, and which the reverse declares even from ``index``;
        ``table``: the reflected table, whose key the index DDL may declare).
        """
        if index is not None:
            create = CreateVectorIndexOp.from_index(index, dialect)
            if create.dim is not None and dim is not None:
                # The reverse runs on the column as the database has it now: a migration that also changes the
                # column's dimension has restored it by then, and the model declares the new one.
                create.dim = dim
        else:
            create = CreateVectorIndexOp(
                found["name"],
                found["table"],
                found["column"],
                metric=found["metric"] or "cosine",
                # A method the backend builds whatever is declared (vec0) is declared as the default.
                method=found["method"] if found["method"] in INDEX_METHODS else INDEX_METHODS[0],
                schema=schema,
                quantization=found.get("quantization"),
                kind=kind,
                dim=dim if found.get("quantization") is not None or _declares_dimension(dialect) else None,
                **(_table_key(table, dialect) if table is not None else {}),
                **found["options"],
                **backend_for(dialect, feature="vector indexes").reflected_index_kwargs(found),
            )
        return cls(found["name"], found["table"], schema=schema, _reverse=create)

    def reverse(self) -> CreateVectorIndexOp:
        if self._reverse is None:
            raise InvalidArgumentError(
                f"drop_vector_index({self.index_name!r}) cannot be reversed: "
                "its column and metric are unknown to this operation; write the create_vector_index "
                "of the downgrade by hand"
            )
        return self._reverse

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("remove_vector_index", self.table_name, self.index_name)


@Operations.register_operation("alter_vector_dimension")
class AlterVectorDimensionOp(MigrateOperation):
    """Change a vector column's dimension; its stored vectors become NULL.

    Vectors of one embedding model cannot be converted to another's size, so
    the column is reset and must be re-embedded.  Drop vector indexes on the
    table first (autogenerate does this, and builds them again after).  A NOT
    NULL column is refused: make it nullable first.  ``kind`` is the column's
    compact kind (``"half"``, ``"int8"``, ``"bit"``, ``"sparse"``), None for a
    ``Vector`` column.
    """

    def __init__(
        self,
        table_name: str,
        column_name: str,
        dim: int,
        *,
        existing_dim: int,
        schema: Optional[str] = None,
        kind: Optional[str] = None,
    ) -> None:
        if kind is not None and kind not in KINDS:
            raise VectorIndexError(
                f"alter_vector_dimension({table_name + '.' + column_name!r}): unknown kind {kind!r}; expected one of "
                f"{', '.join(KINDS)} (or None for a Vector column)"
            )
        where = f"alter_vector_dimension({table_name + '.' + column_name!r})"
        checked = {}
        for argument, value in (("dim", dim), ("existing_dim", existing_dim)):
            number = whole_number(value)
            if number is None or number < 1:
                raise InvalidArgumentError(f"{where}: {argument} must be a positive integer, got {value!r}")
            checked[argument] = number
        self.table_name = table_name
        self.column_name = column_name
        self.dim = checked["dim"]
        self.existing_dim = checked["existing_dim"]
        self.schema = schema
        self.kind = kind

    @classmethod
    def alter_vector_dimension(
        cls,
        operations: Operations,
        table_name: str,
        column_name: str,
        dim: int,
        *,
        existing_dim: int,
        schema: Optional[str] = None,
        kind: Optional[str] = None,
    ) -> None:
        """Make ``table_name.column_name`` a ``Vector(dim)`` column (or ``kind``'s type), setting its vectors to NULL."""
        operations.invoke(cls(table_name, column_name, dim, existing_dim=existing_dim, schema=schema, kind=kind))

    def reverse(self) -> "AlterVectorDimensionOp":
        return AlterVectorDimensionOp(
            self.table_name, self.column_name, self.existing_dim, existing_dim=self.dim, schema=self.schema, kind=self.kind
        )

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("modify_vector_dimension", self.table_name, self.column_name, self.existing_dim, self.dim)


def not_null_refusal(table_name: str, column_name: str, dim: int, existing_dim: int) -> str:
    """Why the dimension of a NOT NULL vector column cannot change as it is (the change resets it to NULL)."""
    return (
        f"{table_name}.{column_name} is NOT NULL, and changing its dimension from {existing_dim} to {dim} resets "
        f"its vectors to NULL; make it nullable in this migration first (declare it nullable=True in the model, "
        f"or call op.alter_column({table_name!r}, {column_name!r}, nullable=True) before this operation), "
        "re-embed its rows after the migration, then make it NOT NULL again in a later migration"
    )


@Operations.register_operation("create_vector_extension")
class CreateVectorExtensionOp(MigrateOperation):
    """Create the server extension vector columns need (pgvector on PostgreSQL); nothing where there is none."""

    @classmethod
    def create_vector_extension(cls, operations: Operations) -> None:
        """Create the pgvector extension (PostgreSQL only)."""
        operations.invoke(cls())

    def reverse(self) -> "DropVectorExtensionOp":
        return DropVectorExtensionOp()

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("add_vector_extension",)


@Operations.register_operation("drop_vector_extension")
class DropVectorExtensionOp(MigrateOperation):
    """Drop the server extension vector columns need (pgvector on PostgreSQL); nothing where there is none."""

    @classmethod
    def drop_vector_extension(cls, operations: Operations) -> None:
        """Drop the pgvector extension (PostgreSQL only); fails while vector columns remain."""
        operations.invoke(cls())

    def reverse(self) -> CreateVectorExtensionOp:
        return CreateVectorExtensionOp()

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("remove_vector_extension",)


# -- implementations -------------------------------------------------------------------


def _offline(operations: Operations) -> bool:
    return bool(operations.migration_context.as_sql)


@Operations.implementation_for(CreateVectorIndexOp)
def _create_vector_index(operations: Operations, operation: CreateVectorIndexOp) -> None:
    dialect = operations.migration_context.dialect
    backend = backend_for(dialect, feature="vector indexes")
    needs_table = backend.capabilities.index_ddl_needs_table
    if _offline(operations):
        if needs_table and (operation.key is None or operation.dim is None):
            raise VectorIndexError(
                f"create_vector_index({operation.index_name!r}) on {dialect.name} declares the dimension of "
                f"{operation.table_name}.{operation.column_name} and the table's primary key, which offline SQL "
                "cannot read from the database; pass dim=<the column's dimension> and key=<the primary-key column> "
                "(with text_key=True for a text key) to op.create_vector_index (autogenerate renders them), or run "
                "the migration online"
            )
        if operation.dim is None and (operation.quantization is not None or backend.capabilities.index_ddl_declares_dimension):
            what = (
                f"a {operation.quantization} quantized index"
                if operation.quantization is not None
                else f"an index on {backend.capabilities.storage_provider or dialect.name}"
            )
            raise VectorIndexError(
                f"create_vector_index({operation.index_name!r}) builds {what}, "
                f"whose DDL declares the dimension of {operation.table_name}.{operation.column_name}; pass "
                "dim=<the column's dimension> to op.create_vector_index (autogenerate renders it), or run the "
                "migration online"
            )
        # The DDL needs names only, and the dimension and key where it declares them (a quantized index's cast).
        key_type: Any = String() if operation.text_key else Integer()
        key: List[Column[Any]] = [] if operation.key is None else [Column(operation.key, key_type)]
        index = operation.to_index(operation.dim or 1, key)
        for statement in backend.offline_index_create_statements(index, create_statements(index, dialect)):
            operations.execute(statement)
        return
    connection = operations.get_bind()
    dims = vector_columns(connection, operation.table_name, schema=operation.schema)
    if operation.column_name not in dims:
        dims = {**dims, **_compact_columns(connection, operation)}
    if operation.column_name not in dims:
        raise VectorIndexError(
            f"create_vector_index({operation.index_name!r}): {operation.table_name}.{operation.column_name} "
            f"is not a vector column in the database (vector columns there: {', '.join(dims) or 'none'})"
        )
    primary_key: List[Column[Any]] = []
    if needs_table:
        inspector = inspect(connection)
        names = inspector.get_pk_constraint(operation.table_name, schema=operation.schema).get("constrained_columns")
        with warnings.catch_warnings():
            # Only the key's types matter here, not other columns' types the dialect does not know.
            warnings.simplefilter("ignore", sa_exc.SAWarning)
            types = {c["name"]: c["type"] for c in inspector.get_columns(operation.table_name, schema=operation.schema)}
        primary_key = [Column(name, types[name]) for name in names or ()]
    create_vector_index(connection, operation.to_index(dims[operation.column_name], primary_key))


def _compact_columns(connection: Any, operation: CreateVectorIndexOp) -> Dict[str, int]:
    """``{column: dim}`` for the op's column where the database stores it as the op's compact kind."""
    if operation.kind is None:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa_exc.SAWarning)  # other columns' types the dialect does not know
        columns = inspect(connection).get_columns(operation.table_name, schema=operation.schema)
    for column in columns:
        if column["name"] == operation.column_name:
            found = stored_kind(column["type"], connection.dialect)
            if found is not None and found[0] == operation.kind:
                return {operation.column_name: found[1]}
    return {}


@Operations.implementation_for(DropVectorIndexOp)
def _drop_vector_index(operations: Operations, operation: DropVectorIndexOp) -> None:
    dialect = operations.migration_context.dialect
    if _offline(operations):
        statements = drop_statements(
            operation.index_name, operation.schema, dialect, if_exists=operation.if_exists, table_name=operation.table_name
        )
        for statement in statements:
            operations.execute(statement)
        if operations.migration_context.impl.transactional_ddl:
            for sql in backend_for(dialect, feature="vector indexes").offline_after_index_drop_statements():
                operations.execute(sql)
        return
    connection = operations.get_bind()
    drop_vector_index(connection, operation.index_name, schema=operation.schema, if_exists=operation.if_exists)
    backend_for(dialect, feature="vector indexes").after_migration_index_drop(connection)


@Operations.implementation_for(AlterVectorDimensionOp)
def _alter_vector_dimension(operations: Operations, operation: AlterVectorDimensionOp) -> None:
    backend = backend_for(operations.migration_context.dialect, feature="vector columns")
    table_name, column_name = operation.table_name, operation.column_name
    # Everything is checked before any statement runs: DDL does not roll back everywhere.
    refusal = backend.dimension_change_refusal(table_name, column_name, operation.dim, operation.existing_dim)
    if refusal is not None:
        raise UnsupportedDialectError(refusal)
    if not _offline(operations):
        connection = operations.get_bind()
        if _column_nullable(connection, table_name, column_name, operation.schema) is False:
            raise SchemaMismatchError(not_null_refusal(table_name, column_name, operation.dim, operation.existing_dim))
        # An index on the column cannot survive; on some backends neither can the table's others.
        keeps_others = backend.migration_keeps_vector_indexes(operation)
        blocking = [
            found["name"]
            for found in list_vector_indexes(connection, table_name, schema=operation.schema)
            if found["column"] == column_name or not keeps_others
        ]
        if blocking:
            raise VectorIndexError(
                f"alter_vector_dimension({table_name + '.' + column_name!r}): drop the vector "
                f"index(es) {', '.join(blocking)} on {table_name!r} first and create them again "
                "afterwards (autogenerate renders this)"
            )
        if not backend.migration_keeps_fulltext_indexes(operation) and backend.capabilities.fulltext_search:
            found = list_fulltext_indexes(connection, table_name, schema=operation.schema)
            fulltext = [index["name"] for index in found]
            if fulltext:
                raise VectorIndexError(
                    f"alter_vector_dimension({table_name + '.' + column_name!r}) copies the table, which would leave "
                    f"its full-text index(es) {', '.join(fulltext)} no longer following writes; call "
                    "op.drop_fulltext_index first and op.create_fulltext_index afterwards (autogenerate renders this)"
                )
    backend.alter_vector_dimension(
        operations,
        table_name,
        column_name,
        operation.dim,
        existing_dim=operation.existing_dim,
        schema=operation.schema,
        kind=operation.kind,
    )


def _column_nullable(connection: Any, table_name: str, column_name: str, schema: Optional[str]) -> Optional[bool]:
    """Whether the database declares the column nullable (None: no such column found)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa_exc.SAWarning)  # other columns' types the dialect does not know
        columns = inspect(connection).get_columns(table_name, schema=schema)
    for found in columns:
        if found["name"] == column_name:
            return bool(found.get("nullable", True))
    return None


def _extension_statements(operations: Operations, create: bool) -> tuple[str, ...]:
    backend = find_backend(operations.migration_context.dialect)
    return backend.vector_extension_statements(create) if backend is not None else ()


@Operations.implementation_for(CreateVectorExtensionOp)
def _create_vector_extension(operations: Operations, operation: CreateVectorExtensionOp) -> None:
    for statement in _extension_statements(operations, create=True):
        operations.execute(statement)


@Operations.implementation_for(DropVectorExtensionOp)
def _drop_vector_extension(operations: Operations, operation: DropVectorExtensionOp) -> None:
    for statement in _extension_statements(operations, create=False):
        operations.execute(statement)


# -- rendering --------------------------------------------------------------------------


def add_imports(autogen_context: AutogenContext) -> None:
    """Make a rendered migration import what ``sqlalchemy_vector`` code in it needs."""
    autogen_context.imports.update(IMPORTS)


def _keywords(**values: Any) -> str:
    return "".join(f", {key}={value!r}" for key, value in values.items())


@renderers.dispatch_for(CreateVectorIndexOp)
def _render_create_vector_index(autogen_context: AutogenContext, operation: CreateVectorIndexOp) -> str:
    add_imports(autogen_context)
    extra: Dict[str, Any] = dict(operation.options)
    if operation.schema is not None:
        extra["schema"] = operation.schema
    if operation.duckdb_experimental_persistence:
        extra["duckdb_experimental_persistence"] = True
    if operation.quantization is not None:
        extra["quantization"] = operation.quantization
    if operation.kind is not None:
        extra["kind"] = operation.kind
    if operation.dim is not None:
        extra["dim"] = operation.dim
    if operation.key is not None:
        extra["key"] = operation.key
    if operation.text_key:
        extra["text_key"] = True
    return (
        f"op.create_vector_index({operation.index_name!r}, {operation.table_name!r}, {operation.column_name!r}"
        f"{_keywords(metric=operation.metric, method=operation.method, **extra)})"
    )


@renderers.dispatch_for(DropVectorIndexOp)
def _render_drop_vector_index(autogen_context: AutogenContext, operation: DropVectorIndexOp) -> str:
    add_imports(autogen_context)
    extra: Dict[str, Any] = {}
    if operation.table_name is not None:
        extra["table_name"] = operation.table_name
    if operation.schema is not None:
        extra["schema"] = operation.schema
    if operation.if_exists:
        extra["if_exists"] = True
    return f"op.drop_vector_index({operation.index_name!r}{_keywords(**extra)})"


@renderers.dispatch_for(AlterVectorDimensionOp)
def _render_alter_vector_dimension(autogen_context: AutogenContext, operation: AlterVectorDimensionOp) -> str:
    add_imports(autogen_context)
    extra: Dict[str, Any] = {"schema": operation.schema} if operation.schema is not None else {}
    if operation.kind is not None:
        extra["kind"] = operation.kind
    return (
        f"# {operation.table_name}.{operation.column_name}: vectors of {operation.existing_dim} dimensions cannot "
        f"become {operation.dim}; the column is reset to NULL, re-embed after this migration.\n"
        f"op.alter_vector_dimension({operation.table_name!r}, {operation.column_name!r}, {operation.dim}"
        f"{_keywords(existing_dim=operation.existing_dim, **extra)})"
    )


@renderers.dispatch_for(CreateVectorExtensionOp)
def _render_create_vector_extension(autogen_context: AutogenContext, operation: CreateVectorExtensionOp) -> str:
    add_imports(autogen_context)
    return "op.create_vector_extension()"


@renderers.dispatch_for(DropVectorExtensionOp)
def _render_drop_vector_extension(autogen_context: AutogenContext, operation: DropVectorExtensionOp) -> str:
    add_imports(autogen_context)
    return "op.drop_vector_extension()"


class DowngradeOnlyOp(MigrateOperation):
    """``operation`` in the downgrade only: the upgrade renders and runs nothing.

    Autogenerate wraps a table change whose reverse alone would lose or be
    refused because of the table's indexes (an added column, which the
    downgrade drops) in these, so the downgrade drops and builds the indexes
    again around it while the upgrade leaves them alone.
    """

    def __init__(self, operation: MigrateOperation) -> None:
        self.operation = operation

    def reverse(self) -> MigrateOperation:
        return self.operation

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("downgrade_only", *self.operation.to_diff_tuple())


@renderers.dispatch_for(DowngradeOnlyOp)
def _render_downgrade_only(autogen_context: AutogenContext, operation: DowngradeOnlyOp) -> List[str]:
    return []


class IdSequenceOp(MigrateOperation):
    """Create (or drop) the sequence a mixin's integer key draws from (``__id_type__ = int``).

    Autogenerate adds it before a new table whose key has a ``Sequence``, on
    databases with sequences; it renders as Alembic's ``op.execute`` of
    SQLAlchemy's ``CreateSequence`` / ``DropSequence``, so the migration needs
    nothing of this package to run.
    """

    def __init__(self, sequence_name: str, *, schema: Optional[str] = None, create: bool = True) -> None:
        self.sequence_name = sequence_name
        self.schema = schema
        self.create = create

    def reverse(self) -> "IdSequenceOp":
        return IdSequenceOp(self.sequence_name, schema=self.schema, create=not self.create)


@renderers.dispatch_for(IdSequenceOp)
def _render_id_sequence(autogen_context: AutogenContext, operation: IdSequenceOp) -> str:
    extra = _keywords(schema=operation.schema) if operation.schema is not None else ""
    construct = "CreateSequence" if operation.create else "DropSequence"
    return f"op.execute(sa.schema.{construct}(sa.Sequence({operation.sequence_name!r}{extra})))"


def _table_key(table: Table, dialect: Union[Dialect, str, None]) -> Dict[str, Any]:
    """``key`` (and ``text_key``) of ``table``'s one Integer, String or Uuid primary-key column, where the index DDL of
    ``dialect``'s backend declares it; nothing elsewhere (or for another key, which such an index refuses)."""
    backend = find_backend(dialect) if dialect is not None else None
    columns = list(table.primary_key.columns)
    if backend is None or not backend.capabilities.index_ddl_needs_table or len(columns) != 1:
        return {}
    if isinstance(columns[0].type, (String, Uuid)):  # a Uuid is text where such an index is (SQLite)
        return {"key": columns[0].name, "text_key": True}
    return {"key": columns[0].name} if isinstance(columns[0].type, Integer) else {}


def _declares_dimension(dialect: Union[Dialect, str, None]) -> bool:
    """Whether the index DDL of ``dialect``'s backend declares the column's dimension."""
    backend = find_backend(dialect) if dialect is not None else None
    return backend is not None and backend.capabilities.index_ddl_declares_dimension
