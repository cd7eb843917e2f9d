"""ClickHouse's top-k statement through its vector-similarity index, and the index's query-time settings."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, cast

from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select, column
from sqlalchemy.sql.visitors import ExternallyTraversible, replacement_traverse
from sqlalchemy.types import Integer

if TYPE_CHECKING:
    from ...search import TopK


def with_settings(statement: "Select[Any]", settings: Sequence[str]) -> "Select[Any]":
    """``statement`` with one ``SETTINGS`` clause of ``settings`` (ClickHouse takes one per SELECT)."""
    return statement.with_statement_hint(f"SETTINGS {', '.join(settings)}") if settings else statement


def live_rows_only(request: "TopK", statement: "Select[Any]", settings: List[str]) -> "Select[Any]":
    """The top-k ``statement`` ranked over every row, deleted ones included, keeping the ``k`` first live ones.

    A lightweight DELETE hides rows but leaves them in their part's index
    until a merge.  ClickHouse 26.9 takes each part's ``k`` nearest from its
    index, then drops the hidden ones: a part whose nearest rows were deleted
    gives fewer, and the other parts' rows fill the ``LIMIT`` in place of its
    nearest live ones (ClickHouse/ClickHouse#117286).  Ranked with
    ``apply_deleted_mask = 0``, the ``2k`` rows ranked are the nearest of all
    rows, and the first ``k`` live ones among them are the nearest live rows.
    Where more than ``k`` of the ``2k`` were deleted, the result is short,
    and the caller's exact search (which reads live rows only) completes it.
    A statement that ranks the vector table apart (a subquery of ``k`` keys,
    :meth:`~sqlalchemy_vector.search.TopK.ranked_apart_select`) keeps that
    ranking ``k`` deep: any deleted row among its keys makes the result short.
    """
    table = request.column.table  # type: ignore[attr-defined]
    exists = column("_row_exists", Integer)
    exists.table = table
    ranked = _masked_elsewhere(statement, table).add_columns(exists.label("row_exists")).limit(2 * request.k)
    hits = ranked.subquery("ranked")
    distance, alive = list(hits.c)[-2:]
    # The settings apply to the whole query: ClickHouse reads the index's ones where it plans the outer query.
    live = select(*request.selected_from(hits), distance).select_from(hits).where(alive == 1)
    live = live.order_by(distance).limit(request.k)
    return with_settings(live, [*settings, "apply_deleted_mask = 0"])


def _masked_elsewhere(statement: "Select[Any]", table: Any) -> "Select[Any]":
    """``statement`` with ``apply_deleted_mask = 1`` again in each subquery not selecting from ``table``.

    A subquery inherits its query's settings: a filter's ``IN (SELECT ...)`` over another table would
    otherwise see that table's deleted rows too.
    """

    def restore(element: ExternallyTraversible, **kw: Any) -> Optional[ExternallyTraversible]:
        if isinstance(element, Select) and table not in element.columns_clause_froms:
            return with_settings(element, ["apply_deleted_mask = 1"])
        return None

    options: Dict[str, Any] = {}
    return cast("Select[Any]", replacement_traverse(statement, options, restore))


@contextlib.contextmanager
def settings(connection: Connection, *, ef_search: Optional[int]) -> Iterator[None]:
    """``hnsw_candidate_list_size_for_search`` (HNSW's ef_search) for the block, put back on exit.

    The index has no iterative scan or probes: those are ignored.
    """
    if ef_search is None:
        yield
        return
    previous = int(connection.execute(text("SELECT getSetting('hnsw_candidate_list_size_for_search')")).scalar_one())
    connection.exec_driver_sql(f"SET hnsw_candidate_list_size_for_search = {int(ef_search)}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"SET hnsw_candidate_list_size_for_search = {previous}")
