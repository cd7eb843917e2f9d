"""Vector search as a first-class citizen of SQLAlchemy.

One :class:`Vector` column type and one set of distance functions that
compile to PostgreSQL + pgvector, SQLite + sqlite-vec and DuckDB.
"""

from __future__ import annotations

from . import exc
from .dialects import supported_dialects
from .engine import attach, create_async_engine, create_engine
from .functions import (
    METRICS,
    VectorDistance,
    cosine_distance,
    distance,
    inner_product,
    l1_distance,
    l2_distance,
    max_inner_product,
)
from .types import Vector

__version__ = "0.1.0"

__all__ = [
    "METRICS",
    "Vector",
    "VectorDistance",
    "attach",
    "cosine_distance",
    "create_async_engine",
    "create_engine",
    "distance",
    "exc",
    "inner_product",
    "l1_distance",
    "l2_distance",
    "max_inner_product",
    "supported_dialects",
]
