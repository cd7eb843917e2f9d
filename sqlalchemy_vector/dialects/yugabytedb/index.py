"""YugabyteDB's ``ybhnsw`` index: DDL, settings and the catalog."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.compiler import DDLCompiler

from ...exc import InvalidArgumentError
from ...index import CreateVectorIndex
from ..base import qualified_name
from ..postgresql.index import index_options

OPCLASSES = {"cosine": "vector_cosine_ops", "l2": "vector_l2_ops", "max_inner_product": "vector_ip_ops"}
_METRIC_BY_OPCLASS = {value: key for key, value in OPCLASSES.items()}

#: A VectorIndex declares ``hnsw``; YugabyteDB builds it with its ``ybhnsw`` access method.
INDEX_METRICS: Mapping[str, Tuple[str, ...]] = {"hnsw": tuple(OPCLASSES)}


def compile_create(element: CreateVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    """``CREATE INDEX NONCONCURRENTLY``: YugabyteDB builds vector indexes non-concurrently in any case."""
    index = element.element
    table = index.bound_table
    preparer = compiler.preparer
    options = ", ".join(f"{name} = {int(value)}" for name, value in index.options.items())
    return (
        f"CREATE INDEX NONCONCURRENTLY {'IF NOT EXISTS ' if element.if_not_exists else ''}"
        f"{preparer.quote(index.index_name)} ON {qualified_name(compiler.preparer, table.name, table.schema)} "
        f"USING ybhnsw ({preparer.format_column(index.vector_column)} {OPCLASSES[index.metric]})"
        + (f" WITH ({options})" if options else "")
    )


def check_settings(*, iterative_scan: Optional[str], probes: Optional[int]) -> None:
    """Refuse pgvector settings ybhnsw does not have: iterative scans and IVFFlat's probes."""
    if iterative_scan not in (None, "off"):
        raise InvalidArgumentError(
            f"iterative_scan={iterative_scan!r}: YugabyteDB's ybhnsw has no iterative scan; "
            "raise ef_search (hnsw.ef_search) for filtered searches instead"
        )
    if probes is not None:
        raise InvalidArgumentError("probes is IVFFlat's setting, and YugabyteDB has no IVFFlat index; use ef_search")


def list_indexes(connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
    """``ybhnsw`` indexes from the PostgreSQL catalog YSQL keeps (not run against a server here)."""
    rows = connection.execute(
        text(
            "SELECT ic.relname AS name, tc.relname AS table_name, a.attname AS column_name, "
            "opc.opcname AS opclass, ic.reloptions AS options "
            "FROM pg_index x "
            "JOIN pg_class ic ON ic.oid = x.indexrelid "
            "JOIN pg_class tc ON tc.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = tc.relnamespace "
            "JOIN pg_am am ON am.oid = ic.relam "
            "JOIN pg_opclass opc ON opc.oid = x.indclass[0] "
            "JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attnum = x.indkey[0] "
            "WHERE am.amname = 'ybhnsw' AND n.nspname = coalesce(:schema, current_schema()) "
            "ORDER BY ic.relname"
        ),
        {"schema": schema},
    ).mappings()
    return [described(dict(row)) for row in rows]


def described(row: Mapping[str, Any]) -> Dict[str, Any]:
    """One catalog row as list_vector_indexes reports it."""
    options = index_options(row["options"])
    return {
        "name": row["name"],
        "table": row["table_name"],
        "column": row["column_name"],
        "metric": _METRIC_BY_OPCLASS.get(row["opclass"]),
        "method": "hnsw",
        "options": options,
        "quantization": None,
    }
