"""Full-text search on SQLite: an FTS5 table named after the index, over its table's rows.

The FTS5 table is an *external content* table: it stores only the index and
reads the text from the indexed table by ``rowid``; three triggers keep it in
step with inserts, deletes and updates of the column or the rowid (an index
built by an earlier version, whose trigger missed rowid changes, is brought up
to date by :func:`refresh`).  ``INSERT OR
REPLACE`` deletes the replaced row without delete triggers unless the
connection sets ``PRAGMA recursive_triggers = ON``: its old text then stays in
the index (docs/rag.md says so).  FTS5's ``bm25()`` is smaller for better
matches, so the relevance is its negation.  The query is
built from the words of the user's text, each quoted (``"word"``), joined with
``OR`` (any word) or ``AND`` (every word): FTS5's query syntax (``-``, ``:``,
``*``, ``NEAR``, unbalanced quotes) never sees the user's punctuation.

``language``: ``"english"`` (the porter stemmer) or ``"simple"``.  A table
whose key is not an ``INTEGER PRIMARY KEY`` keeps its rowids until ``VACUUM``,
which may renumber them: rebuild the index after one (drop and create it).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import bindparam, func, literal_column, select, table, text
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.expression import ColumnClause, Executable
from sqlalchemy.types import String

from ...fulltext import FullTextSpec, query_terms
from ..base import NameHolder, qualified_name
from .index import catalog_holder, master_table

LANGUAGES = ("english", "simple")
_TOKENIZERS = {"english": "porter unicode61 remove_diacritics 2", "simple": "unicode61 remove_diacritics 2"}


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sync_statements(spec: FullTextSpec, dialect: Dialect) -> Tuple[str, str]:
    """The trigger bodies that add a row's entry (``new``) and remove it (``old``)."""
    q = dialect.identifier_preparer.quote
    fts, column = q(spec.name), q(spec.column.name)
    insert_new = f"INSERT INTO {fts}(rowid, {column}) VALUES (new.rowid, new.{column});"
    delete_old = f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.rowid, old.{column});"
    return insert_new, delete_old


#: What the update trigger's WHEN says since it follows rowid changes (earlier versions fired on UPDATE OF the column).
_UPDATE_CONDITION = "WHEN old.rowid IS NOT new.rowid OR old.{column} IS NOT new.{column}"


def _update_trigger(spec: FullTextSpec, dialect: Dialect) -> Executable:
    # Any UPDATE that changes the text or the rowid (an INTEGER PRIMARY KEY is the rowid): not only UPDATE OF
    # the column, which misses a changed key and leaves the entry under the old rowid.
    preparer = dialect.identifier_preparer
    q = preparer.quote
    column = q(spec.column.name)
    insert_new, delete_old = _sync_statements(spec, dialect)
    return text(
        f"CREATE TRIGGER {qualified_name(preparer, spec.name + '_au', spec.schema)} AFTER UPDATE ON {q(spec.table.name)} "
        f"{_UPDATE_CONDITION.format(column=column)} BEGIN {delete_old} {insert_new} END"
    )


def create_statements(spec: FullTextSpec, dialect: Dialect) -> List[Executable]:
    # The FTS5 table and its triggers live in their table's schema (an attached database). Only the created
    # objects are qualified: the FTS5 table reads its content table, and a trigger's body names its tables, in
    # their own schema (SQLite refuses qualified names in a trigger's body).
    preparer = dialect.identifier_preparer
    q = preparer.quote
    fts, base, column = q(spec.name), q(spec.table.name), q(spec.column.name)
    created = qualified_name(preparer, spec.name, spec.schema)
    insert_new, delete_old = _sync_statements(spec, dialect)
    return [
        text(
            f"CREATE VIRTUAL TABLE {created} USING fts5({column}, content={_string(spec.table.name)}, "
            f"content_rowid='rowid', tokenize={_string(_TOKENIZERS[spec.language])})"
        ),
        text(f"INSERT INTO {created}({fts}) VALUES ('rebuild')"),
        text(f"CREATE TRIGGER {qualified_name(preparer, spec.name + '_ai', spec.schema)} AFTER INSERT ON {base} BEGIN {insert_new} END"),
        text(f"CREATE TRIGGER {qualified_name(preparer, spec.name + '_ad', spec.schema)} AFTER DELETE ON {base} BEGIN {delete_old} END"),
        _update_trigger(spec, dialect),
    ]


# FTS5's shadow tables of an external-content table, and the triggers create_statements() names after the index.
_SHADOW_SUFFIXES = ("_data", "_idx", "_docsize", "_config")
_TRIGGER_SUFFIXES = ("_ai", "_ad", "_au")


def refresh(connection: Connection, spec: FullTextSpec) -> bool:
    """Bring an index built by an earlier version up to date; True if it was rebuilt.

    Its update trigger fired on ``UPDATE OF`` the column only, so a changed
    ``INTEGER PRIMARY KEY`` (the rowid) left the row's entry under the old
    rowid, where a search found another row or none.  The trigger is replaced
    by today's and the index rebuilt from the table, once; an index built
    since costs one catalog lookup.  A database opened read-only is left as it is.
    """
    preparer = connection.dialect.identifier_preparer
    q = preparer.quote
    trigger = spec.name + "_au"
    found = connection.execute(
        text(f"SELECT sql FROM {master_table(connection, spec.schema)} WHERE type = 'trigger' AND name = :name"),
        {"name": trigger},
    ).scalar()
    current = _UPDATE_CONDITION.format(column=q(spec.column.name))
    if found is None or current in found:
        return False
    fts = q(spec.name)
    try:
        connection.execute(text(f"DROP TRIGGER {qualified_name(preparer, trigger, spec.schema)}"))
    except OperationalError as err:
        if "readonly" not in str(err.orig):
            raise
        return False  # opened read-only: nothing can change its rows either, so it is searched as it is
    connection.execute(_update_trigger(spec, connection.dialect))
    connection.execute(text(f"INSERT INTO {qualified_name(preparer, spec.name, spec.schema)}({fts}) VALUES ('rebuild')"))
    return True


def drop_statements(name: str, dialect: Dialect, if_exists: bool, schema: Optional[str] = None) -> List[Executable]:
    preparer = dialect.identifier_preparer
    maybe = "IF EXISTS " if if_exists else ""
    statements: List[Executable] = [
        text(f"DROP TRIGGER IF EXISTS {qualified_name(preparer, name + suffix, schema)}") for suffix in _TRIGGER_SUFFIXES
    ]
    return statements + [text(f"DROP TABLE {maybe}{qualified_name(preparer, name, schema)}")]


def list_indexes(connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
    import re

    rows = connection.execute(
        text(f"SELECT name, sql FROM {master_table(connection, schema)} WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%USING fts5(%'")
    )
    found = []
    for name, sql in rows:
        content = re.search(r"content='((?:[^']|'')+)'", sql)
        column = re.search(r"fts5\(\s*\"?([^\",]+)\"?\s*,", sql)
        if content is None or column is None:
            continue  # an FTS5 table of the user's own, not an index of a table
        language = "english" if "porter" in sql else "simple"
        found.append(
            {"name": name, "table": content.group(1).replace("''", "'"), "column": column.group(1), "language": language}
        )
    return found


def name_holder(connection: Connection, name: str, schema: Optional[str]) -> Optional[NameHolder]:
    """What holds a name the FTS5 index ``name`` needs: its own, its shadow tables' or its triggers'."""
    tables = [name + suffix for suffix in _SHADOW_SUFFIXES]
    return catalog_holder(connection, name, tables, [name + suffix for suffix in _TRIGGER_SUFFIXES], schema)


def query_string(query: str, match_all: bool) -> str:
    """An FTS5 query matching the words of ``query``: each quoted, once (FTS5's cost grows with the square of
    the terms given, repeated ones too), joined with OR or AND."""
    # Only a term written the same way again is left out: FTS5 folds others by rules of its own.
    return (" AND " if match_all else " OR ").join(f'"{term}"' for term in dict.fromkeys(query_terms(query)))


def arm(
    spec: FullTextSpec, key: ColumnElement[Any], query: str, match_all: bool, dialect: Dialect
) -> Tuple[Select[Any], ColumnElement[Any]]:
    quoted = dialect.identifier_preparer.quote(spec.name)
    fts = table(spec.name, ColumnClause("rowid"), schema=spec.schema)
    base_rowid: ColumnClause[Any] = ColumnClause("rowid", _selectable=spec.table)
    words = query_string(query, match_all)
    # No words (only punctuation): a query that matches nothing, as the other backends do.
    condition = literal_column(quoted).op("MATCH")(bindparam("fulltext_query", words or '""', type_=String(), unique=True))
    statement = select().select_from(spec.table.join(fts, fts.c.rowid == base_rowid)).where(condition)
    return statement, -func.bm25(literal_column(quoted))


def hidden_tables(connection: Connection, schema: Optional[str] = None) -> set[str]:
    """The FTS5 tables of full-text indexes of ``schema`` (an attached database's name; None: main) and their
    shadow tables."""
    hidden: set[str] = set()
    for found in list_indexes(connection, schema):
        hidden.add(found["name"])
        hidden.update(found["name"] + suffix for suffix in ("_data", "_idx", "_docsize", "_config", "_content"))
    return hidden


_NO_SUCH_TABLE = re.compile(r"no such table: (?:[^.\s]+\.)?(\S+)")


def explain_missing_index(statement: str, error: BaseException) -> Optional[Exception]:
    """The error for a search of an FTS5 table that does not exist (the index was never built, or was dropped)."""
    from ...exc import VectorIndexError

    found = _NO_SUCH_TABLE.search(str(error))
    if found is None:
        return None
    name = found.group(1).strip('"')
    if f"{name} MATCH" not in statement and f'"{name}" MATCH' not in statement:
        return None
    return VectorIndexError(
        f"the full-text index {name!r} is not built in this database (the statement searches it); build it with "
        "create_fulltext_index(connection, index) or metadata.create_all(engine), or name a built one in index="
    )
