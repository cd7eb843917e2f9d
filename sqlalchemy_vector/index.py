"""Vector indexes: HNSW and IVFFlat on PostgreSQL, HNSW on DuckDB, an exact ``vec0`` table on SQLite.

:class:`VectorIndex` is an :class:`~sqlalchemy.schema.Index`: declare it in
``__table_args__`` or on a :class:`~sqlalchemy.schema.Table`, and
``metadata.create_all()`` / ``drop_all()`` build and remove it.

- PostgreSQL: ``CREATE INDEX ... USING hnsw|ivfflat (col vector_<metric>_ops)
  WITH (...)``, emitted by SQLAlchemy's own PostgreSQL compiler from the
  index's ``postgresql_using`` / ``postgresql_ops`` / ``postgresql_with``
  options.  The operator class is keyed on the column's resolved key when the
  index is attached to its table, so it cannot be lost to a name mismatch.
- DuckDB: ``CREATE INDEX ... USING HNSW (col) WITH (metric = ...)``, from the
  vss extension that :func:`sqlalchemy_vector.create_engine` loads offline.
- SQLite: a ``vec0`` virtual table of sqlite-vec named after the index,
  filled from the base table and kept in sync by three triggers.  vec0 is an
  exact (brute-force) search, faster than scanning the base table because it
  reads contiguous float32 chunks; query it with
  :func:`sqlalchemy_vector.knn`, which emits the ``MATCH ... AND k = ?`` form
  vec0 requires.

:func:`create_vector_index`, :func:`drop_vector_index` and
:func:`list_vector_indexes` do the same from a connection, with the same
dictionary keys on every backend.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Union

from sqlalchemy import Integer, Table, event, insert, select, table, text
from sqlalchemy import column as sql_column
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import Column, CreateIndex, ExecutableDDLElement, Index
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.sql.expression import Executable

from .dialects import engine_state
from .exc import MissingExtensionError, UnsupportedDialectError, UnsupportedMetricError, VectorIndexError
from .types import Vector

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "INDEX_METHODS",
    "INDEX_METRICS",
    "VectorIndex",
    "CreateVectorIndex",
    "DropVectorIndex",
    "create_vector_index",
    "drop_vector_index",
    "list_vector_indexes",
    "vector_columns",
]

#: Index methods; on SQLite every method builds the exact vec0 table.
INDEX_METHODS: tuple[str, ...] = ("hnsw", "ivfflat")

#: Metrics an index can serve: the ascending distances of :data:`sqlalchemy_vector.METRICS`.
INDEX_METRICS: tuple[str, ...] = ("cosine", "l2", "max_inner_product", "l1")

_METRIC_ALIASES = {"ip": "max_inner_product"}

_OPTIONS: Dict[str, tuple[str, ...]] = {"hnsw": ("m", "ef_construction"), "ivfflat": ("lists",)}

_PG_OPCLASS = {
    "cosine": "vector_cosine_ops",
    "l2": "vector_l2_ops",
    "max_inner_product": "vector_ip_ops",
    "l1": "vector_l1_ops",
}
# pgvector 0.8: IVFFlat has no L1 operator class.
_PG_METHOD_METRICS = {"hnsw": tuple(_PG_OPCLASS), "ivfflat": ("cosine", "l2", "max_inner_product")}

# vss 1.5: l2sq orders like array_distance, ip like array_negative_inner_product.
_DUCKDB_METRIC = {"cosine": "cosine", "l2": "l2sq", "max_inner_product": "ip"}

_VEC0_METRIC = {"cosine": "cosine", "l2": "l2", "l1": "L1"}

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# What the index structure's SQL says, read back by list_vector_indexes().
_VEC0_DECLARATION = re.compile(
    r"USING\s+vec0\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s+float\[(\d+)\](?:\s+distance_metric\s*=\s*([A-Za-z0-9_]+))?",
    re.IGNORECASE,
)
_TRIGGER_SUFFIXES = ("insert", "update", "delete")


def normalize_metric(metric: str, where: str) -> str:
    """The canonical index metric for ``metric`` (``"ip"`` is ``"max_inner_product"``)."""
    metric = _METRIC_ALIASES.get(metric, metric)
    if metric == "inner_product":
        raise UnsupportedMetricError(
            f"{where}: no index serves 'inner_product' (larger is closer, ordered descending); "
            "use 'max_inner_product', the negative dot product in ascending order, which ranks the same"
        )
    if metric not in INDEX_METRICS:
        raise UnsupportedMetricError(
            f"{where}: unknown metric {metric!r}; expected one of {', '.join(INDEX_METRICS)} (or 'ip')"
        )
    return metric


class VectorIndex(Index):
    """A nearest-neighbour index on one :class:`~sqlalchemy_vector.Vector` column.

    ``metric`` is the distance the index serves (``cosine``, ``l2``,
    ``max_inner_product`` / ``ip``, ``l1``); a query uses the index when it
    orders by that distance ascending with a ``LIMIT``.  ``method`` is
    ``"hnsw"`` (PostgreSQL, DuckDB) or ``"ivfflat"`` (PostgreSQL); SQLite
    always builds an exact vec0 table.  ``options`` are the method's build
    parameters: ``m`` and ``ef_construction`` for HNSW, ``lists`` for IVFFlat.

    ``duckdb_experimental_persistence=True`` allows the index on a DuckDB
    *file* database, where vss marks HNSW persistence experimental: it runs
    ``SET hnsw_enable_experimental_persistence = true`` before building.  Open
    such a file only through :func:`sqlalchemy_vector.create_engine`, which
    loads vss on every connection: without vss (DuckDB 1.5.5) the table
    cannot be written, and replaying the write-ahead log there can silently
    drop index entries.
    """

    def __init__(
        self,
        name: str,
        column: Any,
        metric: str = "cosine",
        method: str = "hnsw",
        *,
        duckdb_experimental_persistence: bool = False,
        **options: int,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise VectorIndexError(f"VectorIndex needs a name (a non-empty string), got {name!r}")
        where = f"VectorIndex {name!r}"
        self.metric: str = normalize_metric(metric, where)
        if method not in INDEX_METHODS:
            raise VectorIndexError(f"{where}: unknown method {method!r}; expected one of {', '.join(INDEX_METHODS)}")
        self.method: str = method
        self.options: Dict[str, int] = _validate_options(options, method, where)
        if method == "ivfflat" and self.metric not in _PG_METHOD_METRICS["ivfflat"]:
            raise VectorIndexError(
                f"{where}: pgvector's IVFFlat has no operator class for {self.metric!r}; use method='hnsw'"
            )
        self.duckdb_experimental_persistence = bool(duckdb_experimental_persistence)
        super().__init__(name, column, postgresql_using=method, postgresql_with=dict(self.options))
        # PostgreSQL builds it through SQLAlchemy's CreateIndex; DuckDB and
        # SQLite through create_vector_index() in the DDL events below.
        self.ddl_if(callable_=_created_by_create_index)  # type: ignore[arg-type]
        event.listen(self, "after_create", _after_index_create)
        event.listen(self, "after_drop", _after_index_drop)
        if self.table is not None:
            self._attached(self.table)
        else:
            event.listen(self, "after_parent_attach", _after_parent_attach)

    def __repr__(self) -> str:
        target = (
            f"{self.table.name}.{self.vector_column.name}" if self.table is not None else repr(self.expressions[0])
        )
        options = "".join(f", {key}={value!r}" for key, value in self.options.items())
        return f"VectorIndex({self.name!r}, {target!r}, metric={self.metric!r}, method={self.method!r}{options})"

    @property
    def index_name(self) -> str:
        """The index name as a plain string (always set for a VectorIndex)."""
        return str(self.name)

    @property
    def bound_table(self) -> Table:
        """The table the index belongs to."""
        if self.table is None:
            raise VectorIndexError(f"VectorIndex {self.name!r} is not attached to a table; add it to a Table first")
        return self.table

    @property
    def vector_column(self) -> Column[Any]:
        """The indexed column (once the index is attached to its table)."""
        if self.table is None:
            raise VectorIndexError(f"VectorIndex {self.name!r} is not attached to a table yet")
        return self.expressions[0]  # type: ignore[return-value]

    @property
    def dim(self) -> int:
        """Dimensions of the indexed column."""
        return self.vector_column.type.dim  # type: ignore[no-any-return,attr-defined]

    def describe(self, dialect_name: str) -> Dict[str, Any]:
        """What :func:`list_vector_indexes` reports for this index once built on ``dialect_name``."""
        column = self.vector_column
        options: Dict[str, int]
        if dialect_name == "sqlite":
            method, options = "vec0", {}
        elif dialect_name == "duckdb":
            # vss keeps m / ef_construction internal: nothing to read them back from.
            method, options = self.method, {}
        else:
            method, options = self.method, dict(self.options)
        return {
            "name": self.index_name,
            "table": self.bound_table.name,
            "column": column.name,
            "metric": self.metric,
            "method": method,
            "options": options,
        }

    def _attached(self, table: Table) -> None:
        where = f"VectorIndex {self.name!r}"
        if len(self.expressions) != 1:
            raise VectorIndexError(f"{where} indexes exactly one Vector column, got {len(self.expressions)} expressions")
        column = self.expressions[0]
        if not isinstance(column, Column) or column.table is not table:
            raise VectorIndexError(f"{where} must index a column of table {table.name!r}, got {column!r}")
        if not isinstance(column.type, Vector):
            raise VectorIndexError(
                f"{where} indexes {table.name}.{column.name} of type {column.type!r}; "
                "expected a Vector(dim) column"
            )
        # Keyed on the column's key, which is what PostgreSQL's compiler looks up.
        self.dialect_options["postgresql"]["ops"] = {column.key: _PG_OPCLASS[self.metric]}
        event.listen(table, "before_drop", self._before_table_drop)

    def _before_table_drop(self, target: Table, connection: Connection, **kw: Any) -> None:
        # DROP TABLE takes PostgreSQL and DuckDB indexes and SQLite's triggers
        # with it; the vec0 table is a table of its own.
        if connection.dialect.name == "sqlite" and self.table is target:
            for statement in _drop_statements(self.index_name, None, connection.dialect, if_exists=True):
                connection.execute(statement)


def _validate_options(options: Dict[str, Any], method: str, where: str) -> Dict[str, int]:
    allowed = _OPTIONS[method]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise VectorIndexError(
            f"{where}: unknown option(s) {', '.join(unknown)} for method {method!r}; "
            f"expected {', '.join(allowed)}"
        )
    result = {}
    for key in allowed:
        if key not in options:
            continue
        value = options[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise VectorIndexError(f"{where}: option {key} expects a positive integer, got {value!r}")
        result[key] = value
    return result


def _created_by_create_index(ddl: Any, target: Any, bind: Any, **kw: Any) -> bool:
    return bool(kw["dialect"].name == "postgresql")


def _after_index_create(target: VectorIndex, connection: Connection, **kw: Any) -> None:
    if connection.dialect.name != "postgresql":
        create_vector_index(connection, target)


def _after_index_drop(target: VectorIndex, connection: Connection, **kw: Any) -> None:
    if connection.dialect.name != "postgresql":
        drop_vector_index(connection, target)


def _after_parent_attach(target: VectorIndex, parent: Any) -> None:
    if isinstance(parent, Table):
        target._attached(parent)


# -- DDL constructs ---------------------------------------------------------------


class CreateVectorIndex(ExecutableDDLElement):
    """The statement that builds a :class:`VectorIndex` on the target dialect.

    On SQLite this is the ``CREATE VIRTUAL TABLE ... USING vec0`` statement
    only; :func:`create_vector_index` also fills it and adds the sync triggers.
    """

    inherit_cache = False

    def __init__(self, element: VectorIndex, if_not_exists: bool = False) -> None:
        self.element = element
        self.if_not_exists = if_not_exists


class DropVectorIndex(ExecutableDDLElement):
    """The statement that drops a vector index (on SQLite, its vec0 table) by name."""

    inherit_cache = False

    def __init__(self, name: str, schema: Optional[str] = None, if_exists: bool = False) -> None:
        self.name = name
        self.schema = schema
        self.if_exists = if_exists


class _Vec0SyncTrigger(ExecutableDDLElement):
    """One of the three triggers that copy a base table's vectors into its vec0 table."""

    inherit_cache = False

    def __init__(self, index: VectorIndex, kind: str) -> None:
        self.index = index
        self.kind = kind


class _DropTrigger(ExecutableDDLElement):
    inherit_cache = False

    def __init__(self, name: str) -> None:
        self.name = name


def trigger_names(index_name: str) -> List[str]:
    """Names of the SQLite triggers that keep ``index_name``'s vec0 table in sync."""
    return [f"{index_name}_sync_{kind}" for kind in _TRIGGER_SUFFIXES]


@compiles(CreateVectorIndex)
def _create_unsupported(element: CreateVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    raise UnsupportedDialectError(
        f"VectorIndex {element.element.name!r} cannot be built on the {compiler.dialect.name!r} dialect; "
        "vector indexes exist on postgresql, duckdb and sqlite"
    )


@compiles(DropVectorIndex)
def _drop_unsupported(element: DropVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    raise UnsupportedDialectError(
        f"vector index {element.name!r} cannot be dropped on the {compiler.dialect.name!r} dialect; "
        "vector indexes exist on postgresql, duckdb and sqlite"
    )


@compiles(CreateVectorIndex, "postgresql")
def _create_postgresql(element: CreateVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    index = element.element
    column = index.vector_column
    ops = index.dialect_options["postgresql"]["ops"]
    if ops.get(column.key) != _PG_OPCLASS[index.metric]:  # pragma: no cover - set when attached
        raise VectorIndexError(f"VectorIndex {index.name!r} lost its operator class; re-create the index object")
    _check_metric(index, "postgresql", _PG_METHOD_METRICS[index.method])
    return compiler.process(CreateIndex(index, if_not_exists=element.if_not_exists), **kw)


@compiles(CreateVectorIndex, "duckdb")
def _create_duckdb(element: CreateVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    index = element.element
    if index.method != "hnsw":
        raise VectorIndexError(
            f"VectorIndex {index.name!r}: DuckDB's vss extension builds HNSW indexes only, not {index.method!r}; "
            "use method='hnsw'"
        )
    _check_metric(index, "duckdb", tuple(_DUCKDB_METRIC))
    preparer = compiler.preparer
    parameters = [f"metric = '{_DUCKDB_METRIC[index.metric]}'"]
    parameters += [f"{key} = {int(value)}" for key, value in index.options.items()]
    return (
        f"CREATE INDEX {'IF NOT EXISTS ' if element.if_not_exists else ''}{preparer.quote(index.index_name)} "
        f"ON {preparer.format_table(index.bound_table)} USING HNSW ({preparer.quote(index.vector_column.name)}) "
        f"WITH ({', '.join(parameters)})"
    )


@compiles(CreateVectorIndex, "sqlite")
def _create_sqlite(element: CreateVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    index = element.element
    _check_metric(index, "sqlite", tuple(_VEC0_METRIC))
    column = _vec0_column_name(index)
    return (
        f"CREATE VIRTUAL TABLE {'IF NOT EXISTS ' if element.if_not_exists else ''}"
        f"{compiler.preparer.quote(index.index_name)} USING vec0("
        f"{column} float[{index.dim}] distance_metric={_VEC0_METRIC[index.metric]})"
    )


@compiles(_Vec0SyncTrigger, "sqlite")
def _create_trigger(element: _Vec0SyncTrigger, compiler: DDLCompiler, **kw: Any) -> str:
    index = element.index
    quote = compiler.preparer.quote
    vec, base = quote(index.index_name), quote(index.bound_table.name)
    column = quote(index.vector_column.name)
    pk = quote(_sqlite_rowid_column(index).name)
    target = f"{vec}(rowid, {quote(_vec0_column_name(index))})"
    name = quote(f"{index.name}_sync_{element.kind}")
    if element.kind == "insert":
        return (
            f"CREATE TRIGGER {name} AFTER INSERT ON {base} WHEN NEW.{column} IS NOT NULL "
            f"BEGIN INSERT INTO {target} VALUES (NEW.{pk}, NEW.{column}); END"
        )
    if element.kind == "update":
        # vec0 (sqlite-vec 0.1.9) has no upsert: delete, then insert.
        return (
            f"CREATE TRIGGER {name} AFTER UPDATE OF {pk}, {column} ON {base} "
            f"BEGIN DELETE FROM {vec} WHERE rowid = OLD.{pk}; "
            f"INSERT INTO {target} SELECT NEW.{pk}, NEW.{column} WHERE NEW.{column} IS NOT NULL; END"
        )
    return f"CREATE TRIGGER {name} AFTER DELETE ON {base} BEGIN DELETE FROM {vec} WHERE rowid = OLD.{pk}; END"


@compiles(_DropTrigger, "sqlite")
def _drop_trigger(element: _DropTrigger, compiler: DDLCompiler, **kw: Any) -> str:
    return f"DROP TRIGGER IF EXISTS {compiler.preparer.quote(element.name)}"


def _qualified(name: str, schema: Optional[str], compiler: DDLCompiler) -> str:
    quote = compiler.preparer.quote
    return f"{quote(schema)}.{quote(name)}" if schema else quote(name)


@compiles(DropVectorIndex, "postgresql")
@compiles(DropVectorIndex, "duckdb")
def _drop_index(element: DropVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    return f"DROP INDEX {'IF EXISTS ' if element.if_exists else ''}{_qualified(element.name, element.schema, compiler)}"


@compiles(DropVectorIndex, "sqlite")
def _drop_vec0(element: DropVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    return f"DROP TABLE {'IF EXISTS ' if element.if_exists else ''}{_qualified(element.name, element.schema, compiler)}"


def _check_metric(index: VectorIndex, dialect_name: str, supported: Sequence[str]) -> None:
    if index.metric not in supported:
        raise UnsupportedMetricError(
            f"VectorIndex {index.name!r}: {dialect_name} has no {index.method if dialect_name != 'sqlite' else 'vec0'} "
            f"index for metric {index.metric!r}; supported there: {', '.join(supported)}"
        )


def _vec0_column_name(index: VectorIndex) -> str:
    # vec0 parses its column declarations itself and accepts no quoting.
    name = index.vector_column.name
    if not _IDENTIFIER.match(name):
        raise VectorIndexError(
            f"VectorIndex {index.name!r}: sqlite-vec's vec0 needs a plain column name "
            f"(letters, digits, underscore), got {name!r}; rename the column"
        )
    return name


def _sqlite_rowid_column(index: VectorIndex) -> Column[Any]:
    # vec0 rows are keyed by the base table's rowid; only an INTEGER PRIMARY
    # KEY is a rowid that VACUUM keeps stable.
    table_ = index.bound_table
    pk = list(table_.primary_key.columns)
    if len(pk) != 1 or not isinstance(pk[0].type, Integer):
        found = ", ".join(f"{c.name} {c.type!r}" for c in pk) or "none"
        raise VectorIndexError(
            f"VectorIndex {index.name!r} on SQLite needs table {table_.name!r} to have a single "
            f"Integer primary key (the rowid vec0 rows are keyed by); found: {found}"
        )
    return pk[0]


# -- statements per backend ---------------------------------------------------------


def create_statements(index: VectorIndex, dialect: Dialect, if_not_exists: bool = False) -> List[Executable]:
    """Every statement that builds ``index`` on ``dialect``, in order."""
    schema = index.bound_table.schema
    statements: List[Executable] = [CreateVectorIndex(index, if_not_exists=if_not_exists)]
    if dialect.name == "sqlite":
        if schema is not None:
            raise VectorIndexError(
                f"VectorIndex {index.name!r}: vec0 tables are supported in SQLite's main schema only, not {schema!r}"
            )
        column = index.vector_column
        vec = table(index.index_name, sql_column("rowid"), sql_column(_vec0_column_name(index)))
        pk = _sqlite_rowid_column(index)
        statements.append(
            insert(vec).from_select(
                ["rowid", column.name], select(pk, column).where(column.is_not(None))
            )
        )
        statements += [_Vec0SyncTrigger(index, kind) for kind in _TRIGGER_SUFFIXES]
    return statements


def _drop_statements(name: str, schema: Optional[str], dialect: Dialect, if_exists: bool = False) -> List[Executable]:
    statements: List[Executable] = []
    if dialect.name == "sqlite":
        statements += [_DropTrigger(trigger) for trigger in trigger_names(name)]
    statements.append(DropVectorIndex(name, schema=schema, if_exists=if_exists))
    return statements


# -- connection-level API -------------------------------------------------------------

Bind = Union[Connection, "Session"]


def _connection(bind: Any) -> Connection:
    if isinstance(bind, Connection):
        return bind
    connection = getattr(bind, "connection", None)
    if callable(connection):  # an ORM Session
        return connection()  # type: ignore[no-any-return]
    raise TypeError(f"expected a Connection or Session, got {type(bind).__name__}")


def ensure_index_support(connection: Connection, index_name: str) -> None:
    """Raise :class:`MissingExtensionError` unless the backend can build vector indexes."""
    dialect = connection.dialect
    state = engine_state(dialect) or {}
    if dialect.name == "sqlite":
        mode = state.get("sqlite_vec")
        if mode == "extension":
            return
        if mode is None:
            try:
                connection.exec_driver_sql("SELECT vec_version()")
                return
            except Exception:  # noqa: BLE001 - any failure means the function is not there
                pass
        raise MissingExtensionError(
            f"VectorIndex {index_name!r} on SQLite needs sqlite-vec's vec0 virtual table, but this engine "
            "runs without the sqlite-vec extension (pure-Python distance functions); install it with "
            "pip install 'sqlalchemy-vector[sqlite]' and create the engine with "
            "sqlalchemy_vector.create_engine(url) (without sqlite_vec=False)"
        )
    if dialect.name == "duckdb":
        loaded = connection.execute(
            text("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'vss'")
        ).scalar()
        if not loaded:
            import duckdb

            raise MissingExtensionError(
                f"VectorIndex {index_name!r} on DuckDB needs the vss extension, which is not loaded on this "
                f"connection; pip install duckdb-extension-vss=={duckdb.__version__} (it must match duckdb "
                "exactly) and create the engine with sqlalchemy_vector.create_engine(url)"
            )


def _prepare_duckdb_file(connection: Connection, index: VectorIndex) -> None:
    path = connection.execute(
        text("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
    ).scalar()
    if path is None:  # in-memory: nothing persists, nothing to allow
        return
    enabled = connection.execute(text("SELECT current_setting('hnsw_enable_experimental_persistence')")).scalar()
    if enabled:
        return
    if not index.duckdb_experimental_persistence:
        raise VectorIndexError(
            f"VectorIndex {index.name!r}: DuckDB builds HNSW indexes in a file database ({path}) only with "
            "vss's experimental persistence; declare VectorIndex(..., duckdb_experimental_persistence=True) "
            "to enable it, and open the file only through sqlalchemy_vector.create_engine so vss is loaded "
            "before the index is touched"
        )
    connection.execute(text("SET hnsw_enable_experimental_persistence = true"))


def create_vector_index(bind: Bind, index: VectorIndex, *, if_not_exists: bool = False) -> None:
    """Build ``index`` (attached to its table) in the database of ``bind``.

    Raises :class:`~sqlalchemy_vector.exc.MissingExtensionError` where the
    backend lacks the extension (vss on DuckDB, sqlite-vec on SQLite).
    """
    connection = _connection(bind)
    if not isinstance(index, VectorIndex):
        raise VectorIndexError(f"create_vector_index() expects a VectorIndex, got {type(index).__name__}")
    ensure_index_support(connection, index.index_name)
    if connection.dialect.name == "duckdb":
        _prepare_duckdb_file(connection, index)
    if if_not_exists and connection.dialect.name == "sqlite":
        if any(row["name"] == index.name for row in list_vector_indexes(connection)):
            return
    for statement in create_statements(index, connection.dialect, if_not_exists=if_not_exists):
        connection.execute(statement)


def drop_vector_index(
    bind: Bind, index: Union[VectorIndex, str], *, schema: Optional[str] = None, if_exists: bool = False
) -> None:
    """Drop a vector index by object or name (on SQLite: its vec0 table and sync triggers)."""
    connection = _connection(bind)
    if isinstance(index, VectorIndex):
        name = index.index_name
        schema = schema if schema is not None else (index.table.schema if index.table is not None else None)
    else:
        name = index
    if connection.dialect.name == "sqlite":
        # Never let a name reach DROP TABLE unless it is one of our vec0 tables.
        known = {row["name"] for row in list_vector_indexes(connection)}
        if name not in known:
            if if_exists:
                return
            raise VectorIndexError(
                f"no vector index named {name!r} in this SQLite database; "
                f"existing ones: {', '.join(sorted(known)) or 'none'}"
            )
    for statement in _drop_statements(name, schema, connection.dialect, if_exists=if_exists):
        connection.execute(statement)


def list_vector_indexes(
    bind: Bind, table: Union[Table, str, None] = None, *, schema: Optional[str] = None
) -> List[Dict[str, Any]]:
    """The vector indexes in the database, optionally of one table.

    Each is a dict with the same keys on every backend: ``name``, ``table``,
    ``column``, ``metric`` (as in :data:`INDEX_METRICS`), ``method``
    (``hnsw``/``ivfflat``, ``vec0`` on SQLite) and ``options`` (build
    parameters PostgreSQL reports; DuckDB and vec0 report none).
    """
    connection = _connection(bind)
    if isinstance(table, Table):
        schema = schema if schema is not None else table.schema
        table_name: Optional[str] = table.name
    else:
        table_name = table
    name = connection.dialect.name
    if name == "postgresql":
        rows = _list_postgresql(connection, schema)
    elif name == "duckdb":
        rows = _list_duckdb(connection, schema)
    elif name == "sqlite":
        rows = _list_sqlite(connection)
    else:
        raise UnsupportedDialectError(
            f"the {name!r} dialect has no vector indexes; they exist on postgresql, duckdb and sqlite"
        )
    if table_name is not None:
        rows = [row for row in rows if row["table"] == table_name]
    return sorted(rows, key=lambda row: (row["table"], row["name"]))


_PG_METRIC_BY_SUFFIX = {"cosine_ops": "cosine", "l2_ops": "l2", "ip_ops": "max_inner_product", "l1_ops": "l1"}


def _list_postgresql(connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
    rows = connection.execute(
        text(
            "SELECT ic.relname AS name, tc.relname AS table_name, a.attname AS column_name, "
            "am.amname AS method, opc.opcname AS opclass, ic.reloptions AS options "
            "FROM pg_index x "
            "JOIN pg_class ic ON ic.oid = x.indexrelid "
            "JOIN pg_class tc ON tc.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = tc.relnamespace "
            "JOIN pg_am am ON am.oid = ic.relam "
            "JOIN pg_opclass opc ON opc.oid = x.indclass[0] "
            "LEFT JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attnum = x.indkey[0] "
            "WHERE am.amname IN ('hnsw', 'ivfflat') AND n.nspname = coalesce(:schema, current_schema())"
        ),
        {"schema": schema},
    ).mappings()
    result = []
    for row in rows:
        metric = next((m for suffix, m in _PG_METRIC_BY_SUFFIX.items() if row["opclass"].endswith(suffix)), None)
        options: Dict[str, Any] = {}
        for item in row["options"] or ():
            key, _, value = item.partition("=")
            options[key] = int(value) if value.isdigit() else value
        result.append(
            {
                "name": row["name"],
                "table": row["table_name"],
                "column": row["column_name"],
                "metric": metric,
                "method": row["method"],
                "options": options,
            }
        )
    return result


_DUCKDB_METRIC_NAMES = {value: key for key, value in _DUCKDB_METRIC.items()}


def _list_duckdb(connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
    # duckdb_indexes().sql drops the WITH clause (DuckDB 1.5.5); the metric is
    # in vss's pragma_hnsw_index_info(), available while vss is loaded.
    rows = connection.execute(
        text(
            "SELECT index_name, table_name, expressions, sql FROM duckdb_indexes() "
            "WHERE database_name = current_database() AND schema_name = coalesce(:schema, current_schema())"
        ),
        {"schema": schema},
    ).mappings().all()
    hnsw = [row for row in rows if re.search(r"\bUSING\s+HNSW\b", row["sql"] or "", re.IGNORECASE)]
    if not hnsw:
        return []
    metrics: Dict[tuple[str, str], str] = {}
    loaded = connection.execute(text("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'vss'")).scalar()
    if loaded:
        for info in connection.execute(
            text(
                "SELECT index_name, table_name, metric FROM pragma_hnsw_index_info() "
                "WHERE catalog_name = current_database() AND schema_name = coalesce(:schema, current_schema())"
            ),
            {"schema": schema},
        ).mappings():
            metrics[(info["table_name"], info["index_name"])] = info["metric"]
    result = []
    for row in hnsw:
        expressions = row["expressions"]
        if isinstance(expressions, str):
            expressions = [part.strip() for part in expressions.strip("[]").split(",")]
        column = str(expressions[0]).strip('"') if expressions else None
        raw_metric = metrics.get((row["table_name"], row["index_name"]))
        result.append(
            {
                "name": row["index_name"],
                "table": row["table_name"],
                "column": column,
                "metric": _DUCKDB_METRIC_NAMES.get(raw_metric, raw_metric) if raw_metric else None,
                "method": "hnsw",
                "options": {},
            }
        )
    return result


def vec0_tables(connection: Connection) -> Dict[str, str]:
    """Every vec0 virtual table in a SQLite database, with its CREATE statement."""
    rows = connection.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'")
    ).all()
    return {name: sql for name, sql in rows if re.search(r"\bUSING\s+vec0\b", sql, re.IGNORECASE)}


def _list_sqlite(connection: Connection) -> List[Dict[str, Any]]:
    tables = vec0_tables(connection)
    if not tables:
        return []
    triggers: Dict[str, str] = {
        name: table_name
        for name, table_name in connection.execute(
            text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
        ).all()
    }
    result: List[Dict[str, Any]] = []
    for name, sql in tables.items():
        base = triggers.get(trigger_names(name)[0])
        match = _VEC0_DECLARATION.search(sql)
        if base is None or match is None:  # a vec0 table not maintained by a VectorIndex
            continue
        raw_metric = (match.group(3) or "l2").lower()
        result.append(
            {
                "name": name,
                "table": base,
                "column": match.group(1),
                "metric": {"cosine": "cosine", "l2": "l2", "l1": "l1"}.get(raw_metric, raw_metric),
                "method": "vec0",
                "options": {},
            }
        )
    return result


def vec0_dimension(sql: str) -> Optional[int]:
    """The dimension declared in a vec0 ``CREATE VIRTUAL TABLE`` statement."""
    match = _VEC0_DECLARATION.search(sql)
    return int(match.group(2)) if match else None


_VECTOR_TYPE_PATTERNS = {
    "postgresql": re.compile(r"^vector\((\d+)\)$", re.IGNORECASE),
    "sqlite": re.compile(r"^F32_BLOB\((\d+)\)$", re.IGNORECASE),
    "duckdb": re.compile(r"^FLOAT\[(\d+)\]$", re.IGNORECASE),
}


def vector_columns(bind: Bind, table_name: str, *, schema: Optional[str] = None) -> Dict[str, int]:
    """The vector columns of a table as the database declares them, with their dimensions.

    Reads the catalog directly (``format_type`` on PostgreSQL, the declared
    type on SQLite, ``information_schema`` on DuckDB), so it works where the
    dialect's reflection cannot tell the dimension (duckdb_engine 0.17
    reflects ``FLOAT[n]`` as ``NullType``).
    """
    connection = _connection(bind)
    name = connection.dialect.name
    if name == "postgresql":
        rows = connection.execute(
            text(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = :table AND n.nspname = coalesce(:schema, current_schema()) "
                "AND a.attnum > 0 AND NOT a.attisdropped"
            ),
            {"table": table_name, "schema": schema},
        ).all()
    elif name == "sqlite":
        rows = connection.execute(
            text("SELECT name, type FROM pragma_table_info(:table, :schema)"),
            {"table": table_name, "schema": schema or "main"},
        ).all()
    elif name == "duckdb":
        rows = connection.execute(
            text(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = :table AND table_schema = coalesce(:schema, current_schema()) "
                "AND table_catalog = current_database()"
            ),
            {"table": table_name, "schema": schema},
        ).all()
    else:
        raise UnsupportedDialectError(
            f"the {name!r} dialect has no vector columns; sqlalchemy_vector supports postgresql, duckdb and sqlite"
        )
    pattern = _VECTOR_TYPE_PATTERNS[name]
    result = {}
    for column_name, declared in rows:
        match = pattern.match(str(declared or "").strip())
        if match:
            result[column_name] = int(match.group(1))
    return result
