"""Metadata filters on SQLite: ``json_type`` and ``json_extract`` (JSON1) with a ``$."key"`` path.

SQLite's LIKE ignores ASCII case, so ``$like`` compiles to GLOB, with the
pattern translated when it is bound.  CASE (not AND) guards the conversions.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, List, Tuple

from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from ...exc import InvalidFilterError

if TYPE_CHECKING:
    from ...filters import CaseSensitiveLike, FilterNumber, JSONValue, OneOf

_TEMPLATES = {
    "number": "CASE WHEN json_type({doc}, {key}) IN ('integer', 'real') THEN CAST(json_extract({doc}, {key}) AS REAL) END",
    "string": "CASE WHEN json_type({doc}, {key}) = 'text' THEN json_extract({doc}, {key}) END",
    "boolean": "CASE WHEN json_type({doc}, {key}) IN ('true', 'false') THEN json_extract({doc}, {key}) END",
    "present": "(json_type({doc}, {key}) IS NOT NULL)",
    "null": "(json_type({doc}, {key}) = 'null')",
}


def key_path(key: str, dialect: Dialect) -> str:
    """``$."key"`` with the key JSON-escaped."""
    return nested_path((key,), dialect)


def nested_path(keys: Tuple[str, ...], dialect: Dialect) -> str:
    """``$."k1"."k2"``: quoted labels, which name object members only (an array's elements are ``[n]``)."""
    for key in keys:
        # SQLite before 3.45 stops a quoted label at the first '"' and matches the
        # stored (escaped) key text, so such a key cannot be addressed there.
        if '"' in key and (dialect.server_version_info or (0,)) < (3, 45):
            raise InvalidFilterError(
                f"metadata key {key!r} contains '\"', which SQLite "
                f"{'.'.join(map(str, dialect.server_version_info or ()))} cannot address in a JSON path (3.45+ can); "
                "rename the key or use a newer SQLite (e.g. sqlean.py)"
            )
    return "$" + "".join("." + json.dumps(key) for key in keys)


def compile_json_value(element: "JSONValue", compiler: SQLCompiler, **kw: Any) -> str:
    """One key of the document as one JSON kind."""
    doc = compiler.process(element.column, **kw)
    key = compiler.process(element.json_key, **kw)
    return _TEMPLATES[element.kind].format(doc=doc, key=key)


def compile_filter_number(element: "FilterNumber", compiler: SQLCompiler, **kw: Any) -> str:
    """The number read from its JSON text, as stored numbers are: SQLite 3.50 reads some numbers beyond about
    1e83 (or below 1e-83) one unit in the last place off, and a number bound as a double would then not equal
    its stored self (``json_each`` reads ``$in`` lists the same way)."""
    return f"json_extract({compiler.process(element.json_number, **kw)}, '$')"


def compile_one_of(element: "OneOf", compiler: SQLCompiler, **kw: Any) -> str:
    """``value IN (SELECT value FROM json_each(list))``: the list as one JSON text parameter, where an ``IN`` list of
    one variable per value fails past SQLite's limit of variables a statement (32,766 by default; 999 before 3.32)."""
    values = compiler.process(element.json_array, **kw)
    return f"({compiler.process(element.value, **kw)} IN (SELECT value FROM json_each({values})))"


def compile_like(element: "CaseSensitiveLike", compiler: SQLCompiler, **kw: Any) -> str:
    """GLOB, which is case-sensitive; the pattern arrives translated by :func:`like_to_glob`."""
    return f"({compiler.process(element.value, **kw)} GLOB {compiler.process(element.pattern, **kw)})"


def like_to_glob(pattern: str) -> str:
    """A LIKE pattern (``%``, ``_``, backslash escapes) as the GLOB pattern matching the same strings."""
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
