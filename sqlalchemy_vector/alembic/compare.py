"""Autogenerate comparison for vector columns and vector indexes (an Alembic 1.18+ plugin).

The plugin is opt-in: it runs only where ``autogenerate_plugins`` names
``"sqlalchemy_vector"``, which :func:`sqlalchemy_vector.alembic.context_options`
does.  It

- compares vector dimensions from the database catalog (not from reflected
  types, which DuckDB cannot provide), and renders a dimension change as
  ``op.alter_vector_dimension`` (with the ``kind`` of a compact column); a
  change no migration can make is refused here, before any file is written:
  on a backend that stores no NULL vector (the change resets the column to
  NULL), and on a column the model keeps NOT NULL;
- compares :class:`~sqlalchemy_vector.VectorIndex` objects with the indexes
  :func:`~sqlalchemy_vector.list_vector_indexes` reads, rendering
  ``op.create_vector_index`` / ``op.drop_vector_index`` outside any batch
  block: drops first, creates last, and a drop-and-create around table
  rebuilds that would lose them (SQLite batch copies, DuckDB alterations),
  in the downgrade alone where only the downgrade rebuilds (an added column);
  full-text indexes likewise, where a rebuild loses what keeps them in step
  with their table (SQLite's FTS5 triggers);
- prepends ``op.create_vector_extension()`` to the migration that brings the
  first vector column to a PostgreSQL database.

Alembic's own index comparison must skip vector indexes: the
``include_object`` hook of :mod:`sqlalchemy_vector.alembic` does that.
"""

from __future__ import annotations

import weakref
from typing import Any, Dict, List, Optional, Tuple

from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.runtime.plugins import Plugin
from alembic.util import DispatchPriority, PriorityDispatchResult
from sqlalchemy.engine import Connection
from sqlalchemy.schema import Column, Constraint, Index, MetaData, Sequence, Table

from ..dialects.base import Backend, find_backend
from ..exc import SchemaMismatchError, UnsupportedDialectError, UnsupportedKindError, VectorError, VectorIndexError
from ..fulltext import FullTextIndex, list_fulltext_indexes
from ..index import VectorIndex, create_statements, list_vector_indexes, vector_columns
from ..kinds import CompactVector, kind_type, same_kind_type, stored_kind
from ..types import Vector
from .fulltext import CreateFullTextIndexOp, DropFullTextIndexOp
from .fulltext import drop_op as fulltext_drop_op
from .operations import AlterVectorDimensionOp, CreateVectorExtensionOp, CreateVectorIndexOp, DowngradeOnlyOp
from .operations import DropVectorIndexOp
from .operations import AFTER, ALTER, BEFORE, IdSequenceOp, not_null_refusal, place

__all__ = ["setup"]


class _State:
    """Catalog facts read once per autogenerate run."""

    def __init__(self, connection: Connection, backend: Backend) -> None:
        self.connection = connection
        self.backend = backend
        self._dims: Dict[Tuple[Optional[str], str], Dict[str, int]] = {}
        self._indexes: Dict[Optional[str], List[Dict[str, Any]]] = {}
        self.dimension_changes: Dict[Tuple[Optional[str], str], Dict[str, Tuple[int, int, Optional[str]]]] = {}
        #: Vector indexes of the database that include_object leaves out, as drops whose reverse builds them again
        #: (what a table rebuild must do to keep them).
        self.excluded: Dict[Tuple[Optional[str], str], Dict[str, DropVectorIndexOp]] = {}

    def dims(self, table_name: str, schema: Optional[str]) -> Dict[str, int]:
        key = (schema, table_name)
        if key not in self._dims:
            self._dims[key] = vector_columns(self.connection, table_name, schema=schema)
        return self._dims[key]

    def indexes(self, table_name: str, schema: Optional[str]) -> List[Dict[str, Any]]:
        if schema not in self._indexes:
            self._indexes[schema] = list_vector_indexes(self.connection, schema=schema)
        return [found for found in self._indexes[schema] if found["table"] == table_name]

    def fulltext_indexes(self, table_name: str, schema: Optional[str]) -> List[Dict[str, Any]]:
        if not self.backend.capabilities.fulltext_search:
            return []
        return list_fulltext_indexes(self.connection, table_name, schema=schema)


_STATES: "weakref.WeakKeyDictionary[AutogenContext, _State]" = weakref.WeakKeyDictionary()


def _state(autogen_context: AutogenContext) -> Optional[_State]:
    connection = autogen_context.connection
    backend = find_backend(connection.dialect) if connection is not None else None
    if connection is None or backend is None:
        return None
    state = _STATES.get(autogen_context)
    if state is None:
        state = _STATES[autogen_context] = _State(connection, backend)
    return state


def _compare_type(
    autogen_context: AutogenContext,
    alter_column_op: ops.AlterColumnOp,
    schema: Optional[str],
    tname: str,
    cname: str,
    conn_col: Column[Any],
    metadata_col: Column[Any],
) -> PriorityDispatchResult:
    """Vector columns: compare dimensions from the catalog; other columns: Alembic's comparison."""
    state = _state(autogen_context)
    if state is None:
        return PriorityDispatchResult.CONTINUE
    if isinstance(metadata_col.type, CompactVector):
        declared = metadata_col.type
        try:  # a kind the database cannot store: refused before any migration is written, as CREATE TABLE is
            state.backend.kind_storage_type(declared.kind, declared.dim)
        except UnsupportedKindError as err:
            raise UnsupportedKindError(f"{tname}.{cname} ({declared!r}): {err}") from None
        if same_kind_type(conn_col.type, declared, state.connection.dialect):
            return PriorityDispatchResult.STOP
        stored = stored_kind(conn_col.type, state.connection.dialect)
        if stored is None or stored[0] != declared.kind:  # not this kind in the database: Alembic renders the change
            if stored is not None:
                _kind_change(state, tname, cname, declared.kind, stored[0], declared.dim)
            elif state.dims(tname, schema).get(cname) is not None:
                _kind_change(state, tname, cname, declared.kind, "float32", declared.dim)
            return PriorityDispatchResult.CONTINUE
        alter_column_op.existing_type = kind_type(declared.kind, stored[1])
        _dimension_change(state, schema, tname, metadata_col, stored[1], declared.dim, declared.kind)
        return PriorityDispatchResult.STOP
    if not isinstance(metadata_col.type, Vector):
        if state.backend.same_reflected_type(conn_col.type, metadata_col.type, state.connection.dialect):
            return PriorityDispatchResult.STOP
        return PriorityDispatchResult.CONTINUE
    db_dim = state.dims(tname, schema).get(cname)
    if db_dim is None:  # not a vector in the database: a real type change, Alembic renders it
        stored = stored_kind(conn_col.type, state.connection.dialect)
        if stored is not None:
            _kind_change(state, tname, cname, "float32", stored[0], metadata_col.type.dim)
        return PriorityDispatchResult.CONTINUE
    alter_column_op.existing_type = Vector(db_dim)
    _dimension_change(state, schema, tname, metadata_col, db_dim, metadata_col.type.dim, None)
    return PriorityDispatchResult.STOP


def _kind_change(state: _State, tname: str, cname: str, kind: str, existing_kind: str, dim: int) -> None:
    """Refuse a change of vector kind the ``ALTER COLUMN`` Alembic renders cannot make on this backend."""
    refusal = state.backend.kind_change_refusal(tname, cname, kind, existing_kind, dim)
    if refusal is not None:
        raise SchemaMismatchError(refusal)


def _dimension_change(
    state: _State, schema: Optional[str], tname: str, column: Column[Any], old: int, new: int, kind: Optional[str]
) -> None:
    """Record a change of ``column`` from ``old`` to ``new`` dimensions, or refuse one no migration can make.

    Refused here, before any migration is written: a backend that stores no
    NULL vector (the change resets the column to NULL), and a column the model
    keeps NOT NULL (the reset would break it; Alembic would make it NOT NULL
    before the reset, too).
    """
    if old == new:
        return
    refusal = state.backend.dimension_change_refusal(tname, column.name, new, old)
    if refusal is not None:
        raise UnsupportedDialectError(refusal)
    if column.nullable is False:
        raise SchemaMismatchError(not_null_refusal(tname, column.name, new, old))
    state.dimension_changes.setdefault((schema, tname), {})[column.name] = (old, new, kind)


def _same_index(found: Dict[str, Any], index: VectorIndex, state: _State) -> bool:
    # describe() reports what the backend's catalog can tell: its method, and
    # options only where the catalog keeps them.
    wanted = index.describe(state.connection.dialect)
    if found["metric"] is not None and found["metric"] != wanted["metric"]:
        return False
    return all(found.get(key) == wanted[key] for key in ("column", "method", "options", "quantization"))


def _compare_table(
    autogen_context: AutogenContext,
    modify_table_ops: ops.ModifyTableOps,
    schema: Optional[str],
    tname: str,
    conn_table: Optional[Table],
    metadata_table: Optional[Table],
) -> PriorityDispatchResult:
    state = _state(autogen_context)
    if state is None:
        return PriorityDispatchResult.CONTINUE
    dialect = state.connection.dialect

    if conn_table is not None:
        # duckdb_engine 0.17 reflects FLOAT[n] as NullType; a dropped column or
        # table is re-created from these types in the downgrade.
        dims = state.dims(tname, schema)
        for col in conn_table.columns:
            if col.name in dims and not isinstance(col.type, Vector):
                col.type = Vector(dims[col.name])
            elif not isinstance(col.type, CompactVector) and (metadata_table is None or col.name not in metadata_table.c):
                # A dropped column of a compact kind the catalog cannot name (DuckDB's BIT).
                stored = state.backend.reflected_kind(state.connection, tname, col.name, schema, col.type)
                if stored is not None:
                    col.type = kind_type(*stored)

    changes = state.dimension_changes.get((schema, tname), {})
    for cname, (old, new, kind) in sorted(changes.items()):
        modify_table_ops.ops.append(
            place(AlterVectorDimensionOp(tname, cname, new, existing_dim=old, schema=schema, kind=kind), ALTER)
        )

    wanted = {
        index.name: index
        for index in (metadata_table.indexes if metadata_table is not None else ())
        if isinstance(index, VectorIndex)
        and autogen_context.run_object_filters(index, index.name, "vector_index", False, None)  # type: ignore[arg-type]
    }
    existing = []
    for found in state.indexes(tname, schema) if conn_table is not None else []:
        # include_object sees the database's vector indexes too (reflected=True), as Alembic shows it its indexes.
        reflected = _reflected_drop(found, schema, state, conn_table)
        stand_in = _stand_in(reflected, state.dims(tname, schema).get(found["column"]) or 1)
        if autogen_context.run_object_filters(stand_in, found["name"], "vector_index", True, wanted.get(found["name"])):  # type: ignore[arg-type]
            existing.append(found)
        else:
            state.excluded.setdefault((schema, tname), {})[found["name"]] = reflected
    # A column changing type (Vector to HalfVector) needs another operator class: its index is built again,
    # and the downgrade's from what the database has now.
    retyped = {
        op.column_name for op in modify_table_ops.ops if isinstance(op, ops.AlterColumnOp) and op.modify_type is not None
    }
    dropped = set()
    for found in existing:
        index = wanted.get(found["name"])
        same = index is not None and _same_index(found, index, state) and found["column"] not in retyped
        if same and found["column"] not in changes:
            continue
        drop = _reflected_drop(found, schema, state, conn_table, index=index if same else None)
        modify_table_ops.ops.append(place(drop, BEFORE))
        dropped.add(found["name"])
    present = {found["name"] for found in existing}
    for name, index in wanted.items():
        if name not in present or name in dropped:
            # An index this database cannot build (a kind or column name its index refuses) is refused here,
            # before a migration is written that would fail after changing the table.
            create_statements(index, dialect)
            refusal = state.backend.index_refusal(state.connection, index)  # this database's settings
            if refusal is not None:
                raise VectorIndexError(refusal)
            modify_table_ops.ops.append(place(CreateVectorIndexOp.from_index(index, dialect), AFTER))
    return PriorityDispatchResult.CONTINUE


def _stand_in(drop: DropVectorIndexOp, dim: int) -> Index:
    """The index ``drop``'s reverse builds, for include_object: a VectorIndex on a stand-in table.

    (A plain ``Index`` of the name and column where the database reports an
    index its column type cannot declare, e.g. of a kind reflection cannot tell.)
    """
    create = drop.reverse()
    try:
        return create.to_index(dim)
    except VectorError:
        table = Table(create.table_name, MetaData(), Column(create.column_name, Vector(dim)), schema=create.schema)
        return Index(create.index_name, table.c[create.column_name])


def _reflected_drop(
    found: Dict[str, Any],
    schema: Optional[str],
    state: _State,
    conn_table: Optional[Table],
    index: Optional[VectorIndex] = None,
) -> DropVectorIndexOp:
    """The drop of an index the database has; its reverse builds it again (from ``index`` where given)."""
    return DropVectorIndexOp.from_reflected(
        found,
        schema,
        dialect=state.connection.dialect,
        index=index,
        kind=_column_kind(conn_table, found["column"], state.connection.dialect),
        dim=state.dims(found["table"], schema).get(found["column"]),
        table=conn_table,
    )


def _column_kind(table: Optional[Table], column_name: Optional[str], dialect: Any) -> Optional[str]:
    """The compact kind of a reflected column that a vector index covers (None: a Vector, or unknown)."""
    if table is None or column_name is None or column_name not in table.c:
        return None
    found = stored_kind(table.c[column_name].type, dialect)
    return found[0] if found is not None else None


def _rebuilds_table(backend: Backend, operations: List[Any]) -> bool:
    """Whether the table's other changes would destroy (or be refused because of) its vector indexes.

    SQLite's batch mode copies the table, losing the sync triggers; DuckDB
    refuses most ALTER TABLE on an indexed table.
    """
    return any(not backend.migration_keeps_vector_indexes(op) for op in operations)


def _created_here(obj: Any, connection: Connection) -> bool:
    """False for a model's index or constraint whose ``ddl_if`` leaves it out on this database.

    (The mixins' ``document_id`` index and foreign key, on a backend without
    usable foreign keys.)  Alembic would otherwise add it on every autogenerate,
    and write it into the ``create_table`` of a new table.
    """
    condition = getattr(obj, "_ddl_if", None)  # set by SchemaItem.ddl_if(); no public accessor
    if condition is None:
        return True
    return bool(condition._should_execute(None, obj, connection))


def _finish(
    autogen_context: AutogenContext, upgrade_ops: ops.UpgradeOps, schemas: Any
) -> PriorityDispatchResult:
    state = _state(autogen_context)
    if state is None:
        return PriorityDispatchResult.CONTINUE
    dialect = state.connection.dialect
    arranged: List[Any] = []
    for operation in upgrade_ops.ops:
        if isinstance(operation, ops.CreateTableOp):
            # A new table's constraints, as create_all leaves them out here (the foreign key on DuckDB).
            operation.columns = [
                item for item in operation.columns
                if not isinstance(item, Constraint) or _created_here(item, state.connection)
            ]
        if not isinstance(operation, ops.ModifyTableOps):
            arranged.append(operation)
            continue
        ours: List[Any] = [op for op in operation.ops if getattr(op, "_vector_position", None)]
        remaining = [op for op in operation.ops if not getattr(op, "_vector_position", None)]
        before = [op for op in ours if op._vector_position == BEFORE]
        alter = [op for op in ours if op._vector_position == ALTER]
        after = [op for op in ours if op._vector_position == AFTER]
        table_name, schema = operation.table_name, operation.schema
        metadata_table = autogen_context.table_key_to_table.get(f"{schema}.{table_name}" if schema else table_name)
        if _rebuilds_table(state.backend, remaining + alter):
            dropping = {op.index_name for op in before if isinstance(op, DropVectorIndexOp)}
            indexes = _declared(metadata_table, VectorIndex)
            excluded = state.excluded.get((schema, table_name), {})
            for found in state.indexes(table_name, schema):
                if found["name"] in dropping:
                    continue
                index = indexes.get(found["name"])
                if found["name"] in excluded and index is None:  # left out by include_object: kept as it is
                    before.append(excluded[found["name"]])
                    after.append(excluded[found["name"]].reverse())
                    continue
                dim = state.dims(table_name, schema).get(found["column"])
                before.append(DropVectorIndexOp.from_reflected(found, schema, dialect=dialect, index=index, dim=dim))
                if index is not None:
                    after.append(CreateVectorIndexOp.from_index(index, dialect))
        elif _rebuilds_table(state.backend, _reversed(remaining)):
            _wrap_downgrade(state, table_name, schema, metadata_table, before, after, fulltext=False)
        if any(not state.backend.migration_keeps_fulltext_indexes(op) for op in remaining + alter):
            _rebuild_fulltext_indexes(state, table_name, schema, metadata_table, before, after)
        elif any(not state.backend.migration_keeps_fulltext_indexes(op) for op in _reversed(remaining)):
            _wrap_downgrade(state, table_name, schema, metadata_table, before, after, fulltext=True)
        operation.ops = remaining
        arranged += before + ([operation] if remaining else []) + alter + after
    upgrade_ops.ops = arranged

    if state.connection.dialect.supports_sequences:
        upgrade_ops.ops = [new for operation in upgrade_ops.ops for new in _with_id_sequences(operation)]

    # The migration that adds the first vector column also creates the extension (one installed apart, in a
    # schema of its own, is left alone: its downgrade would drop it from there).
    if (
        state.backend.vector_extension_statements(create=True)
        and _metadata_has_vectors(autogen_context)
        and not state.backend.database_has_vectors(state.connection)
        and not state.backend.extension_installed_apart(state.connection)
    ):
        upgrade_ops.ops.insert(0, CreateVectorExtensionOp())
    return PriorityDispatchResult.CONTINUE


def _declared(metadata_table: Optional[Table], kind: type) -> Dict[str, Any]:
    """The indexes of ``kind`` (VectorIndex, FullTextIndex) the models declare on a table, by name (none if the
    models do not have the table)."""
    indexes = metadata_table.indexes if metadata_table is not None else ()
    return {str(index.name): index for index in indexes if isinstance(index, kind)}


def _reversed(operations: List[Any]) -> List[Any]:
    """What the downgrade runs for ``operations`` (an operation Alembic cannot reverse is left out)."""
    reverses = []
    for operation in operations:
        try:
            reverses.append(operation.reverse())
        except (NotImplementedError, ValueError):
            continue
    return reverses


def _wrap_downgrade(
    state: _State,
    table_name: str,
    schema: Optional[str],
    metadata_table: Optional[Table],
    before: List[Any],
    after: List[Any],
    *,
    fulltext: bool,
) -> None:
    """Drop the indexes the migration keeps before its downgrade's table change, and build them again after it.

    For a change whose reverse alone copies or alters the table (an added
    column, dropped by the downgrade: SQLite copies the table, losing the
    sync triggers; DuckDB refuses to alter an indexed table).  The upgrade
    leaves the indexes alone: the operations are :class:`DowngradeOnlyOp`.
    """
    declared = _declared(metadata_table, FullTextIndex if fulltext else VectorIndex)
    drop_kind = DropFullTextIndexOp if fulltext else DropVectorIndexOp
    dropping = {op.index_name for op in before if isinstance(op, drop_kind)}
    found_indexes = state.fulltext_indexes(table_name, schema) if fulltext else state.indexes(table_name, schema)
    excluded = state.excluded.get((schema, table_name), {})
    for found in found_indexes:
        index = declared.get(found["name"])
        if found["name"] in dropping:
            continue  # dropped by the upgrade: its downgrade builds it again after the table change
        drop: Any
        if index is None:  # not declared, not dropped: left out by include_object, kept as it is
            drop = fulltext_drop_op(found, schema) if fulltext else excluded.get(found["name"])
            if drop is None:
                continue
        elif isinstance(index, FullTextIndex):
            drop = DropFullTextIndexOp(str(index.name), table_name, schema=schema, reverse=CreateFullTextIndexOp.from_index(index))
        else:
            drop = DropVectorIndexOp(
                str(index.name), table_name, schema=schema, _reverse=CreateVectorIndexOp.from_index(index, state.connection.dialect)
            )
        # Upgrade order before, table change, after; the downgrade runs the reverses backwards.
        before.append(DowngradeOnlyOp(drop.reverse()))
        after.append(DowngradeOnlyOp(drop))


def _rebuild_fulltext_indexes(
    state: _State,
    table_name: str,
    schema: Optional[str],
    metadata_table: Optional[Table],
    before: List[Any],
    after: List[Any],
) -> None:
    """Drop the table's full-text indexes before a change that would lose them, and build them again after it.

    (SQLite's batch copy drops the FTS5 sync triggers with the old table: the
    index would stop following writes, silently.)  One ``include_object``
    leaves out is built again as the database has it.  An index the model no
    longer declares is dropped, and not built again.
    """
    dropping = {op.index_name for op in before if isinstance(op, DropFullTextIndexOp)}
    creating = {op.index_name for op in after if isinstance(op, CreateFullTextIndexOp)}
    declared = _declared(metadata_table, FullTextIndex)
    for found in state.fulltext_indexes(table_name, schema):
        if found["name"] in dropping:
            continue
        drop = fulltext_drop_op(found, schema)
        before.append(drop)
        index = declared.get(found["name"])
        if index is None:  # not declared, not dropped: left out by include_object, built again as it is
            after.append(drop.reverse())
        elif found["name"] not in creating:
            after.append(CreateFullTextIndexOp.from_index(index))


def _with_id_sequences(operation: Any) -> List[Any]:
    """A new table whose integer key has a ``Sequence`` (the mixins' ``__id_type__ = int``), after its sequence.

    Alembic renders neither the sequence nor its creation; without them the
    key would render as ``BIGSERIAL`` (which DuckDB lacks) and the model's
    ``nextval`` would find no sequence.  The key is rendered with
    ``autoincrement=False``: the model's sequence, created here, numbers rows.
    """
    if not isinstance(operation, ops.CreateTableOp):
        return [operation]
    sequences: List[Sequence] = []
    columns: List[Any] = []
    for item in operation.columns:
        if isinstance(item, Column) and isinstance(item.default, Sequence) and not item.default.optional:
            sequences.append(item.default)
            item = item._copy()
            item.autoincrement = False
        columns.append(item)
    if not sequences:
        return [operation]
    operation.columns = columns
    return [IdSequenceOp(seq.name, schema=seq.schema) for seq in sequences] + [operation]


def _compare_nullable(
    autogen_context: AutogenContext,
    alter_column_op: ops.AlterColumnOp,
    schema: Optional[str],
    tname: str,
    cname: str,
    conn_col: Column[Any],
    metadata_col: Column[Any],
) -> PriorityDispatchResult:
    """A vector column where the backend stores no NULL vector is NOT NULL whatever the model says: no change."""
    state = _state(autogen_context)
    if state is None or state.backend.capabilities.null_vectors or not isinstance(metadata_col.type, Vector):
        return PriorityDispatchResult.CONTINUE
    alter_column_op.existing_nullable = conn_col.nullable
    return PriorityDispatchResult.STOP


def _metadata_has_vectors(autogen_context: AutogenContext) -> bool:
    return any(isinstance(col.type, (Vector, CompactVector)) for table in autogen_context.sorted_tables for col in table.columns)


def setup(plugin: Plugin) -> None:
    """Register the comparison functions on ``plugin`` (Alembic's plugin protocol)."""
    plugin.add_autogenerate_comparator(_compare_type, "column", "types", priority=DispatchPriority.FIRST)
    plugin.add_autogenerate_comparator(_compare_nullable, "column", "nullable", priority=DispatchPriority.FIRST)
    plugin.add_autogenerate_comparator(_compare_table, "table", "vector_indexes")
    plugin.add_autogenerate_comparator(_finish, "schema", "vector_operations", priority=DispatchPriority.LAST)
