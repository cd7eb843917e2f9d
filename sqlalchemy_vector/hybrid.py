"""Hybrid search: full-text rank and vector rank fused by reciprocal rank fusion, in one statement.

:func:`hybrid_select` builds one SELECT with two ranked arms and their fusion:

- the *vector arm*: rows by ascending distance to the query vector (exact;
  one row per key, its nearest vector, when vectors live in another table);
- the *text arm*: rows the full-text index matches, by descending relevance
  (``ts_rank_cd`` on PostgreSQL, ``bm25`` on SQLite and DuckDB);
- each arm is filtered by ``where`` (a condition on the text table, e.g. a
  metadata filter) *before* it is ranked and cut to ``fetch_k`` rows, so
  filters never cost results: when ``top_k`` rows match, ``top_k`` come back;
- the arms are joined with ``FULL OUTER JOIN`` on the key, and each row scores
  ``weights[0] / (k_vector + vector_rank) + weights[1] / (k_text + text_rank)``
  (a missing rank adds nothing).  Ranks start at 1 and ties are broken by the
  key, so the order is the same on every backend (for distances each database
  computes equal: DuckDB's float32 can tell apart two that are equal in exact
  arithmetic, and the others' can tie two that are not).

``rrf_k`` is one constant for both arms (60, the standard RRF) or a pair
``(k_vector, k_text)``: a small constant makes that arm *lead* (its ranks
differ a lot: ``1/(1+1)`` against ``1/(1+2)``) and a large one makes the other
arm a tie-breaker (``1/(60+1)`` against ``1/(60+2)``).  ``fetch_k`` is one
depth for both arms or a pair ``(vector depth, text depth)``.

The statement returns ``key``, ``score``, ``vector_rank``, ``text_rank``
(NULL where the arm did not return the row), ``distance`` and ``text_score``,
best first.
"""

from __future__ import annotations

import math
from typing import AbstractSet, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from sqlalchemy import Double, cast, false, func, literal, select
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.schema import Column, Table
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.expression import ColumnClause

from .dialects.base import backend_for
from .exc import InvalidArgumentError, UnsupportedDialectError, UnsupportedMetricError, VectorIndexError
from .functions import METRICS, distance
from .fulltext import FullTextIndex, FullTextSpec, checked_spec, key_name, query_terms
from .kinds import BIT_METRICS, CompactVector, SparseValue
from .search import MAX_LIMIT, other_tables, where_conditions
from .types import flag, positive_integer, real_number, to_float32, whole_number

__all__ = [
    "hybrid_select", "reciprocal_rank_fusion", "DEFAULT_RRF_K", "HYBRID_COLUMNS", "MAX_QUERY_WORDS", "MAX_QUERY_CHARACTERS",
    "RRFConstant", "FetchDepth"
]

#: The RRF constant of Cormack et al. (2009): ranks below ~60 matter little more than rank 60.
DEFAULT_RRF_K = 60

#: One RRF constant for both arms, or ``(vector, text)``.
RRFConstant = Union[int, Tuple[int, int]]

#: One ranking depth for both arms, or ``(vector, text)``.
FetchDepth = Union[int, Tuple[int, int]]

#: Columns of a hybrid statement, in order.
HYBRID_COLUMNS = ("key", "score", "vector_rank", "text_rank", "distance", "text_score")


def _dialect(bind: Any) -> Dialect:
    if isinstance(bind, Dialect):
        return bind
    dialect = getattr(bind, "dialect", None)
    if dialect is None:
        get_bind = getattr(bind, "get_bind", None)
        if callable(get_bind):  # an ORM Session
            dialect = get_bind().dialect
    if not isinstance(dialect, Dialect):
        raise InvalidArgumentError(
            f"hybrid_select(bind=...) takes an Engine, Connection, Session or Dialect, got {type(bind).__name__}"
        )
    return dialect


def _find_index(text_column: Column[Any], index: Union[FullTextIndex, FullTextSpec, str, None], language: Optional[str]) -> FullTextSpec:
    table = text_column.table
    if index is not None and not isinstance(index, (FullTextIndex, FullTextSpec, str)):
        raise InvalidArgumentError(
            f"hybrid_select(index=...) expects a FullTextIndex, the name of one built in the database, or None "
            f"(the one declared on {table.name}.{text_column.name}), got {type(index).__name__} {index!r}"
        )
    if language is not None and not isinstance(language, str):
        raise InvalidArgumentError(
            f"hybrid_select(language=...) expects the name of a text search language such as 'english', "
            f"got {type(language).__name__} {language!r}"
        )
    if isinstance(index, FullTextIndex):
        return index.spec
    if isinstance(index, FullTextSpec):
        return index
    declared = [i for i in getattr(table, "indexes", ()) if isinstance(i, FullTextIndex) and i.text_column is text_column]
    if isinstance(index, str):
        for found in declared:
            if found.index_name == index:
                return found.spec
        return FullTextSpec(index, table, text_column, language or "english")
    if len(declared) == 1:
        return declared[0].spec
    raise VectorIndexError(
        f"hybrid_select: {'no' if not declared else 'more than one'} FullTextIndex declared on "
        f"{table.name}.{text_column.name}; pass index= (a FullTextIndex, or the name of one built in the database)"
    )


def _is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (finite or not): a Python or numpy int or float, not a boolean."""
    return real_number(value) is not None or isinstance(value, (float, np.floating))


def _numbers(values: Any) -> Optional[List[Any]]:
    """``values`` as a list when it is a collection of numbers (not a string or a mapping), else ``None``."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        return None
    given = list(values)
    return given if all(map(_is_number, given)) else None


def _check_weights(weights: Any) -> Tuple[float, float]:
    given = _numbers(weights)
    if given is None or len(given) != 2:
        raise InvalidArgumentError(
            f"weights must be two numbers (vector, text), got {weights!r:.80}; pass a pair such as (1.0, 1.0)"
        )
    vector_weight, text_weight = real_number(given[0]), real_number(given[1])
    if vector_weight is None or text_weight is None:
        raise InvalidArgumentError(f"weights must be finite numbers, got {weights!r:.80}")
    if min(vector_weight, text_weight) < 0 or vector_weight + text_weight <= 0:
        raise InvalidArgumentError(f"weights must be non-negative and not both zero, got {weights!r}")
    return vector_weight, text_weight


def _check_weight_range(vector_weight: float, text_weight: float, largest: Tuple[int, int]) -> None:
    """Refuse weights whose fused score leaves double precision: an overflow or an arm's share rounded to 0.

    The score is computed in SQL doubles, where PostgreSQL raises on both ("value out of range") and the
    other backends give infinity (tied at the top) or silently drop the arm.  ``largest`` is each arm's
    largest ``rrf_k + rank``.
    """
    if math.isinf(vector_weight + text_weight):
        raise InvalidArgumentError(
            f"weights {vector_weight!r} and {text_weight!r} add up beyond double precision, so the fused score "
            "would overflow; only their ratio orders the results: scale both down (e.g. (1.0, 1.0))"
        )
    for arm, weight, denominator in (("vector", vector_weight, largest[0]), ("text", text_weight, largest[1])):
        if weight and weight / denominator == 0.0:
            raise InvalidArgumentError(
                f"the {arm} weight {weight!r} is too small: its share of the score, weight / (rrf_k + rank), "
                f"rounds to 0 in double precision (at rank {denominator} with these rrf_k and fetch_k); only the "
                f"weights' ratio orders the results: scale both up, or pass 0 to leave the {arm} arm out"
            )


#: The most distinct words a text query may hold.  Each database's relevance function costs more than in proportion
#: to them (PostgreSQL's ``ts_rank_cd``: 75 ms a matching row at 1,000 words), and PostgreSQL fails a query of about
#: 20,000 with its own errors; search engines cap a query's terms alike (Elasticsearch: 1,024 clauses).
MAX_QUERY_WORDS = 1024
#: The most characters a text query may hold, words repeated included: PostgreSQL failed 64,000 repetitions of one
#: word with match_all=True ("stack depth limit exceeded"), 1.5 MB of distinct words by the limit of its tsvector,
#: and SQLite's FTS5 took 12 s for 64,000 repetitions; 1,024 words of 30 letters fit.
MAX_QUERY_CHARACTERS = 32768


def _check_query_length(query_text: str) -> None:
    """Refuse a text query of more than :data:`MAX_QUERY_WORDS` distinct words, or more than
    :data:`MAX_QUERY_CHARACTERS` characters, the same on every backend."""
    if len(query_text) > MAX_QUERY_CHARACTERS:
        raise InvalidArgumentError(
            f"query_text holds {len(query_text):,} characters, more than the {MAX_QUERY_CHARACTERS:,} a text query "
            "may hold; pass the telling words, not a whole document, or search by its vector alone"
        )
    words = {term.casefold() for term in query_terms(query_text)}
    if len(words) > MAX_QUERY_WORDS:
        raise InvalidArgumentError(
            f"query_text holds {len(words):,} distinct words, more than the {MAX_QUERY_WORDS:,} a text query may "
            "hold (the relevance of each matching row costs more with each word); pass the telling words, not a "
            "whole document, or search by its vector alone"
        )


def _per_arm(name: str, value: Any, minimum: int) -> Tuple[int, int]:
    """``value`` as a (vector, text) pair of integers from ``minimum`` to 2**31 - 1: one integer for both, or a pair."""
    pair = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    checked = [n for n in map(whole_number, pair) if n is not None and minimum <= n <= MAX_LIMIT]
    if len(pair) != 2 or len(checked) != 2:
        raise InvalidArgumentError(
            f"{name} must be an integer from {minimum} to {MAX_LIMIT} or a pair (vector, text) of them, got {value!r}"
        )
    return checked[0], checked[1]


def _table_column(name: str, value: Any) -> Any:
    """The argument ``name`` of :func:`hybrid_select` as a table's column: a Column or a mapped attribute."""
    column = value.__clause_element__() if hasattr(value, "__clause_element__") else value
    if isinstance(column, ColumnClause) and getattr(column, "table", None) is not None:
        return column
    raise InvalidArgumentError(
        f"hybrid_select({name}=...) expects a table's Column or a mapped attribute, "
        f"got {type(value).__name__} {value!r}"
        + (f"; pass the column itself, e.g. table.c[{value!r}], not its name" if isinstance(value, str) else "")
    )


def _key_column(table: Table, key: Any) -> Any:
    """``hybrid_select(key=...)``: the column named ``key`` of ``table`` (its primary key if ``None``), or a column."""
    expected = f"hybrid_select(key=...) must be a column name of {table.name} or a Column"
    if key is None:
        key_name(table)  # the one primary-key column, or the error asking for key=
        return next(iter(table.primary_key.columns))  # itself: its key (table.c) may differ from its name
    if isinstance(key, str):
        # The column's key (table.c[...]) or its name in the database, which differ for Column(name, key=...).
        named = [column for column in table.c if column.name == key]
        if key not in table.c and len(named) != 1:
            raise InvalidArgumentError(
                f"{expected}, got {key!r}; the columns of {table.name} are {', '.join(table.c.keys())}"
            )
        return table.c[key] if key in table.c else named[0]
    column = key.__clause_element__() if hasattr(key, "__clause_element__") else key
    if not isinstance(column, ColumnElement):
        raise InvalidArgumentError(f"{expected}, got {type(key).__name__} {key!r}")
    return column


def _check_text_conditions(conditions: Sequence[ColumnElement[bool]], text_table: Table, vector_table: Any) -> None:
    """Refuse a ``where`` condition on a table other than the text table: the text arm would join it row by row."""
    for condition in conditions:
        for named in other_tables(condition, text_table):
            name = getattr(named, "name", None) or type(named).__name__
            fix = (
                f"pass conditions on {name!r} as vector_where= (they filter the vector arm)"
                if named is vector_table
                else f"filter {text_table.name!r} itself, e.g. {text_table.name}.c.<key>.in_(select(...))"
            )
            raise InvalidArgumentError(
                f"hybrid_select(where=...) filters table {text_table.name!r} in both arms, but {condition} names "
                f"table {name!r}, which would multiply the text arm's rows; {fix}"
            )


def hybrid_select(
    text_column: Any,
    vector_column: Any,
    query_text: str,
    query_vector: Any,
    *,
    bind: Any,
    index: Union[FullTextIndex, FullTextSpec, str, None] = None,
    language: Optional[str] = None,
    key: Any = None,
    vector_key: Any = None,
    top_k: int = 10,
    fetch_k: Optional[FetchDepth] = None,
    metric: str = "cosine",
    rrf_k: RRFConstant = DEFAULT_RRF_K,
    weights: Sequence[float] = (1.0, 1.0),
    where: Union[ColumnElement[bool], Sequence[ColumnElement[bool]], None] = None,
    vector_where: Union[ColumnElement[bool], Sequence[ColumnElement[bool]], None] = None,
    match_all: bool = False,
) -> Select[Any]:
    """One statement ranking rows of ``text_column``'s table by full-text and vector rank fused (RRF).

    ``bind`` (an Engine, Connection, Session or Dialect) decides the SQL of
    the text arm.  ``index`` is the :class:`~sqlalchemy_vector.FullTextIndex`
    on ``text_column`` (found among the table's indexes when one is
    declared), or the name of one built in the database (with its
    ``language``).  ``key`` is the text table's unique key (default: its
    primary key); when vectors live in another table, ``vector_key`` is that
    table's column holding the key.  ``fetch_k`` (default ``max(top_k, 50)``)
    is how deep each arm ranks, or a (vector, text) pair.  ``weights`` are the
    (vector, text) weights of the fusion, and ``rrf_k`` its constant, or a
    (vector, text) pair of constants.  ``where`` filters the text table in both arms;
    ``vector_where`` filters the vector table (e.g. one model's vectors); each is
    one SQL condition or a list of them, as in :func:`~sqlalchemy_vector.knn`
    (a ``where`` condition naming another table is refused).
    ``match_all`` makes the text arm require every word (default: any word).
    On a compact vector column (``SparseVector``, ``BitVector``, ...) the
    query is a value of that kind and ``metric`` one of its distances.
    """
    dialect = _dialect(bind)
    backend = backend_for(dialect, feature="hybrid search")
    if not backend.capabilities.fulltext_search:
        raise UnsupportedDialectError(
            f"the {backend.name!r} backend has no full-text indexes in sqlalchemy_vector, so no hybrid search; "
            "search by vector (VectorRAG.query, knn)"
        )
    if not isinstance(query_text, str):
        raise InvalidArgumentError(f"query_text must be a string, got {type(query_text).__name__}")
    _check_query_length(query_text)
    top_k = positive_integer("top_k", top_k)
    if top_k > MAX_LIMIT:  # before fetch_k, whose default it sets
        raise InvalidArgumentError(f"top_k must be at most {MAX_LIMIT}, got {top_k}")
    vector_depth, text_depth = _per_arm("fetch_k", fetch_k if fetch_k is not None else max(top_k, 50), 1)
    vector_k, text_k = _per_arm("rrf_k", rrf_k, 0)
    vector_weight, text_weight = _check_weights(weights)
    _check_weight_range(vector_weight, text_weight, (vector_k + vector_depth, text_k + text_depth))
    match_all = flag("hybrid_select(match_all=...)", match_all)
    text_column = _table_column("text_column", text_column)
    vector_column = _table_column("vector_column", vector_column)
    column_type = vector_column.type
    compact = isinstance(column_type, CompactVector)
    # A compact column ranks by its own distances (a BitVector's hamming, ...), which distance() checks.
    known = METRICS + (BIT_METRICS if compact else ())
    if metric not in known:
        raise InvalidArgumentError(f"unknown metric {metric!r}; expected one of {', '.join(known)}")
    if metric == "inner_product":  # a similarity: ranked by ascending value, the farthest rows came first
        raise UnsupportedMetricError(
            "hybrid_select(metric='inner_product'): the vector arm ranks by ascending distance, and the inner "
            "product is larger for closer vectors; use 'max_inner_product', the negative dot product, which ranks "
            "the same"
        )
    conditions = where_conditions(where, "hybrid_select(where=...)")
    vector_conditions = where_conditions(vector_where, "hybrid_select(vector_where=...)")
    spec = checked_spec(_find_index(text_column, index, language), backend)
    text_table: Table = spec.table
    key_column = _key_column(text_table, key)
    vector_table = vector_column.table
    _check_text_conditions(conditions, text_table, vector_table)
    dim = getattr(column_type, "dim", None)
    if compact:  # the query as the column's kind takes it: a SparseValue or {index: value}, bits, ...
        vector = column_type.validate(query_vector, "query vector")
    else:
        vector = to_float32(query_vector, dim, "query vector") if dim else query_vector
    # A zero vector has no direction under cosine: no row is near it, and the text arm ranks alone.
    elements = vector.values if isinstance(vector, SparseValue) else vector
    no_direction = metric == "cosine" and hasattr(elements, "any") and not elements.any()

    # -- the vector arm: nearest first, one row per key
    measured = distance("l2" if no_direction else metric, vector_column, vector)  # (an empty arm then)
    if vector_table is text_table:
        nearest = select(key_column.label("key"), measured.label("distance")).where(vector_column.is_not(None))
    else:
        if vector_key is None:
            raise InvalidArgumentError(
                f"vectors live in table {vector_table.name!r}, not {text_table.name!r}: pass vector_key= "
                f"(the column of {vector_table.name!r} holding {text_table.name}.{key_column.name})"
            )
        vector_key = getattr(vector_key, "__clause_element__", lambda: vector_key)()
        source = vector_table.join(text_table, vector_key == key_column) if conditions else vector_table
        nearest = (
            select(vector_key.label("key"), func.min(measured).label("distance"))
            .select_from(source)
            .where(vector_column.is_not(None))
            .group_by(vector_key)
        )
    if conditions:
        nearest = nearest.where(*conditions)
    if vector_conditions:
        nearest = nearest.where(*vector_conditions)
    if no_direction:
        nearest = nearest.where(false())
    near = nearest.subquery("nearest")
    vector_rank = func.row_number().over(order_by=(near.c.distance, near.c.key)).label("rank")
    vector_arm = (
        select(near.c.key, near.c.distance, vector_rank).order_by(vector_rank).limit(vector_depth).subquery("vector_arm")
    )

    # -- the text arm: most relevant first
    matching, relevance = backend.fulltext_arm(spec, key_column, query_text, match_all, dialect)
    matching = matching.add_columns(key_column.label("key"), relevance.label("text_score"))
    if conditions:
        matching = matching.where(*conditions)
    found = matching.subquery("matching")
    text_rank = func.row_number().over(order_by=(found.c.text_score.desc(), found.c.key)).label("rank")
    text_arm = (
        select(found.c.key, found.c.text_score, text_rank).order_by(text_rank).limit(text_depth).subquery("text_arm")
    )

    # -- the fusion
    def part(weight: float, k: int, rank: ColumnElement[Any]) -> ColumnElement[Any]:
        term = cast(literal(weight), Double) / (cast(literal(k), Double) + cast(rank, Double))
        return func.coalesce(term, cast(literal(0.0), Double))

    score = (part(vector_weight, vector_k, vector_arm.c.rank) + part(text_weight, text_k, text_arm.c.rank)).label("score")
    fused_key = func.coalesce(vector_arm.c.key, text_arm.c.key).label("key")
    return (
        select(
            fused_key,
            score,
            vector_arm.c.rank.label("vector_rank"),
            text_arm.c.rank.label("text_rank"),
            vector_arm.c.distance.label("distance"),
            text_arm.c.text_score.label("text_score"),
        )
        .select_from(_fused_arms(vector_arm, text_arm, vector_weight, text_weight))
        .order_by(score.desc(), fused_key)
        .limit(top_k)
    )


def _fused_arms(vector_arm: Any, text_arm: Any, vector_weight: float, text_weight: float) -> Any:
    """Both arms' rows, or only those of the arm that weighs when the other's weight is 0 (it adds nothing)."""
    on = vector_arm.c.key == text_arm.c.key
    if vector_weight == 0:
        return text_arm.join(vector_arm, on, isouter=True)
    if text_weight == 0:
        return vector_arm.join(text_arm, on, isouter=True)
    return vector_arm.join(text_arm, on, full=True)


def reciprocal_rank_fusion(
    rankings: Sequence[Iterable[Any]],
    *,
    rrf_k: Union[int, Sequence[int]] = DEFAULT_RRF_K,
    weights: Optional[Sequence[float]] = None,
    top_k: Optional[int] = None,
) -> List[Dict[str, Any]]:
    """Fuse ranked lists of keys in Python, as :func:`hybrid_select` does in SQL (ranks from 1).

    ``rankings`` is a list of rankings, each a list of hashable keys (ids),
    best first.  ``rrf_k`` is one constant, or one per list; ``weights`` one
    non-negative number per list.  Returns dicts with ``key``, ``score`` and
    ``ranks`` (one rank or None per list), best first, ties broken by key;
    where tied keys cannot be compared (e.g. ``1`` and ``"a"``), by the key's
    type name, then the key, then first appearance.  Useful to fuse results
    from different sources, and as the reference the SQL is tested against.
    """
    if isinstance(rankings, (str, bytes, Mapping)) or not isinstance(rankings, Iterable):
        raise InvalidArgumentError(
            f"rankings must be a list of ranked lists of keys, got {type(rankings).__name__}"
            + ("; pass the rankings as a list, e.g. list(rankings.values())" if isinstance(rankings, Mapping) else "")
        )
    lists: List[List[Any]] = []
    for position, ranking in enumerate(rankings):
        if isinstance(ranking, (str, bytes, AbstractSet, Mapping)) or not isinstance(ranking, Iterable):
            raise InvalidArgumentError(
                f"rankings[{position}] must be a list of keys, best first, got {type(ranking).__name__} {ranking!r:.60}"
                + ("; wrap a single key in a list" if isinstance(ranking, (str, bytes)) else "")
                + ("; a set or a dict has no order of its own: sort it into a list, best first"
                   if isinstance(ranking, (AbstractSet, Mapping)) else "")
            )
        lists.append(list(ranking))
    if weights is None:
        factors = [1.0] * len(lists)
    else:
        given_weights = _numbers(weights)
        if given_weights is None:
            raise InvalidArgumentError(f"weights must be numbers, one per ranking, got {weights!r:.80}")
        if len(given_weights) != len(lists):
            raise InvalidArgumentError(f"weights has {len(given_weights)} values for {len(lists)} rankings")
        factors = [w for w in map(real_number, given_weights) if w is not None and w >= 0]
        if len(factors) != len(given_weights):
            raise InvalidArgumentError(f"weights must be finite and non-negative, got {weights!r:.80}")
    given: List[Any] = list(rrf_k) if isinstance(rrf_k, (list, tuple)) else [rrf_k] * len(lists)
    if len(given) != len(lists):
        raise InvalidArgumentError(f"rrf_k has {len(given)} values for {len(lists)} rankings")
    constants = [k for k in map(whole_number, given) if k is not None and 0 <= k <= MAX_LIMIT]
    if len(constants) != len(given):
        raise InvalidArgumentError(f"rrf_k must be integers from 0 to {MAX_LIMIT} (60 is usual), got {rrf_k!r:.80}")
    if top_k is not None:
        top_k = positive_integer("top_k", top_k)
    ranks: Dict[Any, List[Optional[int]]] = {}
    for position, ranking in enumerate(lists):
        for rank, found in enumerate(ranking, 1):
            try:
                got = ranks.setdefault(found, [None] * len(lists))
            except TypeError:
                raise InvalidArgumentError(
                    f"rankings[{position}][{rank - 1}] is a {type(found).__name__}, which cannot be a key: keys must be "
                    "hashable (ids, strings, tuples)"
                    + ("; pass the document ids, e.g. [r['document_id'] for r in results]" if isinstance(found, Mapping) else "")
                ) from None
            if got[position] is None:
                got[position] = rank
    fused = [
        {"key": found, "score": sum(w / (k + r) for w, k, r in zip(factors, constants, got) if r is not None), "ranks": got}
        for found, got in ranks.items()
    ]
    try:
        fused = sorted(fused, key=lambda item: (-item["score"], item["key"]))
    except TypeError:  # tied keys Python cannot order (e.g. 1 and "a")
        fused = sorted(fused, key=lambda item: (-item["score"], _TieKey(item["key"])))
    return fused if top_k is None else fused[:top_k]


class _TieKey:
    """A key in a tie of keys of mixed types: by type name, then by key where keys of one type compare."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _TieKey) -> bool:
        mine, theirs = type(self.key).__name__, type(other.key).__name__
        if mine != theirs:
            return mine < theirs
        try:
            return bool(self.key < other.key)
        except TypeError:  # keys of one type that do not compare, e.g. (1,) and ("a",): first appearance
            return False


def hybrid_rows(rows: Iterable[Any]) -> List[Mapping[str, Any]]:
    """Rows of a :func:`hybrid_select` statement as dicts keyed by :data:`HYBRID_COLUMNS`."""
    return [dict(zip(HYBRID_COLUMNS, row)) for row in rows]
