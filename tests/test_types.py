"""Vector values through the ORM's unit of work."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Integer, select
from typing import Callable
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import sqlalchemy_vector as sv


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "type_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(3))


@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql"])
def test_changed_vectors_are_detected_and_checked(kind: str, fresh_database_url: Callable[[str], str]) -> None:
    engine = sv.create_engine(fresh_database_url(kind))
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Item(id=1, embedding=[1.0, 2.0, 3.0]))
        session.flush()
        item = session.get(Item, 1)
        assert item is not None
        item.embedding = np.array([1.0, 2.0, 4.0], dtype=np.float32)  # same length, one value changed
        session.flush()
        assert session.scalar(select(Item.embedding).where(Item.id == 1)).tolist() == [1.0, 2.0, 4.0]
        item.embedding = [1.0, 2.0]  # another length: the column's own error, not numpy's broadcast error
        with pytest.raises(sv.exc.DimensionMismatchError, match="type_items.embedding.*expects 3 dimensions, got 2"):
            session.flush()
        session.rollback()
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql"])
def test_knn_takes_the_mapped_class(kind: str, fresh_database_url: Callable[[str], str]) -> None:
    engine = sv.create_engine(fresh_database_url(kind))
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Item(id=1, embedding=[1, 0, 0]), Item(id=2, embedding=[0, 1, 0]), Item(id=3, embedding=[1, 1, 0])])
        session.flush()
        rows = sv.knn(session, Item, [1.0, 0.1, 0.0], 2)
        assert [(item.id, round(distance, 4)) for item, distance in rows] == [
            (r.id, round(d, 4)) for r, d in sv.knn(session, Item.embedding, [1.0, 0.1, 0.0], 2)
        ]
        assert [item.id for item, _ in rows] == [1, 3]

        class Other(DeclarativeBase):
            pass

        class Twice(Other):
            __tablename__ = "twice"
            id: Mapped[int] = mapped_column(Integer, primary_key=True)
            a: Mapped[np.ndarray] = mapped_column(sv.Vector(3))
            b: Mapped[np.ndarray] = mapped_column(sv.Vector(3))

        with pytest.raises(sv.exc.InvalidArgumentError, match="exactly one Vector column, it has a, b"):
            sv.knn(session, Twice, [1.0, 0.0, 0.0], 2)
    engine.dispose()
