"""Top-k search that uses the vector index where there is one, and query-time tuning.

- :func:`knn` runs a top-k query and returns ``k`` rows whenever ``k`` rows
  match, on every backend: approximate indexes can return fewer under a filter
  (DuckDB 1.5 filters after its HNSW search; pgvector's scan stops at
  ``ef_search`` candidates), so a short result is re-run as an exact search.
- :func:`knn_select` builds the statement :func:`knn` runs: on PostgreSQL and
  DuckDB the ``ORDER BY distance LIMIT k`` shape their indexes recognise, on
  SQLite a ``MATCH ... AND k = ?`` query on the index's vec0 table.
- :func:`search_settings` sets ``ef_search`` (and pgvector's iterative scan
  and IVFFlat probes) for the statements run inside a ``with`` block.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Union

from sqlalchemy import Integer, and_, func, literal, select, table, text
from sqlalchemy import column as sql_column
from sqlalchemy.engine import Connection, Row
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.types import Float

from .dialects import engine_state
from .exc import InvalidVectorError, MissingExtensionError, VectorIndexError
from .functions import distance
from .index import VectorIndex, _connection, _sqlite_rowid_column, _vec0_column_name, normalize_metric
from .types import Vector, to_float32

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["knn", "knn_select", "search_settings", "ITERATIVE_SCAN_MODES"]

#: pgvector's ``hnsw.iterative_scan`` values (pgvector 0.8+).
ITERATIVE_SCAN_MODES = ("off", "strict_order", "relaxed_order")

# vec0 (sqlite-vec 0.1.9) rejects k above 4096.
_VEC0_MAX_K = 4096


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
    name = connection.dialect.name
    if ef_search is not None and (isinstance(ef_search, bool) or not isinstance(ef_search, int) or not 1 <= ef_search <= 1000):
        raise InvalidVectorError(f"search_settings(ef_search=...) expects an integer from 1 to 1000, got {ef_search!r}")
    if probes is not None and (isinstance(probes, bool) or not isinstance(probes, int) or probes < 1):
        raise InvalidVectorError(f"search_settings(probes=...) expects a positive integer, got {probes!r}")
    mode = _iterative_mode(iterative_scan)
    if name == "postgresql":
        settings: Dict[str, str] = {}
        if ef_search is not None:
            settings["hnsw.ef_search"] = str(ef_search)
        if probes is not None:
            settings["ivfflat.probes"] = str(probes)
        if mode is not None:
            _require_pgvector(connection, (0, 8), "iterative_scan")
            settings["hnsw.iterative_scan"] = mode
            settings["ivfflat.iterative_scan"] = "off" if mode == "off" else "relaxed_order"
        with _postgresql_settings(connection, settings):
            yield
    elif name == "duckdb" and ef_search is not None:
        # current_setting() raises for a never-set extension option (DuckDB 1.5.5);
        # duckdb_settings() has the row as soon as vss is loaded.
        current = connection.execute(
            text("SELECT value FROM duckdb_settings() WHERE name = 'hnsw_ef_search'")
        ).all()
        if not current:  # vss not loaded: there is no HNSW index to tune
            yield
            return
        previous = current[0][0]
        connection.execute(text("SET hnsw_ef_search = :value"), {"value": ef_search})
        try:
            yield
        finally:
            if previous is None:
                connection.execute(text("RESET hnsw_ef_search"))
            else:
                connection.execute(text("SET hnsw_ef_search = :value"), {"value": int(previous)})
    else:
        yield


def _iterative_mode(value: Union[str, bool, None]) -> Optional[str]:
    if value is None:
        return None
    if value is True:
        return "relaxed_order"
    if value is False:
        return "off"
    if value not in ITERATIVE_SCAN_MODES:
        raise InvalidVectorError(
            f"iterative_scan expects one of {', '.join(ITERATIVE_SCAN_MODES)} (or True/False), got {value!r}"
        )
    return str(value)


@contextlib.contextmanager
def _postgresql_settings(connection: Connection, settings: Dict[str, str]) -> Iterator[None]:
    if not settings:
        yield
        return
    previous = {
        key: connection.execute(select(func.current_setting(key, True))).scalar() for key in settings
    }
    for key, value in settings.items():
        connection.execute(select(func.set_config(key, value, True)))
    yield
    # Not in a finally: after an error the transaction is aborted, and its
    # rollback discards SET LOCAL values anyway.
    for key, old in previous.items():
        if old is not None:
            connection.execute(select(func.set_config(key, old, True)))


def _require_pgvector(connection: Connection, version: tuple[int, int], feature: str) -> None:
    installed: Any = (engine_state(connection.dialect) or {}).get("pgvector")
    if installed is None:
        installed = connection.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
    parts = tuple(int(p) for p in str(installed or "0").split(".")[:2] if p.isdigit())
    if parts < version:
        raise MissingExtensionError(
            f"{feature} needs pgvector {'.'.join(map(str, version))} or later, the server has "
            f"{installed or 'no pgvector'}; upgrade the extension (ALTER EXTENSION vector UPDATE)"
        )


# -- top-k ------------------------------------------------------------------------------


def _resolve(column: Any) -> tuple[ColumnElement[Any], Any]:
    """The SQL column and, for an ORM attribute, the entity to select."""
    entity = None
    parent = getattr(column, "parent", None)
    if hasattr(column, "__clause_element__") and parent is not None and hasattr(parent, "entity"):
        entity = parent.entity
    expr = column.__clause_element__() if hasattr(column, "__clause_element__") else column
    if not isinstance(getattr(expr, "type", None), Vector):
        raise InvalidVectorError(f"knn() expects a Vector column, got {expr!r} of type {getattr(expr, 'type', None)!r}")
    return expr, entity


def _find_index(col: ColumnElement[Any], metric: str, index: Union[VectorIndex, str, None]) -> Optional[VectorIndex]:
    if isinstance(index, VectorIndex):
        return index
    candidates = [
        ix
        for ix in getattr(getattr(col, "table", None), "indexes", ())
        if isinstance(ix, VectorIndex) and ix.vector_column.key == col.key and ix.metric == metric
    ]
    if isinstance(index, str):
        candidates = [ix for ix in candidates if ix.name == index]
        if not candidates:
            raise VectorIndexError(
                f"knn(index={index!r}): no VectorIndex of that name with metric {metric!r} on {col.table.name}.{col.name}"
            )
    return candidates[0] if candidates else None


def _uses_vec0(dialect: Optional[Dialect], index: Optional[VectorIndex], k: int) -> bool:
    if dialect is None or dialect.name != "sqlite" or index is None or k > _VEC0_MAX_K:
        return False
    return (engine_state(dialect) or {}).get("sqlite_vec") != "python"


def knn_select(
    column: Any,
    query: Any,
    k: int = 10,
    *,
    metric: str = "cosine",
    where: Union[ColumnElement[bool], Sequence[ColumnElement[bool]], None] = None,
    columns: Optional[Sequence[Any]] = None,
    dialect: Optional[Dialect] = None,
    index: Union[VectorIndex, str, None] = None,
    exact: bool = False,
) -> Select[Any]:
    """The top-``k`` statement :func:`knn` runs, with a ``distance`` column last.

    ``columns`` default to the ORM entity when ``column`` is a mapped
    attribute, otherwise to the table's columns.  ``where`` filters rows.  On
    PostgreSQL and DuckDB the statement is ``ORDER BY <distance> LIMIT k``, the
    shape an index on ``metric`` serves; ``exact=True`` orders by an
    expression no index matches, forcing an exact scan.  With a SQLite
    ``dialect`` and a :class:`VectorIndex` on the column for ``metric``, it is
    a vec0 KNN query (``MATCH ... AND k = ?``, filters as ``rowid IN (...)``),
    which is exact.
    """
    col, entity = _resolve(column)
    metric = normalize_metric(metric, f"knn() on {col.table.name}.{col.name}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidVectorError(f"knn() expects k to be a positive integer, got {k!r}")
    vtype: Vector = col.type  # type: ignore[assignment]
    vector = to_float32(query, vtype.dim, vtype.described_as)
    if metric == "cosine" and not vector.any():
        raise InvalidVectorError(
            f"knn() on {vtype.described_as}: the query vector is all zeros, which has no direction under cosine; "
            "use l2 or max_inner_product, or check the embedding input"
        )
    filters = [] if where is None else ([where] if isinstance(where, ColumnElement) else list(where))
    selected = list(columns) if columns is not None else ([entity] if entity is not None else list(col.table.columns))
    found = _find_index(col, metric, index)
    if _uses_vec0(dialect, found, k):
        assert found is not None
        vec = table(
            found.index_name,
            sql_column("rowid", Integer),
            sql_column("distance", Float),
            sql_column("k", Integer),
            sql_column(_vec0_column_name(found), vtype),
        )
        rowid = _sqlite_rowid_column(found)
        conditions = [vec.c[_vec0_column_name(found)].match(literal(vector, vtype)), vec.c.k == k]
        if filters:
            conditions.append(vec.c.rowid.in_(select(rowid).where(*filters)))
        hits = select(vec.c.rowid, vec.c.distance).where(and_(*conditions)).subquery("knn")
        target = entity if entity is not None else col.table
        return (
            select(*selected, hits.c.distance)
            .select_from(hits)
            .join(target, rowid == hits.c.rowid)
            .order_by(hits.c.distance)
        )
    score = distance(metric, col, vector)
    labelled = score.label("distance")
    # NULL vectors are never neighbours (SQLite would sort them first).
    statement = select(*selected, labelled).where(col.is_not(None), *filters)
    if exact:
        # No index matches "distance + 0": the planner scans and sorts exactly.
        return statement.order_by(distance(metric, col, vector) + 0).limit(k)
    return statement.order_by(labelled).limit(k)


def knn(
    bind: Union[Connection, "Session"],
    column: Any,
    query: Any,
    k: int = 10,
    *,
    metric: str = "cosine",
    where: Union[ColumnElement[bool], Sequence[ColumnElement[bool]], None] = None,
    columns: Optional[Sequence[Any]] = None,
    ef_search: Optional[int] = None,
    iterative_scan: Union[str, bool, None] = None,
    index: Union[VectorIndex, str, None] = None,
) -> List[Row[Any]]:
    """The ``k`` rows nearest to ``query`` by ``metric``, nearest first, each with a ``distance``.

    Uses the column's vector index when one serves ``metric``: HNSW/IVFFlat
    on PostgreSQL, HNSW on DuckDB, the vec0 table on SQLite.  Returns ``k``
    rows whenever at least ``k`` rows match ``where``: a shorter result from an
    approximate index is replaced by an exact search.  On PostgreSQL a filtered
    query also turns on pgvector's iterative scan (``relaxed_order`` unless
    ``iterative_scan`` says otherwise); rows are re-sorted by distance.

    ``bind`` is a Connection or an ORM Session; with a Session and a mapped
    attribute, rows are ``(entity, distance)``.
    """
    connection = _connection(bind)
    dialect = connection.dialect
    statement = knn_select(
        column, query, k, metric=metric, where=where, columns=columns, dialect=dialect, index=index
    )
    if dialect.name == "sqlite":
        return list(bind.execute(statement).all())
    mode = iterative_scan
    if mode is None and where is not None and dialect.name == "postgresql" and _pgvector_at_least(connection, (0, 8)):
        mode = "relaxed_order"
    with search_settings(connection, ef_search=ef_search, iterative_scan=mode if dialect.name == "postgresql" else None):
        rows = list(bind.execute(statement).all())
    if _iterative_mode(mode) == "relaxed_order":
        rows.sort(key=lambda row: (row[-1] is None, row[-1]))
    if len(rows) < k:
        exact = knn_select(
            column, query, k, metric=metric, where=where, columns=columns, dialect=dialect, index=index, exact=True
        )
        rows = list(bind.execute(exact).all())
    return rows


def _pgvector_at_least(connection: Connection, version: tuple[int, int]) -> bool:
    try:
        _require_pgvector(connection, version, "iterative scan")
    except MissingExtensionError:
        return False
    return True
