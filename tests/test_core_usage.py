"""Ordinary SQLAlchemy Core and ORM usage of vector columns, the same on every backend."""

from __future__ import annotations

from typing import Any, List

import numpy as np
import pytest
from sqlalchemy import Column, Float, Integer, MetaData, Table, bindparam, distinct, func, insert, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import DimensionMismatchError, InvalidVectorError
from tests.conftest import WITH_CLICKHOUSE

ROWS = {1: [1.0, 0.0, 0.0], 2: [0.0, 1.0, 0.0], 3: [0.6, 0.8, 0.0]}


class Base(DeclarativeBase):
    pass


class Doc(Base):
    __tablename__ = "core_usage_docs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    embedding: Mapped[Any] = mapped_column(sv.Vector(3), nullable=False)


def filled(conn: Connection) -> Table:
    table: Table = Doc.__table__  # type: ignore[assignment]
    table.create(conn)
    conn.execute(insert(table), [{"id": key, "embedding": vector} for key, vector in ROWS.items()])
    return table


def ids(rows: Any) -> List[int]:
    return sorted(row[0] for row in rows)


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_in_an_empty_list(conn: Connection) -> None:
    # PostgreSQL and DuckDB raised a syntax error: SQLAlchemy wrote its empty set inside the CAST that binds
    # a vector there ("IN (CAST(NULL) AND (1 != 1 AS VECTOR(3)))").
    table = filled(conn)
    assert ids(conn.execute(select(table.c.id).where(table.c.embedding.in_([])))) == []
    assert ids(conn.execute(select(table.c.id).where(table.c.embedding.not_in([])))) == [1, 2, 3]
    assert ids(conn.execute(select(table.c.id).where(table.c.embedding.in_([ROWS[3]])))) == [3]
    with Session(bind=conn) as session:
        assert session.scalars(select(Doc.id).where(Doc.embedding.in_([]))).all() == []
        assert sorted(session.scalars(select(Doc.id).where(Doc.embedding.not_in(())))) == [1, 2, 3]


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_an_untyped_bind_parameter_as_the_query_vector(conn: Connection) -> None:
    # bindparam("q") without a type reached the driver as a plain list: "operator does not exist:
    # vector <=> smallint[]" (PostgreSQL), a binder error (DuckDB), an unsupported type (SQLite).
    table = filled(conn)
    statement = select(table.c.id).order_by(table.c.embedding.l2(bindparam("q"))).limit(1)
    for query, nearest in (([1.0, 0.1, 0.0], 1), ([0.1, 1.0, 0.0], 2), (np.array([0.6, 0.75, 0.0]), 3)):
        assert conn.execute(statement, {"q": query}).scalar_one() == nearest
    with Session(bind=conn) as session:
        found = session.scalars(select(Doc).order_by(Doc.embedding.cosine(bindparam("q"))).limit(1), {"q": [0.0, 2.0, 0.0]})
        assert [doc.id for doc in found] == [2]


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_distinct_vectors(conn: Connection) -> None:
    # PostgreSQL raised "DISTINCT specified, but vector_send is not an aggregate function": the wrapper that reads
    # vectors in binary was put around the DISTINCT of select(distinct(col)).
    table = filled(conn)
    conn.execute(insert(table), [{"id": 4, "embedding": ROWS[1]}])
    for statement in (select(distinct(table.c.embedding)), select(table.c.embedding).distinct()):
        found = sorted(tuple(vector.tolist()) for vector in conn.execute(statement).scalars())
        assert found == sorted(tuple(np.float32(vector).tolist()) for vector in ROWS.values()), statement
    assert conn.execute(select(func.count(distinct(table.c.embedding)))).scalar_one() == 3


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_vector_columns_of_different_sizes_compared_or_a_number_ranked(conn: Connection) -> None:
    # v == w between Vector(3) and Vector(4) found nothing on SQLite and PostgreSQL and raised DuckDB's own
    # conversion error; a distance to a FLOAT column reached PostgreSQL, which was then reported as pgvector
    # missing from the search_path.
    table = Table(
        "core_usage_sizes", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False),
        Column("v", sv.Vector(3)), Column("w", sv.Vector(4)), Column("f", Float),
    )
    with pytest.raises(DimensionMismatchError, match=r"column 'core_usage_sizes.v' \(Vector\(3\)\) compared with column 'core_usage_sizes.w' \(Vector\(4\)\): expected the same dimensions, got 3 and 4"):
        select(table.c.id).where(table.c.v == table.c.w)
    with pytest.raises(InvalidVectorError, match=r"cosine_distance\(\) compares two vectors, got core_usage_sizes.f of type FLOAT"):
        sv.cosine_distance(table.c.v, table.c.f)
    with pytest.raises(InvalidVectorError, match=r"l2_distance\(\) compares two vectors, got a BindParameter of type INTEGER"):
        table.c.v.l2(literal(3))
