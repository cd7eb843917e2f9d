"""Helpers for the vector-index and Alembic tests: isolated databases, EXPLAIN, clustered data."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any, Iterator, Tuple

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable


class Explain(Executable, ClauseElement):
    """``EXPLAIN <statement>``, with the statement's bound parameters."""

    inherit_cache = False

    def __init__(self, statement: Any, query_plan: bool = False) -> None:
        self.statement = statement
        self.query_plan = query_plan


@compiles(Explain)
def _explain(element: Explain, compiler: Any, **kw: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if element.query_plan else "EXPLAIN "
    if compiler.dialect.name == "clickhousedb":
        prefix = "EXPLAIN indexes = 1 "  # the skip indexes each read step uses
    return prefix + compiler.process(element.statement, **kw)


def explain(connection: Connection, statement: Any) -> str:
    """The plan the database chooses for ``statement``, as one string."""
    sqlite = connection.dialect.name == "sqlite"
    result = connection.execute(Explain(statement, query_plan=sqlite))
    # Raw cursor rows: the statement's own result types do not apply to a plan.
    rows = result.cursor.fetchall()
    if connection.dialect.name == "duckdb":
        return "\n".join(str(row[1]) for row in rows)
    return "\n".join(str(row[-1]) for row in rows)


@contextlib.contextmanager
def fresh_database(backend: str, directory: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a new, empty database of its own (migrations and index builds commit)."""
    if backend in ("sqlite", "sqlite-python"):
        yield f"sqlite:///{directory}/{uuid.uuid4().hex[:8]}.db"
    elif backend == "duckdb":
        yield f"duckdb:///{directory}/{uuid.uuid4().hex[:8]}.duckdb"
    elif backend == "postgresql":
        base = request.getfixturevalue("postgresql_url")
        name = f"sv_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        quoted = admin.dialect.identifier_preparer.quote(name)
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(f"CREATE DATABASE {quoted}"))
            yield make_url(base).set(database=name).render_as_string(hide_password=False)
            with admin.connect() as connection:
                connection.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        finally:
            admin.dispose()
    elif backend == "clickhouse":
        from tests.conftest import clickhouse_url

        workdir = request.getfixturevalue("workdir")
        name = f"sv_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(clickhouse_url(workdir, "default"))
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"CREATE DATABASE `{name}`")
            yield clickhouse_url(workdir, name)
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            admin.dispose()
    else:
        raise ValueError(backend)



@contextlib.contextmanager
def database_with_schema(
    backend: str, directory: Path, request: pytest.FixtureRequest, schema: str = "app"
) -> Iterator[Tuple[str, sa.Engine]]:
    """A new database (:func:`fresh_database`) with a second schema ``schema``, its URL and a prepared engine.

    PostgreSQL and DuckDB ``CREATE SCHEMA``; SQLite a file attached as
    ``schema`` on each connection; ClickHouse a database (one chDB process
    holds them all: dropped at the end).
    """
    import sqlalchemy_vector as sv

    with fresh_database(backend, directory, request) as url:
        engine = sv.create_engine(url)
        if backend in ("sqlite", "sqlite-python"):
            attached = str(directory / f"{schema}.db")

            @sa.event.listens_for(engine, "connect")
            def _attach(dbapi_connection: Any, record: Any) -> None:
                dbapi_connection.execute(f"ATTACH DATABASE ? AS {schema}", (attached,))

        elif backend == "clickhouse":
            with engine.begin() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {schema}")
                connection.exec_driver_sql(f"CREATE DATABASE {schema}")
        else:
            with engine.begin() as connection:
                connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            yield url, engine
        finally:
            if backend == "clickhouse":
                with engine.begin() as connection:
                    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {schema}")
            engine.dispose()

def clustered(rows: int, dim: int, clusters: int = 8, seed: int = 3) -> np.ndarray:
    """Points around a few random centres (a Gaussian mixture), float32."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    labels = rng.integers(0, clusters, rows)
    return (centres[labels] + 0.6 * rng.standard_normal((rows, dim))).astype(np.float32)


def exact_ids(data: np.ndarray, query: np.ndarray, metric: str, k: int, mask: Any = None) -> list[int]:
    """Row ids (1-based positions) of the exact top ``k`` by ``metric``."""
    x = data.astype(np.float64)
    q = np.asarray(query, dtype=np.float64)
    if metric == "cosine":
        scores = 1 - x @ q / (np.linalg.norm(x, axis=1) * np.linalg.norm(q))
    elif metric == "l2":
        scores = np.linalg.norm(x - q, axis=1)
    elif metric == "max_inner_product":
        scores = -(x @ q)
    elif metric == "l1":
        scores = np.abs(x - q).sum(axis=1)
    else:
        raise ValueError(metric)
    order = np.argsort(scores, kind="stable")
    if mask is not None:
        order = [i for i in order if mask[i]]
    return [int(i) + 1 for i in order[:k]]
