"""DuckDB through whichever dialect is installed (duckdb-sqlalchemy or duckdb_engine), and vss on any DuckDB.

The suite runs on one of the two dialects (they register the same name); CI
installs the ``duckdb`` extra's choice.  The traits each dialect claims are
checked here against what it really does, so a new release of either shows up.
"""

from __future__ import annotations

import shutil
import warnings
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, event, insert
from sqlalchemy.engine import Engine
from sqlalchemy.schema import CreateTable

import sqlalchemy_vector as sv
from sqlalchemy_vector.dialects import backend_for
from sqlalchemy_vector.dialects.duckdb import FLOAT_ARRAY, vss_extension_path
from sqlalchemy_vector.dialects.duckdb import extensions
from sqlalchemy_vector.dialects.duckdb.dialects import DUCKDB_ENGINE, DUCKDB_SQLALCHEMY, traits_of
from sqlalchemy_vector.exc import MissingExtensionError
from sqlalchemy_vector.index import VectorIndex, create_vector_index, list_vector_indexes
from sqlalchemy_vector.search import knn

SQLALCHEMY_2_1 = tuple(int(part) for part in sa.__version__.split(".")[:2]) >= (2, 1)


def _installed(distribution: str) -> bool:
    try:
        importlib_metadata.version(distribution)
    except importlib_metadata.PackageNotFoundError:
        return False
    return True


def docs_table(metadata: MetaData) -> Table:
    return Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("title", String),
        Column("embedding", sv.Vector(3)),
    )


ROWS = [
    {"id": 1, "title": "x", "embedding": [1.0, 0.0, 0.0]},
    {"id": 2, "title": "y", "embedding": [0.0, 1.0, 0.0]},
    {"id": 3, "title": "z", "embedding": [0.0, 0.0, 1.0]},
]


def test_the_installed_dialect_is_known_and_alone() -> None:
    engine = sa.create_engine("duckdb:///:memory:")
    traits = traits_of(engine.dialect)
    assert type(engine.dialect).__module__.partition(".")[0] == traits.module
    assert traits is traits_of()
    # Both register the dialect name "duckdb": with both installed, which one SQLAlchemy loads is an accident.
    installed = {t.distribution for t in (DUCKDB_SQLALCHEMY, DUCKDB_ENGINE) if _installed(t.distribution)}
    assert installed == {traits.distribution}
    assert backend_for(engine.dialect).name == "duckdb"


def test_a_subclass_has_its_base_dialects_traits() -> None:
    base = type(sa.create_engine("duckdb:///:memory:").dialect)
    derived = type("MyDuckDB", (base,), {"__module__": "myapp.dialects"})
    assert traits_of(derived) is traits_of(base)
    assert backend_for(derived).name == "duckdb"


def test_integer_keys_as_the_traits_say(tmp_path: Path) -> None:
    engine = sv.create_engine(f"duckdb:///{tmp_path}/keys.duckdb")
    traits = traits_of(engine.dialect)
    table = Table("k", MetaData(), Column("id", Integer, primary_key=True), Column("embedding", sv.Vector(3)))
    ddl = str(CreateTable(table).compile(dialect=engine.dialect))
    assert ("SERIAL" in ddl) is traits.serial_integer_keys
    if not traits.serial_integer_keys:
        with engine.begin() as conn:
            table.create(conn)
            conn.execute(insert(table).values(id=1, embedding=[1, 2, 3]))
    engine.dispose()


def test_reflection_as_the_traits_say(tmp_path: Path) -> None:
    engine = sv.create_engine(f"duckdb:///{tmp_path}/reflect.duckdb")
    traits = traits_of(engine.dialect)
    metadata = MetaData()
    table = docs_table(metadata)
    Index("ix_docs_title", table.c.title)
    with engine.begin() as conn:
        metadata.create_all(conn)
    try:
        with engine.connect() as conn, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # duckdb_engine warns that it reflects no index and no FLOAT[n]
            inspector = sa.inspect(conn)
            if SQLALCHEMY_2_1 and not traits.reflects_on_sqlalchemy_2_1:
                with pytest.raises(sa.exc.ProgrammingError, match="pg_collation"):
                    inspector.get_columns("docs")
                return
            columns = {c["name"]: c["type"] for c in inspector.get_columns("docs")}
            indexes = [ix["name"] for ix in inspector.get_indexes("docs")]
            keys = inspector.get_pk_constraint("docs")["constrained_columns"]
            # The Alembic plugin reads the dimension from the catalog either way.
            assert sv.index.vector_columns(conn, "docs") == {"embedding": 3}
        dim = backend_for(engine.dialect).storage_dim(columns["embedding"])
        assert dim == (3 if traits.reflects_array_size else None)
        if not traits.reflects_array_size:
            assert isinstance(columns["embedding"], sa.types.NullType)
        assert indexes == (["ix_docs_title"] if traits.reflects_indexes else [])
        assert keys == (["id"] if traits.reflects_primary_keys else [])
    finally:
        engine.dispose()


def test_alembic_uses_the_dialects_own_implementation() -> None:
    import sqlalchemy_vector.alembic  # noqa: F401  - prepares every backend's migrations
    from alembic.ddl import impl

    own = traits_of().alembic_impl
    assert impl._impls["duckdb"].__module__ == (own or "sqlalchemy_vector.dialects.duckdb.migrations")


def test_storage_dim_of_both_dialects_types() -> None:
    backend = backend_for("duckdb")
    assert backend.storage_dim(FLOAT_ARRAY(5)) == 5
    assert backend.storage_dim(sa.Integer()) is None
    if traits_of().reflects_array_size:
        from duckdb_sqlalchemy.datatypes import FixedArray

        assert backend.storage_dim(FixedArray(sa.REAL(), 7)) == 7
        assert backend.storage_dim(FixedArray(sa.DOUBLE(), 7)) is None  # DOUBLE[7] is not a float32 vector


# -- vss on a DuckDB without a matching wheel ---------------------------------------------


def isolate_extensions(engine: Engine, directory: Path, repository: Path) -> None:
    """Give the engine's connections their own extension directory and a local repository, so nothing downloads."""

    @event.listens_for(engine, "connect")
    def settings(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET extension_directory = '{directory}'")
        cursor.execute(f"SET custom_extension_repository = '{repository}'")
        cursor.close()


@pytest.fixture
def unprepared(tmp_path: Path) -> Iterator[Engine]:
    """A DuckDB engine that did not load the wheel and cannot download vss (an empty local repository)."""
    engine = sa.create_engine(f"duckdb:///{tmp_path}/novss.duckdb")
    isolate_extensions(engine, tmp_path / "extensions", tmp_path / "repository")
    with engine.begin() as conn:
        table = docs_table(MetaData())
        table.create(conn)
        conn.execute(insert(table), ROWS)
    yield engine
    engine.dispose()


def test_without_vss_exact_search_works_and_an_index_names_the_fix(unprepared: Engine) -> None:
    table = docs_table(MetaData())
    with unprepared.connect() as conn:
        assert not extensions.loaded(conn)
        rows = knn(conn, table.c.embedding, [0.9, 0.1, 0.0], 2, metric="l2")
        assert [row.id for row in rows] == [1, 2]
    index = VectorIndex("ix_docs_embedding", table.c.embedding, metric="l2", duckdb_experimental_persistence=True)
    version = duckdb.__version__
    fix = "sqlalchemy_vector.create_engine" if vss_extension_path() else f"duckdb-extension-vss=={version}.*INSTALL vss"
    with unprepared.connect() as conn:
        with pytest.raises(
            MissingExtensionError,
            match=rf"'ix_docs_embedding' on DuckDB {version} needs the vss extension.*INSTALL vss failed.*{fix}.*Exact search",
        ):
            create_vector_index(conn, index)
        conn.rollback()
        raw = conn.connection.dbapi_connection
        assert extensions.load(raw, None, {}) is False  # nothing installed in this engine's extension directory


def test_vss_installs_from_the_connections_repository_and_then_loads(tmp_path: Path) -> None:
    wheel = vss_extension_path()
    assert wheel is not None, "the test extra installs duckdb-extension-vss, whose file serves as the repository"
    platform = duckdb.connect().execute("PRAGMA platform").fetchone()[0]  # type: ignore[index]
    repository = tmp_path / "repository"
    (repository / f"v{duckdb.__version__}" / platform).mkdir(parents=True)
    shutil.copy(wheel, repository / f"v{duckdb.__version__}" / platform / "vss.duckdb_extension")
    engine = sa.create_engine(f"duckdb:///{tmp_path}/install.duckdb")
    isolate_extensions(engine, tmp_path / "extensions", repository)
    table = docs_table(MetaData())
    try:
        with engine.begin() as conn:
            table.create(conn)
            conn.execute(insert(table), ROWS)
            index = VectorIndex("ix_docs_embedding", table.c.embedding, metric="l2", duckdb_experimental_persistence=True)
            create_vector_index(conn, index)  # INSTALL vss from the local repository, then LOAD
            assert [found["name"] for found in list_vector_indexes(conn, "docs")] == ["ix_docs_embedding"]
        installed = list((tmp_path / "extensions").rglob("vss.duckdb_extension"))
        assert len(installed) == 1
        # What a prepared engine does on each new connection when no wheel matches: LOAD vss, now installed.
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert extensions.load(raw, None, {}) is True
            assert extensions.loaded(conn)
            rows = knn(conn, table.c.embedding, [0.9, 0.1, 0.0], 2, metric="l2")
            assert [row.id for row in rows] == [1, 2]
    finally:
        engine.dispose()


@pytest.mark.parametrize("way", ["create_engine", "plugin"])
def test_a_duckdb_that_forbids_extensions_searches_exactly(tmp_path: Path, way: str) -> None:
    # With enable_external_access = false (a sandboxed DuckDB) every connection of a prepared engine failed with
    # DuckDB's PermissionException from the LOAD of the vss wheel, where a plain engine ranks exactly.
    config = {"config": {"enable_external_access": False}}
    url = f"duckdb:///{tmp_path / 'sandboxed.duckdb'}"
    engine = sv.create_engine(url, connect_args=config) if way == "create_engine" else sa.create_engine(
        url + "?plugin=vector", connect_args=config
    )
    table = Table("docs", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False), Column("v", sv.Vector(3)))
    try:
        with engine.begin() as connection:
            table.create(connection)
            connection.execute(insert(table), [{"id": 1, "v": [1, 0, 0]}, {"id": 2, "v": [0, 1, 0]}, {"id": 3, "v": [1, 1, 0]}])
        with engine.connect() as connection:
            assert [row.id for row in knn(connection, table.c.v, [1, 0.1, 0], 2)] == [1, 3]
            assert list_vector_indexes(connection, "docs") == []
        index = VectorIndex("docs_v", table.c.v, duckdb_experimental_persistence=True)
        with pytest.raises(MissingExtensionError, match=r"VectorIndex 'docs_v' on DuckDB needs the vss extension, which this connection's settings forbid to load \(enable_external_access = false\).*exact search works"):
            with engine.begin() as connection:
                create_vector_index(connection, index)
    finally:
        engine.dispose()
