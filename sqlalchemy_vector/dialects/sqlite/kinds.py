"""sqlite-vec's compact kinds: ``int8[n]`` and ``bit[n]`` as BLOBs read through ``vec_int8`` / ``vec_bit``.

int8 vectors are one signed byte a dimension; bit vectors are packed eight to
a byte (numpy's ``packbits`` order, zero-padded to a whole byte).  sqlite-vec
0.1.9 has L2, L1 and cosine for int8, and Hamming (no Jaccard) for bits.
Without the extension, the same functions are registered in Python.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import numpy as np
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.types import UserDefinedType

from ...functions import ZERO_VECTOR_COSINE_DISTANCE
from ...kinds import KindDistance, QuantizedDistance
from ..base import Processor

VECTOR_KINDS: Mapping[str, Tuple[str, ...]] = {"int8": ("cosine", "l2", "l1"), "bit": ("hamming",)}
MISSING_KINDS: Mapping[str, str] = {
    "half": "sqlite-vec 0.1.9 has no float16 element type; use Vector (float32) or Int8Vector",
    "sparse": "sqlite-vec 0.1.9 has no sparse vectors; store the dense form in a Vector column",
}
MISSING_QUANTIZATION = (
    "sqlite-vec 0.1.9 has no float16 element type, so no half quantized index; binary quantization is a vec0 "
    "table of bit[n] (Hamming KNN, re-ranked with knn(..., rerank=n))"
)

_FUNCTIONS = {"cosine": "vec_distance_cosine", "l2": "vec_distance_l2", "l1": "vec_distance_l1", "hamming": "vec_distance_hamming"}


class INT8_BLOB(UserDefinedType[Any]):
    """``INT8_BLOB(n)``: n signed bytes (BLOB affinity)."""

    cache_ok = True

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def get_col_spec(self, **kw: Any) -> str:
        return f"INT8_BLOB({self.dim})"

    def bind_processor(self, dialect: Dialect) -> Processor:
        return lambda value: None if value is None else np.asarray(value, dtype=np.int8).tobytes()

    def literal_processor(self, dialect: Dialect) -> Processor:
        return lambda value: f"X'{np.asarray(value, dtype=np.int8).tobytes().hex()}'"

    def result_processor(self, dialect: Dialect, coltype: Any) -> Processor:
        return lambda value: None if value is None else np.frombuffer(value, dtype=np.int8).copy()


class BIT_BLOB(UserDefinedType[Any]):
    """``BIT_BLOB(n)``: n bits packed into ceil(n / 8) bytes (BLOB affinity)."""

    cache_ok = True

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def get_col_spec(self, **kw: Any) -> str:
        return f"BIT_BLOB({self.dim})"

    def bind_processor(self, dialect: Dialect) -> Processor:
        return lambda value: None if value is None else np.packbits(np.asarray(value, dtype=np.bool_)).tobytes()

    def literal_processor(self, dialect: Dialect) -> Processor:
        return lambda value: f"X'{np.packbits(np.asarray(value, dtype=np.bool_)).tobytes().hex()}'"

    def result_processor(self, dialect: Dialect, coltype: Any) -> Processor:
        dim = self.dim

        def process(value: Any) -> Any:
            if value is None:
                return None
            return np.unpackbits(np.frombuffer(value, dtype=np.uint8), count=dim).astype(np.bool_)

        return process


_TYPES: Dict[str, type] = {"int8": INT8_BLOB, "bit": BIT_BLOB}


def storage_type(kind: str, dim: int) -> Optional[TypeEngine[Any]]:
    cls = _TYPES.get(kind)
    return cls(dim) if cls is not None else None


def compile_distance(element: KindDistance, compiler: SQLCompiler, **kw: Any) -> str:
    reader = "vec_bit" if element.kind == "bit" else "vec_int8"
    sides = [(compiler.process(arg, **kw), arg) for arg in (element.left, element.right)]
    body = f"{_FUNCTIONS[element.metric]}({reader}({sides[0][0]}), {reader}({sides[1][0]}))"
    if element.metric == "cosine":
        body = f"coalesce({body}, {ZERO_VECTOR_COSINE_DISTANCE})"
    elif element.metric == "l1":
        body = f"CAST({body} AS REAL)"  # sqlite-vec 0.1.9 sums int8 L1 as an integer; a distance reads as a float
    # sqlite-vec raises on NULL arguments: guard the ones that are not parameters.
    guards = [f"{sql} IS NULL" for sql, arg in sides if getattr(arg, "__visit_name__", None) != "bindparam"]
    return f"(CASE WHEN {' OR '.join(guards)} THEN NULL ELSE {body} END)" if guards else body


def compile_quantized_distance(element: QuantizedDistance, compiler: SQLCompiler, **kw: Any) -> str:
    """Hamming distance between the bits of two float32 vectors (what a binary vec0 index ranks by)."""
    left, right = (f"vec_quantize_binary(vec_f32({compiler.process(arg, **kw)}))" for arg in (element.left, element.right))
    return f"vec_distance_hamming({left}, {right})"


# -- the same functions in Python, for SQLite without the extension --------------------------


def _py_int8(blob: bytes) -> bytes:
    # The float32 form the Python vec_distance_* functions read: the same distances.
    return np.frombuffer(blob, dtype=np.int8).astype("<f4").tobytes()


def _py_bit(blob: bytes) -> bytes:
    return blob


def _py_hamming(a: bytes, b: bytes) -> float:
    if len(a) != len(b):
        raise ValueError(f"bit vector dimension mismatch: {len(a) * 8} and {len(b) * 8}")
    x, y = np.frombuffer(a, dtype=np.uint8), np.frombuffer(b, dtype=np.uint8)
    return float(np.unpackbits(x ^ y).sum())


PY_FUNCTIONS: Dict[str, Tuple[int, Callable[..., Any]]] = {
    "vec_int8": (1, _py_int8),
    "vec_bit": (1, _py_bit),
    "vec_distance_hamming": (2, _py_hamming),
}
