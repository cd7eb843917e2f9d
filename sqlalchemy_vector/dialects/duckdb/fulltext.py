"""Full-text search on DuckDB: the ``fts`` extension, loaded offline from the ``duckdb-extension-fts`` wheel.

``PRAGMA create_fts_index`` builds schema ``fts_<schema>_<table>`` (one index
per table) with a ``match_bm25(key, query)`` function, larger for better
matches and NULL for rows that do not match.  The index is a snapshot: it does
not see rows written after it was built.  Beside it a one-row table records
the index's name and language, a fingerprint of the table when it was built
(row count and ``bit_xor(hash(key, text))``) and ``writes``, a counter of
writes since it was built that the RAG facade bumps in the transaction of each
of its writes (:func:`note_write`).  :func:`refresh` rebuilds the index when
the counter is not zero; with ``scan=True`` it also compares the fingerprint
with the table (one scan), which sees writes made outside the facade.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import bindparam, literal_column, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.functions import Function
from sqlalchemy.types import String

from ...exc import MissingExtensionError
from ...fulltext import FullTextSpec, key_name, query_terms

#: Stemmers of DuckDB 1.5's fts extension, by language ("simple": none).
STEMMERS = {
    name: name
    for name in (
        "arabic basque catalan danish dutch english finnish french german greek hindi hungarian indonesian irish "
        "italian lithuanian nepali norwegian porter portuguese romanian russian serbian spanish swedish tamil turkish"
    ).split()
}
STEMMERS["simple"] = "none"

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


def fts_schema(table_name: str, schema: Optional[str]) -> str:
    return f"fts_{schema or 'main'}_{table_name}"


def _qualified(table_name: str, schema: Optional[str]) -> str:
    return f"{schema}.{table_name}" if schema else table_name


def _fingerprint(spec: FullTextSpec, key: str, dialect: Dialect) -> str:
    q = dialect.identifier_preparer.quote
    source = (dialect.identifier_preparer.quote_schema(spec.schema) + "." if spec.schema else "") + q(spec.table.name)
    return f"SELECT count(*), coalesce(bit_xor(hash({q(key)}, {q(spec.column.name)})), 0) FROM {source}"


def build_statements(spec: FullTextSpec, key: str, dialect: Dialect) -> List[Executable]:
    q = dialect.identifier_preparer.quote
    state = f"{q(fts_schema(spec.table.name, spec.schema))}.{_STATE}"
    return [
        text(
            f"PRAGMA create_fts_index({_string(_qualified(spec.table.name, spec.schema))}, {_string(key)}, "
            f"{_string(spec.column.name)}, stemmer={_string(STEMMERS[spec.language])}, overwrite=1)"
        ),
        text(
            f"CREATE TABLE {state} (name VARCHAR, column_name VARCHAR, language VARCHAR, rows BIGINT, "
            "fingerprint UBIGINT, writes BIGINT NOT NULL)"
        ),
        text(
            f"INSERT INTO {state} SELECT {_string(spec.name)}, {_string(spec.column.name)}, {_string(spec.language)}, "
            f"fingerprint.*, 0 FROM ({_fingerprint(spec, key, dialect)}) AS fingerprint"
        ),
    ]


def create_statements(spec: FullTextSpec, dialect: Dialect) -> List[Executable]:
    return build_statements(spec, key_name(spec.table), dialect)


def drop_statements(table_name: str, schema: Optional[str], if_exists: bool) -> List[Executable]:
    # drop_fts_index raises when there is none; if_exists checks the catalog first (see drop).
    return [text(f"PRAGMA drop_fts_index({_string(_qualified(table_name, schema))})")]


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


def _has_state(connection: Connection, table_name: str, schema: Optional[str]) -> bool:
    found = connection.execute(
        text("SELECT count(*) FROM duckdb_tables() WHERE schema_name = :schema AND table_name = :state"),
        {"schema": fts_schema(table_name, schema), "state": _STATE},
    ).scalar()
    return bool(found)


def note_write(connection: Connection, table_name: str, schema: Optional[str]) -> None:
    """Count a write to the table in its index's state (no-op without an index): the next refresh rebuilds."""
    if _has_state(connection, table_name, schema):
        q = connection.dialect.identifier_preparer.quote
        connection.execute(text(f"UPDATE {q(fts_schema(table_name, schema))}.{_STATE} SET writes = writes + 1"))


def refresh(connection: Connection, spec: FullTextSpec, key: str, scan: bool = True) -> bool:
    dialect = connection.dialect
    q = dialect.identifier_preparer.quote
    state = f"{q(fts_schema(spec.table.name, spec.schema))}.{_STATE}"
    stored = connection.execute(text(f"SELECT * FROM {state}")).mappings().first()
    # A state without the counter (an index built by an older version) is rebuilt once.
    stale = stored is None or stored.get("writes") is None or stored["writes"] != 0
    if not stale and scan:
        current = connection.execute(text(_fingerprint(spec, key, dialect))).first()
        stale = current is None or (stored["rows"], stored["fingerprint"]) != tuple(current)  # type: ignore[index]
    if not stale:
        return False
    for statement in build_statements(spec, key, dialect):
        connection.execute(statement)
    return True


def arm(
    spec: FullTextSpec, key: ColumnElement[Any], query: str, match_all: bool, dialect: Dialect
) -> Tuple[Select[Any], ColumnElement[Any]]:
    words = " ".join(query_terms(query))
    score: ColumnElement[Any] = Function(
        "match_bm25",
        key,
        bindparam("fulltext_query", words, type_=String()),
        literal_column(f"conjunctive := {1 if match_all else 0}"),
        packagenames=(fts_schema(spec.table.name, spec.schema),),
    )
    return select().select_from(spec.table).where(score.is_not(None)), score
