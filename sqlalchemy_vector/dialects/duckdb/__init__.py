"""DuckDB through duckdb-sqlalchemy or duckdb_engine (both register the ``duckdb`` dialect name).

Vectors are stored as ``FLOAT[dim]`` fixed-size arrays.  Parameters are sent
as text and cast with ``CAST(? AS FLOAT[dim])``: DuckDB 1.5 binds a Python
list as ``DOUBLE[]`` and takes about 30 ms to convert a 384-element one, the
text form well under 1 ms.  Distances compile to DuckDB's ``array_*``
function names (operators changed meaning between releases), the shape its
HNSW index (vss extension) recognises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

import numpy as np
from sqlalchemy import JSON, Table, cast
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.compiler import DDLCompiler, SQLCompiler
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.types import UserDefinedType

from ...functions import VectorDistance
from ..base import (
    Backend,
    Capabilities,
    NameHolder,
    Processor,
    on_each_connection,
    register,
    set_engine_state,
    vector_to_text,
)
from . import bulk as _bulk
from . import filters as _filters
from . import fulltext as _fulltext
from . import index as _index
from . import kinds as _kinds
from . import migration as _migration
from . import reflection as _reflection
from . import search as _search
from . import storage as _storage
from . import extensions as _extensions
from .dialects import fixed_array_dim
from .extensions import wheel_path as vss_extension_path

if TYPE_CHECKING:
    from alembic.operations import MigrateOperation, Operations

    from ...bulk import BulkLoad
    from ...filters import JSONValue
    from ...index import CreateVectorIndex, DropVectorIndex, VectorIndex

__all__ = ["FLOAT_ARRAY", "vss_extension_path"]

_FUNCTIONS = {
    "cosine": "array_cosine_distance",
    "l2": "array_distance",
    "inner_product": "array_inner_product",
    "max_inner_product": "array_negative_inner_product",
}


class FLOAT_ARRAY(UserDefinedType[Any]):
    """DuckDB's ``FLOAT[dim]``."""

    cache_ok = True

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def get_col_spec(self, **kw: Any) -> str:
        return f"FLOAT[{self.dim}]"

    def bind_expression(self, bindvalue: Any) -> Any:
        return cast(bindvalue, self)

    def bind_processor(self, dialect: Dialect) -> Processor:
        def process(value: Any) -> Any:
            return None if value is None else vector_to_text(value)

        return process

    def literal_processor(self, dialect: Dialect) -> Processor:
        def process(value: Any) -> str:
            return f"'{vector_to_text(value)}'"

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Processor:
        def process(value: Any) -> Any:
            return None if value is None else np.array(value, dtype=np.float32)

        return process


class DuckDBBackend(Backend):
    """DuckDB through duckdb_engine or duckdb-sqlalchemy (both register the ``duckdb`` name)."""

    name = "duckdb"
    capabilities = Capabilities(
        install_extra="duckdb",
        dialect_module="duckdb_sqlalchemy",
        driver_packages={
            "duckdb_sqlalchemy": ("duckdb-sqlalchemy", "duckdb"),
            "duckdb": ("duckdb", "duckdb"),
            "pytz": ("pytz", "duckdb"),
            "duckdb_engine": ("duckdb-engine", ""),  # the other dialect of the name: never both installed
        },
        url_form="duckdb:///FILE",
        file_database=True,
        join_reads_by_key_up_to=50,
        late_columns_up_to=50,
        index_serves_joined_reads=False,
        fulltext_search=True,
        storage_provider="DuckDB's FLOAT[n] arrays",
        max_dimension=100000,
        index_metrics=_index.INDEX_METRICS,
        index_option_ranges={"m": (2, None)},  # vss 1.5 refuses M below 2 ("must be at least 2"); no upper bound
        index_provider="DuckDB's vss extension",
        approximate_index=True,
        # duckdb-extension-vss 1.5.5: rows inserted after deletes could leave most live rows unreachable (recall@10
        # 0.01-0.15 in 8 of 16 runs of bench/duckdb_index_churn.py --one-at-a-time); a fresh build gave 0.98-1.00.
        index_after_deletes=(
            "DuckDB's vss can lose live rows from its HNSW graph when rows are inserted after deletes, and its "
            "answers then stay k rows long, so no exact search completes them"
        ),
        foreign_keys=False,
        # vss 1.5 crashed the process building or dropping an HNSW index while other connections queried.
        index_changes_exclusive=True,
        vector_kinds=_kinds.VECTOR_KINDS,
        missing_kinds=_kinds.MISSING_KINDS,
        missing_quantization=_kinds.MISSING_QUANTIZATION,
    )

    def compile_distance(self, element: VectorDistance, compiler: SQLCompiler, **kw: Any) -> str:
        left = compiler.process(element.left, **kw)
        right = compiler.process(element.right, **kw)
        if element.metric == "l1":
            # No array L1 function in DuckDB 1.5: sum |x - y| over the zipped elements.
            return (
                f"list_sum(list_transform(list_zip(CAST({left} AS FLOAT[]), CAST({right} AS FLOAT[])), "
                "lambda pair: abs(pair[1] - pair[2])))"
            )
        return f"{_FUNCTIONS[element.metric]}({left}, {right})"

    # -- compact vector kinds ------------------------------------------------------------

    def kind_storage_type(self, kind: str, dim: int) -> TypeEngine[Any]:
        found = _kinds.storage_type(kind, dim)
        return found if found is not None else super().kind_storage_type(kind, dim)

    def compile_kind_distance(self, element: Any, compiler: SQLCompiler, **kw: Any) -> str:
        return _kinds.compile_distance(element, compiler, **kw)

    def database_file(self, url: URL) -> Optional[str]:
        database = url.database
        return database if database and database != ":memory:" else None

    def storage_type(self, dim: int) -> FLOAT_ARRAY:
        return FLOAT_ARRAY(dim)

    def prepare(self, engine: Engine, **options: Any) -> None:
        # vss: the offline wheel when it matches this DuckDB, else an installed vss (see extensions.py).
        wheel = vss_extension_path()
        set_engine_state(engine.dialect, vss=str(wheel) if wheel else None)
        # Full-text search: the fts extension, from its wheel, offline (as vss), when it matches.
        fts = _fulltext.fts_extension_path()

        def load_vss(dbapi_connection: Any, connection_record: Any) -> None:
            _extensions.load(dbapi_connection, wheel, connection_record.info)
            cursor = dbapi_connection.cursor()
            try:
                # DuckDB 1.5 draws a progress bar on stdout for any statement past 2 s, even
                # when stdout is a pipe: it would corrupt the output of a program (or a
                # `sqlalchemy-vector ... --json`) on a large table.
                cursor.execute("SET enable_progress_bar = false")
                # Vectors stored without ALPRD, which every scan of them must decode (storage.py).
                _storage.store_floats_plain(cursor)
                if fts is not None:
                    try:
                        cursor.execute(f"LOAD '{_fulltext_path_literal(fts)}'")
                    except Exception as error:
                        if not _extensions.refused_by_settings(error):
                            raise
            finally:
                cursor.close()

        on_each_connection(engine, load_vss)
        from . import reliability

        reliability.watch_writers(engine)  # lock_writers: the lock is let go once the transaction has ended
        reliability.retry_connects_during_close(engine)

    # -- top-k search -----------------------------------------------------------

    def search_settings(self, connection: Any, *, ef_search: Any, iterative_scan: Any, probes: Any) -> Any:
        return _search.settings(connection, ef_search=ef_search, iterative_scan=iterative_scan, probes=probes)

    # -- vector indexes ------------------------------------------------------------------

    def ensure_index_support(self, connection: Connection, index_name: str) -> None:
        _extensions.ensure_loaded(connection, index_name)

    def compile_create_index(self, element: "CreateVectorIndex", compiler: DDLCompiler, **kw: Any) -> str:
        return _index.compile_create(element, compiler, **kw)

    def compile_drop_index(self, element: "DropVectorIndex", compiler: DDLCompiler, **kw: Any) -> str:
        return _index.compile_drop(element, compiler, **kw)

    def index_refusal(self, connection: Connection, index: "VectorIndex") -> Optional[str]:
        return _index.persistence_refusal(connection, index)

    def create_index(self, connection: Connection, index: "VectorIndex", if_not_exists: bool = False) -> None:
        self.ensure_index_support(connection, index.index_name)
        _index.allow_persistence(connection, index)
        for statement in self.create_index_statements(index, if_not_exists=if_not_exists):
            connection.execute(statement)

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

    def reflected_index_kwargs(self, found: Mapping[str, Any]) -> Dict[str, Any]:
        # The index existed in this database, persisted: building it again needs the same opt-in.
        return {"duckdb_experimental_persistence": True}

    def after_migration_index_drop(self, connection: Connection) -> None:
        _migration.commit_index_drop(connection)

    def offline_index_create_statements(self, index: "VectorIndex", statements: List[Any]) -> List[Any]:
        return _migration.offline_create_statements(index, statements)

    def offline_after_index_drop_statements(self) -> List[str]:
        return list(_migration.OFFLINE_AFTER_INDEX_DROP)

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
        return _filters.key_path(key)

    def compile_json_value(self, element: JSONValue, compiler: SQLCompiler, **kw: Any) -> str:
        return _filters.compile_json_value(element, compiler, **kw)

    # -- column types of the ORM mixins ---------------------------------------------

    def json_type(self) -> TypeEngine[Any]:
        return JSON()

    # -- reflection and migrations ---------------------------------------------------

    def reflected_type_names(self) -> Mapping[str, Callable[..., TypeEngine[Any]]]:
        return _reflection.type_names()

    def hidden_schemas(self, connection: Connection) -> Set[str]:
        return _reflection.fulltext_schemas(connection)

    def enable_reflection(self, dialect: Dialect) -> None:
        # The default schema's tables alone, not those of a FullTextIndex's fts_main_<table> schema.
        _reflection.scope_to_default_schema(dialect)

    def storage_dim(self, type_: TypeEngine[Any]) -> Optional[int]:
        if isinstance(type_, FLOAT_ARRAY):
            return type_.dim
        return fixed_array_dim(type_)  # FLOAT[n] as duckdb-sqlalchemy reflects it

    def prepare_migrations(self) -> None:
        from . import migrations  # noqa: F401  - defines (and so registers) Alembic's implementation for "duckdb"

    # -- full-text search (FullTextIndex, hybrid search) -----------------------------------

    fulltext_languages = tuple(_fulltext.STEMMERS)
    one_fulltext_index_per_table = True  # the fts extension keeps its index in a schema named after the table

    def fulltext_table_refusal(self, table_name: str, schema: Optional[str]) -> Optional[str]:
        return _fulltext.table_refusal(table_name, schema)

    def fulltext_create_statements(self, index: Any, dialect: Dialect) -> Any:
        return _fulltext.create_statements(index, dialect)

    def fulltext_drop_statements(
        self, name: str, table_name: str, schema: Any, dialect: Dialect, if_exists: bool = False
    ) -> Any:
        return _fulltext.drop_statements(table_name, schema, if_exists)

    def offline_fulltext_statements(self, statements: List[Any]) -> List[Any]:
        return _migration.offline_fulltext_statements(statements)

    def list_fulltext_indexes(self, connection: Any, schema: Any) -> Any:
        return _fulltext.list_indexes(connection, schema)

    def fulltext_name_holder(
        self, connection: Connection, name: str, table_name: str, schema: Optional[str]
    ) -> Optional[NameHolder]:
        return None  # the fts extension's index is named after its table (one per table), not by this name

    def refresh_fulltext_index(self, connection: Any, index: Any, key: str, scan: bool = True) -> bool:
        _fulltext.ensure_loaded(connection)
        return _fulltext.refresh(connection, index, key, scan)

    def note_fulltext_write(self, connection: Any, table_name: str, schema: Any) -> None:
        _fulltext.note_write(connection, table_name, schema)

    def fulltext_arm(self, index: Any, key: Any, query: str, match_all: bool, dialect: Dialect) -> Any:
        return _fulltext.arm(index, key, query, match_all, dialect)

    def explain_fulltext_error(self, statement: str, error: BaseException) -> Optional[Exception]:
        return _fulltext.explain_missing_index(statement, error)

    # -- limits and reliability ------------------------------------------------------

    def is_concurrent_ddl_error(self, error: BaseException) -> bool:
        from . import reliability

        return reliability.is_concurrent_ddl_error(error)

    def interrupted(self, error: BaseException) -> bool:
        # DuckDB's Python client stops a statement on Ctrl-C with InterruptException, and a commit with a plain
        # RuntimeError('Query interrupted') (DuckDB 1.5.5), which SQLAlchemy passes on as it is.
        found = getattr(error, "orig", None) or error
        return type(found).__name__ == "InterruptException" or (
            type(found) is RuntimeError and str(found) == "Query interrupted"
        )

    def explain_error(self, error: BaseException, url: URL) -> Optional[Exception]:
        from . import reliability

        return reliability.explain_error(error, url)

    def transaction_open(self, driver_connection: Any) -> bool:
        from . import reliability

        return reliability.transaction_open(driver_connection)

    def lock_writers(self, connection: Connection, table: Table) -> None:
        from . import reliability

        reliability.lock_writers(connection, table)

    # -- existing tables: reflection and autogenerate comparison ----------------------

    def same_reflected_type(self, reflected: TypeEngine[Any], declared: TypeEngine[Any], dialect: Dialect) -> bool:
        from .reflection import same_type

        return same_type(reflected, declared, dialect)

    def reflected_column_type(self, connection: Connection, table: Any, column: Mapping[str, Any]) -> Optional[TypeEngine[Any]]:
        from .reflection import column_type

        return column_type(connection, table, column)

    def reflected_kind(
        self, connection: Connection, table_name: str, column_name: str, schema: Optional[str], type_: TypeEngine[Any]
    ) -> Optional[Tuple[str, int]]:
        return _reflection.bit_kind(connection, table_name, column_name, schema, type_)



def _fulltext_path_literal(path: Any) -> str:
    return str(path).replace("'", "''")


register(DuckDBBackend())
