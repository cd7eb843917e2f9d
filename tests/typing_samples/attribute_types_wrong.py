"""Must fail type checking: a misspelt distance method and a wrong result type."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqlalchemy_vector import VectorMapped, vector_column


class Base(DeclarativeBase):
    pass


class Doc(Base):
    __tablename__ = "typed_docs_wrong"
    id: Mapped[int] = mapped_column(primary_key=True)
    embedding: VectorMapped[npt.NDArray[np.float32]] = vector_column(3)


wrong: ColumnElement[str] = Doc.embedding.cosine([1.0, 0.0, 0.0])
