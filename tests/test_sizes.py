"""Large inputs: more ids, filter values and results than one statement may carry on some backend.

The sizes are just over each limit: ClickHouse parses at most ``max_query_size``
(256 KiB) of query text, where clickhouse-connect renders every value inline;
psycopg sends at most 65,535 parameters per statement.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np
import pytest
from rag_fixtures import fresh_engine, pg_database  # noqa: F401  (fixtures)
from sqlalchemy import event
from sqlalchemy.engine import Engine

import sqlalchemy_vector as sv
from tests.conftest import WITH_CLICKHOUSE


class _Plain:
    """A fixed embedder: every text the same direction (the tests give documents their own vectors)."""

    dimension = 3
    model_name = "plain-v1"

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.ones((len(texts), 3), dtype=np.float32)


def _documents(count: int) -> list[dict]:
    # Ids of 40 characters: 8,000 of them inline are 360 KB of query text.
    return [
        {
            "document_id": f"document-{i:06d}-" + "x" * 24,
            "content": f"text {i}",
            "metadata": {"n": i},
            "embedding": [1.0, float(i % 7) / 10.0, float(i % 11) / 10.0],
        }
        for i in range(count)
    ]


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_search_with_top_k_over_the_statement_size_limit(backend: str, fresh_engine: Engine) -> None:  # noqa: F811
    # More results than one IN list of their ids may hold: a top_k larger than the table, the documents
    # similar to one, and MMR over a deep candidate list all read the winners by key.
    count = 8_000
    rag = sv.VectorRAG(fresh_engine, embedder=_Plain())
    try:
        rag.load_documents(_documents(count), show_progress=False, batch_size=4_000)
        hits = rag.query_with_embedding([1.0, 0.3, 0.5], top_k=count + 10)
        assert len(hits) == count and len({h["document_id"] for h in hits}) == count
        assert all(h["content"] == f"text {h['metadata']['n']}" for h in hits)
        similar = rag.find_similar_documents(_documents(1)[0]["document_id"], top_k=count)
        assert len(similar) == count - 1
        assert len(rag.mmr_query("text", top_k=5, fetch_k=count)) == 5
    finally:
        rag.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])  # DuckDB takes seconds per 70,000-value list
def test_in_and_nin_filters_over_the_parameter_limit(backend: str, fresh_engine: Engine) -> None:  # noqa: F811
    # 70,000 values: more than the 65,535 parameters psycopg sends with one statement.
    rag = sv.VectorRAG(fresh_engine, embedder=_Plain())
    try:
        rag.load_documents(_documents(20), show_progress=False)
        numbers = list(range(5, 70_005))
        words = [f"w{i}" for i in range(70_000)]

        def found(filters: dict) -> list[int]:
            hits = rag.query_with_filters(filters, top_k=50)
            return sorted(h["metadata"]["n"] for h in hits)

        assert found({"n": {"$in": numbers}}) == list(range(5, 20))
        assert found({"n": {"$nin": numbers}}) == list(range(5))
        assert found({"n": {"$in": words}}) == []
        # The same statement shape with other values (a cached compilation) gets them, not the first list's.
        assert found({"n": {"$in": list(range(10, 70_010))}}) == list(range(10, 20))
        ranked = rag.query_with_filters({"n": {"$in": numbers}}, "text", top_k=3)
        assert len(ranked) == 3 and all(h["metadata"]["n"] >= 5 for h in ranked)
        assert rag.delete_documents([d["document_id"] for d in _documents(20)], filters={"n": {"$in": numbers}}) == 15
        assert found({}) == list(range(5))
    finally:
        rag.close()


@pytest.mark.parametrize("backend", ["clickhouse"])
def test_a_longer_clickhouse_filter_list_once_max_query_size_is_raised(backend: str, fresh_engine: Engine) -> None:  # noqa: F811
    """docs/backends.md: an $in list past ClickHouse's max_query_size, with the limit raised by a connect listener."""
    values = list(range(100_000))
    rag = sv.VectorRAG(fresh_engine, embedder=_Plain())
    try:
        rag.load_documents(_documents(3), show_progress=False)
        with pytest.raises(Exception, match="Max query size exceeded"):
            rag.query_with_filters({"n": {"$in": values}})

        @event.listens_for(fresh_engine, "connect")
        def _larger_queries(dbapi_connection: Any, record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SET max_query_size = 16777216")
            cursor.close()

        fresh_engine.dispose()  # connections open from now on run the listener
        assert len(rag.query_with_filters({"n": {"$in": values}})) == 3
    finally:
        rag.close()


@pytest.mark.parametrize("backend", ["sqlite", "sqlite-python"])
def test_in_and_nin_filters_over_the_sqlite_variable_limit(backend: str, fresh_engine: Engine) -> None:  # noqa: F811
    # SQLite allows 32,766 variables a statement by default (999 before 3.32); the builds here allow 250,000.
    # Where the driver module can lower the limit (Python 3.11's sqlite3), lower it to an old SQLite's.
    @event.listens_for(fresh_engine, "connect")
    def _old_limit(dbapi_connection: Any, record: Any) -> None:
        if hasattr(dbapi_connection, "setlimit"):
            dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)

    parameters: list[int] = []

    @event.listens_for(fresh_engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        if not executemany:
            parameters.append(len(params))

    rag = sv.VectorRAG(fresh_engine, embedder=_Plain())
    try:
        rag.load_documents(_documents(20), show_progress=False)
        numbers = list(range(5, 40_005))
        words = [f"w{i}" for i in range(40_000)]

        def found(filters: dict) -> list[int]:
            hits = rag.query_with_filters(filters, top_k=50)
            return sorted(h["metadata"]["n"] for h in hits)

        parameters.clear()
        assert found({"n": {"$in": numbers}}) == list(range(5, 20))
        assert found({"n": {"$nin": numbers}}) == list(range(5))
        assert found({"n": {"$in": words}}) == []
        assert found({"n": {"$nin": [*words, *numbers]}}) == list(range(5))
        # The same statement shape with other values (a cached compilation) gets them, not the first list's.
        assert found({"n": {"$in": list(range(10, 40_010))}}) == list(range(10, 20))
        ranked = rag.query_with_filters({"n": {"$in": numbers}}, "text", top_k=3)
        assert len(ranked) == 3 and all(h["metadata"]["n"] >= 5 for h in ranked)
        assert max(parameters) < 50  # each list is one parameter
        assert rag.delete_documents([d["document_id"] for d in _documents(20)], filters={"n": {"$in": numbers}}) == 15
        assert found({}) == list(range(5))
    finally:
        rag.close()
