"""Full-text indexes: the text half of hybrid search.

:class:`FullTextIndex` is declared like :class:`~sqlalchemy_vector.VectorIndex`,
in ``__table_args__`` or on a :class:`~sqlalchemy.schema.Table`, on one text
column; ``metadata.create_all()`` builds it and ``drop_all()`` removes it.
How it is built is each backend's business (``dialects/<backend>/fulltext.py``):

- PostgreSQL: a GIN index on ``to_tsvector(language, column)``, queried with
  ``websearch_to_tsquery`` / ``to_tsquery`` and ranked by ``ts_rank_cd``.
- SQLite: an FTS5 table named after the index, reading the column from its
  table (external content), kept in sync by triggers, ranked by ``bm25()``.
- DuckDB: the ``fts`` extension's index (``PRAGMA create_fts_index``), ranked
  by ``match_bm25``; one per table (a second is refused).  It does not follow writes: :func:`refresh_fulltext_index`
  rebuilds it when the table changed since it was built (one scan of the
  table).  The RAG facade logs its own writes beside the index instead, so
  its ``hybrid_query`` knows without a scan (``scan=False``).

``language`` chooses the stemming rules: ``"english"`` (default) or
``"simple"`` (no stemming) everywhere; PostgreSQL and DuckDB know more.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Dict, List, NoReturn, Optional, Union

from sqlalchemy import Table, event
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.schema import Column, Index
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import String

from .dialects.base import Backend, backend_for, find_backend
from .exc import UnsupportedDialectError, VectorIndexError
from .index import Bind, _connection, holder_kind, name_taken

__all__ = [
    "FullTextIndex",
    "FullTextSpec",
    "create_fulltext_index",
    "drop_fulltext_index",
    "list_fulltext_indexes",
    "refresh_fulltext_index",
    "query_terms",
]

_LANGUAGE = re.compile(r"[a-z][a-z_]*\Z")
# Letters and digits: what every backend's tokenizer keeps of a word (punctuation and "_" separate).
_TERM = re.compile(r"[^\W_]+")


def query_terms(text: str) -> List[str]:
    """The words of a free-text query, without punctuation (so no query syntax can leak in).

    The words keep their case: each backend folds it as its index folded the
    documents' (Python's ``lower()`` wrote the final sigma of "ΟΔΟΣ" as "ς",
    where DuckDB's index holds "οδοσ", so the text of a document missed it).
    Combining marks (accents written apart, Hebrew and Arabic vowel points,
    Indic vowel signs) belong to their word, as in the backends' tokenizers:
    split at them, "दुनिया" was three pieces that DuckDB's index, which
    holds the whole word, never matched.
    """
    if text.isascii():  # no combining marks
        return _TERM.findall(text)
    terms: List[str] = []
    word: List[str] = []
    for char in text:
        if char.isalnum() or (word and unicodedata.category(char)[0] == "M"):
            word.append(char)
        elif word:
            terms.append("".join(word))
            word = []
    if word:
        terms.append("".join(word))
    return terms


@dataclass(frozen=True)
class FullTextSpec:
    """What a backend needs to build or query a full-text index: its name, table, column and language."""

    name: str
    table: Table
    column: Column[Any]
    language: str

    @property
    def schema(self) -> Optional[str]:
        return self.table.schema


def _check_language(language: Any, where: str) -> str:
    if not isinstance(language, str) or not _LANGUAGE.match(language):
        raise VectorIndexError(
            f"{where}: language must be a lower-case name such as 'english' or 'simple', got {language!r}"
        )
    return language


class FullTextIndex(Index):
    """A full-text index on one text column, for :func:`~sqlalchemy_vector.hybrid_select` and ``hybrid_query``.

    ``language`` names the stemming rules (``"english"``, ``"simple"`` for
    none, or another language the database knows).  Like every index, it is
    built by ``create_all()`` and by :func:`create_fulltext_index`.
    """

    def __init__(self, name: str, column: Any, language: str = "english") -> None:
        if not isinstance(name, str) or not name:
            raise VectorIndexError(f"FullTextIndex needs a name (a non-empty string), got {name!r}")
        self.language: str = _check_language(language, f"FullTextIndex {name!r}")
        super().__init__(name, column)
        # SQLAlchemy's CREATE INDEX never fits: the backend builds it in after_create.
        self.ddl_if(callable_=_never)  # type: ignore[arg-type]
        event.listen(self, "after_create", _after_create)
        if self.table is not None:
            self._attached(self.table)
        else:
            event.listen(self, "after_parent_attach", _after_parent_attach)

    def __repr__(self) -> str:
        target = f"{self.table.name}.{self.text_column.name}" if self.table is not None else repr(self.expressions[0])
        return f"FullTextIndex({self.name!r}, {target!r}, language={self.language!r})"

    @property
    def index_name(self) -> str:
        return str(self.name)

    @property
    def text_column(self) -> Column[Any]:
        """The indexed column (once the index is attached to its table)."""
        if self.table is None:
            raise VectorIndexError(f"FullTextIndex {self.name!r} is not attached to a table yet")
        return self.expressions[0]  # type: ignore[return-value]

    @property
    def spec(self) -> FullTextSpec:
        """The index as backends take it."""
        if self.table is None:
            raise VectorIndexError(f"FullTextIndex {self.name!r} is not attached to a table; add it to a Table first")
        return FullTextSpec(self.index_name, self.table, self.text_column, self.language)

    def _attached(self, table: Table) -> None:
        where = f"FullTextIndex {self.name!r}"
        if len(self.expressions) != 1:
            raise VectorIndexError(f"{where} indexes exactly one text column, got {len(self.expressions)} expressions")
        column = self.expressions[0]
        if not isinstance(column, Column) or column.table is not table:
            raise VectorIndexError(f"{where} must index a column of table {table.name!r}, got {column!r}")
        if not isinstance(column.type, String):
            raise VectorIndexError(
                f"{where} indexes {table.name}.{column.name} of type {column.type!r}; expected a Text or String column"
            )
        event.listen(table, "before_drop", self._before_table_drop)
        event.listen(table, "before_create", self._before_table_create)
        event.listen(table.metadata, "before_create", self._before_metadata_create)

    def _before_table_drop(self, target: Table, connection: Connection, **kw: Any) -> None:
        # PostgreSQL drops the index with its table; an FTS5 table and a DuckDB
        # fts schema stay behind unless dropped.  A backend without full-text
        # indexes never built one: nothing to drop.
        backend = find_backend(connection.dialect)
        if backend is not None and backend.capabilities.fulltext_search and self.table is target:
            drop_fulltext_index(connection, self, if_exists=True)

    def _before_metadata_create(self, target: Any, connection: Connection, tables: Any = (), **kw: Any) -> None:
        # create_all asks before it creates any table, so a refusal leaves nothing half made.
        if self.table is not None and self.table in list(tables):
            self.check_buildable(connection.dialect)

    def _before_table_create(self, target: Table, connection: Connection, **kw: Any) -> None:
        if self.table is target:
            self.check_buildable(connection.dialect)
            if isinstance(connection, Connection) and find_backend(connection.dialect) is not None:
                check_fulltext_name(connection, self.spec)  # online: a catalog to ask

    def check_buildable(self, dialect: Dialect) -> None:
        """Refuse, before its table is created, an index this database cannot build beside the table's others."""
        spec = self.spec
        if find_backend(dialect) is None:
            return
        backend = _backend(dialect, f"FullTextIndex {self.name!r} on table {spec.table.name!r}")
        checked_spec(spec, backend)
        if backend.one_fulltext_index_per_table:
            others = [
                index
                for index in spec.table.indexes
                if isinstance(index, FullTextIndex) and index.index_name != self.index_name
            ]
            if others:
                _refuse_second_index(backend, spec, others[0].index_name, others[0].text_column.name)


def _never(ddl: Any, target: Any, bind: Any, **kw: Any) -> bool:
    return False


def _after_create(target: FullTextIndex, connection: Connection, **kw: Any) -> None:
    if find_backend(connection.dialect) is not None:
        create_fulltext_index(connection, target)


def _after_parent_attach(target: FullTextIndex, parent: Any) -> None:
    if isinstance(parent, Table):
        target._attached(parent)


def require_fulltext(dialect: Union[Dialect, str]) -> Backend:
    """The backend, if it has full-text indexes; else :class:`UnsupportedDialectError` naming what works."""
    return _backend(dialect)


def _backend(dialect: Union[Dialect, str], what: Optional[str] = None) -> Backend:
    backend = backend_for(dialect, feature="full-text indexes")
    if not backend.capabilities.fulltext_search:
        raise UnsupportedDialectError(
            (f"{what}: " if what else "")
            + f"the {backend.name!r} backend has no full-text indexes in sqlalchemy_vector, so no hybrid or text "
            "search; search by vector (VectorRAG.query, knn)"
            + (f", and leave the FullTextIndex out of the table on {backend.name}" if what else "")
        )
    return backend


def _table_index_named_otherwise(
    backend: Backend, connection: Connection, table_name: str, schema: Optional[str], name: str
) -> Optional[Dict[str, Any]]:
    """Where a table holds one full-text index at most: the one ``table_name`` has under a name other than ``name``."""
    if not backend.one_fulltext_index_per_table:
        return None
    for built in backend.list_fulltext_indexes(connection, schema):
        if built["table"] == table_name and built["name"] != name:
            return built
    return None


def _refuse_second_index(backend: Backend, spec: FullTextSpec, other: str, other_column: str) -> NoReturn:
    raise VectorIndexError(
        f"FullTextIndex {spec.name!r} on {spec.table.name}.{spec.column.name}: {backend.name} keeps one full-text "
        f"index per table, and {spec.table.name} has {other!r} on {other_column} (building a second would replace "
        f"it); index one column holding both texts, or drop {other!r} first (drop_fulltext_index)"
    )


def checked_spec(spec: FullTextSpec, backend: Backend) -> FullTextSpec:
    """``spec`` if ``backend`` knows its language, else the error naming the ones it knows."""
    # Checked here too, not only by FullTextIndex: a spec (the facade's) reaches the DDL with its language.
    _check_language(spec.language, f"FullTextIndex {spec.name!r}")
    refusal = backend.fulltext_table_refusal(spec.table.name, spec.schema)
    if refusal is not None:
        raise VectorIndexError(f"FullTextIndex {spec.name!r} on table {spec.table.name!r}: {refusal}")
    known = backend.fulltext_languages
    if known and spec.language not in known:
        raise VectorIndexError(
            f"FullTextIndex {spec.name!r}: {backend.name} has no stemming rules for language {spec.language!r}; "
            f"use one of {', '.join(known)}"
        )
    return spec


def create_statements(spec: FullTextSpec, dialect: Dialect) -> List[Executable]:
    """Every statement that builds the index on ``dialect`` (what an offline migration prints)."""
    backend = _backend(dialect)
    return backend.fulltext_create_statements(checked_spec(spec, backend), dialect)


def drop_statements(
    name: str, table_name: str, schema: Optional[str], dialect: Dialect, if_exists: bool = False
) -> List[Executable]:
    """Every statement that drops the full-text index ``name`` of ``table_name`` on ``dialect``."""
    return _backend(dialect).fulltext_drop_statements(name, table_name, schema, dialect, if_exists=if_exists)


# -- connection-level API -------------------------------------------------------------

def _spec(index: Union[FullTextIndex, FullTextSpec]) -> FullTextSpec:
    if isinstance(index, FullTextIndex):
        return index.spec
    if isinstance(index, FullTextSpec):
        return index
    raise VectorIndexError(f"expected a FullTextIndex, got {type(index).__name__}")


def check_database_language(connection: Connection, spec: FullTextSpec) -> None:
    """Refuse ``spec`` before any DDL if the database lacks its language (where it can be asked)."""
    known = _backend(connection.dialect).database_fulltext_languages(connection)
    if known is not None and spec.language not in known:
        raise VectorIndexError(
            f"FullTextIndex {spec.name!r}: the database has no text search language {spec.language!r}; "
            f"use one of {', '.join(known)}"
        )


def check_fulltext_name(connection: Connection, spec: FullTextSpec) -> None:
    """Refuse, before any DDL, a name the database holds already: a table, an index (this table's included)."""
    backend = _backend(connection.dialect)
    holder = backend.fulltext_name_holder(connection, spec.name, spec.table.name, spec.schema)
    if holder is None:
        return
    where = f"FullTextIndex {spec.name!r} on {spec.table.name}.{spec.column.name}"
    kind = holder_kind(connection, backend, holder, spec.schema)
    if kind == "full-text index" and holder.table == spec.table.name and holder.name == spec.name:
        raise VectorIndexError(
            f"{where}: table {spec.table.name!r} has a full-text index named {holder.name!r} already; drop it first "
            "(drop_fulltext_index) to build it anew, or choose another name"
        )
    raise VectorIndexError(name_taken(where, kind, holder))


def create_fulltext_index(bind: Bind, index: Union[FullTextIndex, FullTextSpec]) -> None:
    """Build ``index`` (attached to its table) and fill it from the rows already there.

    A name the database holds already (a table, an index) is refused with
    :class:`~sqlalchemy_vector.exc.VectorIndexError` naming it, before any DDL.
    """
    connection = _connection(bind)
    spec = _spec(index)
    statements = create_statements(spec, connection.dialect)
    check_database_language(connection, spec)
    check_fulltext_name(connection, spec)
    backend = _backend(connection.dialect)
    built = _table_index_named_otherwise(backend, connection, spec.table.name, spec.schema, spec.name)
    if built is not None:
        _refuse_second_index(backend, spec, built["name"], built["column"])
    backend.run_ddl_atomically(connection, statements)


def drop_fulltext_index(
    bind: Bind,
    index: Union[FullTextIndex, str],
    *,
    table_name: Optional[str] = None,
    schema: Optional[str] = None,
    if_exists: bool = False,
) -> None:
    """Drop a full-text index by object, or by name and ``table_name``.

    With ``if_exists``, an index that is not there is no error.
    """
    connection = _connection(bind)
    if isinstance(index, FullTextIndex):
        spec = index.spec
        name, table_name, schema = spec.name, spec.table.name, spec.schema if schema is None else schema
    else:
        name = index
        if table_name is None:
            raise VectorIndexError(f"drop_fulltext_index({name!r}) needs table_name= (the indexed table)")
    # Where the index is the table's whatever its name, the name is checked here, or another would go.
    built = _table_index_named_otherwise(_backend(connection.dialect), connection, table_name, schema, name)
    if built is not None:
        if if_exists:
            return
        raise VectorIndexError(
            f"drop_fulltext_index({name!r}): table {table_name!r} has no full-text index named {name!r}; "
            f"its full-text index is {built['name']!r} (on {built['column']}): drop that name"
        )
    for statement in drop_statements(name, table_name, schema, connection.dialect, if_exists=if_exists):
        connection.execute(statement)


def list_fulltext_indexes(
    bind: Bind, table: Union[Table, str, None] = None, *, schema: Optional[str] = None
) -> List[Dict[str, Any]]:
    """The full-text indexes in the database (optionally of one table): ``name``, ``table``, ``column``, ``language``."""
    connection = _connection(bind)
    if isinstance(table, Table):
        schema = schema if schema is not None else table.schema
        table_name: Optional[str] = table.name
    else:
        table_name = table
    backend = backend_for(connection.dialect, feature="full-text indexes")
    if not backend.capabilities.fulltext_search:
        return []  # nothing can have built one
    rows = backend.list_fulltext_indexes(connection, schema)
    if table_name is not None:
        rows = [row for row in rows if row["table"] == table_name]
    return sorted(rows, key=lambda row: (row["table"], row["name"]))


def refresh_fulltext_index(
    bind: Bind, index: Union[FullTextIndex, FullTextSpec], key: Any = None, *, scan: bool = True
) -> bool:
    """Rebuild an index that does not follow writes (DuckDB's) if its table changed; True if rebuilt.

    ``key`` is the table's unique key column (default: its one primary-key
    column).  With ``scan`` (the default) the table is read to find changes
    made by any writer; ``scan=False`` trusts the write log that the RAG
    facade keeps (no scan, but blind to writes made outside the facade).
    Indexes that follow every write (PostgreSQL, SQLite) need nothing, except
    one an earlier version built whose upkeep misses writes today's does not:
    it is brought up to date and rebuilt once (SQLite's, whose update trigger
    missed a changed key; see the README's Upgrading section).
    """
    connection = _connection(bind)
    spec = _spec(index)
    backend = _backend(connection.dialect)
    return backend.refresh_fulltext_index(connection, spec, key_name(spec.table, key), scan=scan)


def note_fulltext_write(bind: Bind, table: Table) -> None:
    """Record in the current transaction that rows of ``table`` changed, for indexes that do not follow writes.

    The RAG facade calls it on each of its writes; ``refresh_fulltext_index(...,
    scan=False)`` then rebuilds.  Nothing to do on backends whose indexes follow writes.
    """
    connection = _connection(bind)
    backend = find_backend(connection.dialect)
    if backend is not None and backend.capabilities.fulltext_search:
        backend.note_fulltext_write(connection, table.name, table.schema)


def key_name(table: Table, key: Any = None) -> str:
    """The name of ``key``, or of the table's one primary-key column."""
    if key is not None:
        return str(getattr(key, "name", key))
    columns = list(table.primary_key.columns)
    if len(columns) != 1:
        raise VectorIndexError(
            f"table {table.name!r} has {len(columns)} primary-key columns; pass key= (a unique column) for full-text search"
        )
    return str(columns[0].name)
