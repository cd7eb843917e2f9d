"""Reflected vector columns come back as ``Vector(n)`` on engines the library prepared, and only there."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.ext.automap import automap_base
from sqlalchemy.orm import Session

import sqlalchemy_vector as sv
from sqlalchemy_vector.dialects.base import reflected_vector

from index_helpers import fresh_database

ROWS = [(1, "x", [1.0, 0.0, 0.0]), (2, "y", [0.0, 1.0, 0.0]), (3, "xy", [1.0, 1.0, 0.0])]


@pytest.fixture(params=["sqlite", "duckdb", "postgresql", "clickhouse"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database holding ``docs(id, title, embedding Vector(3))`` with three rows, made by another engine."""
    with fresh_database(request.param, tmp_path, request) as url:
        table = Table(
            "docs",
            MetaData(),
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("title", String(20)),
            Column("embedding", sv.Vector(3)),
        )
        engine = sv.create_engine(url)
        try:
            with engine.begin() as connection:
                table.create(connection)
                connection.execute(
                    table.insert(), [{"id": i, "title": t, "embedding": np.array(v)} for i, t, v in ROWS]
                )
        finally:
            engine.dispose()
        yield url


def test_autoload_gives_vector_columns(url: str) -> None:
    engine = sv.create_engine(url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", sa.exc.SAWarning)  # no "did not recognize type"
            docs = Table("docs", MetaData(), autoload_with=engine)
        assert isinstance(docs.c.embedding.type, sv.Vector) and docs.c.embedding.type.dim == 3
        with engine.connect() as connection:
            # The comparator and knn() work on the reflected column; values decode to float32.
            nearest = connection.execute(
                select(docs.c.id).order_by(docs.c.embedding.cosine([1, 0.9, 0])).limit(1)
            ).scalar_one()
            assert nearest == 3
            assert [row.id for row in sv.knn(connection, docs.c.embedding, [0, 1, 0], 2)] == [2, 3]
            vector = connection.execute(select(docs.c.embedding).where(docs.c.id == 1)).scalar_one()
            assert vector.dtype == np.float32 and vector.tolist() == [1.0, 0.0, 0.0]
            # New rows are encoded by the reflected type too.
            connection.execute(docs.insert().values(id=4, title="z", embedding=[0, 0, 1]))
            assert [row.id for row in sv.knn(connection, docs.c.embedding, [0, 0.1, 1], 1)] == [4]
            connection.rollback()
    finally:
        engine.dispose()


def test_automap_gives_vector_attributes(url: str) -> None:
    engine = sv.create_engine(url)
    try:
        Base = automap_base()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sa.exc.SAWarning)  # duckdb_engine: no index reflection
            if engine.dialect.name in ("duckdb", "clickhousedb"):
                # duckdb_engine 0.17 and clickhouse-connect 1.12 reflect no primary keys,
                # without which automap maps nothing: the key is declared by hand.
                Table("docs", Base.metadata, Column("id", Integer, primary_key=True), autoload_with=engine)
            Base.prepare(autoload_with=engine)
        Doc = Base.classes.docs
        assert isinstance(Doc.__table__.c.embedding.type, sv.Vector)
        with Session(engine) as session:
            found = sv.knn(session, Doc.embedding, [1, 0.9, 0], 2)
            assert [(doc.title, round(distance, 4)) for doc, distance in found] == [
                ("xy", round(1 - 1.9 / (np.sqrt(2) * np.sqrt(1.81)), 4)),
                ("x", round(1 - 1 / np.sqrt(1.81), 4)),
            ]
    finally:
        engine.dispose()


def test_engines_not_prepared_by_the_library_reflect_as_before(url: str) -> None:
    prepared = sv.create_engine(url)
    plain = sa.create_engine(url)
    try:
        with prepared.connect():  # the prepared engine is in use in the same process
            pass
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sa.exc.SAWarning)
            docs = Table("docs", MetaData(), autoload_with=plain)
        assert not isinstance(docs.c.embedding.type, sv.Vector)
        assert type(plain.dialect).ischema_names is type(prepared.dialect).ischema_names
        # (pgvector-python, once imported, adds its own "vector" to PostgreSQL's class-wide names; we add nothing.)
        names = type(plain.dialect).ischema_names  # a list on clickhouse-connect, which reflects by its own parser
        assert reflected_vector not in (names.values() if isinstance(names, dict) else names)
    finally:
        prepared.dispose()
        plain.dispose()
