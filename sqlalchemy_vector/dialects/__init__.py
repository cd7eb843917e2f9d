"""Per-dialect vector support: one module per backend, one registry.

Adding a dialect means adding a module that defines a :class:`Backend`,
registers it, and registers ``@compiles`` rules for
:class:`~sqlalchemy_vector.functions.VectorDistance`.
"""

from .base import Backend, backend_for, engine_state, register, supported_dialects

# Importing the modules registers their backends and compile rules.
from . import duckdb, postgresql, sqlite  # noqa: E402,F401

__all__ = ["Backend", "backend_for", "engine_state", "register", "supported_dialects"]
