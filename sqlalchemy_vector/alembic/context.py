"""``alembic.context`` with vectors: the one line a stock ``env.py`` needs.

In an ``env.py`` made by ``alembic init`` (any template), replace
``from alembic import context`` with::

    from sqlalchemy_vector.alembic import context

Everything is Alembic's own ``context`` (``context.config``,
``context.begin_transaction()``, ...), except :func:`configure`, which adds
:func:`sqlalchemy_vector.alembic.context_options` for its connection (or, in
offline mode, its URL) to the arguments ``env.py`` passes, chaining any
``include_object`` / ``include_name`` / ``render_item`` hooks given there
after ours.  Nothing is patched: other ``env.py`` files, and Alembic itself,
are unaffected.
"""

from __future__ import annotations

from typing import Any

from alembic import context as _alembic_context

__all__ = ["configure"]

_CHAINED = ("include_object", "include_name", "render_item", "autogenerate_plugins")


def configure(**kwargs: Any) -> None:
    """``alembic.context.configure(**kwargs)`` plus what vector columns and indexes need."""
    from . import context_options

    connection = kwargs.get("connection")
    options = context_options(
        connection,
        url=kwargs.get("url") if connection is None else None,
        **{name: kwargs.pop(name) for name in _CHAINED if kwargs.get(name) is not None},
    )
    _alembic_context.configure(**{**options, **kwargs})


def __getattr__(name: str) -> Any:
    # Alembic installs its proxies (config, run_migrations, ...) on its own
    # module while a command runs: read them from there at each use.
    return getattr(_alembic_context, name)
