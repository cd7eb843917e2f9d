"""knn() in the shapes an ORM user writes: joins, subclasses, loader criteria, aliases, re-ranking, async sessions.

Each runs on the backends it concerns, through the column's declared index, against the exact answer.
"""

from __future__ import annotations

from typing import Any, List

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import ForeignKey, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, ORMExecuteState, Session, aliased, mapped_column, with_loader_criteria

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import InvalidArgumentError
from tests.conftest import CLICKHOUSE

INDEXED = ("sqlite", "duckdb", "postgresql", CLICKHOUSE)


def session_on(conn: Connection) -> Session:
    return Session(bind=conn, join_transaction_mode="rollback_only")


def nearest(rows: List[Any]) -> List[Any]:
    return [tuple(row)[0] for row in rows]


@pytest.mark.parametrize("backend", INDEXED)
def test_where_may_join_another_table(conn: Connection, backend: str) -> None:
    # On SQLite the conditions went into vec0's key list only, and the other table's columns were then
    # selected without them: every parent paired with every hit (9 rows for k=3).
    class Base(DeclarativeBase):
        pass

    class Parent(Base):
        __tablename__ = "knn_parents"
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        name: Mapped[str] = mapped_column(sa.String(10))

    class Child(Base):
        __tablename__ = "knn_children"
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        parent_id: Mapped[int] = mapped_column(ForeignKey("knn_parents.id"))
        embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(3))
        __table_args__ = (sv.VectorIndex("knn_children_cos", "embedding", metric="cosine", duckdb_experimental_persistence=True),)

    Base.metadata.create_all(conn)
    conn.execute(insert(Parent), [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}])
    conn.execute(insert(Child), [{"id": i, "parent_id": 1 + i % 3, "embedding": [1.0, i / 10, 0.0]} for i in range(1, 10)])
    with session_on(conn) as session:
        where = [Child.parent_id == Parent.id, Parent.name != "a"]
        rows = sv.knn(session, Child.embedding, [1, 0, 0], 3, where=where, columns=[Child.id, Parent.name])
        assert [tuple(row)[:2] for row in rows] == [(1, "b"), (2, "c"), (4, "b")]
        entities = sv.knn(session, Child.embedding, [1, 0, 0], 3, where=where, columns=[Child, Parent.name])
        assert [(row[0].id, row[1]) for row in entities] == [(1, "b"), (2, "c"), (4, "b")]


@pytest.mark.parametrize("backend", INDEXED)
def test_criteria_the_orm_adds_still_give_k_rows(conn: Connection, backend: str) -> None:
    # vec0 is exact but picks its k before the ORM's own criteria apply outside it: a subclass's
    # discriminator, a session's with_loader_criteria.  SQLite returned [] for both.
    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "knn_items"
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        kind: Mapped[str] = mapped_column(sa.String(10))
        deleted: Mapped[bool] = mapped_column(default=False)
        embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(2))
        __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "item"}
        __table_args__ = (sv.VectorIndex("knn_items_l2", "embedding", metric="l2", duckdb_experimental_persistence=True),)

    class Book(Item):
        __mapper_args__ = {"polymorphic_identity": "book"}

    Base.metadata.create_all(conn)
    # Ten plain items near the query, deleted; three books further away.
    rows = [{"id": i, "kind": "item", "deleted": True, "embedding": [i / 100, 0.0]} for i in range(1, 11)]
    rows += [{"id": 100 + i, "kind": "book", "deleted": False, "embedding": [1.0 + i, 0.0]} for i in range(1, 4)]
    conn.execute(insert(Item.__table__), rows)
    with session_on(conn) as session:
        assert [book.id for book, _ in sv.knn(session, Book, [0, 0], 3, metric="l2")] == [101, 102, 103]

        @sa.event.listens_for(session, "do_orm_execute")
        def live_only(state: ORMExecuteState) -> None:
            state.statement = state.statement.options(with_loader_criteria(Item, Item.deleted == sa.false()))

        assert [item.id for item, _ in sv.knn(session, Item, [0, 0], 3, metric="l2")] == [101, 102, 103]


@pytest.mark.parametrize("backend", INDEXED)
def test_aliases_and_subqueries(conn: Connection, backend: str) -> None:
    class Base(DeclarativeBase):
        pass

    class Doc(Base):
        __tablename__ = "knn_alias_docs"
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(3))

    Base.metadata.create_all(conn)
    conn.execute(insert(Doc), [{"id": i, "embedding": [1.0, i / 4, 0.0]} for i in range(1, 6)])
    with session_on(conn) as session:
        expected = [1, 2]
        other = aliased(Doc, name="other")
        assert [doc.id for doc, _ in sv.knn(session, other.embedding, [1, 0, 0], 2)] == expected
        assert nearest(sv.knn(session, Doc.__table__.alias("t").c.embedding, [1, 0, 0], 2)) == expected
        below = select(Doc).where(Doc.id > 0).subquery()
        assert nearest(sv.knn(session, below.c.embedding, [1, 0, 0], 2)) == expected


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_reranked_search_selects_any_columns(conn: Connection, backend: str) -> None:
    # The generic re-ranking statement read ORM attributes and expressions as entities (AttributeError).
    class Base(DeclarativeBase):
        pass

    class Note(Base):
        __tablename__ = "knn_rerank_notes"
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        title: Mapped[str] = mapped_column(sa.String(10))
        embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(16))
        __table_args__ = (sv.VectorIndex("knn_rerank_bin", "embedding", metric="cosine", quantization="binary"),)

    Base.metadata.create_all(conn)
    data = np.random.default_rng(3).standard_normal((60, 16)).astype(np.float32)
    conn.execute(insert(Note), [{"id": i, "title": f"t{i}", "embedding": data[i]} for i in range(60)])
    with session_on(conn) as session:
        query = data[5]
        entities = sv.knn(session, Note.embedding, query, 3, rerank=20)
        ids = [note.id for note, _ in entities]
        assert ids[0] == 5 and len(ids) == 3
        for columns, second in (
            ([Note.id, Note.title], [f"t{i}" for i in ids]),
            ([Note.__table__.c.id, sa.func.upper(Note.__table__.c.title).label("upper")], [f"T{i}" for i in ids]),
        ):
            rows = sv.knn(session, Note.embedding, query, 3, rerank=20, columns=columns)
            assert [tuple(row)[:2] for row in rows] == list(zip(ids, second))


def test_an_async_session_is_pointed_to_run_sync(tmp_path: Any) -> None:
    import asyncio

    from sqlalchemy.ext.asyncio import AsyncSession

    class Base(DeclarativeBase):
        pass

    class Doc(Base):
        __tablename__ = "knn_async_docs"
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(2))

    async def main() -> List[Any]:
        engine = sv.create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/a.db")
        try:
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
                await connection.execute(insert(Doc), [{"id": 1, "embedding": [1, 0]}, {"id": 2, "embedding": [0, 1]}])
                with pytest.raises(InvalidArgumentError, match=r"got an AsyncConnection.*run_sync"):
                    sv.knn(connection, Doc.embedding, [1, 0], 1)  # type: ignore[call-overload]
            async with AsyncSession(engine) as session:
                with pytest.raises(InvalidArgumentError, match=r"got an AsyncSession.*run_sync"):
                    sv.knn(session, Doc.embedding, [1, 0], 1)  # type: ignore[call-overload]
                return await session.run_sync(lambda s: [doc.id for doc, _ in sv.knn(s, Doc.embedding, [1, 0], 1)])
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == [1]


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql"])
def test_distance_by_name_on_bit_vectors(conn: Connection, backend: str) -> None:
    # distance("hamming", ...) raised "unknown vector metric" even on a BitVector column.
    table = sa.Table(
        "knn_codes",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("bits", sv.BitVector(8)),
    )
    table.create(conn)
    codes = {1: [1, 1, 1, 1, 0, 0, 0, 0], 2: [1, 1, 1, 0, 0, 0, 0, 1], 3: [0, 0, 0, 0, 1, 1, 1, 1]}
    conn.execute(insert(table), [{"id": i, "bits": np.array(bits, dtype=bool)} for i, bits in codes.items()])
    query = np.array(codes[1], dtype=bool)
    by_name = conn.execute(select(table.c.id, sv.distance("hamming", table.c.bits, query)).order_by(sa.literal_column("2"), table.c.id)).all()
    assert [(row[0], float(row[1])) for row in by_name] == [(1, 0.0), (2, 2.0), (3, 8.0)]
    ordered = conn.execute(select(table.c.id).order_by(table.c.bits.hamming(query), table.c.id)).scalars().all()
    assert ordered == [1, 2, 3]


@pytest.mark.parametrize("backend", INDEXED)
def test_l1_comparator(conn: Connection, backend: str) -> None:
    table = sa.Table(
        "knn_l1", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True, autoincrement=False), sa.Column("v", sv.Vector(2))
    )
    table.create(conn)
    conn.execute(insert(table), [{"id": 1, "v": [1, 1]}, {"id": 2, "v": [0, 3]}])
    got = conn.execute(select(table.c.id, table.c.v.l1([0, 0]), table.c.v.l1_distance([0, 0])).order_by(table.c.id)).all()
    assert [tuple(row) for row in got] == [(1, 2.0, 2.0), (2, 3.0, 3.0)]


def test_a_compact_column_is_pointed_to_its_own_distances() -> None:
    table = sa.Table("knn_kinds", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("b", sv.BitVector(4)))
    with pytest.raises(sv.exc.InvalidVectorError, match=r"not column 'knn_kinds.b' \(BitVector\(4\)\).*order_by\(column.hamming\(q\)\)"):
        sv.knn_select(table.c.b, [1, 0, 1, 0], 3)


@pytest.mark.parametrize("backend", INDEXED)
def test_joined_subclass_searches_through_its_tables_index(conn: Connection, backend: str) -> None:
    # DuckDB's vss and ClickHouse's index serve only their table read directly: knn(session, Sub, ...) read
    # the base table joined to it and scanned every vector.  It now ranks the subclass's table alone.
    from sqlalchemy.sql import visitors

    from tests.index_helpers import explain

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "knn_joined_items"
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        kind: Mapped[str] = mapped_column(sa.String(10))
        name: Mapped[str] = mapped_column(sa.String(10))
        __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "item"}

    class Doc(Item):
        __tablename__ = "knn_joined_docs"
        id: Mapped[int] = mapped_column(ForeignKey("knn_joined_items.id"), primary_key=True, autoincrement=False)
        score: Mapped[int] = mapped_column()
        embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(4))
        __mapper_args__ = {"polymorphic_identity": "doc"}
        __table_args__ = (sv.VectorIndex("knn_joined_docs_cos", "embedding", metric="cosine", duckdb_experimental_persistence=True),)

    Base.metadata.create_all(conn)
    vectors = np.random.default_rng(7).random((200, 4), dtype=np.float32)
    conn.execute(insert(Item.__table__), [{"id": i, "kind": "doc", "name": "ab"[i % 2]} for i in range(200)])
    conn.execute(insert(Doc.__table__), [{"id": i, "score": i % 5, "embedding": vectors[i]} for i in range(200)])
    query = [1.0, 0.1, 0.0, 0.2]
    statement = sv.knn_select(Doc.embedding, query, 5, dialect=conn.dialect)
    if backend == "duckdb":
        assert "HNSW_INDEX_SCAN" in explain(conn, statement)
    if backend == CLICKHOUSE:
        # Both tables read by primary key, for the keys of a ranking served by the index (EXPLAIN shows the
        # main query's plan, not the plan of the IN list's subquery: that one is explained on its own).
        assert "(id in 5-element set)" in explain(conn, statement)
        ranking = [e for e in visitors.iterate(statement) if isinstance(e, sa.Select) and e.columns_clause_froms == [Doc.__table__]]
        assert ranking and "vector_similarity" in explain(conn, ranking[0])
    with session_on(conn) as session:
        wheres: List[Any] = [[], [Doc.score > 1], [Item.name == "a"], [Doc.score > 1, Item.name == "b"]]
        for where in wheres:
            found = sv.knn(session, Doc, query, 5, where=where)
            exact = session.execute(sv.knn_select(Doc.embedding, query, 5, where=where, exact=True, dialect=conn.dialect)).all()
            assert [doc.id for doc, _ in found] == [doc.id for doc, _ in exact], where
            assert [d for _, d in found] == pytest.approx([d for _, d in exact], abs=1e-5)
            assert len(found) == 5 and all(isinstance(doc, Doc) for doc, _ in found)

        @sa.event.listens_for(session, "do_orm_execute")
        def only_b(state: ORMExecuteState) -> None:
            state.statement = state.statement.options(with_loader_criteria(Doc, Doc.name == "b"))

        found = sv.knn(session, Doc, query, 5)
        assert len(found) == 5 and {doc.name for doc, _ in found} == {"b"}


@pytest.mark.parametrize("backend", ("sqlite", "postgresql"))  # the backends with quantized indexes
def test_joined_subclass_reranks_through_its_tables_quantized_index(conn: Connection, backend: str) -> None:
    # PostgreSQL's candidates were the subclass table's columns, from which the whole entity was then read:
    # NoSuchColumnError for the base table's 'kind' (and a cartesian product with a filter on the base table).
    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "rerank_items"
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        kind: Mapped[str] = mapped_column(sa.String(10))
        name: Mapped[str] = mapped_column(sa.String(10))
        __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "item"}

    class Doc(Item):
        __tablename__ = "rerank_docs"
        id: Mapped[int] = mapped_column(ForeignKey("rerank_items.id"), primary_key=True, autoincrement=False)
        embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(8))
        __mapper_args__ = {"polymorphic_identity": "doc"}
        __table_args__ = (sv.VectorIndex("rerank_docs_bin", "embedding", metric="cosine", quantization="binary"),)

    Base.metadata.create_all(conn)
    vectors = np.random.default_rng(3).standard_normal((120, 8)).astype(np.float32)
    conn.execute(insert(Item.__table__), [{"id": i, "kind": "doc", "name": "ab"[i % 2]} for i in range(120)])
    conn.execute(insert(Doc.__table__), [{"id": i, "embedding": vectors[i]} for i in range(120)])
    query = vectors[7] + 0.01
    with session_on(conn) as session:
        for where in ([], [Item.name == "a"]):
            found = sv.knn(session, Doc, query, 5, where=where, rerank=120)  # every row a candidate: exact
            exact = session.execute(sv.knn_select(Doc.embedding, query, 5, where=where, exact=True, dialect=conn.dialect)).all()
            assert [doc.id for doc, _ in found] == [doc.id for doc, _ in exact], where
            assert all(isinstance(doc, Doc) and doc.kind == "doc" for doc, _ in found)


@pytest.mark.parametrize("backend", ("sqlite", "sqlite-python", "duckdb", "postgresql", CLICKHOUSE))
def test_tied_rows_come_back_in_key_order(conn: Connection, backend: str) -> None:
    # Every database returned its ties in its own order (SQLite [4, 8, 12, 16, 20], DuckDB [12, 28, 24, 4, 36], ...):
    # knn() now sorts the rows it returns by distance, then key, as the facade does.
    class Base(DeclarativeBase):
        pass

    class Tied(Base):
        __tablename__ = "knn_tied"
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(2))

    Base.metadata.create_all(conn)
    keys = np.random.default_rng(0).permutation(np.arange(1, 41)).tolist()  # stored out of key order
    conn.execute(insert(Tied), [{"id": i, "embedding": [[1, 0], [0, 1], [1, 1], [3, 0]][i % 4]} for i in keys])
    for rows in (
        sv.knn(conn, Tied.__table__.c.embedding, [1, 0], 40, metric="l2"),
        sv.knn(conn, Tied.__table__.c.embedding, [1, 0], 40, metric="l2", columns=[Tied.__table__.c.embedding, Tied.__table__.c.id]),
    ):
        ids = [row.id for row in rows]
        assert ids == [i for i in range(4, 41, 4)] + [i for i in range(2, 41, 4)] + [i for i in range(1, 41, 4)] + [i for i in range(3, 41, 4)], ids
    with session_on(conn) as session:
        found = sv.knn(session, Tied, [1, 0], 10, metric="l2")
        assert [doc.id for doc, _ in found] == list(range(4, 41, 4))
