"""The asyncio facade, :class:`AsyncVectorRAG`: a proxy running :class:`VectorRAG` in a greenlet or a worker thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import threading
import weakref
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.util import await_only, greenlet_spawn
from sqlalchemy.orm import sessionmaker

from ..dialects.base import backend_for, dialect_class
from ..engine import attach, create_async_engine
from ..exc import (
    InvalidArgumentError,
    ModelConfigurationError,
)
from ..filters import Filter
from .facade import VectorRAG, _owned
from .store import DocumentId, Result, _T


# -- the asyncio facade ----------------------------------------------------------------------------------


#: How often a worker thread waiting for an embedder on the event loop checks that the loop still runs.
_WORKER_POLL_S = 0.25

#: Inside an embedder's ``aembed`` run for a worker-thread facade: that facade's id.
_EMBEDDING_FOR: "contextvars.ContextVar[Optional[int]]" = contextvars.ContextVar("_EMBEDDING_FOR", default=None)


@dataclass
class _WorkerCall:
    """A call of a worker-thread facade: the loop awaiting it, whether that caller stopped waiting, and the
    embedding it awaits on that loop, if any."""

    loop: asyncio.AbstractEventLoop
    abandoned: threading.Event
    embedding: "Optional[concurrent.futures.Future[Any]]" = None


async def _embed_on_loop(facade: int, embedder: Any, texts: List[str]) -> Any:
    from ..embedding import aembed

    token = _EMBEDDING_FOR.set(facade)
    try:
        return await aembed(embedder, texts)
    finally:
        _EMBEDDING_FOR.reset(token)


#: asyncio drivers whose connections run only on the event loop that opened them.
_LOOP_BOUND_DRIVERS = frozenset({"asyncpg"})

#: Inside a call of a facade over an asyncio driver (its task, and the greenlets that task runs): that call.
_GREENLET_CALL: "contextvars.ContextVar[Optional[_GreenletCall]]" = contextvars.ContextVar("_GREENLET_CALL", default=None)


class _GreenletCall:
    """A call of a facade over an asyncio driver, which runs in a task of its own.

    The caller awaits that task through :func:`asyncio.shield`, so cancelling
    the caller never interrupts a statement, a ``COPY`` or the return of a
    connection to the pool, which an interruption leaves half done (psycopg
    stuck mid-``COPY`` raises its own error in place of the cancellation; a
    connection interrupted while the pool resets it is never checked back
    in).  The call stops at its next embedding instead, which raises
    :class:`asyncio.CancelledError` in it (its transaction rolls back), or
    runs to its end if it has no embedding left to do.
    """

    __slots__ = ("cancelled", "embedding")

    def __init__(self) -> None:
        self.cancelled = False
        self.embedding: Optional["asyncio.Future[Any]"] = None

    def cancel(self) -> None:
        self.cancelled = True
        if self.embedding is not None:
            self.embedding.cancel()

    async def embed(self, embedder: Any, texts: List[str]) -> Any:
        from ..embedding import aembed

        if self.cancelled:
            raise asyncio.CancelledError
        self.embedding = asyncio.ensure_future(aembed(embedder, texts))
        try:
            return await self.embedding
        finally:
            self.embedding = None


class _CallTask(asyncio.Task[Any]):
    """The task a :class:`_GreenletCall` runs in.

    When its event loop is ending (``asyncio.run`` returning with calls
    still pending cancels every task left, with the loop stopped), a cancel
    stops the call as cancelling its caller does, at its next embedding,
    instead of inside the statement under way (psycopg mid-``COPY`` then
    fails the rollback and the pool's reset with "another command is
    already in progress").  A cancel while the loop runs (a driver's own
    timeout) interrupts the task as usual.
    """

    def __init__(self, coro: Any, *, loop: asyncio.AbstractEventLoop, call: _GreenletCall) -> None:
        super().__init__(coro, loop=loop)
        self._call = call

    def cancel(self, msg: Any = None) -> bool:
        if self.get_loop().is_running():
            return super().cancel(msg)
        self._call.cancel()
        return False


def _await_embedding(sync: "VectorRAG", texts: List[str]) -> Any:
    # Called by the synchronous facade inside the greenlet: await the embedder there, through the call
    # (whose caller may stop waiting), or directly when sync_rag runs in a greenlet of someone else's.
    call = _GREENLET_CALL.get()
    if call is None:
        from ..embedding import aembed

        return await_only(aembed(sync.embedder, texts))
    return await_only(call.embed(sync.embedder, texts))


def _weakly(method: Callable[[List[str]], Any]) -> Callable[[List[str]], Any]:
    """``method`` of an object, called through a weak reference to that object."""
    reference = weakref.WeakMethod(method)

    def call(texts: List[str]) -> Any:
        bound = reference()
        if bound is None:
            raise InvalidArgumentError(
                "the AsyncVectorRAG this sync_rag belongs to is gone; keep the facade while using it"
            )
        return bound(texts)

    return call


class AsyncVectorRAG:
    """The asyncio version of :class:`VectorRAG`: the same methods, as coroutines.

    ``bind`` is an :class:`~sqlalchemy.ext.asyncio.AsyncEngine`, a database URL
    with an async driver (``sqlite+aiosqlite``, ``postgresql+psycopg_async``,
    ``postgresql+asyncpg``), or an
    :class:`~sqlalchemy.ext.asyncio.async_sessionmaker`; an engine made elsewhere
    (given, or an async_sessionmaker's) is prepared in place, as
    :func:`sqlalchemy_vector.attach` does.

    Like SQLAlchemy's :class:`~sqlalchemy.ext.asyncio.AsyncSession`, it is a
    proxy: each method runs the synchronous :class:`VectorRAG` method (the
    :attr:`sync_rag`) in a greenlet over the engine's ``sync_engine``, so
    database I/O is awaited through the async driver.  Embedding awaits the
    embedder's ``aembed`` when it has one, else runs ``embed`` in a worker
    thread.  Each call runs in a task of its own: cancelling its coroutine
    stops the waiting at once and never interrupts a statement or the return
    of a connection to the pool; a call that has not begun does not run, and
    one that has stops at its next embedding,
    rolling its transaction back, or, with none left, runs to its end; so
    does a call still pending when ``asyncio.run`` returns, whose shutdown
    cancels every task left.  :meth:`close` waits for such calls, and a call made while it is under way
    runs after it.  The engine's pool serves one event loop at a time: a call
    from a second loop while the first still runs (in another thread) raises
    :class:`~sqlalchemy_vector.exc.InvalidArgumentError`; once the first loop
    has ended (a second ``asyncio.run``), calls go on.

    A backend without an asyncio driver (capability data ``async_drivers``
    empty: DuckDB, ClickHouse) is reached through its synchronous driver in
    one worker thread of this facade: ``bind`` is then a URL of it or a
    synchronous :class:`~sqlalchemy.engine.Engine`.  The facade's calls run
    one at a time in that thread, in the order they were made, and the event
    loop stays free meanwhile; embedding is awaited on the loop as above.
    Cancelling a call that has started stops the waiting at once; the call
    (a thread cannot be interrupted) stops at its next embedding, an async
    one under way cancelled, with its transaction rolled back, or with none
    left runs to its end, its result or error dropped (a call still queued
    does not run); the next call, and :meth:`close`, wait for that end.  A call made while :meth:`close`
    is under way runs after it, on a new worker thread.  An embedder must not
    call the facade it embeds for (the call would wait for itself): that raises
    :class:`~sqlalchemy_vector.exc.InvalidArgumentError`.
    """

    def __init__(
        self,
        bind: Union[AsyncEngine, str, URL, "async_sessionmaker[AsyncSession]", Engine],
        *,
        document_model: Optional[type] = None,
        embedding_model: Optional[type] = None,
        embedder: Any = None,
        dimension: Optional[int] = None,
        distributed: bool = False,
        precision: Optional[str] = None,
        id_type: Optional[type] = None,
    ) -> None:
        self._owns_engine = _owned(bind)
        self._worker: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._closing: Optional["concurrent.futures.Future[None]"] = None  # close() of the last worker
        self._calls = threading.local()  # in the worker: the call it runs (a _WorkerCall)
        threaded: Union[Engine, URL, None] = None
        engine: Optional[AsyncEngine] = None
        if isinstance(bind, async_sessionmaker):
            engine = bind.kw.get("bind")
            if not isinstance(engine, AsyncEngine):
                raise ModelConfigurationError(
                    "the async_sessionmaker given to AsyncVectorRAG has no AsyncEngine bind; "
                    "create it as async_sessionmaker(engine)"
                )
            engine = attach(engine)  # prepared as an AsyncEngine bind is: created elsewhere, it may not be yet
        elif isinstance(bind, AsyncEngine):
            engine = attach(bind)
        elif isinstance(bind, (str, URL)):
            url = make_url(bind)
            drivers = backend_for(dialect_class(url)).capabilities.async_drivers
            if drivers and url.get_driver_name() not in drivers:
                raise ModelConfigurationError(
                    f"AsyncVectorRAG got the synchronous driver {url.drivername!r}; use an asyncio driver of "
                    f"{url.get_backend_name()}: "
                    + " or ".join(repr(str(url.set(drivername=f"{url.get_backend_name()}+{d}"))) for d in drivers)
                )
            if drivers:
                engine = create_async_engine(url)
            else:
                threaded = url
        elif isinstance(bind, Engine):
            drivers = backend_for(bind.dialect).capabilities.async_drivers
            if drivers:
                raise ModelConfigurationError(
                    f"AsyncVectorRAG got a synchronous Engine ({bind.url.drivername}) of a backend with an asyncio "
                    f"driver ({', '.join(drivers)}): pass an AsyncEngine of it, or use VectorRAG with this Engine"
                )
            threaded = bind
        else:
            raise ModelConfigurationError(
                f"AsyncVectorRAG needs an AsyncEngine, a database URL or an async_sessionmaker, got {type(bind).__name__}"
            )
        sync = VectorRAG.__new__(VectorRAG)
        options = (document_model, embedding_model, embedder, dimension, distributed, precision, id_type)
        if threaded is None:
            assert engine is not None
            sync._setup(sessionmaker(engine.sync_engine, expire_on_commit=False), *options)
            sync._embed_texts = functools.partial(_await_embedding, sync)
            sync._serialize_setup = False
        else:
            sync._setup(threaded, *options)  # creates (and will dispose) the engine of a URL
            # Through a weak reference: the facade is not kept alive by its own sync_rag, so one
            # dropped without close() ends its worker thread at once (the executor goes with it).
            sync._embed_texts = _weakly(self._embedding_from_worker)
        #: The engine: an :class:`~sqlalchemy.ext.asyncio.AsyncEngine`, or the synchronous
        #: :class:`~sqlalchemy.engine.Engine` of a backend without an asyncio driver.
        self.engine: Union[AsyncEngine, Engine] = sync.engine if engine is None else engine
        #: The synchronous facade every method runs, in a greenlet (or the worker thread).
        self.sync_rag: VectorRAG = sync
        self._ready_lock: Optional[asyncio.Lock] = None
        self._one_connection: Optional[asyncio.Lock] = None  # calls on an in-memory database's one connection
        # Over an asyncio driver: the event loop of the last call, the calls not ended (their callers may
        # have stopped waiting), and the close() under way.
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._loop_lock = threading.Lock()
        self._running: "set[asyncio.Task[Any]]" = set()
        self._ending: Optional["asyncio.Task[None]"] = None

    @property
    def _threaded(self) -> bool:
        """Whether the backend has no asyncio driver, so its synchronous driver runs in ``_worker``."""
        return not isinstance(self.engine, AsyncEngine)

    def _embedding_from_worker(self, texts: List[str]) -> Any:
        # Called by the synchronous facade in the worker thread: a coroutine embedder is
        # awaited on the event loop waiting for this call, a plain one runs right here.
        embedder = self.sync_rag.embedder
        call: Optional[_WorkerCall] = getattr(self._calls, "current", None)
        if call is not None and call.abandoned.is_set():
            # Its caller stopped waiting: the call stops at its next embedding, rolled back, as over an asyncio driver.
            raise asyncio.CancelledError
        if getattr(embedder, "aembed", None) is None:
            return embedder.embed(texts)
        if call is None:
            raise InvalidArgumentError(
                "this sync_rag belongs to an AsyncVectorRAG whose embedder is a coroutine one, which only the "
                "facade's own awaited methods can run: await the AsyncVectorRAG method, or make a VectorRAG "
                "for synchronous use"
            )
        loop = call.loop
        coroutine = _embed_on_loop(id(self), embedder, texts)
        try:
            future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        except RuntimeError:  # the loop is closed already
            coroutine.close()
            raise
        call.embedding = future  # cancelled by the caller giving up (see _run)
        try:
            while True:
                try:
                    return future.result(timeout=_WORKER_POLL_S)
                except concurrent.futures.CancelledError:
                    raise asyncio.CancelledError from None
                except concurrent.futures.TimeoutError:
                    # A loop that closed, or stopped after its caller gave up waiting, will not run the
                    # coroutine: waiting on would hold this thread (and the interpreter's exit) for ever.
                    if loop.is_closed() or (call.abandoned.is_set() and not loop.is_running()):
                        future.cancel()
                        coroutine.close()
                        raise RuntimeError(
                            "the event loop " + ("closed" if loop.is_closed() else "stopped")
                            + " before the embedder's aembed ran"
                        ) from None
                    if call.abandoned.is_set():
                        # Its caller stopped waiting: the embedding is cancelled on its loop and the call stops here.
                        # Waited for, an embedder that never answers (a request without a timeout) held this thread,
                        # and so every later call of the facade and its close(), for ever.
                        future.cancel()
                        raise asyncio.CancelledError from None
        finally:
            call.embedding = None

    async def _run(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        if self._threaded:
            if _EMBEDDING_FOR.get() == id(self):
                raise InvalidArgumentError(
                    "the embedder called the AsyncVectorRAG it embeds for: the facade runs one call at a time, "
                    "so this call would wait for the one waiting for the embedder; give the embedder a facade "
                    "(or a cache) of its own"
                )
            closing = self._closing
            if closing is not None and not closing.done():  # calls made during close() run after it
                await asyncio.shield(asyncio.wrap_future(closing))
            loop = asyncio.get_running_loop()
            current = _WorkerCall(loop, threading.Event())

            def call() -> _T:
                self._calls.current = current
                try:
                    self.sync_rag._ensure_tables()
                    return fn(*args, **kwargs)
                finally:
                    del self._calls.current

            if self._worker is None:  # one thread, made on first use (again after close())
                self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sqlalchemy_vector")
            try:
                return await loop.run_in_executor(self._worker, call)
            except asyncio.CancelledError:
                current.abandoned.set()
                embedding = current.embedding
                if embedding is not None:  # the call stops there, rolled back, rather than after it
                    embedding.cancel()
                raise
        loop = asyncio.get_running_loop()
        self._enter_loop(loop)
        ending = self._ending
        if ending is not None and not ending.done():  # calls made during close() run after it
            await asyncio.shield(ending)
        work = _GreenletCall()
        task = _CallTask(self._in_greenlet(work, fn, args, kwargs), loop=loop, call=work)
        self._running.add(task)
        task.add_done_callback(self._ended)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            work.cancel()  # it stops at its next embedding, or ends; close() waits for it
            raise

    async def _in_greenlet(
        self, call: _GreenletCall, fn: Callable[..., _T], args: Tuple[Any, ...], kwargs: Dict[str, Any]
    ) -> _T:
        _GREENLET_CALL.set(call)  # in this task's own context, which its greenlets run in
        if not self.sync_rag._tables_ready:
            if self._ready_lock is None:
                self._ready_lock = asyncio.Lock()
            async with self._ready_lock:
                await greenlet_spawn(self.sync_rag._ensure_tables)
        if call.cancelled:  # its caller gave up before it began (while it waited for the tables' check)
            raise asyncio.CancelledError
        # Bound first: greenlet_spawn's own parameters (fn, _require_await) would take options so named.
        bound = functools.partial(fn, *args, **kwargs)
        if not self.sync_rag._shared_pool:
            return await greenlet_spawn(bound)  # type: ignore[no-any-return]
        # An in-memory database lives in one connection, which its pool gives every call: calls made at once
        # interleaved their transactions on it (writes reported done were lost, documents stored without their
        # embeddings). They run one at a time, in the order they were made.
        if self._one_connection is None:
            self._one_connection = asyncio.Lock()
        async with self._one_connection:
            if call.cancelled:
                raise asyncio.CancelledError
            return await greenlet_spawn(bound)  # type: ignore[no-any-return]

    def _ended(self, task: "asyncio.Task[Any]") -> None:
        self._running.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved here: a caller that stopped waiting never will

    def _enter_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Note the event loop of a call over an asyncio driver; refuse one while another loop runs.

        SQLAlchemy's asyncio pool serves one event loop at a time: two loops
        opening a pool's first connections at once wait for each other for
        ever (aiosqlite, asyncpg), and asyncpg runs a connection only on the
        loop that opened it.  So a call from a second loop while the first
        still runs (in another thread) raises.  One after the first loop
        stopped (``asyncio.run`` returned) goes on; under asyncpg, on an
        engine the facade created, with a new pool, the old one's connections
        dropped without closing (closing them needs their loop).
        """
        with self._loop_lock:
            previous = self._loop
            if previous is loop:
                return
            if previous is not None and previous.is_running():
                raise InvalidArgumentError(
                    "this AsyncVectorRAG is in use by an event loop running in another thread: SQLAlchemy's asyncio "
                    "pool serves one event loop at a time; give each thread's event loop an AsyncVectorRAG (and "
                    "engine) of its own"
                )
            self._loop = loop
            if previous is None:
                return
            self._running = {task for task in self._running if task.get_loop() is loop}
            self._ending = None
            self._ready_lock = None
            self._one_connection = None
            assert isinstance(self.engine, AsyncEngine)
            # Only an engine this facade created: one you passed is yours to dispose of (engine.dispose()).
            if self._owns_engine and self.engine.dialect.driver in _LOOP_BOUND_DRIVERS:
                self.engine.sync_engine.dispose(close=False)

    @property
    def embedder(self) -> Any:
        """The embedding model (see :attr:`VectorRAG.embedder`)."""
        return self.sync_rag.embedder

    @property
    def dimension(self) -> int:
        """Dimensions of the stored vectors."""
        return self.sync_rag.dimension

    @property
    def precision(self) -> str:
        """How the embeddings are stored (see :attr:`VectorRAG.precision`)."""
        return self.sync_rag.precision

    async def run_sync(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        """``fn(sync_rag, *args, **kwargs)``, run where this facade runs its own calls; its result.

        For functions written against :class:`VectorRAG`, as
        :meth:`sqlalchemy.ext.asyncio.AsyncSession.run_sync` is for those
        written against ``Session``: ``await rag.run_sync(export_parquet, path)``.
        """
        if inspect.iscoroutinefunction(fn):  # it would return the coroutine, never run
            raise InvalidArgumentError(
                f"run_sync runs a synchronous function of the VectorRAG, got the coroutine function "
                f"{getattr(fn, '__name__', fn)!r}; await it with this facade's own methods instead"
            )
        return await self._run(fn, self.sync_rag, *args, **kwargs)

    @property
    def document_model(self) -> type:
        """The mapped document class."""
        return self.sync_rag.document_model

    @property
    def embedding_model(self) -> Optional[type]:
        """The mapped embedding class, or None when documents carry their own embedding."""
        return self.sync_rag.embedding_model

    async def close(self) -> None:
        """Dispose of the engine if this facade created it from a URL, and end its worker thread if it has one."""
        if self._threaded:
            worker, self._worker = self._worker, None
            if worker is None:
                closing = self._closing
                if closing is not None and not closing.done():  # a close() under way
                    await asyncio.shield(asyncio.wrap_future(closing))
                else:
                    self.sync_rag.close()
                return
            # After the calls queued there; the thread ends once it has run it.  Cancelling
            # this close() stops the waiting only: the queued close still runs, and never
            # blocks the loop, whose embedder the running call may be waiting for.
            closing = self._closing = worker.submit(self.sync_rag.close)
            worker.shutdown(wait=False)
            try:
                await asyncio.shield(asyncio.wrap_future(closing))
            finally:
                if closing.done():
                    worker.shutdown(wait=True)  # the thread is ending: joined at once
        else:
            # After the calls made before it, cancelled ones included (disposing of the engine under them
            # would leave their connections to a pool no one closes).  Cancelling this close() stops the
            # waiting only: the close still runs once those calls end.
            loop = asyncio.get_running_loop()
            self._enter_loop(loop)
            ending = self._ending
            if ending is None or ending.done():
                calls = [task for task in self._running if task.get_loop() is loop]
                ending = self._ending = loop.create_task(self._end(calls))
            await asyncio.shield(ending)

    async def _end(self, calls: List["asyncio.Task[Any]"]) -> None:
        if calls:
            await asyncio.wait(calls)
        if self._owns_engine:
            assert isinstance(self.engine, AsyncEngine)
            await self.engine.dispose()

    async def __aenter__(self) -> "AsyncVectorRAG":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncVectorRAG({self.engine.url.render_as_string(hide_password=True)!r}, embedder={self.embedder!r})"

    # -- writing

    async def load_document(
        self,
        content: str,
        metadata: Optional[Mapping[str, Any]] = None,
        document_id: Optional[DocumentId] = None,
        generate_embedding: bool = True,
    ) -> DocumentId:
        """See :meth:`VectorRAG.load_document`."""
        return await self._run(self.sync_rag.load_document, content, metadata, document_id, generate_embedding)

    async def load_documents(
        self,
        documents: Iterable[Mapping[str, Any]],
        generate_embeddings: bool = True,
        show_progress: bool = True,
        batch_size: int = 1000,
    ) -> List[DocumentId]:
        """See :meth:`VectorRAG.load_documents`."""
        return await self._run(self.sync_rag.load_documents, documents, generate_embeddings, show_progress, batch_size)

    async def update_document(
        self,
        document_id: DocumentId,
        content: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> bool:
        """See :meth:`VectorRAG.update_document`."""
        return await self._run(self.sync_rag.update_document, document_id, content, metadata)

    async def delete_document(self, document_id: DocumentId) -> bool:
        """See :meth:`VectorRAG.delete_document`."""
        return await self._run(self.sync_rag.delete_document, document_id)

    async def delete_documents(
        self, ids: Optional[Sequence[DocumentId]] = None, filters: Optional[Filter] = None
    ) -> int:
        """See :meth:`VectorRAG.delete_documents`."""
        return await self._run(self.sync_rag.delete_documents, ids, filters)

    # -- reading

    async def get_document(self, document_id: DocumentId) -> Optional[Result]:
        """See :meth:`VectorRAG.get_document`."""
        return await self._run(self.sync_rag.get_document, document_id)

    async def get_documents(self, ids: Sequence[DocumentId]) -> List[Result]:
        """See :meth:`VectorRAG.get_documents`."""
        return await self._run(self.sync_rag.get_documents, ids)

    async def query(
        self,
        query_text: str,
        top_k: int = 5,
        similarity_threshold: Optional[float] = None,
        similarity_function: str = "cosine",
        filters: Optional[Filter] = None,
    ) -> List[Result]:
        """See :meth:`VectorRAG.query`."""
        return await self._run(
            self.sync_rag.query, query_text, top_k, similarity_threshold, similarity_function, filters
        )

    async def query_with_embedding(
        self,
        embedding: Any,
        top_k: int = 5,
        similarity_threshold: Optional[float] = None,
        similarity_function: str = "cosine",
        filters: Optional[Filter] = None,
    ) -> List[Result]:
        """See :meth:`VectorRAG.query_with_embedding`."""
        return await self._run(
            self.sync_rag.query_with_embedding, embedding, top_k, similarity_threshold, similarity_function, filters
        )

    async def query_batch(
        self,
        query_texts: Sequence[str],
        top_k: int = 5,
        similarity_threshold: Optional[float] = None,
        similarity_function: str = "cosine",
        filters: Optional[Filter] = None,
    ) -> List[List[Result]]:
        """See :meth:`VectorRAG.query_batch`."""
        return await self._run(
            self.sync_rag.query_batch, query_texts, top_k, similarity_threshold, similarity_function, filters
        )

    async def query_with_filters(
        self,
        filters: Filter,
        query_text: Optional[str] = None,
        top_k: int = 5,
        similarity_threshold: Optional[float] = None,
        similarity_function: str = "cosine",
    ) -> List[Result]:
        """See :meth:`VectorRAG.query_with_filters`."""
        return await self._run(
            self.sync_rag.query_with_filters, filters, query_text, top_k, similarity_threshold, similarity_function
        )

    async def find_similar_documents(
        self,
        document_id: DocumentId,
        top_k: int = 5,
        similarity_threshold: Optional[float] = None,
        similarity_function: str = "cosine",
        filters: Optional[Filter] = None,
    ) -> List[Result]:
        """See :meth:`VectorRAG.find_similar_documents`."""
        return await self._run(
            self.sync_rag.find_similar_documents, document_id, top_k, similarity_threshold, similarity_function, filters
        )

    async def get_statistics(self) -> Dict[str, Any]:
        """See :meth:`VectorRAG.get_statistics`."""
        return await self._run(self.sync_rag.get_statistics)

    # -- indexes

    async def create_index(self, index_name: str, similarity_function: str = "cosine", **kwargs: Any) -> None:
        """See :meth:`VectorRAG.create_index`."""
        await self._run(self.sync_rag.create_index, index_name, similarity_function, **kwargs)

    async def delete_index(self, index_name: str) -> bool:
        """See :meth:`VectorRAG.delete_index`."""
        return await self._run(self.sync_rag.delete_index, index_name)

    async def rebuild_index(self, index_name: str, **kwargs: Any) -> None:
        """See :meth:`VectorRAG.rebuild_index`."""
        await self._run(self.sync_rag.rebuild_index, index_name, **kwargs)

    # -- full-text and hybrid search

    async def create_fulltext_index(self, index_name: Optional[str] = None, language: str = "english") -> None:
        """See :meth:`VectorRAG.create_fulltext_index`."""
        await self._run(self.sync_rag.create_fulltext_index, index_name, language)

    async def hybrid_query(
        self,
        query_text: str,
        top_k: int = 5,
        filters: Optional[Filter] = None,
        weights: Sequence[float] = (1.0, 1.0),
        rrf_k: Optional[Union[int, Tuple[int, int]]] = None,
        fetch_k: Optional[Union[int, Tuple[int, int]]] = None,
        similarity_function: str = "cosine",
        match_all: bool = False,
    ) -> List[Result]:
        """See :meth:`VectorRAG.hybrid_query`."""
        return await self._run(
            self.sync_rag.hybrid_query, query_text, top_k, filters, weights, rrf_k, fetch_k, similarity_function,
            match_all,
        )

    async def mmr_query(
        self,
        query_text: str,
        top_k: int = 5,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filters: Optional[Filter] = None,
        similarity_function: str = "cosine",
        mode: str = "vector",
    ) -> List[Result]:
        """See :meth:`VectorRAG.mmr_query`."""
        return await self._run(
            self.sync_rag.mmr_query, query_text, top_k, fetch_k, lambda_mult, filters, similarity_function, mode
        )
