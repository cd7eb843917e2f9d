"""``alembic.context`` with vectors: the one line a stock ``env.py`` needs.

In an ``env.py`` made by ``alembic init`` (any template), replace
``from alembic import context`` with::

    from sqlalchemy_vector.alembic import context

Everything is Alembic's own ``context`` (``context.config``,
``context.begin_transaction()``, ...), except :func:`configure`, which adds
:func:`sqlalchemy_vector.alembic.context_options` for its connection (or, in
offline mode, its URL) to the arguments ``env.py`` passes, chaining any
``include_object`` / ``include_name`` / ``render_item`` /
``process_revision_directives`` hooks given there after ours.  Nothing is
patched: other ``env.py`` files, and Alembic itself, are unaffected.
"""

from __future__ import annotations

from typing import Any

from alembic import context as _alembic_context
from sqlalchemy.engine import Connection

from ..dialects.base import engine_state, find_backend
from ..exc import MissingExtensionError

__all__ = ["configure"]

_CHAINED = ("include_object", "include_name", "render_item", "autogenerate_plugins", "process_revision_directives")


def configure(**kwargs: Any) -> None:
    """``alembic.context.configure(**kwargs)`` plus what vector columns and indexes need.

    Online, the connection must come from an engine prepared for vectors (the
    ``?plugin=vector`` URL the README gives ``alembic.ini``, or
    :func:`sqlalchemy_vector.create_engine`): otherwise
    :class:`~sqlalchemy_vector.exc.MissingExtensionError`, before anything runs.
    """
    from . import context_options

    connection = kwargs.get("connection")
    if connection is not None:
        _require_prepared(connection)
    options = context_options(
        connection,
        url=kwargs.get("url") if connection is None else None,
        **{name: kwargs.pop(name) for name in _CHAINED if kwargs.get(name) is not None},
    )
    _alembic_context.configure(**{**options, **kwargs})


def _require_prepared(connection: Connection) -> None:
    """Refuse a connection of a vector database whose engine sqlalchemy_vector did not prepare."""
    dialect = connection.dialect
    if find_backend(dialect) is None or engine_state(dialect) is not None:
        return
    url = connection.engine.url
    shown = url.render_as_string(hide_password=True)
    # Only the part to append: a URL shown here would carry '***' for its password.
    suffix = ("&" if url.query else "?") + "plugin=vector"
    raise MissingExtensionError(
        f"the Alembic connection to {shown!r} comes from an engine not prepared for vectors (no vector index "
        f"extension loaded, no vector reflection); append {suffix} to sqlalchemy.url in alembic.ini "
        "(with any % written %%), or create the engine in env.py with sqlalchemy_vector.create_engine(url)"
    )


def __getattr__(name: str) -> Any:
    # Alembic installs its proxies (config, run_migrations, ...) on its own
    # module while a command runs: read them from there at each use.
    return getattr(_alembic_context, name)
