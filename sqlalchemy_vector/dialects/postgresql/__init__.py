"""PostgreSQL with the pgvector extension.

Vectors are stored as ``vector(dim)``.  Parameters travel in pgvector's
binary format with psycopg 3 (a dumper for a private wrapper class) and asyncpg
(pgvector-python's codecs), in the text form with psycopg2 and pg8000; results
come back through ``vector_send`` on every driver (see ``codecs``).  Distances compile to pgvector's operators, the only shape its HNSW and
IVFFlat indexes recognise in ``ORDER BY ... LIMIT``.
"""

from __future__ import annotations

import functools
import re
import struct
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from sqlalchemy import cast, distinct, func, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.schema import Column, Index, Table
from sqlalchemy.sql import operators
from sqlalchemy.sql.compiler import Compiled, DDLCompiler, IdentifierPreparer, SQLCompiler
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.types import UserDefinedType

from ...exc import MissingExtensionError
from ...functions import VectorDistance
from ...types import read_only
from ..base import (
    Backend,
    Capabilities,
    NameHolder,
    Processor,
    engine_state,
    on_each_connection,
    qualified_name,
    register,
    set_engine_state,
    vector_to_text,
)
from . import bulk as _bulk
from . import codecs as _codecs
from . import filters as _filters
from . import index as _index
from . import kinds as _kinds
from . import migration as _migration
from . import reflection as _reflection
from . import search as _search
from . import storage as _storage  # noqa: F401  (registers the column DDL rule)

if TYPE_CHECKING:
    from alembic.operations import MigrateOperation, Operations

    from ...bulk import BulkLoad
    from ...filters import JSONValue, OneOf
    from ...index import CreateVectorIndex, DropVectorIndex, VectorIndex

_OPERATORS = {
    "cosine": "<=>",
    "l2": "<->",
    "max_inner_product": "<#>",
    "l1": "<+>",
}


class PGVECTOR(UserDefinedType[Any]):
    """pgvector's ``vector(dim)`` as seen by the PostgreSQL dialect."""

    cache_ok = True

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def get_col_spec(self, **kw: Any) -> str:
        return f"VECTOR({self.dim})"

    # Parameters are cast so that a binary parameter of unspecified type is
    # read by vector_recv, and so every driver gets a typed value.
    def bind_expression(self, bindvalue: Any) -> Any:
        return cast(bindvalue, self)

    # Select the binary form; the result processor also accepts text, for
    # rows that come back without this wrapper (e.g. textual SQL).
    def column_expression(self, colexpr: Any) -> Any:
        if isinstance(colexpr, UnaryExpression) and colexpr.operator is operators.distinct_op:
            # select(distinct(col)): DISTINCT stays outside, where PostgreSQL reads it (not vector_send(DISTINCT col)).
            return distinct(func.vector_send(colexpr.element, type_=self))
        return func.vector_send(colexpr, type_=self)

    def bind_processor(self, dialect: Dialect) -> Optional[Processor]:
        state = engine_state(dialect)
        if state is not None and state.get("binary"):

            def process_binary(value: Any) -> Any:
                return None if value is None else _BinaryVector(value)

            return process_binary

        if _codecs.uses_asyncpg_codecs(dialect):
            return None  # the float32 array itself: pgvector-python's codec writes the binary form

        def process_text(value: Any) -> Any:
            return None if value is None else vector_to_text(value)

        return process_text

    def literal_processor(self, dialect: Dialect) -> Processor:
        def process(value: Any) -> str:
            return f"'{vector_to_text(value)}'"

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Processor:
        vector_result = _codecs.vector_result

        # Read-only, as Vector.process_result_value makes them: the column expression above has this
        # storage type, so the Vector's own result hook does not run for selected columns.
        def process(value: Any) -> Any:
            return None if value is None else read_only(vector_result(value))

        return process


class _BinaryVector:
    """A float32 array on its way to psycopg's binary vector dumper."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array


_HEADER = struct.Struct(">HH")


@functools.lru_cache(maxsize=None)
def _psycopg_dumper() -> type:
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    class BinaryVectorDumper(Dumper):
        """pgvector's binary input format; oid 0 lets the server take the type from the CAST."""

        format = Format.BINARY
        oid = 0

        def dump(self, obj: _BinaryVector) -> bytes:
            array = obj.array
            return _HEADER.pack(array.shape[0], 0) + array.astype(">f4").tobytes()

    return BinaryVectorDumper


class PostgreSQLBackend(Backend):
    """PostgreSQL with pgvector, and every dialect derived from PostgreSQL's."""

    name = "postgresql"
    capabilities = Capabilities(
        install_extra="postgresql",
        driver_packages={
            "psycopg": ("psycopg", "postgresql"),
            "pgvector": ("pgvector", "postgresql"),  # asyncpg's codecs for vectors
            # Drivers no extra installs: postgresql+asyncpg://, postgresql+psycopg2://, postgresql+pg8000://.
            "asyncpg": ("asyncpg", ""),
            "psycopg2": ("psycopg2-binary", ""),
            "pg8000": ("pg8000", ""),
        },
        url_form="postgresql+psycopg://USER@HOST/DB",
        sync_drivername="postgresql+psycopg",
        fulltext_search=True,
        storage_provider="pgvector's vector type",
        max_dimension=16000,
        max_index_dimension=2000,
        approximate_index=True,
        async_drivers=("psycopg_async", "asyncpg"),
        index_metrics=_index.INDEX_METRICS,
        index_provider="pgvector",
        index_options_reported=True,
        index_rebuilt_aside=True,
        index_option_ranges=_index.OPTION_RANGES,
        index_option_defaults=_index.OPTION_DEFAULTS,
        ef_construction_per_m=2,
        index_by_create_index=True,
        vector_kinds=_kinds.VECTOR_KINDS,
        missing_kinds=_kinds.MISSING_KINDS,
        kind_max_dimension=_kinds.MAX_DIMENSIONS,
        max_sparse_elements=_kinds.MAX_SPARSE_ELEMENTS,
        indexed_kinds=("half", "bit", "sparse"),
        kind_index_methods=_index.KIND_METHODS,
        kind_max_index_dimension=_index.KIND_MAX_DIMENSION,
        index_quantizations=("half", "binary"),
    )

    def dialect_classes(self) -> tuple[type | str, ...]:
        from sqlalchemy.dialects.postgresql.base import PGDialect

        return (PGDialect,)

    def compile_distance(self, element: VectorDistance, compiler: SQLCompiler, **kw: Any) -> str:
        left = compiler.process(element.left, **kw)
        right = compiler.process(element.right, **kw)
        if element.metric == "inner_product":
            return f"(({left} <#> {right}) * -1)"
        return f"({left} {_OPERATORS[element.metric]} {right})"

    def storage_type(self, dim: int) -> PGVECTOR:
        return PGVECTOR(dim)

    def prepare(self, engine: Engine, **options: Any) -> None:
        # With psycopg 3, each connection learns to send _BinaryVector in binary;
        # the dumper is registered per connection, for that private class only.
        # asyncpg connections get pgvector-python's binary codecs once the
        # extension (and so the type) exists.
        binary = engine.dialect.driver == "psycopg"
        asyncpg_codecs = engine.dialect.driver == "asyncpg"
        set_engine_state(engine.dialect, pgvector=None, binary=binary, **{_codecs.ASYNCPG_CODECS: asyncpg_codecs})
        schema: Optional[str] = None  # the extension's, once the first connection found (or created) it
        checked: Any = None  # the pool whose first connection did: engine.dispose() makes a new one

        def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
            nonlocal schema, checked
            if binary:
                driver_connection = getattr(dbapi_connection, "driver_connection", dbapi_connection)
                driver_connection.adapters.register_dumper(_BinaryVector, _psycopg_dumper())
            if schema is None or checked is not engine.pool:
                # Looked up again after a dispose(): the database may have been dropped and made again since
                # (a test fixture's), without the extension.
                checked = engine.pool
                version, schema = _ensure_pgvector(dbapi_connection, engine.url.database)
                set_engine_state(engine.dialect, pgvector=version, pgvector_schema=schema, pgvector_database=engine.url.database)
            if asyncpg_codecs:
                _codecs.register_asyncpg(dbapi_connection, schema)

        on_each_connection(engine, on_connect)

    # -- top-k search -----------------------------------------------------------

    def search_settings(self, connection: Any, *, ef_search: Any, iterative_scan: Any, probes: Any) -> Any:
        return _search.settings(connection, ef_search=ef_search, iterative_scan=iterative_scan, probes=probes)

    def default_iterative_scan(self, connection: Any, filtered: bool) -> Any:
        return _search.default_iterative_scan(connection, filtered)

    # -- vector indexes ------------------------------------------------------------------

    def index_attached(self, index: "VectorIndex", column: Column[Any]) -> None:
        _index.attach(index, column)

    def compile_create_index(self, element: "CreateVectorIndex", compiler: DDLCompiler, **kw: Any) -> str:
        return _index.compile_create(element, compiler, **kw)

    def compile_drop_index(self, element: "DropVectorIndex", compiler: DDLCompiler, **kw: Any) -> str:
        return _index.compile_drop(element, compiler, **kw)

    def list_indexes(self, connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
        return _index.list_indexes(connection, schema)

    def drop_index(
        self,
        connection: Connection,
        name: str,
        schema: Optional[str],
        if_exists: bool = False,
        *,
        table_name: Optional[str] = None,
    ) -> None:
        # An index an interrupted build left INVALID is not listed, yet is dropped when named.
        holder = _index.name_holder(connection, name, schema)
        if holder is not None and holder.kind == _index.INVALID_INDEX:
            self._drop_index(connection, name, schema, True, table_name)
            return
        super().drop_index(connection, name, schema, if_exists, table_name=table_name)

    def index_name_holder(
        self, connection: Connection, name: str, table_name: str, schema: Optional[str]
    ) -> Optional[NameHolder]:
        return _index.name_holder(connection, name, schema)

    def rename_index_statements(
        self, preparer: IdentifierPreparer, name: str, new_name: str, schema: Optional[str]
    ) -> List[Executable]:
        return [text(f"ALTER INDEX {qualified_name(preparer, name, schema)} RENAME TO {preparer.quote(new_name)}")]

    def vector_columns(self, connection: Connection, table_name: str, schema: Optional[str]) -> Dict[str, int]:
        return _index.vector_columns(connection, table_name, schema)

    # -- migrations of vector indexes and columns ------------------------------------------

    def migration_keeps_vector_indexes(self, operation: "MigrateOperation") -> bool:
        return True  # ALTER TABLE keeps the indexes on other columns

    def kind_change_refusal(self, table_name: str, column_name: str, kind: str, existing_kind: str, dim: int) -> Optional[str]:
        return _migration.kind_change_refusal(table_name, column_name, kind, existing_kind, dim)

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

    def vector_extension_statements(self, create: bool) -> Tuple[str, ...]:
        return _migration.CREATE_EXTENSION if create else _migration.DROP_EXTENSION

    def database_has_vectors(self, connection: Connection) -> bool:
        return _migration.database_has_vectors(connection)

    def extension_installed_apart(self, connection: Connection) -> bool:
        return _migration.extension_installed_apart(connection)

    # -- bulk loading ----------------------------------------------------------------

    def bulk_write(self, connection: Connection, load: BulkLoad) -> bool:
        return _bulk.write(connection, load)

    # -- metadata filters ------------------------------------------------------------

    def json_key_path(self, key: str, dialect: Dialect) -> str:
        return key  # ->, ->> take the key itself

    def compile_json_value(self, element: JSONValue, compiler: SQLCompiler, **kw: Any) -> str:
        return _filters.compile_json_value(element, compiler, **kw)

    def compile_one_of(self, element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
        return _filters.compile_one_of(element, compiler, **kw)

    # -- column types of the ORM mixins ---------------------------------------------

    def json_type(self) -> TypeEngine[Any]:
        from sqlalchemy.dialects.postgresql import JSONB

        return JSONB()

    # -- reflection and migrations ---------------------------------------------------

    def reflected_type_names(self) -> Mapping[str, Callable[..., TypeEngine[Any]]]:
        return _reflection.type_names()

    def storage_dim(self, type_: TypeEngine[Any]) -> Optional[int]:
        return type_.dim if isinstance(type_, PGVECTOR) else None

    def reflected_vector_index(self, index: Index) -> bool:
        return _reflection.is_vector_index(index)

    # -- compact vector kinds and quantized indexes -------------------------------------

    def kind_storage_type(self, kind: str, dim: int) -> TypeEngine[Any]:
        # A derived backend (CockroachDB, YugabyteDB) lists pgvector's kinds its database lacks as missing.
        found = None if kind in self.capabilities.missing_kinds else _kinds.storage_type(kind, dim)
        return found if found is not None else super().kind_storage_type(kind, dim)

    def compile_kind_distance(self, element: Any, compiler: SQLCompiler, **kw: Any) -> str:
        return _kinds.compile_distance(element, compiler, **kw)

    def compile_quantized_distance(self, element: Any, compiler: SQLCompiler, **kw: Any) -> str:
        return _kinds.compile_quantized_distance(element, compiler, **kw)

    # -- limits and reliability ------------------------------------------------------

    # -- Citus ---------------------------------------------------------------------

    def distribute_statements(self, documents: Column[Any], embeddings: Optional[Column[Any]]) -> List[Any]:
        from .citus import distribution_statements

        return distribution_statements(documents, embeddings)

    def ensure_distribution_support(self, connection: Connection) -> None:
        from .citus import require_citus

        require_citus(connection)

    def explain_write_error(
        self, error: BaseException, compiled: Compiled, parameters: Sequence[Mapping[str, Any]]
    ) -> Optional[Exception]:
        off_path = _explain_off_search_path(error, compiled.dialect)
        return off_path if off_path is not None else _index.explain_sparse_limit(error, compiled, parameters)

    def is_concurrent_ddl_error(self, error: BaseException) -> bool:
        from . import reliability

        return reliability.is_concurrent_ddl_error(error)

    def lock_writers(self, connection: Connection, table: Table) -> None:
        from . import reliability

        reliability.lock_writers(connection, table)

    def prepare_migrations(self) -> None:
        from . import citus  # noqa: F401  - registers op.create_distributed_table / op.undistribute_table (Citus)

    # -- full-text search (FullTextIndex, hybrid search) -----------------------------------

    def database_fulltext_languages(self, connection: Connection) -> Optional[List[str]]:
        from . import fulltext

        return fulltext.text_search_configurations(connection)

    def fulltext_create_statements(self, index: Any, dialect: Dialect) -> Any:
        from . import fulltext

        return fulltext.create_statements(index, dialect)

    def fulltext_drop_statements(
        self, name: str, table_name: str, schema: Any, dialect: Dialect, if_exists: bool = False
    ) -> Any:
        from . import fulltext

        return fulltext.drop_statements(name, schema, dialect, if_exists)

    def list_fulltext_indexes(self, connection: Any, schema: Any) -> Any:
        from . import fulltext

        return fulltext.list_indexes(connection, schema)

    def reflected_fulltext_index(self, index: Any) -> bool:
        return any("to_tsvector(" in str(expression) for expression in getattr(index, "expressions", ()))

    def fulltext_arm(self, index: Any, key: Any, query: str, match_all: bool, dialect: Dialect) -> Any:
        from . import fulltext

        return fulltext.arm(index, key, query, match_all, dialect)


# The extension's version and schema.  pgvector's type, operators and functions are named unqualified in
# every statement, so they resolve through the search_path: a schema it leaves out is named when a statement
# fails for it (an application's own connect listener may still set the path, after this one ran).
_PGVECTOR = (
    "SELECT e.extversion, n.nspname FROM pg_extension e "
    "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'"
)
#: What PostgreSQL says when pgvector's type, an operator on it or a function of it is not on the search_path.
_NOT_FOUND = re.compile(
    r'type "(?:vector|halfvec|sparsevec)" does not exist'
    # Both operands pgvector's: with another type on one side (vector <=> double precision) the operator is
    # missing for that type, wherever pgvector is.
    r"|operator does not exist: \S*\b(?:vector|halfvec|sparsevec|bit) (?:<=>|<->|<#>|<\+>|<~>|<%>) "
    r"\S*\b(?:vector|halfvec|sparsevec|bit)\b"
    r"|function \w+\([^)]*\b(?:vector|halfvec|sparsevec)\b[^)]*\) does not exist"
)


def _ensure_pgvector(dbapi_connection: Any, database: Optional[str]) -> Tuple[str, str]:
    """pgvector's version and schema in ``database``, the extension created if it is missing."""
    # Connections opening a new database at once all run CREATE EXTENSION; the
    # losers fail with a unique violation (or wait, then see it exists).  Any
    # failure is met by looking again: only an extension still missing after a
    # second attempt is reported as unavailable.
    failure: Optional[Exception] = None
    for attempt in range(2):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(_PGVECTOR)
            row = cursor.fetchone()
            if row is None:
                # In public, where every session finds it: left to itself, CREATE EXTENSION takes the first schema
                # of this connection's search_path, which may be one tenant's (the others then miss it, and that
                # tenant's DROP SCHEMA ... CASCADE drops the extension with every vector column of the database).
                # Where public is missing or closed to this role, the second attempt leaves the choice to PostgreSQL.
                cursor.execute("CREATE EXTENSION IF NOT EXISTS vector" + (" SCHEMA public" if attempt == 0 else ""))
                cursor.execute(_PGVECTOR)
                row = cursor.fetchone()
            dbapi_connection.commit()
            if row is not None:
                return str(row[0]), str(row[1])
        except Exception as err:
            dbapi_connection.rollback()
            failure = err
        finally:
            cursor.close()
    reason = " ".join(str(failure).split()) if failure is not None else "not listed in pg_extension"
    raise MissingExtensionError(
        f"the pgvector extension is not available in database {database!r} ({reason}); "
        "install pgvector on the server, or have a superuser run CREATE EXTENSION vector in this database"
    ) from failure


def _explain_off_search_path(error: BaseException, dialect: Dialect) -> Optional[Exception]:
    """The error naming pgvector's schema, for a statement that found no type, operator or function of it."""
    if _NOT_FOUND.search(str(getattr(error, "orig", None) or error)) is None:
        return None
    state = engine_state(dialect) or {}
    schema, database = state.get("pgvector_schema"), state.get("pgvector_database")
    if schema is None:
        return None
    quoted = '"' + schema.replace('"', '""') + '"'
    return MissingExtensionError(
        f"pgvector's type vector or an operator of it was not found: the extension is installed in schema "
        f"{schema!r} of database {database!r}, which the search_path this statement ran with leaves "
        f"out; add the schema to the search_path: ALTER ROLE <role> SET search_path = \"$user\", public, {quoted} "
        f"(or ALTER DATABASE), or in the URL ?options=-csearch_path%3D%22%24user%22,public,{schema}"
    )


register(PostgreSQLBackend())
