"""Exceptions raised by sqlalchemy_vector.

Every exception derives from :class:`VectorError`.  Those raised while a
statement executes also carry SQLAlchemy's :class:`~sqlalchemy.exc.DontWrapMixin`,
so they reach the caller as themselves rather than wrapped in a
:class:`~sqlalchemy.exc.StatementError`.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

__all__ = [
    "VectorError",
    "InvalidVectorError",
    "DimensionMismatchError",
    "UnsupportedDialectError",
    "UnsupportedMetricError",
    "MissingExtensionError",
]


class VectorError(sa_exc.DontWrapMixin, Exception):
    """Base class of every error raised by sqlalchemy_vector."""


class InvalidVectorError(VectorError, ValueError):
    """A value cannot be stored as a vector: not 1-D, not numeric, NaN or infinite."""


class DimensionMismatchError(InvalidVectorError):
    """A vector has a different number of dimensions than its column declares."""


class UnsupportedDialectError(VectorError, sa_exc.CompileError):
    """The database dialect has no vector support in sqlalchemy_vector."""


class UnsupportedMetricError(VectorError, ValueError):
    """A distance metric name is unknown, or not available for this operation."""


class MissingExtensionError(VectorError, sa_exc.InvalidRequestError):
    """A database extension that vector search needs is not installed or not loaded."""
