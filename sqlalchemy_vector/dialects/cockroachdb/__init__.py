"""CockroachDB: PostgreSQL's backend, with CockroachDB's own vector index.

CockroachDB (25.2+) stores ``VECTOR(n)`` and has pgvector's distance operators
(``<->``, ``<=>``, ``<#>``), so storage DDL, distances, JSON filters and the
top-k statement are PostgreSQL's, inherited.  What differs, and is overridden
here:

- no extension to create: ``VECTOR`` is built in;
- the vector index is ``CREATE VECTOR INDEX name ON table (col opclass)``, a
  k-means partition tree (C-SPANN) whatever method a
  :class:`~sqlalchemy_vector.VectorIndex` declares; operator classes
  ``vector_l2_ops``, ``vector_cosine_ops`` and ``vector_ip_ops`` (25.4+; 25.2
  indexes L2 only);
- the search setting is ``vector_search_beam_size`` (partitions explored at each
  level of the tree, default 32), given as ``probes``;
- vectors travel as text (no ``vector_send``/``vector_recv`` binary functions),
  rows are written with plain inserts (no binary ``COPY``), and pgvector's
  compact kinds (``halfvec``, ``bit``, ``sparsevec``) do not exist.

The dialect is sqlalchemy-cockroachdb's (``cockroachdb://``, ``cockroachdb+psycopg://``,
``cockroachdb+asyncpg://``).  No CockroachDB server runs in this project's tests:
DDL and statements are compile-tested, the catalog queries are not.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.compiler import DDLCompiler

from ...exc import UnsupportedDialectError
from ..base import Processor, register, set_engine_state, vector_to_text
from ..postgresql import PGVECTOR, PostgreSQLBackend
from . import index as _index
from . import search as _search

if TYPE_CHECKING:
    from ...bulk import BulkLoad
    from ...index import CreateVectorIndex, DropVectorIndex, VectorIndex

__all__ = ["CRDBVECTOR", "CockroachDBBackend"]


class CRDBVECTOR(PGVECTOR):
    """CockroachDB's ``VECTOR(n)``: the same DDL and casts as pgvector's, exchanged as text."""

    cache_ok = True

    def column_expression(self, colexpr: Any) -> Any:
        return colexpr  # no vector_send: the text form comes back, which the result processor reads

    def bind_processor(self, dialect: Dialect) -> Optional[Processor]:
        def process(value: Any) -> Any:
            return None if value is None else vector_to_text(value)

        return process


class CockroachDBBackend(PostgreSQLBackend):
    """sqlalchemy-cockroachdb's dialect: PostgreSQL's backend where CockroachDB does the same."""

    name = "cockroachdb"
    capabilities = dataclasses.replace(
        PostgreSQLBackend.capabilities,
        install_extra="",  # sqlalchemy-cockroachdb is installed by hand
        dialect_module="sqlalchemy_cockroachdb",
        driver_packages={
            **PostgreSQLBackend.capabilities.driver_packages,
            "sqlalchemy_cockroachdb": ("sqlalchemy-cockroachdb", ""),
        },
        url_form="cockroachdb://USER@HOST:26257/DB",
        sync_drivername="",
        index_metrics=_index.INDEX_METRICS,
        index_method_override=_index.METHOD,
        index_provider="CockroachDB's vector index",
        index_options_reported=False,
        index_option_ranges={},  # m / ef_construction are not rendered (its own options differ)
        index_option_defaults={},
        ef_construction_per_m=0,
        index_by_create_index=False,
        index_rebuilt_aside=False,  # untested without a CockroachDB server: the old index is dropped first
        max_index_dimension=None,
        fulltext_search=False,
        storage_provider="CockroachDB's VECTOR type",
        vector_kinds={},
        missing_kinds={kind: "CockroachDB has VECTOR only" for kind in ("half", "bit", "sparse", "int8")},
        indexed_kinds=(),
        index_quantizations=(),
        missing_quantization="CockroachDB's vector index quantizes internally and takes no quantization option",
    )

    def lock_writers(self, connection: Connection, table: Table) -> None:
        # No pg_advisory_xact_lock is assumed here (untested without a server): the base's no-op, as before.
        return None

    def dialect_classes(self) -> Tuple[Union[type, str], ...]:
        # By path: registering the backend does not import sqlalchemy-cockroachdb (nor Alembic, which it imports).
        return ("sqlalchemy_cockroachdb.base:CockroachDBDialect",)

    def storage_type(self, dim: int) -> CRDBVECTOR:
        return CRDBVECTOR(dim)

    def prepare(self, engine: Engine, **options: Any) -> None:
        # No extension to create and no binary codecs: nothing to do per connection.
        set_engine_state(engine.dialect, pgvector=None, binary=False, cockroachdb=True)

    def vector_extension_statements(self, create: bool) -> Tuple[str, ...]:
        return ()

    def database_has_vectors(self, connection: Connection) -> bool:
        return False  # no extension depends on it

    # -- search ----------------------------------------------------------------------

    def search_settings(self, connection: Any, *, ef_search: Any, iterative_scan: Any, probes: Any) -> Any:
        return _search.settings(connection, ef_search=ef_search, iterative_scan=iterative_scan, probes=probes)

    def default_iterative_scan(self, connection: Any, filtered: bool) -> Any:
        return None

    # -- vector indexes ------------------------------------------------------------------

    def compile_create_index(self, element: "CreateVectorIndex", compiler: DDLCompiler, **kw: Any) -> str:
        return _index.compile_create(element, compiler, **kw)

    def compile_drop_index(self, element: "DropVectorIndex", compiler: DDLCompiler, **kw: Any) -> str:
        return _index.compile_drop(element, compiler, **kw)

    def create_index_statements(self, index: "VectorIndex", if_not_exists: bool = False) -> List[Any]:
        from ...index import CreateVectorIndex

        return [CreateVectorIndex(index, if_not_exists=if_not_exists)]

    def list_indexes(self, connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
        return _index.list_indexes(connection, schema)

    def index_name_holder(self, connection: Connection, name: str, table_name: str, schema: Optional[str]) -> None:
        # Index names are per table there, not PostgreSQL's per schema; no catalog query is assumed (untested
        # without a server): the database's own error, as before.
        return None

    # -- bulk loading ----------------------------------------------------------------

    def bulk_write(self, connection: Connection, load: "BulkLoad") -> bool:
        return False  # no binary COPY of vectors: the plain insert


    def distribute_statements(self, documents: Any, embeddings: Any) -> List[Any]:
        raise UnsupportedDialectError(
            "CockroachDB shards every table itself; distributed=True creates Citus distributed tables, "
            "which it has not: leave distributed out"
        )

    def ensure_distribution_support(self, connection: Connection) -> None:
        self.distribute_statements(None, None)


register(CockroachDBBackend())
