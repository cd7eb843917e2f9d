"""Checked by mypy --strict in tests/test_typing.py: the typed spellings the README documents."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from typing_extensions import assert_type

import sqlalchemy_vector as sv


class Base(DeclarativeBase):
    pass


class Doc(Base):
    __tablename__ = "docs"
    id: Mapped[int] = mapped_column(primary_key=True)
    embedding: Mapped[npt.NDArray[np.float32]] = mapped_column(sv.Vector(3))


def nearest(session: Session, query: list[float]) -> list[int]:
    found = []
    for doc, distance in sv.knn(session, Doc, query, 5):
        assert_type(doc, Doc)
        assert_type(distance, float)
        found.append(doc.id)
    vector: npt.NDArray[np.float32] = session.get_one(Doc, found[0]).embedding
    assert vector.shape == (3,)
    ordering: ColumnElement[float] = sv.cosine_distance(Doc.embedding, query)
    session.scalars(select(Doc).order_by(ordering).limit(5)).all()
    return found
