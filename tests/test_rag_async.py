"""The asyncio RAG facade on SQLite (aiosqlite) and PostgreSQL (psycopg async).

DuckDB and ClickHouse have no asyncio driver: there the facade runs their
synchronous driver in one worker thread (the tests at the end).
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Iterator, List, Sequence

import numpy as np
import pytest
import sqlalchemy
from sqlalchemy import event, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

import sqlalchemy_vector as sv
from rag_fixtures import (  # noqa: F401  (pg_database is a fixture)
    CORPUS,
    VOCABULARY,
    AsyncKeywordEmbedder,
    KeywordEmbedder,
    drop_all_postgresql,
    pg_database,
    reference,
    similarity,
)
from sqlalchemy_vector.dialects import engine_state
from sqlalchemy_vector.exc import (
    DimensionMismatchError,
    DocumentNotFoundError,
    FallbackWarning,
    InvalidArgumentError,
    ModelConfigurationError,
    SchemaMismatchError,
)
from sqlalchemy_vector.orm import make_models
from sqlalchemy_vector.rag import AsyncVectorRAG, VectorRAG
from sqlalchemy_vector.rag.async_facade import _WorkerCall

ASYNC_BACKENDS = ("aiosqlite", "aiosqlite-python", "psycopg_async")
FUNCTIONS = ("cosine", "euclidean", "inner_product")
Q = [0.8, 0.45, 0.3, 0.1, 0.05, 0.2, 0.15, 0.37]
CONTENTS = {d["document_id"]: d["content"] for d in CORPUS}


@pytest.fixture(params=ASYNC_BACKENDS)
def async_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database(async_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[URL]:
    """An empty database for the backend, as a URL with the async driver."""
    if async_backend == "psycopg_async":
        url: URL = request.getfixturevalue("pg_database")
        yield url.set(drivername="postgresql+psycopg_async")
        drop_all_postgresql(url)
    else:
        yield make_url(f"sqlite+aiosqlite:///{tmp_path / 'rag.db'}")


@pytest.fixture
async def async_engine(database: URL, async_backend: str) -> Any:
    engine = sv.create_async_engine(database, sqlite_vec=async_backend != "aiosqlite-python")
    yield engine
    await engine.dispose()


def sync_url(database: URL) -> URL:
    driver = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}[database.get_backend_name()]
    return database.set(drivername=driver)


def ranking(function: str, query: Any = Q) -> List[tuple[str, float]]:
    expected = reference(KeywordEmbedder(VOCABULARY), np.asarray(query), function, CONTENTS)
    return sorted(expected.items(), key=lambda item: item[1])


async def test_engine_loads_sqlite_vec_through_aiosqlite(tmp_path: Path) -> None:
    engine = sv.create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'vec.db'}")
    fallback = sv.create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'py.db'}", sqlite_vec=False)
    try:
        async with engine.connect() as connection:
            assert (await connection.scalar(text("SELECT vec_version()"))).startswith("v")
        assert engine_state(engine.sync_engine.dialect) == {"sqlite_vec": "extension"}
        async with fallback.connect() as connection:
            distance = await connection.scalar(select(sv.l2_distance([3.0, 4.0], [0.0, 0.0])))
        assert distance == pytest.approx(5.0)
        assert engine_state(fallback.sync_engine.dialect) == {"sqlite_vec": "python"}
    finally:
        await engine.dispose()
        await fallback.dispose()


async def test_every_method(async_engine: AsyncEngine, async_backend: str) -> None:
    embedder = AsyncKeywordEmbedder(VOCABULARY)
    rag = AsyncVectorRAG(async_engine, embedder=embedder)
    assert await rag.load_documents(CORPUS, show_progress=False, batch_size=4) == [d["document_id"] for d in CORPUS]
    new_id = await rag.load_document("elder fig", {"kind": "new", "rank": 7})
    await rag.load_document("cherry", document_id="bare", generate_embedding=False)
    assert embedder.calls == []  # aembed only: the sync embed is never called
    assert embedder.async_calls == [[d["content"] for d in CORPUS[:4]], [d["content"] for d in CORPUS[4:]], ["elder fig"]]

    doc = await rag.get_document(new_id)
    assert doc is not None and (doc["content"], doc["metadata"]) == ("elder fig", {"kind": "new", "rank": 7})
    assert await rag.get_document("missing") is None
    assert [d["document_id"] for d in await rag.get_documents(["d2", "missing", "d1"])] == ["d2", "d1"]

    for function in FUNCTIONS:
        results = await rag.query_with_embedding(Q, top_k=6, similarity_function=function, filters={"kind": {"$ne": "new"}})
        expected = ranking(function)
        assert [r["document_id"] for r in results] == [doc_id for doc_id, _ in expected]
        for result, (_, distance) in zip(results, expected):
            assert result["distance"] == pytest.approx(distance, rel=1e-5, abs=1e-6)
            assert result["similarity"] == pytest.approx(similarity(function, distance), rel=1e-5, abs=1e-6)
        cut = (similarity(function, expected[1][1]) + similarity(function, expected[2][1])) / 2
        thresholded = await rag.query_with_embedding(Q, top_k=6, similarity_threshold=cut, similarity_function=function)
        assert [r["document_id"] for r in thresholded] == [expected[0][0], expected[1][0]]

    embedder.async_calls.clear()
    assert [r["document_id"] for r in await rag.query("apple banana", top_k=2)] == ["d1", "d2"]
    batch = await rag.query_batch(["apple", "honey", "cherry durian"], top_k=1)
    assert embedder.async_calls[-1] == ["apple", "honey", "cherry durian"]
    assert [r[0]["document_id"] for r in batch] == ["d1", "d5", "d3"]
    assert [r["document_id"] for r in await rag.query_with_filters({"rank": {"$gt": 5}}, top_k=10)] == ["d5", "d6", new_id]
    assert [r["document_id"] for r in await rag.query_with_filters({"kind": "fruit"}, query_text="fig", top_k=1)] == ["d4"]

    similar = await rag.find_similar_documents("d1", top_k=3)
    assert "d1" not in [r["document_id"] for r in similar] and similar[0]["document_id"] == "d6"
    with pytest.raises(DocumentNotFoundError):
        await rag.find_similar_documents("missing")
    assert await rag.find_similar_documents("bare") == []

    assert await rag.update_document("bare", content="honey honey") is True
    assert embedder.async_calls[-1] == ["honey honey"]
    assert {r["document_id"] for r in await rag.query("honey", top_k=2)} == {"bare", "d5"}
    assert await rag.update_document("d1", metadata={"kind": "changed"}) is True
    assert (await rag.get_document("d1"))["metadata"] == {"kind": "changed"}  # type: ignore[index]
    assert await rag.update_document("missing", content="x") is False

    stats = await rag.get_statistics()
    assert stats["backend"] == ("postgresql" if async_backend == "psycopg_async" else "sqlite")
    assert (stats["document_count"], stats["embedding_count"], stats["models"]) == (8, 8, {"keywords-v1": 8})

    if async_backend == "psycopg_async":
        before = await rag.query_with_embedding(Q, top_k=2, filters={"kind": "fruit"})
        await rag.create_index("async_hnsw")
        assert [i["name"] for i in (await rag.get_statistics())["indexes"]] == ["async_hnsw"]
        assert await rag.query_with_embedding(Q, top_k=2, filters={"kind": "fruit"}) == before
        await rag.rebuild_index("async_hnsw", m=8)
        assert [i["options"]["m"] for i in (await rag.get_statistics())["indexes"]] == [8]
        assert await rag.query_with_embedding(Q, top_k=2, filters={"kind": "fruit"}) == before
        assert await rag.delete_index("async_hnsw") is True
    elif async_backend == "aiosqlite":
        # vec0 rows are keyed by the UUID strings of the default models
        before = await rag.query_with_embedding(Q, top_k=2, filters={"kind": "fruit"})
        await rag.create_index("async_vec0")
        assert [i["name"] for i in (await rag.get_statistics())["indexes"]] == ["async_vec0"]
        assert await rag.query_with_embedding(Q, top_k=2, filters={"kind": "fruit"}) == before
        await rag.rebuild_index("async_vec0")
        assert [i["name"] for i in (await rag.get_statistics())["indexes"]] == ["async_vec0"]
        assert await rag.query_with_embedding(Q, top_k=2, filters={"kind": "fruit"}) == before
        assert await rag.delete_index("async_vec0") is True
    assert await rag.delete_index("async_hnsw") is False

    assert await rag.delete_document("d1") is True
    assert await rag.delete_document("d1") is False
    assert await rag.delete_documents(ids=["d2", "d3"], filters={"kind": "fruit"}) == 1
    assert await rag.delete_documents(filters={}) == 6
    stats = await rag.get_statistics()
    assert (stats["document_count"], stats["embedding_count"]) == (0, 0)


async def test_async_and_sync_facades_agree(async_engine: AsyncEngine, database: URL, async_backend: str) -> None:
    rag = AsyncVectorRAG(async_engine, embedder=KeywordEmbedder(VOCABULARY))  # no aembed: embed runs in a thread
    await rag.load_documents(CORPUS, show_progress=False)
    engine = sv.create_engine(sync_url(database), sqlite_vec=async_backend != "aiosqlite-python")
    try:
        sync = VectorRAG(engine, embedder=KeywordEmbedder(VOCABULARY))
        for function in FUNCTIONS:
            got = await rag.query_with_embedding(Q, top_k=4, similarity_function=function, similarity_threshold=0.05)
            assert got == await asyncio.to_thread(sync.query_with_embedding, Q, 4, 0.05, function)
        assert await rag.find_similar_documents("d3") == sync.find_similar_documents("d3")
        assert await rag.get_statistics() == sync.get_statistics()
    finally:
        engine.dispose()


class ThreadRecordingEmbedder(KeywordEmbedder):
    """A plain embedder (no ``aembed``) that records the threads it embeds in."""

    def __init__(self, vocabulary: Sequence[str]) -> None:
        super().__init__(vocabulary)
        self.threads: List[int] = []

    def embed(self, texts: Any) -> np.ndarray:
        self.threads.append(threading.get_ident())
        return super().embed(texts)


async def test_sync_embedder_runs_in_a_worker_thread(async_engine: AsyncEngine) -> None:
    embedder = ThreadRecordingEmbedder(VOCABULARY)
    rag = AsyncVectorRAG(async_engine, embedder=embedder)
    await rag.load_documents(CORPUS[:3], show_progress=False)
    await rag.query("apple")
    assert len(embedder.threads) == 2 and threading.get_ident() not in embedder.threads


async def assert_failed_batches_leave_nothing(rag: AsyncVectorRAG) -> None:
    """A load that fails in its third batch, on bad input or a duplicate key, leaves the corpus as it was."""
    await rag.load_documents(CORPUS, show_progress=False)
    good = [{"content": f"apple {i}"} for i in range(5)]
    with pytest.raises(DimensionMismatchError, match=r"documents\[4\] embedding expects 8 dimensions, got 1"):
        await rag.load_documents([*good[:4], {"content": "bad", "embedding": [1.0]}], batch_size=2, show_progress=False)
    with pytest.raises(IntegrityError):
        await rag.load_documents([*good, {"content": "dup", "document_id": "d1"}], batch_size=2, show_progress=False)
    stats = await rag.get_statistics()
    assert (stats["document_count"], stats["embedding_count"]) == (6, 6)


async def test_failed_batch_leaves_nothing_behind(async_engine: AsyncEngine) -> None:
    await assert_failed_batches_leave_nothing(AsyncVectorRAG(async_engine, embedder=AsyncKeywordEmbedder(VOCABULARY)))


async def test_concurrent_queries(async_engine: AsyncEngine) -> None:
    rag = AsyncVectorRAG(async_engine, embedder=AsyncKeywordEmbedder(VOCABULARY))
    await rag.load_documents(CORPUS, show_progress=False)
    texts = ["apple", "banana", "cherry", "fig", "honey", "grape"] * 3
    results = await asyncio.gather(*(rag.query(t, top_k=2) for t in texts))
    assert results == [await rag.query(t, top_k=2) for t in texts]


async def test_remapped_integer_id_models(async_engine: AsyncEngine) -> None:
    Document, Embedding = make_models(
        8,
        document_table="notes",
        embedding_table="note_vectors",
        document_columns={"content": "body", "metadata_": "attrs"},
        embedding_columns={"embedding": "vec"},
        id_type=int,
    )
    async with async_engine.begin() as connection:
        await connection.run_sync(Document.metadata.create_all)
    rag = AsyncVectorRAG(
        async_sessionmaker(async_engine), document_model=Document, embedding_model=Embedding, embedder=AsyncKeywordEmbedder(VOCABULARY)
    )
    ids = await rag.load_documents([{"content": d["content"], "metadata": d["metadata"]} for d in CORPUS], show_progress=False)
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 6
    top = await rag.query_with_embedding(Q, top_k=2)
    assert [r["document_id"] for r in top] == [ids[0], ids[5]]
    assert await rag.delete_documents(filters={"kind": "fruit"}) == 3
    assert (await rag.get_statistics())["tables"] == {"documents": "notes", "embeddings": "note_vectors"}


async def test_default_models_keyed_by_uuid_values(async_engine: AsyncEngine, threaded_url: str) -> None:
    for rag in (
        AsyncVectorRAG(async_engine, embedder=AsyncKeywordEmbedder(VOCABULARY), id_type=uuid.UUID),
        AsyncVectorRAG(threaded_url, embedder=AsyncKeywordEmbedder(VOCABULARY), id_type=uuid.UUID),  # DuckDB, chDB
    ):
        async with rag:
            ids = await rag.load_documents([{"content": d["content"]} for d in CORPUS], show_progress=False)
            assert all(isinstance(i, uuid.UUID) for i in ids)
            assert [r["document_id"] for r in await rag.query_with_embedding(Q, top_k=2)] == [ids[0], ids[5]]


async def test_construction(async_engine: AsyncEngine, database: URL, async_backend: str) -> None:
    embedder = AsyncKeywordEmbedder(VOCABULARY)
    async with AsyncVectorRAG(database.render_as_string(hide_password=False), embedder=embedder) as from_url:
        await from_url.load_documents(CORPUS, show_progress=False)
    from_sessions = AsyncVectorRAG(async_sessionmaker(async_engine), embedder=embedder)
    assert (await from_sessions.get_statistics())["document_count"] == 6
    with pytest.raises(ModelConfigurationError, match=r"synchronous Engine \(sqlite\) of a backend with an asyncio "
                       r"driver \(aiosqlite\): pass an AsyncEngine of it, or use VectorRAG"):
        AsyncVectorRAG(sv.create_engine("sqlite://"), embedder=embedder)
    with pytest.raises(ModelConfigurationError, match="use AsyncVectorRAG with an AsyncEngine"):
        VectorRAG(async_engine, embedder=embedder)  # type: ignore[arg-type]


async def test_async_sessionmaker_of_an_engine_made_elsewhere(database: URL) -> None:
    # Its engine is prepared as an AsyncEngine bind is (on PostgreSQL the vector type was missing).
    engine = create_async_engine(database)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FallbackWarning)  # aiosqlite's sqlite3 may not load sqlite-vec
            rag = AsyncVectorRAG(async_sessionmaker(engine), embedder=AsyncKeywordEmbedder(VOCABULARY))
            await rag.load_documents(CORPUS, show_progress=False)
            assert [r["document_id"] for r in await rag.query_with_embedding(Q, top_k=2)] == ["d1", "d6"]
    finally:
        await engine.dispose()


async def test_your_models_tables_missing_at_first_use(async_engine: AsyncEngine) -> None:
    Document, Embedding = make_models(8, document_table="late_docs", embedding_table="late_embs")
    rag = AsyncVectorRAG(
        async_engine, document_model=Document, embedding_model=Embedding, embedder=AsyncKeywordEmbedder(VOCABULARY)
    )
    with pytest.raises(SchemaMismatchError, match="tables 'late_docs' \\(Document\\) and 'late_embs' \\(Embedding\\) do not"):
        await rag.load_documents(CORPUS, show_progress=False)
    async with async_engine.begin() as connection:
        await connection.run_sync(Document.metadata.create_all)  # type: ignore[attr-defined]
    await rag.load_documents(CORPUS, show_progress=False)
    assert [r["document_id"] for r in await rag.query_with_embedding(Q, top_k=2)] == ["d1", "d6"]


# -- backends without an asyncio driver: the synchronous driver in one worker thread ---------------------

THREADED = ("duckdb", "clickhouse")


@pytest.fixture(params=THREADED)
def threaded_url(request: pytest.FixtureRequest, fresh_database_url: Any) -> str:
    url: str = fresh_database_url(request.param)
    return url


def statement_threads(engine: Any) -> List[int]:
    """The threads the engine's statements run in, recorded from now on."""
    threads: List[int] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(*args: Any) -> None:
        threads.append(threading.get_ident())

    return threads


async def test_threaded_facade_answers_as_the_sync_one(threaded_url: str) -> None:
    embedder = AsyncKeywordEmbedder(VOCABULARY)
    async with AsyncVectorRAG(threaded_url, embedder=embedder) as rag:
        assert isinstance(rag.engine, sqlalchemy.engine.Engine)
        threads = statement_threads(rag.engine)
        assert await rag.load_documents(CORPUS, show_progress=False, batch_size=4) == [d["document_id"] for d in CORPUS]
        assert embedder.calls == []  # the coroutine was awaited; the sync embed never ran
        assert embedder.async_calls == [[d["content"] for d in CORPUS[:4]], [d["content"] for d in CORPUS[4:]]]
        for function in FUNCTIONS:
            results = await rag.query_with_embedding(Q, top_k=6, similarity_function=function)
            expected = ranking(function)
            assert [r["document_id"] for r in results] == [doc_id for doc_id, _ in expected]
            for result, (_, distance) in zip(results, expected):
                assert result["distance"] == pytest.approx(distance, rel=1e-5, abs=1e-6)
        assert [r["document_id"] for r in await rag.query("apple banana", top_k=2)] == ["d1", "d2"]
        assert embedder.async_calls[-1] == ["apple banana"]
        assert [r["document_id"] for r in await rag.query_with_filters({"kind": "fruit"}, query_text="fig", top_k=1)] == [
            "d4"
        ]
        assert (await rag.get_document("d5"))["content"] == "honey"  # type: ignore[index]
        sync = VectorRAG(threaded_url, embedder=KeywordEmbedder(VOCABULARY))
        try:
            assert await rag.find_similar_documents("d1", top_k=3) == sync.find_similar_documents("d1", top_k=3)
            assert await rag.query_batch(["apple", "honey"], top_k=2) == sync.query_batch(["apple", "honey"], top_k=2)
            assert await rag.get_statistics() == sync.get_statistics()
            assert await rag.mmr_query("apple honey", top_k=3) == sync.mmr_query("apple honey", top_k=3)
            if threaded_url.startswith("duckdb"):  # ClickHouse has no full-text index here
                await rag.create_fulltext_index()
                hybrid = await rag.hybrid_query("apple honey", top_k=3)
                # The three documents holding either word, and nothing else.
                assert {r["document_id"] for r in hybrid} == {"d1", "d5", "d6"}
                assert hybrid == sync.hybrid_query("apple honey", top_k=3)
        finally:
            sync.close()
        assert await rag.delete_documents(filters={"kind": "fruit"}) == 3
        assert (await rag.get_statistics())["document_count"] == 3
    # Every statement ran in one thread, not the event loop's.
    assert len(set(threads)) == 1 and threading.get_ident() not in threads


async def test_threaded_facade_keeps_the_event_loop_free(threaded_url: str) -> None:
    async with AsyncVectorRAG(threaded_url, embedder=AsyncKeywordEmbedder(VOCABULARY)) as rag:
        await rag.load_documents(CORPUS, show_progress=False)
        texts = ["apple", "banana", "cherry", "fig", "honey", "grape"] * 3
        ticks = 0
        running = True

        async def tick() -> None:
            nonlocal ticks
            while running:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.ensure_future(tick())
        try:
            results = await asyncio.gather(*(rag.query(t, top_k=2) for t in texts))
        finally:
            running = False
            await ticker
        # The loop ran the ticker while the queries ran in the worker; they ran one at a time, in order.
        assert ticks > 10 * len(texts)
        assert results == [await rag.query(t, top_k=2) for t in texts]


async def test_threaded_call_cancelled_midway_stops_at_its_next_embedding(threaded_url: str) -> None:
    started = asyncio.Event()

    class SignallingEmbedder(AsyncKeywordEmbedder):
        async def aembed(self, texts: Any) -> np.ndarray:
            started.set()  # awaited on the loop, from the worker's call
            return await super().aembed(texts)

    async with AsyncVectorRAG(threaded_url, embedder=SignallingEmbedder(VOCABULARY)) as rag:
        documents = [{"content": f"{VOCABULARY[i % 8]} {VOCABULARY[i % 5]}"} for i in range(600)]
        load = asyncio.ensure_future(rag.load_documents(documents, show_progress=False, batch_size=50))
        await started.wait()
        load.cancel()
        with pytest.raises(asyncio.CancelledError):
            await load
        # The next call waits for the cancelled one, which stopped at its next embedding, rolled back (ClickHouse,
        # without transactions, keeps the batches written before, whole). It used to write all 600 documents.
        stats = await rag.get_statistics()
        found = (stats["document_count"], stats["embedding_count"])
        if threaded_url.startswith("clickhousedb"):
            assert found[0] == found[1] and found[0] % 50 == 0 and found[0] < 600, found
        else:
            assert found == (0, 0)


@pytest.mark.parametrize("delay", [0.0, 0.3])  # the loop closes before, or after, the worker hands it the embedder
def test_worker_stops_waiting_for_an_embedder_whose_loop_closed(tmp_path: Path, delay: float) -> None:
    # The loop a call came from closes before it ran the embedder: the worker must not wait for ever.
    rag = AsyncVectorRAG(f"duckdb:///{tmp_path / 'rag.duckdb'}", embedder=AsyncKeywordEmbedder(VOCABULARY))
    loop = asyncio.new_event_loop()
    errors: List[str] = []

    def embed() -> None:
        rag._calls.current = _WorkerCall(loop, threading.Event())  # as the worker records the call it runs
        try:
            rag._embedding_from_worker(["apple"])
        except RuntimeError as error:
            errors.append(str(error))

    worker = threading.Thread(target=embed)
    worker.start()
    time.sleep(delay)
    loop.close()
    worker.join(timeout=30)
    assert not worker.is_alive() and len(errors) == 1 and "closed" in errors[0]
    rag.sync_rag.close()


async def test_threaded_facade_over_an_engine(tmp_path: Path) -> None:
    embedder = ThreadRecordingEmbedder(VOCABULARY)
    engine = sv.create_engine(f"duckdb:///{tmp_path / 'given.duckdb'}")
    try:
        rag = AsyncVectorRAG(engine, embedder=embedder)
        threads = statement_threads(engine)
        await rag.load_documents(CORPUS, show_progress=False)
        # A plain embedder runs in the worker thread, beside the statements, off the event loop.
        assert len(embedder.threads) == 1 and set(embedder.threads) == set(threads) != {threading.get_ident()}
        await rag.close()
        await rag.close()  # twice is harmless
        # The engine was given, so it is not the facade's to dispose; the facade works on after close().
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM documents")) == 6
        assert [r["document_id"] for r in await rag.query("honey", top_k=1)] == ["d5"]
        await rag.close()
    finally:
        engine.dispose()


async def test_threaded_failed_batch_leaves_nothing_behind(tmp_path: Path) -> None:
    # DuckDB has transactions (ClickHouse's guarantees are in tests/test_clickhouse.py).
    async with AsyncVectorRAG(f"duckdb:///{tmp_path / 'rag.duckdb'}", embedder=AsyncKeywordEmbedder(VOCABULARY)) as rag:
        await assert_failed_batches_leave_nothing(rag)


def worker_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sqlalchemy_vector")]


def wait_for_no_worker_threads(seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while worker_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    return not worker_threads()


class GatedEmbedder(KeywordEmbedder):
    """Embeds (in the worker thread) once the test opens the gate; says when it started."""

    def __init__(self, vocabulary: Sequence[str]) -> None:
        super().__init__(vocabulary)
        self.started = threading.Event()
        self.gate = threading.Event()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.started.set()
        assert self.gate.wait(30)
        return super().embed(texts)


class AsyncGatedEmbedder(AsyncKeywordEmbedder):
    """Embeds on the event loop once the test opens the gate: the worker's call waits on the loop meanwhile."""

    def __init__(self, vocabulary: Sequence[str]) -> None:
        super().__init__(vocabulary)
        self.started = threading.Event()
        self.gate = threading.Event()

    async def aembed(self, texts: Any) -> np.ndarray:
        self.started.set()
        while not self.gate.is_set():
            await asyncio.sleep(0.01)
        return await super().aembed(texts)


async def started(embedder: Any) -> None:
    while not embedder.started.is_set():
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("gated", [GatedEmbedder, AsyncGatedEmbedder])
async def test_cancelled_close_neither_blocks_the_loop_nor_drops_the_close(tmp_path: Path, gated: type) -> None:
    embedder = gated(VOCABULARY)
    rag = AsyncVectorRAG(f"duckdb:///{tmp_path / 'rag.duckdb'}", embedder=embedder)
    load = asyncio.ensure_future(rag.load_document("apple", document_id="a"))
    await started(embedder)
    # close() waits behind the running load; giving up on it returns at once, with the load still held
    # (the coroutine embedder needs this very loop to finish: blocking it would never end).
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(rag.close(), 0.1)
    assert not load.done()
    embedder.gate.set()
    assert await load == "a"
    # The close queued behind the load still ran: the worker thread ended, and the file is free.
    assert await asyncio.get_running_loop().run_in_executor(None, wait_for_no_worker_threads)
    with sv.create_engine(f"duckdb:///{tmp_path / 'rag.duckdb'}").connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM documents")) == 1


async def test_a_call_made_during_close_runs_after_it(tmp_path: Path) -> None:
    embedder = GatedEmbedder(VOCABULARY)
    rag = AsyncVectorRAG(f"duckdb:///{tmp_path / 'rag.duckdb'}", embedder=embedder)
    load = asyncio.ensure_future(rag.load_document("apple", document_id="a"))
    await started(embedder)
    closing = asyncio.ensure_future(rag.close())
    await asyncio.sleep(0.05)
    read = asyncio.ensure_future(rag.get_document("a"))  # made after the load and the close
    await asyncio.sleep(0.05)
    assert not read.done() and len(worker_threads()) == 1  # queued behind the close, not on a second thread
    embedder.gate.set()
    assert (await read)["content"] == "apple"  # type: ignore[index]
    await load
    await closing
    await rag.close()
    assert await asyncio.get_running_loop().run_in_executor(None, wait_for_no_worker_threads)


class FutureEmbedder(KeywordEmbedder):
    """An ``aembed`` that is a plain method returning a future, not a coroutine function."""

    def aembed(self, texts: Any) -> "asyncio.Future[np.ndarray]":
        return asyncio.get_running_loop().run_in_executor(None, self.embed, list(texts))


async def test_threaded_facade_awaits_any_awaitable_aembed(threaded_url: str) -> None:
    async with AsyncVectorRAG(threaded_url, embedder=FutureEmbedder(VOCABULARY)) as rag:
        await rag.load_documents(CORPUS, show_progress=False)
        assert [r["document_id"] for r in await rag.query("apple banana", top_k=2)] == ["d1", "d2"]


def test_worker_gives_up_on_an_embedder_whose_loop_stopped_after_its_caller(tmp_path: Path) -> None:
    class SlowEmbedder(AsyncKeywordEmbedder):
        async def aembed(self, texts: Any) -> np.ndarray:
            await asyncio.sleep(0.5)
            return await super().aembed(texts)

    rag = AsyncVectorRAG(f"duckdb:///{tmp_path / 'rag.duckdb'}", embedder=SlowEmbedder(VOCABULARY))
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(asyncio.TimeoutError):  # the caller gives up; then the loop stops, not closed
            loop.run_until_complete(asyncio.wait_for(rag.query("apple"), timeout=0.2))

        async def next_job() -> Any:
            result = await asyncio.wait_for(rag.get_statistics(), timeout=20)
            await rag.close()
            return result

        # The abandoned call gave up its embedder, so the next call (another loop) runs.
        assert asyncio.run(next_job())["document_count"] == 0
    finally:
        loop.close()
    assert wait_for_no_worker_threads()


async def test_sync_rag_of_a_threaded_facade_refuses_a_coroutine_embedder(tmp_path: Path) -> None:
    async with AsyncVectorRAG(f"duckdb:///{tmp_path / 'rag.duckdb'}", embedder=AsyncKeywordEmbedder(VOCABULARY)) as rag:
        await rag.load_documents(CORPUS, show_progress=False)
        with pytest.raises(InvalidArgumentError, match="await the AsyncVectorRAG method, or make a VectorRAG"):
            rag.sync_rag.query("apple")
        assert [r["document_id"] for r in await rag.query("apple", top_k=1)] == ["d1"]


async def test_an_embedder_calling_its_own_threaded_facade_is_refused(tmp_path: Path) -> None:
    class CachingEmbedder(AsyncKeywordEmbedder):
        rag: Any = None

        async def aembed(self, texts: Any) -> np.ndarray:
            await self.rag.get_documents(["cached"])  # would wait for the call waiting for this embedder
            return await super().aembed(texts)

    embedder = CachingEmbedder(VOCABULARY)
    async with AsyncVectorRAG(f"duckdb:///{tmp_path / 'rag.duckdb'}", embedder=embedder) as rag:
        embedder.rag = rag
        with pytest.raises(InvalidArgumentError, match="the embedder called the AsyncVectorRAG it embeds for"):
            await asyncio.wait_for(rag.query("apple"), timeout=20)
        assert (await rag.get_statistics())["document_count"] == 0


async def test_a_dropped_threaded_facade_ends_its_worker(tmp_path: Path) -> None:
    async def use() -> None:
        rag = AsyncVectorRAG(f"duckdb:///{tmp_path / 'rag.duckdb'}", embedder=KeywordEmbedder(VOCABULARY))
        await rag.load_documents(CORPUS, show_progress=False)
        assert len(worker_threads()) == 1
        rag.sync_rag.close()  # the file; the thread is what this test is about

    gc.disable()  # reference counting alone must free the facade, and with it the thread
    try:
        await use()
        assert await asyncio.get_running_loop().run_in_executor(None, wait_for_no_worker_threads)
    finally:
        gc.enable()


class _Slow(AsyncKeywordEmbedder):
    """An aembed that yields to the event loop, as a remote model's does, so calls made at once interleave."""

    async def aembed(self, texts: Any) -> np.ndarray:
        await asyncio.sleep(0.001)
        return await super().aembed(texts)


@pytest.mark.parametrize("sqlite_vec", [True, False])
async def test_calls_at_once_on_an_in_memory_database_are_written_whole(sqlite_vec: bool) -> None:
    # The in-memory database lives in the one connection its pool gives every call: calls made at once
    # interleaved their transactions on it. Of 15 loads and 15 queries, 16 failed ("cannot start a transaction
    # within a transaction", "Cursor needed to be reset"), the loads that succeeded returned 44 ids of which 12 were
    # stored, 8 of them without their embeddings; with 3 or more loads the interpreter could crash at exit.
    engine = sv.create_async_engine("sqlite+aiosqlite://", sqlite_vec=sqlite_vec)
    rag = AsyncVectorRAG(engine, embedder=_Slow(VOCABULARY))
    try:
        loads = [
            rag.load_documents([{"content": f"apple {i} {j}", "document_id": f"d{i}-{j}"} for j in range(4)],
                               batch_size=2, show_progress=False)
            for i in range(15)
        ]
        queries = [rag.query("apple", top_k=3) for _ in range(15)]
        results = await asyncio.gather(*loads, *queries)
        ids = [i for found in results[:15] for i in found]
        assert len(ids) == 60 and len(set(ids)) == 60
        stats = await rag.get_statistics()
        assert (stats["document_count"], stats["embedding_count"]) == (60, 60)
        found_all = [await rag.get_document(i) for i in ids]
        assert all(document is not None for document in found_all)
    finally:
        await rag.close()
        await engine.dispose()
