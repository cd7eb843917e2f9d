"""Check one install profile (the core alone, or the core and one extra) from inside its virtualenv.

``python ci/profile_check.py EXTRA`` (``core`` for none), run from outside the source tree so the installed
wheel is the one imported:

- ``import sqlalchemy_vector`` prints nothing, warns nothing and imports no driver;
- each backend URL opens where the profile installs its driver, and elsewhere raises ``MissingDependencyError``
  naming the extra that adds it (PostgreSQL: a closed port, no server needed);
- the command line says the same in one line, exit status 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import warnings

DRIVERS = (
    "duckdb", "duckdb_sqlalchemy", "clickhouse_connect", "chdb", "psycopg", "psycopg2", "asyncpg", "pgvector",
    "aiosqlite", "sqlite_vec", "sqlean", "alembic", "pyarrow",
)


def check_import() -> None:
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        warnings.simplefilter("always")
        import sqlalchemy_vector  # noqa: F401
    assert out.getvalue() == "", f"import printed {out.getvalue()!r}"
    assert not caught, f"import warned: {[str(w.message) for w in caught]}"
    loaded = [name for name in DRIVERS if name in sys.modules]
    assert not loaded, f"import loaded drivers: {loaded}"


def check_urls(profile: str, directory: str) -> None:
    import sqlalchemy_vector as sv
    from sqlalchemy_vector.exc import MissingDependencyError

    urls = {
        "duckdb": f"duckdb:///{directory}/profile.duckdb",
        "postgresql": "postgresql+psycopg://me@127.0.0.1:1/rag",
        "clickhouse": f"clickhousedb://localhost/default?interface=chdb&path={directory}/ch",
        "async": f"sqlite+aiosqlite:///{directory}/async.db",
    }
    for extra, url in urls.items():
        make = (lambda u=url: asyncio.run(_dispose(sv.create_async_engine(u)))) if extra == "async" else (
            lambda u=url: sv.create_engine(u).dispose()
        )
        if extra == profile:
            make()
            continue
        try:
            make()
        except MissingDependencyError as err:
            assert f"'sqlalchemy-vector[{extra}]'" in str(err) or f"[sqlite,{extra}]'" in str(err), str(err)
        else:
            raise AssertionError(f"{url} opened without the {extra} extra")
    engine = sv.create_engine(f"sqlite:///{directory}/profile.db", sqlite_vec=profile == "sqlite")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("select 1").scalar() == 1
    engine.dispose()


async def _dispose(engine: object) -> None:
    await engine.dispose()  # type: ignore[attr-defined]


def check_command(profile: str, directory: str) -> None:
    if profile == "duckdb":
        return
    done = subprocess.run(
        [sys.executable, "-m", "sqlalchemy_vector", "stats", "--db", f"duckdb:///{directory}/cli.duckdb"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1 and done.stdout == "", done
    assert done.stderr.count("\n") == 1 and "pip install 'sqlalchemy-vector[duckdb]'" in done.stderr, done.stderr


def main() -> int:
    profile = sys.argv[1]
    check_import()
    with tempfile.TemporaryDirectory() as directory:
        os.chdir(directory)
        check_urls(profile, directory)
        check_command(profile, directory)
    print(f"profile {profile}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
