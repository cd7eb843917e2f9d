"""Alembic round trips on each backend: what a downgrade does to the table's indexes, names that need quoting.

Each test runs a real Alembic project (made by sqlalchemy_vector.alembic.init)
against a database of its own.
"""

from __future__ import annotations

from pathlib import Path
import itertools
from typing import Any, Iterator, List, Optional

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, inspect, text

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import VectorIndexError
from sqlalchemy_vector.fulltext import FullTextIndex, create_fulltext_index, list_fulltext_indexes
from sqlalchemy_vector.index import VectorIndex, create_vector_index, list_vector_indexes

from index_helpers import fresh_database
from test_alembic import Project, body, position
from test_alembic_fixes import TRIGGERS, fulltext_follows_writes, sqlite_triggers


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path, request) as url:
        yield url


def indexed_models(fulltext: bool, extra: bool = False) -> MetaData:
    metadata = MetaData()
    table = Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("body", Text),
        Column("embedding", sv.Vector(3)),
        VectorIndex("ix_docs_embedding", "embedding", metric="l2", duckdb_experimental_persistence=True),
    )
    if fulltext:
        FullTextIndex("ft_docs_body", table.c.body)
    if extra:
        table.append_column(Column("extra", Integer))
    return metadata


def indexes(url: str) -> dict[str, list[tuple[str, str]]]:
    engine = sv.create_engine(url)
    try:
        with engine.connect() as connection:
            found = {"vector": [(row["name"], row["column"]) for row in list_vector_indexes(connection, "docs")]}
            if engine.dialect.name != "clickhousedb":
                found["fulltext"] = [(row["name"], row["column"]) for row in list_fulltext_indexes(connection, "docs")]
            return found
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", ["sqlite", "duckdb", "postgresql", "clickhouse"], indirect=True)
def test_downgrade_of_an_added_column_keeps_the_indexes(database: str, tmp_path: Path) -> None:
    # The upgrade adds a column in place; its downgrade drops it, which copies the table on SQLite (losing the
    # sync triggers of vector and full-text indexes) and is refused on an indexed table by DuckDB.
    fulltext = not database.startswith("clickhousedb")
    project = Project(tmp_path, database)
    project.autogenerate(indexed_models(fulltext), "docs")
    project.upgrade()
    built = indexes(database)
    assert built["vector"] == [("ix_docs_embedding", "embedding")]

    source = project.autogenerate(indexed_models(fulltext, extra=True), "extra")
    up = body(source, "upgrade")
    assert not [line for line in up if "vector_index" in line or "fulltext_index" in line], source  # left alone
    project.upgrade()
    assert indexes(database) == built
    project.downgrade("-1")
    assert indexes(database) == built
    if database.startswith("sqlite"):
        synced = [f"ix_docs_embedding_sync_{event}" for event in ("delete", "insert", "update")]
        assert sqlite_triggers(database) == TRIGGERS + synced
        fulltext_follows_writes(database, indexed_models(fulltext), 10)
    project.last_path.unlink()  # the downgraded revision
    project.assert_no_changes(indexed_models(fulltext))
    project.downgrade("base")


def leftovers(url: str) -> set[str]:
    """What the database holds besides Alembic's table: tables, triggers, schemas."""
    engine = sv.create_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                rows = connection.execute(text("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
            elif engine.dialect.name == "duckdb":
                rows = connection.execute(
                    text(
                        "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() "
                        "AND NOT internal UNION ALL SELECT table_name FROM duckdb_tables() "
                        "WHERE database_name = current_database()"
                    )
                )
            else:
                rows = connection.execute(
                    text("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'i')")
                )
            return set(rows.scalars()) - {"alembic_version", "alembic_version_pkc", "public", "main"}
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", ["sqlite", "duckdb", "postgresql"], indirect=True)
def test_dropped_table_takes_its_fulltext_index_and_the_downgrade_builds_it(database: str, tmp_path: Path) -> None:
    project = Project(tmp_path, database)
    project.autogenerate(indexed_models(fulltext=True), "docs")
    project.upgrade()
    built = indexes(database)
    assert built["fulltext"] == [("ft_docs_body", "body")]

    source = project.autogenerate(MetaData(), "no docs")
    up, down = body(source, "upgrade"), body(source, "downgrade")
    assert position(up, "op.drop_fulltext_index('ft_docs_body', 'docs')") < position(up, "op.drop_table('docs'")
    assert position(down, "op.create_table('docs'") < position(
        down, "op.create_fulltext_index('ft_docs_body', 'docs', 'body', language='english')"
    )
    project.upgrade()
    assert leftovers(database) == set()  # no FTS5 table, no fts schema outliving the table
    project.assert_no_changes(MetaData())

    project.downgrade("-1")
    assert indexes(database) == built
    if database.startswith("sqlite"):
        fulltext_follows_writes(database, indexed_models(fulltext=True), 10)
    project.downgrade("base")
    assert leftovers(database) == set()


def clickhouse_models(with_codes: bool) -> MetaData:
    metadata = MetaData()
    table = Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", sv.Vector(3)),
        Column("packed", sv.Vector(3), clickhousedb_codec="ZSTD(1)"),
        VectorIndex("ix_docs_embedding", "embedding", metric="l2"),
    )
    if with_codes:
        table.append_column(Column("codes", sv.Vector(4)))
    return metadata


def clickhouse_codecs(url: str) -> dict[str, str]:
    engine = sv.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT name, compression_codec FROM system.columns WHERE database = currentDatabase() AND table = 'docs'")
            )
            return {name: codec for name, codec in rows if name != "id"}
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", ["clickhouse"], indirect=True)
def test_clickhouse_downgrades_recreate_vector_columns_with_their_codec(database: str, tmp_path: Path) -> None:
    # Reflection gives a dropped vector column its codec (clickhousedb_codec='NONE'), which the downgrade
    # renders; the column's DDL then declared CODEC(NONE) twice, a syntax error.
    project = Project(tmp_path, database)
    project.autogenerate(clickhouse_models(with_codes=True), "docs")
    project.upgrade()
    created = {"embedding": "CODEC(NONE)", "packed": "CODEC(ZSTD(1))", "codes": "CODEC(NONE)"}
    assert clickhouse_codecs(database) == created  # a declared codec is kept
    project.autogenerate(clickhouse_models(with_codes=False), "no codes")
    project.upgrade()
    project.autogenerate(MetaData(), "no docs")
    project.upgrade()
    project.downgrade("-1")
    assert indexes(database)["vector"] == [("ix_docs_embedding", "embedding")]
    project.downgrade("-1")
    assert clickhouse_codecs(database) == created
    project.downgrade("base")


def quoted_models(metric: str) -> MetaData:
    metadata = MetaData()
    table = Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("Emb, Col", sv.Vector(3), key="emb"),
    )
    VectorIndex("ix_docs_emb", table.c.emb, metric=metric, duckdb_experimental_persistence=True)
    return metadata


@pytest.mark.parametrize("database", ["duckdb", "postgresql", "clickhouse"], indirect=True)
def test_index_on_a_column_name_that_needs_quoting(database: str, tmp_path: Path) -> None:
    # DuckDB reports such a column as '"Emb, Col"' in duckdb_indexes(): every autogenerate proposed to build
    # the index again, and the downgrade's create_vector_index named a column that does not exist.
    project = Project(tmp_path, database)
    project.autogenerate(quoted_models("cosine"), "docs")
    project.upgrade()
    assert indexes(database)["vector"] == [("ix_docs_emb", "Emb, Col")]
    project.assert_no_changes(quoted_models("cosine"))
    source = project.autogenerate(quoted_models("l2"), "metric")
    assert "op.create_vector_index('ix_docs_emb', 'docs', 'Emb, Col', metric='cosine'" in source, source  # downgrade
    project.upgrade()
    project.assert_no_changes(quoted_models("l2"))
    project.downgrade("-1")
    assert indexes(database)["vector"] == [("ix_docs_emb", "Emb, Col")]
    project.downgrade("base")


def kind_models(column_type: Any) -> MetaData:
    metadata = MetaData()
    table = Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", column_type),
    )
    VectorIndex("ix_docs_embedding", table.c.embedding, metric="cosine")
    return metadata


def opclass(url: str) -> str:
    engine = sv.create_engine(url)
    try:
        with engine.connect() as connection:
            return str(
                connection.execute(
                    text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_docs_embedding'")
                ).scalar_one()
            ).rsplit("(", 1)[1]
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_kind_change_of_an_indexed_column_builds_its_index_again(database: str, tmp_path: Path) -> None:
    # Vector to HalfVector needs another operator class: ALTER COLUMN ... TYPE halfvec failed on the index's
    # vector_cosine_ops.
    project = Project(tmp_path, database)
    project.autogenerate(kind_models(sv.Vector(3)), "docs")
    project.upgrade()
    engine = sv.create_engine(database)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO docs VALUES (1, '[1,2,3]')"))
    finally:
        engine.dispose()
    source = project.autogenerate(kind_models(sv.HalfVector(3)), "half")
    up, down = body(source, "upgrade"), body(source, "downgrade")
    assert position(up, "op.drop_vector_index('ix_docs_embedding'") < position(up, "op.alter_column('docs', 'embedding'")
    assert position(up, "op.alter_column('docs', 'embedding'") < position(up, "op.create_vector_index('ix_docs_embedding'")
    assert "kind='half'" in up[position(up, "op.create_vector_index")]
    assert "kind=" not in down[position(down, "op.create_vector_index")]  # the downgrade builds the Vector's index
    project.upgrade()
    assert opclass(database) == "embedding halfvec_cosine_ops)"
    project.assert_no_changes(kind_models(sv.HalfVector(3)))
    project.downgrade("-1")
    assert opclass(database) == "embedding vector_cosine_ops)"
    project.downgrade("base")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_index_the_database_cannot_build_is_refused_by_autogenerate(database: str, tmp_path: Path) -> None:
    # Refused at upgrade, it failed after the table had been created or copied (SQLite's DDL does not roll back).
    project = Project(tmp_path, database)
    with pytest.raises(VectorIndexError, match=r"'ix_docs_embedding'.*does not index int8 vectors"):
        project.autogenerate(kind_models(sv.Int8Vector(3)), "int8")
    assert list((project.scripts / "versions").glob("*.py")) == []
    project.autogenerate(kind_models(sv.Vector(3)), "docs")
    project.upgrade()
    with pytest.raises(VectorIndexError, match=r"'ix_docs_embedding'.*does not index int8 vectors"):
        project.autogenerate(kind_models(sv.Int8Vector(3)), "int8")
    assert indexes(database)["vector"] == [("ix_docs_embedding", "embedding")]
    project.assert_no_changes(kind_models(sv.Vector(3)))


def fulltext_language_models(language: str) -> MetaData:
    metadata = MetaData()
    table = Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("body", Text),
    )
    FullTextIndex("ft_docs_body", table.c.body, language=language)
    return metadata


def fulltext_languages(url: str) -> list[tuple[str, str]]:
    engine = sv.create_engine(url)
    try:
        with engine.connect() as connection:
            return [(row["name"], row["language"]) for row in list_fulltext_indexes(connection, "docs")]
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", ["sqlite", "duckdb", "postgresql"], indirect=True)
def test_fulltext_history_runs_in_one_go_both_ways(database: str, tmp_path: Path) -> None:
    # A full-text index built and dropped in one run (a downgrade to base, a fresh upgrade of a history that
    # changes its language): DuckDB 1.5.5 failed the COMMIT of such a transaction.
    project = Project(tmp_path, database)
    project.autogenerate(fulltext_language_models("english"), "docs")
    project.upgrade()
    project.autogenerate(fulltext_language_models("simple"), "simple")
    project.upgrade()
    assert fulltext_languages(database) == [("ft_docs_body", "simple")]
    project.downgrade("base")
    assert leftovers(database) == set()
    project.upgrade()
    assert fulltext_languages(database) == [("ft_docs_body", "simple")]
    project.assert_no_changes(fulltext_language_models("simple"))
    project.downgrade("base")
    assert leftovers(database) == set()


def two_fulltext_models() -> MetaData:
    metadata = fulltext_language_models("english")
    table = metadata.tables["docs"]
    table.append_column(Column("title", Text))
    FullTextIndex("ft_docs_title", table.c.title)
    return metadata


@pytest.mark.parametrize("database", ["sqlite", "duckdb", "postgresql"], indirect=True)
def test_fulltext_index_the_database_cannot_build_is_refused_by_autogenerate(database: str, tmp_path: Path) -> None:
    # Refused at upgrade, on SQLite it failed after the old index had been dropped: the migration half done.
    project = Project(tmp_path, database)
    project.autogenerate(fulltext_language_models("english"), "docs")
    project.upgrade()
    unknown = "german" if database.startswith("sqlite") else "klingon"
    with pytest.raises(VectorIndexError, match=rf"FullTextIndex 'ft_docs_body'.*{unknown}"):
        project.autogenerate(fulltext_language_models(unknown), "language")
    if database.startswith("duckdb"):  # one full-text index per table
        with pytest.raises(VectorIndexError, match=r"FullTextIndex 'ft_docs_title'.*one full-text index per table"):
            project.autogenerate(two_fulltext_models(), "second")
    assert len(list((project.scripts / "versions").glob("*.py"))) == 1
    assert fulltext_languages(database) == [("ft_docs_body", "english")]
    project.assert_no_changes(fulltext_language_models("english"))


@pytest.mark.parametrize("database", ["duckdb"], indirect=True)
def test_duckdb_fulltext_index_on_a_table_name_fts_cannot_parse(database: str, tmp_path: Path) -> None:
    # The fts extension splices the table name into its SQL: 'My Docs' failed with a parser error at upgrade,
    # after the table had been created; create_all likewise.
    metadata = MetaData()
    table = Table("My Docs", metadata, Column("id", Integer, primary_key=True, autoincrement=False), Column("body", Text))
    FullTextIndex("ft_my_docs", table.c.body)
    expected = (
        r"FullTextIndex 'ft_my_docs' on table 'My Docs': DuckDB's full-text extension writes the table name "
        r"'My Docs' unquoted into its own SQL.*letters, digits and _ only"
    )
    project = Project(tmp_path, database)
    with pytest.raises(VectorIndexError, match=expected):
        project.autogenerate(metadata, "docs")
    engine = sv.create_engine(database)
    try:
        with pytest.raises(VectorIndexError, match=expected):
            metadata.create_all(engine)
        assert not inspect(engine).has_table("My Docs")  # refused before the table is created
    finally:
        engine.dispose()


def manual_models(body_required: bool = False, extra: bool = False) -> MetaData:
    metadata = MetaData()
    table = Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("body", Text, nullable=not body_required),
        Column("embedding", sv.Vector(3)),
    )
    if extra:
        table.append_column(Column("extra", Integer))
    return metadata


_KEYS = itertools.count(100)


def fulltext_follows_writes_in(url: str, index_name: str) -> None:
    """A row inserted into docs is found through the SQLite full-text index, and no longer once deleted."""
    key = next(_KEYS)
    engine = sv.create_engine(url)
    try:
        with engine.begin() as connection:
            def matches() -> List[int]:
                found = connection.execute(text(f"SELECT rowid FROM {index_name} WHERE {index_name} MATCH :word"), {"word": f"quince{key}"})
                return list(found.scalars())

            connection.execute(text("INSERT INTO docs (id, body) VALUES (:id, :body)"), {"id": key, "body": f"quince{key} tart"})
            assert matches() == [key]
            connection.execute(text("DELETE FROM docs WHERE id = :id"), {"id": key})
            assert matches() == []
    finally:
        engine.dispose()


def leave_manual_indexes_alone(project: Project) -> List[tuple[str, str, bool]]:
    """Give the project's env.py an include_object hook leaving out indexes named *_manual; what it was shown."""
    seen: List[tuple[str, str, bool]] = []
    env = project.scripts / "env.py"
    source = env.read_text()
    configure = "        **sqlalchemy_vector.alembic.context_options(connection),"
    assert configure in source
    env.write_text(
        source.replace(
            configure, "        **sqlalchemy_vector.alembic.context_options(connection, include_object=config.attributes['hook']),"
        )
    )

    def hook(obj: Any, name: Optional[str], type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ in ("vector_index", "fulltext_index"):
            assert isinstance(obj, VectorIndex if type_ == "vector_index" else FullTextIndex), obj
            seen.append((type_, str(name), reflected))
        return not str(name).endswith("_manual")

    project.config.attributes["hook"] = hook
    return seen


@pytest.mark.parametrize("database", ["sqlite", "duckdb", "postgresql"], indirect=True)
def test_include_object_keeps_indexes_made_outside_the_models(database: str, tmp_path: Path) -> None:
    # The database's vector and full-text indexes never reached include_object: autogenerate dropped an index
    # the hook leaves out, and a table rebuild lost it.
    project = Project(tmp_path, database)
    seen = leave_manual_indexes_alone(project)
    project.autogenerate(manual_models(), "docs")
    project.upgrade()
    table = manual_models().tables["docs"]
    engine = sv.create_engine(database)
    try:
        with engine.begin() as connection:
            create_vector_index(connection, VectorIndex("ix_manual", table.c.embedding, duckdb_experimental_persistence=True))
            create_fulltext_index(connection, FullTextIndex("ft_manual", table.c.body))
    finally:
        engine.dispose()
    built = indexes(database)
    assert built == {"vector": [("ix_manual", "embedding")], "fulltext": [("ft_manual", "body")]}
    project.assert_no_changes(manual_models())
    assert ("vector_index", "ix_manual", True) in seen and ("fulltext_index", "ft_manual", True) in seen

    # Changes that rebuild the table (NOT NULL: SQLite copies it, DuckDB alters it), or whose downgrade does.
    for step in (manual_models(body_required=True), manual_models(body_required=True, extra=True)):
        source = project.autogenerate(step, "step")
        assert "_manual" not in "\n".join(body(source, "upgrade")) or not database.startswith("postgresql"), source
        project.upgrade()
        assert indexes(database) == built
        if database.startswith("sqlite"):
            fulltext_follows_writes_in(database, "ft_manual")
        project.assert_no_changes(step)
    project.downgrade("-1")
    assert indexes(database) == built
    project.downgrade("-1")
    assert indexes(database) == built
    if database.startswith("sqlite"):
        fulltext_follows_writes_in(database, "ft_manual")
        assert len(sqlite_triggers(database)) == 6  # the vector and full-text indexes' sync triggers
