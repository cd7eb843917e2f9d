"""Vector indexes: HNSW and IVFFlat on PostgreSQL, HNSW on DuckDB, an exact ``vec0`` table on SQLite.

:class:`VectorIndex` is an :class:`~sqlalchemy.schema.Index`: declare it in
``__table_args__`` or on a :class:`~sqlalchemy.schema.Table`, and
``metadata.create_all()`` / ``drop_all()`` build and remove it.

How an index is built, listed and dropped is each backend's business (see
``sqlalchemy_vector.dialects``); this module holds what every backend shares:
the declaration and its validation, the DDL elements (compiled by the
backend of the dialect at hand), and the connection-level functions
:func:`create_vector_index`, :func:`drop_vector_index` and
:func:`list_vector_indexes`, which report the same dictionary keys on every
backend.  Which method serves which metric is each backend's capability data.

- PostgreSQL (pgvector): ``CREATE INDEX ... USING hnsw|ivfflat (col
  vector_<metric>_ops) WITH (...)``, emitted by SQLAlchemy's own PostgreSQL
  compiler from options set when the index joins its table.
- DuckDB: ``CREATE INDEX ... USING HNSW (col) WITH (metric = ...)``, from the
  vss extension that :func:`sqlalchemy_vector.create_engine` loads offline.
- SQLite: a sqlite-vec virtual table named after the index, filled from the
  base table and kept in sync by triggers; an exact search that
  :func:`sqlalchemy_vector.knn` queries with the form it requires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Union

from sqlalchemy import Table, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import Column, CreateIndex, ExecutableDDLElement, Index
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.sql.expression import Executable

from .dialects.base import Backend, NameHolder, backend_for, backends, find_backend, supported_dialects
from .exc import (
    DimensionLimitError,
    InvalidArgumentError,
    UnsupportedDialectError,
    UnsupportedMetricError,
    VectorIndexError,
)
from .kinds import QUANTIZATIONS, QUANTIZED_KINDS, CompactVector
from .orm import check_identifier
from .types import Vector, flag, whole_number

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
    "rebuild_vector_index",
    "vector_columns",
]

#: Index methods a :class:`VectorIndex` declares; a backend with one method of its own builds that instead.
INDEX_METHODS: tuple[str, ...] = ("hnsw", "ivfflat")

#: Metrics an index can serve: the ascending distances of :data:`sqlalchemy_vector.METRICS`.
INDEX_METRICS: tuple[str, ...] = ("cosine", "l2", "max_inner_product", "l1", "hamming", "jaccard")

#: The metrics an index on a ``Vector`` column serves (the others are bit vectors').
VECTOR_INDEX_METRICS: tuple[str, ...] = ("cosine", "l2", "max_inner_product", "l1")

_METRIC_ALIASES = {"ip": "max_inner_product"}

_OPTIONS: Dict[str, tuple[str, ...]] = {"hnsw": ("m", "ef_construction"), "ivfflat": ("lists",)}

# How messages spell the methods.
_METHOD_NAMES = {"hnsw": "HNSW", "ivfflat": "IVFFlat"}


def normalize_metric(metric: str, where: str, choices: Sequence[str] = INDEX_METRICS) -> str:
    """The canonical index metric for ``metric`` (``"ip"`` is ``"max_inner_product"``); ``choices`` are the
    metrics an unknown one's error lists (those of the column's kind: a ``Vector`` has no ``hamming``)."""
    if not isinstance(metric, str):
        raise UnsupportedMetricError(
            f"{where}: the metric is named by a string, got {type(metric).__name__} {metric!r}; "
            f"pass one of {', '.join(choices)} (or 'ip')"
        )
    metric = _METRIC_ALIASES.get(metric, metric)
    if metric == "inner_product":
        raise UnsupportedMetricError(
            f"{where}: no index serves 'inner_product' (larger is closer, ordered descending); "
            "use 'max_inner_product', the negative dot product in ascending order, which ranks the same"
        )
    if metric not in INDEX_METRICS:
        raise UnsupportedMetricError(f"{where}: unknown metric {metric!r}; expected one of {', '.join(choices)} (or 'ip')")
    return metric  # one of another kind's (hamming on a Vector) is refused where the kind is known, saying why


def _served_anywhere(method: str) -> tuple[str, ...]:
    """The metrics some backend builds a ``method`` index for."""
    served: List[str] = []
    for backend in backends():
        served += [m for m in backend.capabilities.index_metrics.get(method, ()) if m not in served]
    return tuple(m for m in INDEX_METRICS if m in served)


class VectorIndex(Index):
    """A nearest-neighbour index on one :class:`~sqlalchemy_vector.Vector` column.

    ``metric`` is the distance the index serves (``cosine``, ``l2``,
    ``max_inner_product`` / ``ip``, ``l1``); a query uses the index when it
    orders by that distance ascending with a ``LIMIT``.  ``method`` is
    ``"hnsw"`` (PostgreSQL, DuckDB) or ``"ivfflat"`` (PostgreSQL); SQLite
    always builds an exact vec0 table, whatever the method and its options
    (checked as for the method declared, so one model serves every backend,
    but not used: vec0 has no build parameters).  ``options`` are the method's build
    parameters: ``m`` and ``ef_construction`` for HNSW, ``lists`` for IVFFlat.

    ``quantization="half"`` or ``"binary"`` indexes a compact form of the
    column (PostgreSQL: an expression index over ``halfvec`` or
    ``binary_quantize``; SQLite: a vec0 table of ``bit[n]``, binary only);
    :func:`~sqlalchemy_vector.knn` with ``rerank=n`` fetches ``n`` candidates
    through it and re-ranks them exactly.  The backend's capability data
    (``index_quantizations``, ``missing_quantization``) says what it builds.

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
        quantization: Optional[str] = None,
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
        served = _served_anywhere(method)
        if self.metric not in served:
            alternatives = [m for m in INDEX_METHODS if self.metric in _served_anywhere(m)]
            raise VectorIndexError(
                f"{where}: {_METHOD_NAMES[method]} has no operator class for {self.metric!r} on any backend "
                f"(it serves {', '.join(served) or 'no metric'})"
                + (f"; use method={alternatives[0]!r}" if alternatives else "")
            )
        self.duckdb_experimental_persistence = flag(f"{where}: duckdb_experimental_persistence", duckdb_experimental_persistence)
        if quantization is not None and quantization not in QUANTIZATIONS:
            raise VectorIndexError(
                f"{where}: unknown quantization {quantization!r}; expected one of {', '.join(QUANTIZATIONS)} (or None)"
            )
        self.quantization: Optional[str] = quantization
        super().__init__(name, column)
        # Backends whose create_all emits SQLAlchemy's CREATE INDEX build it
        # that way; the others through create_vector_index() in the events below.
        self.ddl_if(callable_=_built_by_create_index)  # type: ignore[arg-type]
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
        if self.quantization is not None:
            options += f", quantization={self.quantization!r}"
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

    def describe(self, dialect: Union[Dialect, str]) -> Dict[str, Any]:
        """What :func:`list_vector_indexes` reports for this index once built on ``dialect`` (or a dialect name)."""
        backend = _index_backend(dialect)
        capabilities = backend.capabilities
        return {
            "name": self.index_name,
            "table": self.bound_table.name,
            "column": self.vector_column.name,
            # A binary index's catalog holds bits, ranked by Hamming distance: the metric re-ranked by is not there.
            "metric": None if self.quantization == "binary" else self.metric,
            "method": capabilities.index_method_override or self.method,
            # Backends that keep build options internal report none.
            "options": backend.reported_index_options(self.options) if capabilities.index_options_reported else {},
            "quantization": self.quantization,
        }

    def _attached(self, table: Table) -> None:
        where = f"VectorIndex {self.name!r}"
        if len(self.expressions) != 1:
            raise VectorIndexError(f"{where} indexes exactly one Vector column, got {len(self.expressions)} expressions")
        column = self.expressions[0]
        if not isinstance(column, Column) or column.table is not table:
            raise VectorIndexError(f"{where} must index a column of table {table.name!r}, got {column!r}")
        if not isinstance(column.type, (Vector, CompactVector)):
            raise VectorIndexError(
                f"{where} indexes {table.name}.{column.name} of type {column.type!r}; "
                "expected a Vector(dim) column (or a compact kind: HalfVector, BitVector, SparseVector, Int8Vector)"
            )
        metrics = column.type.metrics if isinstance(column.type, CompactVector) else INDEX_METRICS[:4]
        if self.metric not in metrics:
            raise UnsupportedMetricError(
                f"{where}: {table.name}.{column.name} ({column.type!r}) has no {self.metric!r} distance; "
                f"use one of {', '.join(metrics)}"
            )
        if self.quantization is not None and not isinstance(column.type, Vector):
            raise VectorIndexError(
                f"{where}: quantization applies to a full-precision Vector column, not {column.type!r}"
            )
        # The dialect is not known yet: every backend sets what its DDL reads.
        for backend in backends():
            backend.index_attached(self, column)
        event.listen(table, "before_create", self._before_table_create)
        event.listen(table, "before_drop", self._before_table_drop)

    def _before_table_create(self, target: Table, connection: Connection, **kw: Any) -> None:
        # An index the backend cannot build is refused before CREATE TABLE, as a column type it cannot store
        # is: no table is left behind without its index (ClickHouse, and DDL outside a transaction, keep it).
        backend = find_backend(connection.dialect)
        if backend is not None and self.table is target:
            check_buildable(self, backend)
            if isinstance(connection, Connection):  # not an offline migration's: a catalog to ask
                check_index_name(connection, self, backend)

    def _before_table_drop(self, target: Table, connection: Connection, **kw: Any) -> None:
        # DROP TABLE takes an index (and a trigger) with it, but not an index
        # that is a table of its own.
        backend = find_backend(connection.dialect)
        if backend is not None and backend.capabilities.index_is_table and self.table is target:
            backend.drop_index(connection, self.index_name, target.schema, if_exists=True)


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
        checked = whole_number(value)
        if checked is None or checked < 1:
            raise VectorIndexError(f"{where}: option {key} expects a positive integer, got {value!r}")
        result[key] = checked
    return result


def _built_by_create_index(ddl: Any, target: Any, bind: Any, **kw: Any) -> bool:
    # A quantized index covers an expression: the backend's own statement builds it.
    backend = find_backend(kw["dialect"])
    if backend is None or not backend.capabilities.index_by_create_index or target.quantization is not None:
        return False
    check_buildable(target, backend)  # what the backend's own statement checks, before the database sees it
    if isinstance(bind, Connection) and isinstance(ddl, CreateIndex):
        check_index_name(bind, target, backend, if_not_exists=bool(getattr(ddl, "if_not_exists", False)))
    return True


def _after_index_create(target: VectorIndex, connection: Connection, **kw: Any) -> None:
    backend = find_backend(connection.dialect)
    if backend is None or not backend.capabilities.index_by_create_index or target.quantization is not None:
        create_vector_index(connection, target)


def _after_index_drop(target: VectorIndex, connection: Connection, **kw: Any) -> None:
    backend = find_backend(connection.dialect)
    if backend is None or not backend.capabilities.index_by_create_index or target.quantization is not None:
        drop_vector_index(connection, target)


def _after_parent_attach(target: VectorIndex, parent: Any) -> None:
    if isinstance(parent, Table):
        target._attached(parent)


def _index_backend(dialect: Union[Dialect, str]) -> Backend:
    return backend_for(dialect, feature="vector indexes")


def check_buildable(index: VectorIndex, backend: Backend) -> str:
    """The method ``backend`` builds for ``index``, or the error saying why it builds none."""
    capabilities = backend.capabilities
    method = capabilities.index_method_override or index.method
    served = capabilities.index_metrics.get(method)
    if served is None:
        methods = " and ".join(_METHOD_NAMES.get(m, m) for m in capabilities.index_metrics) or "no"
        first = next(iter(capabilities.index_metrics), None)
        raise VectorIndexError(
            f"VectorIndex {index.name!r}: {capabilities.index_provider or backend.name} builds {methods} indexes "
            f"only, not {index.method!r}" + (f"; use method={first!r}" if first in INDEX_METHODS else "")
        )
    kind = getattr(index.vector_column.type, "kind", None)
    if kind is not None and kind not in capabilities.indexed_kinds:
        raise VectorIndexError(
            f"VectorIndex {index.name!r}: {capabilities.index_provider or backend.name} does not index {kind} vectors"
            + (f" (it indexes {', '.join(capabilities.indexed_kinds)} besides Vector)" if capabilities.indexed_kinds else "")
        )
    kind_methods = capabilities.kind_index_methods.get(kind or "", ())
    if kind_methods and method not in kind_methods:
        raise VectorIndexError(
            f"VectorIndex {index.name!r}: {capabilities.index_provider or backend.name} builds "
            f"{' and '.join(_METHOD_NAMES.get(m, m) for m in kind_methods)} indexes only on {kind} vectors, not "
            f"{index.method!r}; use method={kind_methods[0]!r}"
        )
    if index.quantization is not None and index.quantization not in capabilities.index_quantizations:
        raise VectorIndexError(
            f"VectorIndex {index.name!r}: no {index.quantization} quantized index on {backend.name}: "
            f"{capabilities.missing_quantization or 'not supported'}; drop quantization= or use a full-precision index"
        )
    multiple = capabilities.quantization_dimension_multiple.get(index.quantization or "")
    if multiple is not None and index.dim % multiple:
        column_type: Any = index.vector_column.type  # a quantized index's column is a Vector
        raise VectorIndexError(
            f"VectorIndex {index.name!r}: {capabilities.index_provider or backend.name} builds {index.quantization} "
            f"quantized indexes over a dimension that is a multiple of {multiple}, but "
            f"{column_type.described_as} has {index.dim}; use a full-precision index (drop "
            f"quantization=), or store {index.dim + multiple - index.dim % multiple} dimensions (e.g. pad the "
            "vectors with zeros)"
        )
    _check_dimension(index, backend)
    if index.metric not in served:
        raise UnsupportedMetricError(
            f"VectorIndex {index.name!r}: {backend.name} has no {method} index for metric {index.metric!r}; "
            f"supported there: {', '.join(served)}"
        )
    _check_option_ranges(index, backend)
    backend.check_index(index)
    return method


def check_index_name(connection: Connection, index: VectorIndex, backend: Backend, if_not_exists: bool = False) -> None:
    """Refuse, before any DDL, a name the database holds already: a table, an index of another table.

    A vector index of that name on the same table is what ``IF NOT EXISTS``
    keeps: accepted with ``if_not_exists``, refused without.  Any other holder
    is refused either way (``IF NOT EXISTS`` would build nothing and say nothing).
    """
    table = index.bound_table
    holder = backend.index_name_holder(connection, index.index_name, table.name, table.schema)
    if holder is None:
        return
    where = f"VectorIndex {index.name!r} on {table.name}.{index.vector_column.name}"
    kind = holder_kind(connection, backend, holder, table.schema)
    if kind == "vector index" and holder.table == table.name and holder.name == index.index_name:
        if if_not_exists:
            return
        raise VectorIndexError(
            f"{where}: table {table.name!r} has a vector index named {holder.name!r} already; pass "
            "if_not_exists=True to keep it, drop it first (drop_vector_index) to build it anew, or choose another name"
        )
    raise VectorIndexError(name_taken(where, kind, holder))


def holder_kind(connection: Connection, backend: Backend, holder: NameHolder, schema: Optional[str]) -> str:
    """What ``holder`` is, as a message says it: an index the library lists is a vector or full-text index."""
    if holder.kind != "index" or holder.table is None:
        return holder.kind
    if any(found["name"] == holder.name and found["table"] == holder.table for found in backend.list_indexes(connection, schema)):
        return "vector index"
    if backend.capabilities.fulltext_search and any(
        found["name"] == holder.name and found["table"] == holder.table
        for found in backend.list_fulltext_indexes(connection, schema)
    ):
        return "full-text index"
    return "index"


def name_taken(where: str, kind: str, holder: NameHolder) -> str:
    """The message refusing an index whose name (or one its build needs) ``holder`` of ``kind`` holds."""
    held_by = f"{kind} {holder.name!r}" + (f" of table {holder.table!r}" if holder.table is not None else "")
    return (
        f"{where}: the name is taken in the database by {held_by}; choose another name for the index, "
        f"or drop {held_by} first"
    )


def index_dimension_limit(backend: Backend, kind: Optional[str]) -> Optional[int]:
    """Most dimensions ``backend`` indexes of vectors of ``kind`` (None: ``Vector``), or None where unbounded."""
    capabilities = backend.capabilities
    return capabilities.max_index_dimension if kind is None else capabilities.kind_max_index_dimension.get(kind)


def _check_dimension(index: VectorIndex, backend: Backend) -> None:
    """An index over more dimensions than the backend indexes (of the kind it stores) fails before ``CREATE INDEX``."""
    column_type: Any = index.vector_column.type  # Vector or a compact kind, both with dim and described_as
    kind = getattr(column_type, "kind", None) or QUANTIZED_KINDS.get(index.quantization or "")
    limit = index_dimension_limit(backend, kind)
    if limit is None or column_type.dim <= limit:
        return
    indexed = f"{index.quantization} quantized vectors" if index.quantization else f"{kind or 'float32'} vectors"
    larger = []  # the quantized indexes that cover a Vector this long
    for quantization in backend.capabilities.index_quantizations if kind is None else ():
        bound = index_dimension_limit(backend, QUANTIZED_KINDS[quantization])
        if bound is not None and bound >= column_type.dim:
            larger.append(f"quantization={quantization!r} (up to {bound})")
    raise DimensionLimitError(
        f"VectorIndex {index.name!r}: {backend.capabilities.index_provider or backend.name} indexes {indexed} of at "
        f"most {limit} dimensions, but {column_type.described_as} has {column_type.dim}; "
        + (f"index a quantized form ({', '.join(larger)}), " if larger else "")
        + "search without an index (exact), or store fewer dimensions"
    )


def _check_option_ranges(index: VectorIndex, backend: Backend) -> None:
    capabilities = backend.capabilities
    provider = capabilities.index_provider or backend.name
    for option, value in index.options.items():
        bounds = capabilities.index_option_ranges.get(option)
        if bounds is None:
            continue
        low, high = bounds
        if value < low or (high is not None and value > high):
            takes = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise VectorIndexError(
                f"VectorIndex {index.name!r}: {provider} takes {option} {takes}, got {value}; choose a value in that range"
            )
    built = {**capabilities.index_option_defaults, **index.options}
    m, ef_construction = built.get("m"), built.get("ef_construction")
    per_m = capabilities.ef_construction_per_m
    if per_m and index.method == "hnsw" and m is not None and ef_construction is not None and ef_construction < per_m * m:
        raise VectorIndexError(
            f"VectorIndex {index.name!r}: {provider} needs ef_construction >= {per_m} * m = {per_m * m}, "
            f"got ef_construction={ef_construction} with m={m}; raise ef_construction or lower m"
        )


# -- DDL constructs ---------------------------------------------------------------


class CreateVectorIndex(ExecutableDDLElement):
    """The statement that builds a :class:`VectorIndex` on the target dialect.

    Where the index is a table of its own (SQLite) this is its ``CREATE``
    statement only; :func:`create_vector_index` also fills it and keeps it in sync.
    """

    inherit_cache = False

    def __init__(self, element: VectorIndex, if_not_exists: bool = False) -> None:
        self.element = element
        self.if_not_exists = if_not_exists


class DropVectorIndex(ExecutableDDLElement):
    """The statement that drops a vector index (on SQLite, its vec0 table) by name.

    ``table_name``, when known, is the indexed table: ClickHouse drops an index
    through its table (``ALTER TABLE t DROP INDEX i``); the others ignore it.
    """

    inherit_cache = False

    def __init__(
        self, name: str, schema: Optional[str] = None, if_exists: bool = False, *, table_name: Optional[str] = None
    ) -> None:
        self.name = name
        self.schema = schema
        self.if_exists = if_exists
        self.table_name = table_name


def _unsupported(what: str, dialect: Dialect) -> UnsupportedDialectError:
    return UnsupportedDialectError(
        f"{what} on the {dialect.name!r} dialect; vector indexes exist on "
        f"{', '.join(supported_dialects())} and dialects derived from them"
    )


@compiles(CreateVectorIndex)
def _compile_create(element: CreateVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    backend = find_backend(compiler.dialect)
    if backend is None:
        raise _unsupported(f"VectorIndex {element.element.name!r} cannot be built", compiler.dialect)
    check_buildable(element.element, backend)
    return backend.compile_create_index(element, compiler, **kw)


@compiles(DropVectorIndex)
def _compile_drop(element: DropVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    backend = find_backend(compiler.dialect)
    if backend is None:
        raise _unsupported(f"vector index {element.name!r} cannot be dropped", compiler.dialect)
    return backend.compile_drop_index(element, compiler, **kw)


def create_statements(index: VectorIndex, dialect: Dialect, if_not_exists: bool = False) -> List[Executable]:
    """Every statement that builds ``index`` on ``dialect``, in order."""
    backend = _index_backend(dialect)
    check_buildable(index, backend)
    return backend.create_index_statements(index, if_not_exists=if_not_exists)


def drop_statements(
    name: str, schema: Optional[str], dialect: Dialect, if_exists: bool = False, *, table_name: Optional[str] = None
) -> List[Executable]:
    """Every statement that drops the vector index ``name`` (on table ``table_name``, where known) on ``dialect``, in order."""
    return _index_backend(dialect).drop_index_statements(name, schema, if_exists=if_exists, table_name=table_name)


# -- connection-level API -------------------------------------------------------------

Bind = Union[Connection, "Session"]


def _connection(bind: Any) -> Connection:
    if isinstance(bind, Connection):
        return bind
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

    if isinstance(bind, (AsyncSession, AsyncConnection)):
        name = type(bind).__name__
        raise InvalidArgumentError(
            f"expected a Connection or Session, got an {name}; run the call where the {name} runs synchronous "
            "code, e.g. `await session.run_sync(lambda s: sqlalchemy_vector.knn(s, Doc.embedding, q, 5))` "
            "(AsyncConnection.run_sync works alike)"
        )
    connection = getattr(bind, "connection", None)
    if callable(connection):  # an ORM Session
        return connection()  # type: ignore[no-any-return]
    hint = " (open one: `with engine.connect() as conn:`)" if isinstance(bind, Engine) else ""
    raise InvalidArgumentError(f"expected a Connection or Session, got {type(bind).__name__}{hint}")


def create_vector_index(bind: Bind, index: VectorIndex, *, if_not_exists: bool = False) -> None:
    """Build ``index`` (attached to its table) in the database of ``bind``.

    Raises :class:`~sqlalchemy_vector.exc.MissingExtensionError` where the
    backend lacks the extension (vss on DuckDB, sqlite-vec on SQLite), and
    :class:`~sqlalchemy_vector.exc.VectorIndexError` before any DDL where the
    name is taken: by a table, an index of another table, or an index of this
    one (a vector index of that name on this table is kept with ``if_not_exists``).
    """
    connection = _connection(bind)
    if not isinstance(index, VectorIndex):
        raise VectorIndexError(f"create_vector_index() expects a VectorIndex, got {type(index).__name__}")
    backend = _index_backend(connection.dialect)
    check_buildable(index, backend)
    check_index_name(connection, index, backend, if_not_exists=if_not_exists)
    backend.create_index(connection, index, if_not_exists=if_not_exists)


def rebuild_vector_index(bind: Bind, index: VectorIndex) -> None:
    """Build ``index`` again over the rows stored now, replacing the vector index of its name on its table.

    For an index whose answers drift as rows change: DuckDB's HNSW after rows
    are replaced (see :class:`~sqlalchemy_vector.exc.IndexMaintenanceWarning`),
    an IVFFlat index whose lists were trained on other rows.  On PostgreSQL
    the new index is built under a temporary name beside the old one, which
    searches keep reading (the build blocks writes only, as ``CREATE INDEX``
    does), then takes its name; elsewhere the old one is dropped first.  Run it
    in a transaction (a ``Session``, ``engine.begin()``) so that a failure
    leaves the old index in place, where the backend has transactions.
    Raises :class:`~sqlalchemy_vector.exc.VectorIndexError` before any DDL
    where the table has no vector index of that name.
    """
    _rebuild(bind, index, look_up=True)


def _rebuild_found_index(bind: Bind, index: VectorIndex) -> None:
    """:func:`rebuild_vector_index` for a caller that has just read ``index``'s name from the catalog."""
    _rebuild(bind, index, look_up=False)


def _rebuild(bind: Bind, index: VectorIndex, *, look_up: bool) -> None:
    connection = _connection(bind)
    if not isinstance(index, VectorIndex):
        raise VectorIndexError(f"rebuild_vector_index() expects a VectorIndex, got {type(index).__name__}")
    backend = _index_backend(connection.dialect)
    check_buildable(index, backend)
    if look_up:  # not when the facade has just read the name from the catalog, in the same transaction
        table = index.bound_table
        found = [entry["name"] for entry in list_vector_indexes(connection, table)]
        if index.index_name not in found:
            raise VectorIndexError(
                f"rebuild_vector_index({index.index_name!r}): table {table.name!r} has no vector index named "
                f"{index.index_name!r} (existing ones: {', '.join(found) or 'none'}); build it with create_vector_index"
            )
    backend.rebuild_index(connection, index)


def drop_vector_index(
    bind: Bind,
    index: Union[VectorIndex, str],
    *,
    schema: Optional[str] = None,
    if_exists: bool = False,
    table_name: Optional[str] = None,
) -> None:
    """Drop a vector index by object or name (on SQLite: its vec0 table and sync triggers).

    ``table_name`` (or the object's table) is the indexed table, which a name
    alone does not tell where index names are per table (ClickHouse).
    """
    connection = _connection(bind)
    if isinstance(index, VectorIndex):
        name = index.index_name
        schema = schema if schema is not None else (index.table.schema if index.table is not None else None)
        if table_name is None and index.table is not None:
            table_name = index.table.name
    else:
        name = check_identifier(index, "drop_vector_index(index)", VectorIndexError)
    _index_backend(connection.dialect).drop_index(connection, name, schema, if_exists=if_exists, table_name=table_name)


def list_vector_indexes(
    bind: Bind, table: Union[Table, str, None] = None, *, schema: Optional[str] = None
) -> List[Dict[str, Any]]:
    """The vector indexes in the database, optionally of one table.

    Each is a dict with the same keys on every backend: ``name``, ``table``,
    ``column``, ``metric`` (as in :data:`INDEX_METRICS`), ``method``
    (``hnsw``/``ivfflat``, ``vec0`` on SQLite) and ``options`` (build
    parameters PostgreSQL reports; DuckDB and vec0 report none) and
    ``quantization`` (``half`` or ``binary`` for an index over the quantized
    column, else None; a binary index's metric is None: it serves Hamming over
    the bits whatever metric re-ranks them, and the catalog keeps no other).
    """
    connection = _connection(bind)
    if isinstance(table, Table):
        schema = schema if schema is not None else table.schema
        table_name: Optional[str] = table.name
    else:
        table_name = table
    rows = [{"quantization": None, **row} for row in _index_backend(connection.dialect).list_indexes(connection, schema)]
    if table_name is not None:
        rows = [row for row in rows if row["table"] == table_name]
    return sorted(rows, key=lambda row: (row["table"], row["name"]))


def vector_columns(bind: Bind, table_name: str, *, schema: Optional[str] = None) -> Dict[str, int]:
    """The vector columns of a table as the database declares them, with their dimensions.

    Reads the catalog directly (``format_type`` on PostgreSQL, the declared
    type on SQLite, ``information_schema`` on DuckDB), so it works where the
    dialect's reflection cannot tell the dimension (duckdb_engine 0.17
    reflects ``FLOAT[n]`` as ``NullType``).
    """
    connection = _connection(bind)
    backend = backend_for(connection.dialect, feature="vector columns")
    return backend.vector_columns(connection, table_name, schema)
