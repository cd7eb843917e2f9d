"""YugabyteDB: PostgreSQL's backend, with YugabyteDB's ``ybhnsw`` index.

YSQL ships pgvector (``0.8.0-yb``): the ``vector`` type, its operators and its
binary I/O are pgvector's, and ``CREATE EXTENSION vector`` is the same, so all
of that is inherited.  What differs, and is overridden here:

- the index is ``CREATE INDEX NONCONCURRENTLY ... USING ybhnsw (col opclass)``
  (a distributed HNSW in DocDB) with ``m`` and ``ef_construction``; it serves
  L2, cosine and inner product, not L1, and there is no IVFFlat;
- the catalog reports the ``ybhnsw`` access method;
- only the full-precision ``vector`` type is documented (no ``halfvec``,
  ``bit``, ``sparsevec``); the query setting is ``hnsw.ef_search``, without
  pgvector's iterative scans.

The dialect is :mod:`.dialect`'s ``yugabytedb`` (a PostgreSQL dialect under
that name).  No YugabyteDB server runs in this project's tests: DDL and
statements are compile-tested, the catalog query is not.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Tuple, Union

from sqlalchemy import Table
from sqlalchemy.engine import Connection
from sqlalchemy.sql.compiler import DDLCompiler

from ...exc import UnsupportedDialectError
from ..base import register
from ..postgresql import PostgreSQLBackend
from . import dialect as _dialect
from . import index as _index

__all__ = ["YugabyteDBBackend"]


class YugabyteDBBackend(PostgreSQLBackend):
    """The ``yugabytedb`` dialects: PostgreSQL with pgvector, indexed by ``ybhnsw``."""

    name = "yugabytedb"
    capabilities = dataclasses.replace(
        PostgreSQLBackend.capabilities,
        install_extra="",  # its dialect is installed by hand
        url_form="",
        sync_drivername="",
        index_metrics=_index.INDEX_METRICS,
        index_provider="YugabyteDB's ybhnsw",
        index_option_ranges={},  # ybhnsw's bounds are not documented as pgvector's are
        index_option_defaults={},
        ef_construction_per_m=0,
        index_by_create_index=False,
        index_rebuilt_aside=False,  # untested without a YugabyteDB server: the old index is dropped first
        fulltext_search=False,
        vector_kinds={},
        missing_kinds={kind: "YugabyteDB documents the vector type only" for kind in ("half", "bit", "sparse", "int8")},
        indexed_kinds=(),
        index_quantizations=(),
        missing_quantization="ybhnsw indexes full-precision vector columns only",
    )

    def lock_writers(self, connection: Connection, table: Table) -> None:
        # Advisory locks are a cluster option there (untested without a server): the base's no-op, as before.
        return None

    def dialect_classes(self) -> Tuple[Union[type, str], ...]:
        return (_dialect.YugabyteDBDialect,)

    def search_settings(self, connection: Any, *, ef_search: Any, iterative_scan: Any, probes: Any) -> Any:
        _index.check_settings(iterative_scan=iterative_scan, probes=probes)
        return super().search_settings(connection, ef_search=ef_search, iterative_scan=None, probes=None)

    def default_iterative_scan(self, connection: Any, filtered: bool) -> Any:
        return None

    def compile_create_index(self, element: Any, compiler: DDLCompiler, **kw: Any) -> str:
        return _index.compile_create(element, compiler, **kw)

    def list_indexes(self, connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
        return _index.list_indexes(connection, schema)

    def distribute_statements(self, documents: Any, embeddings: Any) -> List[Any]:
        raise UnsupportedDialectError(
            "YugabyteDB shards every table itself; distributed=True creates Citus distributed tables, "
            "which it has not: leave distributed out"
        )

    def ensure_distribution_support(self, connection: Connection) -> None:
        self.distribute_statements(None, None)



_dialect.register_url_names()
register(YugabyteDBBackend())
