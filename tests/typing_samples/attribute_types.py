"""Checked by mypy --strict and pyright in tests/test_typing.py: distance methods on a typed vector attribute."""

from __future__ import annotations

from typing import Optional

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from typing_extensions import assert_type

import sqlalchemy_vector as sv
from sqlalchemy_vector import CompactVectorMapped, VectorMapped, vector_column


class Base(DeclarativeBase):
    pass


class Doc(Base):
    __tablename__ = "typed_docs"
    id: Mapped[int] = mapped_column(primary_key=True)
    embedding: VectorMapped[npt.NDArray[np.float32]] = vector_column(3, nullable=False)
    sketch: CompactVectorMapped[Optional[npt.NDArray[np.uint8]]] = vector_column(sv.BitVector(8))


def nearest(session: Session, query: list[float]) -> list[Doc]:
    assert_type(Doc.embedding.cosine(query), ColumnElement[float])
    assert_type(Doc.embedding.l2_distance(query), ColumnElement[float])
    assert_type(Doc.embedding.max_inner_product(query), ColumnElement[float])
    assert_type(Doc.sketch.hamming([1, 0, 1, 0, 1, 0, 1, 0]), ColumnElement[float])
    rows = session.scalars(select(Doc).order_by(Doc.embedding.cosine(query)).limit(5)).all()
    vector = rows[0].embedding
    assert_type(vector, npt.NDArray[np.float32])
    return list(rows)
