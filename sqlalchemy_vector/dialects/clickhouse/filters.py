"""Metadata filters on ClickHouse: ``JSONType`` / ``JSONExtract*`` over the document as JSON text.

The facade stores metadata as ``String`` holding JSON text (:class:`JSONText`):
ClickHouse's own ``JSON`` type drops keys whose value is null, so a filter could
not tell ``{"k": null}`` from a missing key.  A column of the native JSON type
is read through ``toJSONString``.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import String
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from ...filters import CaseSensitiveLike, JSONValue

# ``+ 0`` makes a stored -0.0 the 0.0 it equals: IN looks values up by their bits, so
# ``-0.0 IN (0.0, 5.0)`` is false (``-0.0 = 0.0`` is true).  ``ifNull``: a NULL document
# (a nullable column of an existing table, read as ``{}``) has no key, as on the other backends.
_TEMPLATES = {
    "number": "if(JSONType({doc}, {key}) IN ('Int64', 'UInt64', 'Double'), JSONExtractFloat({doc}, {key}) + 0, NULL)",
    "string": "if(JSONType({doc}, {key}) = 'String', JSONExtractString({doc}, {key}), NULL)",
    "boolean": "if(JSONType({doc}, {key}) = 'Bool', JSONExtractBool({doc}, {key}) = 1, NULL)",
    "present": "ifNull(JSONHas({doc}, {key}), 0)",
    "null": "(JSONHas({doc}, {key}) AND JSONType({doc}, {key}) = 'Null')",
}


class JSONText(TypeDecorator[Any]):
    """A JSON document stored as ``String`` text (ClickHouse's JSON type drops null values)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Optional[str]:
        return None if value is None else json.dumps(value, ensure_ascii=False)

    def process_result_value(self, value: Optional[str], dialect: Dialect) -> Any:
        return None if value is None or value == "" else json.loads(value)


def _document(element: "JSONValue", compiler: SQLCompiler, **kw: Any) -> str:
    doc = compiler.process(element.column, **kw)
    impl = element.column.type.dialect_impl(compiler.dialect)
    while isinstance(impl, TypeDecorator):  # MetadataJSON -> JSONText -> String
        impl = impl.load_dialect_impl(compiler.dialect)
    return doc if isinstance(impl, String) else f"toJSONString({doc})"


def compile_json_value(element: "JSONValue", compiler: SQLCompiler, **kw: Any) -> str:
    """One key of the document as one JSON kind; NULL when missing or of another kind.

    The ``JSON*`` functions take a path as one argument per key; string arguments name object members (an integer
    one would index an array).
    """
    keys = ", ".join(compiler.process(key, **kw) for key in element.json_keys)
    return _TEMPLATES[element.kind].format(doc=_document(element, compiler, **kw), key=keys)


def like_pattern(pattern: str) -> str:
    """Drop the backslash before a character that needs none: ClickHouse 26.9 does not match ``\\*`` as ``*``."""
    return re.sub(r"\\([^%_\\])", r"\1", pattern)


def compile_like(element: "CaseSensitiveLike", compiler: SQLCompiler, **kw: Any) -> str:
    """ClickHouse's LIKE is case-sensitive and takes backslash escapes; the pattern is bound as written."""
    return f"({compiler.process(element.value, **kw)} LIKE {compiler.process(element.pattern, **kw)})"
