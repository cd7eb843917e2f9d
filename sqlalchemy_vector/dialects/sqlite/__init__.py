"""SQLite with the sqlite-vec extension, or pure-Python functions without it.

Vectors are stored as little-endian float32 BLOBs, the format sqlite-vec
reads, in columns declared ``F32_BLOB(dim)`` (BLOB affinity, and the dimension
survives in the schema).  Many Python builds cannot load extensions into the
standard ``sqlite3`` module; :func:`loadable_sqlite_module` then picks a driver
module that can (``sqlean``, ``pysqlite3``).  Where no extension can be loaded
at all, the same ``vec_distance_*`` functions are registered on each
connection in Python: same SQL, same results, slower.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import sys
import types
import urllib.parse
import warnings
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import numpy as np
from sqlalchemy import JSON, Integer, Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.compiler import DDLCompiler, SQLCompiler
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.types import UserDefinedType
from sqlalchemy.util import asbool

from ...exc import FallbackWarning, MissingExtensionError, UnsupportedDialectError
from ...functions import ZERO_VECTOR_COSINE_DISTANCE, VectorDistance
from ..base import (
    Backend,
    Capabilities,
    NameHolder,
    Processor,
    engine_state,
    on_each_connection,
    register,
    set_engine_state,
    user_stacklevel,
)
from . import bulk as _bulk
from . import filters as _filters
from . import index as _index
from . import kinds as _kinds
from . import migration as _migration
from . import reflection as _reflection
from . import search as _search
from . import storage as _storage

if TYPE_CHECKING:
    from alembic.operations import MigrateOperation, Operations

    from ...bulk import BulkLoad
    from ...filters import CaseSensitiveLike, FilterNumber, JSONValue, OneOf
    from ...index import CreateVectorIndex, DropVectorIndex, VectorIndex

__all__ = ["F32_BLOB", "loadable_sqlite_module", "register_python_functions"]


class F32_BLOB(UserDefinedType[Any]):
    """A float32 vector BLOB column; ``F32_BLOB(dim)`` has BLOB affinity in SQLite."""

    cache_ok = True

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def get_col_spec(self, **kw: Any) -> str:
        return f"F32_BLOB({self.dim})"

    def bind_processor(self, dialect: Dialect) -> Processor:
        def process(value: Any) -> Any:
            return None if value is None else value.astype("<f4", copy=False).tobytes()

        return process

    def literal_processor(self, dialect: Dialect) -> Processor:
        def process(value: Any) -> str:
            return f"X'{value.astype('<f4', copy=False).tobytes().hex()}'"

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Processor:
        def process(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, str):  # sqlite-vec also accepts JSON text
                return np.asarray(json.loads(value), dtype=np.float32)
            return np.frombuffer(value, dtype="<f4").astype(np.float32)

        return process


# -- distance SQL ---------------------------------------------------------------
#
# sqlite-vec 0.1.9 raises on NULL arguments, where PostgreSQL and DuckDB return
# NULL, so non-parameter arguments are guarded with CASE (evaluated lazily).
# vec_distance_cosine returns NULL for a zero vector: mapped to 2.0.  There is
# no inner-product function: a.b = (1 - cos_distance) * |a| * |b|, with
# |x| = vec_distance_l2(x, zeroblob(4 * dim)).


def _compile_distance(element: VectorDistance, compiler: SQLCompiler, **kw: Any) -> str:
    _check_prepared(element, compiler)
    left = compiler.process(element.left, **kw)
    right = compiler.process(element.right, **kw)
    metric = element.metric
    if metric == "l2":
        body = f"vec_distance_l2({left}, {right})"
    elif metric == "l1":
        body = f"vec_distance_l1({left}, {right})"
    elif metric == "cosine":
        body = f"coalesce(vec_distance_cosine({left}, {right}), {ZERO_VECTOR_COSINE_DISTANCE})"
    else:
        zero = f"zeroblob({4 * _require_dim(element)})"
        if metric == "inner_product":
            cos_term = f"coalesce(1.0 - vec_distance_cosine({left}, {right}), 0.0)"
        else:  # max_inner_product
            cos_term = f"coalesce(vec_distance_cosine({left}, {right}) - 1.0, 0.0)"
        # A norm that underflows float32 (components below ~1e-19) is 0 while the
        # cosine is infinite: 0 * inf is NaN, which SQLite returns as NULL.  The
        # product is then below float32 precision: 0.
        body = f"coalesce({cos_term} * vec_distance_l2({left}, {zero}) * vec_distance_l2({right}, {zero}), 0.0)"
    guards = [f"{sql} IS NULL" for sql, arg in ((left, element.left), (right, element.right)) if not _is_bind(arg)]
    if not guards:
        return body
    return f"(CASE WHEN {' OR '.join(guards)} THEN NULL ELSE {body} END)"


def _is_bind(clause: Any) -> bool:
    return getattr(clause, "__visit_name__", None) == "bindparam"


def _require_dim(element: VectorDistance) -> int:
    if element.dim is None:
        raise UnsupportedDialectError(
            f"{element.name}() on SQLite needs a Vector-typed argument to know the dimension; "
            "cast one side with sqlalchemy.type_coerce(expr, Vector(n))"
        )
    return element.dim


def _check_prepared(element: VectorDistance, compiler: SQLCompiler) -> None:
    # A dialect built by create_engine has a DBAPI; a bare sqlite.dialect() used
    # only to print SQL does not, and needs no functions.
    dialect = compiler.dialect
    if dialect.dbapi is not None and engine_state(dialect) is None:
        raise MissingExtensionError(
            f"{element.name}() needs the vec_distance_* functions, which this SQLite engine does not load; "
            f"create it with sqlalchemy_vector.{'create_async_engine' if dialect.is_async else 'create_engine'}(url), "
            "add ?plugin=vector to its URL, or call sqlalchemy_vector.attach(engine)"
        )


# -- loading sqlite-vec ---------------------------------------------------------


def loadable_sqlite_module() -> Optional[types.ModuleType]:
    """A DB-API module whose connections can load extensions, or ``None``.

    Tries the standard ``sqlite3`` first, then ``sqlean`` and ``pysqlite3``.
    """
    import sqlite3

    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    for name in ("sqlean", "pysqlite3.dbapi2"):
        try:
            module = __import__(name, fromlist=["connect"])
        except ImportError:
            continue
        if hasattr(module.Connection, "enable_load_extension"):
            return module
    return None


def _use_loadable_module(engine: Engine) -> None:
    """Give an engine made elsewhere a driver module that can load sqlite-vec.

    Only this engine's dialect instance changes; ``sqlite3`` itself and other
    engines are untouched.  Connections the engine opened before with the old
    module are replaced as they are next checked out (see ``prepare``), except
    that an in-memory database lives in those connections: such an engine that
    has connected keeps its module, and falls back to the Python functions.
    """
    dialect = engine.dialect
    if dialect.driver != "pysqlite" or _loads_extensions(dialect.dbapi) or _module_given(dialect):
        return
    if getattr(dialect, "server_version_info", None) is not None and _in_memory(engine.url):
        return
    module = loadable_sqlite_module()
    if module is not None:
        _set_module(dialect, module)


def _module_of(dbapi_connection: Any, expected: Any) -> Any:
    """The DB-API module of a connection that is not one of ``expected``'s, or None (it is, or none is found)."""
    raw = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    own = getattr(expected, "Connection", None)
    if isinstance(own, type) and isinstance(raw, own):
        return None
    for cls in type(raw).__mro__:  # a subclass (a factory) of a module's Connection: that module
        module = sys.modules.get(cls.__module__)
        if module is not None and getattr(module, "Connection", None) is cls and hasattr(module, "Error"):
            return module
    return None


def _set_module(dialect: Dialect, module: Any) -> None:
    """Make ``module`` the DB-API module of this dialect instance (its exception classes wrap the errors)."""
    dialect.dbapi = module
    if "loaded_dbapi" in vars(dialect):  # SQLAlchemy's memo of the module, made at the first connection
        vars(dialect)["loaded_dbapi"] = module


# In a pool's connection_record.info: the connection was opened after the engine was prepared.
_NEW_CONNECTION = "sqlalchemy_vector.sqlite.new"


def _module_given(dialect: Dialect) -> bool:
    """Whether the engine's driver module is one its creator chose (``module=``), not the dialect's default."""
    try:
        default = type(dialect).import_dbapi()  # type: ignore[attr-defined]
    except ImportError:
        return True
    return dialect.dbapi is not default


def _loads_extensions(module: Any) -> bool:
    """Whether the connections of the DB-API ``module`` can load extensions."""
    return module is not None and hasattr(getattr(module, "Connection", None), "enable_load_extension")


def _in_memory(url: URL) -> bool:
    """Whether the database of a SQLite URL lives in its connections' memory (not in a file)."""
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database or database.startswith("file::memory:")


def _fallback_cause(engine: Engine, dbapi_connection: Any, connection_record: Any, made_elsewhere: bool = False) -> str:
    """Why a connection of ``engine`` could not load sqlite-vec, and the fix, as the fallback warning says it.

    ``made_elsewhere``: the engine's connections are not its driver module's (a ``creator=``, a ``factory``).
    """
    try:
        import sqlite_vec  # noqa: F401
    except ImportError:
        return "the sqlite-vec package is not installed: pip install 'sqlalchemy-vector[sqlite]'"
    dialect = engine.dialect
    raw = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    driver = type(raw).__module__.partition(".")[0]
    if dialect.driver == "aiosqlite":
        return (
            "this aiosqlite engine opens connections of the standard sqlite3, which cannot load extensions in this "
            "Python, and attach() cannot change an asyncio engine's driver: create it with "
            "sqlalchemy_vector.create_async_engine(url) or add ?plugin=vector to its URL"
        )
    if not connection_record.info.get(_NEW_CONNECTION) and _in_memory(engine.url):
        return (
            f"this in-memory database's connection was opened by {driver} before sqlalchemy_vector.attach(), and "
            "replacing it would lose the data: attach before the engine's first connection, or create the engine "
            "with sqlalchemy_vector.create_engine(url)"
        )
    if made_elsewhere:
        return (
            f"the engine's connections ({type(raw).__module__}.{type(raw).__qualname__}, made by a creator= or a "
            "connect_args factory of its own) cannot load extensions in this Python: make them with "
            "sqlean.connect(...) (pip install 'sqlalchemy-vector[sqlite]')"
        )
    if _loads_extensions(dialect.dbapi):
        return (
            f"the engine's connections come from {driver}, which cannot load extensions, not from its driver module "
            f"{getattr(dialect.dbapi, '__name__', dialect.dbapi)!r} (a creator= of its own?): make them with "
            "sqlean.connect(...) (pip install 'sqlalchemy-vector[sqlite]')"
        )
    if _module_given(dialect):
        return (
            f"the driver module given to the engine (module={getattr(dialect.dbapi, '__name__', dialect.dbapi)}) "
            "cannot load extensions in this Python: pass module=sqlean (pip install 'sqlalchemy-vector[sqlite]'), "
            "or leave module= out"
        )
    return (
        "this Python's sqlite3 cannot load extensions and no module that can is installed: pip install "
        "'sqlalchemy-vector[sqlite]' (sqlite-vec and sqlean.py, an SQLite that loads extensions)"
    )


def _load_sqlite_vec(dbapi_connection: Any) -> bool:
    raw = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    if not hasattr(raw, "enable_load_extension"):
        return False
    try:
        import sqlite_vec
    except ImportError:
        return False
    if inspect.iscoroutinefunction(raw.enable_load_extension):
        return _load_sqlite_vec_aiosqlite(raw, sqlite_vec.loadable_path())
    raw.enable_load_extension(True)
    try:
        sqlite_vec.load(raw)
    finally:
        raw.enable_load_extension(False)
    return True


def _load_sqlite_vec_aiosqlite(raw: Any, path: str) -> bool:
    # aiosqlite's methods are coroutines run on its own thread; the connect
    # hook runs in SQLAlchemy's greenlet, where await_only() awaits them
    # (SQLAlchemy 2.0 and 2.1 alike; the adapter's own await_ is 2.0 only).
    from sqlalchemy.util import await_only

    try:
        await_only(raw.enable_load_extension(True))
    except AttributeError:  # the sqlite3 module inside cannot load extensions
        return False
    try:
        await_only(raw.load_extension(path))
    finally:
        await_only(raw.enable_load_extension(False))
    return True


def _aiosqlite_around(url: URL, module: types.ModuleType, connect_args: Dict[str, Any]) -> Dict[str, Any]:
    """``create_async_engine`` arguments for aiosqlite connections wrapping ``module`` (one that can load extensions).

    The DB-API object is SQLAlchemy's aiosqlite adapter with ``module``'s
    exception classes and version, so errors raised inside (e.g.
    ``sqlean.IntegrityError``) are recognised and wrapped as usual.
    ``connect_args`` reach ``module.connect`` as ``create_engine`` passes
    them (SQLAlchemy gives none to a ``creator``).
    """
    import threading

    import aiosqlite
    from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi, SQLiteDialect_aiosqlite

    dbapi = AsyncAdapt_aiosqlite_dbapi(aiosqlite, module)
    for name in ("DatabaseError", "Error", "IntegrityError", "NotSupportedError", "OperationalError",
                 "ProgrammingError", "sqlite_version", "sqlite_version_info"):
        setattr(dbapi, name, getattr(module, name))
    args, params = SQLiteDialect_aiosqlite().create_connect_args(url)
    params.update(connect_args)
    chunk_size = params.pop("iter_chunk_size", 64)

    async def creator() -> Any:
        connection = aiosqlite.Connection(functools.partial(module.connect, *args, **params), chunk_size)
        # As SQLAlchemy does for aiosqlite.connect(): a daemon worker thread
        # (the connection itself before aiosqlite 0.22) never blocks exit.
        thread = connection if isinstance(connection, threading.Thread) else getattr(connection, "_thread", None)
        if thread is not None:
            thread.daemon = True
        return await connection

    # The form create_async_engine gives an async_creator, made here so that the plugin (which
    # sees the arguments only after create_async_engine has read async_creator) can pass it too.
    return {"module": dbapi, "creator": lambda: dbapi.connect(async_creator_fn=creator)}


def _as_array(value: Any) -> np.ndarray:
    if isinstance(value, (bytes, memoryview)):
        return np.frombuffer(value, dtype="<f4")
    if isinstance(value, str):
        return np.asarray(json.loads(value), dtype=np.float32)
    raise ValueError(f"vector argument must be a BLOB or JSON text, got {type(value).__name__}")


def _pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_array(a), _as_array(b)
    if x.shape != y.shape:
        raise ValueError(f"vector dimension mismatch: {x.shape[0]} and {y.shape[0]}")
    return x.astype(np.float64), y.astype(np.float64)


def _py_l2(a: Any, b: Any) -> float:
    x, y = _pair(a, b)
    return float(np.sqrt(np.dot(x - y, x - y)))


def _py_l1(a: Any, b: Any) -> float:
    x, y = _pair(a, b)
    return float(np.abs(x - y).sum())


def _py_cosine(a: Any, b: Any) -> Optional[float]:
    x, y = _pair(a, b)
    norms = math.sqrt(float(np.dot(x, x)) * float(np.dot(y, y)))
    if norms == 0.0:
        return None  # as sqlite-vec: no direction
    return 1.0 - float(np.dot(x, y)) / norms


_PY_FUNCTIONS: Dict[str, Callable[[Any, Any], Any]] = {
    "vec_distance_l2": _py_l2,
    "vec_distance_l1": _py_l1,
    "vec_distance_cosine": _py_cosine,
}


def register_python_functions(dbapi_connection: Any) -> None:
    """Register pure-Python ``vec_distance_*`` functions on a SQLite connection."""
    for name, fn in _PY_FUNCTIONS.items():
        dbapi_connection.create_function(name, 2, fn, deterministic=True)
    for name, (arity, function) in _kinds.PY_FUNCTIONS.items():
        dbapi_connection.create_function(name, arity, function, deterministic=True)


class SQLiteBackend(Backend):
    """SQLite with sqlite-vec (or the same functions in Python)."""

    name = "sqlite"
    # ALTER TABLE changes little but names and added columns: Alembic copies the table.
    capabilities = Capabilities(
        install_extra="sqlite",
        driver_packages={
            "sqlite_vec": ("sqlite-vec", "sqlite"),
            "sqlean": ("sqlean.py", "sqlite"),
            "aiosqlite": ("aiosqlite", "sqlite,async"),  # sqlite+aiosqlite://, with sqlite-vec
        },
        url_form="sqlite:///FILE",
        file_database=True,
        fulltext_search=True,
        storage_provider="SQLite",
        max_index_dimension=8192,
        # A binary quantized index's vec0 column: bit[n], 8,192 at most too (sqlite-vec 0.1.9).
        kind_max_index_dimension={"bit": 8192},
        index_is_table=True,
        index_max_k=4096,
        filtered_top_k_in_index=True,
        async_drivers=("aiosqlite",),
        index_metrics=_index.INDEX_METRICS,
        index_provider="sqlite-vec",
        index_method_override="vec0",
        index_ddl_needs_table=True,
        index_ddl_declares_dimension=True,
        alter_by_table_copy=True,
        vector_kinds=_kinds.VECTOR_KINDS,
        missing_kinds=_kinds.MISSING_KINDS,
        index_quantizations=_index.QUANTIZATIONS,
        missing_quantization=_kinds.MISSING_QUANTIZATION,
        quantization_dimension_multiple=_index.QUANTIZATION_DIMENSION_MULTIPLE,
    )

    def dialect_classes(self) -> tuple[type | str, ...]:
        from sqlalchemy.dialects.sqlite.base import SQLiteDialect

        return (SQLiteDialect,)

    def compile_distance(self, element: VectorDistance, compiler: SQLCompiler, **kw: Any) -> str:
        return _compile_distance(element, compiler, **kw)

    def database_file(self, url: URL) -> Optional[str]:
        database = url.database
        if not database or database == ":memory:" or url.query.get("mode") == "memory":
            return None
        if database.startswith("file:") and asbool(url.query.get("uri", False)):
            # A URI file name (sqlite:///file:path?uri=true), which pysqlite opens as such: its percent-decoded path.
            path = urllib.parse.unquote(urllib.parse.urlsplit(database).path)
            return path if path and path != ":memory:" else None
        return database

    def storage_type(self, dim: int) -> F32_BLOB:
        return F32_BLOB(dim)

    # -- compact vector kinds ------------------------------------------------------------

    def kind_storage_type(self, kind: str, dim: int) -> TypeEngine[Any]:
        found = _kinds.storage_type(kind, dim)
        return found if found is not None else super().kind_storage_type(kind, dim)

    def compile_kind_distance(self, element: Any, compiler: SQLCompiler, **kw: Any) -> str:
        _check_prepared(element, compiler)
        return _kinds.compile_distance(element, compiler, **kw)

    def compile_quantized_distance(self, element: Any, compiler: SQLCompiler, **kw: Any) -> str:
        return _kinds.compile_quantized_distance(element, compiler, **kw)

    def engine_kwargs(
        self, url: URL, kwargs: Dict[str, Any], sqlite_vec: bool = True, asynchronous: bool = False, **options: Any
    ) -> Dict[str, Any]:
        if sqlite_vec and not {"module", "creator"} & kwargs.keys() and url.get_driver_name() == "pysqlite":
            module = loadable_sqlite_module()
            if module is not None:
                kwargs = {**kwargs, "module": module}
        if (
            sqlite_vec
            and asynchronous  # only create_async_engine connects through the creator made here
            and url.get_driver_name() == "aiosqlite"
            and not {"module", "creator", "async_creator"} & kwargs.keys()
        ):
            # aiosqlite wraps the standard sqlite3; where that cannot load
            # extensions, wrap a module that can.
            module = loadable_sqlite_module()
            if module is not None and module.__name__ != "sqlite3":
                kwargs = {**kwargs, **_aiosqlite_around(url, module, kwargs.get("connect_args") or {})}
        return kwargs

    def prepare(self, engine: Engine, sqlite_vec: bool = True, **options: Any) -> None:
        set_engine_state(engine.dialect, sqlite_vec=None)
        if sqlite_vec:
            _use_loadable_module(engine)
        first = engine.dialect.driver == "pysqlite"  # a DB-API module whose connections can be checked
        made_elsewhere = False
        warned = False

        def on_new(dbapi_connection: Any, connection_record: Any) -> None:
            connection_record.info[_NEW_CONNECTION] = True
            on_connect(dbapi_connection, connection_record)

        def on_existing(dbapi_connection: Any, connection_record: Any) -> None:
            # A connection opened before attach(), by a module that cannot load sqlite-vec, when the
            # engine's module now can: the pool replaces it with a new connection (a file database).
            raw = getattr(dbapi_connection, "driver_connection", dbapi_connection)
            if sqlite_vec and not hasattr(raw, "enable_load_extension") and _loads_extensions(engine.dialect.dbapi):
                raise sa_exc.DisconnectionError("opened before attach(), by a driver that cannot load sqlite-vec")
            on_connect(dbapi_connection, connection_record)

        def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
            nonlocal warned, first, made_elsewhere
            if first:
                # Connections of another module than the engine's (a creator= or a connect_args factory making
                # sqlite3's): that module's exception classes, or SQLAlchemy would pass its errors on unwrapped.
                first = False
                module = _module_of(dbapi_connection, engine.dialect.dbapi)
                if module is not None:
                    _set_module(engine.dialect, module)
                    made_elsewhere = True
            _storage.set_page_size(dbapi_connection)  # new files: 16 kB pages (storage.py)
            loaded = sqlite_vec and _load_sqlite_vec(dbapi_connection)
            if not loaded:
                register_python_functions(dbapi_connection)
                if sqlite_vec and not warned:
                    warned = True
                    warnings.warn(
                        f"sqlite-vec could not be loaded into {engine.url.render_as_string(hide_password=True)!r}: "
                        "distances run as Python functions (about 4x slower) and vector indexes are unavailable; "
                        f"{_fallback_cause(engine, dbapi_connection, connection_record, made_elsewhere)}, or pass sqlite_vec=False to "
                        "choose the Python functions knowingly",
                        FallbackWarning,
                        stacklevel=user_stacklevel(),
                    )
            set_engine_state(engine.dialect, sqlite_vec="extension" if loaded else "python")

        on_each_connection(engine, on_new, on_existing)

    # -- top-k search -----------------------------------------------------------

    def top_k_select(self, request: Any) -> Any:
        return _search.top_k_select(request)

    # -- vector indexes ------------------------------------------------------------------

    def ensure_index_support(self, connection: Connection, index_name: str) -> None:
        _index.ensure_index_support(connection, index_name)

    def compile_create_index(self, element: "CreateVectorIndex", compiler: DDLCompiler, **kw: Any) -> str:
        return _index.compile_create(element, compiler, **kw)

    def compile_drop_index(self, element: "DropVectorIndex", compiler: DDLCompiler, **kw: Any) -> str:
        return _index.compile_drop(element, compiler, **kw)

    def check_index(self, index: "VectorIndex") -> None:
        # Names vec0 cannot hold (a space, a quote), and a key it cannot be keyed by: refused before CREATE TABLE.
        _index.vec0_column_name(index)
        _index.vec0_key_name(index)

    def create_index_statements(self, index: "VectorIndex", if_not_exists: bool = False) -> List[Executable]:
        return _index.create_statements(index, if_not_exists=if_not_exists)

    def drop_index_statements(
        self, name: str, schema: Optional[str], if_exists: bool = False, *, table_name: Optional[str] = None
    ) -> List[Executable]:
        return _index.drop_statements(name, schema, if_exists=if_exists)  # the vec0 table is the index's own

    def create_index(self, connection: Connection, index: "VectorIndex", if_not_exists: bool = False) -> None:
        _index.create_index(connection, index, if_not_exists=if_not_exists)

    def drop_index(
        self,
        connection: Connection,
        name: str,
        schema: Optional[str],
        if_exists: bool = False,
        *,
        table_name: Optional[str] = None,
    ) -> None:
        _index.drop_index(connection, name, schema, if_exists=if_exists)  # the vec0 table is the index itself

    def list_indexes(self, connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
        return _index.list_indexes(connection, schema)

    def index_name_holder(
        self, connection: Connection, name: str, table_name: str, schema: Optional[str]
    ) -> Optional[NameHolder]:
        return _index.name_holder(connection, name, schema)

    def vector_columns(self, connection: Connection, table_name: str, schema: Optional[str]) -> Dict[str, int]:
        return _index.vector_columns(connection, table_name, schema)

    # -- migrations of vector indexes and columns ------------------------------------------

    def migration_keeps_vector_indexes(self, operation: "MigrateOperation") -> bool:
        return _migration.keeps_vector_indexes(operation)

    def migration_keeps_fulltext_indexes(self, operation: "MigrateOperation") -> bool:
        return _migration.keeps_vector_indexes(operation)  # the FTS5 triggers go with the copied table too

    def migration_options(self, connection: Connection) -> Dict[str, Any]:
        return _migration.transactional_migrations(connection)

    def alter_vector_dimension(
        self,
        operations: "Operations",
        table_name: str,
        column_name: str,
        dim: int,
        *,
        existing_dim: int,
        schema: Optional[str] = None,
        kind: Optional[str] = None,
    ) -> None:
        _migration.alter_vector_dimension(operations, table_name, column_name, dim, existing_dim, schema, kind)

    # -- bulk loading ----------------------------------------------------------------

    def bulk_write(self, connection: Connection, load: BulkLoad) -> bool:
        return _bulk.write(connection, load)

    # -- metadata filters ------------------------------------------------------------

    def json_key_path(self, key: str, dialect: Dialect) -> str:
        return _filters.key_path(key, dialect)

    def json_nested_path(self, keys: Tuple[str, ...], dialect: Dialect) -> str:
        return _filters.nested_path(keys, dialect)

    def compile_json_value(self, element: JSONValue, compiler: SQLCompiler, **kw: Any) -> str:
        return _filters.compile_json_value(element, compiler, **kw)

    def compile_one_of(self, element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
        return _filters.compile_one_of(element, compiler, **kw)

    def compile_filter_number(self, element: FilterNumber, compiler: SQLCompiler, **kw: Any) -> str:
        return _filters.compile_filter_number(element, compiler, **kw)

    def compile_case_sensitive_like(self, element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
        return _filters.compile_like(element, compiler, **kw)

    def like_pattern(self, pattern: str) -> str:
        return _filters.like_to_glob(pattern)

    # -- column types of the ORM mixins ---------------------------------------------

    def json_type(self) -> TypeEngine[Any]:
        return JSON()

    def integer_id_type(self) -> TypeEngine[int]:
        # Exactly INTEGER: only an INTEGER primary key is the rowid, generated by SQLite.
        return Integer()

    # -- reflection and migrations ---------------------------------------------------

    def reflected_type_names(self) -> Mapping[str, Callable[..., TypeEngine[Any]]]:
        return _reflection.type_names()

    def storage_dim(self, type_: TypeEngine[Any]) -> Optional[int]:
        return type_.dim if isinstance(type_, F32_BLOB) else None

    def hidden_tables(self, connection: Connection, schema: Optional[str] = None) -> Set[str]:
        return _reflection.index_tables(connection, schema)

    # -- limits and reliability ------------------------------------------------------

    def is_concurrent_ddl_error(self, error: BaseException) -> bool:
        from . import reliability

        return reliability.is_concurrent_ddl_error(error)

    def begin_write(self, connection: Connection) -> None:
        from . import reliability

        reliability.begin_write(connection)

    def lock_writers(self, connection: Connection, table: Table) -> None:
        from . import reliability

        if not reliability.begin_write(connection):
            reliability.lock_writers(connection, table)

    def index_table_missing(self, error: BaseException, index_name: str) -> bool:
        message = str(getattr(error, "orig", error))  # "no such table: ix", or with its schema: "main.ix"
        return message.startswith("no such table: ") and message.partition(": ")[2].rpartition(".")[2] == index_name

    def explain_error(self, error: BaseException, url: URL) -> Optional[Exception]:
        from . import reliability

        return reliability.explain_error(error, url)

    def run_ddl_atomically(self, connection: Connection, statements: Sequence[Executable]) -> None:
        # pysqlite begins a transaction before DML only: a CREATE VIRTUAL TABLE ahead of the fill would be
        # committed on its own.  A savepoint is a real transaction, begun before the first statement.
        with connection.begin_nested():
            for statement in statements:
                connection.execute(statement)

    def transaction_open(self, driver_connection: Any) -> bool:
        # sqlite3 (and sqlean, and aiosqlite's proxy of it) says so; autocommit=False (3.12) is always in one.
        return bool(getattr(driver_connection, "in_transaction", False)) and getattr(
            driver_connection, "autocommit", None
        ) is not False

    # -- full-text search (FullTextIndex, hybrid search) -----------------------------------

    fulltext_languages = ("english", "simple")

    def fulltext_create_statements(self, index: Any, dialect: Dialect) -> Any:
        from . import fulltext

        return fulltext.create_statements(index, dialect)

    def fulltext_drop_statements(
        self, name: str, table_name: str, schema: Any, dialect: Dialect, if_exists: bool = False
    ) -> Any:
        from . import fulltext

        return fulltext.drop_statements(name, dialect, if_exists, schema)

    def list_fulltext_indexes(self, connection: Any, schema: Any) -> Any:
        from . import fulltext

        return fulltext.list_indexes(connection, schema)

    def fulltext_name_holder(
        self, connection: Connection, name: str, table_name: str, schema: Optional[str]
    ) -> Optional[NameHolder]:
        from . import fulltext

        return fulltext.name_holder(connection, name, schema)

    def fulltext_hidden_tables(self, connection: Any, schema: Optional[str] = None) -> Any:
        from . import fulltext

        return fulltext.hidden_tables(connection, schema)

    def refresh_fulltext_index(self, connection: Any, index: Any, key: str, scan: bool = True) -> bool:
        from . import fulltext

        return fulltext.refresh(connection, index)  # FTS5 follows writes: only an index of an earlier version

    def fulltext_arm(self, index: Any, key: Any, query: str, match_all: bool, dialect: Dialect) -> Any:
        from . import fulltext

        return fulltext.arm(index, key, query, match_all, dialect)

    def explain_fulltext_error(self, statement: str, error: BaseException) -> Optional[Exception]:
        from . import fulltext

        return fulltext.explain_missing_index(statement, error)


register(SQLiteBackend())
