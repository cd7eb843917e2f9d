"""Per-backend vector support: one package per backend, one registry.

Adding a backend means adding a package here whose :class:`Backend`
subclass implements the interface in :mod:`.base`, and one line below that
imports it (importing registers it); or, outside this library, a package of
its own that names its backend in the ``sqlalchemy_vector.backends`` entry
point group.
"""

from .base import (
    ENTRY_POINT_GROUP,
    Backend,
    Capabilities,
    backend_for,
    backends,
    engine_state,
    find_backend,
    register,
    supported_dialects,
)

#: The embedded default database: a SQLite file in the working directory.
DEFAULT_URL = "sqlite:///sqlalchemy_vector.db"

# The registry: importing a backend's package registers it.
from . import duckdb, postgresql, sqlite  # noqa: E402,F401
from . import clickhouse  # noqa: E402,F401
from . import cockroachdb  # noqa: E402,F401
from . import yugabytedb  # noqa: E402,F401

__all__ = [
    "DEFAULT_URL",
    "ENTRY_POINT_GROUP",
    "Backend",
    "Capabilities",
    "backend_for",
    "backends",
    "engine_state",
    "find_backend",
    "register",
    "supported_dialects",
]
