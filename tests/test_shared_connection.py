"""A facade and the application on one engine whose pool hands every caller of a thread the same connection.

An in-memory database lives in one connection, so its engine's pool shares it
(``SingletonThreadPool`` for ``sqlite://`` and ``duckdb:///:memory:``,
``StaticPool`` for ``sqlite+aiosqlite://``).  A transaction the application
has open there (a ``Session`` with flushed writes) was committed by the
facade's next write and discarded by its next read's rollback.  The facade
now refuses to run in it, and leaves it as it was.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from sqlalchemy import Column, Integer, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Session

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import SharedConnectionError
from sqlalchemy_vector.rag import AsyncVectorRAG, VectorRAG


class Base(DeclarativeBase):
    pass


class Note(Base):
    """A table of the application's own, beside the facade's."""

    __tablename__ = "notes"
    id = Column(Integer, primary_key=True, autoincrement=False)


IN_MEMORY = {"sqlite": "sqlite://", "duckdb": "duckdb:///:memory:"}


@pytest.fixture(params=sorted(IN_MEMORY))
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    engine = sv.create_engine(IN_MEMORY[request.param])
    Base.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def notes(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Note)).scalar_one())


def test_a_read_leaves_the_applications_transaction_alone(engine: Engine) -> None:
    rag = VectorRAG(engine, dimension=8)
    rag.load_documents([{"content": "hello world"}], show_progress=False)
    with Session(engine) as session:
        session.add(Note(id=1))
        session.flush()
        with pytest.raises(SharedConnectionError, match="commit or roll back your transaction"):
            rag.query("hello")
        assert session.scalar(select(func.count()).select_from(Note)) == 1  # was 0: rolled back by the query
        session.commit()
    assert notes(engine) == 1
    assert [r["content"] for r in rag.query("hello")] == ["hello world"]  # goes on once the transaction ended


@pytest.mark.parametrize("call", ["load", "failed load", "delete"])
def test_a_write_neither_commits_nor_discards_it(engine: Engine, call: str) -> None:
    rag = VectorRAG(engine, dimension=8)
    stored = rag.load_documents([{"content": "hello world", "document_id": "d1"}], show_progress=False)
    with Session(engine) as session:
        session.add(Note(id=1))
        session.flush()
        with pytest.raises(SharedConnectionError, match="the facade's commit would commit"):
            if call == "load":
                rag.load_documents([{"content": "more"}], show_progress=False)
            elif call == "failed load":  # a duplicate id: the database raises, the facade rolls back
                rag.load_documents([{"content": "again", "document_id": "d1"}], show_progress=False)
            else:
                rag.delete_documents(ids=stored)
        assert session.scalar(select(func.count()).select_from(Note)) == 1
        session.rollback()
    assert notes(engine) == 0  # was 1: committed by the facade's load
    assert rag.get_statistics()["document_count"] == 1
    assert rag.delete_documents(ids=stored) == 1


async def test_async_facade_over_aiosqlite_in_memory() -> None:
    engine = sv.create_async_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        rag = AsyncVectorRAG(engine, dimension=8)
        await rag.load_documents([{"content": "hello world"}], show_progress=False)
        async with AsyncSession(engine) as session:
            session.add(Note(id=1))
            await session.flush()
            with pytest.raises(SharedConnectionError):
                await rag.query("hello")
            assert await session.scalar(select(func.count()).select_from(Note)) == 1
            await session.commit()
        async with engine.connect() as connection:
            assert (await connection.execute(select(func.count()).select_from(Note))).scalar_one() == 1
        assert len(await rag.query("hello")) == 1
        await rag.close()
    finally:
        await engine.dispose()


def test_a_file_database_keeps_its_own_connection(tmp_path: Any) -> None:
    # A pool of several connections: the facade's transaction is its own, the application's is left alone.
    engine = sv.create_engine(f"duckdb:///{tmp_path}/file.duckdb")
    try:
        Base.metadata.create_all(engine)
        rag = VectorRAG(engine, dimension=8)
        with Session(engine) as session:
            session.add(Note(id=1))
            session.flush()
            rag.load_documents([{"content": "hello world"}], show_progress=False)
            assert len(rag.query("hello")) == 1
            session.rollback()
        assert notes(engine) == 0
        assert rag.get_statistics()["document_count"] == 1
    finally:
        engine.dispose()


def test_a_sqlite_fulltext_build_failing_midway_leaves_no_index(tmp_path: Any) -> None:
    # pysqlite begins no transaction before DDL: the FTS5 table was committed on its own, and a build failing at
    # a trigger left an index without triggers, which the next build refused as existing and hybrid search used.
    from sqlalchemy import event

    from sqlalchemy_vector.fulltext import list_fulltext_indexes

    engine = sv.create_engine(f"sqlite:///{tmp_path}/fts.db")
    try:
        rag = VectorRAG(engine, dimension=8)
        rag.load_documents([{"content": "apple pie"}, {"content": "banana bread"}], show_progress=False)

        def fail(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if "CREATE TRIGGER" in statement:
                raise OSError("disk full")

        event.listen(engine, "before_cursor_execute", fail)
        with pytest.raises(OSError, match="disk full"):
            rag.create_fulltext_index()
        event.remove(engine, "before_cursor_execute", fail)
        with engine.connect() as connection:
            assert list_fulltext_indexes(connection) == []
        rag.create_fulltext_index()
        rag.load_documents([{"content": "apple tart"}], show_progress=False)
        found = rag.hybrid_query("apple", weights=(0, 1))
        assert sorted(r["content"] for r in found) == ["apple pie", "apple tart"]
    finally:
        engine.dispose()
