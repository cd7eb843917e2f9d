"""Process-wide locks of the facades: first-use table creation, and index changes where they must not overlap."""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import (
    Callable,
    Iterator,
    Optional,
    TypeVar,
)

from sqlalchemy.engine import Engine

from ..dialects.base import backend_for

_L = TypeVar("_L")
_REGISTRIES_GUARD = threading.Lock()


def _per_database(registry: "weakref.WeakValueDictionary[str, _L]", engine: Engine, make: Callable[[], _L]) -> _L:
    """The one object of ``registry`` for ``engine``'s database URL in this process, made on first use.

    The registry holds it weakly: it lives while a facade (or a call) holds it, so a process opening
    databases of ever new URLs (one per tenant, per job) keeps none of those it has let go of.
    """
    key = engine.url.render_as_string(hide_password=False)
    with _REGISTRIES_GUARD:
        found = registry.get(key)
        if found is None:
            found = registry[key] = make()
        return found


_SETUP_LOCKS: "weakref.WeakValueDictionary[str, threading.Lock]" = weakref.WeakValueDictionary()


def _setup_lock(engine: Engine) -> threading.Lock:
    """One lock per database URL in this process: facades create and check tables one at a time."""
    return _per_database(_SETUP_LOCKS, engine, threading.Lock)


class _SharedLock:
    """Held by many calls at once, or by one alone; a call waiting to hold it alone holds new ones back.

    A thread already holding it shared may take it shared again (a facade
    call made from inside another, such as an embedder's).
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._shared = 0
        self._alone = False
        self._waiting = 0
        self._depth = threading.local()

    @contextlib.contextmanager
    def hold(self, alone: bool = False) -> Iterator[None]:
        depth = getattr(self._depth, "value", 0)
        if not alone and depth:
            self._depth.value = depth + 1
            try:
                yield
            finally:
                self._depth.value = depth
            return
        with self._condition:
            if alone:
                self._waiting += 1
                try:
                    self._condition.wait_for(lambda: not self._alone and not self._shared)
                finally:
                    self._waiting -= 1
                    self._condition.notify_all()  # calls held back for this one go on if it gave up
                self._alone = True
            else:
                self._condition.wait_for(lambda: not self._alone and not self._waiting)
                self._shared += 1
                self._depth.value = 1
        try:
            yield
        finally:
            with self._condition:
                if alone:
                    self._alone = False
                else:
                    self._shared -= 1
                    self._depth.value = 0
                self._condition.notify_all()


_INDEX_LOCKS: "weakref.WeakValueDictionary[str, _SharedLock]" = weakref.WeakValueDictionary()


def _index_lock(engine: Engine) -> Optional[_SharedLock]:
    """The lock the facades of this process share for one database, where index changes must be alone."""
    if not backend_for(engine.dialect).capabilities.index_changes_exclusive:
        return None
    return _per_database(_INDEX_LOCKS, engine, _SharedLock)
