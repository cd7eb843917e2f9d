"""HNSW indexes from DuckDB's vss extension: DDL, file-database persistence and the catalog."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.compiler import DDLCompiler

from ...exc import VectorIndexError
from ...index import CreateVectorIndex, DropVectorIndex, VectorIndex
from ..base import NameHolder, declared_dimensions, qualified_name
from .extensions import loaded

# vss 1.5: l2sq orders like array_distance, ip like array_negative_inner_product.
_METRIC = {"cosine": "cosine", "l2": "l2sq", "max_inner_product": "ip"}
_METRIC_NAMES = {value: key for key, value in _METRIC.items()}

#: vss builds HNSW only, for the metrics with an ascending array function.
INDEX_METRICS: Mapping[str, Tuple[str, ...]] = {"hnsw": tuple(_METRIC)}

_VECTOR_TYPE = re.compile(r"^FLOAT\[(\d+)\]$", re.IGNORECASE)


def compile_create(element: CreateVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    index = element.element
    preparer = compiler.preparer
    parameters = [f"metric = '{_METRIC[index.metric]}'"]
    parameters += [f"{key} = {int(value)}" for key, value in index.options.items()]
    return (
        f"CREATE INDEX {'IF NOT EXISTS ' if element.if_not_exists else ''}{preparer.quote(index.index_name)} "
        f"ON {preparer.format_table(index.bound_table)} USING HNSW ({preparer.quote(index.vector_column.name)}) "
        f"WITH ({', '.join(parameters)})"
    )


def compile_drop(element: DropVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    name = qualified_name(compiler.preparer, element.name, element.schema)
    return f"DROP INDEX {'IF EXISTS ' if element.if_exists else ''}{name}"


def _persistence(connection: Connection) -> Tuple[Optional[str], bool]:
    """The database file (None in memory), and whether vss's experimental persistence is on."""
    path = connection.execute(
        text("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
    ).scalar()
    if path is None:
        return None, False
    return path, bool(connection.execute(text("SELECT current_setting('hnsw_enable_experimental_persistence')")).scalar())


def persistence_refusal(connection: Connection, index: VectorIndex) -> Optional[str]:
    """Why ``index`` cannot be built in this file database without vss's experimental persistence, or None
    (in memory, persistence already on, or the index opted in)."""
    path, enabled = _persistence(connection)
    if path is None or enabled or index.duckdb_experimental_persistence:
        return None
    return _refusal(index, path)


def _refusal(index: VectorIndex, path: str) -> str:
    return (
        f"VectorIndex {index.name!r}: DuckDB builds HNSW indexes in a file database ({path}) only with "
        "vss's experimental persistence; declare VectorIndex(..., duckdb_experimental_persistence=True) "
        "to enable it, and open the file only through sqlalchemy_vector.create_engine so vss is loaded "
        "before the index is touched"
    )


def allow_persistence(connection: Connection, index: VectorIndex) -> None:
    """On a file database, turn on vss's experimental persistence if the index opted in, else refuse."""
    path, enabled = _persistence(connection)
    if path is None or enabled:  # in memory nothing persists: nothing to allow
        return
    if not index.duckdb_experimental_persistence:
        raise VectorIndexError(_refusal(index, path))
    connection.execute(text("SET hnsw_enable_experimental_persistence = true"))


def name_holder(connection: Connection, name: str, schema: Optional[str]) -> Optional[NameHolder]:
    """The index of ``schema`` named ``name``, whatever its case: DuckDB names indexes apart from tables, per schema."""
    row = connection.execute(
        text(
            "SELECT index_name, table_name FROM duckdb_indexes() WHERE database_name = current_database() "
            "AND schema_name = coalesce(:schema, current_schema()) AND lower(index_name) = lower(:name)"
        ),
        {"name": name, "schema": schema},
    ).first()
    return None if row is None else NameHolder("index", row[0], row[1])


def list_indexes(connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
    # duckdb_indexes().sql drops the WITH clause (DuckDB 1.5.5); the metric is
    # in vss's pragma_hnsw_index_info(), available while vss is loaded.
    rows = connection.execute(
        text(
            "SELECT index_name, table_name, expressions, sql FROM duckdb_indexes() "
            "WHERE database_name = current_database() AND schema_name = coalesce(:schema, current_schema())"
        ),
        {"schema": schema},
    ).mappings().all()
    hnsw = [row for row in rows if re.search(r"\bUSING\s+HNSW\b", row["sql"] or "", re.IGNORECASE)]
    if not hnsw:
        return []
    metrics: Dict[Tuple[str, str], str] = {}
    if loaded(connection):
        for info in connection.execute(
            text(
                "SELECT index_name, table_name, metric FROM pragma_hnsw_index_info() "
                "WHERE catalog_name = current_database() AND schema_name = coalesce(:schema, current_schema())"
            ),
            {"schema": schema},
        ).mappings():
            metrics[(info["table_name"], info["index_name"])] = info["metric"]
    result = []
    for row in hnsw:
        column = _indexed_column(row["expressions"])
        raw_metric = metrics.get((row["table_name"], row["index_name"]))
        result.append(
            {
                "name": row["index_name"],
                "table": row["table_name"],
                "column": column,
                "metric": _METRIC_NAMES.get(raw_metric, raw_metric) if raw_metric else None,
                "method": "hnsw",
                "options": {},
            }
        )
    return result


def _indexed_column(expressions: Any) -> Optional[str]:
    """The column name in ``duckdb_indexes().expressions`` of a one-column index.

    DuckDB 1.5 gives a string: ``[emb]`` for a plain name, ``['"Emb Col"']`` for
    one that needs quoting (a quoted identifier inside a quoted string, ``\\'``
    escaping a quote), where a comma may be part of the name.
    """
    if not isinstance(expressions, str):
        return str(expressions[0]) if expressions else None
    item = expressions.strip()
    if item.startswith("[") and item.endswith("]"):
        item = item[1:-1].strip()
    if len(item) >= 2 and item[0] == item[-1] == "'":
        item = item[1:-1].replace("\\'", "'")
    if len(item) >= 2 and item[0] == item[-1] == '"':
        item = item[1:-1].replace('""', '"')
    return item or None


def vector_columns(connection: Connection, table_name: str, schema: Optional[str]) -> Dict[str, int]:
    """``FLOAT[n]`` columns from ``information_schema`` (duckdb_engine 0.17 reflects them as NullType)."""
    rows = connection.execute(
        text(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = :table AND table_schema = coalesce(:schema, current_schema()) "
            "AND table_catalog = current_database()"
        ),
        {"table": table_name, "schema": schema},
    ).all()
    return declared_dimensions(rows, _VECTOR_TYPE)
