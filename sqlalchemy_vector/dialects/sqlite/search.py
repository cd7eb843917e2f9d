"""Top-k through a sqlite-vec ``vec0`` table: ``MATCH ? AND k = ?``, joined back to the base table.

vec0 rejects the ``LIMIT ? OFFSET ?`` SQLAlchemy renders for ``.limit()``, so
a KNN over it must name ``k`` in its WHERE clause; filters on the base table
become a key subquery, which vec0 applies inside its search.

With a binary quantized index and ``rerank=n``, the KNN over the ``bit[dim]``
table (Hamming, with ``k = n``) is the subquery of candidates, joined to the
base table and re-ranked there by the exact distance: one statement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, Integer, and_, func, select, table
from sqlalchemy import column as sql_column
from sqlalchemy.sql import Select

from ..base import engine_state
from .index import vec0_key

if TYPE_CHECKING:
    from ...search import TopK

#: vec0 (sqlite-vec 0.1.9) rejects k above 4096.
VEC0_MAX_K = 4096


def top_k_select(request: "TopK") -> Select[Any]:
    """The vec0 KNN statement when an index serves the request, else the ordinary one."""
    dialect = request.dialect
    key = vec0_key(getattr(request.column, "table", None))
    if (
        request.exact
        or request.index_name is None
        or key is None
        or request.k > VEC0_MAX_K
        or dialect is None
        or (engine_state(dialect) or {}).get("sqlite_vec") == "python"
    ):
        return request.ordered_select()
    if request.rerank is not None and (request.quantization != "binary" or request.rerank > VEC0_MAX_K):
        return request.ordered_select()  # the generic candidates-then-exact statement (a scan)
    key_column, key_name = key
    vtype = request.column.type
    name = request.column.name  # type: ignore[attr-defined]
    vec = table(
        request.index_name,
        sql_column(key_name, key_column.type),
        sql_column("distance", Float),
        sql_column("k", Integer),
        sql_column(name, vtype),
        schema=getattr(key_column.table, "schema", None),  # the vec0 table is in its base table's schema
    )
    query: Any = request.query_vector()
    if request.rerank is not None:
        query = func.vec_quantize_binary(func.vec_f32(query))
    conditions = [vec.c[name].match(query), vec.c.k == (request.k if request.rerank is None else request.rerank)]
    # Conditions that name another table (a join condition, a filter on it) are applied again outside,
    # where that table is selected too: inside the key subquery alone, the outer statement would pair
    # every row of the other table with every hit.
    outside = request.outside_filters()
    if request.filters:
        # Only keys vec0 holds: with a text key, sqlite-vec 0.1.9 returns no rows at all
        # when the IN list names a key it does not have (a row whose vector is NULL).
        # Read from the target: a joined-table subclass's rows are its base table's joined to its own, and a
        # filter on the base table would otherwise pair every key with every base row.
        keys = select(key_column).select_from(request.target).where(request.column.is_not(None), *request.filters)
        conditions.append(vec.c[key_name].in_(keys))
    if request.rerank is not None:
        candidates = select(vec.c[key_name]).where(and_(*conditions)).subquery("candidates")
        exact = request.distance().label("distance")
        reranked = (
            select(*request.selected, exact)
            .select_from(candidates)
            .join(request.target, key_column == candidates.c[key_name])
            .where(*outside)
            .order_by(exact)
            .limit(request.k)
        )
        if request.max_distance is not None:
            reranked = reranked.where(request.distance() <= request.max_distance)
        return reranked
    hits = select(vec.c[key_name], vec.c.distance).where(and_(*conditions)).subquery("knn")
    statement = (
        select(*request.selected, hits.c.distance)
        .select_from(hits)
        .join(request.target, key_column == hits.c[key_name])
        .where(*outside)
        .order_by(hits.c.distance)
    )
    if outside:
        statement = statement.limit(request.k)  # a join to several rows of another table gives k rows, as elsewhere
    if request.max_distance is not None:
        statement = statement.where(hits.c.distance <= request.max_distance)
    return statement

