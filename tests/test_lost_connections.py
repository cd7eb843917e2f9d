"""Connections the PostgreSQL server closes: a restart, a failover, ``pg_terminate_backend``.

The server ends every session of the facade's database (as a restart does,
with the same ``terminating connection due to administrator command``). What
SQLAlchemy's pool promises must hold through the library's connection set-up:
the call that finds its connection closed fails with ``DBAPIError``
(``connection_invalidated``), the next runs on a new connection set up as the
first was (vectors sent in binary on psycopg, decoded by asyncpg's codecs), and
an engine created with ``pool_pre_ping=True`` replaces the closed connection
before any call sees it.  A load whose connection is lost midway stores nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict, List, Sequence

import numpy as np
import pytest
import sqlalchemy
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

import sqlalchemy_vector as sv
from rag_fixtures import CORPUS, VOCABULARY, KeywordEmbedder
from sqlalchemy_vector.rag import AsyncVectorRAG, VectorRAG

QUERY = "apple banana"


@pytest.fixture
def database(fresh_database_url: Callable[[str], str], engine_for: Callable[[str], Engine]) -> str:
    engine_for("postgresql")  # the backend counts as reached
    return fresh_database_url("postgresql")


def end_sessions(url: str) -> int:
    """End every other session of ``url``'s database, as a server restart does; how many there were."""
    admin = sqlalchemy.create_engine(sqlalchemy.make_url(url).set(drivername="postgresql+psycopg"))
    try:
        with admin.connect() as conn:
            return len(
                conn.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).all()
            )
    finally:
        admin.dispose()


def answers(hits: Sequence[Dict[str, Any]]) -> List[Any]:
    return [(hit["document_id"], round(hit["distance"], 5)) for hit in hits]


def test_a_closed_connection_fails_one_call_and_the_next_runs(database: str) -> None:
    with VectorRAG(database, embedder=KeywordEmbedder(VOCABULARY)) as rag:
        rag.load_documents(CORPUS, show_progress=False)
        before = answers(rag.query(QUERY, top_k=3))
        assert len(before) == 3

        assert end_sessions(database) >= 1
        with pytest.raises(DBAPIError) as lost:
            rag.query(QUERY, top_k=3)
        assert lost.value.connection_invalidated
        assert answers(rag.query(QUERY, top_k=3)) == before

        # A write that meets a closed connection writes nothing; the next is stored once.
        end_sessions(database)
        with pytest.raises(DBAPIError):
            rag.load_documents([{"document_id": "late", "content": "fig fig"}], show_progress=False)
        assert rag.load_documents([{"document_id": "late", "content": "fig fig"}], show_progress=False) == ["late"]
        assert rag.get_statistics()["document_count"] == len(CORPUS) + 1


def test_pool_pre_ping_hides_a_closed_connection(database: str) -> None:
    engine = sv.create_engine(database, pool_pre_ping=True)
    try:
        with VectorRAG(engine, embedder=KeywordEmbedder(VOCABULARY)) as rag:
            rag.load_documents(CORPUS, show_progress=False)
            before = answers(rag.query(QUERY, top_k=3))
            assert end_sessions(database) >= 1
            assert answers(rag.query(QUERY, top_k=3)) == before
            assert end_sessions(database) >= 1
            assert rag.load_documents([{"document_id": "late", "content": "fig"}], show_progress=False) == ["late"]
    finally:
        engine.dispose()


class EndsSessionsOnSecondBatch(KeywordEmbedder):
    """Ends the database's sessions when asked for its second batch: the first is written by then."""

    def __init__(self, url: str) -> None:
        super().__init__(VOCABULARY)
        self.url = url
        self.ended = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(self.calls) == 1:
            self.ended = end_sessions(self.url)
        return super().embed(texts)


def test_a_load_that_loses_its_connection_midway_stores_nothing(database: str) -> None:
    embedder = EndsSessionsOnSecondBatch(database)
    with VectorRAG(database, embedder=embedder) as rag:
        rag.get_statistics()  # tables made, outside the load
        with pytest.raises(DBAPIError):
            rag.load_documents(CORPUS, batch_size=2, show_progress=False)
        assert embedder.ended >= 1
        statistics = rag.get_statistics()
        assert (statistics["document_count"], statistics["embedding_count"]) == (0, 0)


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg_async"])
@pytest.mark.parametrize("pre_ping", [False, True], ids=["plain", "pre-ping"])
def test_the_async_facade_gets_a_new_connection(database: str, driver: str, pre_ping: bool) -> None:
    url = sqlalchemy.make_url(database).set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)

    async def main() -> None:
        bind: Any = sv.create_async_engine(url, pool_pre_ping=True) if pre_ping else url
        rag = AsyncVectorRAG(bind, embedder=KeywordEmbedder(VOCABULARY))
        try:
            await rag.load_documents(CORPUS, show_progress=False)
            before = answers(await rag.query(QUERY, top_k=3))
            assert end_sessions(database) >= 1
            if not pre_ping:
                with pytest.raises(DBAPIError) as lost:
                    await rag.query(QUERY, top_k=3)
                assert lost.value.connection_invalidated
            assert answers(await rag.query(QUERY, top_k=3)) == before
            # Vectors read back on the new connection (asyncpg's codecs are registered per connection).
            E: Any = rag.embedding_model
            async with rag.engine.connect() as conn:
                stored = (await conn.execute(select(E.embedding).where(E.document_id == "d1"))).scalar_one()
            np.testing.assert_array_equal(stored, KeywordEmbedder(VOCABULARY).vector(CORPUS[0]["content"]))
        finally:
            await rag.close()
            if pre_ping:
                await bind.dispose()

    asyncio.run(asyncio.wait_for(main(), 60))
