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
    "number": "CASE WHEN jsonb_typeof({value}) = 'number' THEN CAST({text} AS DOUBLE PRECISION) END",
    "string": "CASE WHEN jsonb_typeof({value}) = 'string' THEN ({text}) COLLATE \"C\" END",
    "boolean": "CASE WHEN jsonb_typeof({value}) = 'boolean' THEN CAST({text} AS BOOLEAN) END",
    "present": "(({value}) IS NOT NULL)",
    "null": "(jsonb_typeof({value}) = 'null')",
}


def compile_json_value(element: "JSONValue", compiler: SQLCompiler, **kw: Any) -> str:
    """One key of the document as one JSON kind: ``doc -> k1 -> ... -> kn`` for its value, ``->>`` last for its text.

    ``->`` with a text key reads object members only (on an array or a scalar it is NULL), as a path of keys means.
    """
    # Cast to jsonb: a no-op for jsonb columns, and json or text columns work too.
    parent = f"CAST({compiler.process(element.column, **kw)} AS JSONB)"
    keys = [f"CAST({compiler.process(key, **kw)} AS TEXT)" for key in element.json_keys]
    for key in keys[:-1]:
        parent = f"{parent} -> {key}"
    return _TEMPLATES[element.kind].format(value=f"{parent} -> {keys[-1]}", text=f"{parent} ->> {keys[-1]}")


def compile_one_of(element: "OneOf", compiler: SQLCompiler, **kw: Any) -> str:
    """``value = ANY(array)``: the list as one parameter, where an ``IN`` list of 65,536 or more values would exceed
    the 65,535 parameters psycopg sends with a statement."""
    return f"({compiler.process(element.value, **kw)} = ANY({compiler.process(element.array, **kw)}))"
