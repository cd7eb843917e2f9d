"""Exceptions raised by sqlalchemy_vector.

Every exception derives from :class:`VectorError`.  Those raised while a
statement executes also carry SQLAlchemy's :class:`~sqlalchemy.exc.DontWrapMixin`,
so they reach the caller as themselves rather than wrapped in a
:class:`~sqlalchemy.exc.StatementError`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc as sa_exc

__all__ = [
    "VectorError",
    "InvalidVectorError",
    "InvalidArgumentError",
    "DimensionMismatchError",
    "UnsupportedDialectError",
    "UnsupportedKindError",
    "UnsupportedMetricError",
    "MissingExtensionError",
    "MissingDependencyError",
    "InvalidEmbeddingError",
    "InvalidRowError",
    "InvalidFilterError",
    "InvalidDocumentError",
    "DocumentNotFoundError",
    "ModelConfigurationError",
    "VectorIndexError",
    "FallbackWarning",
    "IndexMaintenanceWarning",
    "BackendPluginWarning",
    "DimensionLimitError",
    "SchemaMismatchError",
    "DatabaseLockedError",
    "SharedConnectionError",
]


class VectorError(sa_exc.DontWrapMixin, Exception):
    """Base class of every error raised by sqlalchemy_vector."""


class InvalidVectorError(VectorError, ValueError):
    """A value cannot be stored as a vector: not 1-D, not numeric, NaN or infinite."""


class InvalidArgumentError(VectorError, ValueError, TypeError):
    """An argument other than a vector is out of range or of the wrong type (``k``, ``top_k``, ``ef_search``, ...).

    A :class:`ValueError` and a :class:`TypeError` both, so code written
    against either keeps catching it.
    """


class DimensionMismatchError(InvalidVectorError):
    """A vector has a different number of dimensions than its column declares."""


class UnsupportedDialectError(VectorError, sa_exc.CompileError):
    """The database dialect has no vector support in sqlalchemy_vector."""


class UnsupportedKindError(UnsupportedDialectError):
    """A database has no native form of a compact vector kind (half precision, int8, binary, sparse)."""


class UnsupportedMetricError(VectorError, ValueError):
    """A distance metric name is unknown, or not available for this operation."""


class MissingExtensionError(VectorError, sa_exc.InvalidRequestError):
    """A database extension that vector search needs is not installed or not loaded."""


class MissingDependencyError(VectorError, ImportError):
    """An optional Python package that a feature needs is not installed."""


class InvalidEmbeddingError(VectorError, ValueError):
    """An embedding model returned something other than finite rows of the declared dimension."""


class InvalidRowError(VectorError, ValueError):
    """A row given to a bulk insert does not fit the table (unknown or inconsistent keys)."""


class InvalidFilterError(VectorError, ValueError):
    """A metadata filter is malformed: unknown operator, or a value the operator cannot compare."""


class InvalidDocumentError(VectorError, ValueError):
    """A document given to the RAG facade is malformed (missing content, unknown keys, wrong types)."""


class DocumentNotFoundError(VectorError, LookupError):
    """An operation needs a document id that is not in the documents table."""


class ModelConfigurationError(VectorError, sa_exc.ArgumentError):
    """A mapped class built from the ORM mixins, or given to the RAG facade, is configured inconsistently."""


class VectorIndexError(VectorError, sa_exc.ArgumentError):
    """A vector index is declared wrongly, or cannot be built on this backend as declared."""


class DimensionLimitError(InvalidVectorError):
    """A ``Vector(dim)`` column or index declares more dimensions than the backend can store or index."""


class SchemaMismatchError(ModelConfigurationError):
    """Existing tables do not match the models the facade was opened with (dimension, columns)."""


class DatabaseLockedError(VectorError, sa_exc.OperationalError):
    """The database file is held by another process in a way this backend does not share."""

    def __init__(self, message: str, original: BaseException) -> None:
        sa_exc.OperationalError.__init__(self, None, None, original)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Any:
        # OperationalError's own reduction passes the arguments of its constructor, not of this one: without this,
        # the error could not cross a process boundary (multiprocessing, concurrent.futures' process pools).
        return type(self), (self.message, self.orig)


class SharedConnectionError(VectorError, sa_exc.InvalidRequestError):
    """A facade's call would run in a transaction of yours, on the one connection the engine's pool shares.

    An in-memory database lives in one connection, which its pool gives every
    caller of a thread: the facade's commit would commit your pending writes,
    its rollback discard them.
    """

    @classmethod
    def of(cls, url: Any, pool: str) -> "SharedConnectionError":
        """The error for the engine of ``url``, whose pool (of class ``pool``) shares its connection."""
        shown = url.render_as_string(hide_password=True) if hasattr(url, "render_as_string") else str(url)
        return cls(
            f"the engine {shown!r} shares one connection among its callers ({pool}: an in-memory database lives in "
            "one connection), and a transaction of yours is open on it (a Session with flushed writes, a "
            "Connection after begin()): the facade's commit would commit that work, and its rollback discard it; "
            "commit or roll back your transaction before calling the facade, or use a database file, whose pool "
            "gives the facade a connection of its own"
        )


class FallbackWarning(UserWarning):
    """A slower path is in use because something faster could not be loaded (e.g. sqlite-vec)."""


class IndexMaintenanceWarning(UserWarning):
    """A vector index may no longer find every row after this write; the message says how to build it again."""


class BackendPluginWarning(UserWarning):
    """An installed package's ``sqlalchemy_vector.backends`` entry point could not be used; the others still are."""


def first_line(error: object) -> str:
    """The first line of ``error``'s message (its class name if it says nothing), for a message of ours.

    Drivers and pyarrow put the statement, its parameters or a trace after the
    first line; a message of this library quotes only the first.
    """
    said = str(error).strip()
    return said.splitlines()[0] if said else type(error).__name__
