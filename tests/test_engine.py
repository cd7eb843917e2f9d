"""Engine preparation: what create_engine/attach do, and what they leave alone."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Set

import numpy as np
import pytest
import sqlalchemy
from sqlalchemy import Column, Integer, MetaData, Table, insert, make_url, select, text
from sqlalchemy.engine import Engine

import sqlalchemy_vector as sv
from sqlalchemy_vector.dialects import engine_state
from sqlalchemy_vector.exc import MissingExtensionError, UnsupportedDialectError


def vectors_table() -> Table:
    return Table("t", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False), Column("e", sv.Vector(2)))


def l2_of_a_stored_vector(conn: Any) -> float:
    """Create the vectors table, store [3, 4] and return its L2 distance from the origin, computed in the database."""
    table = vectors_table()
    table.create(conn)
    conn.execute(insert(table).values(id=1, e=[3.0, 4.0]))
    return float(conn.execute(select(table.c.e.l2([0.0, 0.0]))).scalar_one())


def test_plain_engines_are_untouched(tmp_path: Path) -> None:
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/plain.db")
    assert engine_state(engine.dialect) is None
    listeners = len(engine.pool.dispatch.connect)
    # the vector type still stores and loads values on a plain engine
    table = vectors_table()
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(insert(table).values(id=1, e=[1.0, 2.0]))
        np.testing.assert_array_equal(conn.execute(select(table.c.e)).scalar_one(), [1.0, 2.0])
        # ...but distances need the functions: a clear error, not "no such function"
        with pytest.raises(MissingExtensionError, match=r"cosine_distance\(\) needs the vec_distance_\* functions.*\?plugin=vector to its URL.*attach\(engine\)"):
            conn.execute(select(table.c.e.cosine([1.0, 0.0])))
    assert len(engine.pool.dispatch.connect) == listeners  # nothing was added by using the types
    engine.dispose()


def test_attach_prepares_a_plain_engine_once(tmp_path: Path) -> None:
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/attached.db")
    listeners = len(engine.pool.dispatch.connect)
    assert sv.attach(engine) is engine
    sv.attach(engine)
    assert len(engine.pool.dispatch.connect) == listeners + 1
    table = vectors_table()
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(insert(table), [{"id": 1, "e": [3.0, 4.0]}, {"id": 2, "e": [1.0, 0.0]}])
        assert conn.execute(select(table.c.e.l2([0.0, 0.0])).order_by(table.c.id)).scalars().all() == pytest.approx([5.0, 1.0])
    assert engine_state(engine.dialect)["sqlite_vec"] in ("extension", "python")
    engine.dispose()


def test_unsupported_dialect_is_refused_before_connecting() -> None:
    with pytest.raises(UnsupportedDialectError, match="the 'mysql' dialect has no vector support; sqlalchemy_vector supports clickhousedb, cockroachdb, duckdb, postgresql, sqlite, yugabytedb"):
        sv.create_engine("mysql://user@localhost/db")


def test_attach_refuses_what_is_not_an_engine(tmp_path: Path) -> None:
    # A URL, a Session or None raised AttributeError: "'str' object has no attribute 'sync_engine'".
    from sqlalchemy.orm import Session

    url = f"sqlite:///{tmp_path / 'a.db'}"
    for given, fix in (
        (url, "create the engine with sqlalchemy_vector.create_engine"),
        (sqlalchemy.make_url(url), "create the engine with sqlalchemy_vector.create_engine"),
        (Session(), r"pass the Engine itself \(session.get_bind\(\), connection.engine\)"),
        (None, "pass the Engine itself"),
    ):
        with pytest.raises(sv.exc.InvalidArgumentError, match=rf"attach\(\) prepares an Engine or AsyncEngine, got {type(given).__name__}; {fix}"):
            sv.attach(given)


def test_create_async_engine_names_the_asyncio_drivers_for_a_synchronous_url() -> None:
    # SQLAlchemy's own refusal ("The asyncio extension requires an async driver") named none.
    with pytest.raises(sv.exc.InvalidArgumentError, match=r"'sqlite:///app.db', whose driver is a synchronous one; name an asyncio driver in the URL: 'sqlite\+aiosqlite:///app.db'$"):
        sv.create_async_engine("sqlite:///app.db")
    with pytest.raises(sv.exc.InvalidArgumentError, match=r"'postgresql\+psycopg_async://u:\*\*\*@127.0.0.1:1/d' or 'postgresql\+asyncpg://"):
        sv.create_async_engine("postgresql://u:secret@127.0.0.1:1/d")


async def test_an_unprepared_async_sqlite_engine_is_pointed_to_create_async_engine(tmp_path: Path) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'plain.db'}")
    try:
        with pytest.raises(sv.exc.MissingExtensionError, match=r"create it with sqlalchemy_vector.create_async_engine\(url\), add \?plugin=vector"):
            async with engine.connect() as connection:
                await connection.execute(select(sv.cosine_distance([1.0, 0.0], [0.0, 1.0])))
    finally:
        await engine.dispose()


def test_postgresql_text_path_without_attach(postgresql_url: str) -> None:
    # A plain engine sends vectors as text; results still arrive through vector_send.
    engine = sqlalchemy.create_engine(postgresql_url)
    table = vectors_table()
    table.name = "plain_pg_vectors"
    try:
        with engine.connect() as conn:
            trans = conn.begin()
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            table.create(conn)
            conn.execute(insert(table), [{"id": 1, "e": [0.1, 0.2]}, {"id": 2, "e": [-3.5, 1e-7]}])
            got = conn.execute(select(table.c.e).order_by(table.c.id)).scalars().all()
            np.testing.assert_array_equal(got[1], np.array([-3.5, 1e-7], dtype=np.float32))
            assert conn.execute(select(table.c.id).order_by(table.c.e.l2([-3.0, 0.0])).limit(1)).scalar_one() == 2
            # textual SQL returns pgvector's text form: the type still decodes it
            raw = conn.execute(text("SELECT e FROM plain_pg_vectors WHERE id = 1").columns(table.c.e)).scalar_one()
            np.testing.assert_array_equal(raw, np.array([0.1, 0.2], dtype=np.float32))
            trans.rollback()
    finally:
        engine.dispose()
    assert engine_state(engine.dialect) is None


def test_postgresql_binary_path_with_attach(engine_for: Callable[[str], Engine]) -> None:
    engine = engine_for("postgresql")
    state = engine_state(engine.dialect)
    assert state is not None and state["binary"] is True
    processor = sv.Vector(2).dialect_impl(engine.dialect).bind_processor(engine.dialect)
    assert type(processor(np.zeros(2, np.float32))).__name__ == "_BinaryVector"


def test_missing_pgvector_is_a_clear_error(postgresql_url: str) -> None:
    # A role that may not create extensions, in a database without pgvector.
    admin = sqlalchemy.create_engine(postgresql_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS no_vector_db"))
        conn.execute(text("CREATE DATABASE no_vector_db"))
        conn.execute(text("DROP ROLE IF EXISTS plain_user"))
        conn.execute(text("CREATE ROLE plain_user LOGIN"))
    admin.dispose()
    url = make_url(postgresql_url).set(username="plain_user", database="no_vector_db")
    engine = sv.create_engine(url)
    try:
        with pytest.raises(MissingExtensionError, match=r"the pgvector extension is not available in database 'no_vector_db' \(permission denied to create extension \"vector\".*\); install pgvector on the server, or have a superuser run CREATE EXTENSION vector"):
            with engine.connect():
                pass
    finally:
        engine.dispose()
        with admin.connect() as conn:  # the server may be an outside one (SQLALCHEMY_VECTOR_TEST_PG_URL)
            conn.execute(text("DROP DATABASE IF EXISTS no_vector_db WITH (FORCE)"))
            conn.execute(text("DROP ROLE IF EXISTS plain_user"))
        admin.dispose()


def test_duckdb_without_attach_still_computes(tmp_path: Path) -> None:
    engine = sqlalchemy.create_engine(f"duckdb:///{tmp_path}/plain.duckdb")
    with engine.begin() as conn:
        assert l2_of_a_stored_vector(conn) == pytest.approx(5.0)
    engine.dispose()


def test_duckdb_engine_draws_no_progress_bar(tmp_path: Path) -> None:
    # DuckDB draws its bar on stdout, a pipe included, for statements past 2 s: output such as
    # `sqlalchemy-vector query --json` on a large table would be corrupted.  (Under pytest's capture
    # DuckDB leaves it off by itself, so the check runs in a plain process writing to a pipe.)
    script = (
        "import duckdb, sys, sqlalchemy_vector as sv\n"
        "print(duckdb.connect().execute(\"SELECT current_setting('enable_progress_bar')\").fetchone()[0])\n"
        "engine = sv.create_engine(sys.argv[1])\n"
        "with engine.connect() as conn:\n"
        "    print(conn.exec_driver_sql(\"SELECT current_setting('enable_progress_bar')\").scalar_one())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, f"duckdb:///{tmp_path}/quiet.duckdb"],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(Path(sv.__file__).parents[1])},
    )
    assert done.stdout.split() == ["True", "False"]


def test_sqlite_fallback_matches_extension(tmp_path: Path) -> None:
    native = sv.create_engine(f"sqlite:///{tmp_path}/native.db")
    python = sv.create_engine(f"sqlite:///{tmp_path}/python.db", sqlite_vec=False)
    rng = np.random.default_rng(3)
    rows = [{"id": i, "e": v} for i, v in enumerate(rng.standard_normal((50, 2)).astype(np.float32))]
    results = []
    for engine in (native, python):
        table = vectors_table()
        with engine.begin() as conn:
            table.create(conn)
            conn.execute(insert(table), rows)
            per_metric = {}
            for metric in sv.METRICS:
                distance = sv.distance(metric, table.c.e, [0.3, -0.7])
                per_metric[metric] = conn.execute(select(table.c.id, distance).order_by(distance, table.c.id)).all()
            results.append(per_metric)
        engine.dispose()
    assert engine_state(native.dialect)["sqlite_vec"] == "extension"
    assert engine_state(python.dialect)["sqlite_vec"] == "python"
    for metric in sv.METRICS:
        assert [r[0] for r in results[0][metric]] == [r[0] for r in results[1][metric]]
        assert [r[1] for r in results[0][metric]] == pytest.approx([r[1] for r in results[1][metric]], abs=1e-5)


def _float_compression(engine: Engine, dim: int) -> Set[str]:
    """Load 4,000 vectors, checkpoint, and return the compression methods of the stored float data."""
    table = Table("stored", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False), Column("e", sv.Vector(dim)))
    rows = np.random.default_rng(5).standard_normal((4000, dim)).astype(np.float32)
    with engine.begin() as conn:
        table.create(conn)
        sv.bulk_insert(conn, table, [{"id": i, "e": v} for i, v in enumerate(rows)])
    with engine.connect() as conn:
        conn.exec_driver_sql("CHECKPOINT")
        methods = conn.exec_driver_sql(
            "SELECT DISTINCT compression FROM pragma_storage_info('stored') WHERE segment_type = 'FLOAT'"
        ).scalars()
        found = set(methods)
        back = conn.execute(select(table.c.e).order_by(table.c.id)).scalars().all()
    assert np.array_equal(np.stack(back), rows)  # stored exactly either way
    return found


def test_duckdb_stores_vectors_uncompressed_on_prepared_engines(tmp_path: Path) -> None:
    # ALPRD, DuckDB's choice for float data, must be decoded by every scan of the vectors, which it made about
    # 3x slower (dialects/duckdb/storage.py); prepared engines disable it, plain engines are left alone.
    prepared = sv.create_engine(f"duckdb:///{tmp_path}/prepared.duckdb")
    plain = sqlalchemy.create_engine(f"duckdb:///{tmp_path}/plain.duckdb")
    try:
        assert _float_compression(prepared, 64) == {"Uncompressed"}
        assert "ALPRD" in _float_compression(plain, 64)
        with prepared.connect() as conn:
            assert conn.exec_driver_sql("SELECT current_setting('disabled_compression_methods')").scalar().lower() == "alprd"
    finally:
        prepared.dispose()
        plain.dispose()


def test_sqlite_files_made_by_prepared_engines_have_16_kb_pages(tmp_path: Path) -> None:
    # A 384-d embedding row fills half of a 4 kB page; 16 kB pages made exact and vec0 scans faster
    # (dialects/sqlite/storage.py, bench/storage_defaults.py).  Existing files keep their page size.
    import sqlite3

    old = tmp_path / "old.db"
    with sqlite3.connect(old) as raw:
        raw.execute("CREATE TABLE legacy (x INTEGER)")
    for path, expected in ((tmp_path / "new.db", 16384), (old, 4096)):
        engine = sv.create_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            assert l2_of_a_stored_vector(conn) == pytest.approx(5.0)
            assert conn.exec_driver_sql("PRAGMA page_size").scalar() == expected
        engine.dispose()
    plain = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/plain.db")
    with plain.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 4096  # engines not prepared: SQLite's default
    plain.dispose()


def test_postgresql_keeps_vectors_in_the_row(postgresql_url: str) -> None:
    # pgvector's types are EXTERNAL: past about 2 kB a row's vector goes to the TOAST table and every exact
    # scan fetches it back (dialects/postgresql/storage.py).  Tables created here declare STORAGE MAIN on
    # vector columns, on prepared and plain engines alike; other columns keep their type's storage.
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable

    for name, engine in (("main_prepared", sv.create_engine(postgresql_url)), ("main_plain", sqlalchemy.create_engine(postgresql_url))):
        table = Table(name, MetaData(), Column("id", Integer, primary_key=True, autoincrement=False), Column("label", sqlalchemy.Text), Column("e", sv.Vector(768), nullable=False))
        rows = np.random.default_rng(1).standard_normal((3, 768)).astype(np.float32)
        try:
            with engine.begin() as conn:
                table.drop(conn, checkfirst=True)
                table.create(conn)
                conn.execute(insert(table), [{"id": i, "label": "x", "e": v} for i, v in enumerate(rows)])
                storage = dict(conn.exec_driver_sql(
                    f"SELECT attname, attstorage FROM pg_attribute WHERE attrelid = '{name}'::regclass AND attnum > 0"
                ).all())
                assert storage == {"id": "p", "label": "x", "e": "m"}
                # Each 3 kB vector stayed in its row: nothing went to the TOAST table.
                toasted = conn.exec_driver_sql(
                    f"SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = '{name}'::regclass"
                ).scalar()
                assert toasted == 0
                back = conn.execute(select(table.c.e).order_by(table.c.id)).scalars().all()
                assert np.array_equal(np.stack(back), rows)
                table.drop(conn)
        finally:
            engine.dispose()
    # Offline, the server's version is unknown: pgvector's default, as before.
    assert "STORAGE" not in str(CreateTable(table).compile(dialect=postgresql.dialect()))


# -- SQLite through aiosqlite ----------------------------------------------------------------------------


async def _busy_timeout_and_vec(engine: Any) -> tuple:
    try:
        async with engine.connect() as conn:
            timeout = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
            version = (await conn.exec_driver_sql("SELECT vec_version()")).scalar()
        return timeout, version
    finally:
        await engine.dispose()


async def test_aiosqlite_engines_keep_connect_args_and_load_sqlite_vec(tmp_path: Path) -> None:
    # connect_args were dropped: the creator that loads sqlite-vec read its arguments from the URL alone.
    from sqlalchemy.ext.asyncio import create_async_engine

    url = f"sqlite+aiosqlite:///{tmp_path}/a.db"
    timeout, version = await _busy_timeout_and_vec(sv.create_async_engine(url, connect_args={"timeout": 0.2}))
    assert (timeout, version.startswith("v")) == (200, True)
    # Through the plugin as well, which failed with "Invalid argument(s) 'async_creator'".
    timeout, version = await _busy_timeout_and_vec(create_async_engine(url + "?plugin=vector", connect_args={"timeout": 0.3}))
    assert (timeout, version.startswith("v")) == (300, True)


def test_a_synchronous_engine_of_the_aiosqlite_dialect_is_created_as_sqlalchemy_creates_it() -> None:
    # It raised TypeError: Invalid argument(s) 'async_creator' sent to create_engine().
    for engine in (sv.create_engine("sqlite+aiosqlite://"), sqlalchemy.create_engine("sqlite+aiosqlite://?plugin=vector")):
        assert engine.dialect.is_async
        engine.dispose()


def test_the_facades_name_the_driver_they_need(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/a.db"
    for bind in (url, sv.create_engine(url)):
        with pytest.raises(sv.exc.ModelConfigurationError, match="VectorRAG got the asyncio driver 'sqlite\\+aiosqlite': use AsyncVectorRAG"):
            sv.VectorRAG(bind, dimension=3)
    with pytest.raises(sv.exc.ModelConfigurationError, match="synchronous driver 'postgresql'.*'postgresql\\+psycopg_async://u:\\*\\*\\*@127.0.0.1:1/x'"):
        sv.AsyncVectorRAG("postgresql://u:secret@127.0.0.1:1/x", dimension=3)
    with pytest.raises(sv.exc.ModelConfigurationError, match=f"'sqlite\\+aiosqlite:///{tmp_path}/b.db'"):
        sv.AsyncVectorRAG(f"sqlite:///{tmp_path}/b.db", dimension=3)
    assert not (tmp_path / "b.db").exists()


# -- attach() on an engine that has connected already ----------------------------------------------------


def _vector_functions_loaded(conn: Any, backend: str) -> bool:
    """Whether the connection has what a prepared engine's connections get: sqlite-vec, vss, pgvector's codec."""
    if backend == "sqlite":
        return bool(conn.exec_driver_sql("SELECT vec_version()").scalar())
    if backend == "duckdb":
        loaded = conn.exec_driver_sql("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'vss'").scalar()
        progress = conn.exec_driver_sql("SELECT current_setting('enable_progress_bar')").scalar()
        return bool(loaded) and progress is False
    return engine_state(conn.dialect)["pgvector"] is not None


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql"])
def test_attach_after_the_engine_has_connected_prepares_the_connections_it_holds(
    backend: str, fresh_database_url: Callable[[str], str]
) -> None:
    # The pooled connection was opened before attach (a health check at start-up): it is prepared (on
    # SQLite, replaced by one of the driver that loads sqlite-vec) when next checked out.  It kept its
    # old set-up: PostgreSQL could not send a vector, SQLite had no vec_distance_*, DuckDB no vss.
    engine = sqlalchemy.create_engine(fresh_database_url(backend))
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        sv.attach(engine)
        with engine.begin() as conn:
            assert l2_of_a_stored_vector(conn) == pytest.approx(5.0)
            assert _vector_functions_loaded(conn, backend)
        if backend == "sqlite":
            assert engine_state(engine.dialect)["sqlite_vec"] == "extension"
    finally:
        engine.dispose()


@pytest.mark.parametrize("driver", ["psycopg_async", "asyncpg"])
async def test_attach_after_an_async_engine_has_connected_prepares_its_pooled_connection(
    driver: str, fresh_database_url: Callable[[str], str]
) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    url = make_url(fresh_database_url("postgresql")).set(drivername=f"postgresql+{driver}")
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
        sv.attach(engine)
        async with engine.begin() as conn:
            assert await conn.run_sync(l2_of_a_stored_vector) == pytest.approx(5.0)
    finally:
        await engine.dispose()


def test_attach_after_connecting_keeps_an_in_memory_sqlite_database(recwarn: Any) -> None:
    # Its database lives in the connection the pool holds: replacing it would lose the data, so the
    # connection is kept and gets the Python functions where its driver cannot load sqlite-vec.
    from sqlalchemy.pool import StaticPool

    engine = sqlalchemy.create_engine("sqlite://", poolclass=StaticPool)
    table = vectors_table()
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(insert(table).values(id=1, e=[3.0, 4.0]))
    sv.attach(engine)
    with engine.connect() as conn:
        assert float(conn.execute(select(table.c.e.l2([0.0, 0.0]))).scalar_one()) == pytest.approx(5.0)
    engine.dispose()


@pytest.mark.parametrize("backend", ["duckdb", "clickhouse"])
def test_an_async_engine_of_a_backend_without_an_asyncio_driver_names_the_fix(backend: str, tmp_path: Path) -> None:
    # It raised SQLAlchemy's "The loaded 'duckdb_engine' is not async".
    url = f"duckdb:///{tmp_path}/a.duckdb" if backend == "duckdb" else f"clickhousedb://localhost/default?interface=chdb&path={tmp_path}/ch"
    with pytest.raises(sv.exc.InvalidArgumentError, match=r"create_async_engine got '(duckdb|clickhousedb)://.*', and (duckdb|clickhousedb) has no asyncio driver; use sqlalchemy_vector.create_engine\(url\) for a synchronous engine, or AsyncVectorRAG\(url\), which runs a synchronous engine in a worker thread"):
        sv.create_async_engine(url)
    assert not list(tmp_path.iterdir())


class _TracingSQLite:
    """A user's DB-API module around the standard sqlite3 (for tracing), which cannot load extensions here."""

    def __init__(self) -> None:
        import sqlite3

        self.sqlite3 = sqlite3
        self.connections = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqlite3, name)

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        self.connections += 1
        return self.sqlite3.connect(*args, **kwargs)


@pytest.mark.parametrize("how", ["create_engine", "attach", "plugin"])
def test_a_sqlite_driver_module_the_user_gives_is_kept(how: str, tmp_path: Path) -> None:
    # It was replaced by sqlean without a word, so a tracing wrapper saw no connection.
    import sqlite3

    module = _TracingSQLite()
    url = f"sqlite:///{tmp_path}/m.db"
    with pytest.warns(sv.exc.FallbackWarning) if not hasattr(sqlite3.Connection, "enable_load_extension") else _no_warning():
        if how == "create_engine":
            engine = sv.create_engine(url, module=module)
        elif how == "attach":
            engine = sv.attach(sqlalchemy.create_engine(url, module=module))
        else:
            engine = sqlalchemy.create_engine(url + "?plugin=vector", module=module)
        with engine.begin() as conn:
            assert l2_of_a_stored_vector(conn) == pytest.approx(5.0)
    assert module.connections == 1 and engine.dialect.dbapi is module
    expected = "extension" if hasattr(sqlite3.Connection, "enable_load_extension") else "python"
    assert engine_state(engine.dialect)["sqlite_vec"] == expected
    engine.dispose()


def _no_warning() -> Any:
    import contextlib

    return contextlib.nullcontext()


@pytest.mark.parametrize("how", ["create_engine", "plugin"])
def test_the_url_sqlite_vec_flag_is_read_strictly_and_alike_by_every_entry_point(how: str, tmp_path: Path) -> None:
    # The plugin read "flase" as true; sv.create_engine ignored ?sqlite_vec=false and loaded the extension.
    def make(flag: str) -> Engine:
        if how == "create_engine":
            return sv.create_engine(f"sqlite:///{tmp_path}/{flag}.db?sqlite_vec={flag}")
        return sqlalchemy.create_engine(f"sqlite:///{tmp_path}/{flag}.db?plugin=vector&sqlite_vec={flag}")

    for typo in ("flase", "ture", "2"):
        with pytest.raises(sv.exc.InvalidArgumentError, match=f"the URL's sqlite_vec parameter takes true or false, got '{typo}'; write \\?sqlite_vec=false"):
            make(typo)
    for flag, expected in (("false", "python"), ("OFF", "python"), ("0", "python")):
        engine = make(flag)
        assert "sqlite_vec" not in engine.url.query
        with engine.connect() as conn:
            assert l2_of_a_stored_vector(conn) == pytest.approx(5.0)
        assert engine_state(engine.dialect)["sqlite_vec"] == expected, flag
        engine.dispose()


def test_the_sqlite_fallback_warning_names_the_cause_at_the_callers_line(tmp_path: Path) -> None:
    # It always said pip install 'sqlalchemy-vector[sqlite]', and pointed at sqlalchemy/event/attr.py.
    import sqlite3

    if hasattr(sqlite3.Connection, "enable_load_extension"):
        pytest.skip("this Python's sqlite3 loads extensions: no fallback to explain")
    engine = sv.create_engine("sqlite://", creator=lambda: sqlite3.connect(str(tmp_path / "c.db")))
    with pytest.warns(sv.exc.FallbackWarning) as caught:
        with engine.begin():  # the first connection from contextlib's __enter__: passed over too
            pass
    (warning,) = caught
    assert warning.filename == __file__
    message = str(warning.message)
    assert "the engine's connections (sqlite3.Connection, made by a creator= or a connect_args factory of its own) cannot load extensions" in message
    assert "make them with sqlean.connect(...)" in message and "pip install" in message.split("; ")[-1]
    engine.dispose()


def test_connections_of_a_creator_or_factory_raise_sqlalchemys_errors(tmp_path: Path) -> None:
    # The engine was given sqlean as its driver module while a creator= (or a connect_args factory) made sqlite3's
    # connections: SQLAlchemy wraps only the errors of its module's classes, so sqlite3.IntegrityError came out
    # raw, and `except sqlalchemy.exc.IntegrityError` missed it.
    import sqlite3

    import sqlalchemy as sa

    class Factory(sqlite3.Connection):
        pass

    path = tmp_path / "made.db"
    makers = {
        "create_engine creator": lambda: sv.create_engine("sqlite://", creator=lambda: sqlite3.connect(str(path))),
        "plugin creator": lambda: sa.create_engine("sqlite://?plugin=vector", creator=lambda: sqlite3.connect(str(path))),
        "attach creator": lambda: sv.attach(sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(str(path)))),
        "create_engine factory": lambda: sv.create_engine(f"sqlite:///{path}", connect_args={"factory": Factory}),
    }
    for name, make in makers.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sv.exc.FallbackWarning)  # this Python's sqlite3 may load no extension
            engine = make()
            try:
                with engine.begin() as connection:
                    connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)")
                    connection.exec_driver_sql("DELETE FROM t")
                    connection.exec_driver_sql("INSERT INTO t VALUES (1)")
                with pytest.raises(sa.exc.IntegrityError):
                    with engine.begin() as connection:
                        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
                with pytest.raises(sa.exc.OperationalError, match="no such table"):
                    with engine.connect() as connection:
                        connection.exec_driver_sql("SELECT * FROM missing")
                with engine.connect() as connection:  # the vectors still work
                    assert connection.execute(sa.select(sv.l2_distance([3.0, 4.0], [0.0, 0.0]))).scalar_one() == pytest.approx(5.0), name
            finally:
                engine.dispose()


async def test_the_sqlite_fallback_warning_of_an_attached_aiosqlite_engine_names_create_async_engine(tmp_path: Path) -> None:
    import sqlite3

    from sqlalchemy.ext.asyncio import create_async_engine

    if hasattr(sqlite3.Connection, "enable_load_extension"):
        pytest.skip("this Python's sqlite3 loads extensions: no fallback to explain")
    engine = sv.attach(create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/a.db"))
    try:
        with pytest.warns(sv.exc.FallbackWarning, match=r"this aiosqlite engine opens connections of the standard sqlite3.*attach\(\) cannot change an asyncio engine's driver: create it with sqlalchemy_vector.create_async_engine\(url\) or add \?plugin=vector"):
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
