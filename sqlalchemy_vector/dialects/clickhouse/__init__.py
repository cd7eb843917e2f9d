"""ClickHouse through clickhouse-connect's dialect, on a server or in-process with chDB.

Vectors are stored as ``Array(Float32)`` with a ``CHECK length(col) = dim``
constraint (ClickHouse arrays have no declared length).  Parameters travel as
text and are cast with ``CAST(... AS Array(Float32))``; clickhouse-connect
renders parameters into the statement, so a query vector is a constant, the
form the vector-similarity index serves.  Distances compile to ClickHouse's
``cosineDistance``, ``L2Distance``, ``dotProduct`` and ``L1Distance``.

ClickHouse has no multi-statement transactions: ``commit`` and ``rollback`` do
nothing, each statement is applied on its own, and DELETE is a lightweight
mutation.  :attr:`Capabilities.transactions` says so; the README lists what
the facade guarantees here.  An ``Array`` cannot be ``Nullable``, so a vector
column holds no NULL.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

import numpy as np
from sqlalchemy import event
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.compiler import DDLCompiler, SQLCompiler
from sqlalchemy.types import String, TypeDecorator, UserDefinedType

from ...exc import InvalidVectorError
from ...functions import VectorDistance
from ..base import (
    Backend,
    Capabilities,
    NameHolder,
    Processor,
    installed,
    missing_package,
    register,
    set_engine_state,
    vector_to_text,
)
from . import ddl as _ddl  # noqa: F401  - the CREATE TABLE rule (default engine, vector length constraints)
from . import index as _index

if TYPE_CHECKING:
    from sqlalchemy.sql.type_api import TypeEngine

    from ...bulk import BulkLoad
    from ...filters import CaseSensitiveLike, JSONValue
    from ...index import CreateVectorIndex, DropVectorIndex, VectorIndex
    from ...search import TopK
    from sqlalchemy.sql.selectable import Select

__all__ = ["FLOAT32_ARRAY", "ClickHouseBackend"]

_FUNCTIONS = {
    "cosine": "cosineDistance",
    "l2": "L2Distance",
    "inner_product": "dotProduct",
    "l1": "L1Distance",
}


class FLOAT32_ARRAY(UserDefinedType[Any]):
    """ClickHouse's ``Array(Float32)`` holding ``dim`` values (checked by the table's constraint)."""

    cache_ok = True

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def get_col_spec(self, **kw: Any) -> str:
        return "Array(Float32)"

    def bind_processor(self, dialect: Dialect) -> Processor:
        # A list, not text, and no CAST around the parameter: clickhouse-connect then sends an
        # executemany INSERT as one native insert (with a CAST it runs one query per row, ~30 ms each).
        # Query vectors get their CAST where distances compile.
        def process(value: Any) -> Any:
            if value is None:
                raise InvalidVectorError(
                    "ClickHouse stores no NULL vector (an Array column cannot be Nullable); "
                    "leave the row out, or keep vectors in a separate table keyed by the row's id"
                )
            return np.asarray(value, dtype=np.float32).tolist()

        return process

    def literal_processor(self, dialect: Dialect) -> Processor:
        def process(value: Any) -> str:
            return vector_to_text(np.asarray(value, dtype=np.float32))  # an array literal, [1.0,2.5]

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Processor:
        def process(value: Any) -> Any:
            return None if value is None else np.array(value, dtype=np.float32)

        return process


class ClickHouseBackend(Backend):
    """ClickHouse through clickhouse-connect (``clickhousedb://``; ``?interface=chdb`` runs chDB in-process)."""

    name = "clickhousedb"
    capabilities = Capabilities(
        install_extra="clickhouse",
        dialect_module="clickhouse_connect",
        driver_packages={
            "clickhouse_connect": ("clickhouse-connect", "clickhouse"),
            "chdb": ("chdb", "clickhouse"),  # ?interface=chdb: ClickHouse in-process
        },
        storage_provider="ClickHouse",
        url_form="clickhousedb://HOST/DB",
        join_reads_by_key_up_to=0,
        late_columns_up_to=10_000,
        index_serves_joined_reads=False,
        index_metrics=_index.INDEX_METRICS,
        # ClickHouse 26.9 refuses a connectivity of 1 ("Invalid parameters"); 0 would be its default.
        index_option_ranges={"m": (2, None)},
        index_provider="ClickHouse's vector_similarity index",
        index_options_reported=True,
        index_ddl_declares_dimension=True,
        approximate_index=True,
        transactional_ddl=False,
        foreign_keys=False,
        transactions=False,
        null_vectors=False,
        delete_returning=False,
        unique_keys=False,
        missing_kinds={
            kind: "the ClickHouse backend stores vectors as Array(Float32) only; use a Vector column "
            "(or another backend for compact kinds: see the kinds table in docs/indexes.md)"
            for kind in ("half", "int8", "bit", "sparse")
        },
        missing_quantization=_index.MISSING_QUANTIZATION,
    )

    def dialect_classes(self) -> tuple[type | str, ...]:
        # By path: registering the backend does not import clickhouse-connect.
        return ("clickhouse_connect.cc_sqlalchemy.dialect:ClickHouseDialect",)

    # -- storage and distance SQL --------------------------------------------------

    def storage_type(self, dim: int) -> FLOAT32_ARRAY:
        return FLOAT32_ARRAY(dim)

    def compile_distance(self, element: VectorDistance, compiler: SQLCompiler, **kw: Any) -> str:
        left, right = (_float32_operand(operand, compiler, **kw) for operand in (element.left, element.right))
        if element.metric == "max_inner_product":
            return f"(-dotProduct({left}, {right}))"
        # cosineDistance of a zero vector is NaN (ClickHouse 26.9), as in pgvector: it sorts last
        # and cosine_distance's result type reads it back as 2.0.
        return f"{_FUNCTIONS[element.metric]}({left}, {right})"

    # -- engines -----------------------------------------------------------------

    def prepare(self, engine: Engine, **options: Any) -> None:
        if _is_chdb(engine.url) and not installed("chdb"):
            # Else clickhouse-connect's ImportError at the first connection names its own extra, not ours.
            raise missing_package(engine.url, "chdb")
        set_engine_state(engine.dialect, clickhouse=True, chdb=_is_chdb(engine.url))
        # SQLAlchemy's JSON type reads these dialect attributes, which clickhouse-connect 1.12 lacks.
        for attribute in ("_json_serializer", "_json_deserializer"):
            if not hasattr(engine.dialect, attribute):
                setattr(engine.dialect, attribute, None)
        engine.dialect.colspecs = {**engine.dialect.colspecs, **_ddl.COLSPECS}
        # No count of the rows an UPDATE or DELETE changed (see _dml_context): the ORM must not verify one.
        engine.dialect.supports_sane_rowcount = False
        engine.dialect.supports_sane_multi_rowcount = False
        context_class: type = type(engine.dialect).execution_ctx_cls
        engine.dialect.execution_ctx_cls = _dml_context(context_class)
        if not event.contains(engine, "before_cursor_execute", _end_line_after_dashes):
            event.listen(engine, "before_cursor_execute", _end_line_after_dashes, retval=True)

    def database_file(self, url: URL) -> Optional[str]:
        return url.query.get("path") if _is_chdb(url) else None  # type: ignore[return-value]

    # -- top-k search -----------------------------------------------------------

    def top_k_select(self, request: "TopK") -> "Select[Any]":
        from . import search

        statement = super().top_k_select(request)
        settings = []
        if request.filters or request.max_distance is not None:
            # The vector-similarity index filters after its search. Without rescoring (ClickHouse's default),
            # rows that pass the filter but were not among its candidates fill the LIMIT with the placeholder
            # distance 1,000,000, in place of the nearest rows that pass (ClickHouse 26.9).  With rescoring
            # every row returned has its real distance; too few candidates passing returns fewer than k rows,
            # which the exact re-run of a short result then completes.
            settings.append("vector_search_with_rescoring = 1")
        if request.index_name is not None and not request.exact:
            return search.live_rows_only(request, statement, settings)
        return search.with_settings(statement, settings)

    def search_settings(self, connection: Any, *, ef_search: Any, iterative_scan: Any, probes: Any) -> Any:
        from . import search

        return search.settings(connection, ef_search=ef_search)

    # -- vector indexes ------------------------------------------------------------------

    def compile_create_index(self, element: "CreateVectorIndex", compiler: DDLCompiler, **kw: Any) -> str:
        return _index.compile_create(element, compiler, **kw)

    def compile_drop_index(self, element: "DropVectorIndex", compiler: DDLCompiler, **kw: Any) -> str:
        return _index.compile_drop(element, compiler, **kw)

    def reported_index_options(self, options: Mapping[str, Any]) -> Dict[str, Any]:
        return _index.reported_options(options)

    def create_index(self, connection: Connection, index: "VectorIndex", if_not_exists: bool = False) -> None:
        _index.check_lengths(connection, index)
        super().create_index(connection, index, if_not_exists=if_not_exists)

    def create_index_statements(self, index: "VectorIndex", if_not_exists: bool = False) -> List[Any]:
        return _index.create_statements(index, if_not_exists)

    def drop_index(
        self,
        connection: Connection,
        name: str,
        schema: Optional[str],
        if_exists: bool = False,
        *,
        table_name: Optional[str] = None,
    ) -> None:
        _index.drop(connection, name, schema, if_exists, table_name)

    def list_indexes(self, connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
        return _index.list_indexes(connection, schema)

    def index_name_holder(
        self, connection: Connection, name: str, table_name: str, schema: Optional[str]
    ) -> Optional[NameHolder]:
        return _index.name_holder(connection, name, table_name, schema)

    def vector_columns(self, connection: Connection, table_name: str, schema: Optional[str]) -> Dict[str, int]:
        return _index.vector_columns(connection, table_name, schema)

    # -- bulk loading ----------------------------------------------------------------

    def bulk_write(self, connection: Connection, load: "BulkLoad") -> bool:
        from .bulk import write

        return write(connection, load)

    # -- metadata filters ------------------------------------------------------------

    def json_key_path(self, key: str, dialect: Dialect) -> str:
        return key  # JSONExtract* take the key itself

    def compile_json_value(self, element: "JSONValue", compiler: SQLCompiler, **kw: Any) -> str:
        from .filters import compile_json_value

        return compile_json_value(element, compiler, **kw)

    def compile_case_sensitive_like(self, element: "CaseSensitiveLike", compiler: SQLCompiler, **kw: Any) -> str:
        from .filters import compile_like

        return compile_like(element, compiler, **kw)

    def like_pattern(self, pattern: str) -> str:
        from .filters import like_pattern

        return like_pattern(pattern)

    # -- column types of the ORM mixins ---------------------------------------------

    def json_type(self) -> "TypeEngine[Any]":
        from .filters import JSONText

        return JSONText()

    # -- reflection ----------------------------------------------------------------

    def enable_reflection(self, dialect: Dialect) -> None:
        from .reflection import enable

        enable(dialect)

    def reflected_type_names(self) -> Mapping[str, Callable[..., "TypeEngine[Any]"]]:
        return {}

    def storage_dim(self, type_: "TypeEngine[Any]") -> Optional[int]:
        return type_.dim if isinstance(type_, FLOAT32_ARRAY) else None

    def same_reflected_type(self, reflected: "TypeEngine[Any]", declared: "TypeEngine[Any]", dialect: Dialect) -> bool:
        from .migration import same_type

        return same_type(reflected, declared, dialect)

    def reflected_column_type(self, connection: Connection, table: Any, column: Mapping[str, Any]) -> Optional["TypeEngine[Any]"]:
        from .migration import reflected_column_type

        return reflected_column_type(connection, table, column)

    # -- migrations ------------------------------------------------------------------

    def migration_keeps_vector_indexes(self, operation: Any) -> bool:
        from .migration import keeps_vector_indexes

        return keeps_vector_indexes(operation)

    def alter_vector_dimension(
        self,
        operations: Any,
        table_name: str,
        column_name: str,
        dim: int,
        *,
        existing_dim: int,
        schema: Optional[str] = None,
        kind: Optional[str] = None,
    ) -> None:
        from .migration import refuse_dimension_change

        refuse_dimension_change(operations, table_name, column_name, dim, existing_dim, schema)

    def dimension_change_refusal(self, table_name: str, column_name: str, dim: int, existing_dim: int) -> Optional[str]:
        from .migration import dimension_change_refusal

        return dimension_change_refusal(table_name, column_name, dim, existing_dim)

    def database_has_vectors(self, connection: Connection) -> bool:
        from .migration import database_has_vectors

        return database_has_vectors(connection)

    def hidden_schemas(self, connection: Connection) -> Set[str]:
        from .migration import SYSTEM_DATABASES

        return set(SYSTEM_DATABASES)

    def prepare_migrations(self) -> None:
        try:  # clickhouse-connect's Alembic implementation for "clickhousedb" (its version table, its DDL)
            import clickhouse_connect.cc_sqlalchemy.alembic  # noqa: F401
        except ImportError:
            return
        # Its subclass that keeps vector columns' length constraints in add_column / drop_column.
        from . import alembic_impl  # noqa: F401

    def revision_directives_hook(self) -> Optional[Callable[[Any, Any, List[Any]], None]]:
        # clickhouse-connect's hook: the migration imports the ClickHouse types and engines it renders.
        try:
            from clickhouse_connect.cc_sqlalchemy.alembic import clickhouse_writer
        except ImportError:
            return None
        return clickhouse_writer  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=None)
def _dml_context(base: type) -> type:
    """The subclass of execution context ``base`` whose INSERT, UPDATE and DELETE report no row count.

    ClickHouse reports no count of the rows a lightweight UPDATE or DELETE
    changed.  chDB answers those statements (and a single INSERT) with a row of
    statistics, which clickhouse-connect 1.12 gave as the statement's rows: a
    rowcount of 1 whatever matched (0 for a single INSERT) and a result that
    returned rows.  Here they return no rows and a rowcount of -1 (DB-API's
    "unknown"); an executemany INSERT keeps its count, which the native insert
    reports.
    """

    class DMLContext(base):  # type: ignore[misc,valid-type]
        _count_unknown = False

        def post_exec(self) -> None:
            super().post_exec()
            if self.isupdate or self.isdelete or (self.isinsert and not self.executemany):
                from sqlalchemy.engine import cursor

                self._count_unknown = True
                self.cursor_fetch_strategy = cursor._NO_CURSOR_DML

        @property
        def rowcount(self) -> int:
            return -1 if self._count_unknown else int(super().rowcount)

    DMLContext.__name__ = DMLContext.__qualname__ = f"Uncounted{base.__name__}"
    return DMLContext


# A placeholder (or a doubled %, which is text): pyformat, as clickhouse-connect's DB-API takes it.
_PLACEHOLDER = re.compile(r"%%|%\(([^()]+)\)s")


def _end_line_after_dashes(
    connection: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> Tuple[str, Any]:
    """End the line after each string parameter holding ``--``, so that it cannot read as a comment.

    clickhouse-connect 1.12 binds values into the SQL text (a quote as ``\\'``),
    then finds comments to tell what kind of statement it has with a regular
    expression that takes ``\\'`` for the end of the string: from a ``--`` in
    the value to the end of the line looks like a comment.  Whatever followed on
    that line (``) LIMIT 0`` of the probe it makes for the columns of an empty
    result) was then missed, and an empty result had no columns: the ORM raised
    ``NoSuchColumnError`` for ``get_document("x' --")``.  Only its reading of
    the statement changes: the server gets the same SQL, a newline aside.
    """
    if executemany or not isinstance(parameters, dict):
        return statement, parameters
    dashed = {name for name, value in parameters.items() if isinstance(value, str) and "--" in value}
    if not dashed:
        return statement, parameters

    def end_line(match: "re.Match[str]") -> str:
        return match.group() + "\n" if match.group(1) in dashed else match.group()

    return _PLACEHOLDER.sub(end_line, statement), parameters


class _VectorText(TypeDecorator[Any]):
    """A bound query vector sent as its text, ``[x1,x2,...]``, which the ``CAST`` around it parses.

    The vector's own type checks the value first (dimension, NaN).  clickhouse-connect writes bound values
    into the query text, a list as an array literal of ``dim`` numbers that ClickHouse parses and folds
    one by one; one string literal is parsed as one value.  ClickHouse folds the cast into a constant, so
    the vector-similarity index serves the search as before.  (A top 5 at 20,000 x 384 on chDB: 0.88x the
    time indexed, 0.93x exact; ``bench/clickhouse_query_vector.py``.)
    """

    impl = String
    cache_ok = True

    def __init__(self, vector_type: Any) -> None:
        super().__init__()
        self.vector_type = vector_type

    def process_bind_param(self, value: Any, dialect: Dialect) -> Optional[str]:
        checked = self.vector_type._cached_bind_processor(dialect)
        if checked is not None:
            value = checked(value)
        return None if value is None else vector_to_text(np.asarray(value, dtype=np.float32))


def _float32_operand(operand: Any, compiler: SQLCompiler, **kw: Any) -> str:
    """A distance operand; a bound vector is cast to ``Array(Float32)``, a constant the index search takes."""
    if not isinstance(operand, BindParameter):
        return str(compiler.process(operand, **kw))
    if isinstance(operand.type._unwrapped_dialect_impl(compiler.dialect), FLOAT32_ARRAY):
        operand = operand._with_binary_element_type(_VectorText(operand.type))
    return f"CAST({compiler.process(operand, **kw)} AS Array(Float32))"


def _is_chdb(url: URL) -> bool:
    return url.query.get("interface") == "chdb"


register(ClickHouseBackend())
