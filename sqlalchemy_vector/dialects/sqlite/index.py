"""Vector indexes on SQLite: a sqlite-vec ``vec0`` table per index, kept in sync by triggers.

The vec0 table is named after the index and holds one row per non-NULL
vector of the base table, keyed by the base table's single-column primary
key: an Integer key is vec0's ``rowid``; a String key (the UUID strings of
the default models) is a ``text primary key`` column of the same name.
Three triggers copy inserts, updates and deletes; sqlite-vec 0.1.9 has no
upsert, so an update deletes and inserts again.  A table, its rows and its
triggers are built in one transaction (a savepoint; SQLite's DDL is
transactional), so an interrupted build leaves nothing behind.  A vec0 table
of our shape without its triggers (left by a build interrupted before
builds were atomic) is replaced by :func:`create_index` and removed by
:func:`drop_index`.

vec0 is an exact (brute-force) search, faster than scanning the base table
because it reads contiguous float32 chunks.

``VectorIndex(..., quantization="binary")`` builds the same table with a
``bit[n]`` column filled with ``vec_quantize_binary`` (one bit a dimension:
1/32 of the float32 bytes); a Hamming KNN over it fetches candidates that
``knn(..., rerank=n)`` re-ranks exactly on the base table's float vectors.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Set, Tuple

from sqlalchemy import Integer, String, Uuid, bindparam, func, insert, select, table, text
from sqlalchemy import column as sql_column
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import Column, ExecutableDDLElement
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.sql.expression import Executable

from ...exc import MissingExtensionError, UnsupportedDialectError, VectorIndexError
from ...index import CreateVectorIndex, DropVectorIndex, VectorIndex
from ..base import NameHolder, declared_dimensions, engine_state, find_backend, qualified_name

__all__ = [
    "INDEX_METRICS",
    "vec0_column_name",
    "vec0_key",
    "vec0_key_column",
    "vec0_key_name",
    "vec0_tables",
    "trigger_names",
]

_VEC0_METRIC = {"cosine": "cosine", "l2": "l2", "l1": "L1"}

#: Every declared method builds the exact vec0 table, for the metrics sqlite-vec 0.1.9 has.
INDEX_METRICS: Mapping[str, Tuple[str, ...]] = {"vec0": tuple(_VEC0_METRIC)}

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Columns every vec0 table has: a declared column of the same name is refused.
_HIDDEN_COLUMNS = ("distance", "k")

# The shadow tables sqlite-vec 0.1.9 creates beside a vec0 table of one vector column (no metadata columns).
_SHADOW_SUFFIXES = ("_info", "_chunks", "_rowids", "_vector_chunks00")

_TRIGGER_SUFFIXES = ("insert", "update", "delete")
# A binary index's update is two triggers: inside a trigger, INSERT ... SELECT drops the bit subtype
# of vec_quantize_binary()'s result (sqlite-vec 0.1.9 then reads float32), so the insert must be a
# VALUES row, made conditional by the trigger's WHEN instead.
_UNSET_SUFFIX = "unset"

# What list_vector_indexes() reads back from a vec0 table's CREATE statement:
# one vector column, optionally after a text primary key.
_VEC0_ARGUMENTS = re.compile(r"\bUSING\s+vec0\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)
_VECTOR_DECLARATION = re.compile(
    r"([A-Za-z_][A-Za-z0-9_]*)\s+(float|bit)\[(\d+)\](?:\s+distance_metric\s*=\s*([A-Za-z0-9_]+))?", re.IGNORECASE
)

#: Quantizations a vec0 table stores: sqlite-vec's ``bit[n]`` element type, Hamming distance.
QUANTIZATIONS = ("binary",)
#: sqlite-vec 0.1.9's ``vec_quantize_binary`` refuses a vector whose length is not a multiple of 8 ("Binary
#: quantization requires vectors with a length divisible by 8"): the vec0 table builds, and every insert fails.
QUANTIZATION_DIMENSION_MULTIPLE = {"binary": 8}
_KEY_DECLARATION = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s+text\s+primary\s+key", re.IGNORECASE)


# -- keys and names ---------------------------------------------------------------------


def _plain_name(index: VectorIndex, name: str, what: str) -> str:
    # vec0 parses its column declarations itself and accepts no quoting.
    if not _IDENTIFIER.match(name):
        raise VectorIndexError(
            f"VectorIndex {index.name!r}: sqlite-vec's vec0 needs a plain {what} name "
            f"(letters, digits, underscore), got {name!r}; rename the column"
        )
    if name.lower() in _HIDDEN_COLUMNS:
        raise VectorIndexError(
            f"VectorIndex {index.name!r}: vec0 tables have a column {name!r} of their own, so the {what} "
            f"cannot be named {name!r}; rename the column"
        )
    return name


def vec0_column_name(index: VectorIndex) -> str:
    """The name of the vector column inside ``index``'s vec0 table (the base table's column name)."""
    return _plain_name(index, index.vector_column.name, "vector column")


def vec0_key(base: Any) -> Optional[Tuple[Column[Any], str]]:
    """The column of ``base`` (a table) that vec0 rows are keyed by, and its name inside vec0; None if none fits.

    A single Integer primary key is vec0's ``rowid``; a single String or Uuid
    primary key (SQLite stores a UUID as its 32 hexadecimal digits) is a text
    primary key column of the same name.  A KNN query filtered
    with ``<key> IN (...)`` on a text key returns no row at all when one of the
    listed keys is not in vec0 (sqlite-vec 0.1.9; a rowid key is fine): list
    only keys of base rows whose vector is not NULL.
    """
    primary_key = list(getattr(base, "primary_key", ()))
    if len(primary_key) != 1:
        return None
    key = primary_key[0]
    if isinstance(key.type, Integer):
        return key, "rowid"
    if isinstance(key.type, (String, Uuid)):
        return key, key.name
    return None


def _index_key(index: VectorIndex) -> Tuple[Column[Any], str]:
    """:func:`vec0_key` of the indexed table, or why the index cannot have one."""
    base = index.bound_table
    found = vec0_key(base)
    if found is None:
        primary_key = list(base.primary_key.columns)
        listed = ", ".join(f"{c.name} {c.type!r}" for c in primary_key) or "none"
        raise VectorIndexError(
            f"VectorIndex {index.name!r} on SQLite needs table {base.name!r} to have a single Integer, "
            f"String or Uuid primary key (vec0 rows are keyed by it); found: {listed}"
        )
    if found[1] != "rowid":
        _plain_name(index, found[1], "primary key column")
    return found


def vec0_key_column(index: VectorIndex) -> Column[Any]:
    """The base-table column ``index``'s vec0 rows are keyed by (see :func:`vec0_key`)."""
    return _index_key(index)[0]


def vec0_key_name(index: VectorIndex) -> str:
    """The key of ``index``'s vec0 rows inside vec0: ``"rowid"``, or the text primary key's column name."""
    return _index_key(index)[1]


def trigger_names(index_name: str) -> List[str]:
    """Names of the triggers that keep ``index_name``'s vec0 table in sync (the last one, binary indexes only)."""
    return [f"{index_name}_sync_{kind}" for kind in _TRIGGER_SUFFIXES + (_UNSET_SUFFIX,)]


# -- DDL ------------------------------------------------------------------------------------


def compile_create(element: CreateVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    index = element.element
    if index.quantization == "binary":
        # bit columns take no distance_metric: their distance is Hamming (sqlite-vec 0.1.9).
        declarations = [f"{vec0_column_name(index)} bit[{index.dim}]"]
    else:
        declarations = [f"{vec0_column_name(index)} float[{index.dim}] distance_metric={_VEC0_METRIC[index.metric]}"]
    key = vec0_key_name(index)
    if key != "rowid":
        declarations.insert(0, f"{key} text primary key")
    return (
        f"CREATE VIRTUAL TABLE {'IF NOT EXISTS ' if element.if_not_exists else ''}"
        f"{qualified_name(compiler.preparer, index.index_name, index.bound_table.schema)} USING vec0({', '.join(declarations)})"
    )


def compile_drop(element: DropVectorIndex, compiler: DDLCompiler, **kw: Any) -> str:
    name = qualified_name(compiler.preparer, element.name, element.schema)
    return f"DROP TABLE {'IF EXISTS ' if element.if_exists else ''}{name}"


class SyncTrigger(ExecutableDDLElement):
    """One of the three triggers that copy a base table's vectors into its vec0 table."""

    inherit_cache = False

    def __init__(self, index: VectorIndex, kind: str) -> None:
        self.index = index
        self.kind = kind


class DropTrigger(ExecutableDDLElement):
    """``DROP TRIGGER IF EXISTS`` one sync trigger."""

    inherit_cache = False

    def __init__(self, name: str, schema: Optional[str] = None) -> None:
        self.name = name
        self.schema = schema


def _require_this_backend(compiler: DDLCompiler, what: str) -> None:
    from . import SQLiteBackend

    if not isinstance(find_backend(compiler.dialect), SQLiteBackend):
        raise UnsupportedDialectError(f"{what} exists on SQLite only, not on the {compiler.dialect.name!r} dialect")


@compiles(SyncTrigger)
def _compile_trigger(element: SyncTrigger, compiler: DDLCompiler, **kw: Any) -> str:
    _require_this_backend(compiler, "a vec0 sync trigger")
    index = element.index
    quote = compiler.preparer.quote
    vec, base = quote(index.index_name), quote(index.bound_table.name)
    column = quote(index.vector_column.name)
    pk = quote(vec0_key_column(index).name)
    key = vec0_key_name(index)
    key = key if key == "rowid" else quote(key)
    target = f"{vec}({key}, {quote(vec0_column_name(index))})"
    # A trigger lives in its table's schema, and its body's names are that schema's (qualified ones are refused).
    name = qualified_name(compiler.preparer, f"{index.name}_sync_{element.kind}", index.bound_table.schema)
    value = stored_value(index, f"NEW.{column}")
    if element.kind == "insert":
        return (
            f"CREATE TRIGGER {name} AFTER INSERT ON {base} WHEN NEW.{column} IS NOT NULL "
            f"BEGIN INSERT INTO {target} VALUES (NEW.{pk}, {value}); END"
        )
    if element.kind == "update" and index.quantization == "binary":
        return (
            f"CREATE TRIGGER {name} AFTER UPDATE OF {pk}, {column} ON {base} WHEN NEW.{column} IS NOT NULL "
            f"BEGIN DELETE FROM {vec} WHERE {key} = OLD.{pk}; INSERT INTO {target} VALUES (NEW.{pk}, {value}); END"
        )
    if element.kind == _UNSET_SUFFIX:
        return (
            f"CREATE TRIGGER {name} AFTER UPDATE OF {pk}, {column} ON {base} WHEN NEW.{column} IS NULL "
            f"BEGIN DELETE FROM {vec} WHERE {key} = OLD.{pk}; END"
        )
    if element.kind == "update":
        # vec0 (sqlite-vec 0.1.9) has no upsert and refuses to update a key: delete, then insert.
        return (
            f"CREATE TRIGGER {name} AFTER UPDATE OF {pk}, {column} ON {base} "
            f"BEGIN DELETE FROM {vec} WHERE {key} = OLD.{pk}; "
            f"INSERT INTO {target} SELECT NEW.{pk}, {value} WHERE NEW.{column} IS NOT NULL; END"
        )
    return f"CREATE TRIGGER {name} AFTER DELETE ON {base} BEGIN DELETE FROM {vec} WHERE {key} = OLD.{pk}; END"


def stored_value(index: VectorIndex, expression: str) -> str:
    """What the vec0 table stores for the base column's ``expression``: the float32 blob, or its bits."""
    return f"vec_quantize_binary(vec_f32({expression}))" if index.quantization == "binary" else expression


@compiles(DropTrigger)
def _compile_drop_trigger(element: DropTrigger, compiler: DDLCompiler, **kw: Any) -> str:
    _require_this_backend(compiler, "a vec0 sync trigger")
    return f"DROP TRIGGER IF EXISTS {qualified_name(compiler.preparer, element.name, element.schema)}"


def create_statements(index: VectorIndex, if_not_exists: bool = False) -> List[Executable]:
    """The vec0 table, the copy of the existing vectors, and the three triggers."""
    schema = index.bound_table.schema
    column, key_column = index.vector_column, vec0_key_column(index)
    key, name = vec0_key_name(index), vec0_column_name(index)
    vec = table(index.index_name, sql_column(key), sql_column(name), schema=schema)
    value: Any = column
    if index.quantization == "binary":
        value = func.vec_quantize_binary(func.vec_f32(column))
    fill = insert(vec).from_select([key, name], select(key_column, value).where(column.is_not(None)))
    statements: List[Executable] = [CreateVectorIndex(index, if_not_exists=if_not_exists), fill]
    kinds = _TRIGGER_SUFFIXES + ((_UNSET_SUFFIX,) if index.quantization == "binary" else ())
    return statements + [SyncTrigger(index, kind) for kind in kinds]


def drop_statements(name: str, schema: Optional[str], if_exists: bool = False) -> List[Executable]:
    """The triggers, then the vec0 table (which takes its shadow tables with it)."""
    statements: List[Executable] = [DropTrigger(trigger, schema) for trigger in trigger_names(name)]
    statements.append(DropVectorIndex(name, schema=schema, if_exists=if_exists))
    return statements


# -- building and dropping --------------------------------------------------------------


def ensure_index_support(connection: Connection, index_name: str) -> None:
    mode = (engine_state(connection.dialect) or {}).get("sqlite_vec")
    if mode == "extension":
        return
    if mode is None:
        try:
            connection.exec_driver_sql("SELECT vec_version()")
            return
        except Exception:  # noqa: BLE001 - any failure means the function is not there
            pass
    raise MissingExtensionError(
        f"VectorIndex {index_name!r} on SQLite needs sqlite-vec's vec0 virtual table, but this engine "
        "runs without the sqlite-vec extension (pure-Python distance functions); install it with "
        "pip install 'sqlalchemy-vector[sqlite]' and create the engine with "
        "sqlalchemy_vector.create_engine(url) (without sqlite_vec=False)"
    )


def create_index(connection: Connection, index: VectorIndex, if_not_exists: bool = False) -> None:
    """Build ``index`` atomically, replacing a half-built vec0 table of the same name."""
    ensure_index_support(connection, index.index_name)
    statements = create_statements(index)
    schema = index.bound_table.schema
    catalog = _catalog(connection, schema)
    if if_not_exists and index.index_name in catalog.complete:
        return
    with connection.begin_nested():
        if index.index_name in catalog.half_built:
            for statement in drop_statements(index.index_name, schema, if_exists=True):
                connection.execute(statement)
        for statement in statements:
            connection.execute(statement)


def drop_index(connection: Connection, name: str, schema: Optional[str], if_exists: bool = False) -> None:
    """Drop a vec0 index, complete or half-built; never a table that is not one."""
    catalog = _catalog(connection, schema)
    if name not in catalog.complete and name not in catalog.half_built:
        if if_exists:
            return
        raise VectorIndexError(
            f"no vector index named {name!r} in SQLite schema {schema or 'main'!r}; "
            f"existing ones: {', '.join(sorted(catalog.complete)) or 'none'}"
        )
    with connection.begin_nested():
        for statement in drop_statements(name, schema, if_exists=if_exists):
            connection.execute(statement)


# -- the catalog ----------------------------------------------------------------------------


class _Declaration(NamedTuple):
    column: str
    dim: int
    metric: Optional[str]
    key: Optional[str]
    quantization: Optional[str]


def _declaration(sql: str) -> Optional[_Declaration]:
    """The parts of a vec0 ``CREATE VIRTUAL TABLE`` statement, if it has the shape an index builds."""
    arguments = _VEC0_ARGUMENTS.search(sql)
    if arguments is None:
        return None
    vector: Optional[re.Match[str]] = None
    key: Optional[str] = None
    for part in arguments.group(1).split(","):
        part = part.strip()
        found = _VECTOR_DECLARATION.fullmatch(part)
        if found is not None and vector is None:
            vector = found
            continue
        found = _KEY_DECLARATION.fullmatch(part)
        if found is not None and key is None:
            key = found.group(1)
            continue
        return None
    if vector is None:
        return None
    if vector.group(2).lower() == "bit":
        # Hamming over the bits serves any metric the candidates are re-ranked by: none is kept.
        return _Declaration(vector.group(1), int(vector.group(3)), None, key, "binary")
    raw_metric = (vector.group(4) or "l2").lower()
    return _Declaration(vector.group(1), int(vector.group(3)), raw_metric, key, None)


class _Catalog(NamedTuple):
    complete: Dict[str, Dict[str, Any]]
    half_built: Set[str]


def master_table(connection: Connection, schema: Optional[str]) -> str:
    """The catalog table of ``schema`` (an attached database's own), or of ``main``."""
    return qualified_name(connection.dialect.identifier_preparer, "sqlite_master", schema)


def _catalog(connection: Connection, schema: Optional[str] = None) -> _Catalog:
    """The vec0 tables of ``schema`` that are indexes: complete ones (as listed) and half-built ones."""
    tables = vec0_tables(connection, schema)
    complete: Dict[str, Dict[str, Any]] = {}
    half_built: Set[str] = set()
    if not tables:
        return _Catalog(complete, half_built)
    triggers: Dict[str, str] = {
        name: table_name
        for name, table_name in connection.execute(
            text(f"SELECT name, tbl_name FROM {master_table(connection, schema)} WHERE type = 'trigger'")
        ).all()
    }
    for name, sql in tables.items():
        declared = _declaration(sql)
        if declared is None:  # a vec0 table not made by a VectorIndex
            continue
        names = trigger_names(name)[: len(_TRIGGER_SUFFIXES) + (declared.quantization is not None)]
        bases = {triggers.get(trigger) for trigger in names}
        if len(bases) != 1 or None in bases:
            half_built.add(name)
            continue
        complete[name] = {
            "name": name,
            "table": bases.pop(),
            "column": declared.column,
            "metric": declared.metric,
            "method": "vec0",
            "options": {},
            "quantization": declared.quantization,
        }
    return _Catalog(complete, half_built)


def vec0_tables(connection: Connection, schema: Optional[str] = None) -> Dict[str, str]:
    """Every vec0 virtual table of ``schema`` (``main`` by default), with its CREATE statement."""
    rows = connection.execute(
        text(
            f"SELECT name, sql FROM {master_table(connection, schema)} "
            "WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'"
        )
    ).all()
    return {name: sql for name, sql in rows if re.search(r"\bUSING\s+vec0\b", sql, re.IGNORECASE)}


def list_indexes(connection: Connection, schema: Optional[str] = None) -> List[Dict[str, Any]]:
    return list(_catalog(connection, schema).complete.values())


def name_holder(connection: Connection, name: str, schema: Optional[str]) -> Optional[NameHolder]:
    """What holds a name the vec0 index ``name`` needs: its own, its shadow tables' or its triggers'.

    A half-built index of that name is no holder: :func:`create_index` replaces it, shadow tables and triggers too.
    """
    if name in _catalog(connection, schema).half_built:
        return None
    return catalog_holder(connection, name, [name + suffix for suffix in _SHADOW_SUFFIXES], trigger_names(name), schema)


def catalog_holder(
    connection: Connection, name: str, tables: Sequence[str], triggers: Sequence[str], schema: Optional[str]
) -> Optional[NameHolder]:
    """What ``schema`` holds under ``name`` or one of the other ``tables`` / ``triggers`` names a build needs.

    Tables, views and indexes share one namespace, triggers another; SQLite
    compares names without (ASCII) case.  A vec0 or FTS5 table that is an
    index of this library is reported as an index of its table.
    """
    master = master_table(connection, schema)
    wanted = [n.lower() for n in (name, *tables)]
    rows = connection.execute(
        text(
            f"SELECT type, name, tbl_name FROM {master} WHERE (type != 'trigger' AND lower(name) IN :tables) "
            "OR (type = 'trigger' AND lower(name) IN :triggers)"
        ).bindparams(bindparam("tables", expanding=True), bindparam("triggers", expanding=True)),
        {"tables": wanted, "triggers": [n.lower() for n in triggers]},
    ).all()
    if not rows:
        return None
    # The index's own name first, then what its build names after it.
    kind, found, table_name = min(rows, key=lambda row: (row[1].lower() != name.lower(), row[0] == "trigger"))
    if kind == "table":
        from . import fulltext

        built = _catalog(connection, schema).complete.get(found)
        if built is None:
            built = next((i for i in fulltext.list_indexes(connection, schema) if i["name"] == found), None)
        return NameHolder("index", found, built["table"]) if built is not None else NameHolder("table", found)
    return NameHolder(kind, found, None if kind == "view" else table_name)


_VECTOR_TYPE = re.compile(r"^F32_BLOB\((\d+)\)$", re.IGNORECASE)


def vector_columns(connection: Connection, table_name: str, schema: Optional[str]) -> Dict[str, int]:
    """``F32_BLOB(n)`` columns by their declared type."""
    rows = connection.execute(
        text("SELECT name, type FROM pragma_table_info(:table, :schema)"),
        {"table": table_name, "schema": schema or "main"},
    ).all()
    return declared_dimensions(rows, _VECTOR_TYPE)
