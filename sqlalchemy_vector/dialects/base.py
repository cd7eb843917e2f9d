"""The interface every backend implements, and the registry that finds one for a dialect.

A backend is everything sqlalchemy_vector knows about one database: how a
vector is stored, how each distance renders, how JSON metadata is read, how a
vector index is built, listed and searched, how rows are bulk-loaded, how an
engine is prepared, and what reflection and migrations must work around.
Generic modules never test a dialect's name: they call
:func:`backend_for` and ask the backend, through its methods and its
:class:`Capabilities`.

Backends are found through the dialect's class hierarchy: a dialect class that
subclasses a supported one (a PostgreSQL-derived engine, a user's own
subclass) gets that backend unless a more specific one is registered.

Installed packages can provide backends too, through the entry point group
``sqlalchemy_vector.backends`` (as third-party dialects reach SQLAlchemy
through ``sqlalchemy.dialects``); they are loaded at the first lookup.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import secrets
import sys
import threading
import types
import warnings
import weakref
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ClassVar,
    ContextManager,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Pattern,
    Sequence,
    Set,
    Tuple,
    Type,
    Union,
)

import numpy as np
import numpy.typing as npt
import orjson
from sqlalchemy import BigInteger, MetaData
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.schema import Column, Table
from sqlalchemy.sql.compiler import DDLCompiler, IdentifierPreparer, SQLCompiler
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.type_api import TypeEngine

from ..exc import (
    BackendPluginWarning,
    InvalidFilterError,
    MissingDependencyError,
    UnsupportedDialectError,
    VectorIndexError,
)

if TYPE_CHECKING:
    from alembic.operations import MigrateOperation, Operations
    from sqlalchemy.sql import Select
    from sqlalchemy.schema import Index

    from ..bulk import BulkLoad
    from ..filters import CaseSensitiveLike, FilterNumber, JSONValue, OneOf
    from ..functions import VectorDistance
    from ..index import CreateVectorIndex, DropVectorIndex, VectorIndex
    from ..fulltext import FullTextSpec
    from ..kinds import KindDistance, QuantizedDistance
    from ..search import TopK
    from sqlalchemy.sql import ColumnElement
    from sqlalchemy.sql.compiler import Compiled

__all__ = [
    "Backend",
    "Capabilities",
    "NameHolder",
    "backend_for",
    "find_backend",
    "register",
    "supported_dialects",
    "dialect_class",
    "import_driver",
    "installed",
    "missing_dependency",
    "missing_package",
    "engine_state",
    "on_each_connection",
    "vector_to_text",
]


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, as data that generic code reads instead of testing names.

    ``index_metrics`` maps each index method (``hnsw``, ``ivfflat``, ``vec0``)
    to the ascending metrics an index of that method serves.
    """

    #: Index methods the backend builds, each with the metrics it serves.
    index_metrics: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)
    #: Whether an index search may miss rows an exact search finds (HNSW, IVFFlat).
    approximate_index: bool = False
    #: Why the index's answers cannot be trusted after its table's rows are deleted and others inserted (an
    #: index that loses live rows from its graph), or None.  The facade warns once, when it deletes vectors.
    index_after_deletes: Optional[str] = None
    #: Whether filters are applied inside the index search (so a filtered top-k still returns k rows).
    filtered_top_k_in_index: bool = False
    #: Whether the index is a separate table that a top-k reads with its own statement (sqlite-vec's vec0).
    index_is_table: bool = False
    #: Largest ``k`` the index search accepts, if bounded.
    index_max_k: Optional[int] = None
    #: SQLAlchemy driver names with an asyncio interface (without one, ``AsyncVectorRAG`` runs the
    #: synchronous driver in a worker thread).
    async_drivers: Tuple[str, ...] = ()
    #: Whether DDL runs inside a transaction and rolls back with it.
    transactional_ddl: bool = True
    #: Whether foreign keys are enforced in a way the facade's schema can use.
    foreign_keys: bool = True
    #: Whether most ALTER TABLE changes need the table copied (Alembic's batch mode).
    alter_by_table_copy: bool = False

    # -- vector indexes and their migrations ----------------------------------------
    #: Who builds the indexes, as error messages name it (``pgvector``, ``DuckDB's vss extension``).
    index_provider: str = ""
    #: The one method built whatever method a VectorIndex declares (sqlite-vec's exact ``vec0``), if any.
    index_method_override: Optional[str] = None
    #: Whether the catalog reports an index's build options (``m``, ``lists``), so they can be compared.
    index_options_reported: bool = False
    #: The range (lowest, highest) the backend accepts for each build option it bounds, checked when an
    #: index is built (a highest of None: no upper bound); an option not listed takes any positive integer.
    index_option_ranges: Mapping[str, Tuple[int, Optional[int]]] = field(default_factory=dict)
    #: The value the backend builds with for a build option the index leaves out.
    index_option_defaults: Mapping[str, int] = field(default_factory=dict)
    #: HNSW's ``ef_construction`` must be at least this many times ``m`` (pgvector: 2); 0 for no such rule.
    ef_construction_per_m: int = 0
    #: Most rows of a top-k subquery for which joining it to another table reads only those rows of the
    #: other table.  ``None``: any number (a nested loop over its primary key: SQLite, PostgreSQL).
    #: DuckDB's hash join pushes up to 50 keys into the scan as a filter (its ``dynamic_or_filter_threshold``)
    #: and reads the whole table above that; ClickHouse's always reads it (0).  Above the limit the rows
    #: are read by key with a second statement.
    join_reads_by_key_up_to: Optional[int] = None
    #: Up to how many rows a top-k reads the other columns of its table for the rows it returns only
    #: (late materialization), so that a ranking can carry them at little cost: DuckDB's
    #: ``late_materialization_max_rows`` (50), ClickHouse's ``query_plan_max_limit_for_lazy_materialization``
    #: (10,000).  0 where a sort carries them for every row it compares (SQLite's sorter, PostgreSQL's
    #: exact top-N): there a ranking reads only keys and distances.
    late_columns_up_to: int = 0
    #: Whether the vector index serves a top-k that reads its table joined to another (a joined-table
    #: subclass's, through the base table).  Where it does not (DuckDB's vss 1.5.5, ClickHouse 26.9 serve only
    #: the table read directly), such a top-k ranks on the table alone in a subquery and reads the rows by key.
    index_serves_joined_reads: bool = True
    #: Whether the backend has full-text indexes, and so hybrid search.
    fulltext_search: bool = False
    #: Whether ``create_all`` builds the index with SQLAlchemy's own ``CREATE INDEX`` and the dialect's options.
    index_by_create_index: bool = False
    #: Whether the index DDL declares the table's dimension and primary key, read from the database in migrations.
    index_ddl_needs_table: bool = False
    #: Whether :func:`~sqlalchemy_vector.rebuild_vector_index` builds the new index under a temporary name beside
    #: the old one, which serves searches meanwhile, and then gives it the old one's name (PostgreSQL: its build
    #: blocks writes only, where a drop first would block reads for the whole build).  Elsewhere the old index is
    #: dropped first (DuckDB and ClickHouse rename no index; a vec0 table is named with its triggers).
    index_rebuilt_aside: bool = False
    #: Whether the index DDL declares the column's dimension (ClickHouse's ``vector_similarity``, vec0): offline
    #: (``alembic upgrade --sql``) the migration must then give it, as autogenerate does.
    index_ddl_declares_dimension: bool = False

    # -- connecting ------------------------------------------------------------------
    #: The package extra that installs the backend's driver (``pip install 'sqlalchemy-vector[EXTRA]'``), if any.
    install_extra: str = ""
    #: What installs each Python module a URL of the backend may import (its dialect's, its drivers'), by the
    #: module's name: the distribution, and the extras of this package that declare it ("" where none does).
    #: A module not listed is named as it is imported.
    driver_packages: Mapping[str, Tuple[str, str]] = field(default_factory=dict)
    #: The module that provides the backend's SQLAlchemy dialect, where SQLAlchemy has none of its own.
    dialect_module: str = ""
    #: A URL of the backend as help and error messages show it (``postgresql+psycopg://USER@HOST/DB``).
    url_form: str = ""
    #: The driver name of a synchronous URL, for someone who gave an asyncio one (the backend's name if empty).
    sync_drivername: str = ""
    #: Whether the database is a file whose directory must exist before it is opened.
    file_database: bool = False

    # -- limits and reliability ------------------------------------------------------
    #: Who stores the vectors, as error messages name it (``pgvector's vector type``).
    storage_provider: str = "this database"
    #: Most dimensions a vector column can declare, if bounded.
    max_dimension: Optional[int] = None
    #: Most dimensions a vector index can cover, if fewer than a column can hold.
    max_index_dimension: Optional[int] = None
    # -- transactions and NULL vectors (backends without them: ClickHouse) ------------
    #: Whether several statements commit or roll back together; False: each statement stands alone.
    transactions: bool = True
    #: Whether a vector column can hold NULL.
    null_vectors: bool = True
    #: Whether DELETE ... RETURNING reports the deleted rows (else they are counted before deleting).
    delete_returning: bool = True
    #: Whether the database refuses a row whose primary key is stored already; where it does not, the
    #: facade looks up the document ids it is given before writing them.
    unique_keys: bool = True
    #: Whether building or dropping a vector index must not overlap other statements on the database (the
    #: process can crash): the facades of one process then hold their other calls back while one changes an index.
    index_changes_exclusive: bool = False

    # -- compact vector kinds and quantized indexes ----------------------------------
    #: Compact kinds stored natively (``half``, ``int8``, ``bit``, ``sparse``), each with the distances it has.
    vector_kinds: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)
    #: Why each other kind is refused: no native form that reads back identically.
    missing_kinds: Mapping[str, str] = field(default_factory=dict)
    #: Most dimensions a column of a compact kind can declare, where bounded (``max_dimension`` is a ``Vector``'s).
    kind_max_dimension: Mapping[str, int] = field(default_factory=dict)
    #: Most non-zero elements a sparse vector can hold, where bounded.
    max_sparse_elements: Optional[int] = None
    #: Compact kinds a :class:`~sqlalchemy_vector.VectorIndex` can index directly.
    indexed_kinds: Tuple[str, ...] = ()
    #: The index methods that index a compact kind, where fewer than all of ``index_metrics``'s.
    kind_index_methods: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)
    #: Most dimensions an index covers for a compact kind (a quantized index: the kind it stores), where bounded;
    #: ``max_index_dimension`` is a ``Vector``'s.
    kind_max_index_dimension: Mapping[str, int] = field(default_factory=dict)
    #: Quantizations a :class:`~sqlalchemy_vector.VectorIndex` can build over a full-precision column.
    index_quantizations: Tuple[str, ...] = ()
    #: Why there is no quantized index, where there is none.
    missing_quantization: str = ""
    #: Quantizations whose index needs the column's dimension to be a multiple of a number (packed bits),
    #: with that number.
    quantization_dimension_multiple: Mapping[str, int] = field(default_factory=dict)

    def join_reads_by_key(self, rows: int) -> bool:
        """Whether joining a top-k subquery of ``rows`` rows to another table reads that table by key."""
        return self.join_reads_by_key_up_to is None or rows <= self.join_reads_by_key_up_to

    def reads_columns_late(self, rows: int) -> bool:
        """Whether a top-k of ``rows`` rows reads its table's other columns for those rows only."""
        return rows <= self.late_columns_up_to


class NameHolder(NamedTuple):
    """What holds, in a database's catalog, the name an index is to take.

    ``kind`` is what the database calls it (``table``, ``view``, ``index``,
    ``sequence``, ``trigger``, ...), ``name`` its name as stored (which may differ
    in case where the database compares names without it), and ``table`` the
    table it belongs to (an index's, a trigger's), else None.
    """

    kind: str
    name: str
    table: Optional[str] = None


class Backend:
    """Vector support for one family of SQLAlchemy dialects.

    Subclasses set :attr:`name` (the dialect name they are registered under),
    :attr:`dialect_class` when it can be imported (so subclasses of that
    dialect find this backend), and :attr:`capabilities`.  Methods below have
    defaults only where a default is right for every backend.
    """

    #: The dialect name this backend registers (``engine.dialect.name``).
    name: ClassVar[str]
    #: What the backend can do.
    capabilities: ClassVar[Capabilities] = Capabilities()

    def dialect_classes(self) -> Tuple[Union[type, str], ...]:
        """Dialect classes this backend serves, with their subclasses.

        Each is a class, or the path ``"module:Class"`` of one in a package
        that need not be imported to register the backend (a third-party
        dialect): an engine of that dialect imports it, and is then found by it.
        """
        return ()

    # -- storage -----------------------------------------------------------------

    def storage_type(self, dim: int) -> TypeEngine[Any]:
        """The dialect-level type that stores a ``dim``-dimensional vector."""
        raise NotImplementedError

    # -- distance SQL ------------------------------------------------------------

    def compile_distance(self, element: "VectorDistance", compiler: SQLCompiler, **kw: Any) -> str:
        """SQL for one distance function call; ascending forms must be what the index matches."""
        raise NotImplementedError

    # -- engines -----------------------------------------------------------------

    def engine_kwargs(self, url: URL, kwargs: Dict[str, Any], **options: Any) -> Dict[str, Any]:
        """Adjust ``create_engine`` keyword arguments before the engine exists.

        ``options`` holds ``sqlite_vec`` and ``asynchronous`` (true for
        ``create_async_engine``).
        """
        return kwargs

    def prepare(self, engine: Engine, **options: Any) -> None:
        """Install connection hooks on ``engine`` (called once per engine)."""

    def database_file(self, url: URL) -> Optional[str]:
        """The file an embedded database lives in, or None (a server, or in memory)."""
        return None

    # -- top-k search and query-time settings -----------------------------------

    def top_k_select(self, request: "TopK") -> "Select[Any]":
        """The top-k statement: ``ORDER BY distance LIMIT k``, the shape HNSW/IVFFlat indexes serve."""
        return request.ordered_select()

    def search_settings(
        self, connection: Connection, *, ef_search: Optional[int], iterative_scan: Optional[str], probes: Optional[int]
    ) -> ContextManager[None]:
        """Apply index search settings for a block (validated by the caller); nothing to tune by default."""
        return nothing_to_set()

    def default_iterative_scan(self, connection: Connection, filtered: bool) -> Optional[str]:
        """The iterative-scan mode a filtered top-k turns on when the caller chose none."""
        return None

    # -- vector indexes --------------------------------------------------------------

    def index_attached(self, index: "VectorIndex", column: Column[Any]) -> None:
        """Set this backend's options on ``index`` as it joins its table (called for every backend)."""

    def ensure_index_support(self, connection: Connection, index_name: str) -> None:
        """Raise :class:`~sqlalchemy_vector.exc.MissingExtensionError` unless ``connection`` can build indexes."""

    def compile_create_index(self, element: "CreateVectorIndex", compiler: DDLCompiler, **kw: Any) -> str:
        """The DDL that builds one vector index (method and metric already checked against the capabilities)."""
        raise NotImplementedError

    def compile_drop_index(self, element: "DropVectorIndex", compiler: DDLCompiler, **kw: Any) -> str:
        """The DDL that drops a vector index by name."""
        raise NotImplementedError

    def create_index_statements(self, index: "VectorIndex", if_not_exists: bool = False) -> List[Executable]:
        """Every statement that builds ``index``, in order (also what an offline migration prints)."""
        from ..index import CreateVectorIndex

        return [CreateVectorIndex(index, if_not_exists=if_not_exists)]

    def reported_index_options(self, options: Mapping[str, Any]) -> Dict[str, Any]:
        """The build options the catalog reports for an index declared with ``options``.

        Where the catalog cannot tell an option at its default from one not
        given (ClickHouse), those are left out, so declared and built compare equal.
        """
        return dict(options)

    def drop_index_statements(
        self, name: str, schema: Optional[str], if_exists: bool = False, *, table_name: Optional[str] = None
    ) -> List[Executable]:
        """Every statement that drops the vector index ``name`` (of table ``table_name``, where known), in order."""
        from ..index import DropVectorIndex

        return [DropVectorIndex(name, schema=schema, if_exists=if_exists, table_name=table_name)]

    def check_index(self, index: "VectorIndex") -> None:
        """Raise :class:`~sqlalchemy_vector.exc.VectorIndexError` for what this backend's index DDL cannot take in
        ``index`` beyond the capability data (SQLite: a column name vec0 cannot hold), before any DDL runs."""

    def index_refusal(self, connection: Connection, index: "VectorIndex") -> Optional[str]:
        """Why the database of ``connection`` would refuse to build ``index``, which the backend builds elsewhere
        (a setting of that database), or None; asked by autogenerate before it writes the migration."""
        return None

    def create_index(self, connection: Connection, index: "VectorIndex", if_not_exists: bool = False) -> None:
        """Build ``index`` in the database of ``connection``."""
        self.ensure_index_support(connection, index.index_name)
        for statement in self.create_index_statements(index, if_not_exists=if_not_exists):
            connection.execute(statement)

    def rebuild_index(self, connection: Connection, index: "VectorIndex") -> None:
        """Replace the vector index of ``index``'s name on its table by ``index`` built over the rows stored now.

        With ``Capabilities.index_rebuilt_aside``, ``index`` is built under a
        temporary name first, then the old one is dropped and the new one
        renamed (:meth:`rename_index_statements`); otherwise the old one is
        dropped first.  Either way in the connection's transaction, where the
        backend has one.
        """
        from ..index import VectorIndex

        table = index.bound_table
        if not self.capabilities.index_rebuilt_aside:
            self.drop_index(connection, index.index_name, table.schema, if_exists=True, table_name=table.name)
            self.create_index(connection, index)
            return
        suffix = f"_rebuilt_{secrets.token_hex(4)}"
        # Within the 63 bytes PostgreSQL keeps of a name, whatever the name's characters.
        kept = index.index_name.encode()[: 63 - len(suffix)].decode(errors="ignore")
        aside_name = kept + suffix
        # Declared on a copy of the table: the table of the declaration gains no index.
        copy = table.to_metadata(MetaData())
        aside = VectorIndex(
            aside_name,
            copy.c[index.vector_column.name],
            metric=index.metric,
            method=index.method,
            duckdb_experimental_persistence=index.duckdb_experimental_persistence,
            quantization=index.quantization,
            **index.options,
        )
        self.create_index(connection, aside)
        self.drop_index(connection, index.index_name, table.schema, if_exists=True, table_name=table.name)
        preparer = connection.dialect.identifier_preparer
        for statement in self.rename_index_statements(preparer, aside_name, index.index_name, table.schema):
            connection.execute(statement)

    def rename_index_statements(
        self, preparer: IdentifierPreparer, name: str, new_name: str, schema: Optional[str]
    ) -> List[Executable]:
        """The statements that rename the vector index ``name`` of ``schema`` to ``new_name``
        (backends with ``Capabilities.index_rebuilt_aside``)."""
        raise NotImplementedError(f"the {self.name} backend renames no vector index")

    def drop_index(
        self,
        connection: Connection,
        name: str,
        schema: Optional[str],
        if_exists: bool = False,
        *,
        table_name: Optional[str] = None,
    ) -> None:
        """Drop the vector index ``name`` from the database of ``connection``.

        A name that is not one of :meth:`list_indexes` is refused before
        anything runs (the database's own error would differ per backend, and
        could drop an index that is not a vector index); with ``if_exists``
        nothing is dropped then, not even an index of another kind holding the
        name.  ``table_name``, where known, is the indexed table: where index
        names are per table (ClickHouse), the index of that table is dropped.
        """
        existing = sorted(found["name"] for found in self.list_indexes(connection, schema))
        if name not in existing:
            if if_exists:
                return
            raise VectorIndexError(
                f"no vector index named {name!r} in "
                + (f"schema {schema!r}" if schema is not None else "this database's default schema")
                + f"; existing ones: {', '.join(existing) or 'none'} (drop_vector_index(..., if_exists=True) "
                "accepts a missing one)"
            )
        self._drop_index(connection, name, schema, if_exists, table_name)

    def _drop_index(
        self, connection: Connection, name: str, schema: Optional[str], if_exists: bool, table_name: Optional[str]
    ) -> None:
        """Run the statements that drop ``name``, once it is known to be a vector index (or one to drop anyway)."""
        for statement in self.drop_index_statements(name, schema, if_exists=if_exists, table_name=table_name):
            connection.execute(statement)

    def list_indexes(self, connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
        """The vector indexes of ``schema`` read from the catalog, as :func:`~sqlalchemy_vector.list_vector_indexes` reports them."""
        raise NotImplementedError

    def index_name_holder(
        self, connection: Connection, name: str, table_name: str, schema: Optional[str]
    ) -> Optional[NameHolder]:
        """What the database holds already under the name a new vector index ``name`` of ``table_name`` would take.

        Asked before any DDL, so that a name taken by a table, or by an index
        of another table, is refused naming both instead of failing in the
        database.  Where names collide is the backend's: with tables and every
        index of the schema (PostgreSQL), with the schema's indexes only
        (DuckDB), with the table's own indexes only (ClickHouse).  Everything a
        build creates under names of its own counts (SQLite's ``vec0`` shadow
        tables and triggers), except what the build replaces.  None where the
        name is free, and by default (nothing is asked: the database decides).
        """
        return None

    def vector_columns(self, connection: Connection, table_name: str, schema: Optional[str]) -> Dict[str, int]:
        """The vector columns of a table as the catalog declares them, with their dimensions."""
        raise NotImplementedError

    # -- migrations of vector indexes and columns ----------------------------------------

    def migration_keeps_vector_indexes(self, operation: "MigrateOperation") -> bool:
        """Whether an Alembic operation on a table leaves the vector indexes on its other columns working."""
        raise NotImplementedError

    def migration_keeps_fulltext_indexes(self, operation: "MigrateOperation") -> bool:
        """Whether an Alembic operation on a table leaves its full-text indexes working.

        False where the operation copies the table and so loses what keeps the
        index in step with it (SQLite's FTS5 sync triggers): autogenerate then
        drops the index before and builds it again after.  True by default.
        """
        return True

    def reflected_index_kwargs(self, found: Mapping[str, Any]) -> Dict[str, Any]:
        """Declaration keywords that build again an index the catalog reports (an opt-in it evidently had)."""
        return {}

    def after_migration_index_drop(self, connection: Connection) -> None:
        """Make an index dropped in a migration gone for the migration's next statements."""

    def offline_index_create_statements(self, index: "VectorIndex", statements: List[Executable]) -> List[Executable]:
        """What an offline migration (``alembic upgrade --sql``) prints to build ``index``, given its ``statements``.

        Online, :meth:`create_index` may change a setting first (DuckDB's HNSW
        persistence); offline the script must carry that statement itself.
        By default the statements as they are.
        """
        return statements

    def offline_after_index_drop_statements(self) -> List[str]:
        """SQL an offline migration prints after dropping a vector index.

        What :meth:`after_migration_index_drop` does online (DuckDB: commit,
        so that the next ``ALTER TABLE`` no longer sees the index).  Printed
        only where the migration runs in a transaction; nothing by default.
        """
        return []

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
        """Change a vector column's dimension in a migration, setting its vectors to NULL.

        ``kind`` is the column's compact kind (``half``, ``int8``, ``bit``,
        ``sparse``), None for a ``Vector`` column.
        """
        raise NotImplementedError

    def dimension_change_refusal(self, table_name: str, column_name: str, dim: int, existing_dim: int) -> Optional[str]:
        """Why a vector column cannot change from ``existing_dim`` to ``dim`` dimensions here, or None if it can.

        A dimension change resets the column's vectors to NULL, so by default
        it is refused where :attr:`Capabilities.null_vectors` is False.
        Autogenerate raises :class:`UnsupportedDialectError` with this reason
        instead of rendering the change, and ``op.alter_vector_dimension``
        raises it before running any statement.
        """
        if self.capabilities.null_vectors:
            return None
        return (
            f"{table_name}.{column_name}: changing a vector column from {existing_dim} to {dim} dimensions resets its "
            f"vectors to NULL, and {self.capabilities.storage_provider} stores no NULL vector; add a new column of "
            f"{dim} dimensions, fill it with new embeddings, then drop the old one"
        )

    def kind_change_refusal(self, table_name: str, column_name: str, kind: str, existing_kind: str, dim: int) -> Optional[str]:
        """Why the ``ALTER COLUMN ... TYPE`` that autogenerate writes cannot turn a column of ``existing_kind`` into
        ``kind`` (``"float32"`` for a ``Vector``, else a compact kind), or None if it can; autogenerate raises
        :class:`~sqlalchemy_vector.exc.SchemaMismatchError` with it instead of writing a migration that fails."""
        return None

    def vector_extension_statements(self, create: bool) -> Tuple[str, ...]:
        """SQL that creates (or drops) the server extension vector columns need; empty where there is none."""
        return ()

    def database_has_vectors(self, connection: Connection) -> bool:
        """Whether a table of the database already has a vector column (so its extension is in use)."""
        raise NotImplementedError

    def extension_installed_apart(self, connection: Connection) -> bool:
        """Whether the vector extension is installed where the migrations' create would not put it.

        (pgvector in a schema of its own, an administrator's.)  Autogenerate
        then neither creates nor, in the downgrade, drops it.  False by default.
        """
        return False

    # -- bulk loading ------------------------------------------------------------

    def bulk_write(self, connection: Connection, load: "BulkLoad") -> bool:
        """Write a validated load through the backend's bulk path; ``False`` leaves it to ``insert(table)``."""
        return False

    # -- metadata filters --------------------------------------------------------

    def json_key_path(self, key: str, dialect: Dialect) -> str:
        """A top-level metadata key in the bound form this backend's JSON functions take."""
        raise NotImplementedError(f"{type(self).__name__} does not implement metadata filters (json_key_path)")

    def json_nested_path(self, keys: Tuple[str, ...], dialect: Dialect) -> str:
        """A key inside nested objects (``keys``: the top-level key first) in the bound form of ``json_key_path``.

        Used by a ``compile_json_value`` that renders ``JSONValue.json_key``; one that renders the path from
        ``JSONValue.json_keys`` (a parameter per key) never calls it.  The path must reach object members only,
        never array elements.
        """
        raise InvalidFilterError(
            f"metadata filters on {dialect.name} read top-level keys only, got the key {' > '.join(map(repr, keys))} "
            "inside nested objects; filter on a top-level key, or write the condition as a SQLAlchemy expression"
        )

    def compile_json_value(self, element: "JSONValue", compiler: SQLCompiler, **kw: Any) -> str:
        """SQL reading one key as one JSON kind; NULL when the key is missing or holds another type."""
        raise NotImplementedError(f"{type(self).__name__} does not implement metadata filters (compile_json_value)")

    def compile_one_of(self, element: "OneOf", compiler: SQLCompiler, **kw: Any) -> str:
        """SQL for a value in a list of filter values (``$in``, ``$nin``): an expanding ``IN``, one parameter per value.

        Backends that bind a whole list as one parameter (no limit on its length)
        override it with ``element.array`` (an array) or ``element.json_array``
        (JSON array text).
        """
        return compiler.process(element.listed, **kw)

    def compile_filter_number(self, element: "FilterNumber", compiler: SQLCompiler, **kw: Any) -> str:
        """SQL for a number a filter compares with (``$eq``, ``$gt``, ...): the bound double, ``element.number``.

        A backend that reads stored JSON numbers with an inexact conversion
        overrides it to read ``element.json_number`` (the number's JSON text)
        through the same conversion, so that a number equals its stored self.
        """
        return compiler.process(element.number, **kw)

    def compile_case_sensitive_like(self, element: "CaseSensitiveLike", compiler: SQLCompiler, **kw: Any) -> str:
        """SQL for a case-sensitive match of a pattern bound through :meth:`like_pattern`.

        The SQL standard's ``LIKE ... ESCAPE '\\'``, case-sensitive on PostgreSQL
        and DuckDB; backends whose LIKE differs override it.
        """
        return f"({compiler.process(element.value, **kw)} LIKE {compiler.process(element.pattern, **kw)} ESCAPE '\\')"

    def like_pattern(self, pattern: str) -> str:
        """A LIKE pattern (``%``, ``_``, backslash escapes) as :meth:`compile_case_sensitive_like`'s SQL takes it."""
        return pattern

    # -- column types of the ORM mixins ----------------------------------------------

    def json_type(self) -> TypeEngine[Any]:
        """The column type that stores a JSON metadata document."""
        raise NotImplementedError(f"{type(self).__name__} does not define a JSON metadata type (json_type)")

    def integer_id_type(self) -> TypeEngine[int]:
        """The column type of a database-generated integer primary key."""
        return BigInteger()

    # -- reflection and migrations -------------------------------------------------

    def reflected_type_names(self) -> Mapping[str, Callable[..., TypeEngine[Any]]]:
        """``ischema_names`` entries that make reflection see vector columns (see :func:`reflected_vector`)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement vector reflection (reflected_type_names)")

    def enable_reflection(self, dialect: Dialect) -> None:
        """Per-engine set-up that makes ``dialect`` (one engine's instance) reflect vector columns.

        For what ``reflected_type_names`` and the ``column_reflect`` listener
        cannot reach (an inspector that fires no event); nothing by default.
        """

    def storage_dim(self, type_: TypeEngine[Any]) -> Optional[int]:
        """The dimension when ``type_`` is this backend's vector storage type, else ``None``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement storage_dim")

    def reflected_vector_index(self, index: "Index") -> bool:
        """Whether a reflected index is a vector index, which the Alembic plugin compares instead of Alembic."""
        return False

    def hidden_tables(self, connection: Connection, schema: Optional[str] = None) -> Set[str]:
        """Tables of ``schema`` (None: the default one) that are part of vector indexes, hidden from schema
        comparison and migrations."""
        return set()

    def hidden_schemas(self, connection: Connection) -> Set[str]:
        """Schemas that hold indexes (not application tables), hidden from Alembic's ``include_schemas``."""
        return set()

    def prepare_migrations(self) -> None:
        """Make Alembic able to migrate this backend (run once, when the Alembic integration is imported)."""

    def migration_options(self, connection: Connection) -> Dict[str, Any]:
        """Options for Alembic's ``context.configure`` that migrating over ``connection`` needs, after preparing it.

        (SQLite: a migration in one transaction, which its driver would not
        begin before DDL.)  None by default.
        """
        return {}

    def revision_directives_hook(self) -> Optional[Callable[[Any, Any, List[Any]], None]]:
        """An Alembic ``process_revision_directives`` hook migrations autogenerated on this backend need, or None.

        For what the dialect's own Alembic support expects ``env.py`` to
        install (clickhouse-connect's imports of the types it renders);
        :func:`sqlalchemy_vector.alembic.context_options` installs it, before
        the user's own hook.  None by default.
        """
        return None

    # -- compact vector kinds and quantized indexes -------------------------------------

    def kind_storage_type(self, kind: str, dim: int) -> TypeEngine[Any]:
        """The dialect-level type storing a compact ``kind`` (see :mod:`sqlalchemy_vector.kinds`)."""
        from ..exc import UnsupportedKindError

        reason = self.capabilities.missing_kinds.get(kind, "no native form")
        raise UnsupportedKindError(f"{self.name} cannot store {kind} vectors: {reason}")

    def compile_kind_distance(self, element: "KindDistance", compiler: SQLCompiler, **kw: Any) -> str:
        """SQL for a distance between two compact vectors (metric checked against the capabilities)."""
        raise NotImplementedError(f"{type(self).__name__} has no compact vector distances")

    def compile_quantized_distance(self, element: "QuantizedDistance", compiler: SQLCompiler, **kw: Any) -> str:
        """SQL for the distance a quantized index serves, between a full column and a query vector."""
        raise NotImplementedError(f"{type(self).__name__} has no quantized indexes")

    # -- existing tables: reflection and autogenerate comparison ----------------------

    def same_reflected_type(self, reflected: TypeEngine[Any], declared: TypeEngine[Any], dialect: Dialect) -> bool:
        """Whether a reflected column type is the declared one as far as the database can tell.

        For type names the database reports alike (DuckDB's ``TEXT`` and
        ``JSON`` both reflect as ``VARCHAR``): Alembic must not see a change.
        """
        return False

    def reflected_column_type(self, connection: Connection, table: Any, column: Mapping[str, Any]) -> Optional[TypeEngine[Any]]:
        """The vector type of a reflected column the dialect could not name (DuckDB's ``FLOAT[n]``), else ``None``."""
        return None

    def reflected_kind(
        self, connection: Connection, table_name: str, column_name: str, schema: Optional[str], type_: TypeEngine[Any]
    ) -> Optional[Tuple[str, int]]:
        """The compact kind and dimension of a reflected column the catalog does not name as one, else ``None``.

        Autogenerate asks it for a column it drops (or of a table it drops),
        so that the downgrade re-creates it as the library's type
        (``BitVector(n)``) rather than as the dialect's (DuckDB's ``BIT``,
        whose length the catalog keeps nowhere).  ``None`` by default.
        """
        return None

    # -- limits and reliability ------------------------------------------------------

    def explain_error(self, error: BaseException, url: URL) -> Optional[Exception]:
        """A clear error for a driver error the user can act on (a locked database file), or ``None``."""
        return None

    def index_table_missing(self, error: BaseException, index_name: str) -> bool:
        """Whether a top-k statement failed because the index it reads as a table of its own (SQLite's vec0) is not
        in the database; the search is then made exactly.  False where a statement never names its index."""
        return False

    def interrupted(self, error: BaseException) -> bool:
        """Whether ``error`` is the driver's report of Ctrl-C (a driver that takes the signal itself, to stop
        its statement, raises its own error where Python would raise ``KeyboardInterrupt``)."""
        return False

    def transaction_open(self, driver_connection: Any) -> bool:
        """Whether the driver's connection, not begun by the caller, is inside a transaction already.

        Asked where the engine's pool shares one connection among its callers
        (an in-memory database's), before the facade begins its own: open,
        it is the application's.  False where the driver cannot tell without
        a statement; :meth:`explain_error` then names the driver's refusal.
        """
        return False

    def explain_write_error(
        self, error: BaseException, compiled: "Compiled", parameters: Sequence[Mapping[str, Any]]
    ) -> Optional[Exception]:
        """What to raise in place of the driver's ``error`` when a statement broke a limit of the database whose
        message names no column (pgvector's non-zero elements of a sparse vector in an HNSW index), or found no
        type of the extension where the library knows why (pgvector's schema left off the search_path); None for
        any other error.

        ``compiled.statement`` is what was executed (an ``Insert``, an
        ``Update``, a ``CreateIndex``), ``parameters`` its parameter sets as
        given (before the types' bind processing), keyed by ``compiled.binds``'
        names.  Asked on engines this library prepared, for statements that
        failed, with the transaction already failed: no catalog can be read here.
        """
        return None

    def is_concurrent_ddl_error(self, error: BaseException) -> bool:
        """Whether ``error`` is another connection's DDL racing ours (``already exists``, a catalog conflict)."""
        return False

    def begin_write(self, connection: Connection) -> None:
        """Take the database's write lock as a write transaction begins, where a later statement could not wait for it.

        Called by the facade's writes before their first statement (SQLite's
        ``BEGIN IMMEDIATE``); nothing by default.
        """

    def lock_writers(self, connection: Connection, table: Table) -> None:
        """Make writers of ``table`` that take this lock wait for each other until this transaction ends.

        A writer that looks at what is stored and then writes what depends on
        it (the CLI's ingest replacing a file's passages) takes it first in its
        transaction, before any statement (a snapshot taken earlier would not
        see the previous holder's writes), so a concurrent one sees its result.
        Taking it again in the same transaction does nothing.  Nothing by
        default: a database without transactions (ClickHouse) has nothing to
        hold it in.
        """

    # -- full-text search (FullTextIndex, hybrid search) -----------------------------------

    #: Languages a FullTextIndex may declare here (stemming rules); empty means any the database knows.
    fulltext_languages: ClassVar[Tuple[str, ...]] = ()

    #: Whether a table holds one full-text index at most (a second would replace the first), whatever its name.
    one_fulltext_index_per_table: ClassVar[bool] = False

    def fulltext_table_refusal(self, table_name: str, schema: Optional[str]) -> Optional[str]:
        """Why a full-text index cannot be built on this table (its name), or None where it can."""
        return None

    def database_fulltext_languages(self, connection: Connection) -> Optional[List[str]]:
        """The languages this database has, where they are the database's (``fulltext_languages`` is empty).

        Asked before an index is built, so an unknown one is refused naming
        these rather than failing in the DDL; None where there is nothing to ask.
        """
        return None

    def fulltext_create_statements(self, index: "FullTextSpec", dialect: Dialect) -> List[Executable]:
        """Every statement that builds the full-text index ``index`` (and fills it), in order."""
        raise NotImplementedError(f"{type(self).__name__} does not implement full-text indexes")

    def run_ddl_atomically(self, connection: Connection, statements: Sequence[Executable]) -> None:
        """Run ``statements`` (an index build) so that a failure midway leaves none of them applied.

        Within the caller's transaction where the backend's DDL is transactional;
        a backend whose driver commits DDL on its own wraps them.
        """
        for statement in statements:
            connection.execute(statement)

    def fulltext_drop_statements(
        self, name: str, table_name: str, schema: Optional[str], dialect: Dialect, if_exists: bool = False
    ) -> List[Executable]:
        """Every statement that drops the full-text index ``name`` of ``table_name``, in order."""
        raise NotImplementedError(f"{type(self).__name__} does not implement full-text indexes")

    def offline_fulltext_statements(self, statements: List[Executable]) -> List[Executable]:
        """What an offline migration (``alembic upgrade --sql``) prints to build or drop a full-text index.

        Online, the engine has loaded what the index needs (DuckDB's fts
        extension); offline the script must carry that itself.  By default
        the statements as they are.
        """
        return statements

    def list_fulltext_indexes(self, connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
        """Full-text indexes read from the catalog: dicts with ``name``, ``table``, ``column``, ``language``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement full-text indexes")

    def fulltext_name_holder(
        self, connection: Connection, name: str, table_name: str, schema: Optional[str]
    ) -> Optional[NameHolder]:
        """:meth:`index_name_holder` for a new full-text index ``name`` of ``table_name``.

        By default the same question; a backend whose full-text index takes
        other names (SQLite's FTS5 shadow tables and triggers) or none at all
        (DuckDB's, named after its table) answers it itself.
        """
        return self.index_name_holder(connection, name, table_name, schema)

    def refresh_fulltext_index(self, connection: Connection, index: "FullTextSpec", key: str, scan: bool = True) -> bool:
        """Bring an index that does not follow writes up to date; True if it was rebuilt.

        Without ``scan``, only the writes counted by :meth:`note_fulltext_write` make it stale.
        """
        return False

    def note_fulltext_write(self, connection: Connection, table_name: str, schema: Optional[str]) -> None:
        """Record, in the writing transaction, that rows of ``table_name`` changed (for indexes that do not follow writes)."""

    def reflected_fulltext_index(self, index: "Index") -> bool:
        """Whether a reflected index is a full-text index (compared by the Alembic plugin, not by Alembic)."""
        return False

    def fulltext_hidden_tables(self, connection: Connection, schema: Optional[str] = None) -> Set[str]:
        """Tables of ``schema`` (None: the default one) that make up full-text indexes, hidden from schema
        comparison and migrations."""
        return set()

    def explain_fulltext_error(self, statement: str, error: BaseException) -> Optional[Exception]:
        """What to raise in place of the driver's ``error`` when ``statement`` searched a full-text index that is
        not built (SQLite: no such table; DuckDB: no ``match_bm25``); None for any other error.

        Asked on engines this library prepared, for statements that failed.
        """
        return None

    def fulltext_arm(
        self, index: "FullTextSpec", key: "ColumnElement[Any]", query: str, match_all: bool, dialect: Dialect
    ) -> Tuple["Select[Any]", "ColumnElement[Any]"]:
        """A SELECT of rows of the index's table matching ``query``, and its relevance (larger is better).

        The statement selects nothing yet: the caller adds columns (``key``, the
        relevance), filters on the table and the limit.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement full-text search")

    # -- distributed tables (the facade's distributed=True) ------------------------------

    def distribute_statements(self, documents: "Column[Any]", embeddings: Optional["Column[Any]"]) -> List[Executable]:
        """Statements that shard the documents by their key and the embeddings by ``document_id``, co-located.

        ``documents`` is the documents' key column, ``embeddings`` the embeddings'
        ``document_id`` column (``None`` for one table).  Each statement must do
        nothing for a table already distributed.  Backends without such tables
        raise :class:`UnsupportedDialectError`.
        """
        raise UnsupportedDialectError(
            f"{self.name} has no distributed tables to create: distributed=True shards tables with Citus, "
            "a PostgreSQL extension; leave distributed out here"
        )

    def ensure_distribution_support(self, connection: Connection) -> None:
        """Raise :class:`~sqlalchemy_vector.exc.MissingExtensionError` unless ``connection`` can distribute tables."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


# -- registry ----------------------------------------------------------------------

_BY_NAME: Dict[str, Backend] = {}
_BY_CLASS: Dict[type, Backend] = {}
_BY_PATH: Dict[str, Backend] = {}  # "module:Class" of dialect classes not imported to register them

# Per-dialect-instance facts learned while preparing an engine, e.g. whether
# sqlite-vec was loaded.  Keyed weakly so disposed engines leave nothing behind.
_ENGINE_STATE: "weakref.WeakKeyDictionary[Dialect, Dict[str, Any]]" = weakref.WeakKeyDictionary()


def register(backend: Backend) -> Backend:
    """Make ``backend`` the one for its dialect name and dialect classes (and their subclasses).

    Called while an installed package's entry point loads (a module that
    registers its backend when imported), the backend is held back and checked
    with the entry point's others before any of them is registered.
    """
    pending: Optional[List[Backend]] = getattr(_loading, "pending", None)
    if pending is not None:
        pending.append(backend)
        return backend
    _register(backend, tuple(backend.dialect_classes()))
    return backend


def _register(backend: Backend, dialect_classes: Tuple[Union[type, str], ...]) -> None:
    _BY_NAME[backend.name] = backend
    for cls in dialect_classes:
        if isinstance(cls, str):
            _BY_PATH[cls] = backend
        else:
            _BY_CLASS[cls] = backend
    _lookup.cache_clear()


@functools.lru_cache(maxsize=None)
def _lookup(dialect_class: type) -> Optional[Backend]:
    # Most specific first: each class of the hierarchy, by identity, then by
    # the name it declares itself (duckdb_engine's dialect subclasses
    # PostgreSQL's but declares the name "duckdb").
    for cls in dialect_class.__mro__:
        found = _BY_CLASS.get(cls) or _BY_PATH.get(_class_path(cls))
        if found is not None:
            return found
        declared = cls.__dict__.get("name")
        if isinstance(declared, str) and declared in _BY_NAME:
            return _BY_NAME[declared]
    return None


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


#: The entry point group through which an installed package provides a backend: each entry names a
#: :class:`Backend` subclass, an instance, or a module that registers its backend when imported.
ENTRY_POINT_GROUP = "sqlalchemy_vector.backends"

# Re-entrant: a plug-in's module may look a backend up while it is imported.
_ENTRY_POINTS_LOCK = threading.RLock()
_entry_points_loaded = False
_entry_points_loading = False
# While an entry point loads, in the thread loading it: ``pending``, the backends its module registers,
# held back until they are checked.
_loading = threading.local()


def _load_entry_points() -> None:
    """Register the backends of the ``sqlalchemy_vector.backends`` entry points, once per process.

    Other threads wait until they are registered; a lookup made while they load
    (from a plug-in's own import) sees the backends registered so far.
    """
    global _entry_points_loaded, _entry_points_loading
    if _entry_points_loaded:
        return
    with _ENTRY_POINTS_LOCK:
        if _entry_points_loaded or _entry_points_loading:
            return
        _entry_points_loading = True
        try:
            for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                _load_entry_point(entry_point)
        finally:
            _entry_points_loaded, _entry_points_loading = True, False


class _LeftOut(Exception):
    """Why an entry point's backend cannot be registered."""


def _load_entry_point(entry_point: importlib.metadata.EntryPoint) -> None:
    """Register the backends of one entry point, all of them or, with a warning naming it, none."""
    where = f"the {ENTRY_POINT_GROUP} entry point {entry_point.name} = {entry_point.value!r}"
    pending: List[Backend] = []
    _loading.pending = pending
    try:
        try:
            loaded = entry_point.load()
            found = list(pending)
            if not isinstance(loaded, types.ModuleType):
                backend = loaded() if isinstance(loaded, type) and issubclass(loaded, Backend) else loaded
                if not isinstance(backend, Backend):
                    raise _LeftOut(
                        f"gives {loaded!r}, not a sqlalchemy_vector Backend (a subclass, an instance, or a module "
                        "that registers one)"
                    )
                if not any(type(other) is type(backend) for other in found):
                    found.append(backend)
            checked = _checked_plugin_backends(found)
        finally:
            _loading.pending = None
    except Exception as err:  # a broken plug-in must not take the other backends down
        reason = str(err) if isinstance(err, _LeftOut) else f"failed to load ({type(err).__name__}: {err})"
        warnings.warn(f"{where} {reason}; it is left out", BackendPluginWarning, stacklevel=user_stacklevel())
        return
    for backend, dialect_classes in checked:
        _register(backend, dialect_classes)


def _checked_plugin_backends(
    found: List[Backend],
) -> List[Tuple[Backend, Tuple[Union[type, str], ...]]]:
    """The backends an entry point gives, each with its dialect classes, if none takes what another has.

    A plug-in adds backends: it may not take a registered backend's name, nor a
    dialect class another backend serves by that class, its ``"module:Class"``
    path or its declared name, nor another class of that dialect's package
    (SQLAlchemy's own ``pysqlite`` beside the ``SQLiteDialect`` SQLite's
    backend registers).  Its own dialect may derive from a supported one: the
    lookup then finds it as the more specific backend.  The same backend
    registered again (its module imported by another entry point) is skipped.
    """
    checked: List[Tuple[Backend, Tuple[Union[type, str], ...]]] = []
    names: Dict[str, Backend] = {}
    claimed: Set[str] = set()
    for backend in found:
        name = getattr(backend, "name", None)
        if not isinstance(name, str) or not name:
            raise _LeftOut(f"gives a backend whose name is {name!r}, not the dialect name it serves")
        present = _BY_NAME.get(name) or names.get(name)
        if present is not None:
            if type(present) is type(backend):
                continue
            raise _LeftOut(
                f"gives a backend named {name!r}, which {type(present).__module__} registered already "
                "(give the plug-in's backend a name of its own)"
            )
        dialect_classes = tuple(backend.dialect_classes())
        for cls in dialect_classes:
            if not isinstance(cls, (str, type)):
                raise _LeftOut(f"gives the backend {name!r} the dialect class {cls!r}, not a class or 'module:Class'")
            path = cls if isinstance(cls, str) else _class_path(cls)
            owner = None if path in claimed else _served_by(cls)
            if path in claimed or owner is not None:
                taken_by = f"the {owner.name!r} backend" if owner is not None else "another of its backends"
                raise _LeftOut(
                    f"gives the backend {name!r} the dialect class {path}, which {taken_by} serves already "
                    "(a plug-in serves a dialect of its own, which may derive from that one)"
                )
            claimed.add(path)
        names[name] = backend
        checked.append((backend, dialect_classes))
    return checked


def _served_by(cls: Union[type, str]) -> Optional[Backend]:
    """The registered backend that owns the dialect class ``cls`` (or its ``"module:Class"`` path), if any.

    It owns the classes it registered, by class, path or declared name, and the
    other classes of their package; a class of another package that derives
    from one of them is a dialect of its own.
    """
    if isinstance(cls, str):
        module_name, _, qualname = cls.partition(":")
        imported: Any = sys.modules.get(module_name)  # not imported to find out: a class is looked at if it is
        for part in qualname.split(".") if imported is not None else ():
            imported = getattr(imported, part, None)
        if isinstance(imported, type):
            return _served_by(imported)
        anchors: List[Tuple[str, Backend]] = [(path, owner) for path, owner in _BY_PATH.items()]
        anchors += [(_class_path(registered), owner) for registered, owner in _BY_CLASS.items()]
        for path, owner in anchors:
            if path == cls or _same_package(module_name, path.partition(":")[0]):
                return owner
        return None
    for ancestor in cls.__mro__:
        found: Optional[Backend] = _BY_CLASS.get(ancestor) or _BY_PATH.get(_class_path(ancestor))
        declared = ancestor.__dict__.get("name")
        if found is None and isinstance(declared, str):
            found = _BY_NAME.get(declared)
        if found is not None:
            return found if ancestor is cls or _same_package(cls.__module__, ancestor.__module__) else None
    return None


def _same_package(module: str, registered_module: str) -> bool:
    """Whether ``module`` is in the package of ``registered_module`` (the module itself if it is top-level)."""
    package = registered_module.rpartition(".")[0] or registered_module
    return module == package or module.startswith(package + ".")


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning its caller issues point at the user's code.

    Frames of this library, of SQLAlchemy (whose events run the engine set-up)
    and of the import machinery are passed over.
    """
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_globals.get("__name__", "").partition(".")[0] in _PASSED_OVER:
        frame = frame.f_back
        level += 1
    return level


_PASSED_OVER = frozenset(
    # contextlib: `with engine.begin():` opens the first connection from its __enter__.
    {"sqlalchemy_vector", "sqlalchemy", "importlib", "_frozen_importlib", "_frozen_importlib_external", "contextlib"}
)


def find_backend(dialect: Union[Dialect, Type[Dialect], str]) -> Optional[Backend]:
    """The backend for a dialect (instance, class or name), or ``None``."""
    if not _entry_points_loaded:
        # Before the first lookup: a plug-in's backend for a dialect derived from a supported one is
        # more specific than the parent's, which the lookup would find otherwise.
        _load_entry_points()
    return _registered(dialect)


def _registered(dialect: Union[Dialect, Type[Dialect], str]) -> Optional[Backend]:
    if isinstance(dialect, str):
        return _BY_NAME.get(dialect)
    dialect_class: type = dialect if isinstance(dialect, type) else type(dialect)
    return _lookup(dialect_class)


def only_printing(dialect: Dialect) -> bool:
    """Whether ``dialect`` is the one ``str(statement)`` and ``print(statement)`` compile with: no database.

    Types render there as their generic form instead of asking for a backend.
    """
    from sqlalchemy.engine.default import StrCompileDialect

    return isinstance(dialect, StrCompileDialect)


def backend_for(dialect: Union[Dialect, Type[Dialect], str], *, feature: str = "vector support") -> Backend:
    """The backend for a dialect (instance, class or name), or :class:`UnsupportedDialectError`."""
    found = find_backend(dialect)
    if found is None:
        name = dialect if isinstance(dialect, str) else dialect.name
        raise UnsupportedDialectError(
            f"the {name!r} dialect has no {feature}; sqlalchemy_vector supports "
            f"{', '.join(supported_dialects())} and dialects derived from them"
        )
    return found


def dialect_class(url: URL) -> Type[Dialect]:
    """The dialect class of ``url``, loaded as ``create_engine`` loads it.

    Where the dialect of a supported backend is not installed, or a module it
    imports is missing, :class:`~sqlalchemy_vector.exc.MissingDependencyError`
    names the package and the ``pip install`` that adds it.
    """
    from sqlalchemy.exc import NoSuchModuleError

    try:
        return url.get_dialect()
    except (NoSuchModuleError, ImportError) as err:
        missing = missing_dependency(url, err)
        if missing is None:
            raise
        raise missing from err


def import_driver(url: URL, dialect: Type[Dialect]) -> None:
    """Import the DB-API module of ``dialect``, as ``create_engine`` does next, or raise
    :class:`~sqlalchemy_vector.exc.MissingDependencyError` naming the package that provides it."""
    try:
        dialect.import_dbapi()
    except ImportError as err:
        missing = missing_dependency(url, err)
        if missing is None:
            raise
        raise missing from err
    except (NotImplementedError, TypeError):
        return  # a dialect of the older dbapi() form, or one taking arguments: create_engine calls it itself


def missing_dependency(url: URL, error: BaseException) -> Optional[MissingDependencyError]:
    """The error to raise for ``error``, a dialect or module of ``url`` that did not load, or None.

    None where the URL is not of a supported backend, or where the error is not
    a package the backend knows missing (an unknown driver name of an installed
    dialect, a module of Python's own such as ``_sqlite3``): that error stands.
    """
    from sqlalchemy.exc import NoSuchModuleError

    backend = find_backend(url.get_backend_name())
    if backend is None:
        return None
    if isinstance(error, NoSuchModuleError):
        module = backend.capabilities.dialect_module
        if not module or installed(module):
            return None
    elif isinstance(error, ImportError) and error.name:
        module = error.name.partition(".")[0]
        if module not in backend.capabilities.driver_packages:
            return None
    else:
        return None
    return missing_package(url, module, error)


def missing_package(url: URL, module: str, error: Optional[BaseException] = None) -> MissingDependencyError:
    """The error saying that ``url`` needs ``module``, which is not installed, and the ``pip install`` that adds it."""
    backend = find_backend(url.get_backend_name())
    capabilities = backend.capabilities if backend is not None else Capabilities()
    package, extras = capabilities.driver_packages.get(module, (module, ""))
    if extras:
        install = f"pip install 'sqlalchemy-vector[{extras}]'"
    else:  # a driver no extra declares (postgresql+asyncpg://, or postgresql:// meaning psycopg2 on SQLAlchemy 2.0)
        install = f"pip install {package}"
        if capabilities.install_extra and capabilities.url_form:
            install += (
                f", or use the driver of pip install 'sqlalchemy-vector[{capabilities.install_extra}]': "
                f"{capabilities.url_form}"
            )
    reason = f" ({str(error).splitlines()[0]})" if error is not None and str(error) else ""
    shown = url.render_as_string(hide_password=True)
    return MissingDependencyError(
        f"the database URL {shown!r} needs the Python package {package}, which is not installed{reason}; "
        f"install it with: {install}"
    )


def installed(module: str) -> bool:
    """Whether the top-level ``module`` can be imported (found without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: sys.modules holds None for it (an import blocked on purpose)
        return False


def supported_dialects() -> Tuple[str, ...]:
    """Names of the dialects with a registered backend (those installed packages provide included)."""
    _load_entry_points()
    return tuple(sorted(_BY_NAME))


def backends() -> Tuple[Backend, ...]:
    """Every registered backend."""
    return tuple(_BY_NAME[name] for name in supported_dialects())


def engine_state(dialect: Dialect) -> Optional[Dict[str, Any]]:
    """What :func:`~sqlalchemy_vector.attach` recorded for this engine's dialect, if anything."""
    return _ENGINE_STATE.get(dialect)


def set_engine_state(dialect: Dialect, **facts: Any) -> Dict[str, Any]:
    state = _ENGINE_STATE.setdefault(dialect, {})
    state.update(facts)
    return state


#: The key in a pool's ``connection_record.info`` marking a connection set up by :func:`on_each_connection`.
_PREPARED = "sqlalchemy_vector.prepared"
ConnectionHook = Callable[[Any, Any], None]


def on_each_connection(engine: Engine, prepare: ConnectionHook, existing: Optional[ConnectionHook] = None) -> None:
    """Run ``prepare(dbapi_connection, connection_record)`` once on every connection of ``engine``.

    A new connection is prepared as it opens.  One the engine opened before it
    was prepared (:func:`~sqlalchemy_vector.attach` after a health check) is
    prepared when it is next checked out of the pool, by ``existing`` if given,
    which may raise :class:`sqlalchemy.exc.DisconnectionError` to have the pool
    replace it with a new connection.
    """
    from sqlalchemy import event

    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        prepare(dbapi_connection, connection_record)
        connection_record.info[_PREPARED] = True

    def on_checkout(dbapi_connection: Any, connection_record: Any, connection_proxy: Any) -> None:
        if not connection_record.info.get(_PREPARED):
            (existing or prepare)(dbapi_connection, connection_record)
            connection_record.info[_PREPARED] = True

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "checkout", on_checkout)


# -- reflection of vector columns ------------------------------------------------------


def enable_vector_reflection(dialect: Dialect) -> None:
    """Let this dialect *instance* (one engine) reflect vector columns as ``Vector(n)``.

    Its ``ischema_names`` becomes a copy with the names its backend gives
    (``vector`` on PostgreSQL, ``F32_BLOB`` on SQLite); a type the dialect
    cannot name at all (duckdb_engine's ``FLOAT[n]``) is asked of the backend
    by a ``column_reflect`` listener that acts only on dialects enabled here;
    an inspector that fires no such event (clickhouse-connect's) is replaced on
    this instance by the backend's ``enable_reflection``.  The dialect class,
    and engines not prepared by the library, are untouched.
    """
    backend = find_backend(dialect)
    if backend is None:
        return
    _REFLECTING.add(dialect)
    _listen_for_reflected_columns()
    backend.enable_reflection(dialect)
    names = backend.reflected_type_names()
    current = dialect.ischema_names  # type: ignore[attr-defined]
    if not names or all(current.get(key) is value for key, value in names.items()):
        return
    dialect.ischema_names = {**current, **names}  # type: ignore[attr-defined]


# Dialect instances (engines) that reflect vector columns.
_REFLECTING: "weakref.WeakSet[Dialect]" = weakref.WeakSet()


@functools.lru_cache(maxsize=None)
def _listen_for_reflected_columns() -> None:
    from sqlalchemy import Table, event

    event.listen(Table, "column_reflect", _column_reflect)


def _column_reflect(inspector: Any, table: Any, column_info: Dict[str, Any]) -> None:
    dialect = inspector.dialect
    if dialect not in _REFLECTING:
        return
    backend = find_backend(dialect)
    if backend is None:
        return
    bind = inspector.bind
    if isinstance(bind, Connection):
        found = backend.reflected_column_type(bind, table, column_info)
    else:
        with bind.connect() as connection:
            found = backend.reflected_column_type(connection, table, column_info)
    if found is not None:
        column_info["type"] = found


# -- shared codecs -------------------------------------------------------------------


def vector_to_text(array: npt.NDArray[np.float32]) -> str:
    """``[x1,x2,...]``, the shortest text that reads back as the same float32 values.

    orjson formats float32 arrays in C (about 7 us for 384 values, against 55 us
    for Python's own formatting); pgvector and DuckDB both parse its output.
    """
    return orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def text_to_vector(text: str) -> npt.NDArray[np.float32]:
    """Parse ``[x1,x2,...]`` (pgvector's and JSON's text form) into float32."""
    stripped = text.strip()
    if stripped == "[]":
        return np.zeros(0, np.float32)
    return np.array(stripped[1:-1].split(","), dtype=np.float32)


Processor = Callable[[Any], Any]


@contextlib.contextmanager
def nothing_to_set() -> Iterator[None]:
    """A settings block for backends with nothing to tune."""
    yield


def reflected_vector(*args: Any, **kw: Any) -> TypeEngine[Any]:
    """An ``ischema_names`` constructor: a type reflected with one size, ``name(n)``, becomes ``Vector(n)``."""
    from sqlalchemy.types import NullType

    from ..types import Vector

    if len(args) == 1 and int(args[0]) > 0:
        return Vector(int(args[0]))
    return NullType()


# -- shared catalog and DDL helpers ---------------------------------------------------------


def declared_dimensions(rows: Iterable[Sequence[Any]], vector_type: Pattern[str]) -> Dict[str, int]:
    """``{column: dim}`` for the ``(column, declared type)`` rows whose type matches ``vector_type``.

    ``vector_type`` matches the whole declared type, its first group being the dimension.
    """
    result: Dict[str, int] = {}
    for column_name, declared in rows:
        match = vector_type.match(str(declared or "").strip())
        if match:
            result[column_name] = int(match.group(1))
    return result


def column_head(compiler: DDLCompiler, column: Column[Any]) -> Tuple[str, str]:
    """A column's quoted name and compiled type: how its DDL specification begins (``name TYPE ...``)."""
    type_sql = compiler.dialect.type_compiler_instance.process(column.type, type_expression=column)
    return compiler.preparer.format_column(column), type_sql


def qualified_name(preparer: IdentifierPreparer, name: str, schema: Optional[str]) -> str:
    """``name``, quoted by ``preparer`` (a compiler's, a dialect's) and qualified by ``schema`` when there is one."""
    quote = preparer.quote
    return f"{quote(schema)}.{quote(name)}" if schema else quote(name)
