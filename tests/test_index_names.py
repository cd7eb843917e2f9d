"""An index name the database holds already (a table, another table's index) is refused before any DDL, naming both.

Where names collide differs: PostgreSQL and SQLite name tables and indexes alike, DuckDB names indexes apart from
tables (per schema), ClickHouse per table.  The refusal comes before any statement runs, so nothing is left half
built and, on PostgreSQL, the transaction stays usable.
"""

from __future__ import annotations

from typing import Any, List, Set, Tuple

import pytest
import sqlalchemy as sa
from sqlalchemy import Column, Index, Integer, MetaData, Table, Text, insert, text
from sqlalchemy.engine import Connection

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import VectorIndexError
from sqlalchemy_vector.fulltext import FullTextSpec

from tests.conftest import CLICKHOUSE

INDEXED = ("sqlite", "duckdb", "postgresql", CLICKHOUSE)
# Backends whose index names are shared with tables (a table's name is refused as an index's).
TABLES_SHARE_NAMES = ("sqlite", "postgresql")


def two_tables(conn: Connection) -> Tuple[Table, Table]:
    metadata = MetaData()
    tables = [
        Table(
            name,
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("body", Text),
            Column("embedding", sv.Vector(3)),
        )
        for name in ("names_docs", "names_other")
    ]
    metadata.create_all(conn)
    for table in tables:
        conn.execute(insert(table), [{"id": 1, "body": "hello world", "embedding": [1, 0, 0]}])
    return tables[0], tables[1]


def vector_index(name: str, table: Table) -> sv.VectorIndex:
    # On a copy of the table, so that a refused index does not stay declared on it.
    copy = table.to_metadata(MetaData())
    return sv.VectorIndex(name, copy.c.embedding, metric="cosine", duckdb_experimental_persistence=True)


def catalog_names(conn: Connection, backend: str) -> Set[str]:
    """Every table, index and trigger name of the database (ClickHouse: tables and skip indexes)."""
    if backend == "sqlite":
        return {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master"))}
    if backend == "postgresql":
        return {row[0] for row in conn.execute(text("SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace"))}
    if backend == "duckdb":
        found = conn.execute(text("SELECT table_name FROM duckdb_tables() UNION ALL SELECT index_name FROM duckdb_indexes()"))
        return {row[0] for row in found}
    found = conn.execute(text("SELECT name FROM system.tables WHERE database = currentDatabase() UNION ALL "
                              "SELECT name FROM system.data_skipping_indices WHERE database = currentDatabase()"))
    return {row[0] for row in found}


def refused(conn: Connection, backend: str, message: str, build: Any, *args: Any, **kwargs: Any) -> None:
    """``build(*args, **kwargs)`` raises VectorIndexError matching ``message`` and creates nothing."""
    before = catalog_names(conn, backend)
    with pytest.raises(VectorIndexError, match=message):
        build(*args, **kwargs)
    assert catalog_names(conn, backend) == before  # the transaction is still usable, and nothing was built


@pytest.mark.parametrize("backend", INDEXED)
def test_a_vector_index_name_held_by_a_table_or_another_index_is_refused_naming_both(conn: Connection, backend: str) -> None:
    docs, other = two_tables(conn)
    sv.create_vector_index(conn, vector_index("names_vix", other))
    if backend == CLICKHOUSE:
        conn.exec_driver_sql("ALTER TABLE names_docs ADD INDEX names_plain body TYPE minmax")
    else:
        Index("names_plain", docs.c.id).create(conn)
        Index("names_plain_other", other.c.id).create(conn)
    fix = "choose another name for the index, or drop {} first"

    def taken(name: str, held_by: str) -> str:
        return rf"VectorIndex '{name}' on names_docs.embedding: the name is taken in the database by {held_by}; " + fix.format(held_by)

    # An index of the same table that is no vector index: IF NOT EXISTS would build nothing and say nothing.
    create = sv.create_vector_index
    for if_not_exists in (False, True):
        refused(
            conn, backend, taken("names_plain", "index 'names_plain' of table 'names_docs'"),
            create, conn, vector_index("names_plain", docs), if_not_exists=if_not_exists,
        )
    if backend != CLICKHOUSE:  # there, index names are per table
        for if_not_exists in (False, True):
            refused(
                conn, backend, taken("names_vix", "vector index 'names_vix' of table 'names_other'"),
                create, conn, vector_index("names_vix", docs), if_not_exists=if_not_exists,
            )
        refused(
            conn, backend, taken("names_plain_other", "index 'names_plain_other' of table 'names_other'"),
            create, conn, vector_index("names_plain_other", docs),
        )
    if backend in TABLES_SHARE_NAMES:
        for name in ("names_other", "names_docs"):
            refused(conn, backend, taken(name, f"table '{name}'"), create, conn, vector_index(name, docs))
    else:  # an index may take a table's name
        create(conn, vector_index("names_other", docs))
    # The same vector index again: refused without if_not_exists, kept with it (as before).
    refused(
        conn, backend,
        r"VectorIndex 'names_vix' on names_other.embedding: table 'names_other' has a vector index named 'names_vix' "
        r"already; pass if_not_exists=True to keep it, drop it first \(drop_vector_index\) to build it anew, or "
        "choose another name",
        create, conn, vector_index("names_vix", other),
    )
    sv.create_vector_index(conn, vector_index("names_vix", other), if_not_exists=True)
    built = [(row["name"], row["table"]) for row in sv.list_vector_indexes(conn)]
    expected: List[Tuple[str, str]] = [("names_vix", "names_other")]
    if backend not in TABLES_SHARE_NAMES:
        expected.insert(0, ("names_other", "names_docs"))
    assert built == expected


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_create_all_refuses_a_taken_index_name_before_creating_the_table(conn: Connection, backend: str) -> None:
    two_tables(conn)
    metadata = MetaData()
    Table(
        "names_new",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", sv.Vector(3)),
        sv.VectorIndex("names_other", "embedding"),
    )
    with pytest.raises(VectorIndexError, match="VectorIndex 'names_other' on names_new.embedding: the name is taken in the database by table 'names_other'"):
        metadata.create_all(conn)
    assert not sa.inspect(conn).has_table("names_new")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_vec0_build_needing_a_trigger_name_held_elsewhere_is_refused(conn: Connection, backend: str) -> None:
    # sqlite-vec's index is a vec0 table, its shadow tables and three triggers, all named after the index.
    docs, other = two_tables(conn)
    conn.exec_driver_sql("CREATE TRIGGER names_ix_sync_insert AFTER INSERT ON names_other BEGIN SELECT 1; END")
    conn.exec_driver_sql("CREATE TABLE names_iy_chunks (x)")
    refused(
        conn, "sqlite",
        "VectorIndex 'names_ix' on names_docs.embedding: the name is taken in the database by trigger "
        "'names_ix_sync_insert' of table 'names_other'",
        sv.create_vector_index, conn, vector_index("names_ix", docs),
    )
    refused(
        conn, "sqlite", "the name is taken in the database by table 'names_iy_chunks'",
        sv.create_vector_index, conn, vector_index("names_iy", docs),
    )


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql"])
def test_a_fulltext_index_name_held_by_a_table_or_another_index_is_refused_naming_both(conn: Connection, backend: str) -> None:
    docs, other = two_tables(conn)
    sv.create_vector_index(conn, vector_index("names_vix", other))

    def fulltext(name: str) -> None:
        sv.create_fulltext_index(conn, FullTextSpec(name, docs, docs.c.body, "english"))

    if backend == "duckdb":  # its index is named after its table: any name builds
        fulltext("names_other")
        assert [i["name"] for i in sv.list_fulltext_indexes(conn, docs)] == ["names_other"]
        return
    sv.create_fulltext_index(conn, FullTextSpec("names_fto", other, other.c.body, "english"))
    where = "FullTextIndex '{}' on names_docs.body: the name is taken in the database by {}; choose another name"
    refused(conn, backend, where.format("names_other", "table 'names_other'"), fulltext, "names_other")
    refused(conn, backend, where.format("names_vix", "vector index 'names_vix' of table 'names_other'"), fulltext, "names_vix")
    refused(conn, backend, where.format("names_fto", "full-text index 'names_fto' of table 'names_other'"), fulltext, "names_fto")
    refused(
        conn, backend,
        "VectorIndex 'names_fto' on names_docs.embedding: the name is taken in the database by full-text index "
        "'names_fto' of table 'names_other'",
        sv.create_vector_index, conn, vector_index("names_fto", docs),
    )
    fulltext("names_ft")
    refused(
        conn, backend,
        r"FullTextIndex 'names_ft' on names_docs.body: table 'names_docs' has a full-text index named 'names_ft' "
        r"already; drop it first \(drop_fulltext_index\)",
        fulltext, "names_ft",
    )
    if backend == "sqlite":  # an FTS5 index is a table, its shadow tables and three triggers named after it
        conn.exec_driver_sql("CREATE TRIGGER names_fx_ad AFTER DELETE ON names_other BEGIN SELECT 1; END")
        refused(conn, backend, where.format("names_fx", "trigger 'names_fx_ad' of table 'names_other'"), fulltext, "names_fx")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_alembic_create_fulltext_index_refuses_a_taken_name(conn: Connection, backend: str) -> None:
    import sqlalchemy_vector.alembic  # noqa: F401  - registers the operations
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    two_tables(conn)
    operations: Any = Operations(MigrationContext.configure(conn))
    refused(
        conn, backend,
        "FullTextIndex 'names_other' on names_docs.body: the name is taken in the database by table 'names_other'",
        operations.create_fulltext_index, "names_other", "names_docs", "body",
    )
