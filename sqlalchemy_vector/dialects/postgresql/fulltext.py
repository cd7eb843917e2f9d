"""Full-text search on PostgreSQL: a GIN index on ``to_tsvector(language, column)``.

The query repeats the index expression exactly, with the language as a
``regconfig`` literal (validated as a plain name), so the planner uses the
index.  ``match_all`` parses the user's text with ``websearch_to_tsquery``
(quoted phrases, ``-word``, every word required); otherwise any word matches:
the lexemes ``to_tsvector`` makes of the user's text, as of a document (an
e-mail address, host name, version number or path stays one lexeme, stop
words go), each quoted and OR-ed into a ``tsquery``, so no operator of the
user's reaches it.  A text with no lexemes left matches nothing.  The query
is searched in its composed and decomposed Unicode forms, since PostgreSQL's
lexemes keep the form the text was written in.
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import bindparam, cast, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.expression import BindParameter, Executable
from sqlalchemy.types import String

from ...fulltext import FullTextSpec

_INDEXDEF = r"to_tsvector\('([a-z_]+)'::regconfig, \(?\"?([^\")]+)\"?"


def _table(spec_table: str, schema: Optional[str], dialect: Dialect) -> str:
    preparer = dialect.identifier_preparer
    return (preparer.quote_schema(schema) + "." if schema else "") + preparer.quote(spec_table)


def _tsvector(spec: FullTextSpec) -> ColumnElement[Any]:
    return func.to_tsvector(literal_column(f"'{spec.language}'::regconfig"), spec.column)


def create_statements(spec: FullTextSpec, dialect: Dialect) -> List[Executable]:
    preparer = dialect.identifier_preparer
    return [
        text(
            f"CREATE INDEX {preparer.quote(spec.name)} ON {_table(spec.table.name, spec.schema, dialect)} "
            f"USING gin (to_tsvector('{spec.language}'::regconfig, {preparer.quote(spec.column.name)}))"
        )
    ]


def drop_statements(name: str, schema: Optional[str], dialect: Dialect, if_exists: bool) -> List[Executable]:
    preparer = dialect.identifier_preparer
    target = (preparer.quote_schema(schema) + "." if schema else "") + preparer.quote(name)
    return [text(f"DROP INDEX {'IF EXISTS ' if if_exists else ''}{target}")]


def text_search_configurations(connection: Connection) -> List[str]:
    """The names of the database's text search configurations (the languages an index can use)."""
    rows = connection.execute(text("SELECT DISTINCT cfgname FROM pg_catalog.pg_ts_config ORDER BY cfgname"))
    return [str(name) for name in rows.scalars()]


def list_indexes(connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
    import re

    # The definition is read of GIN indexes only.  pg_indexes reads every index's, and pg_get_indexdef looks an index
    # up in the catalog as committed now, not as of the statement: an index another connection dropped since the
    # statement began ("cache lookup failed for attribute 1 of relation ...") failed the listing.
    rows = connection.execute(
        text(
            "SELECT ic.relname, tc.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
            "JOIN pg_class ic ON ic.oid = x.indexrelid "
            "JOIN pg_class tc ON tc.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = tc.relnamespace "
            "JOIN pg_am am ON am.oid = ic.relam "
            "WHERE am.amname = 'gin' AND n.nspname = coalesce(:schema, current_schema())"
        ),
        {"schema": schema},
    )
    found = []
    for name, table, definition in rows:
        match = re.search(_INDEXDEF, definition) if "USING gin (to_tsvector(" in definition else None
        if match:
            found.append({"name": name, "table": table, "column": match.group(2), "language": match.group(1)})
    return found


def _any_lexeme(language: str, query: BindParameter[Any]) -> ColumnElement[Any]:
    """A ``tsquery`` matching any lexeme of ``to_tsvector(language, query)``: the query parsed as a document is.

    Each lexeme is written in the ``tsquery`` input syntax (in single quotes,
    its quotes doubled and its backslashes, ``chr(92)``, escaped) and the
    lexemes are joined with ``|``.  No lexeme (only stop words or punctuation)
    gives the empty query, which matches nothing.
    """
    lexemes = (
        text(
            "SELECT coalesce(string_agg('''' || replace(replace(lexeme, chr(92), chr(92) || chr(92)), '''', '''''') "
            f"|| '''', ' | '), '') FROM unnest(to_tsvector('{language}'::regconfig, :fulltext_query))"
        )
        .bindparams(query)
        .columns(lexemes=String())
    )
    return cast(lexemes.scalar_subquery(), TSQUERY)


def arm(
    spec: FullTextSpec, key: ColumnElement[Any], query: str, match_all: bool, dialect: Dialect
) -> Tuple[Select[Any], ColumnElement[Any]]:
    language: ColumnElement[Any] = literal_column(f"'{spec.language}'::regconfig")
    # PostgreSQL's text cannot hold NUL, which the other backends read as a separator: so do we.
    query = query.replace("\x00", " ")
    # Its lexemes keep the Unicode form they were written in ("é" as one code point, or "e" and a combining
    # accent), where the other backends' tokenizers fold them: the query is searched in both forms, so either
    # form of the stored text matches, through the same GIN index on the column as written.
    forms = list(dict.fromkeys(unicodedata.normalize(form, query) for form in ("NFC", "NFD")))
    tsquery: ColumnElement[Any]
    if match_all:
        queries: List[ColumnElement[Any]] = [
            func.websearch_to_tsquery(language, bindparam("fulltext_query", form, type_=String(), unique=True))
            for form in forms
        ]
        tsquery = functools.reduce(lambda left, right: left.op("||")(right), queries)
    else:
        given = bindparam("fulltext_query", " ".join(forms), type_=String(), unique=True)
        tsquery = _any_lexeme(spec.language, given)
    vector = _tsvector(spec)
    statement = select().select_from(spec.table).where(vector.op("@@")(tsquery))
    return statement, func.ts_rank_cd(vector, tsquery)
