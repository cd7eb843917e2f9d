"""DuckDB's compact kind: bit vectors as ``BIT`` strings; the others have no native form.

``BIT`` keeps its length (``'0101'`` reads back as ``'0101'``) but declares
none, so the column's dimension is checked on the way in only.  Hamming is
``bit_count(xor(a, b))``; Jaccard ``1 - bit_count(a & b) / bit_count(a | b)``.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Tuple

import numpy as np
from sqlalchemy import cast
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.types import UserDefinedType

from ...kinds import BIT_METRICS, KindDistance
from ..base import Processor

VECTOR_KINDS: Mapping[str, Tuple[str, ...]] = {"bit": BIT_METRICS}
MISSING_KINDS: Mapping[str, str] = {
    "half": "DuckDB 1.5 has no FLOAT16 type; use Vector (FLOAT[n])",
    "int8": "DuckDB 1.5's array distance functions take FLOAT and DOUBLE arrays only; use Vector (FLOAT[n])",
    "sparse": "DuckDB 1.5 has no sparse vector type; store the dense form in a Vector column",
}
MISSING_QUANTIZATION = (
    "DuckDB's vss extension (1.5.5) builds HNSW over FLOAT[n] arrays only, with no quantization; sign bits in a "
    "BIT column re-ranked exactly work in plain SQL but scan every row (no index over BIT), so there is no "
    "quantized index to build"
)


class DUCKDB_BIT(UserDefinedType[Any]):
    """``BIT``: a string of 0 and 1 of any length."""

    cache_ok = True

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def get_col_spec(self, **kw: Any) -> str:
        return "BIT"

    def bind_expression(self, bindvalue: Any) -> Any:
        return cast(bindvalue, self)

    def bind_processor(self, dialect: Dialect) -> Processor:
        return lambda value: None if value is None else _to_text(value)

    def literal_processor(self, dialect: Dialect) -> Processor:
        return lambda value: f"'{_to_text(value)}'"

    def result_processor(self, dialect: Dialect, coltype: Any) -> Processor:
        def process(value: Any) -> Any:
            if value is None:
                return None
            return np.frombuffer(str(value).encode("ascii"), dtype=np.uint8) == ord("1")

        return process


def _to_text(value: Any) -> str:
    return (np.asarray(value, dtype=np.uint8) + ord("0")).tobytes().decode("ascii")


def storage_type(kind: str, dim: int) -> Optional[TypeEngine[Any]]:
    return DUCKDB_BIT(dim) if kind == "bit" else None


def compile_distance(element: KindDistance, compiler: SQLCompiler, **kw: Any) -> str:
    left = compiler.process(element.left, **kw)
    right = compiler.process(element.right, **kw)
    if element.metric == "hamming":
        return f"CAST(bit_count(xor({left}, {right})) AS DOUBLE)"
    return f"(1.0 - bit_count({left} & {right}) / nullif(bit_count({left} | {right}), 0))"
