"""Metadata filters: a dict of conditions on a JSON column, compiled per dialect.

:func:`metadata_filter` turns a filter such as::

    {"year": {"$gte": 2020}, "lang": "en", "$or": [{"draft": False}, {"reviewed": True}]}

into a SQLAlchemy boolean expression on a JSON column.  Operators: ``$eq $ne
$gt $gte $lt $lte $in $nin $exists $like`` on a key, ``$and $or $not`` to
combine; a bare value means ``$eq``.  A dict of plain keys reads inside an
object: ``{"source": {"page": {"$gte": 3}, "file": "a.md"}}`` holds for rows
whose ``source`` is an object with those ``page`` and ``file``.  Keys address
object members only, never array elements (``"0"`` is the key ``0``), and a
dotted key is one key (``"a.b"`` is the key ``a.b``, not ``b`` inside ``a``).

Values compare by JSON type on every backend: ``1`` matches the number 1 (and
1.0) but not the string ``"1"`` or ``true``; ``True`` matches only JSON
``true``; ``None`` matches JSON ``null``.  Numbers compare as double precision.
Strings compare byte-wise (PostgreSQL with ``COLLATE "C"``), and ``$like`` is
case-sensitive everywhere (``%`` any run, ``_`` one character, ``\\`` escapes).
``$ne``, ``$nin`` and ``$not`` also match rows where the key is missing.
A filter nests dicts and lists at most :data:`MAX_NESTING` (16) levels deep;
a deeper one is refused (its SQL nests as deep, and SQLite's parser stops
at about 28 nested ``$not``).

Keys and values are always bound parameters; ``$in`` and ``$nin`` bind their
list as one expanding ``IN`` parameter, or where the backend takes a list as one
parameter however long, as that: an array (PostgreSQL: ``= ANY(...)``, under
psycopg's 65,535 parameters a statement) or a JSON array text (SQLite:
``IN (SELECT value FROM json_each(...))``, under SQLite's 32,766 variables a
statement).  The SQL that reads a key
differs per backend (PostgreSQL ``->``/``->>``/``jsonb_typeof``, SQLite and
DuckDB ``json_extract``/``json_type``, a case-sensitive LIKE): each backend
provides it (``Backend.compile_json_value``, ``json_key_path``,
``compile_case_sensitive_like``, ``like_pattern``), and the one compilation
rule per element here asks the dialect's backend.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from sqlalchemy import Boolean, Float, String, and_, bindparam, false, func, literal, not_, or_, true
from sqlalchemy import types as sqltypes
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, coercions, roles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.sql.visitors import InternalTraversal

from .dialects.base import Backend, backend_for
from .exc import InvalidFilterError

__all__ = ["Filter", "MAX_NESTING", "OPERATORS", "check_nesting", "metadata_filter", "json_value", "JSONValue"]

#: What the facade accepts as ``filters=``: a filter dict or a SQLAlchemy boolean expression.
Filter = Union[Mapping[str, Any], ColumnElement[bool]]

#: A key of a metadata document: the top-level key, then the keys of the objects inside it.
KeyPath = Tuple[str, ...]

#: Every operator a filter dict understands.
OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$like", "$and", "$or", "$not")

#: How many levels of dicts and lists a filter may nest.  Its SQL nests as deep: SQLite 3.40's parser
#: overflowed at 28 nested ``$not``, and SQLAlchemy's compiler (which recurses) at 63.
MAX_NESTING = 16

_FIELD_OPERATORS = frozenset(OPERATORS) - {"$and", "$or"}
_KINDS: Dict[str, TypeEngine[Any]] = {
    "number": Float(), "string": String(), "boolean": Boolean(), "present": Boolean(), "null": Boolean()
}


# -- building the expression ----------------------------------------------------------


def metadata_filter(column: Any, filters: Filter) -> ColumnElement[bool]:
    """The boolean SQL expression for ``filters`` on the JSON ``column``.

    ``filters`` is a filter dict (see the module documentation); a SQLAlchemy
    boolean expression is returned unchanged, so callers can accept either.
    An empty dict matches every row.
    """
    if hasattr(filters, "__clause_element__"):
        filters = filters.__clause_element__()
    if isinstance(filters, ColumnElement):
        return filters
    if not isinstance(filters, Mapping):
        raise InvalidFilterError(
            f"filters must be a dict of metadata conditions or a SQLAlchemy boolean expression, "
            f"got {type(filters).__name__} {filters!r}"
        )
    check_nesting(filters)
    column = coercions.expect(roles.ExpressionElementRole, column)
    return _conditions(column, filters, "filters")


def check_nesting(filters: Mapping[str, Any]) -> None:
    """Refuse a filter dict nesting more than :data:`MAX_NESTING` levels (checked without recursing)."""
    if nesting_exceeds(filters, MAX_NESTING):
        raise InvalidFilterError(
            f"filters nest dicts and lists more than {MAX_NESTING} levels deep; a filter may nest at most "
            f"{MAX_NESTING} ($not is one level, $and and $or two: the list and its dicts): list conditions side by "
            "side in one $and or $or instead of nesting them, or write the condition as a SQLAlchemy expression"
        )


def nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests dicts and lists (or tuples) more than ``limit`` levels deep (without recursing)."""
    level = [value] if isinstance(value, (Mapping, list, tuple)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, Mapping) else container)
            if isinstance(child, (Mapping, list, tuple))
        ]
    return False


def json_value(column: Any, key: Union[str, Sequence[str]], kind: str) -> "JSONValue":
    """The value of ``key`` of a JSON column as SQL, when it is of JSON type ``kind``.

    ``key`` is a top-level key, or a list of keys for one inside nested
    objects (``["source", "page"]``: ``page`` of the object at ``source``).

    ``kind`` is ``"number"`` (a float), ``"string"``, ``"boolean"``, ``"present"``
    (true when the key exists, even with a null value) or ``"null"`` (true
    when the value is JSON null).  For the first three the expression is NULL
    when the key is missing or holds another type, so comparisons never mix
    types.
    """
    return JSONValue(column, key, kind)


def _conditions(column: ColumnElement[Any], spec: Mapping[str, Any], where: str) -> ColumnElement[bool]:
    clauses: List[ColumnElement[bool]] = []
    for key, condition in spec.items():
        if not isinstance(key, str):
            raise InvalidFilterError(f"{where}: keys must be strings, got {type(key).__name__} {key!r}")
        if key in ("$and", "$or"):
            if not isinstance(condition, (list, tuple)) or not condition:
                raise InvalidFilterError(
                    f"{where}: {key} expects a non-empty list of filter dicts, got {condition!r}"
                )
            parts = []
            for index, part in enumerate(condition):
                if not isinstance(part, Mapping):
                    raise InvalidFilterError(
                        f"{where}: {key}[{index}] must be a filter dict, got {type(part).__name__} {part!r}"
                    )
                parts.append(_conditions(column, part, f"{where} {key}[{index}]"))
            clauses.append(and_(*parts) if key == "$and" else or_(*parts))
        elif key == "$not":
            if not isinstance(condition, Mapping):
                raise InvalidFilterError(f"{where}: $not expects a filter dict, got {condition!r}")
            clauses.append(_negate(_conditions(column, condition, f"{where} $not")))
        elif key.startswith("$"):
            raise InvalidFilterError(
                f"{where}: unknown operator {key!r} at the top level; use $and, $or or $not there, "
                f"or one of {', '.join(sorted(_FIELD_OPERATORS))} inside a key's condition; a metadata key that "
                f"starts with '$' is read with an expression instead: json_value(Document.metadata_, {key!r}, "
                "'number') > 3 (kinds: number, string, boolean, present, null)"
            )
        else:
            clauses.append(_field(column, (key,), condition, where))
    if not clauses:
        return true()
    return clauses[0] if len(clauses) == 1 else and_(*clauses)


def _field(column: ColumnElement[Any], path: KeyPath, condition: Any, base: str) -> ColumnElement[bool]:
    """The condition on the value at ``path`` (a key, then the keys of the objects inside it)."""
    where = f"{base} on key {' > '.join(map(repr, path))}"
    if isinstance(condition, Mapping) and condition and all(isinstance(k, str) and k.startswith("$") for k in condition):
        parts = [_operator(column, path, op, value, where) for op, value in condition.items()]
        return parts[0] if len(parts) == 1 else and_(*parts)
    if isinstance(condition, Mapping) and any(isinstance(k, str) and k.startswith("$") for k in condition):
        raise InvalidFilterError(
            f"{where}: mixes operators and plain keys in {condition!r}; use only operators such as "
            '{"$gt": 1, "$lt": 5}, or only keys of the object inside, such as {"page": 3}'
        )
    if isinstance(condition, Mapping) and condition:
        # Plain keys: conditions on the members of the object at ``path``.
        parts = []
        for key, inner in condition.items():
            if not isinstance(key, str):
                raise InvalidFilterError(f"{where}: keys must be strings, got {type(key).__name__} {key!r}")
            parts.append(_field(column, path + (key,), inner, base))
        return parts[0] if len(parts) == 1 else and_(*parts)
    return _equals(column, path, condition, where)


def _operator(column: ColumnElement[Any], key: KeyPath, op: str, value: Any, where: str) -> ColumnElement[bool]:
    if op == "$eq":
        return _equals(column, key, value, where)
    if op == "$ne":
        return _negate(_equals(column, key, value, where))
    if op in _ORDERING:
        value = _plain(value)
        kind = _kind(value, where, op, ordered=True)
        return _ORDERING[op](JSONValue(column, key, kind), _bind(value, kind))
    if op in ("$in", "$nin"):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
            raise InvalidFilterError(f"{where}: {op} expects a list of values, got {type(value).__name__} {value!r}")
        matched = _one_of(column, key, list(value), where, op)
        return matched if op == "$in" else _negate(matched)
    if op == "$exists":
        if not isinstance(value, bool):
            raise InvalidFilterError(f"{where}: $exists expects True or False, got {value!r}")
        present = JSONValue(column, key, "present")
        return present if value else not_(present)
    if op == "$like":
        if not isinstance(value, str):
            raise InvalidFilterError(f"{where}: $like expects a string pattern, got {type(value).__name__} {value!r}")
        if _ends_with_escape(value):
            raise InvalidFilterError(
                f"{where}: $like pattern {value!r} ends with an unpaired escape character '\\'; "
                "write '\\\\' for a literal backslash"
            )
        return CaseSensitiveLike(JSONValue(column, key, "string"), literal(value, _LikePattern()))
    if op == "$not":
        if not isinstance(value, Mapping) or not value or not all(isinstance(k, str) and k.startswith("$") for k in value):
            raise InvalidFilterError(
                f'{where}: $not on a key expects a dict of operators such as {{"$gt": 3}}, got {value!r}'
            )
        parts = [_operator(column, key, inner, operand, where) for inner, operand in value.items()]
        return _negate(parts[0] if len(parts) == 1 else and_(*parts))
    raise InvalidFilterError(f"{where}: unknown operator {op!r}; expected one of {', '.join(sorted(_FIELD_OPERATORS))}")


_ORDERING: Dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _kind(value: Any, where: str, op: str, ordered: bool = False) -> str:
    if isinstance(value, bool):
        if ordered:
            raise InvalidFilterError(f"{where}: {op} compares numbers or strings, got the boolean {value!r}")
        return "boolean"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidFilterError(f"{where}: {op} expects a finite number, got {value!r}")
        if isinstance(value, int):
            try:
                float(value)
            except OverflowError:
                raise InvalidFilterError(
                    f"{where}: {op} got {value!r}, beyond the range of double precision (about 1.8e308) in "
                    "which numbers compare; use a number within that range"
                ) from None
        return "number"
    if isinstance(value, str):
        if "\x00" in value:
            # PostgreSQL text cannot hold it, and SQLite before 3.45 ends a JSON string at it (a list value
            # "a\x00b" would match a stored "a").
            raise InvalidFilterError(
                f"{where}: {op} got a string with a NUL character (U+0000) at position {value.index(chr(0))}, "
                f"{value!r:.60}, which no backend stores in a JSON string as given: remove it from the value"
            )
        return "string"
    if value is None and not ordered:
        return "null"
    expected = "a number or a string" if ordered else "a number, string, boolean or None"
    raise InvalidFilterError(
        f"{where}: {op} expects {expected}, got {type(value).__name__} {value!r}; "
        "filters compare scalar JSON values (use a SQLAlchemy expression for anything else)"
    )


def _bind(value: Any, kind: str) -> ColumnElement[Any]:
    if kind == "number":
        return FilterNumber(_as_compared(value, kind))
    return literal(_as_compared(value, kind), _KINDS[kind])


def _as_compared(value: Any, kind: str) -> Any:
    # Numbers compare as double precision on every backend.  ``+ 0.0`` turns -0.0 into 0.0: they
    # are equal, but ClickHouse's IN looks values up by their bits, where -0.0 is not 0.0.
    return float(value) + 0.0 if kind == "number" else value


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (``np.int64(1)`` is ``1``, as pandas and numpy code give it)."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _equals(column: ColumnElement[Any], key: KeyPath, value: Any, where: str) -> ColumnElement[bool]:
    value = _plain(value)
    kind = _kind(value, where, "$eq")
    if kind == "null":
        return JSONValue(column, key, "null")
    return JSONValue(column, key, kind) == _bind(value, kind)


def _one_of(column: ColumnElement[Any], key: KeyPath, values: List[Any], where: str, op: str) -> ColumnElement[bool]:
    by_kind: Dict[str, List[Any]] = {}
    for value in map(_plain, values):
        by_kind.setdefault(_kind(value, where, op), []).append(value)
    clauses: List[ColumnElement[bool]] = []
    for kind, group in by_kind.items():
        if kind == "null":
            clauses.append(JSONValue(column, key, "null"))
        elif len(group) == 1:
            clauses.append(JSONValue(column, key, kind) == _bind(group[0], kind))
        else:
            # One parameter for the list: a comparison per value would nest one OR
            # per value, and SQLite rejects expressions deeper than 1,000.
            clauses.append(OneOf(JSONValue(column, key, kind), [_as_compared(v, kind) for v in group]))
    if not clauses:
        return false()
    return clauses[0] if len(clauses) == 1 else or_(*clauses)


def _negate(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    # A missing key or another type makes a comparison NULL; its negation must be true.
    return not_(func.coalesce(clause, false(), type_=Boolean()))


def _ends_with_escape(pattern: str) -> bool:
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return trailing % 2 == 1


# -- SQL elements ------------------------------------------------------------------------


class _JSONKey(sqltypes.TypeDecorator[Any]):
    """A metadata key (a string) or a path of keys (a tuple), bound in the form each backend's JSON functions take."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Optional[str]:
        return None if value is None else _key_path(value, dialect)

    def process_literal_param(self, value: Any, dialect: Dialect) -> str:
        # The compiler renders a None literal as NULL without calling this.
        assert value is not None
        return _key_path(value, dialect)


def _key_path(value: Any, dialect: Dialect) -> str:
    backend = _backend(dialect)
    if isinstance(value, tuple):
        return backend.json_nested_path(value, dialect)
    return backend.json_key_path(value, dialect)


class JSONValue(ColumnElement[Any]):
    """A key of a JSON column, read as one JSON type (see :func:`json_value`).

    A backend renders the key from one of two forms: ``json_key``, one
    parameter holding the key (or, for a key inside nested objects, the
    whole path) in the form ``Backend.json_key_path`` (``json_nested_path``)
    gives it, or ``json_keys``, one plain string parameter per key of the path.
    """

    __visit_name__ = "json_value"
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("json_key", InternalTraversal.dp_clauseelement),
        ("json_keys", InternalTraversal.dp_clauseelement_list),
        ("kind", InternalTraversal.dp_string),
    ]

    def __init__(self, column: Any, key: Union[str, Sequence[str]], kind: str) -> None:
        if kind not in _KINDS:
            raise InvalidFilterError(f"json_value() kind must be one of {', '.join(_KINDS)}, got {kind!r}")
        path = (key,) if isinstance(key, str) else tuple(key) if isinstance(key, (list, tuple)) else ()
        if not path or not all(isinstance(k, str) for k in path):
            raise InvalidFilterError(
                f"metadata keys are strings (or, for a key inside nested objects, a non-empty list of strings), "
                f"got {type(key).__name__} {key!r}"
            )
        self.column = coercions.expect(roles.ExpressionElementRole, column)
        # Not ``key``: ColumnElement.key is the name a select gives the column.
        self.json_key = literal(path[0] if len(path) == 1 else path, _JSONKey())
        self.json_keys = [literal(k, String()) for k in path]
        self.kind = kind
        self.type = _KINDS[kind]


class OneOf(ColumnElement[bool]):
    """``value IN (values)``, in the form the backend takes a list of any length in (``Backend.compile_one_of``).

    Holds every form's parameter: ``listed``, the expanding ``IN`` parameter
    (one bound value per list item), ``array``, the whole list as one array
    parameter, and ``json_array``, the whole list as one JSON array text.  The
    backend renders one of them.
    """

    __visit_name__ = "json_one_of"
    inherit_cache = True
    type = Boolean()
    _traverse_internals = [
        ("value", InternalTraversal.dp_clauseelement),
        ("listed", InternalTraversal.dp_clauseelement),
        ("array", InternalTraversal.dp_clauseelement),
        ("json_array", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, value: ColumnElement[Any], values: List[Any]) -> None:
        self.value = value
        self.listed = value.in_(values)
        self.array = bindparam(None, values, type_=sqltypes.ARRAY(value.type))
        self.json_array = bindparam(None, values, type_=_JSONArray())


class FilterNumber(ColumnElement[float]):
    """A number a filter compares with, in the form the backend reads stored numbers (``Backend.compile_filter_number``).

    Holds both forms' parameters: ``number``, the double, and ``json_number``,
    its JSON text, for a backend whose conversion of JSON text to a double is
    not exact (it then reads both sides the same way).
    """

    __visit_name__ = "json_filter_number"
    inherit_cache = True
    type = Float()
    _traverse_internals = [
        ("number", InternalTraversal.dp_clauseelement),
        ("json_number", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, value: float) -> None:
        self.number = literal(value, Float())
        self.json_number = literal(value, _JSONNumber())


class _JSONNumber(sqltypes.TypeDecorator[float]):
    """A filter's number bound as JSON text (``json.dumps``: the shortest text that reads back as the same double)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Optional[float], dialect: Dialect) -> Optional[str]:
        return None if value is None else json.dumps(value)

    def process_literal_param(self, value: Optional[float], dialect: Dialect) -> str:
        # The compiler renders a None literal as NULL without calling this.
        assert value is not None
        return json.dumps(value)


class _JSONArray(sqltypes.TypeDecorator[List[Any]]):
    """A list of filter values (numbers as floats, strings, booleans) bound as one JSON array text."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Optional[List[Any]], dialect: Dialect) -> Optional[str]:
        # Non-ASCII characters as themselves, not \u escapes: the text compares byte-wise as it is bound.
        return None if value is None else json.dumps(value, ensure_ascii=False)


class _LikePattern(sqltypes.TypeDecorator[str]):
    """A ``$like`` pattern, bound in the form the backend's case-sensitive match takes."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Optional[str], dialect: Dialect) -> Optional[str]:
        return None if value is None else _backend(dialect).like_pattern(value)

    def process_literal_param(self, value: Optional[str], dialect: Dialect) -> str:
        # The compiler renders a None literal as NULL without calling this.
        assert value is not None
        return _backend(dialect).like_pattern(value)


class CaseSensitiveLike(ColumnElement[bool]):
    """``value LIKE pattern``, case-sensitive on every backend (each backend says how)."""

    __visit_name__ = "case_sensitive_like"
    inherit_cache = True
    type = Boolean()
    _traverse_internals = [
        ("value", InternalTraversal.dp_clauseelement),
        ("pattern", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, value: ColumnElement[Any], pattern: ColumnElement[str]) -> None:
        self.value = value
        self.pattern = pattern


# -- compilation: the dialect's backend renders each element --------------------------------


def _backend(dialect: Dialect) -> Backend:
    return backend_for(dialect, feature="metadata filters")


@compiles(JSONValue)
def _compile_json_value(element: JSONValue, compiler: SQLCompiler, **kw: Any) -> str:
    return _backend(compiler.dialect).compile_json_value(element, compiler, **kw)


@compiles(OneOf)
def _compile_one_of(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return _backend(compiler.dialect).compile_one_of(element, compiler, **kw)


@compiles(FilterNumber)
def _compile_filter_number(element: FilterNumber, compiler: SQLCompiler, **kw: Any) -> str:
    return _backend(compiler.dialect).compile_filter_number(element, compiler, **kw)


@compiles(CaseSensitiveLike)
def _compile_like(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    return _backend(compiler.dialect).compile_case_sensitive_like(element, compiler, **kw)
