"""Top-k search that uses the vector index where there is one, and query-time tuning.

- :func:`knn` runs a top-k query and returns ``k`` rows whenever ``k`` rows
  match, on every backend: approximate indexes can return fewer under a filter
  (an HNSW search that filters after the index scan, or stops at
  ``ef_search`` candidates), so a short result is re-run as an exact search.
- :func:`knn_select` builds the statement :func:`knn` runs, in the shape the
  backend's index serves: ``ORDER BY distance LIMIT k`` for HNSW and IVFFlat,
  a ``MATCH ... AND k = ?`` query where the index is a table of its own.
- :func:`search_settings` sets ``ef_search`` (and iterative scan and IVFFlat
  probes where the backend has them) for the statements run inside a ``with``
  block.

The facade (:class:`~sqlalchemy_vector.VectorRAG`) ranks through the same
:class:`TopK` request, so a query through it is served by the same index.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union, overload

import numpy as np
import numpy.typing as npt
from sqlalchemy import Column, inspect, literal, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ClauseElement, ColumnElement, Select
from sqlalchemy.sql.util import ClauseAdapter

from .dialects.base import backend_for, find_backend
from .exc import InvalidArgumentError, InvalidVectorError, VectorIndexError
from .functions import distance
from .kinds import CompactVector, QuantizedDistance
from .index import VECTOR_INDEX_METRICS, VectorIndex, _connection, normalize_metric
from .types import Vector, flag, to_float32, whole_number

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_E = TypeVar("_E")

__all__ = ["knn", "knn_select", "search_settings", "ITERATIVE_SCAN_MODES", "TopK"]

#: Iterative-scan modes (pgvector 0.8's ``hnsw.iterative_scan``).
ITERATIVE_SCAN_MODES = ("off", "strict_order", "relaxed_order")


@dataclass
class TopK:
    """One top-k request, as the backend receives it to build its statement.

    ``filters`` may name other tables than the vector column's (a join
    condition, a filter on a joined table): a backend that applies them in a
    subquery (a key list, a list of candidates) applies
    :meth:`outside_filters` again in the statement around it, where ``selected``
    may read those tables.  ``selected`` are the columns returned before
    ``distance``; ``target`` is the entity or table they come from.
    ``index_name`` names a vector index on ``column`` that serves ``metric``,
    when one is known.
    """

    column: ColumnElement[Any]
    vector: npt.NDArray[np.float32]
    k: int
    metric: str
    filters: List[ColumnElement[bool]] = field(default_factory=list)
    selected: List[Any] = field(default_factory=list)
    target: Any = None
    index_name: Optional[str] = None
    exact: bool = False
    dialect: Optional[Dialect] = None
    #: Keep only rows at most this far (applied in SQL, before the limit).
    max_distance: Optional[float] = None
    #: With a quantized index: how many candidates it fetches, and its quantization.
    rerank: Optional[int] = None
    quantization: Optional[str] = None
    #: The query as a SQL expression in place of ``vector``: a named ``bindparam`` makes the
    #: statement reusable for every query vector (the value is given when it is executed).
    query: Optional[ColumnElement[Any]] = None
    #: Columns that order rows at equal distances (the key), so ties come back alike everywhere.  An
    #: exact statement orders by them; one in the index's shape only with ``tiebreak_indexed``, since
    #: a second sort key keeps an index from serving it (set it where no index serves the column).
    tiebreak: List[ColumnElement[Any]] = field(default_factory=list)
    tiebreak_indexed: bool = False

    def query_vector(self) -> ColumnElement[Any]:
        """The query vector in SQL: ``query`` if given, else ``vector`` bound with the column's type."""
        if self.query is not None:
            return self.query
        return literal(self.vector, self.column.type)

    def distance(self) -> ColumnElement[float]:
        """The distance expression between ``column`` and the query vector (of the column's kind if compact)."""
        return distance(self.metric, self.column, self.query if self.query is not None else self.vector)

    def present(self) -> List[ColumnElement[bool]]:
        """``column IS NOT NULL``, or nothing where the column is declared NOT NULL.

        NULL vectors are never neighbours (SQLite would sort them first); a
        condition that cannot filter anything still costs some planners time.
        """
        declared = getattr(self.column, "expression", self.column)  # an ORM attribute: its column
        if isinstance(declared, Column) and not declared.nullable:
            return []
        return [self.column.is_not(None)]

    def outside_filters(self) -> List[ColumnElement[bool]]:
        """The filters that read a table other than the vector column's (see :func:`other_tables`)."""
        table = getattr(self.column, "table", None)
        return [f for f in self.filters if other_tables(f, table)]

    def ordered_select(self) -> Select[Any]:
        """``SELECT ..., distance ... ORDER BY distance LIMIT k``; with ``exact``, an order no index serves."""
        if self.rerank is not None and not self.exact:
            return self.reranked_select()
        if not self.exact and self.index_name is not None:
            key = self._ranked_apart_key()
            if key is not None:
                return self.ranked_apart_select(key)
        labelled = self.distance().label("distance")
        statement = select(*self.selected, labelled).where(*self.present(), *self.filters)
        if self.max_distance is not None:
            statement = statement.where(self.distance() <= self.max_distance)
        if self.exact:
            # No index matches "distance + 0": the planner scans and sorts exactly.
            return statement.order_by(self.distance() + 0, *self.tiebreak).limit(self.k)
        return statement.order_by(labelled, *(self.tiebreak if self.tiebreak_indexed else ())).limit(self.k)

    def _joined_key(self) -> Optional[ColumnElement[Any]]:
        """The vector column's table's one key column when ``target`` reads that table joined to others (a
        joined-table subclass), else None."""
        mapper = getattr(inspect(self.target, raiseerr=False), "mapper", None)
        table = getattr(self.column, "table", None)
        if mapper is None or table is None or table is not mapper.local_table or len(mapper.tables) < 2:
            return None
        key = list(table.primary_key.columns)
        return key[0] if len(key) == 1 else None

    def _ranked_apart_key(self) -> Optional[ColumnElement[Any]]:
        """The vector table's key when the top-k must rank that table on its own, else None.

        That is when ``target`` reads the table joined to another (a joined-table subclass, whose rows
        are its base table's joined to its own) and the backend's index serves only the table read
        directly (``Capabilities.index_serves_joined_reads``).
        """
        backend = find_backend(self.dialect) if self.dialect is not None else None
        if backend is None or backend.capabilities.index_serves_joined_reads:
            return None
        return self._joined_key()

    def ranked_apart_select(self, key: ColumnElement[Any]) -> Select[Any]:
        """``ORDER BY distance LIMIT k`` over the vector column's table alone (the shape its index serves), in
        a subquery of keys; the selected rows are then read by key and ordered by the same distance.

        Filters on that table rank inside (the index filters after its search, as for any filtered top-k,
        and a short result is searched again exactly); filters naming another table apply outside.
        """
        table = getattr(self.column, "table", None)
        inside = [f for f in self.filters if not other_tables(f, table)]
        outside = self.outside_filters()
        ranked = select(key).where(*self.present(), *inside).order_by(self.distance()).limit(self.k)
        if self.max_distance is not None:
            ranked = ranked.where(self.distance() <= self.max_distance)
        labelled = self.distance().label("distance")
        # An IN list of keys rather than a join: ClickHouse then reads both tables by primary key, where a
        # join to the ranking would read every vector again (26.9); the distance is computed for k rows only.
        statement = select(*self.selected, labelled).where(key.in_(ranked), *outside)
        statement = statement.order_by(labelled, key)
        return statement.limit(self.k) if outside else statement

    def selected_from(self, subquery: Any) -> List[Any]:
        """``selected`` as read from ``subquery`` of a statement that selected them: a mapped entity through
        ``aliased()``, any column expression (an ORM attribute, a labelled function of columns) adapted."""
        adapter = ClauseAdapter(subquery)
        selected: List[Any] = []
        for item in self.selected:
            described = inspect(item, raiseerr=False)
            if getattr(described, "is_mapper", False) or getattr(described, "is_aliased_class", False):
                selected.append(aliased(item, subquery))
            else:
                selected.append(adapter.traverse(item.__clause_element__() if hasattr(item, "__clause_element__") else item))
        return selected

    def reranked_select(self) -> Select[Any]:
        """``rerank`` candidates ordered by the quantized distance (what the compact index serves), re-ranked
        exactly on the full vectors: one statement, the candidates a subquery."""
        table = self.column.table  # type: ignore[attr-defined]
        rough = QuantizedDistance(self.column, self.vector, quantization=str(self.quantization), metric=self.metric)
        key = self._joined_key()
        if key is not None:
            # A joined-table subclass: the candidates are keys of the vector column's table, ranked by the filters
            # on it alone; the entity (its base table joined) is read by key, the other filters applied there.
            inside = [f for f in self.filters if not other_tables(f, table)]
            keys = select(key).where(*self.present(), *inside).order_by(rough).limit(self.rerank)
            exact_distance = self.distance().label("distance")
            chosen = select(*self.selected, exact_distance).where(key.in_(keys), *self.outside_filters())
            if self.max_distance is not None:
                chosen = chosen.where(self.distance() <= self.max_distance)
            return chosen.order_by(exact_distance, key).limit(self.k)
        candidates = (
            select(*table.columns)
            .where(*self.present(), *self.filters)
            .order_by(rough)
            .limit(self.rerank)
            .subquery("candidates")
        )
        column_key = str(self.column.key)  # type: ignore[attr-defined]
        exact = distance(self.metric, candidates.c[column_key], self.vector).label("distance")
        # Other tables stay, joined again by the filters that name them.
        outside = [ClauseAdapter(candidates).traverse(f) for f in self.outside_filters()]
        statement = select(*self.selected_from(candidates), exact).select_from(candidates).where(*outside)
        if self.max_distance is not None:
            statement = statement.where(exact <= self.max_distance)
        return statement.order_by(exact).limit(self.k)


# -- query-time settings -----------------------------------------------------------


@contextlib.contextmanager
def search_settings(
    bind: Union[Connection, "Session"],
    *,
    ef_search: Optional[int] = None,
    iterative_scan: Union[str, bool, None] = None,
    probes: Optional[int] = None,
) -> Iterator[None]:
    """Tune index searches for the statements run inside the ``with`` block.

    - ``ef_search``: candidates an HNSW search keeps (higher = better recall,
      slower).  PostgreSQL ``hnsw.ef_search`` (default 40), DuckDB
      ``hnsw_ef_search``.
    - ``iterative_scan``: pgvector 0.8's ``hnsw.iterative_scan``
      (``"strict_order"``, ``"relaxed_order"`` or ``"off"``; ``True`` means
      ``"relaxed_order"``): keep scanning the index until a filtered query has
      enough rows.  IVFFlat gets ``relaxed_order`` (its only mode).
    - ``probes``: pgvector's ``ivfflat.probes``.

    PostgreSQL settings are transaction-local (``set_config(..., true)``, i.e.
    ``SET LOCAL``) and restored when the block exits normally; a rollback also
    discards them.  On DuckDB the setting is per connection and reset on exit.
    SQLite's vec0 search is exact and has nothing to tune: the block is a no-op.
    """
    connection = _connection(bind)
    ef_search = _check_positive("ef_search", ef_search, maximum=1000)
    probes = _check_positive("probes", probes)
    mode = _iterative_mode(iterative_scan)
    backend = find_backend(connection.dialect)
    if backend is None:
        yield
        return
    with backend.search_settings(connection, ef_search=ef_search, iterative_scan=mode, probes=probes):
        yield


def _check_positive(name: str, value: Any, maximum: Optional[int] = None) -> Optional[int]:
    if value is None:
        return None
    checked = whole_number(value)
    if checked is None or checked < 1 or (maximum is not None and checked > maximum):
        expected = f"an integer from 1 to {maximum}" if maximum is not None else "a positive integer"
        raise InvalidArgumentError(f"search_settings({name}=...) expects {expected}, got {value!r}")
    return checked


def _iterative_mode(value: Union[str, bool, None]) -> Optional[str]:
    if value is None:
        return None
    if value is True:
        return "relaxed_order"
    if value is False:
        return "off"
    if value not in ITERATIVE_SCAN_MODES:
        raise InvalidArgumentError(
            f"iterative_scan expects one of {', '.join(ITERATIVE_SCAN_MODES)} (or True/False), got {value!r}"
        )
    return str(value)


# -- top-k ------------------------------------------------------------------------------


def other_tables(condition: Any, table: Any) -> List[Any]:
    """The tables ``condition`` reads in its own FROM (not inside a subquery of it), ``table`` left out."""
    return [source for source in getattr(condition, "_from_objects", ()) if source is not table]


def _resolve(column: Any) -> tuple[ColumnElement[Any], Any]:
    """The SQL column and, for an ORM attribute (or a mapped class with one Vector column), the entity to select."""
    column = _vector_attribute(column)
    entity = None
    parent = getattr(column, "parent", None)
    if hasattr(column, "__clause_element__") and parent is not None and hasattr(parent, "entity"):
        entity = parent.entity
    expr = column.__clause_element__() if hasattr(column, "__clause_element__") else column
    declared = getattr(expr, "type", None)
    if isinstance(declared, CompactVector):
        metric = declared.metrics[0]
        raise InvalidVectorError(
            f"knn() ranks Vector columns, not {declared.described_as}; rank it in a statement of your own, "
            f"e.g. select(...).order_by(column.{metric}(q)).limit(k) (its distances: {', '.join(declared.metrics)})"
        )
    if not isinstance(declared, Vector):
        raise InvalidVectorError(f"knn() expects a Vector column, got {expr!r} of type {declared!r}")
    return expr, entity


def _is_sql(value: Any) -> bool:
    """Whether ``value`` is a SQL expression (a column, a condition, ``text()``) or an ORM attribute."""
    return isinstance(value, ClauseElement) or hasattr(value, "__clause_element__")


def where_conditions(where: Any, call: str) -> List[Any]:
    """``where`` as a list of SQL conditions: ``None`` (none), one SQL expression, or a list of them.

    ``call`` names the argument in errors, e.g. ``"knn(where=...)"``.  A dict is
    refused with a pointer to :func:`~sqlalchemy_vector.metadata_filter`, a
    string with a pointer to column expressions.
    """
    if where is None:
        return []
    if _is_sql(where):
        return [where]
    expected = f"{call} expects a SQL condition or a list of them (e.g. table.c.id > 3)"
    if isinstance(where, Mapping):
        raise InvalidArgumentError(
            f"{expected}, got the dict {where!r}; for metadata conditions, build the condition with "
            "sqlalchemy_vector.metadata_filter(table.c.metadata, {...})"
        )
    if isinstance(where, (str, bytes)):
        raise InvalidArgumentError(
            f"{expected}, got the string {where!r}; write the condition with columns, "
            "or wrap SQL text in sqlalchemy.text(...)"
        )
    if not isinstance(where, Iterable):
        raise InvalidArgumentError(f"{expected}, got {type(where).__name__} {where!r}")
    conditions = list(where)
    for position, condition in enumerate(conditions):
        if not _is_sql(condition):
            raise InvalidArgumentError(
                f"{expected}, got {type(condition).__name__} {condition!r} at position {position} of the list; "
                "give SQL conditions only"
            )
    return conditions


def _is_selectable(value: Any) -> bool:
    """Whether ``select()`` takes ``value``: a column or other SQL expression, an ORM attribute or a mapped class."""
    return _is_sql(value) or hasattr(value, "__mapper__")


def _selected_columns(columns: Any) -> List[Any]:
    """``knn(columns=...)`` as a list: one column or mapped class, or a list of them."""
    if _is_selectable(columns):
        return [columns]
    expected = "knn(columns=...) expects a list of columns, ORM attributes or mapped classes (e.g. [table.c.id])"
    if isinstance(columns, (str, bytes, Mapping)) or not isinstance(columns, Iterable):
        raise InvalidArgumentError(
            f"{expected}, got {type(columns).__name__} {columns!r}"
            + ("; pass the Column, e.g. table.c[name], not its name" if isinstance(columns, str) else "")
        )
    selected = list(columns)
    for position, item in enumerate(selected):
        if not _is_selectable(item):
            raise InvalidArgumentError(
                f"{expected}, got {type(item).__name__} {item!r} at position {position} of the list"
                + ("; pass the Column, e.g. table.c[name], not its name" if isinstance(item, str) else "")
            )
    return selected


def _find_index(
    col: ColumnElement[Any], metric: str, index: Union[VectorIndex, str, None], quantized: bool = False
) -> Optional[VectorIndex]:
    if isinstance(index, VectorIndex):
        return index
    if index is not None and not isinstance(index, str):
        raise InvalidArgumentError(
            f"knn(index=...) expects a VectorIndex, the name of one, or None (the column's index for the metric), "
            f"got {type(index).__name__} {index!r}"
        )
    candidates = [
        ix
        for ix in getattr(getattr(col, "table", None), "indexes", ())
        if isinstance(ix, VectorIndex)
        and ix.vector_column.key == col.key
        # A binary index ranks candidates by Hamming distance over the bits, whatever metric re-ranks them.
        and (ix.metric == metric or (quantized and ix.quantization == "binary"))
        and (ix.quantization is not None) == quantized
    ]
    candidates.sort(key=lambda ix: ix.metric != metric)  # the index declared for the metric first
    if isinstance(index, str):
        candidates = [ix for ix in candidates if ix.name == index]
        if not candidates:
            raise VectorIndexError(
                f"knn(index={index!r}): no VectorIndex of that name with metric {metric!r} on {col.table.name}.{col.name}"
            )
    return candidates[0] if candidates else None


def knn_select(
    column: Any,
    query: Any,
    k: int = 10,
    *,
    metric: str = "cosine",
    where: Union[ColumnElement[bool], Sequence[ColumnElement[bool]], None] = None,
    columns: Union[ColumnElement[Any], Sequence[Any], None] = None,
    dialect: Optional[Dialect] = None,
    index: Union[VectorIndex, str, None] = None,
    exact: bool = False,
    rerank: Optional[int] = None,
) -> Select[Any]:
    """The top-``k`` statement :func:`knn` runs, with a ``distance`` column last.

    ``columns`` (a list, or one column) default to the ORM entity when
    ``column`` is a mapped attribute (or the mapped class itself, with one
    :class:`Vector` column), otherwise to the table's columns.
    ``where`` filters rows: one SQL condition or a list of them.  On
    PostgreSQL and DuckDB the statement is ``ORDER BY <distance> LIMIT k``, the
    shape an index on ``metric`` serves; ``exact=True`` orders by an
    expression no index matches, forcing an exact scan.  With a SQLite
    ``dialect`` and a :class:`VectorIndex` on the column for ``metric``, it is
    a vec0 KNN query (``MATCH ... AND k = ?``, filters as ``rowid IN (...)``),
    which is exact.

    ``rerank=n`` searches through the column's quantized index
    (``VectorIndex(..., quantization=...)``) for ``n`` candidates and re-ranks
    them on the full vectors, in one statement; ``n`` is at least ``k``.
    """
    return top_k_select(
        _knn_request(column, query, k, metric, where, columns, dialect, index, exact=exact, rerank=rerank)
    )


def _knn_request(
    column: Any,
    query: Any,
    k: Any,
    metric: str,
    where: Any,
    columns: Any,
    dialect: Optional[Dialect],
    index: Union[VectorIndex, str, None],
    *,
    exact: Any = False,
    rerank: Any = None,
) -> TopK:
    """The request :func:`knn_select` builds its statement from, every argument checked."""
    col, entity = _resolve(column)
    metric = normalize_metric(metric, f"knn() on {col.table.name}.{col.name}", VECTOR_INDEX_METRICS)
    k = _check_k(k)
    vtype: Vector = col.type  # type: ignore[assignment]
    vector = to_float32(query, vtype.dim, vtype.described_as)
    if metric == "cosine" and not vector.any():
        raise InvalidVectorError(
            f"knn() on {vtype.described_as}: the query vector is all zeros, which has no direction under cosine; "
            "use l2 or max_inner_product, or check the embedding input"
        )
    filters = where_conditions(where, "knn(where=...)")
    exact = flag("knn(exact=...)", exact)
    if columns is not None:
        selected = _selected_columns(columns)
    else:
        selected = [entity] if entity is not None else list(col.table.columns)
    found = _find_index(col, metric, index, quantized=rerank is not None)
    quantization = None
    if rerank is not None:
        rerank = _check_k(rerank)
        if rerank < k:
            raise InvalidArgumentError(f"knn(rerank={rerank}) fetches fewer candidates than k={k}; use rerank >= k")
        if found is None or found.quantization is None:
            raise VectorIndexError(
                f"knn(rerank={rerank}) on {col.table.name}.{col.name} needs a quantized VectorIndex for metric "
                f"{metric!r} (VectorIndex(..., quantization='binary' or 'half'))"
            )
        quantization = found.quantization
    return TopK(
        column=col,
        vector=vector,
        k=k,
        metric=metric,
        filters=filters,
        selected=selected,
        target=entity if entity is not None else col.table,
        index_name=found.index_name if found is not None else None,
        exact=exact,
        dialect=dialect,
        rerank=rerank,
        quantization=quantization,
        # A table's key is a constraint; an alias's or a subquery's, the columns themselves.
        tiebreak=list(getattr(col.table.primary_key, "columns", col.table.primary_key)),
    )


def top_k_select(request: TopK) -> Select[Any]:
    """The statement for ``request``: the backend's index shape when a dialect is known, else the generic one."""
    backend = find_backend(request.dialect) if request.dialect is not None else None
    if backend is None:
        return request.ordered_select()
    return backend.top_k_select(request)


def _vector_attribute(column: Any) -> Any:
    """A mapped class's single Vector attribute; anything else unchanged."""
    if not isinstance(column, type):
        return column
    mapper = getattr(column, "__mapper__", None)
    if mapper is None:
        raise InvalidArgumentError(
            f"knn() expects a Vector column, a mapped attribute or a mapped class, got the class {column.__name__}"
        )
    found = [prop.key for prop in mapper.column_attrs if any(isinstance(c.type, Vector) for c in prop.columns)]
    if len(found) != 1:
        raise InvalidArgumentError(
            f"knn() with the class {column.__name__} needs it to have exactly one Vector column, it has "
            f"{', '.join(found) or 'none'}; pass the attribute instead, e.g. {column.__name__}.{found[0] if found else 'embedding'}"
        )
    return getattr(column, found[0])


#: The largest row count a statement takes (a LIMIT, a per-arm depth, an RRF constant): above 2**31 no
#: database takes it as a LIMIT, and nobody asks for that many neighbours.
MAX_LIMIT = 2**31 - 1


def _check_k(k: Any) -> int:
    checked = whole_number(k)
    if checked is None or not 1 <= checked <= MAX_LIMIT:
        raise InvalidArgumentError(f"knn() expects k to be a positive integer (at most 2**31 - 1), got {k!r}")
    return checked


@overload
def knn(
    bind: Union[Connection, "Session"],
    column: Type[_E],
    query: Any,
    k: int = 10,
    *,
    metric: str = "cosine",
    where: Union[ColumnElement[bool], Sequence[ColumnElement[bool]], None] = None,
    columns: None = None,
    ef_search: Optional[int] = None,
    iterative_scan: Union[str, bool, None] = None,
    index: Union[VectorIndex, str, None] = None,
    rerank: Optional[int] = None,
) -> List[Tuple[_E, float]]: ...


@overload
def knn(
    bind: Union[Connection, "Session"],
    column: Any,
    query: Any,
    k: int = 10,
    *,
    metric: str = "cosine",
    where: Union[ColumnElement[bool], Sequence[ColumnElement[bool]], None] = None,
    columns: Union[ColumnElement[Any], Sequence[Any], None] = None,
    ef_search: Optional[int] = None,
    iterative_scan: Union[str, bool, None] = None,
    index: Union[VectorIndex, str, None] = None,
    rerank: Optional[int] = None,
) -> List[Row[Any]]: ...


def knn(
    bind: Union[Connection, "Session"],
    column: Any,
    query: Any,
    k: int = 10,
    *,
    metric: str = "cosine",
    where: Union[ColumnElement[bool], Sequence[ColumnElement[bool]], None] = None,
    columns: Union[ColumnElement[Any], Sequence[Any], None] = None,
    ef_search: Optional[int] = None,
    iterative_scan: Union[str, bool, None] = None,
    index: Union[VectorIndex, str, None] = None,
    rerank: Optional[int] = None,
) -> Any:
    """The ``k`` rows nearest to ``query`` by ``metric``, nearest first, each with a ``distance``.

    Uses the column's vector index when one serves ``metric``: HNSW/IVFFlat
    on PostgreSQL, HNSW on DuckDB, the vec0 table on SQLite.  Returns ``k``
    rows whenever at least ``k`` rows match ``where``: a shorter result from an
    approximate index is replaced by an exact search.  On PostgreSQL a filtered
    query also turns on pgvector's iterative scan (``relaxed_order`` unless
    ``iterative_scan`` says otherwise); rows are re-sorted by distance.

    ``rerank=n``: fetch ``n`` candidates through the column's quantized index
    and re-rank them exactly (see :func:`knn_select`); the HNSW search keeps
    at least ``n`` candidates (``ef_search``), up to pgvector's limit of 1,000:
    past it an HNSW index gives 1,000 candidates at most.

    ``bind`` is a Connection or an ORM Session; with a Session and a mapped
    attribute, rows are ``(entity, distance)``.  ``column`` may also be the
    mapped class itself when it has one :class:`Vector` column: the rows are
    then typed ``(entity, distance)`` for type checkers too, e.g.
    ``for doc, distance in knn(session, Doc, q, 5)``.
    """
    connection = _connection(bind)
    dialect = connection.dialect
    backend = backend_for(dialect)
    where = where_conditions(where, "knn(where=...)")
    ef_search = _check_positive("ef_search", ef_search, maximum=1000)
    request = _knn_request(column, query, k, metric, where, columns, dialect, index, rerank=rerank)
    if request.rerank is not None:
        # An HNSW search returns at most ef_search rows; never below the usual default of 40.
        ef_search = min(1000, max(ef_search or 40, request.rerank))
    rows = run_top_k(
        bind,
        backend,
        top_k_select(request),
        request.k,
        filtered=bool(where),
        ef_search=ef_search,
        iterative_scan=iterative_scan,
        exact=lambda: knn_select(
            column, query, k, metric=metric, where=where, columns=columns, dialect=dialect, index=index, exact=True
        ),
        # Even an exact index (vec0) picks its k before criteria the ORM adds outside it (a subclass's
        # discriminator, with_loader_criteria): a short result from any index is searched again exactly.
        refill_short=request.index_name is not None,
        index_name=request.index_name,
    )
    key = _tie_order(request)
    if key is not None:
        # Ties in key order, as the facade returns them: the index's statement cannot order by the key too
        # (PostgreSQL's and DuckDB's would not serve it), and each database returns its ties in its own order.
        rows.sort(key=key)
    return rows


def _tie_order(request: TopK) -> Optional[Callable[[Row[Any]], Any]]:
    """A sort key for the rows of ``request``: distance, then primary key; None if the rows do not hold the key."""
    if not request.tiebreak:
        return None
    if len(request.selected) == 1 and isinstance(request.selected[0], type):  # (entity, distance)
        return lambda row: (row[-1] is None, row[-1] or 0.0, inspect(row[0]).identity)
    positions = []
    for column in request.tiebreak:
        found = next((i for i, selected in enumerate(request.selected) if selected is column), None)
        if found is None:
            return None
        positions.append(found)
    return lambda row: (row[-1] is None, row[-1] or 0.0, tuple(row[i] for i in positions))


def run_top_k(
    bind: Any,
    backend: Any,
    statement: Any,
    k: int,
    *,
    filtered: bool,
    ef_search: Optional[int] = None,
    iterative_scan: Union[str, bool, None] = None,
    exact: Any = None,
    parameters: Optional[Mapping[str, Any]] = None,
    refill_short: bool = False,
    index_name: Optional[str] = None,
) -> List[Row[Any]]:
    """Run a top-k statement with the backend's settings; re-run ``exact()`` if an approximate index came up short.

    ``parameters`` are the values of the statements' named bind parameters
    (e.g. the query vector of a statement built once with a ``bindparam``).
    ``refill_short``: re-run ``exact()`` after a short result from any index,
    the exact ones included.
    """
    connection = _connection(bind)
    mode = _iterative_mode(iterative_scan)
    if mode is None and filtered:
        mode = backend.default_iterative_scan(connection, filtered)
    try:
        if ef_search is None and mode is None:  # nothing to set: no settings block
            rows = list(bind.execute(statement, parameters).all())
        else:
            with search_settings(connection, ef_search=ef_search, iterative_scan=mode):
                rows = list(bind.execute(statement, parameters).all())
    except DBAPIError as error:
        # An index declared on the table but not built in the database (created before it was declared, or
        # dropped since): ranked exactly, as where the statement reads the table itself (PostgreSQL, DuckDB).
        if exact is None or index_name is None or not backend.index_table_missing(error, index_name):
            raise
        return list(bind.execute(exact(), parameters).all())
    if mode == "relaxed_order":
        # Relaxed order may return rows slightly out of order: sort by distance (last column).
        rows.sort(key=lambda row: (row[-1] is None, row[-1]))
    if exact is not None and (
        (len(rows) < k and (backend.capabilities.approximate_index or refill_short))
        # A row the index gave no distance: sqlite-vec's vec0 has no cosine distance for a zero vector
        # and counts it among its k nearest; the exact statement ranks it last, at 2.0, as elsewhere.
        or any(row[-1] is None for row in rows)
    ):
        rows = list(bind.execute(exact(), parameters).all())
    return rows
