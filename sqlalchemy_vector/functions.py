"""Distance functions between vectors, compiled per dialect.

Each function is a SQL expression returning a float.  The dialect modules in
:mod:`sqlalchemy_vector.dialects` register how each one renders; a dialect
without a rule raises :class:`~sqlalchemy_vector.exc.UnsupportedDialectError`
when the statement compiles.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Dict, Optional

from sqlalchemy import Float, literal, type_coerce
from sqlalchemy import types as sqltypes
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.sql.sqltypes import NullType

from .exc import DimensionMismatchError, InvalidArgumentError, InvalidVectorError, UnsupportedDialectError
from .types import Vector, to_float32

__all__ = [
    "VectorDistance",
    "cosine_distance",
    "l2_distance",
    "inner_product",
    "max_inner_product",
    "l1_distance",
    "METRICS",
    "SIMILARITY_FUNCTIONS",
    "distance",
]

#: Zero vectors have no direction; their cosine distance is defined as the maximum, 2.0, on every backend.
ZERO_VECTOR_COSINE_DISTANCE = 2.0


class CosineDistanceType(sqltypes.TypeDecorator[float]):
    """Float result of a cosine distance; pgvector's NaN for a zero vector reads back as 2.0."""

    impl = Float
    cache_ok = True

    def process_result_value(self, value: Optional[float], dialect: Dialect) -> Optional[float]:
        if value is not None and math.isnan(value):
            return ZERO_VECTOR_COSINE_DISTANCE
        return value


def _vector_type(expr: Any) -> Optional[Vector]:
    expr_type = getattr(expr, "type", None)
    return expr_type if isinstance(expr_type, Vector) else None


def _unwrap(value: Any) -> Any:
    # ORM attributes and other clause-like objects become their SQL expression.
    return value.__clause_element__() if hasattr(value, "__clause_element__") else value


def _is_sql(value: Any) -> bool:
    return isinstance(value, ColumnElement)


#: SQL types no backend reads as a vector: a distance refuses an expression of one when it is built.
_SCALAR_TYPES = (
    sqltypes.Integer, sqltypes.Numeric, sqltypes.Boolean, sqltypes.DateTime, sqltypes.Date, sqltypes.Time,
    sqltypes.Interval,
)


def _shown(expr: ColumnElement[Any]) -> str:
    """A SQL argument as an error message names it: ``table.column``, its name, or its kind."""
    table, name = getattr(expr, "table", None), getattr(expr, "name", None)
    if isinstance(name, str) and table is not None and isinstance(getattr(table, "name", None), str):
        return f"{table.name}.{name}"
    return name if isinstance(name, str) else f"a {type(expr).__name__}"


class VectorDistance(GenericFunction[float]):
    """Base of the distance functions: ``fn(a, b)`` over two vectors.

    Either argument may be a SQL expression (a column, a scalar subquery) or a
    Python vector; Python vectors are validated now and bound with the other
    side's :class:`Vector` type.
    """

    _register = False
    inherit_cache = True
    type = Float()

    #: Metric key the dialect modules render, e.g. ``"cosine"``.
    metric: ClassVar[str]

    def __init__(self, a: Any, b: Any, **kwargs: Any) -> None:
        if not hasattr(type(self), "metric"):
            raise InvalidArgumentError(
                f"{type(self).__name__} is the base of the distance functions and has no metric; use "
                "cosine_distance(a, b), l2_distance, inner_product or l1_distance, or distance(metric, a, b)"
            )
        a, b = _unwrap(a), _unwrap(b)
        self._refuse_compact(a, b)
        for argument in (a, b):
            if _is_sql(argument) and issubclass(argument.type._type_affinity or NullType, _SCALAR_TYPES):
                raise InvalidVectorError(
                    f"{self.name}() compares two vectors, got {_shown(argument)} of type {argument.type}; pass a "
                    "Vector column or expression, or a Python vector (a list or numpy array)"
                )
        vtype = _vector_type(a) or _vector_type(b)
        if vtype is None and not _is_sql(a) and not _is_sql(b):
            # Two Python vectors: the first one's length types both (the second must match it).
            where = f"the first argument of {self.name}()"
            first = to_float32(a, None, where)
            if not first.shape[0]:
                raise InvalidVectorError(f"{where} is an empty vector; a distance needs vectors of one dimension or more")
            vtype = Vector(first.shape[0])
        a_type, b_type = _vector_type(a), _vector_type(b)
        if a_type is not None and b_type is not None and a_type.dim != b_type.dim:
            raise DimensionMismatchError(
                f"{self.name}() compares {a_type.described_as} with {b_type.described_as}: "
                f"expected the same dimensions, got {a_type.dim} and {b_type.dim}"
            )
        args = [self._bind(value, vtype) for value in (a, b)]
        self.dim: Optional[int] = vtype.dim if vtype is not None else None
        super().__init__(*args, **kwargs)

    def _refuse_compact(self, a: Any, b: Any) -> None:
        """A compact kind on either side (a ``HalfVector`` column) is the kind's own distance, never this one."""
        from .kinds import CompactVector, mixed_kinds

        compact = next((t for t in (getattr(x, "type", None) for x in (a, b)) if isinstance(t, CompactVector)), None)
        if compact is None:
            return
        other = next((x.type for x in (a, b) if _is_sql(x) and x.type is not compact), None)
        if isinstance(other, Vector):
            raise mixed_kinds(self.metric, compact, other)
        metric = {"inner_product": "max_inner_product"}.get(self.metric, self.metric)
        metric = metric if metric in compact.metrics else compact.metrics[0]
        raise InvalidVectorError(
            f"{self.name}() ranks Vector expressions, not {compact.described_as}; use the kind's own distances "
            f"({', '.join(compact.metrics)}), e.g. column.{metric}(q) or distance({metric!r}, column, q)"
        )

    def _bind(self, value: Any, vtype: Optional[Vector]) -> Any:
        if isinstance(value, BindParameter) and value.type._isnull and vtype is not None:
            # bindparam("q") without a type: bound as the other side's vector, as a comparison with == binds it.
            return type_coerce(value, vtype)
        if _is_sql(value):
            return value
        if vtype is None:
            raise InvalidVectorError(
                f"{self.name}() needs a Vector column or expression on one side to know how to bind "
                f"{type(value).__name__}; compare against a Vector column or use literal(value, Vector(n))"
            )
        array = to_float32(value, vtype.dim, vtype.described_as)
        if self.metric == "cosine" and not array.any():
            raise InvalidVectorError(
                f"{self.name}() of {vtype.described_as}: the query vector is all zeros, "
                "which has no direction; use l2 or inner_product, or check the embedding input"
            )
        return literal(array, vtype)

    @property
    def left(self) -> ColumnElement[Any]:
        return self.clauses.clauses[0]  # type: ignore[return-value]

    @property
    def right(self) -> ColumnElement[Any]:
        return self.clauses.clauses[1]  # type: ignore[return-value]


class cosine_distance(VectorDistance):
    """Cosine distance, ``1 - cosine similarity``, in ``[0, 2]``; 2.0 where either vector is all zeros."""

    _register = False
    inherit_cache = True
    metric = "cosine"
    type = CosineDistanceType()  # type: ignore[assignment]


class l2_distance(VectorDistance):
    """Euclidean (L2) distance."""

    _register = False
    inherit_cache = True
    metric = "l2"


class inner_product(VectorDistance):
    """Dot product; larger means more similar."""

    _register = False
    inherit_cache = True
    metric = "inner_product"


class max_inner_product(VectorDistance):
    """Negative dot product (pgvector's ``<#>``): ascending order puts the most similar first."""

    _register = False
    inherit_cache = True
    metric = "max_inner_product"


class l1_distance(VectorDistance):
    """Manhattan (L1) distance."""

    _register = False
    inherit_cache = True
    metric = "l1"


_BY_METRIC: dict[str, type[VectorDistance]] = {
    cls.metric: cls for cls in (cosine_distance, l2_distance, inner_product, max_inner_product, l1_distance)
}
METRICS: tuple[str, ...] = tuple(_BY_METRIC)


#: ``similarity_function`` values, and the distance metric each ranks by: the metric names of
#: :data:`sqlalchemy_vector.METRICS` and :class:`~sqlalchemy_vector.VectorIndex`, with their common aliases.
SIMILARITY_FUNCTIONS: Dict[str, str] = {
    "cosine": "cosine",
    "l2": "l2",
    "euclidean": "l2",
    "inner_product": "max_inner_product",
    "max_inner_product": "max_inner_product",
    "ip": "max_inner_product",
    "l1": "l1",
    "manhattan": "l1",
}


def distance(metric: str, a: Any, b: Any) -> VectorDistance:
    """Build the distance function named by ``metric`` (one of :data:`METRICS`).

    Between compact vectors (a :class:`~sqlalchemy_vector.HalfVector` column,
    say) it is the kind's own distance, so code ranking any embedding column
    needs no second path.
    """
    from .exc import UnsupportedMetricError
    from .kinds import CompactVector, KindDistance

    compact = any(isinstance(getattr(_unwrap(x), "type", None), CompactVector) for x in (a, b))
    if metric in ("hamming", "jaccard") and not compact:
        typed = next((_unwrap(x) for x in (a, b) if _is_sql(_unwrap(x))), None)
        if typed is not None and not isinstance(typed.type, Vector):
            # A reflected bit(n) / BIT column stays a plain bit string: say how to call it a bit vector.
            raise UnsupportedMetricError(
                f"{metric} is a distance between BitVector columns, got '{typed}' of type {typed.type!r}; declare "
                "the column BitVector(n) (reflection keeps PostgreSQL's bit(n) and DuckDB's BIT as plain bit "
                "strings), or pass type_coerce(column, BitVector(n))"
            )
        raise UnsupportedMetricError(
            f"{metric} is a distance between bit vectors (BitVector columns), not float vectors; "
            f"rank a Vector by one of {', '.join(METRICS)}"
        )
    if metric in ("hamming", "jaccard"):
        return KindDistance(metric, a, b)  # type: ignore[return-value]  # a compact column's, checked above
    try:
        cls = _BY_METRIC[metric]
    except (KeyError, TypeError):
        raise UnsupportedMetricError(
            f"unknown vector metric {metric!r}; expected one of {', '.join(METRICS)}"
        ) from None
    if compact:
        if metric == "inner_product":
            raise UnsupportedMetricError(
                "compact vectors have no inner_product (larger is closer); use max_inner_product, the negative "
                "dot product in ascending order, which ranks the same"
            )
        return KindDistance(metric, a, b)  # type: ignore[return-value]  # the same left/right/dim interface
    return cls(a, b)


@compiles(VectorDistance)
def _compile_distance(element: VectorDistance, compiler: SQLCompiler, **kw: Any) -> str:
    from .dialects.base import find_backend, supported_dialects

    backend = find_backend(compiler.dialect)
    if backend is not None:
        return backend.compile_distance(element, compiler, **kw)
    if compiler.dialect.name == "default":
        # str(statement) without a dialect: readable, not executable anywhere.
        return f"{element.name}({compiler.process(element.left, **kw)}, {compiler.process(element.right, **kw)})"
    raise UnsupportedDialectError(
        f"{element.name}() cannot be compiled for the {compiler.dialect.name!r} dialect; "
        f"sqlalchemy_vector supports {', '.join(supported_dialects())} and dialects derived from them"
    )
