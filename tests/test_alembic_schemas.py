"""Alembic with ``include_schemas=True``: models in a named schema beside the default one.

PostgreSQL and DuckDB ``CREATE SCHEMA app``; SQLite ``ATTACH DATABASE ... AS
app``; ClickHouse a database ``app``.  Each test runs a real Alembic project
(made by sqlalchemy_vector.alembic.init) against a database of its own.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator, Optional, Tuple

import pytest
import sqlalchemy as sa
from sqlalchemy import Column, Integer, MetaData, Table, Text, text

import sqlalchemy_vector as sv
from sqlalchemy_vector.fulltext import FullTextIndex, list_fulltext_indexes
from sqlalchemy_vector.index import VectorIndex, list_vector_indexes

from index_helpers import database_with_schema, fresh_database
from test_alembic import Project, body


class SchemaProject(Project):
    """A project whose env.py compares every schema, run through a connection that sees schema ``app``."""

    def __init__(self, directory: Path, url: str, engine: sa.Engine) -> None:
        super().__init__(directory, url)
        self.engine = engine
        env = self.scripts / "env.py"
        source = env.read_text()
        marker = "        target_metadata=target_metadata,\n        **sqlalchemy_vector.alembic.context_options(connection),"
        assert marker in source
        env.write_text(
            source.replace(
                marker,
                "        target_metadata=target_metadata,\n        include_schemas=True,\n        "
                "**sqlalchemy_vector.alembic.context_options(connection, include_name=config.attributes.get('include_name')),",
            )
        )
        if engine.dialect.name == "clickhousedb":
            # Every database of the (shared, in-process) server is a schema to Alembic: the application's are
            # compared, other tests' left out as an application leaves out those of others; the server's own
            # are the library's to leave out.
            with engine.connect() as connection:
                current = connection.exec_driver_sql("SELECT currentDatabase()").scalar()
                names = set(connection.exec_driver_sql("SHOW DATABASES").scalars())
            others = names - {current, "app", "system", "INFORMATION_SCHEMA", "information_schema"}
            self.config.attributes["include_name"] = lambda name, type_, parents: type_ != "schema" or name not in others

    @contextlib.contextmanager
    def _connected(self) -> Iterator[None]:
        if "connection" in self.config.attributes:  # assert_no_changes's autogenerate
            yield
            return
        with self.engine.begin() as connection:
            self.config.attributes["connection"] = connection
            try:
                yield
            finally:
                del self.config.attributes["connection"]

    def autogenerate(self, metadata: MetaData, message: str) -> str:
        with self._connected():
            return super().autogenerate(metadata, message)

    def assert_no_changes(self, metadata: MetaData) -> None:
        with self._connected():
            super().assert_no_changes(metadata)

    def upgrade(self, target: str = "head") -> None:
        with self._connected():
            super().upgrade(target)

    def downgrade(self, target: str) -> None:
        with self._connected():
            super().downgrade(target)


@pytest.fixture(params=["sqlite", "duckdb", "postgresql", "clickhouse"])
def schema_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tuple[str, sa.Engine]]:
    with database_with_schema(request.param, tmp_path, request) as (url, engine):
        yield url, engine


def models(schemas: Tuple[Optional[str], ...], fulltext: bool) -> MetaData:
    metadata = MetaData()
    for schema in schemas:
        table = Table(
            "docs",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("body", Text),
            Column("embedding", sv.Vector(3)),
            VectorIndex("ix_docs_embedding", "embedding", metric="l2", duckdb_experimental_persistence=True),
            schema=schema,
        )
        if fulltext:
            FullTextIndex("ft_docs_body", table.c.body)
    return metadata


def objects(engine: sa.Engine, schema: Optional[str]) -> dict[str, Any]:
    """What ``schema`` (None: the default one) holds besides Alembic's table, as the database lists it."""
    dialect = engine.dialect.name
    with engine.connect() as connection:
        found: dict[str, Any] = {
            "vector": [(row["name"], row["column"]) for row in list_vector_indexes(connection, schema=schema)],
        }
        if dialect != "clickhousedb":
            found["fulltext"] = [(row["name"], row["column"]) for row in list_fulltext_indexes(connection, schema=schema)]
        if dialect == "sqlite":  # every table and trigger of the file, vec0 and FTS5 ones too
            master = f"{schema}.sqlite_master" if schema else "sqlite_master"
            rows = connection.execute(text(f"SELECT name FROM {master} WHERE name NOT LIKE 'sqlite_%'"))
        elif dialect == "duckdb":  # and the schemas of full-text indexes
            rows = connection.execute(
                text(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                    "AND schema_name = :schema UNION ALL SELECT schema_name FROM duckdb_schemas() "
                    "WHERE database_name = current_database() AND schema_name LIKE 'fts_' || :schema || '_%'"
                ),
                {"schema": schema or "main"},
            )
        elif dialect == "postgresql":
            rows = connection.execute(
                text("SELECT relname FROM pg_class WHERE relnamespace = CAST(:schema AS regnamespace) AND relkind IN ('r', 'i')"),
                {"schema": schema or "public"},
            )
        else:
            rows = connection.execute(
                text("SELECT name FROM system.tables WHERE database = coalesce(:schema, currentDatabase())"), {"schema": schema}
            )
        found["objects"] = set(rows.scalars()) - {"alembic_version", "alembic_version_pkc"}
        return found


def operations(lines: list[str]) -> list[str]:
    """The operations of a rendered upgrade or downgrade, each as its call up to the first argument."""
    return [line.split(",")[0] for line in lines if line.startswith("op.")]


def test_models_in_a_named_schema(schema_url: Tuple[str, sa.Engine], tmp_path: Path) -> None:
    """Exactly the table and its indexes, built in the schema, and nothing proposed for what makes up an index."""
    url, engine = schema_url
    fulltext = engine.dialect.name != "clickhousedb"
    project = SchemaProject(tmp_path, url, engine)
    metadata = models(("app",), fulltext)
    source = project.autogenerate(metadata, "app docs")
    up, down = body(source, "upgrade"), body(source, "downgrade")
    expected = ["op.create_table('docs'", "op.create_vector_index('ix_docs_embedding'"]
    if fulltext:
        expected.append("op.create_fulltext_index('ft_docs_body'")
    assert [op for op in operations(up) if op != "op.create_vector_extension()"] == expected, source
    assert "schema='app'" in up, source  # create_table's closing argument
    assert all("schema='app'" in line for line in up if "_index(" in line), source
    assert all("schema='app'" in line for line in down if "_index(" in line), source

    empty = objects(engine, "app")
    project.upgrade()
    built = objects(engine, "app")
    assert built["vector"] == [("ix_docs_embedding", "embedding")]
    assert built.get("fulltext") == ([("ft_docs_body", "body")] if fulltext else None)
    assert objects(engine, None)["objects"] == set()  # nothing in the default schema
    project.assert_no_changes(metadata)

    project.downgrade("base")
    assert objects(engine, "app") == empty


def test_same_table_and_index_names_in_the_default_schema_and_another(
    schema_url: Tuple[str, sa.Engine], tmp_path: Path
) -> None:
    url, engine = schema_url
    fulltext = engine.dialect.name != "clickhousedb"
    project = SchemaProject(tmp_path, url, engine)
    project.autogenerate(models(("app",), fulltext), "app docs")
    project.upgrade()
    app_built = objects(engine, "app")

    both = models((None, "app"), fulltext)
    source = project.autogenerate(both, "docs")
    revision = project.last_path
    up, down = body(source, "upgrade"), body(source, "downgrade")
    expected = ["op.create_table('docs'", "op.create_vector_index('ix_docs_embedding'"]
    if fulltext:
        expected.append("op.create_fulltext_index('ft_docs_body'")
    assert operations(up) == expected, source  # the default schema's: the app schema's exist
    assert not [line for line in up + down if "schema=" in line], source
    project.upgrade()
    assert objects(engine, None) == {**app_built, "objects": objects(engine, None)["objects"]}
    assert objects(engine, "app") == app_built
    project.assert_no_changes(both)

    project.downgrade("-1")
    assert objects(engine, None)["objects"] == set()
    assert objects(engine, "app") == app_built  # the other schema's index of the same name is kept
    revision.unlink()
    project.assert_no_changes(models(("app",), fulltext))
    project.downgrade("base")
    assert objects(engine, "app")["objects"] == set()


def kinds_models(dim: int) -> MetaData:
    metadata = MetaData()
    Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", sv.Vector(dim)),
        Column("half", sv.HalfVector(dim)),
        VectorIndex("ix_docs_embedding", "embedding", metric="cosine"),
        VectorIndex("ix_docs_half", "half", metric="l2"),
    )
    return metadata


def extension_schema(url: str) -> Optional[str]:
    engine = sa.create_engine(url)  # a plain engine: a prepared one would create the extension
    try:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE extname = 'vector'")
            ).scalar()
    finally:
        engine.dispose()


def test_pgvector_in_a_schema_of_its_own(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """``CREATE EXTENSION vector SCHEMA extensions``, that schema on the search_path (as Supabase has it).

    Types and indexes compare as in ``public``; the migrations leave the extension, installed apart, alone:
    a downgrade to base dropped it, and the next upgrade created it again in ``public``.
    """
    with fresh_database("postgresql", tmp_path, request) as base:
        admin = sa.create_engine(base)
        with admin.begin() as connection:
            connection.execute(text("CREATE SCHEMA extensions"))
            connection.execute(text("CREATE EXTENSION vector SCHEMA extensions"))
        admin.dispose()
        url = sa.make_url(base).update_query_dict({"options": "-csearch_path=public,extensions"})
        rendered = url.render_as_string(hide_password=False)
        project = Project(tmp_path, rendered)
        source = project.autogenerate(kinds_models(3), "docs")
        up = body(source, "upgrade")
        assert sorted(operations(up)) == [
            "op.create_table('docs'",
            "op.create_vector_index('ix_docs_embedding'",
            "op.create_vector_index('ix_docs_half'",
        ], source  # no create_vector_extension
        assert "sqlalchemy_vector.Vector(3)" in source and "sqlalchemy_vector.HalfVector(3)" in source
        project.upgrade()
        project.assert_no_changes(kinds_models(3))

        source = project.autogenerate(kinds_models(4), "dim")
        assert sorted(line for line in body(source, "upgrade") if line.startswith("op.alter")) == [
            "op.alter_vector_dimension('docs', 'embedding', 4, existing_dim=3)",
            "op.alter_vector_dimension('docs', 'half', 4, existing_dim=3, kind='half')",
        ], source
        project.upgrade()
        project.assert_no_changes(kinds_models(4))
        engine = sv.create_engine(rendered)
        try:
            with engine.begin() as connection:
                docs = kinds_models(4).tables["docs"]
                connection.execute(sa.insert(docs), [{"id": 1, "embedding": [1, 0, 0, 0], "half": [0, 1, 0, 0]}])
                assert connection.execute(sa.select(docs.c.embedding)).scalar_one().tolist() == [1, 0, 0, 0]
                assert [row["name"] for row in list_vector_indexes(connection, "docs")] == ["ix_docs_embedding", "ix_docs_half"]
        finally:
            engine.dispose()

        project.downgrade("base")
        assert extension_schema(base) == "extensions"
        project.upgrade()
        assert extension_schema(base) == "extensions"
