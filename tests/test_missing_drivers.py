"""A backend whose dialect or driver is not installed: one error naming the package and the extra, at every entry.

Each missing package is a real import failure: a module blocked in ``sys.modules``
(as ``import`` sees a package that is not installed), or, for a dialect SQLAlchemy
finds through an entry point, a Python run on a copy of this environment's
site-packages without that package's files.  PostgreSQL URLs point at a closed
port: nothing here needs a server.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterable, List

import pytest
import sqlalchemy
from sqlalchemy.exc import NoSuchModuleError
from sqlalchemy.ext.asyncio import create_async_engine as sa_create_async_engine

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import MissingDependencyError

REPO = Path(__file__).resolve().parent.parent


def run_python(
    *args: str, cwd: Any = None, path: Iterable[Path] = (), timeout: int = 180
) -> "subprocess.CompletedProcess[str]":
    """``python ARGS`` (in ``cwd``), this checkout and ``path`` importable, its output captured as text."""
    return subprocess.run(
        [sys.executable, *args],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *map(str, path)])},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
PG = "postgresql+psycopg://me@127.0.0.1:1/rag"  # a closed port: no server is reached, none is needed


def _block(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``import`` of each module fail as it does where its package is not installed."""
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


def _entries(url: str) -> List[Callable[[], Any]]:
    """Every way an application opens ``url``: the engine, the plugin URL, the facades."""
    plugin = url + ("&" if "?" in url else "?") + "plugin=vector"

    async def async_facade() -> None:
        rag = sv.AsyncVectorRAG(url, embedder=sv.HashingEmbedder(8))
        try:
            await rag.load_document("cats and kittens")
        finally:
            await rag.close()

    return [
        lambda: sv.create_engine(url),
        lambda: sqlalchemy.create_engine(plugin),
        lambda: sv.VectorRAG(url, embedder=sv.HashingEmbedder(8)),
        lambda: asyncio.run(async_facade()),
    ]


def _async_entries(url: str) -> List[Callable[[], Any]]:
    async def async_facade() -> None:
        rag = sv.AsyncVectorRAG(url, embedder=sv.HashingEmbedder(8))
        await rag.close()

    return [
        lambda: sv.create_async_engine(url),
        lambda: sa_create_async_engine(url + ("&" if "?" in url else "?") + "plugin=vector"),
        lambda: asyncio.run(async_facade()),
    ]


def _raises_missing(entries: Iterable[Callable[[], Any]], package: str, install: str) -> None:
    for number, entry in enumerate(entries):
        with pytest.raises(MissingDependencyError) as raised:
            entry()
            pytest.fail(f"entry {number} opened without {package}")
        message = str(raised.value)
        assert f"needs the Python package {package}, which is not installed" in message, message
        assert message.endswith(f"install it with: {install}"), message


def test_postgresql_without_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    _block(monkeypatch, "psycopg")
    install = "pip install 'sqlalchemy-vector[postgresql]'"
    # The facade's asyncio form takes an asyncio driver: psycopg's own.
    _raises_missing(_entries(PG)[:3] + _async_entries("postgresql+psycopg_async://me@127.0.0.1:1/rag"), "psycopg", install)
    with pytest.raises(MissingDependencyError, match=r"'postgresql\+psycopg://me:\*\*\*@127"):
        sv.create_engine("postgresql+psycopg://me:secret@127.0.0.1:1/rag")  # the password is not shown


def test_postgresql_drivers_no_extra_installs(monkeypatch: pytest.MonkeyPatch) -> None:
    # No extra declares them: the package itself is the fix, or the driver the extra installs.
    _block(monkeypatch, "asyncpg", "psycopg2")
    other = ", or use the driver of pip install 'sqlalchemy-vector[postgresql]': postgresql+psycopg://USER@HOST/DB"
    _raises_missing(_async_entries("postgresql+asyncpg://me@127.0.0.1:1/rag"), "asyncpg", "pip install asyncpg" + other)
    entries = _entries("postgresql+psycopg2://me@127.0.0.1:1/rag")[:3]
    _raises_missing(entries, "psycopg2-binary", "pip install psycopg2-binary" + other)


def test_sqlite_async_without_aiosqlite(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _block(monkeypatch, "aiosqlite")
    url = f"sqlite+aiosqlite:///{tmp_path / 'rag.db'}"
    _raises_missing(_async_entries(url), "aiosqlite", "pip install 'sqlalchemy-vector[sqlite,async]'")
    assert not (tmp_path / "rag.db").exists()


# In a Python of their own: a dialect module this process imported already would load without its package.
BLOCKED_ENTRIES = """
import sys
for name in sys.argv[2].split(","):
    sys.modules[name] = None
sys.path.insert(0, sys.argv[3])
import test_missing_drivers as t
for number, entry in enumerate(t._entries(sys.argv[1])):
    try:
        entry()
        print(f"entry {number} opened")
    except t.MissingDependencyError as err:
        print(err)
"""


@pytest.mark.parametrize(
    "modules, package, extra",
    [
        ("duckdb_sqlalchemy", "duckdb-sqlalchemy", "duckdb"),
        ("duckdb", "duckdb", "duckdb"),
        ("clickhouse_connect", "clickhouse-connect", "clickhouse"),
        ("chdb", "chdb", "clickhouse"),  # found missing before the first connection: chDB's engine is not opened
    ],
)
def test_duckdb_and_clickhouse_without_a_package(tmp_path: Path, modules: str, package: str, extra: str) -> None:
    url = (
        f"duckdb:///{tmp_path / 'rag.duckdb'}"
        if extra == "duckdb"
        else f"clickhousedb://localhost/default?interface=chdb&path={tmp_path / 'ch'}"
    )
    done = run_python("-c", BLOCKED_ENTRIES, url, modules, str(Path(__file__).parent), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 4, done.stdout  # create_engine, the plugin URL, VectorRAG, AsyncVectorRAG
    for line in lines:
        assert f"needs the Python package {package}, which is not installed" in line, line
        assert line.endswith(f"install it with: pip install 'sqlalchemy-vector[{extra}]'"), line
    assert not (tmp_path / "rag.duckdb").exists()


def test_alembic_offline_names_the_missing_dialect(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from sqlalchemy_vector.alembic import context_options

    _block(monkeypatch, "duckdb_sqlalchemy")
    with pytest.raises(MissingDependencyError, match=r"duckdb-sqlalchemy.*pip install 'sqlalchemy-vector\[duckdb\]'"):
        context_options(url=f"duckdb:///{tmp_path / 'rag.duckdb'}")


def test_cli_names_the_missing_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy_vector.cli import main

    _block(monkeypatch, "duckdb_sqlalchemy", "chdb")
    (tmp_path / "a.txt").write_text("cats and kittens", encoding="utf-8")
    for url, package, extra in (
        (f"duckdb:///{tmp_path / 'rag.duckdb'}", "duckdb-sqlalchemy", "duckdb"),
        (f"clickhousedb://localhost/default?interface=chdb&path={tmp_path / 'ch'}", "chdb", "clickhouse"),
    ):
        assert main(["ingest", str(tmp_path / "a.txt"), "--db", url]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert f"package {package}, which is not installed" in err and f"[{extra}]'" in err, err


def test_what_no_package_installs_keeps_its_own_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Not a missing package: the dialect is installed and has no such driver.
    for url in ("duckdb+nosuchdriver:///x.duckdb", "postgresql+nosuchdriver://me@127.0.0.1:1/rag"):
        with pytest.raises(NoSuchModuleError):
            sv.create_engine(url)
    # A Python built without sqlite3: no pip install brings it, so no package is named.
    _block(monkeypatch, "sqlite3", "_sqlite3")
    with pytest.raises(ImportError) as raised:
        sv.create_engine(f"sqlite:///{tmp_path / 'rag.db'}")
    assert not isinstance(raised.value, MissingDependencyError)


# -- a Python without a backend's distributions ------------------------------------------------------------


def _site_without(target: Path, left_out: Iterable[str]) -> Path:
    """A copy (by symlinks) of this environment's site-packages without the named distributions' files."""
    names = {name.lower().replace("-", "_") for name in left_out}
    target.mkdir()
    for site in {Path(sysconfig.get_paths()[kind]) for kind in ("purelib", "platlib")}:
        for entry in site.iterdir():
            stem = entry.name.split("-")[0].split(".")[0].lower() if not entry.name.startswith("_") else ""
            if stem in names or (target / entry.name).exists():
                continue
            (target / entry.name).symlink_to(entry)
    return target


def _run_without(site: Path, script: str, *args: str) -> "subprocess.CompletedProcess[str]":
    # -S: no site-packages but the copy on PYTHONPATH (and this checkout, for sqlalchemy_vector itself).
    return run_python("-S", "-W", "error", "-c", textwrap.dedent(script), *args, cwd=site.parent, path=[site])


DRIVERS = ["duckdb", "duckdb_sqlalchemy", "duckdb_engine", "duckdb_extension_vss", "duckdb_extension_fts",
           "clickhouse_connect", "chdb", "chdb_core", "psycopg", "psycopg_binary", "psycopg2", "psycopg2_binary",
           "asyncpg", "pgvector", "aiosqlite", "sqlite_vec", "sqlean", "sqlean_py", "sqlalchemy_cockroachdb"]


def test_without_the_duckdb_and_clickhouse_distributions(tmp_path: Path) -> None:
    # SQLAlchemy finds no dialect by these names at all (no entry point): not an import error but a missing plugin.
    site = _site_without(tmp_path / "site", DRIVERS)
    done = _run_without(
        site,
        """
        import sys
        import sqlalchemy_vector as sv
        from sqlalchemy_vector.exc import MissingDependencyError
        for url in sys.argv[1:]:
            try:
                sv.create_engine(url)
            except MissingDependencyError as err:
                print(err)
        """,
        f"duckdb:///{tmp_path / 'rag.duckdb'}",
        f"clickhousedb://localhost/default?interface=chdb&path={tmp_path / 'ch'}",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout
    assert "duckdb-sqlalchemy, which is not installed" in lines[0] and "[duckdb]'" in lines[0]
    assert "clickhouse-connect, which is not installed" in lines[1] and "[clickhouse]'" in lines[1]
    cli = run_python("-S", "-m", "sqlalchemy_vector", "stats", "--db", f"duckdb:///{tmp_path / 'rag.duckdb'}", path=[site])
    assert cli.returncode == 1 and cli.stdout == "", cli
    assert cli.stderr.count("\n") == 1 and "pip install 'sqlalchemy-vector[duckdb]'" in cli.stderr, cli.stderr


def test_the_core_alone_imports_quietly_and_loads_no_driver(tmp_path: Path) -> None:
    site = _site_without(tmp_path / "site", DRIVERS + ["alembic", "pyarrow", "pydantic", "sentence_transformers"])
    done = _run_without(
        site,
        f"""
        import sys
        import sqlalchemy_vector
        loaded = sorted(name for name in {DRIVERS!r} + ["alembic", "pyarrow", "sqlite3"] if name in sys.modules)
        print(loaded)
        """,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr  # -W error: no warning either
    assert done.stdout == "[]\n"


def test_the_command_with_the_core_alone_warns_in_one_line(tmp_path: Path) -> None:
    # Without the sqlite extra (no sqlite-vec, no sqlean) the command works on the Python functions and says so.
    (tmp_path / "a.txt").write_text("cats and kittens", encoding="utf-8")
    program = (
        "import sys\n"
        "for name in ('sqlite_vec', 'sqlean', 'pysqlite3'):\n"
        "    sys.modules[name] = None\n"
        "from sqlalchemy_vector.cli import main_exit\n"
        "main_exit()\n"
    )
    done = run_python("-c", program, "ingest", "a.txt", "--db", "sqlite:///rag.db", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ingested 1 passages" in done.stdout
    warned = [line for line in done.stderr.splitlines() if line.startswith("sqlalchemy-vector: warning: ")]
    assert len(warned) == 1 and "pip install 'sqlalchemy-vector[sqlite]'" in warned[0], done.stderr
    assert "FallbackWarning" not in done.stderr and "return next(self.gen)" not in done.stderr, done.stderr


@pytest.mark.parametrize("blocked", ["alembic", "alembic.runtime.plugins"])
def test_the_alembic_module_without_alembic_names_the_extra(tmp_path: Path, blocked: str) -> None:
    # alembic.runtime.plugins blocked: an Alembic older than 1.18, which has no autogenerate plugins.
    program = (
        "import sys\n"
        f"sys.modules[{blocked!r}] = None\n"
        "from sqlalchemy_vector.exc import MissingDependencyError\n"
        "try:\n"
        "    import sqlalchemy_vector.alembic\n"
        "except MissingDependencyError as err:\n"
        "    print(err)\n"
    )
    done = run_python("-c", program, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sqlalchemy_vector.alembic needs Alembic 1.18 or later"), done.stdout
    assert done.stdout.rstrip().endswith("install it with: pip install 'sqlalchemy-vector[alembic]'"), done.stdout
