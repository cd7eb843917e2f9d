"""The :class:`Vector` column type."""

from __future__ import annotations

import decimal
import itertools
import math
import numbers
import operator
from typing import TYPE_CHECKING, Any, Callable, Optional, SupportsIndex, Tuple, Union

import numpy as np
import numpy.typing as npt
from sqlalchemy import event, type_coerce
from sqlalchemy import types as sqltypes
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.sql.type_api import TypeEngine

from .exc import DimensionLimitError, DimensionMismatchError, InvalidArgumentError, InvalidVectorError

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

__all__ = ["Vector", "to_float32"]

_NUMERIC_KINDS = frozenset("iuf")
_BOOLEAN_TYPES = (bool, np.bool_)


def has_booleans(rows: Any) -> bool:
    """Whether any element of these Python sequences is a boolean (numpy would read ``[True, 0.5]`` as floats).

    ``rows`` is one vector or a list of vectors; numpy arrays are skipped
    (their dtype already says whether they hold booleans).
    """
    if isinstance(rows, np.ndarray):
        return False
    flat = list(rows)
    if flat and all(isinstance(r, (list, tuple)) for r in flat):
        flat = list(itertools.chain.from_iterable(flat))
    return any(t in _BOOLEAN_TYPES for t in set(map(type, flat)))


def empty_in(expr: Any, op: Any, other: Tuple[Any, ...]) -> Optional[Any]:
    """``expr IN ()`` / ``NOT IN ()`` for a vector type that wraps its binds in SQL (a ``CAST``), or None.

    SQLAlchemy writes the empty set inside that wrapper, which is a syntax
    error (``CAST(NULL) AND (1 != 1 AS ...)``); the empty set is the same
    for any type, so it is built on the column without its type's binds.
    """
    if op in (operators.in_op, operators.not_in_op) and len(other) == 1:
        values = other[0]
        if isinstance(values, (list, tuple)) and not values:
            plain = type_coerce(expr, sqltypes.NullType())
            return plain.in_([]) if op is operators.in_op else plain.not_in([])
    return None


def whole_number(value: object) -> Optional[int]:
    """``value`` as a plain ``int`` if it is a whole number, else ``None``.

    Python and numpy integers and anything else with ``__index__`` count;
    booleans (``True``, ``np.bool_``) and floats (even ``5.0``) do not.
    """
    if isinstance(value, _BOOLEAN_TYPES) or not isinstance(value, SupportsIndex):
        return None
    try:
        return int(operator.index(value))
    except TypeError:  # e.g. a 0-d float array, which has __index__ but refuses it
        return None


def real_number(value: object) -> Optional[float]:
    """``value`` as a plain ``float`` if it is a finite real number, else ``None``.

    Python and numpy integers and floats count (``np.float32(0.5)``, what a
    score computed from float32 embeddings is), as do ``Fraction`` and
    ``Decimal``; booleans, strings, NaN and infinities do not, nor an integer
    beyond the double range (``10**400``).
    """
    if isinstance(value, _BOOLEAN_TYPES) or not isinstance(value, (numbers.Real, decimal.Decimal)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int past 1.8e308
        return None
    return number if math.isfinite(number) else None


def flag(name: str, value: object) -> bool:
    """``value`` (the argument ``name``) as a ``bool`` if it is one (``np.bool_`` too), else :class:`InvalidArgumentError`.

    Strings are refused, not read as truthy: ``"false"`` or ``"no"`` would
    otherwise turn an option on.
    """
    if isinstance(value, _BOOLEAN_TYPES):
        return bool(value)
    raise InvalidArgumentError(f"{name} takes True or False, got {type(value).__name__} {value!r}")


def positive_integer(name: str, value: object) -> int:
    """``value`` (the argument ``name``) as a plain ``int`` of at least 1, else :class:`InvalidArgumentError`."""
    checked = whole_number(value)
    if checked is None or checked < 1:
        raise InvalidArgumentError(f"{name} must be a positive integer, got {value!r}")
    return checked


def to_float32(
    value: Any, dim: Optional[int], where: Union[str, Callable[[], str]] = "vector value", declared: str = "Vector"
) -> npt.NDArray[np.float32]:
    """Validate ``value`` as a finite 1-D numeric vector and return it as float32.

    ``where`` names the column (or other place) in error messages; it may be a
    function returning the name, called only when there is an error to report.
    ``dim`` of ``None`` accepts any length; ``declared`` is the column type a
    dimension error suggests declaring (a compact kind's name for its values).
    """
    array = None
    if not isinstance(value, (str, bytes, bytearray, memoryview)):  # text, and buffers numpy would read as bytes
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as err:  # ragged nested sequences
            raise InvalidVectorError(
                f"{_name(where)} expects a flat sequence of numbers, got {_preview(value)} ({err})"
            ) from None
        except Exception as err:  # an object's own __array__ refused (a tensor on a GPU, or needing gradients)
            raise InvalidVectorError(
                f"{_name(where)} could not read {type(value).__name__} {_preview(value)} as an array "
                f"({type(err).__name__}: {err}); convert it to a list or a numpy array of floats first"
            ) from err
    if array is None or array.ndim == 0:  # also None, a number, a dict, a generator
        raise InvalidVectorError(
            f"{_name(where)} expects a sequence of numbers, got {type(value).__name__} {_preview(value)}; "
            "pass a list, tuple or numpy array of floats"
        )
    if array.ndim != 1:
        raise InvalidVectorError(
            f"{_name(where)} expects a 1-D vector, got an array of shape {array.shape}; "
            "store one vector per row (iterate over a 2-D array's rows)"
        )
    booleans = array.dtype.kind == "b" or (array.dtype.kind in _NUMERIC_KINDS and has_booleans(value))
    if array.dtype.kind not in _NUMERIC_KINDS or booleans:
        raise InvalidVectorError(
            f"{_name(where)} expects numeric elements, got "
            + ("booleans" if booleans else f"dtype {array.dtype}")
            + f" in {_preview(value)}; convert the elements to float first (booleans are not read as 0/1)"
        )
    if np.ma.is_masked(value):
        raise InvalidVectorError(
            f"{_name(where)} expects every element present, got a masked array with masked elements "
            f"{_preview(value)}; fill them first (array.filled(value)) or leave the row's vector out"
        )
    if dim is not None and array.shape[0] != dim:
        raise DimensionMismatchError(
            f"{_name(where)} expects {dim} dimensions, got {array.shape[0]}; "
            + (
                f"use vectors from the embedding model the column was declared for, or declare {declared}({array.shape[0]})"
                if array.shape[0]
                else "an empty vector has none: give the vector, or leave the row's vector out"
            )
        )
    with np.errstate(over="ignore"):
        result = array.astype(np.float32, copy=False)
    if not np.isfinite(result).all():
        bad = int(np.flatnonzero(~np.isfinite(result))[0])
        raise InvalidVectorError(
            f"{_name(where)} expects finite numbers, got {array[bad]!r} at index {bad} "
            "(NaN, infinity, or beyond the float32 range); clean the vector before storing or querying it"
        )
    check_norm(result, where)
    return result


def check_norm(vector: npt.NDArray[np.float32], where: Union[str, Callable[[], str]]) -> None:
    """Refuse a finite float32 vector whose norm float32 distances cannot handle (see :func:`unhandled_norm`, the
    same check on a matrix; one vector here, the cheaper way); ``where`` names it as in :func:`to_float32`."""
    with np.errstate(over="ignore", under="ignore"):
        squared = float(np.dot(vector, vector))
    if not squared <= _SQUARED_NORM_MAX or (squared < _FLOAT32_TINY and vector.any()):
        raise InvalidVectorError(
            f"{_name(where)} has a norm of {norm_of(vector):.3g}, {NORM_RANGE_TEXT}; "
            "scale the vector (e.g. normalize it to norm 1)"
        )


# Squared norms within float32's normal range: the norms float32 distances compute correctly.  The top is
# half of sqrt(float32 max), less a margin for rounding: the squared L2 distance of two vectors within it,
# at most (|a| + |b|)^2, stays finite in float32 too.
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)
_NORM_RANGE = (math.sqrt(_FLOAT32_TINY), 9e18)
_SQUARED_NORM_MAX = _NORM_RANGE[1] ** 2
#: Why a vector :func:`unhandled_norm` finds is refused, for error messages.
NORM_RANGE_TEXT = f"outside what float32 distances handle ({_NORM_RANGE[0]:.1e} to {_NORM_RANGE[1]:.1e})"


def unhandled_norm(matrix: npt.NDArray[np.float32]) -> Optional[int]:
    """The first row of a finite float32 ``matrix`` whose norm float32 distances cannot handle, or None.

    The databases compute norms (cosine) and squared differences (L2) in
    float32: a squared norm beyond its range becomes inf (so does the squared
    difference of two vectors with norms near its square root: hence the top
    at half of it), and a non-zero one below its smallest normal number
    becomes 0, which no backend ranks
    correctly (a cosine of +-inf or 0, an L2 distance of inf).  A zero row
    is not refused here (cosine refuses it where it has no direction).
    """
    with np.errstate(over="ignore", under="ignore"):
        squared = np.einsum("ij,ij->i", matrix, matrix)
    bad = ~(squared <= _SQUARED_NORM_MAX)  # NaN never: the matrix is finite; inf and beyond the top
    small = np.flatnonzero(squared < _FLOAT32_TINY)  # zero rows, mostly: the rows to look at
    if small.shape[0]:
        bad[small[matrix[small].any(axis=1)]] = True
    return int(np.argmax(bad)) if bad.any() else None


def norm_of(vector: npt.NDArray[np.float32]) -> float:
    """The Euclidean norm of a float32 vector, computed in double precision (for error messages)."""
    return float(np.linalg.norm(vector.astype(np.float64)))


def read_only(value: Any) -> Any:
    """A loaded vector, made read-only (numpy arrays; ``None`` and other values unchanged).

    The ORM keeps the array it loaded as the row's committed state and finds a
    change by comparing the attribute with it: an array changed in place would
    compare equal to itself, and the change would never be written.  A
    read-only array turns that silent loss into numpy's ``ValueError:
    assignment destination is read-only``; assign a new array instead
    (``doc.embedding = doc.embedding / norm``, or change ``doc.embedding.copy()``).
    """
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    return value


def check_storable_before_create(column: Any) -> None:
    """Once ``column`` is in a table, check before the table's ``CREATE`` that the database stores its type.

    Its DDL would fail anyway, but inside the compiler, which reports every error
    as a plain ``CompileError``; raised here, the library's own class
    (:class:`~sqlalchemy_vector.exc.UnsupportedDialectError`,
    :class:`~sqlalchemy_vector.exc.UnsupportedKindError`) reaches the caller.
    """

    def attached(target: Any, table: Any) -> None:
        def before_create(created: Any, connection: Any, **kw: Any) -> None:
            target.type.dialect_impl(connection.dialect)

        event.listen(table, "before_create", before_create)

    if hasattr(column, "dispatch") and hasattr(column.dispatch, "after_parent_attach"):
        event.listen(column, "after_parent_attach", attached)


def _name(where: Union[str, Callable[[], str]]) -> str:
    return where if isinstance(where, str) else where()


def _preview(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Vector(sqltypes.TypeDecorator[npt.NDArray[np.float32]]):
    """A fixed-dimension float32 vector column.

    Stored as ``vector(dim)`` on PostgreSQL (pgvector), a little-endian float32
    BLOB on SQLite (the format sqlite-vec reads) and ``FLOAT[dim]`` on DuckDB.
    Accepts any 1-D array-like of numbers and returns read-only
    ``numpy.ndarray`` of float32; SQL NULL maps to ``None``.  To change a
    loaded vector, assign a new array (``doc.embedding = doc.embedding * 2``):
    the ORM compares the attribute with the array it loaded, so a change made
    in place would never be written; a read-only array refuses it instead.

    Columns of this type gain distance methods, e.g.
    ``select(Doc).order_by(Doc.embedding.cosine(q)).limit(5)``.
    """

    impl = sqltypes.LargeBinary
    cache_ok = True

    class Comparator(sqltypes.TypeDecorator.Comparator[npt.NDArray[np.float32]]):
        """Distance methods available on every :class:`Vector` expression."""

        def operate(self, op: Any, *other: Any, **kwargs: Any) -> "ColumnElement[Any]":
            empty: Optional[ColumnElement[Any]] = empty_in(self.expr, op, other)
            if empty is not None:
                return empty
            own = self.expr.type
            for value in other:
                # Two vector expressions of different sizes are never equal: refused, as a distance refuses them.
                found = getattr(value, "type", None)
                if isinstance(found, Vector) and isinstance(own, Vector) and found.dim != own.dim:
                    raise DimensionMismatchError(
                        f"{own.described_as} compared with {found.described_as}: expected the same dimensions, "
                        f"got {own.dim} and {found.dim}"
                    )
            return super().operate(op, *other, **kwargs)

        def cosine(self, other: Any) -> "ColumnElement[float]":
            """Cosine distance, ``1 - cosine similarity`` (0 = same direction)."""
            from .functions import cosine_distance

            return cosine_distance(self.expr, other)

        def l2(self, other: Any) -> "ColumnElement[float]":
            """Euclidean (L2) distance."""
            from .functions import l2_distance

            return l2_distance(self.expr, other)

        def inner_product(self, other: Any) -> "ColumnElement[float]":
            """Dot product; larger means more similar (order descending)."""
            from .functions import inner_product

            return inner_product(self.expr, other)

        def max_inner_product(self, other: Any) -> "ColumnElement[float]":
            """Negative dot product, so ascending order puts the most similar first."""
            from .functions import max_inner_product

            return max_inner_product(self.expr, other)

        def l1(self, other: Any) -> "ColumnElement[float]":
            """Manhattan (L1) distance."""
            from .functions import l1_distance

            return l1_distance(self.expr, other)

        # pgvector-python spellings, same expressions.
        cosine_distance = cosine
        l2_distance = l2
        l1_distance = l1

    comparator_factory = Comparator

    def __init__(self, dim: int) -> None:
        checked = whole_number(dim)
        if checked is None or checked < 1:
            raise InvalidVectorError(
                f"Vector(dim) expects a positive integer number of dimensions, got {dim!r}"
            )
        super().__init__()
        self.dim = checked
        self._column: Any = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.dim})"

    @property
    def python_type(self) -> type:
        return np.ndarray

    # -- naming the column in error messages ---------------------------------

    def _set_parent(self, parent: Any, outer: bool = False, **kw: Any) -> None:
        # Called by SQLAlchemy when the type is attached to a Column (the same
        # hook Enum uses).  Column copies copy the type, so this is per column.
        super()._set_parent(parent, outer=outer, **kw)
        self._column = parent
        check_storable_before_create(parent)

    @property
    def described_as(self) -> str:
        """How error messages refer to values of this type, e.g. ``column 'docs.embedding' (Vector(3))``."""
        return self._describe()

    def _describe(self) -> str:
        column = self._column
        if column is None:
            return f"{self!r} value"
        table = getattr(column, "table", None)
        name = f"{table.name}.{column.name}" if table is not None and hasattr(table, "name") else str(column.name)
        return f"column '{name}' ({self!r})"

    # -- SQLAlchemy hooks ------------------------------------------------------

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        from .dialects.base import backend_for, only_printing

        if only_printing(dialect):
            return self.impl_instance
        backend = backend_for(dialect)
        limit = backend.capabilities.max_dimension
        if limit is not None and self.dim > limit:
            raise DimensionLimitError(
                f"{self._describe().replace(' value', '')} has more dimensions than {backend.capabilities.storage_provider} "
                f"stores ({limit} at most); reduce the embedding size (e.g. a model with fewer dimensions, "
                "or truncate Matryoshka embeddings)"
            )
        return dialect.type_descriptor(backend.storage_type(self.dim))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Optional[npt.NDArray[np.float32]]:
        if value is None:
            from .dialects.base import find_backend

            backend = find_backend(dialect)
            if backend is not None and not backend.capabilities.null_vectors:
                raise InvalidVectorError(
                    f"{self._describe()} got None, and {backend.capabilities.storage_provider} stores no NULL "
                    "vector; give a vector (to a row, or as a query), or keep vectors in a separate table keyed by the "
                    "row's id"
                )
            return None
        # The column's description is built only if the value is rejected: this runs per bound value.
        return to_float32(value, self.dim, self._describe)

    def process_literal_param(self, value: Any, dialect: Dialect) -> Any:
        from .dialects.base import only_printing, vector_to_text

        checked = self.process_bind_param(value, dialect)
        if only_printing(dialect) and checked is not None:
            # str(statement.compile(compile_kwargs={"literal_binds": True})): the backends' text form, which the
            # generic binary type (the type printed without a database) quotes.
            return vector_to_text(checked).encode()
        return checked  # the backend's own literal form is written from the checked array

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return read_only(value)

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        return self

    def compare_values(self, x: Any, y: Any) -> bool:
        """Whether two values store the same vector (the ORM's change detection; arrays have no plain ``==``).

        Compared as float32, as stored: the list ``[0.1, 0.2]`` a row was saved
        from equals the float32 array loaded back, so assigning it again (or
        ``Session.merge`` of an object built from it) writes nothing.
        """
        return same_stored(x, y, lambda value: to_float32(value, None))


def same_stored(x: Any, y: Any, stored: Callable[[Any], Any]) -> bool:
    """Whether ``x`` and ``y`` are the same value once converted by ``stored`` (what the column would store).

    A value ``stored`` refuses is a change: the flush then writes it and reports the error.
    """
    if x is None or y is None:
        return x is y
    try:
        a, b = stored(x), stored(y)
    except InvalidVectorError:
        return False
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and bool(np.array_equal(a, b))
    return bool(a == b)
