"""ClickHouse's ``vector_similarity`` (HNSW) skip index: DDL, settings and the catalog.

The index is added with ``ALTER TABLE ... ADD INDEX`` and built over the rows
already there with ``ALTER TABLE ... MATERIALIZE INDEX`` (new parts build it on
insert).  It serves ``ORDER BY cosineDistance(col, const) LIMIT n`` and the
same with ``L2Distance``; ``m`` and ``ef_construction`` become its
``hnsw_max_connections_per_layer`` and ``hnsw_candidate_list_size_for_construction``.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import ExecutableDDLElement
from sqlalchemy.sql.compiler import DDLCompiler

from ...exc import UnsupportedDialectError, VectorIndexError
from ...index import CreateVectorIndex, DropVectorIndex, VectorIndex
from ..base import NameHolder, qualified_name

_DISTANCE = {"cosine": "cosineDistance", "l2": "L2Distance"}
_METRIC_NAMES = {value: key for key, value in _DISTANCE.items()}

#: The index serves the two distances ClickHouse 26.9 builds it for.
INDEX_METRICS: Mapping[str, Tuple[str, ...]] = {"hnsw": tuple(_DISTANCE)}

#: The index's element type: the vectors' own float32, so its distances are exact.
QUANTIZATION = "f32"

#: Why a VectorIndex takes no quantization= here.
MISSING_QUANTIZATION = (
    "the vector_similarity index is built at full float32 precision here: its quantized graphs (bf16, i8, b1) "
    "report rounded distances, which a search that does not read the vector column ranks by (docs/backends.md)"
)

# ClickHouse 26.9's defaults for the long form's M and ef_construction: an option at its default is
# indistinguishable in the catalog from one not given, so only the others are reported.
DEFAULT_OPTIONS = {"m": 32, "ef_construction": 128}

_TYPE_FULL = re.compile(r"vector_similarity\('hnsw',\s*'(\w+)',\s*(\d+)(?:,\s*'(\w+)',\s*(\d+),\s*(\d+))?\)")
#: A length constraint in ``create_table_query``: its name (when named; quoted or not), column and dimension.
_LENGTH_CHECK = re.compile(r"(?:CONSTRAINT (`(?:[^`\\]|\\.)*`|[^\s`]+) )?CHECK length\(`?([^`)]+)`?\) = (\d+)")


class MaterializeVectorIndex(ExecutableDDLElement):
    """``ALTER TABLE ... MATERIALIZE INDEX``: build the index over the rows already in the table."""

    inherit_cache = False

    def __init__(self, element: VectorIndex) -> None:
        self.element = element


@compiles(MaterializeVectorIndex)
def _compile_materialize(element: MaterializeVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    index = element.element
    preparer = compiler.preparer
    return f"ALTER TABLE {preparer.format_table(index.bound_table)} MATERIALIZE INDEX {preparer.quote(index.index_name)}"


def compile_create(element: CreateVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    index = element.element
    preparer = compiler.preparer
    # The long form names every parameter: quantization, then M, then ef_construction.  Full float32
    # (not the short form's bf16): a search that does not read the vector column returns the index's
    # distances, which bf16 rounds (by up to about 2%, reordering close neighbours), and the bf16
    # graph also searched slower than the float32 one here (chDB 4.4, 100,000 x 384: 12.2 against 6.8 ms).
    m = int(index.options.get("m", DEFAULT_OPTIONS["m"]))
    ef_construction = int(index.options.get("ef_construction", DEFAULT_OPTIONS["ef_construction"]))
    arguments = f"'hnsw', '{_DISTANCE[index.metric]}', {int(index.dim)}, '{QUANTIZATION}', {m}, {ef_construction}"
    return (
        f"ALTER TABLE {preparer.format_table(index.bound_table)} ADD INDEX "
        f"{'IF NOT EXISTS ' if element.if_not_exists else ''}{preparer.quote(index.index_name)} "
        f"{preparer.quote(index.vector_column.name)} TYPE vector_similarity({arguments})"
    )


def compile_drop(element: DropVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    if element.table_name is None:
        raise UnsupportedDialectError(
            f"dropping vector index {element.name!r} on ClickHouse needs its table (ALTER TABLE t DROP INDEX): "
            "give table_name (op.drop_vector_index(name, table_name=...)), or use "
            "sqlalchemy_vector.drop_vector_index(connection, name), which looks the table up"
        )
    table = qualified_name(compiler.preparer, element.table_name, element.schema)
    if_exists = "IF EXISTS " if element.if_exists else ""
    return f"ALTER TABLE {table} DROP INDEX {if_exists}{compiler.preparer.quote(element.name)}"


def reported_options(options: Mapping[str, Any]) -> Dict[str, Any]:
    """The options :func:`list_indexes` reports for an index declared with ``options``: those off the defaults."""
    return {key: value for key, value in options.items() if DEFAULT_OPTIONS.get(key) != value}


def check_lengths(connection: Connection, index: VectorIndex) -> None:
    """Refuse to index a column holding arrays of another length than the index's dimension.

    ClickHouse adds the index, then fails to build it over such rows (``All
    arrays in column with vector similarity index must have equal length``) and
    keeps retrying the failed build: every later DELETE or UPDATE of the table
    failed with the same error until the mutation was killed.  The tables
    sqlalchemy_vector creates have a length constraint; a table made elsewhere
    (an empty array is ClickHouse's value for a row without a vector) may not.
    """
    from sqlalchemy import func, literal, select

    column = index.vector_column
    length = func.length(column)
    # Rows a lightweight DELETE hid count too: they stay in their part until a merge, and the build reads them.
    statement = (
        select(func.count(), func.min(length), func.max(length))
        .select_from(index.bound_table)
        .where(length != literal(int(index.dim)))
        .with_statement_hint("SETTINGS apply_deleted_mask = 0")
    )
    row = connection.execute(statement).one()
    if row[0]:
        raise VectorIndexError(
            f"VectorIndex {index.index_name!r}: {index.bound_table.name}.{column.name} has {row[0]} row(s) whose array "
            f"is not {int(index.dim)} long (lengths {row[1]} to {row[2]}; an empty array is a row without a vector, and "
            "rows a DELETE hid are read until their part is merged), and ClickHouse cannot build the index over them "
            "(its failed build then blocks every later DELETE and UPDATE of the table); delete those rows or give them "
            f"vectors of that length, then OPTIMIZE TABLE {index.bound_table.name} FINAL and create the index"
        )


def create_statements(index: VectorIndex, if_not_exists: bool) -> List[Any]:
    return [CreateVectorIndex(index, if_not_exists=if_not_exists), MaterializeVectorIndex(index)]


def drop(connection: Connection, name: str, schema: Optional[str], if_exists: bool, table_name: Optional[str]) -> None:
    """Drop the vector index ``name`` (of ``table_name`` if given), looking its table up.

    Index names are per table here: a skip index of another type, or of another
    table, may have the same name, and is never the one dropped.
    """
    tables = connection.execute(
        text(
            "SELECT table FROM system.data_skipping_indices WHERE type = 'vector_similarity' AND name = :name "
            "AND database = coalesce(:schema, currentDatabase()) AND (:table IS NULL OR table = :table) ORDER BY table"
        ),
        {"name": name, "schema": schema, "table": table_name},
    ).scalars().all()
    if len(tables) > 1:
        raise VectorIndexError(
            f"vector index {name!r} exists on the tables {', '.join(map(repr, tables))} (ClickHouse names indexes per "
            "table); name the table: drop_vector_index(connection, name, table_name=...)"
        )
    if not tables:
        if if_exists:
            return
        where = f" on table {table_name!r}" if table_name is not None else ""
        raise VectorIndexError(
            f"no vector index {name!r}{where} in this ClickHouse database; list_vector_indexes() shows them"
        )
    table = tables[0]
    quote = connection.dialect.identifier_preparer.quote
    target = f"{quote(schema)}.{quote(table)}" if schema else quote(table)
    # IF EXISTS: another connection may drop it between the lookup and this statement.
    connection.exec_driver_sql(f"ALTER TABLE {target} DROP INDEX {'IF EXISTS ' if if_exists else ''}{quote(name)}")


def name_holder(connection: Connection, name: str, table_name: str, schema: Optional[str]) -> Optional[NameHolder]:
    """The skip index of ``table_name`` named ``name``: ClickHouse names indexes per table, apart from tables."""
    row = connection.execute(
        text(
            "SELECT name FROM system.data_skipping_indices "
            "WHERE database = coalesce(:schema, currentDatabase()) AND table = :table AND name = :name"
        ),
        {"name": name, "table": table_name, "schema": schema},
    ).first()
    return None if row is None else NameHolder("index", row[0], table_name)


def list_indexes(connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
    rows = connection.execute(
        text(
            "SELECT name, table, expr, type_full FROM system.data_skipping_indices "
            "WHERE type = 'vector_similarity' AND database = coalesce(:schema, currentDatabase()) ORDER BY name"
        ),
        {"schema": schema},
    ).all()
    result = []
    for name, table, expr, type_full in rows:
        match = _TYPE_FULL.search(type_full)
        options: Dict[str, Any] = {}
        if match and match.group(4):
            built = {"m": int(match.group(4)), "ef_construction": int(match.group(5))}
            options = reported_options(built)
        result.append(
            {
                "name": name,
                "table": table,
                "column": expr.strip("`"),
                "metric": _METRIC_NAMES.get(match.group(1)) if match else None,
                "method": "hnsw",
                "options": options,
            }
        )
    return result


def length_checks(connection: Connection, table_name: str, schema: Optional[str]) -> List[Tuple[str, str, int]]:
    """A table's ``CHECK length(col) = n`` constraints: (constraint name unquoted, or "", column, n)."""
    create = connection.execute(
        text(
            "SELECT create_table_query FROM system.tables "
            "WHERE name = :table AND database = coalesce(:schema, currentDatabase())"
        ),
        {"table": table_name, "schema": schema},
    ).scalar()
    return [
        (name[1:-1].replace("\\`", "`") if name.startswith("`") else name, column, int(dim))
        for name, column, dim in _LENGTH_CHECK.findall(create or "")
    ]


def vector_columns(connection: Connection, table_name: str, schema: Optional[str]) -> Dict[str, int]:
    """``Array(Float32)`` columns with their ``CHECK length(col) = n`` constraint's dimension."""
    return {column: dim for _, column, dim in length_checks(connection, table_name, schema)}
