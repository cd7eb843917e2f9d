"""pgvector's HNSW and IVFFlat indexes: declaration options, DDL and the catalog.

The DDL is SQLAlchemy's own ``CREATE INDEX``, from the ``postgresql_using`` /
``postgresql_with`` / ``postgresql_ops`` options that :func:`attach` sets when
a :class:`~sqlalchemy_vector.VectorIndex` joins its table; so
``metadata.create_all`` and :func:`~sqlalchemy_vector.create_vector_index`
emit the same statement.  The operator class is keyed on the column's key:
SQLAlchemy silently drops one keyed on any other name.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from sqlalchemy import Table, text
from sqlalchemy.engine import Connection
from sqlalchemy.schema import Column, CreateIndex
from sqlalchemy.sql.compiler import Compiled, DDLCompiler

from ...exc import InvalidVectorError, VectorIndexError
from ...index import CreateVectorIndex, DropVectorIndex, VectorIndex
from ..base import NameHolder, declared_dimensions, qualified_name
from . import kinds as _kinds

OPCLASSES = {
    "cosine": "vector_cosine_ops",
    "l2": "vector_l2_ops",
    "max_inner_product": "vector_ip_ops",
    "l1": "vector_l1_ops",
}

#: The metrics each method serves (Hamming and Jaccard on bit columns); pgvector 0.8 has no L1 operator
#: class for IVFFlat, and Jaccard only for HNSW.
INDEX_METRICS: Mapping[str, Tuple[str, ...]] = {
    "hnsw": (*OPCLASSES, "hamming", "jaccard"),
    "ivfflat": ("cosine", "l2", "max_inner_product", "hamming"),
}

#: pgvector 0.8 builds IVFFlat over vector, halfvec and bit, not sparsevec (no operator class).
KIND_METHODS: Mapping[str, Tuple[str, ...]] = {"sparse": ("hnsw",)}

#: Most dimensions pgvector 0.8 indexes per type (halfvec 4,000, bit 64,000; vector's 2,000 is
#: ``Capabilities.max_index_dimension``); sparsevec's bound is on non-zero elements, not dimensions.
KIND_MAX_DIMENSION: Mapping[str, int] = {"half": 4000, "bit": 64000}


# pgvector 0.8's HNSW index holds a sparsevec of at most 1,000 non-zero elements (hnsw.h, HNSW_MAX_NNZ), though the
# column stores up to 16,000: an insert, an update or an index build meeting a longer one fails with this message,
# which names neither the column nor the index.
_SPARSE_HNSW_LIMIT = re.compile(r"sparsevec cannot have more than (\d+) non-zero elements for hnsw index")
_MULTI_VALUES_SUFFIX = re.compile(r"_m(\d+)$")


def explain_sparse_limit(
    error: BaseException, compiled: Compiled, parameters: Sequence[Mapping[str, Any]]
) -> Optional[Exception]:
    """The error naming the column, the limit and the count, for pgvector's refusal of a long sparse vector."""
    found = _SPARSE_HNSW_LIMIT.search(str(getattr(error, "orig", None) or error))
    if found is None:
        return None
    limit = int(found.group(1))
    statement: Any = compiled.statement
    index = getattr(statement, "element", None)
    if isinstance(index, VectorIndex) and index.table is not None:  # CREATE INDEX over the rows already there
        indexed = f"{index.bound_table.name}.{index.vector_column.name}"
        return VectorIndexError(
            f"VectorIndex {index.name!r} on {indexed}: pgvector's HNSW index takes sparse vectors of at most {limit} "
            f"non-zero elements, and a row of {indexed} has more; keep the {limit} largest in magnitude in each "
            f"value, or leave {indexed} without an HNSW index and search it exactly"
        )
    table = getattr(statement, "table", None)
    if not isinstance(table, Table):
        return None
    sparse = [c for c in table.c if getattr(c.type, "kind", None) == "sparse"]
    # The columns the table declares an HNSW index on, where it declares any (else one may be built elsewhere).
    declared = {i.vector_column.key for i in table.indexes if isinstance(i, VectorIndex) and i.method == "hnsw"}
    sparse = [c for c in sparse if c.key in declared] or sparse
    binds = getattr(compiled, "binds", {})
    for position, values in enumerate(parameters):
        for key, value in values.items():
            # Bound under the column's key (``<key>_m<row>`` in a multi-row VALUES), else known by its type.
            multi = _MULTI_VALUES_SUFFIX.search(key)
            base = key[: multi.start()] if multi is not None else key
            column = next((c for c in sparse if c.key == base), None)
            bind = binds.get(key)
            if column is None and bind is not None:
                column = next((c for c in sparse if c.type is bind.type), None)
            if column is None or value is None:
                continue
            column_type: Any = column.type
            try:
                count = int(column_type.validate(value).indices.size)
            except Exception:  # noqa: BLE001 - not a value this column took: not the one refused
                continue
            if count > limit:
                row = int(multi.group(1)) if multi is not None else position
                where = f" (row {row} of the statement)" if len(parameters) > 1 or multi is not None else ""
                name = f"{table.name}.{column.name}"
                return InvalidVectorError(
                    f"{name} has {count} non-zero elements{where}; pgvector's HNSW index on {name} takes at most "
                    f"{limit} in a sparse vector (the column stores up to {_kinds.MAX_SPARSE_ELEMENTS}); keep the "
                    f"{limit} largest in magnitude, or drop the HNSW index on {name} and search it exactly"
                )
    return None


#: pgvector's bounds on the build options (hnsw.c and ivfflat.h), and the values it builds with by default.
OPTION_RANGES: Mapping[str, Tuple[int, int]] = {"m": (2, 100), "ef_construction": (4, 1000), "lists": (1, 32768)}
OPTION_DEFAULTS: Mapping[str, int] = {"m": 16, "ef_construction": 64, "lists": 100}


def opclass(index: VectorIndex, column: Column[Any]) -> str:
    """The operator class of ``index``: ``<type>_<metric>_ops`` for the column's kind (``vector`` by default)."""
    prefix = _kinds.OPCLASS_PREFIX.get(getattr(column.type, "kind", None), "vector")
    if index.metric in ("hamming", "jaccard"):
        return f"bit_{index.metric}_ops"
    return OPCLASSES[index.metric].replace("vector_", f"{prefix}_", 1)

_VECTOR_TYPE = re.compile(r"^vector\((\d+)\)$", re.IGNORECASE)

_METRIC_BY_SUFFIX = {
    "cosine_ops": "cosine",
    "l2_ops": "l2",
    "ip_ops": "max_inner_product",
    "l1_ops": "l1",
    "hamming_ops": "hamming",
    "jaccard_ops": "jaccard",
}


def attach(index: VectorIndex, column: Column[Any]) -> None:
    """Set the options PostgreSQL's ``CREATE INDEX`` compiler reads."""
    options = index.dialect_options["postgresql"]
    options["using"] = index.method
    options["with"] = dict(index.options)
    options["ops"] = {column.key: opclass(index, column)}


def compile_create(element: CreateVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    index = element.element
    if index.quantization is not None:
        return _compile_quantized(element, compiler)
    ops = index.dialect_options["postgresql"]["ops"]
    if ops.get(index.vector_column.key) != opclass(index, index.vector_column):  # pragma: no cover - set when attached
        raise VectorIndexError(f"VectorIndex {index.name!r} lost its operator class; re-create the index object")
    return compiler.process(CreateIndex(index, if_not_exists=element.if_not_exists), **kw)


def _compile_quantized(element: CreateVectorIndex, compiler: DDLCompiler) -> str:
    """``CREATE INDEX ... USING hnsw ((CAST(col AS halfvec(n))) halfvec_cosine_ops)``: the column quantized."""
    index = element.element
    quantization = str(index.quantization)
    table = index.bound_table
    column = compiler.preparer.format_column(index.vector_column)
    key = _kinds.quantized(column, quantization, index.dim)
    options = ", ".join(f"{name} = {int(value)}" for name, value in index.options.items())
    return (
        f"CREATE INDEX {'IF NOT EXISTS ' if element.if_not_exists else ''}{compiler.preparer.quote(index.index_name)} "
        f"ON {qualified_name(compiler.preparer, table.name, table.schema)} USING {index.method} "
        f"(({key}) {_kinds.quantized_opclass(quantization, index.metric)})"
        + (f" WITH ({options})" if options else "")
    )


def compile_drop(element: DropVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    name = qualified_name(compiler.preparer, element.name, element.schema)
    return f"DROP INDEX {'IF EXISTS ' if element.if_exists else ''}{name}"


def list_indexes(connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
    rows = connection.execute(
        text(
            "SELECT ic.relname AS name, tc.relname AS table_name, a.attname AS column_name, "
            "am.amname AS method, opc.opcname AS opclass, ic.reloptions AS options, "
            "x.indkey[0] = 0 AS on_expression, "
            # Read of an expression index only: see the full-text listing on pg_get_indexdef and concurrent drops.
            "CASE WHEN x.indkey[0] = 0 THEN pg_get_indexdef(x.indexrelid, 1, true) END AS key "
            "FROM pg_index x "
            "JOIN pg_class ic ON ic.oid = x.indexrelid "
            "JOIN pg_class tc ON tc.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = tc.relnamespace "
            "JOIN pg_am am ON am.oid = ic.relam "
            "JOIN pg_opclass opc ON opc.oid = x.indclass[0] "
            # A quantized index keys on an expression (indkey 0): its column is the one the expression depends on.
            "LEFT JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attnum = CASE WHEN x.indkey[0] <> 0 "
            "THEN x.indkey[0] ELSE (SELECT min(d.refobjsubid) FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
            "AND d.objid = x.indexrelid AND d.refobjid = tc.oid AND d.refobjsubid > 0) END "
            # An index an interrupted CREATE INDEX CONCURRENTLY left INVALID serves no query: not listed (name_holder names it).
            "WHERE am.amname IN ('hnsw', 'ivfflat') AND x.indisvalid AND n.nspname = coalesce(:schema, current_schema())"
        ),
        {"schema": schema},
    ).mappings()
    result = []
    for row in rows:
        metric = next((m for suffix, m in _METRIC_BY_SUFFIX.items() if row["opclass"].endswith(suffix)), None)
        quantization = _quantization(row) if row["on_expression"] else None
        if quantization == "binary":
            # Hamming over the bits is what the index serves for any declared metric (the metric
            # re-ranks the candidates); the catalog does not keep it.
            metric = None
        options = index_options(row["options"])
        result.append(
            {
                "name": row["name"],
                "table": row["table_name"],
                "column": row["column_name"],
                "metric": metric,
                "method": row["method"],
                "options": options,
                "quantization": quantization,
            }
        )
    return result


# pg_class.relkind, as messages name it.
_RELATION_KINDS = {
    "r": "table",
    "p": "table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
    "S": "sequence",
    "c": "composite type",
    "t": "TOAST table",
    "i": "index",
    "I": "index",
}


#: The kind :func:`name_holder` gives a vector index left INVALID by an interrupted ``CREATE INDEX CONCURRENTLY``:
#: PostgreSQL keeps it (and updates it on writes) but plans no query with it, until it is dropped or reindexed.
INVALID_INDEX = "invalid index"


def name_holder(connection: Connection, name: str, schema: Optional[str]) -> Optional[NameHolder]:
    """The relation of ``schema`` named ``name``: tables, views, sequences and every table's indexes share the names."""
    row = connection.execute(
        text(
            "SELECT CASE WHEN NOT x.indisvalid AND am.amname IN ('hnsw', 'ivfflat') THEN :invalid "
            "ELSE c.relkind::text END, c.relname, t.relname FROM pg_class c "
            "LEFT JOIN pg_am am ON am.oid = c.relam "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_index x ON x.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE c.relname = :name AND n.nspname = coalesce(:schema, current_schema())"
        ),
        {"name": name, "schema": schema, "invalid": INVALID_INDEX},
    ).first()
    if row is None:
        return None
    kind, found, table_name = row
    return NameHolder(INVALID_INDEX if kind == INVALID_INDEX else _RELATION_KINDS.get(str(kind), "relation"), found, table_name)


def index_options(reloptions: Optional[Sequence[str]]) -> Dict[str, Any]:
    """An index's ``pg_class.reloptions`` (``["m=16", ...]``) as build options, numbers as ints."""
    options: Dict[str, Any] = {}
    for item in reloptions or ():
        key, _, value = item.partition("=")
        options[key] = int(value) if value.isdigit() else value
    return options


def _quantization(row: Any) -> Optional[str]:
    """``half`` or ``binary`` for the expressions :func:`_compile_quantized` writes, else None."""
    key = str(row["key"] or "")
    if "binary_quantize(" in key and row["opclass"].startswith("bit_"):
        return "binary"
    if row["opclass"].startswith("halfvec_") and "::halfvec" in key:
        return "half"
    return None


def vector_columns(connection: Connection, table_name: str, schema: Optional[str]) -> Dict[str, int]:
    """``vector(n)`` columns, by ``format_type`` (which keeps the dimension)."""
    rows = connection.execute(
        text(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = :table AND n.nspname = coalesce(:schema, current_schema()) "
            "AND a.attnum > 0 AND NOT a.attisdropped"
        ),
        {"table": table_name, "schema": schema},
    ).all()
    return declared_dimensions(rows, _VECTOR_TYPE)
