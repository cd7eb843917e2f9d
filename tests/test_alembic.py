"""Alembic: autogenerate, upgrade and downgrade of vector columns and indexes on every backend.

Each test runs a real Alembic project (made by sqlalchemy_vector.alembic.init)
against a database of its own: migrations commit.
"""

from __future__ import annotations

import importlib
import re
import warnings
from pathlib import Path
from typing import Any, Iterator, List

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.util.exc import CommandError
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text

import sqlalchemy_vector as sv
import sqlalchemy_vector.alembic as sva
from sqlalchemy_vector.dialects.base import reflected_vector
from sqlalchemy_vector.exc import MissingExtensionError
from sqlalchemy_vector.index import VectorIndex, list_vector_indexes, vector_columns
from sqlalchemy_vector.search import knn

from index_helpers import fresh_database

REPO = Path(__file__).resolve().parents[1]


def models(version: int) -> MetaData:
    """The application's models: version 1, then version 2 (new dimension, new column and index, NOT NULL)."""
    metadata = MetaData()
    table = Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("title", String(50), nullable=version == 1),
        Column("embedding", sv.Vector(3 if version == 1 else 4)),
        VectorIndex("ix_docs_embedding", "embedding", metric="cosine", m=16, duckdb_experimental_persistence=True),
    )
    if version == 2:
        table.append_column(Column("summary", sv.Vector(2)))
        VectorIndex("ix_docs_summary", table.c.summary, metric="l2", duckdb_experimental_persistence=True)
    return metadata


class Project:
    """A temporary Alembic project made from the sqlalchemy_vector template."""

    def __init__(self, directory: Path, url: str) -> None:
        self.url = url
        self.ini = directory / "alembic.ini"
        self.scripts = directory / "migrations"
        sva.init(str(self.scripts), config_file=str(self.ini), url=url)
        self.config = Config(str(self.ini))
        self.config.attributes["configure_logger"] = False

    def autogenerate(self, metadata: MetaData, message: str) -> str:
        self.config.attributes["target_metadata"] = metadata
        script = command.revision(self.config, message=message, autogenerate=True)
        self.last_path = Path(script.path)  # type: ignore[union-attr]
        return self.last_path.read_text()

    def assert_no_changes(self, metadata: MetaData) -> None:
        """`alembic check` passes and a new revision is empty."""
        self.config.attributes["target_metadata"] = metadata
        command.check(self.config)
        source = self.autogenerate(metadata, "nothing")
        assert body(source, "upgrade") == ["pass"], source
        assert body(source, "downgrade") == ["pass"], source
        self.last_path.unlink()

    def upgrade(self, target: str = "head") -> None:
        command.upgrade(self.config, target)

    def downgrade(self, target: str) -> None:
        command.downgrade(self.config, target)


def body(source: str, function: str) -> List[str]:
    """The statements of upgrade() or downgrade(), without comments and blank lines."""
    match = re.search(rf"def {function}\(\) -> None:\n(.*?)(?=\n\ndef |\Z)", source, re.S)
    assert match, source
    lines = [line.strip() for line in match.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#") and not line.startswith('"""')]


def position(lines: List[str], prefix: str) -> int:
    for number, line in enumerate(lines):
        if line.startswith(prefix):
            return number
    raise AssertionError(f"no line starting with {prefix!r} in:\n" + "\n".join(lines))


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path, request) as url:
        yield url


def state(url: str) -> dict[str, Any]:
    engine = sv.create_engine(url)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            visible = sva.include_name_for(connection)  # vec0 tables are part of their index
            tables = {name for name in inspector.get_table_names() if visible(name, "table", {})} - {"alembic_version"}
            result: dict[str, Any] = {
                "tables": tables,
                "indexes": [(row["name"], row["column"], row["metric"]) for row in list_vector_indexes(connection)],
                "dims": vector_columns(connection, "docs") if "docs" in tables else {},
            }
            if connection.dialect.name == "sqlite":
                result["sqlite_objects"] = set(
                    connection.execute(text("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")).scalars()
                )
            return result
    finally:
        engine.dispose()


def pgvector_installed(url: str) -> bool:
    # A plain engine: sqlalchemy_vector.create_engine would create the extension.
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return bool(connection.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'vector'")).scalar())
    finally:
        engine.dispose()


# Alembic's own index comparison asks duckdb_engine 0.17 for indexes, which it cannot reflect.
@pytest.mark.filterwarnings("ignore:duckdb-engine doesn't yet support reflection on indices")
@pytest.mark.parametrize("database", ["sqlite", "duckdb", "postgresql"], indirect=True)
def test_models_to_migrations_and_back(database: str, tmp_path: Path) -> None:
    url = database
    dialect = sa.engine.make_url(url).get_backend_name()
    project = Project(tmp_path, url)

    # 1. models -> autogenerate: runnable code, imports included
    first = project.autogenerate(models(1), "vectors")
    assert "import sqlalchemy_vector\n" in first and "import sqlalchemy_vector.alembic" in first
    up, down = body(first, "upgrade"), body(first, "downgrade")
    assert "sa.Column('embedding', sqlalchemy_vector.Vector(3), nullable=True)," in up

    def create_for(dim: int) -> str:
        # vec0 declares the dimension and the table's key: rendered for offline SQL.
        offline = f", dim={dim}, key='id'" if dialect == "sqlite" else ""
        return (
            "op.create_vector_index('ix_docs_embedding', 'docs', 'embedding', metric='cosine', method='hnsw', m=16, "
            f"duckdb_experimental_persistence=True{offline})"
        )

    create = create_for(3)
    assert up.index(create) > position(up, "op.create_table('docs'")
    assert position(down, "op.drop_vector_index('ix_docs_embedding', table_name='docs')") < position(down, "op.drop_table('docs')")
    if dialect == "postgresql":
        assert up[0] == "op.create_vector_extension()" and down[-1] == "op.drop_vector_extension()"
    else:
        assert "extension" not in first
    # Offline SQL (``alembic upgrade --sql``) on the server dialect: no database needed.
    if dialect == "postgresql":
        import contextlib
        import io

        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            command.upgrade(project.config, "head", sql=True)
        sql = buffer.getvalue()
        assert "CREATE EXTENSION IF NOT EXISTS vector" in sql
        assert "CREATE INDEX ix_docs_embedding ON docs USING hnsw (embedding vector_cosine_ops) WITH (m = 16)" in sql

    # 2. upgrade: the table and its index exist
    project.upgrade()
    after_first = state(url)
    assert after_first["tables"] == {"docs"}
    assert after_first["indexes"] == [("ix_docs_embedding", "embedding", "cosine")]
    assert after_first["dims"] == {"embedding": 3}
    if dialect == "postgresql":
        assert pgvector_installed(url)

    # 3. insert and query through the index
    engine = sv.create_engine(url)
    docs = models(1).tables["docs"]
    rows = [{"id": i, "title": f"t{i}", "embedding": v} for i, v in enumerate([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]], 1)]
    try:
        with engine.begin() as connection:
            connection.execute(insert(docs), rows)
        with engine.connect() as connection:
            assert [r.id for r in knn(connection, docs.c.embedding, [1, 0.9, 0], 2)] == [3, 1]
    finally:
        engine.dispose()

    # 4. nothing changed: an empty migration
    project.assert_no_changes(models(1))

    # 5. new dimension, NOT NULL title, a new vector column with its index
    second = project.autogenerate(models(2), "dimension")
    up, down = body(second, "upgrade"), body(second, "downgrade")
    drop_old = position(up, "op.drop_vector_index('ix_docs_embedding', table_name='docs')")
    alter = position(up, "op.alter_vector_dimension('docs', 'embedding', 4, existing_dim=3)")
    create_old = up.index(create_for(4))
    create_new = position(up, "op.create_vector_index('ix_docs_summary', 'docs', 'summary', metric='l2', method='hnsw'")
    column = "sa.Column('summary', sqlalchemy_vector.Vector(2), nullable=True))"
    add = position(up, f"op.add_column('docs', {column}" if dialect != "sqlite" else f"batch_op.add_column({column}")
    not_null = position(up, "op.alter_column('docs', 'title'" if dialect != "sqlite" else "batch_op.alter_column('title'")
    assert drop_old < min(alter, add, not_null) and max(alter, add, not_null) < min(create_old, create_new)
    assert "reset to NULL" in second
    assert position(down, "op.alter_vector_dimension('docs', 'embedding', 3, existing_dim=4)") < down.index(create)
    assert position(down, "op.drop_vector_index('ix_docs_summary'") < position(down, "op.alter_vector_dimension")
    if dialect == "sqlite":
        assert "with op.batch_alter_table('docs', schema=None) as batch_op:" in up
    project.upgrade()
    after_second = state(url)
    assert after_second["indexes"] == [("ix_docs_embedding", "embedding", "cosine"), ("ix_docs_summary", "summary", "l2")]
    assert after_second["dims"] == {"embedding": 4, "summary": 2}

    engine = sv.create_engine(url)
    docs = models(2).tables["docs"]
    try:
        with engine.begin() as connection:
            old = connection.execute(select(docs.c.id, docs.c.title, docs.c.embedding).order_by(docs.c.id)).all()
            assert [(r.id, r.title, r.embedding) for r in old] == [(i, f"t{i}", None) for i in range(1, 5)]
            connection.execute(
                sa.update(docs).where(docs.c.id == 2).values(embedding=[0, 1, 0, 0], summary=[1, 1])
            )
            connection.execute(insert(docs).values(id=5, title="t5", embedding=[0, 0.9, 0.1, 0], summary=[5, 5]))
        with pytest.raises(sa.exc.IntegrityError):  # title is NOT NULL now
            with engine.begin() as connection:
                connection.execute(insert(docs).values(id=6, title=None))
        with engine.connect() as connection:
            assert [r.id for r in knn(connection, docs.c.embedding, [0, 1, 0, 0], 5)] == [2, 5]
            assert [r.id for r in knn(connection, docs.c.summary, [4, 4], 1, metric="l2")] == [5]
    finally:
        engine.dispose()
    project.assert_no_changes(models(2))

    # 6. downgrade one step: version 1's schema again, vectors reset
    project.downgrade("-1")
    back = state(url)
    assert back["indexes"] == after_first["indexes"] and back["dims"] == after_first["dims"]

    # 7. downgrade to base: nothing left
    project.downgrade("base")
    if dialect == "postgresql":
        assert not pgvector_installed(url)
    empty = state(url)
    assert empty["tables"] == set() and empty["indexes"] == []
    if dialect == "sqlite":
        assert empty["sqlite_objects"] == {"alembic_version"}  # no vec0, shadow tables or triggers


@pytest.mark.parametrize("database", ["clickhouse"], indirect=True)
def test_clickhouse_migrations_and_their_limits(database: str, tmp_path: Path) -> None:
    """Tables, vector columns and indexes migrate up and down; a dimension change, which would need NULL vectors, is refused."""
    url = database
    project = Project(tmp_path, url)
    first = project.autogenerate(models(1), "vectors")
    up, down = body(first, "upgrade"), body(first, "downgrade")
    # clickhouse-connect's Alembic renderer leaves nullability to the type: no nullable=True.
    assert "sa.Column('embedding', sqlalchemy_vector.Vector(3), )," in up and "extension" not in first
    create = (
        "op.create_vector_index('ix_docs_embedding', 'docs', 'embedding', metric='cosine', method='hnsw', m=16, "
        "duckdb_experimental_persistence=True, dim=3)"  # the index DDL declares it: offline SQL needs it
    )
    assert up.index(create) > position(up, "op.create_table('docs'")
    assert position(down, "op.drop_vector_index('ix_docs_embedding', table_name='docs')") < position(down, "op.drop_table('docs')")
    project.upgrade()
    after_first = state(url)
    assert after_first["tables"] == {"docs"}
    assert after_first["indexes"] == [("ix_docs_embedding", "embedding", "cosine")]
    assert after_first["dims"] == {"embedding": 3}

    engine = sv.create_engine(url)
    docs = models(1).tables["docs"]
    rows = [{"id": i, "title": f"t{i}", "embedding": v} for i, v in enumerate([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]], 1)]
    try:
        with engine.begin() as connection:
            connection.execute(insert(docs), rows)
        with engine.connect() as connection:
            assert [r.id for r in knn(connection, docs.c.embedding, [1, 0.9, 0], 2)] == [3, 1]
            # The dimension change other backends make by resetting vectors to NULL: refused, nothing changed.
            operations = Operations(MigrationContext.configure(connection))
            operations.drop_vector_index("ix_docs_embedding", table_name="docs")  # as autogenerate orders it
            with pytest.raises(sv.exc.UnsupportedDialectError, match=r"docs\.embedding.*3 to 4 dimensions.*no NULL vector"):
                operations.alter_vector_dimension("docs", "embedding", 4, existing_dim=3)
            assert vector_columns(connection, "docs") == {"embedding": 3}
            operations.create_vector_index("ix_docs_embedding", "docs", "embedding", metric="cosine", m=16)
            # clickhouse-connect's inspector fires no column_reflect event; a prepared engine's own
            # inspector reads the dimension from the length constraint.
            reflected = sa.Table("docs", sa.MetaData(), autoload_with=connection)
            assert isinstance(reflected.c.embedding.type, sv.Vector) and reflected.c.embedding.type.dim == 3
            assert not reflected.c.embedding.nullable and str(reflected.c.title.type) == "Nullable(String)"
            columns = {c["name"]: c["type"] for c in sa.inspect(connection).get_columns("docs")}
            assert isinstance(columns["embedding"], sv.Vector) and columns["embedding"].dim == 3
        engine_columns = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("docs")}
        assert isinstance(engine_columns["embedding"], sv.Vector) and engine_columns["embedding"].dim == 3
        # An engine the library did not prepare reflects exactly as clickhouse-connect does.
        plain = sa.create_engine(url)
        try:
            with plain.connect() as connection:
                untouched = sa.Table("docs", sa.MetaData(), autoload_with=connection).c.embedding.type
                assert type(sa.inspect(connection)) is type(plain.dialect).inspector
            assert not isinstance(untouched, sv.Vector) and str(untouched) == "Array(Float32)"
        finally:
            plain.dispose()
    finally:
        engine.dispose()
    project.assert_no_changes(models(1))

    project.downgrade("base")
    empty = state(url)
    assert empty["tables"] == set() and empty["indexes"] == []


def offline_clickhouse_sql(run: Any) -> str:
    """What ``run(op)`` prints as offline SQL (``alembic upgrade --sql``) on ClickHouse."""
    import io

    buffer = io.StringIO()
    context = MigrationContext.configure(dialect_name="clickhousedb", opts={"as_sql": True, "output_buffer": buffer})
    run(Operations(context))
    return buffer.getvalue()


def revision_id(source: str) -> str:
    match = re.search(r"^revision: str = '(\w+)'", source, re.M)
    assert match, source
    return match.group(1)


@pytest.mark.parametrize("database", ["clickhouse"], indirect=True)
def test_clickhouse_add_vector_column(database: str, tmp_path: Path) -> None:
    """op.add_column of a vector column adds its length constraint, on an empty table only; drop_column drops both."""
    import contextlib
    import io

    url = database
    project = Project(tmp_path, url)

    def docs_models(with_vectors: bool) -> MetaData:
        metadata = MetaData()
        table = Table("docs", metadata, Column("id", Integer, primary_key=True, autoincrement=False), Column("title", String(50)))
        if with_vectors:
            table.append_column(Column("embedding", sv.Vector(3)))
        return metadata

    first = revision_id(project.autogenerate(docs_models(False), "docs"))
    project.upgrade()
    second = project.autogenerate(docs_models(True), "vectors")
    up, down = body(second, "upgrade"), body(second, "downgrade")
    assert up == ["op.add_column('docs', sa.Column('embedding', sqlalchemy_vector.Vector(3), ))"], second
    assert down == ["op.drop_column('docs', 'embedding')"], second

    # Offline the rows cannot be counted: the DDL is printed as it is.
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        command.upgrade(project.config, f"{first}:head", sql=True)
        command.downgrade(project.config, f"head:{first}", sql=True)
    sql = printed.getvalue()
    assert (
        "ALTER TABLE `docs` ADD COLUMN `embedding` Array(Float32) CODEC(NONE), "
        "ADD CONSTRAINT `embedding_dimension` CHECK length(`embedding`) = 3;"
    ) in sql
    assert "ALTER TABLE `docs` DROP CONSTRAINT IF EXISTS `embedding_dimension`, DROP COLUMN `embedding`;" in sql

    engine = sv.create_engine(url)
    docs = docs_models(True).tables["docs"]
    try:
        with engine.begin() as connection:
            connection.execute(insert(docs_models(False).tables["docs"]), [{"id": 1, "title": "a"}, {"id": 2, "title": "b"}])
        # Existing rows would read back as vectors of length 0: refused, naming the column, the rows and the way out.
        with pytest.raises(sv.exc.UnsupportedDialectError, match=r"docs\.embedding: .*Vector\(3\).* 2 rows .*new table with the Vector\(3\) column.*INSERT \.\.\. SELECT.*empty"):
            project.upgrade()
        with engine.connect() as connection:
            assert "embedding" not in {c["name"] for c in sa.inspect(connection).get_columns("docs")}
            connection.execute(text("TRUNCATE TABLE docs"))

        project.upgrade()  # an empty table: the column and its constraint
        with engine.connect() as connection:
            assert vector_columns(connection, "docs") == {"embedding": 3}
            with pytest.raises(sa.exc.DatabaseError, match="embedding_dimension"):  # Vector(3) itself refuses it sooner
                connection.execute(text("INSERT INTO docs (id, title, embedding) VALUES (3, 'c', [1, 0])"))
            connection.execute(insert(docs), [{"id": 4, "title": "d", "embedding": [1, 0, 0]}])
            assert [r.id for r in knn(connection, docs.c.embedding, [1, 0, 0], 5)] == [4]
        project.assert_no_changes(docs_models(True))

        project.downgrade("-1")  # the constraint goes with its column (ClickHouse refuses the column alone)
        with engine.connect() as connection:
            assert [c["name"] for c in sa.inspect(connection).get_columns("docs")] == ["id", "title"]
            assert connection.execute(select(docs.c.id)).scalars().all() == [4]
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", ["clickhouse"], indirect=True)
def test_clickhouse_index_options_at_the_defaults(database: str, tmp_path: Path) -> None:
    """Options at ClickHouse's defaults (M 32, ef_construction 128) compare equal to the built index, which omits them."""
    metadata = MetaData()
    table = Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("a", sv.Vector(3)),
        Column("b", sv.Vector(3)),
        Column("c", sv.Vector(3)),
        VectorIndex("ix_docs_a", "a", metric="cosine", m=32),
        VectorIndex("ix_docs_b", "b", metric="l2", m=16, ef_construction=128),
        VectorIndex("ix_docs_c", "c", metric="cosine", m=32, ef_construction=64),
    )
    url = database
    project = Project(tmp_path, url)
    project.autogenerate(metadata, "defaults")
    project.upgrade()
    engine = sv.create_engine(url)
    try:
        with engine.connect() as connection:
            found = {row["name"]: row["options"] for row in list_vector_indexes(connection)}
            assert found == {"ix_docs_a": {}, "ix_docs_b": {"m": 16}, "ix_docs_c": {"ef_construction": 64}}
            assert found == {index.name: index.describe(connection.dialect)["options"] for index in table.indexes}
    finally:
        engine.dispose()
    project.assert_no_changes(metadata)
    # PostgreSQL keeps the options as declared, and reports them all.
    declared = {index.name: index.describe("postgresql")["options"] for index in table.indexes}
    assert declared == {"ix_docs_a": {"m": 32}, "ix_docs_b": {"m": 16, "ef_construction": 128}, "ix_docs_c": {"m": 32, "ef_construction": 64}}


@pytest.mark.parametrize("database", ["clickhouse"], indirect=True)
def test_clickhouse_offline_drop_vector_index(database: str) -> None:
    """Given its table, an offline drop_vector_index prints ALTER TABLE ... DROP INDEX, which ClickHouse runs."""
    sql = offline_clickhouse_sql(lambda op: op.drop_vector_index("ix_docs_embedding", table_name="docs"))
    assert sql.strip() == "ALTER TABLE `docs` DROP INDEX `ix_docs_embedding`;"
    quoted = offline_clickhouse_sql(lambda op: op.drop_vector_index("ix odd", table_name="my docs", schema="s", if_exists=True))
    assert quoted.strip() == "ALTER TABLE `s`.`my docs` DROP INDEX IF EXISTS `ix odd`;"
    with pytest.raises(sv.exc.UnsupportedDialectError, match=r"'ix_docs_embedding'.*needs its table.*table_name="):
        offline_clickhouse_sql(lambda op: op.drop_vector_index("ix_docs_embedding"))

    engine = sv.create_engine(database)
    try:
        with engine.connect() as connection:
            models(1).create_all(connection)  # builds the index after the table
            assert [row["name"] for row in list_vector_indexes(connection)] == ["ix_docs_embedding"]
            connection.exec_driver_sql(sql.strip().rstrip(";"))
            assert list_vector_indexes(connection) == []
    finally:
        engine.dispose()


def test_sqlite_table_rebuild_keeps_the_index_in_sync(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """SQLite batch migrations copy the table, which drops its triggers: autogenerate rebuilds the index around it."""
    with fresh_database("sqlite", tmp_path, request) as url:
        project = Project(tmp_path, url)
        project.autogenerate(models(1), "vectors")
        project.upgrade()
        changed = models(1)
        changed.tables["docs"].c.title.type = String(80)
        source = project.autogenerate(changed, "longer title")
        up = body(source, "upgrade")
        assert position(up, "op.drop_vector_index('ix_docs_embedding'") < position(up, "with op.batch_alter_table('docs'")
        assert position(up, "op.create_vector_index('ix_docs_embedding'") > position(up, "batch_op.alter_column('title'")
        project.upgrade()
        engine = sv.create_engine(url)
        docs = changed.tables["docs"]
        try:
            with engine.begin() as connection:
                connection.execute(insert(docs), [{"id": 1, "title": "a" * 80, "embedding": [1, 0, 0]}, {"id": 2, "title": "b", "embedding": [0, 1, 0]}])
                connection.execute(sa.delete(docs).where(docs.c.id == 1))
                assert connection.execute(text("SELECT rowid FROM ix_docs_embedding")).scalars().all() == [2]
                assert [r.id for r in knn(connection, docs.c.embedding, [1, 0, 0], 5)] == [2]
        finally:
            engine.dispose()


def test_sqlite_index_on_uuid_keys_migrates(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The migration reads the table's String primary key from the database and keys the vec0 rows by it."""
    metadata = MetaData()
    docs = Table(
        "uuid_docs",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("embedding", sv.Vector(3)),
        VectorIndex("ix_uuid_docs", "embedding", metric="l2"),
    )
    with fresh_database("sqlite", tmp_path, request) as url:
        project = Project(tmp_path, url)
        source = project.autogenerate(metadata, "uuid keys")
        create = "op.create_vector_index('ix_uuid_docs', 'uuid_docs', 'embedding', metric='l2', method='hnsw', dim=3, key='id', text_key=True)"
        assert create in source, source
        project.upgrade()
        assert state(url)["indexes"] == [("ix_uuid_docs", "embedding", "l2")]
        project.assert_no_changes(metadata)
        engine = sv.create_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(insert(docs), [{"id": "a", "embedding": [1, 0, 0]}, {"id": "b", "embedding": [0, 1, 0]}])
                connection.execute(sa.delete(docs).where(docs.c.id == "a"))
                assert connection.execute(text("SELECT id FROM ix_uuid_docs")).scalars().all() == ["b"]
        finally:
            engine.dispose()
        project.downgrade("base")
        assert state(url)["sqlite_objects"] == {"alembic_version"}


def test_without_sqlite_vec_the_upgrade_says_why(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    with fresh_database("sqlite-python", tmp_path, request) as url:
        project = Project(tmp_path, url)
        engine = sv.create_engine(url, sqlite_vec=False)
        try:
            with engine.connect() as connection:
                project.config.attributes["connection"] = connection
                source = project.autogenerate(models(1), "vectors")
                assert "op.create_vector_index('ix_docs_embedding'" in source
                with pytest.raises(MissingExtensionError, match="ix_docs_embedding.*without the sqlite-vec extension"):
                    project.upgrade()
        finally:
            engine.dispose()


@pytest.mark.parametrize("database", ["sqlite", "duckdb", "postgresql", "clickhouse"], indirect=True)
def test_reflection_is_enabled_per_engine(database: str) -> None:
    """Vector columns reflect as Vector(n) on engines the library prepared, and nowhere else."""
    url = database
    migrating, other = sv.create_engine(url), sa.create_engine(url)
    try:
        with migrating.begin() as connection:
            models(1).tables["docs"].create(connection)
        with other.connect() as connection, warnings.catch_warnings():
            warnings.simplefilter("ignore", sa.exc.SAWarning)
            plain = {c["name"]: c["type"] for c in sa.inspect(connection).get_columns("docs")}
            sva.context_options(connection)  # a migration connection: its engine reflects vectors from now on
            alembic_sees = sa.Table("docs", sa.MetaData(), autoload_with=connection).c.embedding.type
        assert not isinstance(plain["embedding"], sv.Vector)
        assert isinstance(alembic_sees, sv.Vector) and alembic_sees.dim == 3
        with migrating.connect() as connection:
            with warnings.catch_warnings():
                warnings.simplefilter("error", sa.exc.SAWarning)
                reflected = sa.Table("docs", sa.MetaData(), autoload_with=connection).c.embedding.type
        assert isinstance(reflected, sv.Vector) and reflected.dim == 3
        assert type(migrating.dialect).ischema_names is type(other.dialect).ischema_names
        names = type(migrating.dialect).ischema_names  # a list on clickhouse-connect, which reflects by its own parser
        assert reflected_vector not in (names.values() if isinstance(names, dict) else names)
        third = sa.create_engine(url)
        try:
            with third.connect() as connection, warnings.catch_warnings():
                warnings.simplefilter("ignore", sa.exc.SAWarning)
                untouched = sa.Table("docs", sa.MetaData(), autoload_with=connection).c.embedding.type
            assert not isinstance(untouched, sv.Vector)
        finally:
            third.dispose()
    finally:
        migrating.dispose()
        other.dispose()


def test_hooks_render_and_filter(tmp_path: Path) -> None:
    engine = sv.create_engine(f"sqlite:///{tmp_path}/hooks.db")
    metadata = models(1)
    try:
        with engine.begin() as connection:
            metadata.create_all(connection)
            connection.execute(text("CREATE TABLE ix_docs_embedding_notes (id INTEGER PRIMARY KEY)"))
            options = sva.context_options(connection)
            context = AutogenContext(MigrationContext.configure(connection, opts=options))
            assert options["render_item"]("type", sv.Vector(7), context) == "sqlalchemy_vector.Vector(7)"
            assert "import sqlalchemy_vector" in context.imports
            assert options["render_item"]("type", sa.Integer(), context) is False
            include = options["include_name"]
            names = connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars().all()
            hidden = sorted(name for name in names if not include(name, "table", {}))
            assert hidden[:1] == ["ix_docs_embedding"] and all(h.startswith("ix_docs_embedding_") for h in hidden[1:])
            assert {"ix_docs_embedding_chunks", "ix_docs_embedding_rowids"} <= set(hidden)
            assert include("ix_docs_embedding_notes", "table", {}) and include("docs", "table", {})
            assert options["render_as_batch"] is True
            assert options["autogenerate_plugins"] == ["alembic.autogenerate.*", "sqlalchemy_vector"]
    finally:
        engine.dispose()
    index = next(iter(metadata.tables["docs"].indexes))
    assert not sva.include_object(index, index.name, "index", False, None)
    plain = sa.Index("ix_plain", metadata.tables["docs"].c.title)
    assert sva.include_object(plain, "ix_plain", "index", False, None)
    reflected = sa.Index("ix_hnsw", sa.Column("embedding"), postgresql_using="hnsw")
    assert not sva.include_object(reflected, "ix_hnsw", "index", True, None)
    chained = sva.context_options(include_object=lambda obj, name, type_, reflected, other: name != "secret")
    assert not chained["include_object"](plain, "secret", "table", False, None)
    assert chained["include_object"](plain, "docs", "table", False, None)


def test_init_writes_a_wired_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vector_models_for_init.py").write_text(
        "import sqlalchemy as sa\nimport sqlalchemy_vector as sv\n"
        "metadata = sa.MetaData()\n"
        "docs = sa.Table('docs', metadata, sa.Column('id', sa.Integer, primary_key=True),"
        " sa.Column('embedding', sv.Vector(5)), sv.index.VectorIndex('ix_e', 'embedding'))\n"
    )
    importlib.invalidate_caches()  # the module was written a moment ago
    sva.init("migrations", url=f"sqlite:///{tmp_path}/init.db", metadata="vector_models_for_init:metadata")
    assert sorted(p.name for p in (tmp_path / "migrations").iterdir()) == ["README", "env.py", "script.py.mako", "versions"]
    assert "sqlalchemy_vector.alembic.context_options(connection)" in (tmp_path / "migrations" / "env.py").read_text()
    ini = (tmp_path / "alembic.ini").read_text()
    assert f"sqlalchemy.url = sqlite:///{tmp_path}/init.db" in ini
    assert "target_metadata = vector_models_for_init:metadata" in ini
    config = Config("alembic.ini")
    config.attributes["configure_logger"] = False
    script = command.revision(config, message="from ini", autogenerate=True)
    source = Path(script.path).read_text()  # type: ignore[union-attr]
    assert "sqlalchemy_vector.Vector(5)" in source and "op.create_vector_index('ix_e', 'docs', 'embedding'" in source
    with pytest.raises(CommandError, match="not empty"):
        sva.init("migrations")


def test_template_has_one_source() -> None:
    documented = REPO / "alembic_templates" / "sqlalchemy_vector"
    if not documented.is_dir():
        pytest.skip("alembic_templates/ is a symlink of the repository, not shipped in the sdist (the package has the template)")
    for name in ("env.py", "script.py.mako", "alembic.ini.mako", "README"):
        assert (documented / name).resolve() == (sva.TEMPLATE_DIR / name).resolve()
