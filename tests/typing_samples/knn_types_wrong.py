"""A wrong claim that mypy must reject: shows the typing check in test_typing.py can fail."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from typing_extensions import assert_type

import sqlalchemy_vector as sv


class Base(DeclarativeBase):
    pass


class Doc(Base):
    __tablename__ = "docs"
    id: Mapped[int] = mapped_column(primary_key=True)
    embedding: Mapped[npt.NDArray[np.float32]] = mapped_column(sv.Vector(3))


def nearest(session: Session) -> None:
    for doc, distance in sv.knn(session, Doc, [1.0, 0.0, 0.0], 5):
        assert_type(doc, int)
        assert_type(distance, float)
