"""Full-text search on DuckDB: the ``fts`` extension, loaded offline from the ``duckdb-extension-fts`` wheel.

``PRAGMA create_fts_index`` builds schema ``fts_<schema>_<table>`` (one index
per table) with a ``match_bm25(key, query)`` function, larger for better
matches and NULL for rows that do not match.  The index is a snapshot: it does
not see rows written after it was built.  Beside it a one-row table records
the index's name and language, a fingerprint of the table when it was built
(row count and ``bit_xor(hash(key, text))``) and ``built_writes``, how many
writes the write log held then.  The write log is a table in a schema of its
own (``fts_<schema>_<table>#writes``, which rebuilding the index does not
drop): the RAG facade appends one row to it in the transaction of each of its
writes (:func:`note_write`).  Appends do not conflict in DuckDB, so concurrent
writers never fail on it, as they would updating one counter row.
:func:`refresh` rebuilds the index when the log holds more rows than it did at
the build; with ``scan=True`` it also compares the fingerprint with the table
(one scan), which sees writes made outside the facade.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import bindparam, literal_column, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.expression import BindParameter, Executable
from sqlalchemy.sql.functions import Function
from sqlalchemy.types import Boolean, String

from ...exc import MissingExtensionError, VectorIndexError
from ...fulltext import FullTextSpec, key_name, query_terms
from .reliability import lock_writers

#: Stemmers of DuckDB 1.5's fts extension, by language ("simple": none).
STEMMERS = {
    name: name
    for name in (
        "arabic basque catalan danish dutch english finnish french german greek hindi hungarian indonesian irish "
        "italian lithuanian nepali norwegian porter portuguese romanian russian serbian spanish swedish tamil turkish"
    ).split()
}
STEMMERS["simple"] = "none"


def stopwords(language: str) -> str:
    """The fts stop-word list for ``language``: the built-in English one for ``english`` alone, else none.

    PostgreSQL's ``simple`` keeps every word, and the English list (571 words,
    larger than PostgreSQL's 127) does not fit another language's texts.
    """
    return "english" if language == "english" else "none"

_STATE = "index_state"


def fts_extension_path() -> Optional[Path]:
    """The fts extension file shipped by ``duckdb-extension-fts`` for this DuckDB version, if installed."""
    try:
        import duckdb
        import duckdb_extension_fts
    except ImportError:
        return None
    path = Path(duckdb_extension_fts.__file__).parent / "extensions" / f"v{duckdb.__version__}" / "fts.duckdb_extension"
    return path if path.is_file() else None


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


#: A name the fts extension can use: it writes the table's name unquoted into the SQL it generates.
_PLAIN_NAME = re.compile(r"[^\W\d]\w*")


def table_refusal(table_name: str, schema: Optional[str]) -> Optional[str]:
    """Why the fts extension cannot index ``table_name`` (a name it would need quoted), or None."""
    for kind, name in (("schema", schema), ("table", table_name)):
        if name is not None and not _PLAIN_NAME.fullmatch(name):
            return (
                f"DuckDB's full-text extension writes the {kind} name {name!r} unquoted into its own SQL, and this "
                "name needs quoting; index a table whose name (and schema) is letters, digits and _ only, not "
                "starting with a digit (rename it, or keep the text in such a table)"
            )
    return None


def fts_schema(table_name: str, schema: Optional[str]) -> str:
    return f"fts_{schema or 'main'}_{table_name}"


def _qualified(table_name: str, schema: Optional[str]) -> str:
    return f"{schema}.{table_name}" if schema else table_name


def _fingerprint(spec: FullTextSpec, key: str, dialect: Dialect) -> str:
    q = dialect.identifier_preparer.quote
    source = (dialect.identifier_preparer.quote_schema(spec.schema) + "." if spec.schema else "") + q(spec.table.name)
    return f"SELECT count(*), coalesce(bit_xor(hash({q(key)}, {q(spec.column.name)})), 0) FROM {source}"


def _log_schema(table_name: str, schema: Optional[str]) -> str:
    return fts_schema(table_name, schema) + "#writes"


def _log(table_name: str, schema: Optional[str]) -> str:
    return '"' + _log_schema(table_name, schema).replace('"', '""') + '".log'


#: The tables ``PRAGMA create_fts_index`` of DuckDB 1.5.5's fts extension fills in the index's schema.
_FTS_TABLES = ("dict", "docs", "fields", "stats", "stopwords", "terms")


def _drop_index_tables(table_name: str, schema: Optional[str]) -> List[Executable]:
    # DuckDB 1.5.5 fails the COMMIT of a transaction that fills a table and then drops it with its schema (DROP
    # SCHEMA ... CASCADE, what drop_fts_index and create_fts_index's overwrite do): "Attempting to modify table
    # stats but another transaction has dropped this table".  Dropped one by one first, they commit.
    fts = _quoted(fts_schema(table_name, schema))
    return [text(f"DROP TABLE IF EXISTS {fts}.{name}") for name in (*_FTS_TABLES, _STATE)]


def build_statements(spec: FullTextSpec, key: str, dialect: Dialect) -> List[Executable]:
    q = dialect.identifier_preparer.quote
    state = f"{q(fts_schema(spec.table.name, spec.schema))}.{_STATE}"
    log = _log(spec.table.name, spec.schema)
    return [
        *_drop_index_tables(spec.table.name, spec.schema),  # a rebuild's (the write log stays: it counts writes)
        text(
            f"PRAGMA create_fts_index({_string(_qualified(spec.table.name, spec.schema))}, {_string(key)}, "
            f"{_string(spec.column.name)}, stemmer={_string(STEMMERS[spec.language])}, "
            f"stopwords={_string(stopwords(spec.language))}, overwrite=1)"
        ),
        text(f"CREATE SCHEMA IF NOT EXISTS {q(_log_schema(spec.table.name, spec.schema))}"),
        text(f"CREATE TABLE IF NOT EXISTS {log} (written BOOLEAN)"),
        text(
            f"CREATE TABLE {state} (name VARCHAR, column_name VARCHAR, language VARCHAR, rows BIGINT, "
            "fingerprint UBIGINT, built_writes BIGINT NOT NULL)"
        ),
        text(
            f"INSERT INTO {state} SELECT {_string(spec.name)}, {_string(spec.column.name)}, {_string(spec.language)}, "
            f"fingerprint.*, (SELECT count(*) FROM {log}) FROM ({_fingerprint(spec, key, dialect)}) AS fingerprint"
        ),
    ]


def create_statements(spec: FullTextSpec, dialect: Dialect) -> List[Executable]:
    return build_statements(spec, key_name(spec.table), dialect)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def drop_statements(table_name: str, schema: Optional[str], if_exists: bool) -> List[Executable]:
    # drop_fts_index raises when there is no index; all it does is drop the fts schema, which
    # DROP SCHEMA IF EXISTS does without raising.
    fts = _quoted(fts_schema(table_name, schema))
    drop_index = (
        f"DROP SCHEMA IF EXISTS {fts} CASCADE"
        if if_exists
        else f"PRAGMA drop_fts_index({_string(_qualified(table_name, schema))})"
    )
    # Without an index, the DROP TABLE IF EXISTS find no schema and do nothing, and drop_fts_index raises.
    return [
        *_drop_index_tables(table_name, schema),
        text(f"DROP TABLE IF EXISTS {_log(table_name, schema)}"),
        text(drop_index),
        text(f"DROP SCHEMA IF EXISTS {_quoted(_log_schema(table_name, schema))} CASCADE"),
    ]


def has_index(connection: Connection, table_name: str, schema: Optional[str]) -> bool:
    found = connection.execute(
        text("SELECT count(*) FROM duckdb_schemas() WHERE schema_name = :name"),
        {"name": fts_schema(table_name, schema)},
    ).scalar()
    return bool(found)


def ensure_loaded(connection: Connection) -> None:
    loaded = connection.execute(
        text("SELECT count(*) FROM duckdb_extensions() WHERE extension_name = 'fts' AND loaded")
    ).scalar()
    if not loaded:
        raise MissingExtensionError(
            "DuckDB full-text search needs the fts extension, which is not loaded; install the wheel matching "
            "DuckDB exactly (pip install 'duckdb-extension-fts==<duckdb version>', part of sqlalchemy-vector[duckdb]) "
            "and open the engine with sqlalchemy_vector.create_engine"
        )


def list_indexes(connection: Connection, schema: Optional[str]) -> List[Dict[str, Any]]:
    prefix = f"fts_{schema or 'main'}_"
    rows = connection.execute(
        text("SELECT schema_name FROM duckdb_tables() WHERE table_name = :state AND starts_with(schema_name, :prefix)"),
        {"state": _STATE, "prefix": prefix},
    ).scalars().all()
    q = connection.dialect.identifier_preparer.quote
    found = []
    for name in rows:
        row = connection.execute(text(f"SELECT name, column_name, language FROM {q(name)}.{_STATE}")).first()
        if row is not None:
            found.append({"name": row[0], "table": name[len(prefix):], "column": row[1], "language": row[2]})
    return found


def _has_log(connection: Connection, table_name: str, schema: Optional[str]) -> bool:
    found = connection.execute(
        text("SELECT count(*) FROM duckdb_tables() WHERE schema_name = :schema AND table_name = 'log'"),
        {"schema": _log_schema(table_name, schema)},
    ).scalar()
    return bool(found)


def note_write(connection: Connection, table_name: str, schema: Optional[str]) -> None:
    """Log a write to the table for its index (no-op without one): the next refresh rebuilds the index."""
    if _has_log(connection, table_name, schema):
        connection.execute(text(f"INSERT INTO {_log(table_name, schema)} VALUES (true)"))


def refresh(connection: Connection, spec: FullTextSpec, key: str, scan: bool = True) -> bool:
    dialect = connection.dialect
    q = dialect.identifier_preparer.quote
    schema = q(fts_schema(spec.table.name, spec.schema))
    stored = connection.execute(text(f"SELECT * FROM {schema}.{_STATE}")).mappings().first()
    # A state without the write log (an index built by an older version) is rebuilt once.
    stale = stored is None or stored.get("built_writes") is None or not _has_log(connection, spec.table.name, spec.schema)
    if not stale and stopwords(spec.language) == "none":
        # Older versions built every language's index with the English stop words: rebuilt once, without them
        # (a database opened read-only is searched as it is).
        stale = connection.execute(text(f"SELECT count(*) FROM {schema}.stopwords")).scalar() != 0 and (
            connection.execute(text("SELECT current_setting('access_mode')")).scalar() != "read_only"
        )
    if not stale:
        logged = connection.execute(text(f"SELECT count(*) FROM {_log(spec.table.name, spec.schema)}")).scalar()
        stale = logged != stored["built_writes"]  # type: ignore[index]
    if not stale and scan:
        current = connection.execute(text(_fingerprint(spec, key, dialect))).first()
        stale = current is None or (stored["rows"], stored["fingerprint"]) != tuple(current)  # type: ignore[index]
    if not stale:
        return False
    # Rebuilt by one writer of the process at a time: of two at once, DuckDB fails the later one on the other's
    # tables ("Catalog write-write conflict"), which then looks again in a transaction begun after the lock.
    lock_writers(connection, spec.table)
    for statement in build_statements(spec, key, dialect):
        connection.execute(statement)
    return True


def _indexed_words(spec: FullTextSpec, words: BindParameter[Any], dialect: Dialect) -> ColumnElement[Any]:
    """``words`` without those the index never holds: its stop words, and what its tokenizer drops (digits).

    ``match_bm25(..., conjunctive := 1)`` requires a document to hold every
    word of the query, stop words included, which no document does: "the
    json" would match nothing, where PostgreSQL (which drops stop words from
    the query too) finds "json".  So the query keeps only the words that can
    be in the index, as the index's own tokenizer splits them.
    """
    schema = dialect.identifier_preparer.quote(fts_schema(spec.table.name, spec.schema))
    return (
        text(
            f"SELECT coalesce(string_agg(word, ' '), '') FROM (SELECT unnest({schema}.tokenize(:fulltext_query)) AS word) "
            f"AS words WHERE word <> '' AND word NOT IN (SELECT sw FROM {schema}.stopwords)"
        )
        .bindparams(words)
        .columns(word=String())
        .scalar_subquery()
    )


def _is_named(spec: FullTextSpec, dialect: Dialect) -> ColumnElement[Any]:
    """True when the table's index is ``spec`` (its name and column); else the statement fails naming the one it has.

    The table has one index whatever its name (``match_bm25`` is found by the
    table's name alone): without this, a wrong ``index=`` would search it silently.
    """
    schema = dialect.identifier_preparer.quote(fts_schema(spec.table.name, spec.schema))
    table = spec.table.name
    refusal = _string(
        f"hybrid_select: table {table!r} has no full-text index {spec.name!r} on {spec.column.name!r}; DuckDB keeps "
        "one per table, and its index is "
    )
    found = "'''' || name || ''' on ''' || column_name || ''''"
    return (
        text(
            "SELECT CASE WHEN name = :fulltext_index AND column_name = :fulltext_column THEN true "
            f"ELSE error({refusal} || {found} || '; pass that index and its column, or build the index you meant') "
            f"END FROM {schema}.{_STATE}"
        )
        .bindparams(
            bindparam("fulltext_index", spec.name, type_=String(), unique=True),
            bindparam("fulltext_column", spec.column.name, type_=String(), unique=True),
        )
        .columns(named=Boolean())
        .scalar_subquery()
    )


def arm(
    spec: FullTextSpec, key: ColumnElement[Any], query: str, match_all: bool, dialect: Dialect
) -> Tuple[Select[Any], ColumnElement[Any]]:
    given = bindparam("fulltext_query", " ".join(query_terms(query)), type_=String(), unique=True)
    words: ColumnElement[Any] = _indexed_words(spec, given, dialect) if match_all else given
    score: ColumnElement[Any] = Function(
        "match_bm25",
        key,
        words,
        literal_column(f"conjunctive := {1 if match_all else 0}"),
        packagenames=(fts_schema(spec.table.name, spec.schema),),
    )
    return select().select_from(spec.table).where(_is_named(spec, dialect), score.is_not(None)), score


_REFUSAL = re.compile(r"hybrid_select: table .* has no full-text index .*")
_FTS_SCHEMA = re.compile(r'"?(fts_[^".\s]+)"?\.match_bm25')


def explain_missing_index(statement: str, error: BaseException) -> Optional[Exception]:
    """The error for a search through ``match_bm25`` of a table whose fts index does not exist."""
    message = str(error)
    refused = _REFUSAL.search(message)
    if refused is not None:  # the statement's own check of index= (see _is_named), raised by DuckDB's error()
        return VectorIndexError(refused.group(0))
    found = _FTS_SCHEMA.search(statement)
    if found is None or "does not exist" not in message:
        return None
    schema = found.group(1)
    # Which the binder reaches first: the index's schema (its state table) or its match_bm25 function.
    if "match_bm25" not in message and f'schema "{schema}"' not in message:
        return None
    return VectorIndexError(
        f"the table's full-text index is not built in this database (no schema {schema}, where DuckDB keeps it); "
        "build it with create_fulltext_index(connection, index) or metadata.create_all(engine)"
    )
