"""The async facade when things go wrong: cancellation at every statement, failing embedders, many tasks at
once, close() with calls in flight, and one facade used from several event loops.

Each runs on SQLite (aiosqlite) and PostgreSQL (asyncpg, psycopg async), where the calls run in a greenlet over
the asyncio driver, and on DuckDB and ClickHouse (chDB), where they run in the facade's worker thread.  Every
wait is bounded, so a hang fails the test instead of blocking the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from rag_fixtures import CORPUS, VOCABULARY, AsyncKeywordEmbedder, KeywordEmbedder
from sqlalchemy_vector.exc import InvalidArgumentError
from sqlalchemy_vector.rag import AsyncVectorRAG

GREENLET = ("aiosqlite", "asyncpg", "psycopg_async")
THREADED = ("duckdb", "clickhouse")
ALL = GREENLET + THREADED
BASE = {"aiosqlite": "sqlite", "asyncpg": "postgresql", "psycopg_async": "postgresql", "duckdb": "duckdb",
        "clickhouse": "clickhouse"}
NEW = [{"document_id": f"n{i}", "content": f"{VOCABULARY[i % 8]} durian"} for i in range(6)]
WAIT_S = 30  # no call here takes a second; a wait this long is a hang


@pytest.fixture
def url_of(fresh_database_url: Callable[[str], str], engine_for: Callable[[str], Engine]) -> Callable[[str], str]:
    """A new, empty database of the backend, as the URL the facade takes (with the async driver where there is one)."""

    def make(backend: str) -> str:
        engine_for(BASE[backend])  # the backend counts as reached
        url = make_url(fresh_database_url(BASE[backend]))
        if backend == "aiosqlite":
            url = url.set(drivername="sqlite+aiosqlite")
        elif backend in ("asyncpg", "psycopg_async"):
            url = url.set(drivername=f"postgresql+{backend}")
        return url.render_as_string(hide_password=False)

    return make


async def bounded(awaitable: Awaitable[Any], seconds: float = WAIT_S) -> Any:
    return await asyncio.wait_for(awaitable, seconds)


def sync_engine(rag: AsyncVectorRAG) -> Engine:
    return rag.engine.sync_engine if isinstance(rag.engine, AsyncEngine) else rag.engine


async def settled(rag: AsyncVectorRAG, seconds: float = 5.0) -> None:
    """Every connection is back in the pool: a call given up on may still be finishing, but only briefly."""
    pool = sync_engine(rag).pool
    deadline = time.monotonic() + seconds
    while pool.checkedout():  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, f"{pool.checkedout()} connection(s) never went back to the pool"  # type: ignore[attr-defined]
        await asyncio.sleep(0.01)


async def counts(rag: AsyncVectorRAG) -> Tuple[int, int]:
    stats = await bounded(rag.get_statistics())
    return stats["document_count"], stats["embedding_count"]


class CancelAt:
    """Cancels the caller at the k-th statement or connection return of the facade's engine (k=0: never; counts them).

    Listens for the whole test: removing a listener while the worker thread runs a statement is not safe.
    """

    def __init__(self, rag: AsyncVectorRAG) -> None:
        self.k, self.seen = 0, 0
        self.caller: Optional["asyncio.Future[Any]"] = None
        self.loop, self.thread = asyncio.get_running_loop(), threading.get_ident()
        event.listen(sync_engine(rag), "after_cursor_execute", self.hit)
        event.listen(sync_engine(rag), "reset", self.hit)

    def arm(self, k: int, caller: "asyncio.Future[Any]") -> "asyncio.Future[Any]":
        self.k, self.seen, self.caller = k, 0, caller
        return caller

    def hit(self, *args: Any) -> None:
        self.seen += 1
        if self.seen == self.k and self.caller is not None:
            if threading.get_ident() == self.thread:  # in the call's greenlet, on the loop
                self.caller.cancel()
            else:  # in the worker thread
                self.loop.call_soon_threadsafe(self.caller.cancel)


class Op:
    """A write, how to tell whether it took effect (raising if only part of it did), and how to undo it."""

    def __init__(self, rag: AsyncVectorRAG, backend: str, name: str) -> None:
        self.rag, self.backend, self.name = rag, backend, name

    def run(self) -> Awaitable[Any]:
        rag = self.rag
        if self.name == "load":
            return rag.load_documents(NEW, show_progress=False, batch_size=2)
        if self.name == "update":
            return rag.update_document("d1", content="fig grape honey", metadata={"v": 2})
        if self.name == "delete":
            return rag.delete_documents(ids=["d2", "d3"])
        options: Dict[str, Any] = {"duckdb_experimental_persistence": True} if self.backend == "duckdb" else {}
        return rag.create_index("ix_cancel", **options)

    async def applied(self) -> bool:
        rag = self.rag
        if self.name in ("load", "delete"):
            found = await counts(rag)
            before, after = (6, 12) if self.name == "load" else (6, 4)
            allowed = [(before, before), (after, after)]
            if self.name == "load" and self.backend == "clickhouse":
                allowed += [(8, 8), (10, 10)]  # no transactions: the batches written before the cancel stay, whole
            assert found in allowed, f"{self.name} left {found} documents/embeddings"
            return found[0] != before
        if self.name == "update":
            doc = await bounded(rag.get_document("d1"))
            assert doc is not None
            state = (doc["content"], doc["metadata"])
            assert state in ((CORPUS[0]["content"], CORPUS[0]["metadata"]), ("fig grape honey", {"v": 2})), state
            top = await bounded(rag.query("fig grape honey", top_k=1))
            assert (top[0]["document_id"] == "d1") == (state[0] == "fig grape honey")  # the vector went with it
            return bool(state[0] == "fig grape honey")
        names = [index["name"] for index in (await bounded(rag.get_statistics()))["indexes"]]
        return "ix_cancel" in names

    async def undo(self) -> None:
        rag = self.rag
        if self.name == "load":
            await bounded(rag.delete_documents(ids=[d["document_id"] for d in NEW]))
        elif self.name == "update":
            await bounded(rag.update_document("d1", content=CORPUS[0]["content"], metadata=CORPUS[0]["metadata"]))
        elif self.name == "delete":
            await bounded(rag.load_documents(CORPUS[1:3], show_progress=False))
        else:
            await bounded(rag.delete_index("ix_cancel"))


# Every write over an asyncio driver; in the worker thread, where a call that has started stops only at its next
# embedding, the load of several batches.
WRITES = [(backend, op) for backend in GREENLET for op in ("load", "update", "delete", "create_index")]


@pytest.mark.parametrize(("backend", "op"), WRITES + [(backend, "load") for backend in THREADED])
async def test_a_write_cancelled_at_any_statement_is_whole_or_absent(backend: str, op: str, url_of: Any) -> None:
    # The caller is cancelled at each statement (and each return of a connection to the pool) in turn.  It
    # must see CancelledError, never a driver's error from a statement interrupted halfway (psycopg's COPY:
    # "another command is already in progress"); the write is all there or not at all; the connection goes
    # back to the pool (a cancel during the pool's reset once kept it checked out for good); and the facade
    # goes on.
    async with AsyncVectorRAG(url_of(backend), embedder=AsyncKeywordEmbedder(VOCABULARY)) as rag:
        await bounded(rag.load_documents(CORPUS, show_progress=False))
        write = Op(rag, backend, op)
        hook = CancelAt(rag)
        await bounded(hook.arm(0, asyncio.ensure_future(write.run())))
        points = hook.seen
        assert await write.applied()
        await write.undo()
        for k in range(1, points + 1):
            caller = hook.arm(k, asyncio.ensure_future(write.run()))
            with contextlib.suppress(asyncio.CancelledError):
                await bounded(caller)  # any other error fails the test
            # Cancelled if the k-th point came (some statements run once per connection only).
            assert caller.cancelled() == (hook.seen >= k)
            await settled(rag)
            applied = await write.applied()  # in the worker thread: after the cancelled call
            if applied:
                await write.undo()
        await settled(rag)


class SlowSecondBatch(KeywordEmbedder):
    """A plain embedder whose second batch takes a while; says when it started it."""

    def __init__(self) -> None:
        super().__init__(VOCABULARY)
        self.second = threading.Event()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(self.calls) == 1:
            self.second.set()
            time.sleep(0.15)
        return super().embed(texts)


class AsyncSlowSecondBatch(AsyncKeywordEmbedder):
    """The same with an ``aembed`` that awaits."""

    def __init__(self) -> None:
        super().__init__(VOCABULARY)
        self.second = threading.Event()

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        if len(self.async_calls) == 1:
            self.second.set()
            await asyncio.sleep(0.15)
        return await super().aembed(texts)


async def wait_for_event(flag: threading.Event) -> None:
    deadline = time.monotonic() + WAIT_S
    while not flag.is_set():
        assert time.monotonic() < deadline, "never happened"
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("embedder_kind", [SlowSecondBatch, AsyncSlowSecondBatch])
@pytest.mark.parametrize("backend", ALL)
async def test_a_load_timed_out_while_embedding(backend: str, embedder_kind: type, url_of: Any) -> None:
    embedder = embedder_kind()
    async with AsyncVectorRAG(url_of(backend), embedder=embedder) as rag:
        load = asyncio.ensure_future(rag.load_documents(NEW, show_progress=False, batch_size=2))
        await wait_for_event(embedder.second)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(load, 0.05)  # gives up while the second batch is being embedded
        await settled(rag)
        # The call stops at its next embedding (an async one under way is cancelled) and rolls back, over an
        # asyncio driver and in the worker thread alike; ClickHouse keeps the batches written before.
        expected = (0, 0)
        if backend == "clickhouse":
            expected = (2, 2) if embedder_kind is AsyncSlowSecondBatch else (4, 4)  # a plain embed ends its batch
        deadline = time.monotonic() + 5
        while await counts(rag) != expected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await counts(rag) == expected
        assert await bounded(rag.load_documents(CORPUS, show_progress=False)) == [d["document_id"] for d in CORPUS]
        assert [r["document_id"] for r in await bounded(rag.query("apple banana", top_k=2))] == ["d1", "d2"]


class HungSecondBatch(AsyncKeywordEmbedder):
    """An ``aembed`` whose second call never answers (a request sent without a timeout)."""

    def __init__(self) -> None:
        super().__init__(VOCABULARY)
        self.second = threading.Event()
        self.cancelled = threading.Event()

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        if len(self.async_calls) == 1:
            self.async_calls.append(list(texts))
            self.second.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        return await super().aembed(texts)


@pytest.mark.parametrize("backend", ALL)
async def test_a_load_given_up_on_while_its_embedder_hangs(backend: str, url_of: Any) -> None:
    # In the worker thread the call waited for the embedder for ever, holding the thread: every later call of the
    # facade, and close(), waited behind it.
    embedder = HungSecondBatch()
    rag = AsyncVectorRAG(url_of(backend), embedder=embedder)  # not `async with`: its close() would wait for ever
    load = asyncio.ensure_future(rag.load_documents(NEW, show_progress=False, batch_size=2))
    await wait_for_event(embedder.second)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(load, 0.05)
    assert await bounded(counts(rag), 10) == ((2, 2) if backend == "clickhouse" else (0, 0))
    await wait_for_event(embedder.cancelled)  # the embedding was cancelled, not left pending
    await bounded(rag.load_documents(CORPUS, show_progress=False), 10)
    assert [r["document_id"] for r in await bounded(rag.query("apple banana", top_k=2), 10)] == ["d1", "d2"]
    await bounded(rag.close(), 10)


class FailingThirdBatch(AsyncKeywordEmbedder):
    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        if len(self.async_calls) == 2:
            self.async_calls.append(list(texts))
            await asyncio.sleep(0.01)
            raise ConnectionError("embedding service unreachable")
        return await super().aembed(texts)


class PlainFailingThirdBatch(KeywordEmbedder):
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(self.calls) == 2:
            self.calls.append(list(texts))
            raise ConnectionError("embedding service unreachable")
        return super().embed(texts)


@pytest.mark.parametrize("embedder_kind", [PlainFailingThirdBatch, FailingThirdBatch])
@pytest.mark.parametrize("backend", ALL)
async def test_an_embedder_failing_midway_leaves_nothing(backend: str, embedder_kind: type, url_of: Any) -> None:
    async with AsyncVectorRAG(url_of(backend), embedder=embedder_kind(VOCABULARY)) as rag:
        with pytest.raises(ConnectionError, match="embedding service unreachable"):
            await bounded(rag.load_documents(NEW, show_progress=False, batch_size=2))
        await settled(rag)
        # ClickHouse has no transactions: the batches written before stay, as docs/backends.md says.
        assert await counts(rag) == ((4, 4) if backend == "clickhouse" else (0, 0))
        assert len(await bounded(rag.load_documents(CORPUS, show_progress=False))) == 6  # the embedder is fine again


@pytest.mark.parametrize("backend", ALL)
async def test_twenty_tasks_at_once(backend: str, url_of: Any) -> None:
    async with AsyncVectorRAG(url_of(backend), embedder=AsyncKeywordEmbedder(VOCABULARY)) as rag:
        await bounded(rag.load_documents(CORPUS, show_progress=False))
        await bounded(rag.load_documents([{"document_id": f"x{i}", "content": "elder"} for i in range(5)], show_progress=False))

        async def task(i: int) -> Any:
            kind = i % 4
            if kind == 0:
                return await rag.load_documents(
                    [{"document_id": f"l{i}_{j}", "content": "durian"} for j in range(3)], show_progress=False, batch_size=2
                )
            if kind == 1:
                return [r["document_id"] for r in await rag.query("apple banana", top_k=2)]
            if kind == 2:
                return await rag.delete_documents(ids=[f"x{i // 4}"])
            return [r["document_id"] for r in await rag.query_with_embedding([2, 1, 0, 0, 0, 0, 0, 0], top_k=2)]

        results = await bounded(asyncio.gather(*(task(i) for i in range(20))), 60)
        expected: Dict[int, Any] = {
            0: lambda i: [f"l{i}_{j}" for j in range(3)], 1: lambda i: ["d1", "d2"], 2: lambda i: 1, 3: lambda i: ["d1", "d6"]
        }
        assert results == [expected[i % 4](i) for i in range(20)]
        assert await counts(rag) == (6 + 15, 6 + 15)
        await settled(rag)


class GatedSecondBatch(AsyncKeywordEmbedder):
    """Embeds the second batch once the test opens the gate; says when it got there."""

    def __init__(self) -> None:
        super().__init__(VOCABULARY)
        self.second = threading.Event()
        self.gate = threading.Event()

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        if len(self.async_calls) == 1:
            self.second.set()
            while not self.gate.is_set():
                await asyncio.sleep(0.005)
        return await super().aembed(texts)


def connection_log(rag: AsyncVectorRAG) -> List[str]:
    """'connect' and 'close' of every DBAPI connection of the facade's engine, from now on."""
    log: List[str] = []
    engine = sync_engine(rag)
    event.listen(engine, "connect", lambda *args: log.append("connect"))
    event.listen(engine, "close", lambda *args: log.append("close"))
    return log


@pytest.mark.parametrize("backend", ALL)
async def test_close_waits_for_the_calls_in_flight(backend: str, url_of: Any) -> None:
    # close() while a load runs: the load ends whole, then every connection is closed (the engine was disposed
    # under the running call before, whose connection then went back to a pool no one would close).
    embedder = GatedSecondBatch()
    url = url_of(backend)
    rag = AsyncVectorRAG(url, embedder=embedder)
    log = connection_log(rag)
    load = asyncio.ensure_future(rag.load_documents(NEW, show_progress=False, batch_size=2))
    await wait_for_event(embedder.second)
    closing = asyncio.ensure_future(rag.close())
    await asyncio.sleep(0.1)
    assert not closing.done()  # behind the load
    embedder.gate.set()
    assert await bounded(load) == [d["document_id"] for d in NEW]
    await bounded(closing)
    assert log.count("connect") == log.count("close") > 0
    async with AsyncVectorRAG(url, embedder=AsyncKeywordEmbedder(VOCABULARY)) as again:
        assert await counts(again) == (6, 6)


@pytest.mark.parametrize("backend", ALL)
async def test_async_with_left_on_an_error_lets_the_running_call_end(backend: str, url_of: Any) -> None:
    embedder = GatedSecondBatch()
    load: Optional["asyncio.Future[Any]"] = None
    log: List[str] = []
    with pytest.raises(KeyError, match="raised in the block"):
        async with AsyncVectorRAG(url_of(backend), embedder=embedder) as rag:
            log = connection_log(rag)
            load = asyncio.ensure_future(rag.load_documents(NEW, show_progress=False, batch_size=2))
            await wait_for_event(embedder.second)
            asyncio.get_running_loop().call_later(0.1, embedder.gate.set)
            raise KeyError("raised in the block")
    assert load is not None and load.done()  # the exit's close() waited for it
    assert load.result() == [d["document_id"] for d in NEW]
    assert log.count("connect") == log.count("close") > 0


@pytest.mark.parametrize("backend", ALL)
def test_one_facade_from_one_event_loop_after_another(backend: str, url_of: Any) -> None:
    # asyncio.run twice on one facade: the pool kept connections of the first loop, which asyncpg cannot use
    # from another ("attached to a different loop", then "another operation is in progress" for good).
    rag = AsyncVectorRAG(url_of(backend), embedder=AsyncKeywordEmbedder(VOCABULARY))
    assert asyncio.run(bounded(rag.load_documents(CORPUS, show_progress=False))) == [d["document_id"] for d in CORPUS]
    for _ in range(2):
        hits = asyncio.run(bounded(rag.query("apple banana", top_k=2)))
        assert [r["document_id"] for r in hits] == ["d1", "d2"]
    assert asyncio.run(bounded(rag.delete_documents(ids=["d1"]))) == 1
    asyncio.run(bounded(rag.close()))


@pytest.mark.parametrize("backend", ALL)
def test_two_event_loops_at_once(backend: str, url_of: Any) -> None:
    # A loop in another thread has used the facade and still runs when this thread's loop calls it.  Over an
    # asyncio driver that is refused, saying why: SQLAlchemy's asyncio pool serves one loop at a time (two
    # loops opening its first connections at once wait for each other for ever on aiosqlite and asyncpg, and
    # asyncpg cannot use a connection of another loop).  The worker thread serves any loop.
    rag = AsyncVectorRAG(url_of(backend), embedder=AsyncKeywordEmbedder(VOCABULARY))
    used, release = threading.Event(), threading.Event()
    errors: List[BaseException] = []

    async def other_loop() -> None:
        await bounded(rag.load_documents(CORPUS, show_progress=False))
        used.set()
        while not release.is_set():
            await asyncio.sleep(0.01)

    def run() -> None:
        try:
            asyncio.run(bounded(other_loop()))
        except BaseException as error:  # reported below
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert used.wait(WAIT_S)
        call = rag.query("apple banana", top_k=2)
        if backend in GREENLET:
            with pytest.raises(InvalidArgumentError, match="in use by an event loop running in another thread"):
                asyncio.run(bounded(call))
        else:
            assert [r["document_id"] for r in asyncio.run(bounded(call))] == ["d1", "d2"]
    finally:
        release.set()
        thread.join(WAIT_S)
    assert not thread.is_alive() and not errors
    # That loop has ended: this thread's may go on.
    assert [r["document_id"] for r in asyncio.run(bounded(rag.query("apple banana", top_k=2)))] == ["d1", "d2"]
    asyncio.run(bounded(rag.close()))


@pytest.mark.parametrize("backend", ALL)
def test_two_event_loops_opening_connections_at_once_never_hang(backend: str, url_of: Any) -> None:
    # After close() the pool is new; two loops' first calls at once used to wait for each other for ever (on
    # aiosqlite and asyncpg, in SQLAlchemy's first-connect lock).  Now the second is refused, or runs after.
    rag = AsyncVectorRAG(url_of(backend), embedder=AsyncKeywordEmbedder(VOCABULARY))
    asyncio.run(bounded(rag.load_documents(CORPUS, show_progress=False)))
    asyncio.run(bounded(rag.close()))
    together = threading.Barrier(2)
    outcomes: List[Any] = []

    async def query() -> List[str]:
        together.wait(WAIT_S)
        return [r["document_id"] for r in await bounded(rag.query("apple banana", top_k=2), 10)]

    def run() -> None:
        try:
            outcomes.append(asyncio.run(query()))
        except InvalidArgumentError:
            outcomes.append("refused")
        except BaseException as error:  # reported below
            outcomes.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert not any(thread.is_alive() for thread in threads)
    assert ["d1", "d2"] in outcomes and all(o in (["d1", "d2"], "refused") for o in outcomes), outcomes
    if backend in THREADED:
        assert outcomes == [["d1", "d2"]] * 2
    asyncio.run(bounded(rag.close()))


@pytest.mark.parametrize("backend", GREENLET)
def test_asyncio_run_ending_at_any_statement_of_a_pending_write(
    backend: str, url_of: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The application's main() returns while a load it started still runs: asyncio.run() then cancels every
    # task left, the call's own task included, not only its caller.  That cancellation used to land inside
    # the statement under way (psycopg mid-COPY: "another command is already in progress", logged as an
    # exception during the pool's reset and as an unhandled exception of asyncio.run's shutdown).  Now it
    # stops the call as cancelling its caller does: whole or absent, and the facade goes on in the next loop.
    rag = AsyncVectorRAG(url_of(backend), embedder=AsyncKeywordEmbedder(VOCABULARY))
    asyncio.run(bounded(rag.load_documents(CORPUS, show_progress=False)))
    write = Op(rag, backend, "load")

    async def main(k: int) -> int:
        hook = CancelAt(rag)
        reached = asyncio.Event()
        hook.arm(k, asyncio.get_running_loop().create_future()).add_done_callback(lambda _: reached.set())
        pending = asyncio.ensure_future(write.run())
        if k:
            await bounded(reached.wait())  # the k-th statement has run: leave, the next one under way
        else:
            await bounded(pending)
        return hook.seen

    points = asyncio.run(main(0))
    assert asyncio.run(write.applied())
    asyncio.run(write.undo())
    caplog.clear()
    for k in range(1, points + 1):
        with caplog.at_level(logging.WARNING):
            asyncio.run(main(k))
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert not errors, f"statement {k}: {errors}"

        async def check() -> None:
            await settled(rag)
            if await write.applied():
                await write.undo()
            assert await counts(rag) == (6, 6)

        asyncio.run(check())
    asyncio.run(bounded(rag.close()))


@pytest.mark.parametrize("backend", GREENLET)
async def test_a_call_cancelled_before_it_began_does_nothing(backend: str, url_of: Any) -> None:
    # A new facade's first calls wait for one of them to check the tables; a delete given up on while it
    # waited there used to run all the same once the check ended (it has no embedding to stop at).
    url = url_of(backend)
    async with AsyncVectorRAG(url, embedder=AsyncKeywordEmbedder(VOCABULARY)) as rag:
        await bounded(rag.load_documents(CORPUS, show_progress=False))
    async with AsyncVectorRAG(url, embedder=AsyncKeywordEmbedder(VOCABULARY)) as rag:
        hook = CancelAt(rag)
        first = asyncio.ensure_future(rag.get_statistics())
        await asyncio.sleep(0)  # the first call has the tables' check
        delete = hook.arm(1, asyncio.ensure_future(rag.delete_documents(ids=["d1", "d2"])))
        with pytest.raises(asyncio.CancelledError):
            await bounded(delete)  # cancelled at the check's first statement, before the delete began
        assert (await bounded(first))["document_count"] == 6
        await settled(rag)
        assert await counts(rag) == (6, 6)
        assert await bounded(rag.delete_documents(ids=["d1", "d2"])) == 2  # the facade goes on


@pytest.mark.parametrize("backend", THREADED)
def test_a_worker_call_left_by_asyncio_run_stops_at_its_async_embedder(backend: str, url_of: Any) -> None:
    # What docs/rag.md says of the worker thread: a call still running when asyncio.run() returns cannot
    # await its async embedder any more, so it stops there (rolled back where there are transactions), and
    # the facade serves the next loop.
    embedder = GatedSecondBatch()
    rag = AsyncVectorRAG(url_of(backend), embedder=embedder)

    async def main() -> None:
        asyncio.ensure_future(rag.load_documents(NEW, show_progress=False, batch_size=2))
        await wait_for_event(embedder.second)  # the worker waits on this loop for the second batch

    asyncio.run(main())
    embedder.gate.set()
    found = asyncio.run(counts(rag))
    assert found == ((2, 2) if backend == "clickhouse" else (0, 0))
    assert asyncio.run(bounded(rag.load_documents(CORPUS, show_progress=False))) == [d["document_id"] for d in CORPUS]
    asyncio.run(bounded(rag.close()))
