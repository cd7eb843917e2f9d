"""Compact vector kinds beside :class:`~sqlalchemy_vector.Vector`: half precision, int8, binary and sparse.

Each kind is a column type with the same rules as ``Vector`` (a declared
dimension, values validated before they reach the database, NULL as ``None``)
and the distances its backends have:

- :class:`HalfVector` stores float16 and returns ``numpy.float16`` arrays;
- :class:`Int8Vector` stores integers in ``[-128, 127]`` and returns ``numpy.int8`` arrays;
- :class:`BitVector` stores bits and returns ``numpy.bool_`` arrays (Hamming and Jaccard distances);
- :class:`SparseVector` stores the non-zero elements and returns :class:`SparseValue`.

A backend stores a kind only in a native form that reads back identically;
elsewhere the column's DDL raises :class:`~sqlalchemy_vector.exc.UnsupportedKindError`
(the backend's ``Capabilities.missing_kinds`` says why).

:class:`QuantizedDistance` is the distance a quantized
:class:`~sqlalchemy_vector.VectorIndex` serves over a full-precision column.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Mapping, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt
from sqlalchemy import Float, literal, type_coerce
from sqlalchemy import types as sqltypes
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.sql.type_api import TypeEngine

from .exc import (
    DimensionLimitError,
    DimensionMismatchError,
    InvalidArgumentError,
    InvalidVectorError,
    UnsupportedDialectError,
    UnsupportedKindError,
    UnsupportedMetricError,
)
from .functions import CosineDistanceType
from .types import (
    Vector,
    _name,
    _preview,
    check_norm,
    check_storable_before_create,
    empty_in,
    read_only,
    same_stored,
    to_float32,
    whole_number,
)

__all__ = [
    "KINDS",
    "QUANTIZATIONS",
    "HalfVector",
    "Int8Vector",
    "BitVector",
    "SparseVector",
    "SparseValue",
    "KindDistance",
    "QuantizedDistance",
    "hamming_distance",
    "jaccard_distance",
    "reflected_kind",
    "same_kind_type",
    "PRECISIONS",
    "precision_type",
    "precision_of",
    "stored_kind",
    "kind_type",
]

#: The compact kinds, as capability data names them.
KINDS: Tuple[str, ...] = ("half", "int8", "bit", "sparse")

#: Quantizations a :class:`~sqlalchemy_vector.VectorIndex` can build over a ``Vector`` column.
QUANTIZATIONS: Tuple[str, ...] = ("half", "binary")

#: The compact kind each quantization indexes.
QUANTIZED_KINDS: Dict[str, str] = {"half": "half", "binary": "bit"}

#: Precisions an embedding column can be stored in (see :func:`precision_type`): ``float32`` is
#: :class:`~sqlalchemy_vector.Vector`, ``half`` a :class:`HalfVector`, as capability data names its kind.
PRECISIONS: Dict[str, Optional[str]] = {"float32": None, "half": "half"}

#: The float distances of the numeric kinds, and the set distances of bits.
NUMERIC_METRICS: Tuple[str, ...] = ("cosine", "l2", "max_inner_product", "l1")
BIT_METRICS: Tuple[str, ...] = ("hamming", "jaccard")

_FLOAT16_MAX = float(np.finfo(np.float16).max)


class SparseValue:
    """A sparse vector: its dimension and its non-zero elements (0-based indices, ascending).

    Build one from a dict (``SparseValue.from_dict({0: 1.5, 7: -2.0}, 10)``)
    or a dense array (``SparseValue.from_dense(array)``); ``to_numpy()`` gives
    the dense float32 array back.  Zeros are not stored, so two values are equal
    when their dense forms are.
    """

    __slots__ = ("dim", "indices", "values")

    def __init__(self, dim: int, indices: Any, values: Any) -> None:
        # Checked, not converted: int64 would truncate an index of 1.5 to 1, and store the value elsewhere.
        checked = whole_number(dim)
        if checked is None or checked < 0:
            raise InvalidVectorError(f"SparseValue expects a whole number of dimensions, got {dim!r}")
        given_indices, given_values = np.asarray(indices), np.asarray(values)
        if given_indices.size and given_indices.dtype.kind not in "iu":
            raise InvalidVectorError(
                f"SparseValue expects integer indices, got {_preview(indices)} (dtype {given_indices.dtype}); "
                "give 0-based positions as ints"
            )
        if given_values.size and given_values.dtype.kind not in "iuf":
            raise InvalidVectorError(
                f"SparseValue expects numeric values, got {_preview(values)} (dtype {given_values.dtype}); "
                "give floats (booleans are not read as 0/1)"
            )
        if given_indices.ndim != 1 or given_indices.shape != given_values.shape:
            raise InvalidVectorError(
                f"SparseValue has {given_indices.size} indices and {given_values.size} values; give one value per "
                "index, both as flat sequences"
            )
        with np.errstate(over="ignore", invalid="ignore"):
            values = given_values.astype(np.float32)
        beyond = np.isinf(values) & np.isfinite(given_values)
        if beyond.any():
            at = int(np.flatnonzero(beyond)[0])
            raise InvalidVectorError(
                f"SparseValue value {float(given_values[at])!r} (for index {int(given_indices[at])}) is beyond the float32 "
                "range (|x| <= 3.4e38); scale the vector (e.g. normalize it to norm 1)"
            )
        self.dim = checked
        self.indices: npt.NDArray[np.int64] = given_indices.astype(np.int64)
        self.values: npt.NDArray[np.float32] = values

    @classmethod
    def from_dict(cls, elements: Mapping[int, float], dim: int) -> "SparseValue":
        """From ``{index: value}`` (0-based); zero values are dropped."""
        items = sorted((i, v) for i, v in elements.items() if v != 0)
        return cls(dim, [i for i, _ in items], [v for _, v in items])

    @classmethod
    def from_dense(cls, array: Any) -> "SparseValue":
        """From a dense 1-D array; its length is the dimension."""
        dense = to_float32(array, None, "SparseValue.from_dense() input")
        indices = np.flatnonzero(dense)
        return cls(dense.shape[0], indices, dense[indices])

    def to_dict(self) -> Dict[int, float]:
        """``{index: value}`` of the non-zero elements."""
        return {int(i): float(v) for i, v in zip(self.indices, self.values)}

    def to_numpy(self) -> npt.NDArray[np.float32]:
        """The dense float32 array."""
        dense = np.zeros(self.dim, dtype=np.float32)
        dense[self.indices] = self.values
        return dense

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SparseValue):
            return NotImplemented
        return (
            self.dim == other.dim
            and np.array_equal(self.indices, other.indices)
            and np.array_equal(self.values, other.values)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SparseValue({self.dim}, {self.to_dict()!r})"


# -- validation, one function per kind ----------------------------------------------------------

Where = Union[str, Any]


def to_half(value: Any, dim: Optional[int], where: Where = "half vector value") -> npt.NDArray[np.float16]:
    """Validate ``value`` like a ``Vector`` value, and check it fits float16 (at most 65504 in magnitude)."""
    array = to_float32(value, dim, where, "HalfVector")
    if array.size and float(np.abs(array).max()) > _FLOAT16_MAX:
        bad = int(np.flatnonzero(np.abs(array) > _FLOAT16_MAX)[0])
        raise InvalidVectorError(
            f"{_name(where)} expects values within the float16 range (|x| <= 65504), got {array[bad]!r} at index "
            f"{bad}; scale the vector (e.g. normalise it) or store it in a Vector column"
        )
    half = array.astype(np.float16)
    if array.any() and not half.any():
        raise InvalidVectorError(
            f"{_name(where)} has no element float16 can hold apart from 0 (the largest is "
            f"{float(np.abs(array).max()):.3g}; float16 keeps magnitudes from 6e-8): it would be stored as a zero "
            "vector; scale the vector (e.g. normalise it) or store it in a Vector column"
        )
    return half


def to_int8(value: Any, dim: Optional[int], where: Where = "int8 vector value") -> npt.NDArray[np.int8]:
    """Validate ``value`` as whole numbers from -128 to 127 (floats with a fraction are refused, not rounded)."""
    array = to_float32(value, dim, where, "Int8Vector")
    # Judged on the numbers as given: float32 would round 1.00000001 to 1.0.
    given = np.asarray(value, dtype=np.float64) if np.asarray(value).dtype.kind == "f" else array
    bad = np.flatnonzero((given != np.round(given)) | (given < -128) | (given > 127))
    if bad.size:
        raise InvalidVectorError(
            f"{_name(where)} expects whole numbers from -128 to 127, got {given[bad[0]]!r} at index {int(bad[0])}; "
            "quantize the embedding first (e.g. np.clip(np.round(x * 127), -128, 127))"
        )
    return array.astype(np.int8)


def to_bits(value: Any, dim: Optional[int], where: Where = "bit vector value") -> npt.NDArray[np.bool_]:
    """Validate ``value`` as bits: booleans, or the integers 0 and 1."""
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        raise InvalidVectorError(
            f"{_name(where)} expects a sequence of booleans (or 0/1), got {type(value).__name__} {_preview(value)}; "
            "pass a list or numpy array of bools (numpy.unpackbits turns packed bytes into one)"
        )
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise InvalidVectorError(f"{_name(where)} expects a flat sequence of bits, got {_preview(value)} ({err})") from None
    if array.ndim != 1:
        raise InvalidVectorError(f"{_name(where)} expects a 1-D vector of bits, got an array of shape {array.shape}")
    if array.dtype.kind != "b" and array.size:  # an empty list reads as float64: its length is what is wrong
        if array.dtype.kind not in "iu":
            raise InvalidVectorError(
                f"{_name(where)} expects booleans or the integers 0 and 1, got dtype {array.dtype} in "
                f"{_preview(value)}; binarize first (e.g. embedding > 0)"
            )
        if array.size and not np.isin(array, (0, 1)).all():
            bad = int(np.flatnonzero(~np.isin(array, (0, 1)))[0])
            raise InvalidVectorError(
                f"{_name(where)} expects bits (0 or 1), got {array[bad]!r} at index {bad}; binarize first (e.g. embedding > 0)"
            )
    if dim is not None and array.shape[0] != dim:
        raise DimensionMismatchError(
            f"{_name(where)} expects {dim} bits, got {array.shape[0]}; "
            + (
                f"declare BitVector({array.shape[0]}) or binarize vectors of the declared dimension"
                if array.shape[0]
                else "an empty vector has none: give the bits, or leave the row's vector out"
            )
        )
    return array.astype(np.bool_)


def to_sparse(value: Any, dim: int, where: Where = "sparse vector value") -> SparseValue:
    """Validate ``value`` as a sparse vector: a :class:`SparseValue`, a ``{index: value}`` dict or a dense array."""
    if isinstance(value, SparseValue):
        sparse = value
    elif isinstance(value, Mapping):
        bad_keys = [k for k in value if isinstance(k, bool) or not isinstance(k, (int, np.integer))]
        if bad_keys:
            raise InvalidVectorError(
                f"{_name(where)} expects integer indices as dict keys, got {bad_keys[0]!r}; use {{index: value}}"
            )
        for index, item in value.items():  # named by its index, as below, not by its place in the dict
            if isinstance(item, (float, np.floating)) and not np.isfinite(item):
                raise InvalidVectorError(
                    f"{_name(where)} expects finite numbers, got {float(item)!r} at index {index}; replace NaN and "
                    "infinite values before storing"
                )
        values = to_float32(list(value.values()), None, where)
        sparse = SparseValue.from_dict(dict(zip(value.keys(), values.tolist())), dim)
    elif all(hasattr(value, name) for name in ("indices", "values", "dimensions")) and callable(value.indices):
        # pgvector-python's SparseVector (0-based indices too)
        sparse = SparseValue(value.dimensions(), value.indices(), value.values())
    else:
        sparse = SparseValue.from_dense(to_float32(value, dim, where, "SparseVector"))
    if sparse.indices.ndim != 1 or sparse.indices.shape != sparse.values.shape:
        raise InvalidVectorError(
            f"{_name(where)} has {sparse.indices.size} indices and {sparse.values.size} values; "
            "give one value per index, both as flat sequences"
        )
    if sparse.dim != dim:
        raise DimensionMismatchError(
            f"{_name(where)} expects {dim} dimensions, got {sparse.dim}; declare SparseVector({sparse.dim}) "
            "or use vectors of the declared dimension"
        )
    finite = np.isfinite(sparse.values)
    if not finite.all():  # named by its index in the vector, not its place among the stored values
        at = int(np.flatnonzero(~finite)[0])
        raise InvalidVectorError(
            f"{_name(where)} expects finite numbers, got {float(sparse.values[at])!r} at index "
            f"{int(sparse.indices[at])}; replace NaN and infinite values before storing"
        )
    check_norm(sparse.values, where)  # however the value came: a dict, a SparseValue
    if sparse.indices.size and (sparse.indices.min() < 0 or sparse.indices.max() >= dim):
        bad = int(sparse.indices[(sparse.indices < 0) | (sparse.indices >= dim)][0])
        raise InvalidVectorError(
            f"{_name(where)} has index {bad}, outside 0..{dim - 1} (indices count from 0); give indices below "
            f"{dim}, or declare SparseVector(n) with n above {bad}"
        )
    if np.any(np.diff(sparse.indices) <= 0):
        order = np.argsort(sparse.indices, kind="stable")
        if np.any(np.diff(sparse.indices[order]) == 0):
            raise InvalidVectorError(f"{_name(where)} repeats an index; give each index once")
        sparse = SparseValue(dim, sparse.indices[order], sparse.values[order])
    keep = sparse.values != 0
    return sparse if keep.all() else SparseValue(dim, sparse.indices[keep], sparse.values[keep])


# -- the column types ----------------------------------------------------------------------------


class CompactVector(sqltypes.TypeDecorator[Any]):
    """Base of the compact kinds: a declared dimension, validation, and the backend's storage type."""

    impl = sqltypes.LargeBinary
    cache_ok = True

    #: The kind, as capability data names it.
    kind: ClassVar[str]

    class Comparator(sqltypes.TypeDecorator.Comparator[Any]):
        """Distances of a compact vector expression (each backend has some of them)."""

        def operate(self, op: Any, *other: Any, **kwargs: Any) -> "ColumnElement[Any]":
            empty = empty_in(self.expr, op, other)
            return empty if empty is not None else super().operate(op, *other, **kwargs)

        def cosine(self, other: Any) -> "ColumnElement[float]":
            """Cosine distance, ``1 - cosine similarity``."""
            return KindDistance("cosine", self.expr, other)

        def l2(self, other: Any) -> "ColumnElement[float]":
            """Euclidean (L2) distance."""
            return KindDistance("l2", self.expr, other)

        def max_inner_product(self, other: Any) -> "ColumnElement[float]":
            """Negative dot product, so ascending order puts the most similar first."""
            return KindDistance("max_inner_product", self.expr, other)

        def l1(self, other: Any) -> "ColumnElement[float]":
            """Manhattan (L1) distance."""
            return KindDistance("l1", self.expr, other)

        def hamming(self, other: Any) -> "ColumnElement[float]":
            """Number of differing bits (bit vectors)."""
            return KindDistance("hamming", self.expr, other)

        def jaccard(self, other: Any) -> "ColumnElement[float]":
            """``1 - |a & b| / |a | b|`` (bit vectors)."""
            return KindDistance("jaccard", self.expr, other)

        cosine_distance = cosine
        l2_distance = l2
        l1_distance = l1
        hamming_distance = hamming
        jaccard_distance = jaccard

    comparator_factory = Comparator

    #: The distances this kind has somewhere.
    metrics: ClassVar[Tuple[str, ...]] = NUMERIC_METRICS

    def __init__(self, dim: int) -> None:
        checked = whole_number(dim)
        if checked is None or checked < 1:
            raise InvalidVectorError(
                f"{type(self).__name__}(dim) expects a positive integer number of dimensions, got {dim!r}"
            )
        super().__init__()
        self.dim = checked
        self._column: Any = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.dim})"

    def _set_parent(self, parent: Any, outer: bool = False, **kw: Any) -> None:
        super()._set_parent(parent, outer=outer, **kw)
        self._column = parent
        check_storable_before_create(parent)

    @property
    def described_as(self) -> str:
        """How error messages refer to values of this type."""
        column = self._column
        if column is None:
            return f"{self!r} value"
        table = getattr(column, "table", None)
        name = f"{table.name}.{column.name}" if table is not None and hasattr(table, "name") else str(column.name)
        return f"column '{name}' ({self!r})"

    def _describe(self) -> str:
        return self.described_as

    def validate(self, value: Any, where: Optional[Where] = None) -> Any:
        """The value as this kind stores it, or the error saying why it cannot be stored.

        ``where`` names the value in that error (default: the column, :attr:`described_as`).
        """
        raise NotImplementedError

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        from .dialects.base import backend_for, only_printing

        if only_printing(dialect):
            return self.impl_instance
        backend = backend_for(dialect)
        stored = backend.kind_storage_type(self.kind, self.dim)  # raises UnsupportedKindError where not stored
        limit = backend.capabilities.kind_max_dimension.get(self.kind)
        if limit is not None and self.dim > limit:
            raise DimensionLimitError(
                f"{self.described_as.replace(' value', '')} has more dimensions than {backend.name} stores in "
                f"{self.kind} vectors ({limit} at most); declare at most {limit} (e.g. a model with fewer dimensions, "
                "or truncated Matryoshka embeddings)"
            )
        return dialect.type_descriptor(stored)

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else self.validate(value)

    def process_literal_param(self, value: Any, dialect: Dialect) -> Any:
        from .dialects.base import only_printing

        checked = self.process_bind_param(value, dialect)
        if only_printing(dialect) and checked is not None:
            shown = checked.to_dict() if isinstance(checked, SparseValue) else np.asarray(checked).tolist()
            return str(shown).encode()  # str() with literal_binds: readable, quoted by the generic binary type
        return checked

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        # Read-only, as Vector's (types.read_only): a value changed in place would never be written.
        if isinstance(value, SparseValue):
            read_only(value.indices)
            read_only(value.values)
            return value
        return read_only(value)

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        return self

    @property
    def python_type(self) -> type:
        return np.ndarray  # SparseVector: SparseValue

    def compare_values(self, x: Any, y: Any) -> bool:
        """Whether two values store the same vector, compared as this kind stores them (see ``Vector``'s)."""
        return same_stored(x, y, self.validate)


class HalfVector(CompactVector):
    """A float16 vector column (``halfvec(dim)`` on PostgreSQL): half the size of ``Vector``.

    Accepts what ``Vector`` accepts, within float16's range (|x| <= 65504),
    rounds to float16 before storing, and returns ``numpy.float16`` arrays.
    """

    kind = "half"
    cache_ok = True

    def validate(self, value: Any, where: Optional[Where] = None) -> npt.NDArray[np.float16]:
        return to_half(value, self.dim, where or self._describe)


class Int8Vector(CompactVector):
    """An int8 vector column (sqlite-vec's ``int8[dim]``): whole numbers from -128 to 127, as ``numpy.int8``."""

    kind = "int8"
    cache_ok = True

    def validate(self, value: Any, where: Optional[Where] = None) -> npt.NDArray[np.int8]:
        return to_int8(value, self.dim, where or self._describe)


class BitVector(CompactVector):
    """A binary vector column (``bit(dim)`` on PostgreSQL, a ``BIT`` string on DuckDB, packed bytes on SQLite).

    Accepts booleans or 0/1, returns ``numpy.bool_`` arrays; distances
    :meth:`~CompactVector.Comparator.hamming` and ``jaccard``.
    """

    kind = "bit"
    cache_ok = True
    metrics = BIT_METRICS

    def validate(self, value: Any, where: Optional[Where] = None) -> npt.NDArray[np.bool_]:
        return to_bits(value, self.dim, where or self._describe)


class SparseVector(CompactVector):
    """A sparse vector column (``sparsevec(dim)`` on PostgreSQL), read and written as :class:`SparseValue`.

    Accepts a :class:`SparseValue`, a ``{index: value}`` dict (0-based), a dense
    array, or pgvector-python's ``SparseVector``.
    """

    kind = "sparse"
    cache_ok = True

    def validate(self, value: Any, where: Optional[Where] = None) -> SparseValue:
        return to_sparse(value, self.dim, where or self._describe)

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        from .dialects.base import find_backend

        checked = super().process_bind_param(value, dialect)
        backend = find_backend(dialect)
        limit = backend.capabilities.max_sparse_elements if backend is not None else None
        if backend is not None and limit is not None and checked is not None and checked.indices.size > limit:
            raise InvalidVectorError(
                f"{self.described_as} has {checked.indices.size} non-zero elements; {backend.name} stores at most "
                f"{limit} in a sparse vector; keep the {limit} largest in magnitude"
            )
        return checked

    @property
    def python_type(self) -> type:
        return SparseValue


def precision_type(precision: Any, dim: int, where: str = "precision") -> TypeEngine[Any]:
    """The column type storing embeddings of ``dim`` dimensions at ``precision`` (a key of :data:`PRECISIONS`)."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise InvalidArgumentError(
            f"{where} expects one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}; 'half' stores "
            "float16 (half the size, needs a backend with half vectors), 'float32' is the default"
        )
    kind = PRECISIONS[precision]
    return Vector(dim) if kind is None else _BY_KIND[kind](dim)  # type: ignore[no-any-return]


def precision_of(type_: Any) -> Optional[str]:
    """The precision an embedding column type stores (``float32`` or ``half``), or None for any other type."""
    if isinstance(type_, Vector):
        return "float32"
    if isinstance(type_, CompactVector):
        return next((p for p, kind in PRECISIONS.items() if kind == type_.kind), None)
    return None


# -- reflection and migrations -------------------------------------------------------------------

_BY_KIND: Dict[str, type] = {"half": HalfVector, "int8": Int8Vector, "bit": BitVector, "sparse": SparseVector}


def reflected_kind(kind: str) -> Any:
    """An ``ischema_names`` constructor: a type reflected as ``name(n)`` becomes the compact ``kind`` of n dimensions.

    Backends map only type names that mean this kind and nothing else
    (``halfvec``, not PostgreSQL's ordinary ``bit``).
    """
    cls = _BY_KIND[kind]

    def construct(*args: Any, **kw: Any) -> TypeEngine[Any]:
        if len(args) == 1 and int(args[0]) > 0:
            return cls(int(args[0]))  # type: ignore[no-any-return]
        return sqltypes.NullType()

    return construct


def same_kind_type(reflected: TypeEngine[Any], declared: "CompactVector", dialect: Dialect) -> bool:
    """Whether a reflected column type is the declared compact kind, as far as the database can tell.

    Both are compared by the DDL the dialect writes for them: a PostgreSQL
    ``bit(8)`` column reflects as the dialect's own ``BIT(8)`` (an ordinary
    bit string, which reflection must not call a vector), and is a
    ``BitVector(8)`` only where the model declares one.
    """
    if isinstance(reflected, CompactVector):
        return type(reflected) is type(declared) and reflected.dim == declared.dim
    compiler = dialect.type_compiler_instance
    try:
        return bool(compiler.process(reflected).upper() == compiler.process(declared).upper())
    except Exception:  # a type the dialect cannot write (NullType): not known to be the same
        return False


def stored_kind(reflected: TypeEngine[Any], dialect: Dialect) -> Optional[Tuple[str, int]]:
    """The compact kind and dimension a reflected column type stores, if it stores one.

    A type reflection already calls a kind (``halfvec(n)``) is that kind; a
    type that only the DDL tells apart (PostgreSQL's ``bit(n)``, reflected as
    an ordinary bit string) is a bit vector where the dialect writes
    ``BitVector(n)`` as that same type.  Used where a vector index on the
    column says it holds vectors.
    """
    if isinstance(reflected, CompactVector):
        return reflected.kind, reflected.dim
    length = getattr(reflected, "length", None)
    if isinstance(length, int) and not isinstance(length, bool) and length > 0:
        if same_kind_type(reflected, BitVector(length), dialect):
            return "bit", length
    return None


def kind_type(kind: str, dim: int) -> "CompactVector":
    """The column type of compact ``kind`` (a name in :data:`KINDS`) with ``dim`` dimensions."""
    return _BY_KIND[kind](dim)  # type: ignore[no-any-return]


def vector_column_type(kind: Optional[str], dim: int) -> "TypeEngine[Any]":
    """The declared type of a vector column of compact ``kind`` (None: a :class:`Vector`) with ``dim`` dimensions."""
    return Vector(dim) if kind is None else kind_type(kind, dim)


# -- distances ---------------------------------------------------------------------------------


def _unwrap(value: Any) -> Any:
    return value.__clause_element__() if hasattr(value, "__clause_element__") else value


def mixed_kinds(metric: str, compact: "CompactVector", other: TypeEngine[Any]) -> DimensionMismatchError:
    """The error for a distance between a compact kind and a vector of another kind (a ``Vector`` among them)."""
    described = getattr(other, "described_as", repr(other))
    return DimensionMismatchError(
        f"{metric} distance compares {compact.described_as} with {described}, a vector of another kind; "
        f"both sides must be {type(compact).__name__} vectors: pass the query as a Python value (it is "
        f"validated as {compact!r}), or compare with a column of the same kind"
    )


def _same_kind(expr: ColumnElement[Any], vtype: "CompactVector", metric: str) -> ColumnElement[Any]:
    """``expr`` as an argument of a distance on ``vtype``: refused if it is a vector of another kind.

    Checked here, when the expression is built, so every backend refuses it
    alike (SQLite would otherwise read the other kind's bytes as this one's).
    An untyped ``bindparam("q")`` is bound as ``vtype``, as with ``Vector``.
    """
    if isinstance(expr, BindParameter) and expr.type._isnull:
        return type_coerce(expr, vtype)
    other = expr.type
    if isinstance(other, Vector) or (
        isinstance(other, CompactVector) and (type(other) is not type(vtype) or other.dim != vtype.dim)
    ):
        raise mixed_kinds(metric, vtype, other)
    return expr


class KindDistance(GenericFunction[float]):
    """A distance between two compact vectors of one kind; one side may be a Python value."""

    _register = False
    inherit_cache = True
    type = Float()
    name = "kind_distance"

    #: The distance, set by one subclass per metric: SQLAlchemy's statement cache keys on the class.
    metric: ClassVar[str] = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> "KindDistance":
        if cls is KindDistance:  # KindDistance("hamming", a, b) builds the metric's own class
            return super().__new__(_BY_METRIC[args[0]])
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if type(self).metric and args and args[0] == type(self).metric and len(args) == 3:
            args = args[1:]
        a, b = (_unwrap(x) for x in args)
        metric = type(self).metric
        types_ = [getattr(x, "type", None) for x in (a, b)]
        kinds = [t for t in types_ if isinstance(t, CompactVector)]
        if not kinds:
            raise InvalidVectorError(
                f"{metric} distance needs a compact vector column on one side (HalfVector, Int8Vector, "
                "BitVector or SparseVector)"
            )
        vtype = kinds[0]
        if len(kinds) == 2 and type(kinds[1]) is not type(vtype):
            raise mixed_kinds(metric, vtype, kinds[1])
        if len(kinds) == 2 and kinds[1].dim != vtype.dim:
            raise DimensionMismatchError(
                f"{metric} distance compares {vtype.described_as} with {kinds[1].described_as}; "
                "expected the same dimension"
            )
        if metric not in vtype.metrics:
            raise UnsupportedMetricError(
                f"{vtype.described_as} has no {metric} distance; it has {', '.join(vtype.metrics)}"
            )
        self.kind = vtype.kind
        self.dim = vtype.dim
        arguments = []
        for x in (a, b):
            if isinstance(x, ColumnElement):
                arguments.append(_same_kind(x, vtype, metric))
                continue
            value = vtype.validate(x)
            nonzero = value.values if isinstance(value, SparseValue) else value
            if metric == "cosine" and not np.asarray(nonzero).any():
                raise InvalidVectorError(
                    f"cosine distance on {vtype.described_as}: the query vector is all zeros, which has no direction "
                    "under cosine; use l2 or max_inner_product, or check the embedding input"
                )
            arguments.append(literal(value, vtype))
        super().__init__(*arguments, **kwargs)

    @property
    def left(self) -> ColumnElement[Any]:
        return self.clauses.clauses[0]  # type: ignore[return-value]

    @property
    def right(self) -> ColumnElement[Any]:
        return self.clauses.clauses[1]  # type: ignore[return-value]


_BY_METRIC: Dict[str, type] = {
    metric: type(
        f"{metric}_kind_distance",
        (KindDistance,),
        # A zero vector's cosine distance reads as 2.0, as with Vector (pgvector returns NaN).
        {"metric": metric, "inherit_cache": True, "_register": False}
        | ({"type": CosineDistanceType()} if metric == "cosine" else {}),
    )
    for metric in NUMERIC_METRICS + BIT_METRICS
}


def hamming_distance(a: Any, b: Any) -> KindDistance:
    """Number of differing bits between two bit vectors."""
    return KindDistance("hamming", a, b)


def jaccard_distance(a: Any, b: Any) -> KindDistance:
    """Jaccard distance between two bit vectors."""
    return KindDistance("jaccard", a, b)


class QuantizedDistance(GenericFunction[float]):
    """The distance a quantized index serves: ``column`` and ``vector`` both quantized (``half`` or ``binary``).

    Ranks candidates only; the exact distance on the full vectors re-ranks them
    (see ``knn(..., rerank=n)``).
    """

    _register = False
    inherit_cache = True
    type = Float()
    name = "quantized_distance"

    #: Set by one subclass per quantization and metric: SQLAlchemy's statement cache keys on the class.
    quantization: ClassVar[str] = ""
    metric: ClassVar[str] = ""

    def __new__(cls, *args: Any, quantization: str = "", metric: str = "", **kwargs: Any) -> "QuantizedDistance":
        if cls is QuantizedDistance:
            return super().__new__(_QUANTIZED[(quantization, metric)])
        return super().__new__(cls)

    def __init__(self, column: Any, vector: Any, *, quantization: str = "", metric: str = "", **kwargs: Any) -> None:
        column = _unwrap(column)
        vtype = column.type
        if not isinstance(vtype, Vector):
            raise InvalidVectorError(f"a quantized distance needs a Vector column, got {column!r}")
        self.dim = vtype.dim
        query = vector if isinstance(vector, ColumnElement) else literal(to_float32(vector, vtype.dim, vtype.described_as), vtype)
        super().__init__(column, query, **kwargs)

    @property
    def left(self) -> ColumnElement[Any]:
        return self.clauses.clauses[0]  # type: ignore[return-value]

    @property
    def right(self) -> ColumnElement[Any]:
        return self.clauses.clauses[1]  # type: ignore[return-value]


_QUANTIZED: Dict[Tuple[str, str], type] = {
    (quantization, metric): type(
        f"{quantization}_{metric}_quantized_distance",
        (QuantizedDistance,),
        {"quantization": quantization, "metric": metric, "inherit_cache": True, "_register": False},
    )
    for quantization in QUANTIZATIONS
    for metric in NUMERIC_METRICS
}


def _backend(compiler: SQLCompiler, what: str) -> Any:
    from .dialects.base import find_backend, supported_dialects

    backend = find_backend(compiler.dialect)
    if backend is None:
        raise UnsupportedDialectError(
            f"{what} cannot be compiled for the {compiler.dialect.name!r} dialect; "
            f"sqlalchemy_vector supports {', '.join(supported_dialects())} and dialects derived from them"
        )
    return backend


@compiles(KindDistance)
def _compile_kind_distance(element: KindDistance, compiler: SQLCompiler, **kw: Any) -> str:
    if compiler.dialect.name == "default":
        return f"{element.metric}_distance({compiler.process(element.left, **kw)}, {compiler.process(element.right, **kw)})"
    backend = _backend(compiler, f"{element.metric} distance of {element.kind} vectors")
    metrics = backend.capabilities.vector_kinds.get(element.kind)
    if metrics is None:
        backend.kind_storage_type(element.kind, element.dim)  # raises UnsupportedKindError with the reason
    if element.metric not in (metrics or ()):
        raise UnsupportedMetricError(
            f"{backend.name} has no {element.metric} distance for {element.kind} vectors; it has {', '.join(metrics or ())}"
        )
    return str(backend.compile_kind_distance(element, compiler, **kw))


@compiles(QuantizedDistance)
def _compile_quantized_distance(element: QuantizedDistance, compiler: SQLCompiler, **kw: Any) -> str:
    if compiler.dialect.name == "default":
        return (
            f"{element.quantization}_{element.metric}({compiler.process(element.left, **kw)}, "
            f"{compiler.process(element.right, **kw)})"
        )
    backend = _backend(compiler, f"{element.quantization} quantized distance")
    if element.quantization not in backend.capabilities.index_quantizations:
        raise UnsupportedKindError(
            f"{backend.name} has no {element.quantization} quantized vector index: "
            f"{backend.capabilities.missing_quantization or 'none built'}"
        )
    return str(backend.compile_quantized_distance(element, compiler, **kw))
