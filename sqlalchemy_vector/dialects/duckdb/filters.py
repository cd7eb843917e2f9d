"""Metadata filters on DuckDB: ``json_type`` and ``json_extract_string`` with a JSON pointer key.

CASE (not AND) guards the casts: DuckDB may evaluate both sides of AND, and
``CAST('abc' AS DOUBLE)`` raises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.sql.compiler import SQLCompiler

if TYPE_CHECKING:
    from ...filters import JSONValue

_TEMPLATES = {
    "number": (
        "CASE WHEN json_type({doc}, {key}) IN ('BIGINT', 'UBIGINT', 'HUGEINT', 'DOUBLE') "
        "THEN CAST(json_extract_string({doc}, {key}) AS DOUBLE) END"
    ),
    "string": "CASE WHEN json_type({doc}, {key}) = 'VARCHAR' THEN json_extract_string({doc}, {key}) END",
    "boolean": "CASE WHEN json_type({doc}, {key}) = 'BOOLEAN' THEN CAST(json_extract_string({doc}, {key}) AS BOOLEAN) END",
    "present": "(json_type({doc}, {key}) IS NOT NULL)",
    "null": "(json_type({doc}, {key}) = 'NULL')",
}


def key_path(key: str) -> str:
    """A JSON pointer to a top-level key: it addresses any key, ``~`` and ``/`` being the only escapes."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def compile_json_value(element: "JSONValue", compiler: SQLCompiler, **kw: Any) -> str:
    """One key of the document as one JSON kind.

    A key inside nested objects is a pointer built in SQL from a parameter per key.  A pointer's digits index an
    array where one stands in the path, so each object on the way is checked to be one: a path of keys reads
    object members only.
    """
    doc = compiler.process(element.column, **kw)
    if len(element.json_keys) == 1:
        return _TEMPLATES[element.kind].format(doc=doc, key=compiler.process(element.json_key, **kw))
    pointers = []
    pointer = ""
    for key in element.json_keys:
        escaped = f"replace(replace(CAST({compiler.process(key, **kw)} AS VARCHAR), '~', '~0'), '/', '~1')"
        pointer = f"{pointer} || '/' || {escaped}" if pointer else f"'/' || {escaped}"
        pointers.append(f"({pointer})")
    objects = " AND ".join(f"json_type({doc}, {parent}) = 'OBJECT'" for parent in pointers[:-1])
    read = _TEMPLATES[element.kind].format(doc=doc, key=pointers[-1])
    if element.kind in ("present", "null"):
        return f"COALESCE(({objects}) AND {read}, FALSE)"
    return f"CASE WHEN {objects} THEN {read} END"

