"""Engines ready for vector search: :func:`create_engine`, :func:`create_async_engine`, :func:`attach`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Tuple, TypeVar, Union

import sqlalchemy
from sqlalchemy.engine import URL, CreateEnginePlugin, Engine, make_url

from .dialects.base import (
    backend_for,
    dialect_class,
    enable_vector_reflection,
    engine_state,
    find_backend,
    import_driver,
)
from .exc import InvalidArgumentError
from .types import flag

if TYPE_CHECKING:  # sqlalchemy.ext.asyncio needs greenlet: imported only when used
    from sqlalchemy.engine import ExceptionContext
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["create_engine", "create_async_engine", "attach", "VectorEnginePlugin"]

_E = TypeVar("_E", Engine, "AsyncEngine")


def create_engine(url: Union[str, URL], *, sqlite_vec: bool = True, **kwargs: Any) -> Engine:
    """Drop-in for :func:`sqlalchemy.create_engine` that prepares the backend for vectors.

    - SQLite: loads sqlite-vec on every connection, choosing a driver module that
      can load extensions when the standard ``sqlite3`` cannot (a ``module=`` or
      ``creator=`` given here is kept, and loads it if it can); with
      ``sqlite_vec=False``, or where nothing can load it, registers equivalent
      pure-Python functions instead.
    - PostgreSQL: creates the pgvector extension on first connect if missing.
    - DuckDB: loads the vss extension offline when ``duckdb-extension-vss`` matches
      the installed DuckDB.
    """
    url, sqlite_vec = _extension_flag(make_url(url), flag("sqlite_vec", sqlite_vec))
    dialect = dialect_class(url)
    backend = backend_for(dialect)
    _require_driver(url, dialect, kwargs)
    kwargs = backend.engine_kwargs(url, kwargs, sqlite_vec=sqlite_vec)
    engine = sqlalchemy.create_engine(url, **kwargs)
    return attach(engine, sqlite_vec=sqlite_vec)


def create_async_engine(url: Union[str, URL], *, sqlite_vec: bool = True, **kwargs: Any) -> "AsyncEngine":
    """The asyncio counterpart of :func:`create_engine`."""
    from sqlalchemy.ext.asyncio import create_async_engine as sa_create_async_engine

    url, sqlite_vec = _extension_flag(make_url(url), flag("sqlite_vec", sqlite_vec))
    dialect = dialect_class(url)
    backend = backend_for(dialect)
    if not backend.capabilities.async_drivers:
        raise InvalidArgumentError(
            f"create_async_engine got {url.render_as_string(hide_password=True)!r}, and {url.get_backend_name()} has "
            "no asyncio driver; use sqlalchemy_vector.create_engine(url) for a synchronous engine, or "
            "AsyncVectorRAG(url), which runs a synchronous engine in a worker thread"
        )
    # A driver with an asyncio form of its own (postgresql+psycopg) is taken as SQLAlchemy takes it; others are refused
    # here, where SQLAlchemy's refusal would name no driver of this backend.
    if not getattr(dialect.get_async_dialect_cls(url), "is_async", False):
        drivers = backend.capabilities.async_drivers
        raise InvalidArgumentError(
            f"create_async_engine got {url.render_as_string(hide_password=True)!r}, whose driver is a synchronous "
            f"one; name an asyncio driver in the URL: "
            + " or ".join(repr(url.set(drivername=f"{url.get_backend_name()}+{d}").render_as_string(hide_password=True)) for d in drivers)
        )
    _require_driver(url, dialect, kwargs)
    kwargs = backend.engine_kwargs(url, kwargs, sqlite_vec=sqlite_vec, asynchronous=True)
    engine = sa_create_async_engine(url, **kwargs)
    return attach(engine, sqlite_vec=sqlite_vec)


def _require_driver(url: URL, dialect: type, kwargs: Dict[str, Any]) -> None:
    """Import the driver ``create_engine`` is about to import, so that a missing one is named with its fix.

    Before the backend's engine arguments, which may import it themselves (a creator wrapping the driver).
    """
    if "module" not in kwargs:  # a module given is used as it is
        import_driver(url, dialect)


_URL_TRUE = ("true", "1", "yes", "on")
_URL_FALSE = ("false", "0", "no", "off")


def _extension_flag(url: URL, sqlite_vec: bool) -> Tuple[URL, bool]:
    """The URL without its ``sqlite_vec`` query parameter, and whether sqlite-vec is wanted.

    ``?sqlite_vec=false`` in the URL turns it off as ``sqlite_vec=False`` does;
    a value that is not one of true/false, 1/0, yes/no, on/off is an error.
    """
    raw = url.query.get("sqlite_vec")
    if raw is None:
        return url, sqlite_vec
    values = raw if isinstance(raw, tuple) else (raw,)
    for value in values:
        if value.lower() not in _URL_TRUE + _URL_FALSE:
            raise InvalidArgumentError(
                f"the URL's sqlite_vec parameter takes true or false, got {value!r}; "
                f"write ?sqlite_vec=false for the Python functions, or leave it out"
            )
    wanted = values[-1].lower() in _URL_TRUE
    return url.difference_update_query(["sqlite_vec"]), sqlite_vec and wanted


def attach(engine: _E, *, sqlite_vec: bool = True) -> _E:
    """Prepare an engine created elsewhere, in place, and return it.

    The set-up runs as each new connection opens.  A connection the engine
    opened before (a health check at start-up) is set up when it is next
    checked out of the pool, or, on SQLite, replaced by a connection of the
    driver module that loads sqlite-vec (an in-memory database's connection is
    kept, with its data, and gets the Python functions).  Calling it again on
    the same engine does nothing.
    """
    sqlite_vec = flag("sqlite_vec", sqlite_vec)
    if not isinstance(engine, Engine) and not isinstance(getattr(engine, "sync_engine", None), Engine):  # an AsyncEngine's
        hint = (
            "create the engine with sqlalchemy_vector.create_engine(url)"
            if isinstance(engine, (str, URL))
            else "pass the Engine itself (session.get_bind(), connection.engine)"
        )
        raise InvalidArgumentError(f"attach() prepares an Engine or AsyncEngine, got {type(engine).__name__}; {hint}")
    sync_engine: Engine = engine if isinstance(engine, Engine) else engine.sync_engine
    backend = backend_for(sync_engine.dialect)
    if engine_state(sync_engine.dialect) is None:
        backend.prepare(sync_engine, sqlite_vec=sqlite_vec)
        enable_vector_reflection(sync_engine.dialect)
        sqlalchemy.event.listen(sync_engine, "handle_error", _explain_statement_error)
    return engine


def _explain_statement_error(context: "ExceptionContext") -> None:
    """Raise a clear error in place of a driver's: a search of a full-text index that is not built, a value or an
    index build beyond a limit the driver's message names no column for."""
    backend = find_backend(context.dialect)
    error = context.original_exception
    if backend is None or context.statement is None or error is None:
        return
    explained = backend.explain_fulltext_error(context.statement, error)
    execution = context.execution_context
    compiled = execution.compiled if execution is not None else None
    if explained is None and compiled is not None:
        parameters = getattr(execution, "compiled_parameters", None) or []  # DefaultExecutionContext's
        explained = backend.explain_write_error(error, compiled, parameters)
    if explained is not None:
        raise explained from context.sqlalchemy_exception


class VectorEnginePlugin(CreateEnginePlugin):
    """Prepare any engine for vectors from its URL: ``create_engine("sqlite:///app.db?plugin=vector")``.

    Published as the ``vector`` entry point of ``sqlalchemy.plugins``, so a URL
    in a configuration file (``alembic.ini``, Flask's
    ``SQLALCHEMY_DATABASE_URI``) gets what
    :func:`sqlalchemy_vector.create_engine` gives: the backend's engine
    arguments (on SQLite, a driver module that can load sqlite-vec) and its
    connection set-up.  ``sqlite_vec=false`` in the URL's query selects the
    pure-Python functions on SQLite (``true``/``false``, ``1``/``0``, ``yes``/``no``, ``on``/``off``; any other
    value is an error), as it does in a URL given to :func:`sqlalchemy_vector.create_engine`.
    """

    def __init__(self, url: URL, kwargs: Dict[str, Any]) -> None:
        super().__init__(url, kwargs)
        cleaned, self.sqlite_vec = _extension_flag(url, True)
        dialect = dialect_class(cleaned)
        self.backend = backend_for(dialect)
        # create_async_engine marks its keyword arguments so; create_engine takes the mark off after the plugins.
        asynchronous = bool(kwargs.get("_is_async"))
        _require_driver(cleaned, dialect, kwargs)
        kwargs.update(
            self.backend.engine_kwargs(cleaned, dict(kwargs), sqlite_vec=self.sqlite_vec, asynchronous=asynchronous)
        )

    def update_url(self, url: URL) -> URL:
        return _extension_flag(url, True)[0]  # without the parameter the plugin read (checked in __init__)

    def engine_created(self, engine: Engine) -> None:
        attach(engine, sqlite_vec=self.sqlite_vec)
