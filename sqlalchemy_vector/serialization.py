"""Vectors in Pydantic models and JSON: FastAPI, SQLModel, Flask.

Vectors come back from the database as float32 ``numpy.ndarray``, which
Pydantic, SQLModel and ``json`` cannot serialise on their own.

- :class:`VectorSchema` is the Pydantic annotation for a vector field,
  ``Annotated[np.ndarray, VectorSchema(384)]``: it validates lists, tuples and
  arrays with :func:`~sqlalchemy_vector.types.to_float32` (a wrong dimension,
  NaN or a string becomes a normal ``ValidationError``), keeps the value a
  float32 array in Python, writes it to JSON as a list of numbers, and
  describes it in the JSON schema as an array of exactly ``dim`` numbers.
- :data:`PydanticVector` is the same for vectors of any length.
- :func:`jsonable` and :func:`json_default` turn numpy arrays and scalars into
  plain Python values for ``json.dumps``, Flask's JSON provider and friends.

float32 numbers are written in the shortest form that reads back as the same
float32 (``0.6``, not the ``0.6000000238418579`` of widening to float64), so a
vector survives a JSON round trip exactly.  This module imports Pydantic only
when a model using it is built: the JSON helpers work without it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Callable, Dict, Mapping, Optional

import numpy as np
import numpy.typing as npt
import orjson

from .exc import DimensionMismatchError, InvalidVectorError
from .types import to_float32, whole_number

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic_core import CoreSchema

__all__ = ["VectorSchema", "PydanticVector", "jsonable", "json_default"]


class VectorSchema:
    """Pydantic metadata for a vector field: ``Annotated[np.ndarray, VectorSchema(dim)]``.

    ``dim`` is the required number of dimensions (``None`` accepts any).  In a
    SQLModel table, pair it with the column type::

        embedding: Annotated[np.ndarray, VectorSchema(384)] = Field(sa_type=Vector(384))
    """

    __slots__ = ("dim",)

    def __init__(self, dim: Optional[int] = None) -> None:
        checked = None if dim is None else whole_number(dim)
        if dim is not None and (checked is None or checked < 1):
            raise InvalidVectorError(
                f"VectorSchema(dim) expects a positive integer number of dimensions or None, got {dim!r}"
            )
        self.dim = checked

    def __repr__(self) -> str:
        return f"VectorSchema({'' if self.dim is None else self.dim})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VectorSchema) and other.dim == self.dim

    def __hash__(self) -> int:
        return hash((VectorSchema, self.dim))

    def __get_pydantic_core_schema__(self, source_type: Any, handler: "GetCoreSchemaHandler") -> "CoreSchema":
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(
            self.validate,
            serialization=core_schema.plain_serializer_function_ser_schema(_serialize, info_arg=True),
        )

    def __get_pydantic_json_schema__(self, schema: "CoreSchema", handler: "GetJsonSchemaHandler") -> Dict[str, Any]:
        json_schema: Dict[str, Any] = {"type": "array", "items": {"type": "number"}}
        if self.dim is not None:
            json_schema.update(minItems=self.dim, maxItems=self.dim)
        return json_schema

    def validate(self, value: Any) -> npt.NDArray[np.float32]:
        """``value`` as a float32 vector, or a Pydantic error saying what is wrong with it."""
        from pydantic_core import PydanticCustomError

        if not isinstance(value, (list, tuple, np.ndarray, str, bytes)) and not hasattr(value, "__array__"):
            raise PydanticCustomError(
                "vector_type",
                "vector expects a list of numbers, got {type}",
                {"type": type(value).__name__},
            )
        try:
            return to_float32(value, self.dim, "vector")
        except DimensionMismatchError:
            actual = int(np.shape(value)[0])
            raise PydanticCustomError(
                "vector_dimension",
                "vector expects {expected} dimensions, got {actual}",
                {"expected": self.dim, "actual": actual},
            ) from None
        except InvalidVectorError as err:
            # The message goes in the context: it may contain braces, which the template would read.
            raise PydanticCustomError("vector_invalid", "{reason}", {"reason": str(err)}) from None


#: A Pydantic field type for vectors of any length (see :class:`VectorSchema`).
PydanticVector = Annotated[npt.NDArray[np.float32], VectorSchema()]


def _serialize(value: Any, info: Any) -> Any:
    if not info.mode_is_json():
        return value
    if not isinstance(value, np.ndarray):
        # SQLModel table models do not validate on assignment: a list may be here.
        value = to_float32(value, None, "vector")
    return jsonable(value)


# -- plain JSON ---------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """``value`` with every numpy array and scalar inside it replaced by plain Python values.

    Arrays become (nested) lists, float32 numbers the shortest float that reads
    back as the same float32; dicts, lists and tuples are converted recursively,
    anything else is returned unchanged.  Non-finite floats become ``None``
    (JSON has no NaN).
    """
    if isinstance(value, np.ndarray):
        return _array(value)
    if isinstance(value, np.generic):
        return _scalar(value)
    if isinstance(value, Mapping):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def json_default(value: Any, fallback: Optional[Callable[[Any], Any]] = None) -> Any:
    """A ``default=`` hook for ``json.dumps`` (and Flask's JSON provider) that serialises numpy values.

    Other values go to ``fallback`` when given (e.g. Flask's own default, which
    handles dates and UUIDs), else raise ``TypeError`` as ``json.dumps`` does.
    """
    if isinstance(value, (np.ndarray, np.generic)):
        return jsonable(value)
    if fallback is not None:
        return fallback(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# orjson writes float16/32/64 in the shortest form that reads back as the same value.
_ORJSON_KINDS = frozenset("fiub")


def _array(array: np.ndarray) -> Any:
    if array.ndim == 0:
        return jsonable(array[()])
    if array.dtype.kind in _ORJSON_KINDS and array.dtype.itemsize <= 8:
        contiguous = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))
        return orjson.loads(orjson.dumps(contiguous, option=orjson.OPT_SERIALIZE_NUMPY))
    return [jsonable(item) for item in array.tolist()]


def _scalar(value: np.generic) -> Any:
    if isinstance(value, np.floating):
        number = float(np.format_float_positional(value, unique=True, trim="-")) if value.itemsize < 8 else float(value)
        return number if math.isfinite(number) else None
    return value.item()
