"""Metadata filters on PostgreSQL: ``->``, ``->>`` and ``jsonb_typeof`` on the document cast to JSONB.

Each rule reads the key once for its JSON type and once for its value, both
from the same bound key parameter; CASE (not AND) guards the casts, since a
backend may evaluate both sides of AND and ``CAST('abc' AS DOUBLE PRECISION)``
raises.  Strings compare byte-wise (``COLLATE "C"``), as on the other backends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.sql.compiler import SQLCompiler

if TYPE_CHECKING:
    from ...filters import JSONValue, OneOf

_TEMPLATES = {
    "number": "CASE WHEN jsonb_typeof({doc} -> {key}) = 'number' THEN CAST({doc} ->> {key} AS DOUBLE PRECISION) END",
    "string": "CASE WHEN jsonb_typeof({doc} -> {key}) = 'string' THEN ({doc} ->> {key}) COLLATE \"C\" END",
    "boolean": "CASE WHEN jsonb_typeof({doc} -> {key}) = 'boolean' THEN CAST({doc} ->> {key} AS BOOLEAN) END",
    "present": "(({doc} -> {key}) IS NOT NULL)",
    "null": "(jsonb_typeof({doc} -> {key}) = 'null')",
}


def compile_json_value(element: "JSONValue", compiler: SQLCompiler, **kw: Any) -> str:
    """One key of the document as one JSON kind."""
    # Cast to jsonb: a no-op for jsonb columns, and json or text columns work too.
    doc = f"CAST({compiler.process(element.column, **kw)} AS JSONB)"
    key = f"CAST({compiler.process(element.json_key, **kw)} AS TEXT)"
    return _TEMPLATES[element.kind].format(doc=doc, key=key)


def compile_one_of(element: "OneOf", compiler: SQLCompiler, **kw: Any) -> str:
    """``value = ANY(array)``: the list as one parameter, where an ``IN`` list of 65,536 or more values would exceed
    the 65,535 parameters psycopg sends with a statement."""
    return f"({compiler.process(element.value, **kw)} = ANY({compiler.process(element.array, **kw)}))"
