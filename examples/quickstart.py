"""Quickstart: a Vector column, Core and ORM queries, on any supported database.

    python examples/quickstart.py                      # SQLite file ./quickstart.db
    python examples/quickstart.py --db duckdb:///q.duckdb
    python examples/quickstart.py --db postgresql+psycopg://user@host/db
    python examples/quickstart.py --db "clickhousedb:///default?interface=chdb&path=q.chdb"
"""

from __future__ import annotations

import argparse

import numpy as np
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import sqlalchemy_vector as sv


class Base(DeclarativeBase):
    pass


class Doc(Base):
    __tablename__ = "quickstart_docs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(100))
    embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(3))


DOCS = [
    (1, "cats and kittens", [0.9, 0.1, 0.0]),
    (2, "dogs and puppies", [0.7, 0.3, 0.1]),
    (3, "stock markets", [0.0, 0.2, 0.9]),
    (4, "bond yields", [0.1, 0.1, 1.0]),
]


def main(argv: list[str] | None = None) -> list[tuple[str, float]]:
    parser = argparse.ArgumentParser(description="sqlalchemy_vector quickstart")
    parser.add_argument("--db", default="sqlite:///quickstart.db", help="database URL")
    args = parser.parse_args(argv)

    engine = sv.create_engine(args.db)  # loads sqlite-vec / checks pgvector / loads DuckDB vss
    Base.metadata.drop_all(engine)  # a fresh table on every run (ClickHouse deletes need a WHERE clause)
    Base.metadata.create_all(engine)
    query = [0.8, 0.2, 0.0]  # "pets"

    with Session(engine) as session:
        session.add_all(Doc(id=i, title=t, embedding=e) for i, t, e in DOCS)
        session.commit()

        # ORM: nearest documents by cosine distance
        distance = Doc.embedding.cosine(query).label("distance")
        rows = session.execute(select(Doc.title, distance).order_by(distance).limit(3)).all()
        print(f"nearest to {query} on {engine.dialect.name}:")
        for title, d in rows:
            print(f"  {d:.4f}  {title}")

        # Core-style filter on distance, and the other metrics
        close = session.scalars(select(Doc.title).where(Doc.embedding.l2(query) < 0.5).order_by(Doc.id)).all()
        print("within L2 0.5:", close)
        best_dot = session.scalars(select(Doc.title).order_by(Doc.embedding.max_inner_product(query)).limit(1)).one()
        print("largest dot product:", best_dot)
    engine.dispose()
    return [(t, float(d)) for t, d in rows]


if __name__ == "__main__":
    main()
