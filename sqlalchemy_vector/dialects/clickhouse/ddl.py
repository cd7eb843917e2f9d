"""``CREATE TABLE`` on ClickHouse for engines sqlalchemy_vector prepared.

ClickHouse needs a table engine; clickhouse-connect takes it as a table
argument (``Table(..., clickhousedb_engine=MergeTree(order_by="id"))``) and
refuses a table without one.  On an engine from
:func:`sqlalchemy_vector.create_engine` (or ``attach``, or the plugin) a table
with no engine gets ``MergeTree`` ordered by its primary key, so the same
``Table`` and the facade's models are created on every backend.  The rule also
adds the ``CHECK length(col) = dim`` constraint of each vector column, and
makes nullable scalar columns ``Nullable`` (clickhouse-connect leaves generic
SQLAlchemy types non-nullable, and NULL would silently become ``''`` or 0).
Engines sqlalchemy_vector did not prepare compile exactly as before.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Set

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import Column, CreateTable, Sequence, Table
from sqlalchemy.sql import sqltypes
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.compiler import DDLCompiler

from ..base import column_head, engine_state

# Types ClickHouse does not accept inside Nullable(...).
_NOT_NULLABLE = ("Array(", "Map(", "Tuple(", "JSON", "Nullable(", "LowCardinality(", "Object(", "Dynamic", "Variant(")


def _vector_dim(column: Column[Any]) -> int | None:
    from ...types import Vector

    return column.type.dim if isinstance(column.type, Vector) else None


#: The codec of vector columns.  The server's own choice for a merged part is often ZSTD (chDB's is
#: ZSTD(3) past a part size), which saves little on float32 vectors and makes every exact scan decode
#: them: at 100k x 384 on chDB, merged into one part, the vectors took 136 MB with ZSTD(3) and 156.6 ms
#: per exact top 5, against 147 MB and 43.3 ms stored plain (bench/storage_defaults.py).
VECTOR_CODEC = "CODEC(NONE)"


def with_vector_codec(spec: str, column: Column[Any]) -> str:
    """A vector column's ``spec`` with :data:`VECTOR_CODEC`, unless the column declares its own codec.

    (``Column(..., clickhousedb_codec=...)``, which clickhouse-connect puts in
    ``spec``; reflection gives it too, e.g. to a column a downgrade re-creates.)
    """
    from clickhouse_connect.cc_sqlalchemy.sql.ddlcompiler import ClickHouseDDLHelper

    if ClickHouseDDLHelper.get_option(column, "codec") is not None:
        return spec
    return f"{spec} {VECTOR_CODEC}"


def length_constraint_name(column_name: str) -> str:
    """The name of a vector column's ``CHECK length(col) = dim`` constraint (``CREATE TABLE``, ``add_column``)."""
    return f"{column_name}_dimension"


def length_constraint(column_name: str, dim: int, quote: Callable[[str], str], if_not_exists: bool = False) -> str:
    """``CONSTRAINT [IF NOT EXISTS] <name> CHECK length(<column>) = dim``, identifiers quoted with ``quote``."""
    exists = " IF NOT EXISTS" if if_not_exists else ""
    name = quote(length_constraint_name(column_name))
    return f"CONSTRAINT{exists} {name} CHECK length({quote(column_name)}) = {int(dim)}"


def _column_spec(compiler: DDLCompiler, column: Column[Any]) -> str:
    spec = str(compiler.get_column_specification(column))  # type: ignore[no-untyped-call]
    if _vector_dim(column) is not None:
        return with_vector_codec(spec, column)
    if not column.nullable or column.primary_key:
        return spec
    name, type_sql = column_head(compiler, column)
    head = f"{name} {type_sql}"
    if type_sql.startswith(_NOT_NULLABLE) or not spec.startswith(head):
        return spec
    return f"{name} Nullable({type_sql})" + spec[len(head) :]


#: Rows per granule of the tables given the default engine (ClickHouse's own default is 8,192).
INDEX_GRANULARITY = 1024


def _default_engine(table: Table) -> str:
    keys = [f"`{c.name}`" if not c.name.isidentifier() else c.name for c in table.primary_key.columns]
    order_by = keys[0] if len(keys) == 1 else f"({', '.join(keys)})" if keys else "tuple()"
    # The block-number columns make UPDATE work (lightweight updates, ClickHouse 25.7+).  Granules of
    # 1,024 rows instead of 8,192: these tables are read by key (the facade reads its k documents by id),
    # and a key read costs one granule per key.  Measured at 100k documents on chDB: reading 5 documents
    # by id took 1.9 ms against 3.2 ms; a full scan is no slower.
    return (
        f"Engine MergeTree ORDER BY {order_by} SETTINGS enable_block_number_column = 1, "
        f"enable_block_offset_column = 1, index_granularity = {INDEX_GRANULARITY}"
    )


def _refuse_generated_integer_keys(table: Table) -> None:
    from ...exc import UnsupportedDialectError
    from ...orm import IntegerId

    for column in table.primary_key.columns:
        if isinstance(column.type, IntegerId) and (column.default is None or isinstance(column.default, Sequence)):
            raise UnsupportedDialectError(
                f"{table.name}.{column.name} is a database-generated integer key, and ClickHouse generates none "
                "(no sequence, no autoincrement); use string ids (id_type=str, UUIDs, the default) or give the "
                "column a default that computes the id in Python"
            )


@compiles(CreateTable, "clickhousedb")
def _create_table(element: CreateTable, compiler: DDLCompiler, **kw: Any) -> str:
    table = element.element
    state = engine_state(compiler.dialect)
    if state is None or not state.get("clickhouse"):
        return str(compiler.visit_create_table(element, **kw))  # type: ignore[no-untyped-call]
    from clickhouse_connect.cc_sqlalchemy.sql import format_table
    from clickhouse_connect.cc_sqlalchemy.sql.ddlcompiler import ClickHouseDDLHelper

    if ClickHouseDDLHelper.is_dictionary(table):
        return str(compiler.visit_create_table(element, **kw))  # type: ignore[no-untyped-call]
    _refuse_generated_integer_keys(table)
    engine = getattr(table, "engine", None) or ClickHouseDDLHelper.get_option(table, "engine")
    parts: List[str] = [_column_spec(compiler, c.element) for c in element.columns]
    for create_column in element.columns:
        column = create_column.element
        dim = _vector_dim(column)
        if dim is not None:
            parts.append(length_constraint(column.name, dim, compiler.preparer.quote))
    if_not_exists = " IF NOT EXISTS" if getattr(element, "if_not_exists", False) else ""
    text = f"CREATE TABLE{if_not_exists} {format_table(table)} ({', '.join(parts)}) "
    text += engine.compile() if engine is not None else _default_engine(table)
    if table.comment:
        from sqlalchemy import types

        text += f" COMMENT {compiler.sql_compiler.render_literal_value(table.comment, types.STRINGTYPE)}"
    return text


# -- generic column types -------------------------------------------------------------------
# clickhouse-connect 1.12 compiles generic SQLAlchemy types with the generic compiler: JSON does not
# compile at all, DateTime becomes ClickHouse's DateTime (whole seconds) and Float its Float32.  On
# prepared engines they take the ClickHouse types that keep what the other backends keep.


def _prepared(dialect: Any) -> bool:
    state = engine_state(dialect)
    return state is not None and bool(state.get("clickhouse"))


@compiles(sqltypes.JSON, "clickhousedb")
def _json_type(element: sqltypes.JSON, compiler: Any, **kw: Any) -> str:
    if not _prepared(compiler.dialect):
        raise sa_exc.UnsupportedCompilationError(compiler, type(element))  # type: ignore[arg-type]
    return "String"  # JSON text: ClickHouse's JSON type drops keys whose value is null


@compiles(sqltypes.DateTime, "clickhousedb")
def _datetime_type(element: sqltypes.DateTime, compiler: Any, **kw: Any) -> str:
    if not _prepared(compiler.dialect):
        return str(compiler.visit_datetime(element, **kw))
    return "DateTime64(6, 'UTC')" if element.timezone else "DateTime64(6)"


@compiles(sqltypes.Float, "clickhousedb")
def _float_type(element: "sqltypes.Float[Any]", compiler: Any, **kw: Any) -> str:
    if not _prepared(compiler.dialect) or (element.precision is not None and element.precision <= 24):
        return str(compiler.visit_float(element, **kw))
    return "Float64"


class DateTimeMicroseconds(sqltypes.DateTime):
    """A DateTime bound with its microseconds (clickhouse-connect 1.12 renders ``%H:%M:%S`` alone).

    Aware values go as UTC, the zone of the ``DateTime64(6, 'UTC')`` column they are kept in, and
    read back aware, in UTC.
    """

    def bind_processor(self, dialect: Any) -> Any:
        def process(value: Any) -> Any:
            if not isinstance(value, dt.datetime):
                return value
            if value.tzinfo is not None:
                value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
            return value.strftime("%Y-%m-%d %H:%M:%S.%f")

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if not self.timezone:
            return None

        def process(value: Any) -> Any:
            if isinstance(value, dt.datetime) and value.tzinfo is None:
                return value.replace(tzinfo=dt.timezone.utc)
            return value

        return process


#: Per-engine ``colspecs`` of prepared engines: generic types with the ClickHouse behaviour above.
COLSPECS: Dict[type, type] = {sqltypes.DateTime: DateTimeMicroseconds}


# -- UPDATE and DELETE through the ORM ----------------------------------------------------
# clickhouse-connect 1.12 compiles DELETE itself and leaves the compiler without the statement's
# compile state, which SQLAlchemy's ORM-enabled update()/delete() read after executing
# (AttributeError: from_statement_ctx).  On prepared engines these rules record it first.


@compiles(Insert, "clickhousedb")
@compiles(Update, "clickhousedb")
@compiles(Delete, "clickhousedb")
def _dml_with_compile_state(element: Any, compiler: Any, **kw: Any) -> str:
    state = engine_state(compiler.dialect)
    prepared = state is not None and state.get("clickhouse")
    if prepared and element._returning:
        # clickhouse-connect renders RETURNING, which the server then fails to parse.
        from ...exc import UnsupportedDialectError

        verb = "INSERT" if isinstance(element, Insert) else "UPDATE" if isinstance(element, Update) else "DELETE"
        raise UnsupportedDialectError(
            f"ClickHouse has no RETURNING ({verb} ... RETURNING on {element.table.name}); run the {verb} without "
            ".returning() and read the rows back with a SELECT by key"
        )
    if isinstance(element, Insert):
        if prepared:
            _refuse_missing_keys(element, compiler)
        return str(compiler.visit_insert(element, **kw))
    if prepared and compiler.compile_state is None and not compiler.stack:
        compiler.compile_state = element._compile_state_factory(element, compiler, **kw)
        if isinstance(element, Delete):
            compiler.isdelete = True
        else:
            compiler.isupdate = True
    if isinstance(element, Delete):
        return _delete(element, compiler, prepared=bool(prepared), **kw)
    sql = str(compiler.visit_update(element, **kw))
    # ClickHouse's UPDATE needs a WHERE clause (a syntax error without one); an UPDATE of every row says WHERE 1.
    return f"{sql} WHERE 1" if prepared and element.whereclause is None else sql


def _inserted_keys(element: Insert, compiler: Any) -> Optional[Set[str]]:
    """The keys of the columns an INSERT gives values for; None when it gives every column (or by position)."""
    if element._select_names is not None:
        return set(element._select_names)
    keys: Set[str] = set(compiler.column_keys or ())
    values: Mapping[Any, Any] = element._values or {}
    rows = [row for batch in element._multi_values for row in batch]
    if compiler.column_keys is None and not values and not rows:
        return None  # compiled alone: every column is a parameter
    for row in [values, *rows]:
        if not isinstance(row, Mapping):
            return None  # values by position
        keys.update(key if isinstance(key, str) else str(getattr(key, "key", key)) for key in row)
    return keys


def _refuse_missing_keys(element: Insert, compiler: Any) -> None:
    """Refuse an INSERT that leaves a primary-key column without a value or a default.

    ClickHouse generates no keys and its key columns are not Nullable: such rows
    were all stored with the type's default (0, or ``''``), where the other
    backends generate a key (an integer primary key) or refuse the NULL.
    """
    from ...exc import InvalidVectorError

    table = element.table
    given = _inserted_keys(element, compiler)
    if given is None:
        return
    key = left_out(getattr(getattr(table, "primary_key", None), "columns", ()), given)
    if key is not None:
        raise missing_key(table, key, given)
    # A vector column left out: ClickHouse stores no NULL vector, and its empty array failed the column's length
    # constraint with the server's own error.
    vector = left_out(vector_columns(table), given)
    if vector is not None:
        raise InvalidVectorError(
            f"INSERT into {table.name} gives no value for {table.name}.{vector.name} (columns given: "
            f"{', '.join(sorted(given)) or 'none'}), and ClickHouse stores no NULL vector (an Array column "
            f"cannot be Nullable); give every row a vector for it, or keep vectors in a separate table keyed by "
            "the row's id"
        )


def left_out(columns: Iterable[Any], given: Set[str]) -> Any:
    """The first of ``columns`` the rows give no value for (by key or name) and that has no default to fill it, or
    None (a plain INSERT, ``bulk_insert``)."""
    for column in columns:
        absent = column.key not in given and column.name not in given
        if absent and column.default is None and column.server_default is None:
            return column
    return None


def vector_columns(table: Any) -> List[Any]:
    """The ``Vector`` columns of ``table``."""
    return [column for column in table.columns if _vector_dim(column) is not None]


def missing_key(table: Any, column: Any, given: Iterable[str]) -> Exception:
    """The error for rows that give no value for the primary-key ``column`` (a plain INSERT, ``bulk_insert``)."""
    from ...exc import UnsupportedDialectError

    return UnsupportedDialectError(
        f"INSERT into {table.name} gives no value for its primary key {table.name}.{column.name} (columns "
        f"given: {', '.join(sorted(given)) or 'none'}), and ClickHouse generates no keys (no autoincrement, "
        f"no sequence): every such row would be stored with {column.name} = "
        f"{'0' if isinstance(column.type, sqltypes.Integer) else repr('')}; give each row its "
        f"{column.name}, or declare the column with a default that computes it in Python "
        "(Column(..., default=...))"
    )


def _delete(element: Delete, compiler: Any, prepared: bool, **kw: Any) -> str:
    """``DELETE FROM t WHERE ...``, the condition rendered as in any other statement.

    clickhouse-connect 1.12 renders each column of a DELETE's condition as a quoted name, literal
    columns too: the ``'%'`` of ``contains()``, ``startswith()`` and ``endswith()`` became the
    identifier `` `'%'` `` and the server refused it.  ClickHouse takes qualified names there.
    ClickHouse's DELETE needs a condition: on prepared engines a DELETE of every row, as the other
    backends take it, says ``WHERE 1`` (clickhouse-connect refuses it, naming TRUNCATE).
    """
    if element.whereclause is None and not prepared:
        return str(compiler.visit_delete(element, **kw))  # its error: ClickHouse deletes need a condition
    table = compiler.preparer.format_table(element.table)
    condition = "1" if element.whereclause is None else compiler.process(element.whereclause, **kw)
    return f"DELETE FROM {table} WHERE {condition}"
