"""CockroachDB's vector index: ``CREATE VECTOR INDEX`` DDL and the catalog.

The index is a hierarchical k-means partition tree (CockroachDB calls the
algorithm C-SPANN); it serves ``ORDER BY col <-> q LIMIT k`` (``vector_l2_ops``,
the default), ``<=>`` (``vector_cosine_ops``) and ``<#>`` (``vector_ip_ops``).
Its tuning options (``min_partition_size``, ``max_partition_size``) are not
HNSW's ``m``/``ef_construction``: those are not rendered, as SQLite's exact
index ignores them.  Per CockroachDB's manual, ``EXPLAIN`` of a served query
shows a ``vector search`` node on ``table@index`` under a ``lookup join`` on the
primary key and a ``top-k``.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.compiler import DDLCompiler

from ...index import CreateVectorIndex, DropVectorIndex
from ..base import qualified_name

#: The method reported for every vector index here (the catalog and describe() name it).
METHOD = "cspann"

OPCLASSES = {
    "l2": "vector_l2_ops",
    "cosine": "vector_cosine_ops",
    "max_inner_product": "vector_ip_ops",
}
_METRIC_BY_OPCLASS = {value: key for key, value in OPCLASSES.items()}

INDEX_METRICS: Mapping[str, Tuple[str, ...]] = {METHOD: tuple(OPCLASSES)}

# A vector index as SHOW CREATE TABLE prints it: VECTOR INDEX name (prefix..., col opclass).
_VECTOR_INDEX = re.compile(r"VECTOR INDEX (\S+) \(([^)]*)\)")


def compile_create(element: CreateVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    index = element.element
    table = index.bound_table
    preparer = compiler.preparer
    return (
        f"CREATE VECTOR INDEX {'IF NOT EXISTS ' if element.if_not_exists else ''}{preparer.quote(index.index_name)} "
        f"ON {qualified_name(compiler.preparer, table.name, table.schema)} "
        f"({preparer.format_column(index.vector_column)} {OPCLASSES[index.metric]})"
    )


def compile_drop(element: DropVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    return f"DROP INDEX {'IF EXISTS ' if element.if_exists else ''}{qualified_name(compiler.preparer, element.name, element.schema)}"


def parse_create_statement(table: str, statement: str) -> List[Dict[str, Any]]:
    """The vector indexes in one table's ``CREATE TABLE`` as CockroachDB prints it."""
    found = []
    for name, keys in _VECTOR_INDEX.findall(statement):
        last = keys.split(",")[-1].split()
        column = last[0].strip('"') if last else None
        opclass = last[1] if len(last) > 1 else "vector_l2_ops"
        found.append(
            {
                "name": name.strip('"'),
                "table": table,
                "column": column,
                "metric": _METRIC_BY_OPCLASS.get(opclass),
                "method": METHOD,
                "options": {},
                "quantization": None,
            }
        )
    return found


def list_indexes(connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
    """Vector indexes read from ``crdb_internal.create_statements`` (not run against a server here)."""
    rows = connection.execute(
        text(
            "SELECT descriptor_name, create_statement FROM crdb_internal.create_statements "
            "WHERE database_name = current_database() AND schema_name = coalesce(:schema, current_schema()) "
            "AND descriptor_type = 'table'"
        ),
        {"schema": schema},
    ).all()
    result: List[Dict[str, Any]] = []
    for table, statement in rows:
        result.extend(parse_create_statement(table, statement))
    return sorted(result, key=lambda found: found["name"])
