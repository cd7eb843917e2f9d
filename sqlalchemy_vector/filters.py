"""Metadata filters: a dict of conditions on a JSON column, compiled per dialect.

:func:`metadata_filter` turns a filter such as::

    {"year": {"$gte": 2020}, "lang": "en", "$or": [{"draft": False}, {"reviewed": True}]}

into a SQLAlchemy boolean expression on a JSON column.  Operators: ``$eq $ne
$gt $gte $lt $lte $in $nin $exists $like`` on a key, ``$and $or $not`` to
combine; a bare value means ``$eq``.

Values compare by JSON type on every backend: ``1`` matches the number 1 (and
1.0) but not the string ``"1"`` or ``true``; ``True`` matches only JSON
``true``; ``None`` matches JSON ``null``.  Numbers compare as double precision.
Strings compare byte-wise (PostgreSQL with ``COLLATE "C"``), and ``$like`` is
case-sensitive everywhere (``%`` any run, ``_`` one character, ``\\`` escapes).
``$ne``, ``$nin`` and ``$not`` also match rows where the key is missing.

Keys and values are always bound parameters.  The SQL that reads a key differs
per backend (PostgreSQL ``->``/``->>``/``jsonb_typeof``, SQLite and DuckDB
``json_extract``/``json_type``); each backend's rules are the few functions at
the end of this module.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

from sqlalchemy import Boolean, Float, String, and_, false, func, literal, not_, or_, true
from sqlalchemy import types as sqltypes
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, coercions, roles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from .exc import InvalidFilterError, UnsupportedDialectError

__all__ = ["Filter", "OPERATORS", "metadata_filter", "json_value", "JSONValue"]

#: What the facade accepts as ``filters=``: a filter dict or a SQLAlchemy boolean expression.
Filter = Union[Mapping[str, Any], ColumnElement[bool]]

#: Every operator a filter dict understands.
OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$like", "$and", "$or", "$not")

_FIELD_OPERATORS = frozenset(OPERATORS) - {"$and", "$or"}
_KINDS = {"number": Float(), "string": String(), "boolean": Boolean(), "present": Boolean(), "null": Boolean()}


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
    column = coercions.expect(roles.ExpressionElementRole, column)
    return _conditions(column, filters, "filters")


def json_value(column: Any, key: str, kind: str) -> "JSONValue":
    """The value of top-level ``key`` of a JSON column as SQL, when it is of JSON type ``kind``.

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
                f"or one of {', '.join(sorted(_FIELD_OPERATORS))} inside a key's condition"
            )
        else:
            clauses.append(_field(column, key, condition, f"{where} on key {key!r}"))
    if not clauses:
        return true()
    return clauses[0] if len(clauses) == 1 else and_(*clauses)


def _field(column: ColumnElement[Any], key: str, condition: Any, where: str) -> ColumnElement[bool]:
    if isinstance(condition, Mapping) and condition and all(isinstance(k, str) and k.startswith("$") for k in condition):
        parts = [_operator(column, key, op, value, where) for op, value in condition.items()]
        return parts[0] if len(parts) == 1 else and_(*parts)
    if isinstance(condition, Mapping) and any(isinstance(k, str) and k.startswith("$") for k in condition):
        raise InvalidFilterError(
            f"{where}: mixes operators and plain keys in {condition!r}; use only operators such as "
            '{"$gt": 1, "$lt": 5}'
        )
    return _equals(column, key, condition, where)


def _operator(column: ColumnElement[Any], key: str, op: str, value: Any, where: str) -> ColumnElement[bool]:
    if op == "$eq":
        return _equals(column, key, value, where)
    if op == "$ne":
        return _negate(_equals(column, key, value, where))
    if op in _ORDERING:
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
        return _negate(_field(column, key, value, where))
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
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None and not ordered:
        return "null"
    expected = "a number or a string" if ordered else "a number, string, boolean or None"
    raise InvalidFilterError(
        f"{where}: {op} expects {expected}, got {type(value).__name__} {value!r}; "
        "filters compare scalar JSON values (use a SQLAlchemy expression for anything else)"
    )


def _bind(value: Any, kind: str) -> Any:
    if kind == "number":
        return literal(float(value), Float())
    if kind == "boolean":
        return literal(value, Boolean())
    return literal(value, String())


def _equals(column: ColumnElement[Any], key: str, value: Any, where: str) -> ColumnElement[bool]:
    kind = _kind(value, where, "$eq")
    if kind == "null":
        return JSONValue(column, key, "null")
    return JSONValue(column, key, kind) == _bind(value, kind)


def _one_of(column: ColumnElement[Any], key: str, values: List[Any], where: str, op: str) -> ColumnElement[bool]:
    by_kind: Dict[str, List[Any]] = {}
    for value in values:
        by_kind.setdefault(_kind(value, where, op), []).append(value)
    clauses: List[ColumnElement[bool]] = []
    for kind, group in by_kind.items():
        if kind == "null":
            clauses.append(JSONValue(column, key, "null"))
        elif len(group) == 1:
            clauses.append(JSONValue(column, key, kind) == _bind(group[0], kind))
        else:
            clauses.append(or_(*(JSONValue(column, key, kind) == _bind(v, kind) for v in group)))
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


class _JSONKey(sqltypes.TypeDecorator[str]):
    """A metadata key, bound in the form each backend's JSON functions take."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Optional[str], dialect: Dialect) -> Optional[str]:
        return None if value is None else _key_path(value, dialect)

    def process_literal_param(self, value: Optional[str], dialect: Dialect) -> Optional[str]:
        return self.process_bind_param(value, dialect)


class JSONValue(ColumnElement[Any]):
    """A top-level key of a JSON column, read as one JSON type (see :func:`json_value`)."""

    __visit_name__ = "json_value"
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("key", InternalTraversal.dp_clauseelement),
        ("kind", InternalTraversal.dp_string),
    ]

    def __init__(self, column: Any, key: str, kind: str) -> None:
        if kind not in _KINDS:
            raise InvalidFilterError(f"json_value() kind must be one of {', '.join(_KINDS)}, got {kind!r}")
        if not isinstance(key, str):
            raise InvalidFilterError(f"metadata keys are strings, got {type(key).__name__} {key!r}")
        self.column = coercions.expect(roles.ExpressionElementRole, column)
        self.key = literal(key, _JSONKey())
        self.kind = kind
        self.type = _KINDS[kind]


class _LikePattern(sqltypes.TypeDecorator[str]):
    """A ``$like`` pattern; SQLite receives it translated to GLOB syntax."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Optional[str], dialect: Dialect) -> Optional[str]:
        if value is None or dialect.name != "sqlite":
            return value
        return _like_to_glob(value)

    def process_literal_param(self, value: Optional[str], dialect: Dialect) -> Optional[str]:
        return self.process_bind_param(value, dialect)


class CaseSensitiveLike(ColumnElement[bool]):
    """``value LIKE pattern``, case-sensitive on every backend (SQLite's LIKE is not: GLOB there)."""

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


def _like_to_glob(pattern: str) -> str:
    out: List[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            char = next(chars, "\\")
            out.append(f"[{char}]" if char in "*?[" else char)
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)


# -- per-dialect rules ------------------------------------------------------------------------
#
# Each rule reads the key once for its JSON type and once for its value, both
# from the same bound key parameter.  CASE (not AND) guards the casts: a
# backend may evaluate both sides of AND, and CAST('abc' AS DOUBLE) raises.


def _key_path(key: str, dialect: Dialect) -> str:
    if dialect.name == "sqlite":
        # '$."key"' with the key JSON-escaped; SQLite before 3.45 stops a quoted
        # label at the first '"' and matches the stored (escaped) key text.
        if '"' in key and (dialect.server_version_info or (0,)) < (3, 45):
            raise InvalidFilterError(
                f"metadata key {key!r} contains '\"', which SQLite {'.'.join(map(str, dialect.server_version_info or ()))} "
                "cannot address in a JSON path (3.45+ can); rename the key or use a newer SQLite (e.g. sqlean.py)"
            )
        return "$." + json.dumps(key)
    if dialect.name == "duckdb":
        # A JSON pointer addresses any key: '~' and '/' are the only escapes.
        return "/" + key.replace("~", "~0").replace("/", "~1")
    return key


def _render(template: str, element: JSONValue, compiler: SQLCompiler, **kw: Any) -> str:
    return template.format(doc=compiler.process(element.column, **kw), key=compiler.process(element.key, **kw))


_POSTGRESQL = {
    "number": "CASE WHEN jsonb_typeof({doc} -> {key}) = 'number' THEN CAST({doc} ->> {key} AS DOUBLE PRECISION) END",
    "string": "CASE WHEN jsonb_typeof({doc} -> {key}) = 'string' THEN ({doc} ->> {key}) COLLATE \"C\" END",
    "boolean": "CASE WHEN jsonb_typeof({doc} -> {key}) = 'boolean' THEN CAST({doc} ->> {key} AS BOOLEAN) END",
    "present": "(({doc} -> {key}) IS NOT NULL)",
    "null": "(jsonb_typeof({doc} -> {key}) = 'null')",
}

_SQLITE = {
    "number": "CASE WHEN json_type({doc}, {key}) IN ('integer', 'real') THEN CAST(json_extract({doc}, {key}) AS REAL) END",
    "string": "CASE WHEN json_type({doc}, {key}) = 'text' THEN json_extract({doc}, {key}) END",
    "boolean": "CASE WHEN json_type({doc}, {key}) IN ('true', 'false') THEN json_extract({doc}, {key}) END",
    "present": "(json_type({doc}, {key}) IS NOT NULL)",
    "null": "(json_type({doc}, {key}) = 'null')",
}

_DUCKDB = {
    "number": (
        "CASE WHEN json_type({doc}, {key}) IN ('BIGINT', 'UBIGINT', 'HUGEINT', 'DOUBLE') "
        "THEN CAST(json_extract_string({doc}, {key}) AS DOUBLE) END"
    ),
    "string": "CASE WHEN json_type({doc}, {key}) = 'VARCHAR' THEN json_extract_string({doc}, {key}) END",
    "boolean": "CASE WHEN json_type({doc}, {key}) = 'BOOLEAN' THEN CAST(json_extract_string({doc}, {key}) AS BOOLEAN) END",
    "present": "(json_type({doc}, {key}) IS NOT NULL)",
    "null": "(json_type({doc}, {key}) = 'NULL')",
}


@compiles(JSONValue, "postgresql")
def _json_value_postgresql(element: JSONValue, compiler: SQLCompiler, **kw: Any) -> str:
    # Cast to jsonb: a no-op for jsonb columns, and json or text columns work too.
    doc = f"CAST({compiler.process(element.column, **kw)} AS JSONB)"
    key = f"CAST({compiler.process(element.key, **kw)} AS TEXT)"
    return _POSTGRESQL[element.kind].format(doc=doc, key=key)


@compiles(JSONValue, "sqlite")
def _json_value_sqlite(element: JSONValue, compiler: SQLCompiler, **kw: Any) -> str:
    return _render(_SQLITE[element.kind], element, compiler, **kw)


@compiles(JSONValue, "duckdb")
def _json_value_duckdb(element: JSONValue, compiler: SQLCompiler, **kw: Any) -> str:
    return _render(_DUCKDB[element.kind], element, compiler, **kw)


@compiles(JSONValue)
def _json_value_default(element: JSONValue, compiler: SQLCompiler, **kw: Any) -> str:
    raise UnsupportedDialectError(
        f"metadata filters cannot be compiled for the {compiler.dialect.name!r} dialect; "
        "they support postgresql, sqlite and duckdb"
    )


@compiles(CaseSensitiveLike)
def _like(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.value, **kw)} LIKE {compiler.process(element.pattern, **kw)} ESCAPE '\\')"


@compiles(CaseSensitiveLike, "sqlite")
def _like_sqlite(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's LIKE ignores ASCII case; GLOB does not (the pattern is translated on binding).
    return f"({compiler.process(element.value, **kw)} GLOB {compiler.process(element.pattern, **kw)})"
