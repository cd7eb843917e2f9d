"""Alembic on each backend: table rebuilds with full-text indexes, refused dimension changes, offline SQL, stock projects.

Each test runs a real Alembic project (made by sqlalchemy_vector.alembic.init,
or by ``alembic init``) against a database of its own.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any, Iterator, List, Optional

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import SchemaMismatchError, UnsupportedDialectError, VectorIndexError
from sqlalchemy_vector.fulltext import FullTextIndex, list_fulltext_indexes
from sqlalchemy_vector.index import VectorIndex, list_vector_indexes, vector_columns

from index_helpers import fresh_database
from test_alembic import Project, body, position


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path, request) as url:
        yield url


def revisions(project: Project) -> List[Path]:
    return sorted((project.scripts / "versions").glob("*.py"))


# -- SQLite: full-text indexes across table rebuilds ---------------------------------------


def fulltext_models(dim: int, body_nullable: bool = True) -> MetaData:
    metadata = MetaData()
    Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("body", Text, nullable=body_nullable),
        Column("embedding", sv.Vector(dim)),
        FullTextIndex("ft_docs_body", "body"),
    )
    return metadata


def sqlite_triggers(url: str) -> List[str]:
    engine = sv.create_engine(url)
    try:
        with engine.connect() as connection:
            return sorted(connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
    finally:
        engine.dispose()


def fulltext_follows_writes(url: str, metadata: MetaData, key: int) -> None:
    """Rows inserted, updated and deleted after the migration reach the full-text index."""
    docs = metadata.tables["docs"]
    engine = sv.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(insert(docs).values(id=key, body=f"quince{key} tart"))
            connection.execute(insert(docs).values(id=key + 1, body=f"plum{key} jam"))
            connection.execute(sa.update(docs).where(docs.c.id == key + 1).values(body=f"fig{key} jam"))
            connection.execute(sa.delete(docs).where(docs.c.id == key))

            def matches(word: str) -> List[int]:
                return list(
                    connection.execute(
                        text("SELECT rowid FROM ft_docs_body WHERE ft_docs_body MATCH :word"), {"word": word}
                    ).scalars()
                )

            assert matches(f"quince{key}") == []
            assert matches(f"plum{key}") == []
            assert matches(f"fig{key}") == [key + 1]
    finally:
        engine.dispose()


TRIGGERS = ["ft_docs_body_ad", "ft_docs_body_ai", "ft_docs_body_au"]


def test_sqlite_rebuilds_keep_the_fulltext_index_following_writes(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    with fresh_database("sqlite", tmp_path, request) as url:
        project = Project(tmp_path, url)
        first = project.autogenerate(fulltext_models(3), "docs")
        # Rendered outside any batch block, after the table.
        assert "    op.create_fulltext_index('ft_docs_body', 'docs', 'body', language='english')" in first.splitlines(), first
        assert "batch_op" not in first, first
        project.upgrade()
        assert sqlite_triggers(url) == TRIGGERS
        fulltext_follows_writes(url, fulltext_models(3), 10)
        project.assert_no_changes(fulltext_models(3))

        # A dimension change copies the table: the index is dropped before and built again after it.
        second = project.autogenerate(fulltext_models(4), "dimension")
        up, down = body(second, "upgrade"), body(second, "downgrade")
        drop = position(up, "op.drop_fulltext_index('ft_docs_body', 'docs')")
        alter = position(up, "op.alter_vector_dimension('docs', 'embedding', 4, existing_dim=3)")
        create = position(up, "op.create_fulltext_index('ft_docs_body', 'docs', 'body', language='english')")
        assert drop < alter < create, second
        assert position(down, "op.drop_fulltext_index('ft_docs_body'") < position(down, "op.alter_vector_dimension")
        assert position(down, "op.alter_vector_dimension") < position(down, "op.create_fulltext_index('ft_docs_body'")
        project.upgrade()
        assert sqlite_triggers(url) == TRIGGERS
        fulltext_follows_writes(url, fulltext_models(4), 20)
        project.assert_no_changes(fulltext_models(4))

        # Any other batch copy (here a NOT NULL change) likewise.
        third = project.autogenerate(fulltext_models(4, body_nullable=False), "not null")
        up = body(third, "upgrade")
        assert position(up, "op.drop_fulltext_index('ft_docs_body', 'docs')") < position(up, "with op.batch_alter_table('docs'")
        assert position(up, "op.create_fulltext_index('ft_docs_body'") > position(up, "batch_op.alter_column('body'")
        project.upgrade()
        assert sqlite_triggers(url) == TRIGGERS
        fulltext_follows_writes(url, fulltext_models(4, body_nullable=False), 30)
        project.assert_no_changes(fulltext_models(4, body_nullable=False))

        project.downgrade("-2")
        assert sqlite_triggers(url) == TRIGGERS
        fulltext_follows_writes(url, fulltext_models(3), 40)

        # Written by hand, without the drop: refused before the table is touched.
        engine = sv.create_engine(url)
        try:
            with engine.begin() as connection:
                operations = Operations(MigrationContext.configure(connection))
                with pytest.raises(VectorIndexError, match=r"'docs\.embedding'.*copies the table.*ft_docs_body.*op\.drop_fulltext_index"):
                    operations.alter_vector_dimension("docs", "embedding", 4, existing_dim=3)
                assert vector_columns(connection, "docs") == {"embedding": 3}
        finally:
            engine.dispose()
        assert sqlite_triggers(url) == TRIGGERS


def indexed_models(embedding_nullable: bool) -> MetaData:
    metadata = fulltext_models(3)
    docs = metadata.tables["docs"]
    docs.c.embedding.nullable = embedding_nullable
    VectorIndex("ix_docs_embedding", docs.c.embedding, metric="cosine")
    return metadata


def test_sqlite_migration_failing_midway_changes_nothing(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # Alembic ran SQLite migrations without a transaction: one failing in its table copy (a row breaking the new
    # NOT NULL) kept the drops that ran before it, leaving the table without its vector and full-text indexes and a
    # stray _alembic_tmp_docs, and could not run again ("no vector index named 'ix_docs_embedding'").
    with fresh_database("sqlite", tmp_path, request) as url:
        project = Project(tmp_path, url)
        project.autogenerate(indexed_models(True), "docs")
        project.upgrade()
        first = project.last_path.name.split("_")[0]
        project.autogenerate(indexed_models(False), "not null")
        docs = indexed_models(True).tables["docs"]
        engine = sv.create_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(insert(docs), [{"id": 1, "body": "quince tart", "embedding": None}])
            with pytest.raises(sa.exc.IntegrityError, match="NOT NULL"):
                project.upgrade()
            with engine.connect() as connection:
                assert [row["name"] for row in list_vector_indexes(connection)] == ["ix_docs_embedding"]
                assert [row["name"] for row in list_fulltext_indexes(connection)] == ["ft_docs_body"]
                assert "_alembic_tmp_docs" not in sa.inspect(connection).get_table_names()
                assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == first
            assert sqlite_triggers(url) == sorted(TRIGGERS + [f"ix_docs_embedding_sync_{kind}" for kind in ("delete", "insert", "update")])
            with engine.begin() as connection:  # the row fixed, the same migration runs
                connection.execute(sa.update(docs).values(embedding=[1.0, 0.0, 0.0]))
        finally:
            engine.dispose()
        project.upgrade()
        project.assert_no_changes(indexed_models(False))
        engine = sv.create_engine(url)
        try:
            with engine.begin() as connection:  # both indexes, built again after the copy, follow writes
                connection.execute(insert(docs), [{"id": 2, "body": "plum jam", "embedding": [0.0, 1.0, 0.0]}])
                assert connection.exec_driver_sql("SELECT rowid FROM ix_docs_embedding ORDER BY rowid").scalars().all() == [1, 2]
                assert connection.exec_driver_sql("SELECT rowid FROM ft_docs_body WHERE ft_docs_body MATCH 'plum'").scalars().all() == [2]
        finally:
            engine.dispose()


# -- a dimension change of a NOT NULL vector column -------------------------------------------


def not_null_models(dim: int, nullable: bool) -> MetaData:
    metadata = MetaData()
    Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", sv.Vector(dim), nullable=nullable),
        VectorIndex("ix_docs_embedding", "embedding", metric="cosine", duckdb_experimental_persistence=True),
    )
    return metadata


@pytest.mark.filterwarnings("ignore:duckdb-engine doesn't yet support reflection on indices")
@pytest.mark.parametrize("database", ["sqlite", "duckdb", "postgresql"], indirect=True)
def test_not_null_dimension_change_is_refused_before_anything_changes(database: str, tmp_path: Path) -> None:
    url = database
    project = Project(tmp_path, url)
    project.autogenerate(not_null_models(3, nullable=False), "docs")
    project.upgrade()
    docs = not_null_models(3, nullable=False).tables["docs"]
    engine = sv.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(insert(docs), [{"id": 1, "embedding": [1, 0, 0]}, {"id": 2, "embedding": [0, 1, 0]}])
    finally:
        engine.dispose()
    written = revisions(project)

    # Autogenerate refuses: the reset to NULL cannot keep the model's NOT NULL.
    refusal = r"docs\.embedding is NOT NULL.*from 3 to 4 resets its vectors to NULL.*nullable=True.*re-embed.*NOT NULL again"
    with pytest.raises(SchemaMismatchError, match=refusal):
        project.autogenerate(not_null_models(4, nullable=False), "dimension")
    assert revisions(project) == written

    # Written by hand: refused before any statement, the index and the vectors still there.
    engine = sv.create_engine(url)
    try:
        with engine.begin() as connection:
            operations = Operations(MigrationContext.configure(connection))
            with pytest.raises(SchemaMismatchError, match=refusal):
                operations.alter_vector_dimension("docs", "embedding", 4, existing_dim=3)
        with engine.connect() as connection:
            assert vector_columns(connection, "docs") == {"embedding": 3}
            assert [row["name"] for row in list_vector_indexes(connection)] == ["ix_docs_embedding"]
            assert [list(r.embedding) for r in connection.execute(select(docs).order_by(docs.c.id))] == [[1, 0, 0], [0, 1, 0]]
    finally:
        engine.dispose()

    # The way out the message gives: nullable in this migration, then the new dimension.
    source = project.autogenerate(not_null_models(4, nullable=True), "nullable, then dimension")
    up = body(source, "upgrade")
    assert position(up, "op.alter_vector_dimension('docs', 'embedding', 4, existing_dim=3)") > max(
        number for number, line in enumerate(up) if "nullable=True" in line
    ), source
    project.upgrade()
    engine = sv.create_engine(url)
    try:
        with engine.connect() as connection:
            assert vector_columns(connection, "docs") == {"embedding": 4}
            assert connection.execute(select(sa.func.count()).where(docs.c.embedding.is_(None))).scalar() == 2
    finally:
        engine.dispose()
    project.assert_no_changes(not_null_models(4, nullable=True))


# -- ClickHouse: a dimension change is refused by autogenerate ----------------------------------


def clickhouse_models(dim: int) -> MetaData:
    metadata = MetaData()
    Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("title", String(50)),
        Column("embedding", sv.Vector(dim)),
        VectorIndex("ix_docs_embedding", "embedding", metric="cosine"),
    )
    return metadata


@pytest.mark.parametrize("database", ["clickhouse"], indirect=True)
def test_clickhouse_dimension_change_is_refused_by_autogenerate(database: str, tmp_path: Path) -> None:
    url = database
    project = Project(tmp_path, url)
    project.autogenerate(clickhouse_models(3), "docs")
    project.upgrade()
    written = revisions(project)
    with pytest.raises(UnsupportedDialectError, match=r"docs\.embedding: .*from 3 to 4 dimensions.*no NULL vector.*new Vector\(4\) column"):
        project.autogenerate(clickhouse_models(4), "dimension")
    assert revisions(project) == written  # no migration that would drop the index and then fail
    engine = sv.create_engine(url)
    try:
        with engine.connect() as connection:
            assert vector_columns(connection, "docs") == {"embedding": 3}
            assert [row["name"] for row in list_vector_indexes(connection)] == ["ix_docs_embedding"]
    finally:
        engine.dispose()
    project.assert_no_changes(clickhouse_models(3))


# -- DuckDB: a full-text index's own schema stays out of the comparison --------------------------


def duckdb_fulltext_models() -> MetaData:
    metadata = MetaData()
    Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(40)),  # also a column of the index's own docs table
        Column("body", Text),
        Column("embedding", sv.Vector(3)),
        VectorIndex("ix_docs_embedding", "embedding", metric="cosine", duckdb_experimental_persistence=True),
        FullTextIndex("ft_docs_body", "body"),
    )
    # Named like a table of the index's schema: the application's own, compared as usual.
    Table("terms", metadata, Column("id", Integer, primary_key=True, autoincrement=False), Column("term", Text))
    return metadata


@pytest.mark.filterwarnings("ignore:duckdb-engine doesn't yet support reflection on indices")
@pytest.mark.parametrize("database", ["duckdb"], indirect=True)
def test_duckdb_fulltext_index_leaves_nothing_to_generate(database: str, tmp_path: Path) -> None:
    url = database
    project = Project(tmp_path, url)
    first = project.autogenerate(duckdb_fulltext_models(), "docs")
    assert "op.create_fulltext_index('ft_docs_body', 'docs', 'body', language='english')" in first, first
    project.upgrade()
    engine = sv.create_engine(url)
    try:
        with engine.connect() as connection:
            assert [row["name"] for row in list_fulltext_indexes(connection)] == ["ft_docs_body"]
            inspector = sa.inspect(connection)
            assert sorted(inspector.get_table_names()) == ["alembic_version", "docs", "terms"]
            assert [c["name"] for c in inspector.get_columns("docs")] == ["id", "name", "body", "embedding"]
    finally:
        engine.dispose()
    project.assert_no_changes(duckdb_fulltext_models())
    # Dropping the application's "terms" table is still seen.
    without_terms = duckdb_fulltext_models()
    without_terms.remove(without_terms.tables["terms"])
    source = project.autogenerate(without_terms, "no terms")
    assert body(source, "upgrade") == ["op.drop_table('terms')"], source


@pytest.mark.filterwarnings("ignore:duckdb-engine doesn't yet support reflection on indices")
@pytest.mark.parametrize("database", ["duckdb"], indirect=True)
def test_duckdb_include_schemas_compares_the_application_schemas_only(database: str) -> None:
    # The dialects list schemas as database.schema: Alembic took "<db>.main" for a schema other than the
    # default and proposed to drop every table in it, and the full-text index's schemas with them.
    from alembic.autogenerate import compare_metadata

    from sqlalchemy_vector.alembic import context_options

    metadata = duckdb_fulltext_models()
    Table("notes", metadata, Column("id", Integer, primary_key=True, autoincrement=False), Column("embedding", sv.Vector(3)), schema="app")
    engine = sv.create_engine(database)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE SCHEMA app")
            metadata.create_all(connection)
            connection.execute(insert(metadata.tables["docs"]), [{"id": 1, "body": "okapi herds", "embedding": [1, 2, 3]}])
        with engine.connect() as connection:
            assert {"app", "main", "fts_main_docs"} <= set(sa.inspect(connection).get_schema_names())

            def changes(target: MetaData) -> List[Any]:
                options = {**context_options(connection), "include_schemas": True, "target_metadata": target}
                return list(compare_metadata(MigrationContext.configure(connection, opts=options), target))

            assert changes(metadata) == []
            without_notes = duckdb_fulltext_models()
            assert [(op[0], op[1].schema, op[1].name) for op in changes(without_notes)] == [("remove_table", "app", "notes")]
    finally:
        engine.dispose()


# -- PostgreSQL offline SQL: quantized indexes declare the column's dimension -----------------------


def quantized_models() -> MetaData:
    metadata = MetaData()
    Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", sv.Vector(8)),
        VectorIndex("ix_docs_half", "embedding", metric="cosine", quantization="half"),
        VectorIndex("ix_docs_bits", "embedding", metric="cosine", quantization="binary"),
    )
    return metadata


def offline_sql(project: Project, *args: str) -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        command.upgrade(project.config, *args, sql=True)
    return printed.getvalue()


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_postgresql_offline_quantized_index_has_the_real_dimension(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    project = Project(tmp_path, database)
    source = project.autogenerate(quantized_models(), "quantized")
    up = body(source, "upgrade")
    assert "op.create_vector_index('ix_docs_half', 'docs', 'embedding', metric='cosine', method='hnsw', quantization='half', dim=8)" in up, source
    sql = offline_sql(project, "head")
    assert "CAST(embedding AS halfvec(8))" in sql and "CAST(binary_quantize(embedding) AS bit(8))" in sql, sql
    assert "halfvec(1)" not in sql and "bit(1)" not in sql, sql
    # The script runs on a new database, whose table then takes vectors of its dimension through both indexes.
    with fresh_database("postgresql", tmp_path, request) as url:
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(sql)
        finally:
            admin.dispose()
        docs = quantized_models().tables["docs"]
        engine = sv.create_engine(url)
        try:
            with engine.begin() as connection:
                rows = [{"id": i, "embedding": [float(i == j) for j in range(8)]} for i in range(8)]
                connection.execute(insert(docs), rows)
                assert sorted(row["name"] for row in list_vector_indexes(connection)) == ["ix_docs_bits", "ix_docs_half"]
        finally:
            engine.dispose()
        project.config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        project.assert_no_changes(quantized_models())

    # Written by hand without the dimension: refused offline, naming what to pass.
    with pytest.raises(VectorIndexError, match=r"'ix_q'.*half quantized index.*docs\.embedding.*dim=.*online"):
        offline_postgresql_sql(lambda op: op.create_vector_index("ix_q", "docs", "embedding", quantization="half"))
    printed = offline_postgresql_sql(lambda op: op.create_vector_index("ix_q", "docs", "embedding", quantization="half", dim=8))
    assert "CAST(embedding AS halfvec(8))" in printed, printed


def half_quantized_models(dim: int) -> MetaData:
    metadata = MetaData()
    Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", sv.Vector(dim)),
        VectorIndex("ix_docs_half", "embedding", metric="cosine", quantization="half"),
    )
    return metadata


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_postgresql_offline_downgrade_of_a_dimension_change_builds_the_old_dimension(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # The downgrade's quantized index declared the model's new dimension: offline, the script built it with
    # CAST(embedding AS halfvec(8)) over the vector(4) column restored before it, which then refused every vector.
    project = Project(tmp_path, database)
    project.autogenerate(half_quantized_models(4), "docs")
    project.upgrade()
    source = project.autogenerate(half_quantized_models(8), "dimension")
    down = body(source, "downgrade")
    assert down[-1] == "op.create_vector_index('ix_docs_half', 'docs', 'embedding', metric='cosine', method='hnsw', quantization='half', dim=4)", source
    up = body(source, "upgrade")
    assert up[-1] == "op.create_vector_index('ix_docs_half', 'docs', 'embedding', metric='cosine', method='hnsw', quantization='half', dim=8)", source
    upgrade_sql = offline_sql(project, "head")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        command.downgrade(project.config, "head:-1", sql=True)
    assert "CAST(embedding AS halfvec(4))" in printed.getvalue(), printed.getvalue()
    # Both scripts, on a new database: the downgraded table takes vectors of its dimension again.
    with fresh_database("postgresql", tmp_path, request) as url:
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(upgrade_sql)
                connection.exec_driver_sql(printed.getvalue())
        finally:
            admin.dispose()
        engine = sv.create_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(insert(half_quantized_models(4).tables["docs"]), [{"id": 1, "embedding": [1.0, 0.0, 0.0, 0.0]}])
                assert vector_columns(connection, "docs") == {"embedding": 4}
        finally:
            engine.dispose()


@pytest.mark.parametrize("database", ["clickhouse"], indirect=True)
def test_clickhouse_offline_script_runs(database: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # Offline, Alembic's own dialect was never prepared: CREATE TABLE had no table engine (clickhouse-connect
    # refused it), and the index declared a dimension of 1.
    from test_alembic import models

    project = Project(tmp_path, database)
    source = project.autogenerate(models(1), "vectors")
    assert "op.create_vector_index('ix_docs_embedding', 'docs', 'embedding', metric='cosine', method='hnsw', m=16, duckdb_experimental_persistence=True, dim=3)" in body(source, "upgrade"), source
    sql = offline_sql(project, "head")
    assert "Engine MergeTree ORDER BY id" in sql and "CHECK length(`embedding`) = 3" in sql, sql
    assert "vector_similarity('hnsw', 'cosineDistance', 3, " in sql, sql
    with fresh_database("clickhouse", tmp_path / "fresh", request) as url:
        engine = sv.create_engine(url)
        try:
            with engine.connect() as connection:
                lines = [line for line in sql.splitlines() if not line.startswith("--")]
                for statement in filter(None, (part.strip() for part in "\n".join(lines).split(";"))):
                    connection.exec_driver_sql(statement)
                assert [row["name"] for row in list_vector_indexes(connection)] == ["ix_docs_embedding"]
                assert vector_columns(connection, "docs") == {"embedding": 3}
        finally:
            engine.dispose()
    # Written by hand without the dimension: refused offline, naming what to pass.
    with pytest.raises(VectorIndexError, match=r"'ix_x'.*index on ClickHouse.*docs\.embedding.*dim=.*online"):
        offline_clickhouse(lambda op: op.create_vector_index("ix_x", "docs", "embedding"))
    assert "'cosineDistance', 8," in offline_clickhouse(lambda op: op.create_vector_index("ix_x", "docs", "embedding", dim=8))


def offline_clickhouse(run: Any) -> str:
    buffer = io.StringIO()
    context = MigrationContext.configure(dialect_name="clickhousedb", opts={"as_sql": True, "output_buffer": buffer})
    run(Operations(context))
    return buffer.getvalue()


def offline_postgresql_sql(run: Any) -> str:
    buffer = io.StringIO()
    context = MigrationContext.configure(dialect_name="postgresql", opts={"as_sql": True, "output_buffer": buffer})
    run(Operations(context))
    return buffer.getvalue()


# -- a stock project whose URL lacks ?plugin=vector ----------------------------------------------


def test_stock_project_without_the_plugin_says_to_add_it(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from test_alembic_stock import StockProject

    with fresh_database("sqlite", tmp_path, request) as url:
        (tmp_path / "project").mkdir()
        project = StockProject(tmp_path / "project", url)
        ini = tmp_path / "project" / "alembic.ini"
        ini.write_text(ini.read_text().replace("?plugin=vector", ""))
        for command_line in (("revision", "--autogenerate", "-m", "notes"), ("upgrade", "head")):
            result = project.alembic(*command_line, check=False)
            output = result.stdout + result.stderr
            assert result.returncode != 0, output
            assert "sqlalchemy_vector.exc.MissingExtensionError" in output, output
            assert "append ?plugin=vector to sqlalchemy.url in alembic.ini" in output, output
            assert "***" not in output, output  # no URL with a masked password to copy
        assert list((tmp_path / "project" / "migrations" / "versions").glob("*.py")) == []


# -- DuckDB offline SQL that runs -------------------------------------------------------------------


def persistent_models(dim: int) -> MetaData:
    metadata = MetaData()
    Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", sv.Vector(dim)),
        VectorIndex("ix_docs_embedding", "embedding", metric="cosine", duckdb_experimental_persistence=True),
    )
    return metadata


@pytest.mark.filterwarnings("ignore:duckdb-engine doesn't yet support reflection on indices")
@pytest.mark.parametrize("database", ["duckdb"], indirect=True)
def test_duckdb_offline_script_runs(database: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    project = Project(tmp_path, database)
    project.autogenerate(persistent_models(4), "docs")
    project.upgrade()
    project.autogenerate(persistent_models(8), "dimension")
    sql = offline_sql(project, "head")
    script = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    statements = [" ".join(part.split()) for part in script.split(";") if part.strip()]
    create = statements.index("CREATE INDEX ix_docs_embedding ON docs USING HNSW (embedding) WITH (metric = 'cosine')")
    assert statements[create - 2 : create] == ["LOAD vss", "SET hnsw_enable_experimental_persistence = true"], sql
    drop = statements.index("DROP INDEX ix_docs_embedding")
    assert statements[drop + 1 : drop + 3] == ["COMMIT", "BEGIN TRANSACTION"], sql
    assert statements[drop + 3].startswith("ALTER TABLE docs ALTER COLUMN embedding TYPE FLOAT[8] USING NULL"), sql

    # The whole script, on a new database file, as the DuckDB command line would run it.
    with fresh_database("duckdb", tmp_path, request) as url:
        engine = sv.create_engine(url)
        try:
            raw = engine.raw_connection()
            try:
                for statement in statements:
                    raw.driver_connection.execute(statement)  # type: ignore[union-attr]
            finally:
                raw.close()
            with engine.connect() as connection:
                assert vector_columns(connection, "docs") == {"embedding": 8}
                assert [row["name"] for row in list_vector_indexes(connection)] == ["ix_docs_embedding"]
        finally:
            engine.dispose()
        project.config.set_main_option("sqlalchemy.url", url)
        project.assert_no_changes(persistent_models(8))


def run_duckdb_script(path: Path, sql: str, home: Path) -> None:
    """``sql`` (an offline migration) on the DuckDB file ``path``, as the DuckDB command line runs it: a new session
    with vss and fts installed (here from their wheels) and nothing loaded."""
    import duckdb

    from sqlalchemy_vector.dialects.duckdb.extensions import wheel_path
    from sqlalchemy_vector.dialects.duckdb.fulltext import fts_extension_path

    extensions = [wheel_path(), fts_extension_path()]
    if None in extensions:
        pytest.skip("the vss and fts wheels matching this DuckDB are not installed")
    connection = duckdb.connect(str(path))
    try:
        connection.execute(f"SET home_directory = '{home}'")
        for extension in extensions:
            connection.execute(f"INSTALL '{extension}'")
        script = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
        for statement in filter(None, (part.strip() for part in script.split(";"))):
            connection.execute(statement)
    finally:
        connection.close()


@pytest.mark.filterwarnings("ignore:duckdb-engine doesn't yet support reflection on indices")
@pytest.mark.parametrize("database", ["duckdb"], indirect=True)
def test_duckdb_offline_script_with_a_fulltext_index_runs(database: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # The script ran PRAGMA create_fts_index / drop_fts_index without LOAD fts: DuckDB 1.5.5 then tries to
    # download fts, installed or not, and the script failed where there is no network.
    project = Project(tmp_path, database)
    project.autogenerate(duckdb_fulltext_models(), "docs")
    upgrade_sql = offline_sql(project, "head")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        command.downgrade(project.config, "head:base", sql=True)
    (tmp_path / "home").mkdir()
    with fresh_database("duckdb", tmp_path, request) as url:
        path = Path(sa.make_url(url).database or "")
        run_duckdb_script(path, upgrade_sql, tmp_path / "home")
        engine = sv.create_engine(url)
        try:
            with engine.connect() as connection:
                assert [(row["name"], row["column"]) for row in list_fulltext_indexes(connection)] == [("ft_docs_body", "body")]
        finally:
            engine.dispose()
        project.config.set_main_option("sqlalchemy.url", url)
        project.assert_no_changes(duckdb_fulltext_models())
        run_duckdb_script(path, printed.getvalue(), tmp_path / "home")
        engine = sv.create_engine(url)
        try:
            with engine.connect() as connection:
                assert list_fulltext_indexes(connection) == [] and list_vector_indexes(connection) == []
                assert sa.inspect(connection).get_table_names() == ["alembic_version"]
                schemas = connection.exec_driver_sql("SELECT schema_name FROM duckdb_schemas() WHERE schema_name LIKE 'fts%'")
                assert schemas.scalars().all() == []
        finally:
            engine.dispose()


def keyed_notes(with_index: bool) -> MetaData:
    metadata = MetaData()
    notes = Table(
        "notes", metadata, Column("note_id", Integer, primary_key=True, autoincrement=False), Column("body", Text)
    )
    if with_index:
        FullTextIndex("ft_notes_body", notes.c.body)
    return metadata


@pytest.mark.filterwarnings("ignore:duckdb-engine doesn't yet support reflection on indices")
@pytest.mark.parametrize("database", ["duckdb"], indirect=True)
def test_duckdb_offline_fulltext_index_on_a_key_not_named_id(database: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # Offline, the index was keyed by a column "id" the table does not have: the script's PRAGMA create_fts_index
    # failed. The key is rendered where it is not "id", and the downgrade of a dropped index keeps it.
    project = Project(tmp_path, database)
    source = project.autogenerate(keyed_notes(True), "notes")
    create = "op.create_fulltext_index('ft_notes_body', 'notes', 'body', language='english', key='note_id')"
    assert create in body(source, "upgrade"), source
    upgrade_sql = offline_sql(project, "head")
    assert "PRAGMA create_fts_index('notes', 'note_id', 'body'" in upgrade_sql, upgrade_sql
    (tmp_path / "home").mkdir()
    with fresh_database("duckdb", tmp_path, request) as url:
        run_duckdb_script(Path(sa.make_url(url).database or ""), upgrade_sql, tmp_path / "home")
        project.config.set_main_option("sqlalchemy.url", url)
        engine = sv.create_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(insert(keyed_notes(True).tables["notes"]), [{"note_id": 7, "body": "okapi herds"}])
                assert [(row["name"], row["column"]) for row in list_fulltext_indexes(connection)] == [("ft_notes_body", "body")]
        finally:
            engine.dispose()
        project.assert_no_changes(keyed_notes(True))
        source = project.autogenerate(keyed_notes(False), "no index")
        assert body(source, "downgrade") == [create], source


def sqlite_offline_models() -> MetaData:
    metadata = fulltext_models(3)
    VectorIndex("ix_docs_embedding", metadata.tables["docs"].c.embedding, metric="cosine")
    Table(
        "tags",
        metadata,
        Column("slug", String(40), primary_key=True),
        Column("embedding", sv.Vector(2)),
        VectorIndex("ix_tags_embedding", "embedding", metric="l2"),
    )
    return metadata


def test_sqlite_offline_script_runs(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # Offline, every op.create_vector_index on SQLite was refused (vec0 declares the dimension and the table's key,
    # which were read from the database): a first migration could not be printed at all.
    with fresh_database("sqlite", tmp_path, request) as url:
        project = Project(tmp_path, url)
        source = project.autogenerate(sqlite_offline_models(), "docs")
    up = body(source, "upgrade")
    assert "op.create_vector_index('ix_docs_embedding', 'docs', 'embedding', metric='cosine', method='hnsw', dim=3, key='id')" in up, source
    assert "op.create_vector_index('ix_tags_embedding', 'tags', 'embedding', metric='l2', method='hnsw', dim=2, key='slug', text_key=True)" in up, source
    sql = offline_sql(project, "head")
    assert "USING vec0(slug text primary key, embedding float[2] distance_metric=l2)" in sql, sql
    with fresh_database("sqlite", tmp_path, request) as url:
        engine = sv.create_engine(url)
        try:
            raw = engine.raw_connection()
            try:
                raw.driver_connection.executescript(sql)  # type: ignore[union-attr]
            finally:
                raw.close()
            models = sqlite_offline_models()
            with engine.begin() as connection:
                connection.execute(insert(models.tables["docs"]), [{"id": 5, "body": "plum jam", "embedding": [1, 0, 0]}])
                connection.execute(insert(models.tables["tags"]), [{"slug": "fruit", "embedding": [0, 1]}])
                assert sorted((row["name"], row["column"], row["metric"]) for row in list_vector_indexes(connection)) == [
                    ("ix_docs_embedding", "embedding", "cosine"),
                    ("ix_tags_embedding", "embedding", "l2"),
                ]
                assert connection.exec_driver_sql("SELECT rowid FROM ix_docs_embedding").scalars().all() == [5]
                assert connection.exec_driver_sql("SELECT slug FROM ix_tags_embedding").scalars().all() == ["fruit"]
                assert connection.exec_driver_sql("SELECT rowid FROM ft_docs_body WHERE ft_docs_body MATCH 'plum'").scalars().all() == [5]
        finally:
            engine.dispose()
        project.config.set_main_option("sqlalchemy.url", url)
        project.assert_no_changes(sqlite_offline_models())
        # The downgrade of a dropped index gives them too, read from the database.
        without = sqlite_offline_models()
        without.tables["tags"].indexes.clear()
        source = project.autogenerate(without, "no tags index")
        assert body(source, "downgrade") == [
            "op.create_vector_index('ix_tags_embedding', 'tags', 'embedding', metric='l2', method='hnsw', dim=2, key='slug', text_key=True)"
        ], source
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            command.downgrade(project.config, "head:-1", sql=True)
        assert "USING vec0(slug text primary key, embedding float[2] distance_metric=l2)" in printed.getvalue()

    # Written by hand without them: refused offline, naming what to pass.
    buffer = io.StringIO()
    context = MigrationContext.configure(dialect_name="sqlite", opts={"as_sql": True, "output_buffer": buffer})
    with pytest.raises(VectorIndexError, match=r"'ix_x'.*docs\.embedding.*dim=.*key=.*text_key=True.*online"):
        Operations(context).create_vector_index("ix_x", "docs", "embedding", dim=3)


# -- ClickHouse: the model's NOT NULL, and migrations that import what they render ---------------


def orm_models(body_required: bool) -> MetaData:
    class Base(DeclarativeBase):
        pass

    class Doc(Base):
        __tablename__ = "docs"
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        if body_required:
            body: Mapped[str] = mapped_column(Text)  # NOT NULL from the annotation
        else:
            body: Mapped[Optional[str]] = mapped_column(Text)  # type: ignore[no-redef]
        note: Mapped[Optional[str]] = mapped_column(Text)
        embedding = mapped_column(sv.Vector(3))

    return Base.metadata


def clickhouse_column_types(url: str) -> dict[str, str]:
    engine = sv.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'docs'")
            )
            return {name: type_ for name, type_ in rows}
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", ["clickhouse"], indirect=True)
def test_clickhouse_migrations_keep_not_null_and_import_what_they_render(database: str, tmp_path: Path) -> None:
    url = database
    project = Project(tmp_path, url)
    first = project.autogenerate(orm_models(body_required=True), "docs")
    assert "sa.Column('body', sa.Text(), nullable=False)" in first, first
    project.upgrade()
    # As create_all builds the same model: body String, note Nullable(String).
    types = clickhouse_column_types(url)
    assert (types["body"], types["note"], types["embedding"]) == ("String", "Nullable(String)", "Array(Float32)"), types
    project.assert_no_changes(orm_models(body_required=True))

    engine = sv.create_engine(url)
    try:
        with engine.begin() as connection:
            rows = [{"id": 1, "body": "a", "note": None, "embedding": [1, 0, 0]}]
            connection.execute(insert(orm_models(True).tables["docs"]), rows)
    finally:
        engine.dispose()
    # The migration names clickhouse-connect's String type: it imports it.
    second = project.autogenerate(orm_models(body_required=False), "body optional")
    assert body(second, "upgrade") == ["op.alter_column('docs', 'body',", "existing_type=String,", "nullable=True)"], second
    assert "from clickhouse_connect.cc_sqlalchemy.datatypes.sqltypes import *" in second, second
    project.upgrade()
    assert clickhouse_column_types(url)["body"] == "Nullable(String)"
    project.assert_no_changes(orm_models(body_required=False))


# -- a dimension change of a compact column ---------------------------------------------------------


def compact_models(backend: str, dim: int) -> MetaData:
    metadata = MetaData()
    table = Table("items", metadata, Column("id", Integer, primary_key=True, autoincrement=False))
    if backend == "postgresql":
        table.append_column(Column("half", sv.HalfVector(dim)))
        table.append_column(Column("bits", sv.BitVector(dim)))
        table.append_column(Column("sparse", sv.SparseVector(dim)))
        VectorIndex("ix_items_half", table.c.half, metric="cosine")
        VectorIndex("ix_items_bits", table.c.bits, metric="hamming")
        VectorIndex("ix_items_sparse", table.c.sparse, metric="l2")
    else:
        table.append_column(Column("int8", sv.Int8Vector(dim)))
        table.append_column(Column("bits", sv.BitVector(dim)))
    return metadata


@pytest.mark.parametrize("database", ["postgresql", "sqlite"], indirect=True)
def test_compact_dimension_change_resets_the_column(database: str, tmp_path: Path) -> None:
    url = database
    backend = sa.engine.make_url(url).get_backend_name()
    columns = ["half", "bits", "sparse"] if backend == "postgresql" else ["int8", "bits"]
    kinds = {"half": "half", "bits": "bit", "sparse": "sparse", "int8": "int8"}
    project = Project(tmp_path, url)
    project.autogenerate(compact_models(backend, 8), "items")
    project.upgrade()
    items = compact_models(backend, 8).tables["items"]
    engine = sv.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(insert(items).values(id=1, **{name: [1] * 8 for name in columns}))
    finally:
        engine.dispose()

    source = project.autogenerate(compact_models(backend, 16), "wider")
    wider_revision = project.last_path
    up, down = body(source, "upgrade"), body(source, "downgrade")
    assert "alter_column" not in source, source
    for name in columns:
        alter = position(up, f"op.alter_vector_dimension('items', {name!r}, 16, existing_dim=8, kind={kinds[name]!r})")
        if backend == "postgresql":
            assert position(up, f"op.drop_vector_index('ix_items_{name}'") < alter < position(up, f"op.create_vector_index('ix_items_{name}'")
        assert f"op.alter_vector_dimension('items', {name!r}, 8, existing_dim=16, kind={kinds[name]!r})" in down
    project.upgrade()
    wider = compact_models(backend, 16).tables["items"]
    engine = sv.create_engine(url)
    try:
        with engine.begin() as connection:
            row = connection.execute(select(wider).where(wider.c.id == 1)).one()
            assert [getattr(row, name) for name in columns] == [None] * len(columns)  # reset: re-embed
            connection.execute(insert(wider).values(id=2, **{name: [1] * 16 for name in columns}))
            stored = connection.execute(select(wider).where(wider.c.id == 2)).one()
            for name in columns:
                value = getattr(stored, name)
                assert (value.dim if isinstance(value, sv.SparseValue) else len(value)) == 16
            if backend == "postgresql":
                assert sorted(r["name"] for r in list_vector_indexes(connection)) == ["ix_items_bits", "ix_items_half", "ix_items_sparse"]
    finally:
        engine.dispose()
    project.assert_no_changes(compact_models(backend, 16))
    project.downgrade("-1")
    wider_revision.unlink()
    project.assert_no_changes(compact_models(backend, 8))


# -- DuckDB: a dropped BitVector column comes back as one ----------------------------------------


def bit_models(column_name: str) -> MetaData:
    metadata = MetaData()
    Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column(column_name, sv.BitVector(16)),
    )
    return metadata


@pytest.mark.filterwarnings("ignore:duckdb-engine doesn't yet support reflection on indices")
@pytest.mark.parametrize("database", ["duckdb"], indirect=True)
def test_duckdb_dropped_bit_vector_column_is_recreated_as_one(database: str, tmp_path: Path) -> None:
    url = database
    project = Project(tmp_path, url)
    project.autogenerate(bit_models("bits"), "docs")
    project.upgrade()
    engine = sv.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(insert(bit_models("bits").tables["docs"]).values(id=1, bits=[1, 0] * 8))
    finally:
        engine.dispose()
    source = project.autogenerate(bit_models("bits2"), "renamed")
    assert "op.add_column('docs', sa.Column('bits', sqlalchemy_vector.BitVector(16), autoincrement=False, nullable=True))" in body(
        source, "downgrade"
    ), source
    assert "postgresql" not in source, source
    project.upgrade()
    project.downgrade("-1")
    engine = sv.create_engine(url)
    try:
        with engine.begin() as connection:
            docs = bit_models("bits").tables["docs"]
            connection.execute(insert(docs).values(id=2, bits=[0, 1] * 8))
            assert list(connection.execute(select(docs.c.bits).where(docs.c.id == 2)).scalar_one()) == [False, True] * 8
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_online_fulltext_index_refuses_a_language_the_database_lacks(database: str) -> None:
    # op.create_fulltext_index sent a well-formed unknown name to PostgreSQL, which failed in CREATE INDEX
    # (UndefinedObject); create_fulltext_index() refused it by name before any DDL.
    import sqlalchemy_vector.alembic  # noqa: F401  (registers the operation)

    engine = sv.create_engine(database)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE notes (id text PRIMARY KEY, body text)")
            operations = Operations(MigrationContext.configure(connection))
            with pytest.raises(VectorIndexError, match="no text search language 'klingon'; use one of .*english"):
                operations.create_fulltext_index("ft_notes_body", "notes", "body", language="klingon")
            assert list_fulltext_indexes(connection, "notes") == []
            operations.create_fulltext_index("ft_notes_body", "notes", "body", language="simple")
            assert [(r["name"], r["language"]) for r in list_fulltext_indexes(connection, "notes")] == [
                ("ft_notes_body", "simple")
            ]
    finally:
        engine.dispose()


def test_drops_without_their_definition_cannot_be_reversed_and_say_so() -> None:
    from sqlalchemy_vector.alembic.fulltext import DropFullTextIndexOp
    from sqlalchemy_vector.alembic.operations import DropVectorIndexOp

    with pytest.raises(sv.exc.InvalidArgumentError, match=r"drop_fulltext_index\('ft'\) cannot be reversed.*by hand"):
        DropFullTextIndexOp("ft", "docs").reverse()
    with pytest.raises(sv.exc.InvalidArgumentError, match=r"drop_vector_index\('ix'\) cannot be reversed.*by hand"):
        DropVectorIndexOp("ix", "docs").reverse()


def test_create_vector_index_arguments_are_checked_when_the_operation_is_made() -> None:
    # name= or column= reached VectorIndex twice (TypeError "got multiple values for argument 'name'") and a
    # list of columns, as op.create_index takes, gave "unhashable type: 'list'", both when the migration ran.
    from sqlalchemy_vector.alembic.operations import CreateVectorIndexOp

    with pytest.raises(sv.exc.InvalidArgumentError, match=r"create_vector_index\('ix'\) got column='emb', name='other': "):
        CreateVectorIndexOp("ix", "items", "emb", name="other", column="emb")
    with pytest.raises(sv.exc.InvalidArgumentError, match=r"column_name must be a name \(a string\), got list \['emb'\]; "
                       "a vector index is on one column"):
        CreateVectorIndexOp("ix", "items", ["emb"])  # type: ignore[arg-type]
    assert CreateVectorIndexOp("ix", "items", "emb", m=16).options == {"m": 16}


def test_alter_vector_dimension_takes_whole_numbers() -> None:
    # existing_dim="8" was accepted on DuckDB and went into reverse(); SQLite refused it only while running.
    import numpy as np

    from sqlalchemy_vector.alembic.operations import AlterVectorDimensionOp

    for arguments, bad in (({"dim": 4, "existing_dim": "8"}, "existing_dim must be a positive integer, got '8'"),
                           ({"dim": 0, "existing_dim": 8}, "dim must be a positive integer, got 0"),
                           ({"dim": 4.0, "existing_dim": 8}, "dim must be a positive integer, got 4.0")):
        with pytest.raises(sv.exc.InvalidArgumentError, match=rf"alter_vector_dimension\('docs.embedding'\): {bad}"):
            AlterVectorDimensionOp("docs", "embedding", **arguments)
    op = AlterVectorDimensionOp("docs", "embedding", np.int64(4), existing_dim=np.int32(8))
    assert (type(op.dim), op.dim, type(op.existing_dim), op.existing_dim) == (int, 4, int, 8)
    assert (op.reverse().dim, op.reverse().existing_dim) == (8, 4)


# SQLite is left out: a bare MigrationContext runs its DDL outside any transaction (pysqlite begins one before DML
# only); migrations through context_options are one transaction (test_sqlite_migration_failing_midway_changes_nothing).
@pytest.mark.parametrize("database", ["duckdb", "postgresql"], indirect=True)
def test_a_failed_migration_that_built_a_fulltext_index_leaves_nothing(database: str) -> None:
    # DuckDB's migrations committed after building a full-text index, so a later failure in the same run left the
    # index behind (PostgreSQL's run is one transaction); the build no longer needs that commit.
    import sqlalchemy_vector.alembic  # noqa: F401  (registers the operation)

    engine = sv.create_engine(database)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE notes (id integer PRIMARY KEY, body text)")
            connection.exec_driver_sql("INSERT INTO notes VALUES (1, 'a note about pizza')")
        with pytest.raises(RuntimeError, match="a later step failed"):
            with engine.begin() as connection:
                operations = Operations(MigrationContext.configure(connection))
                operations.create_fulltext_index("ft_notes_body", "notes", "body", language="simple")
                assert [r["name"] for r in list_fulltext_indexes(connection, "notes")] == ["ft_notes_body"]
                raise RuntimeError("a later step failed")
        with engine.connect() as connection:
            assert list_fulltext_indexes(connection, "notes") == []
        with engine.begin() as connection:  # and the index can be built again
            Operations(MigrationContext.configure(connection)).create_fulltext_index(
                "ft_notes_body", "notes", "body", language="simple"
            )
            assert [r["name"] for r in list_fulltext_indexes(connection, "notes")] == ["ft_notes_body"]
    finally:
        engine.dispose()


# -- the command-line tool's settings table ------------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite", "duckdb", "postgresql", "clickhouse"], indirect=True)
def test_autogenerate_keeps_the_command_line_tools_settings_table(database: str) -> None:
    # A database the command-line tool also writes holds its vector_collection table, which no model declares:
    # autogenerate against the facade's models proposed dropping it, and with it the tool's record of its model.
    from alembic.autogenerate import compare_metadata

    from sqlalchemy_vector.alembic import context_options
    from sqlalchemy_vector.cli import main
    from sqlalchemy_vector.collection import SETTINGS_TABLE

    corpus = Path(__file__).resolve().parent.parent / "examples" / "corpus"
    assert main(["ingest", str(corpus / "indexes.md"), "--db", database, "--quiet"]) == 0
    rag = sv.VectorRAG(database, dimension=384)
    try:
        target = rag.document_model.metadata
        engine = rag.engine
        with engine.connect() as connection:
            assert SETTINGS_TABLE in sa.inspect(connection).get_table_names()

            def tables_changed(metadata: MetaData) -> List[Any]:
                # (The tool's full-text index, built at run time as the facade's indexes are, is compared as
                # they are: declared in the models, or left out by an include_object hook.)
                options = {**context_options(connection), "target_metadata": metadata}
                changes = compare_metadata(MigrationContext.configure(connection, opts=options), metadata)
                return [(op[0], op[1].name) for op in changes if op[0].endswith("_table")]

            assert tables_changed(target) == []
            # A table of the same name that is not the tool's is compared as any other.
            connection.exec_driver_sql("DROP TABLE vector_collection")
            other = MetaData()
            Table(SETTINGS_TABLE, other, Column("id", Integer, primary_key=True, autoincrement=False)).create(connection)
            if connection.in_transaction():
                connection.commit()
            assert tables_changed(target) == [("remove_table", SETTINGS_TABLE)]
    finally:
        rag.close()


def _persistence_models(with_index: bool, persistence: bool = False) -> MetaData:
    metadata = MetaData()
    table = Table(
        "docs", metadata, Column("id", Integer, primary_key=True, autoincrement=False), Column("embedding", sv.Vector(3))
    )
    if with_index:
        VectorIndex("ix_docs_embedding", table.c.embedding, metric="cosine", duckdb_experimental_persistence=persistence)
    return metadata


@pytest.mark.filterwarnings("ignore:duckdb-engine doesn't yet support reflection on indices")
@pytest.mark.parametrize("database", ["duckdb"], indirect=True)
def test_an_index_the_file_database_cannot_build_is_refused_by_autogenerate(database: str, tmp_path: Path) -> None:
    # Written into the migration, it failed at upgrade: a DuckDB file builds HNSW indexes only with vss's
    # experimental persistence, which the index did not opt into.
    project = Project(tmp_path, database)
    refusal = r"VectorIndex 'ix_docs_embedding': DuckDB builds HNSW indexes in a file database .* only with vss's experimental persistence"
    with pytest.raises(VectorIndexError, match=refusal):  # a new table with its index
        project.autogenerate(_persistence_models(with_index=True), "docs")
    assert revisions(project) == []
    project.autogenerate(_persistence_models(with_index=False), "docs")
    project.upgrade()
    written = revisions(project)
    with pytest.raises(VectorIndexError, match=refusal):  # an index added to a table
        project.autogenerate(_persistence_models(with_index=True), "index")
    assert revisions(project) == written
    source = project.autogenerate(_persistence_models(with_index=True, persistence=True), "index")
    assert "duckdb_experimental_persistence=True" in source
    project.upgrade()
    project.assert_no_changes(_persistence_models(with_index=True, persistence=True))
