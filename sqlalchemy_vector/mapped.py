"""Typed vector attributes: ``Doc.embedding.cosine(q)`` known to type checkers.

SQLAlchemy types a mapped attribute at class level as
``InstrumentedAttribute[T]``, whose comparator methods it cannot know, so
``Doc.embedding.cosine(q)`` is ``Any`` to mypy and pyright even though it runs.
Declaring the column with :func:`vector_column` and annotating it with
:class:`VectorMapped` (a subclass of ``Mapped`` that the declarative scan
accepts like ``Mapped`` itself) gives the attribute typed distance methods::

    class Doc(Base):
        __tablename__ = "docs"
        id: Mapped[int] = mapped_column(primary_key=True)
        embedding: sv.VectorMapped[npt.NDArray[np.float32]] = sv.vector_column(384)

    select(Doc).order_by(Doc.embedding.cosine(q))  # ColumnElement[float]

Nothing changes at run time: the column is an ordinary ``mapped_column`` and
the attribute an ordinary ``InstrumentedAttribute``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, Union, overload

from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column

from .kinds import CompactVector
from .types import Vector, whole_number

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

__all__ = ["CompactVectorAttribute", "CompactVectorMapped", "VectorAttribute", "VectorMapped", "vector_column"]

_T_co = TypeVar("_T_co", covariant=True)


class VectorAttribute(InstrumentedAttribute[_T_co]):
    """A :class:`~sqlalchemy_vector.Vector` attribute at class level, as type checkers see it.

    Only annotations use this class: at run time the attribute is the
    ``InstrumentedAttribute`` SQLAlchemy creates, whose comparator provides
    these methods (see :class:`sqlalchemy_vector.Vector.Comparator`).
    """

    __slots__ = ()

    if TYPE_CHECKING:

        def cosine(self, other: Any) -> ColumnElement[float]: ...
        def cosine_distance(self, other: Any) -> ColumnElement[float]: ...
        def l2(self, other: Any) -> ColumnElement[float]: ...
        def l2_distance(self, other: Any) -> ColumnElement[float]: ...
        def inner_product(self, other: Any) -> ColumnElement[float]: ...
        def max_inner_product(self, other: Any) -> ColumnElement[float]: ...
        def l1_distance(self, other: Any) -> ColumnElement[float]: ...


class CompactVectorAttribute(InstrumentedAttribute[_T_co]):
    """A compact-kind attribute (``HalfVector``, ``Int8Vector``, ``BitVector``, ``SparseVector``) at class level.

    Which distances a kind has on which backend is capability data; a missing
    one raises :class:`sqlalchemy_vector.exc.UnsupportedKindError` when compiled.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        def cosine(self, other: Any) -> ColumnElement[float]: ...
        def cosine_distance(self, other: Any) -> ColumnElement[float]: ...
        def l2(self, other: Any) -> ColumnElement[float]: ...
        def l2_distance(self, other: Any) -> ColumnElement[float]: ...
        def max_inner_product(self, other: Any) -> ColumnElement[float]: ...
        def l1_distance(self, other: Any) -> ColumnElement[float]: ...
        def hamming(self, other: Any) -> ColumnElement[float]: ...
        def hamming_distance(self, other: Any) -> ColumnElement[float]: ...
        def jaccard(self, other: Any) -> ColumnElement[float]: ...
        def jaccard_distance(self, other: Any) -> ColumnElement[float]: ...


class VectorMapped(Mapped[_T_co]):
    """``Mapped[T]`` for a :class:`~sqlalchemy_vector.Vector` column, with typed distance methods.

    Use it as the annotation of a column declared with :func:`vector_column`;
    SQLAlchemy's declarative scan treats it exactly like ``Mapped[T]``.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        @overload  # type: ignore[override]
        def __get__(self, instance: None, owner: Any) -> VectorAttribute[_T_co]: ...
        @overload
        def __get__(self, instance: object, owner: Any) -> _T_co: ...
        def __get__(self, instance: object | None, owner: Any) -> Union[VectorAttribute[_T_co], _T_co]: ...


class CompactVectorMapped(Mapped[_T_co]):
    """``Mapped[T]`` for a compact-kind column, with typed distance methods (see :class:`CompactVectorAttribute`)."""

    __slots__ = ()

    if TYPE_CHECKING:

        @overload  # type: ignore[override]
        def __get__(self, instance: None, owner: Any) -> CompactVectorAttribute[_T_co]: ...
        @overload
        def __get__(self, instance: object, owner: Any) -> _T_co: ...
        def __get__(self, instance: object | None, owner: Any) -> Union[CompactVectorAttribute[_T_co], _T_co]: ...


@overload
def vector_column(type_: Union[int, Vector], *args: Any, **kwargs: Any) -> VectorMapped[Any]: ...
@overload
def vector_column(type_: CompactVector, *args: Any, **kwargs: Any) -> CompactVectorMapped[Any]: ...
def vector_column(type_: Union[int, Vector, CompactVector], *args: Any, **kwargs: Any) -> Any:
    """``mapped_column`` for a vector column, typed for a :class:`VectorMapped` annotation.

    ``type_`` is a dimension (``vector_column(384)`` is ``Vector(384)``) or a
    vector type instance (``vector_column(sv.HalfVector(3072))``); the other
    arguments are ``mapped_column``'s (``nullable=False``, ``name="vec"``, ...).
    """
    dimension = whole_number(type_)
    column_type = Vector(dimension) if dimension is not None else type_
    if not isinstance(column_type, (Vector, CompactVector)):
        from .exc import InvalidArgumentError

        raise InvalidArgumentError(
            f"vector_column() takes a dimension or a vector type such as Vector(384) or HalfVector(3072), "
            f"got {type_!r}; for other column types use mapped_column()"
        )
    return mapped_column(column_type, *args, **kwargs)
