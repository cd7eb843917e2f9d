"""pgvector's compact kinds: ``halfvec(n)``, ``bit(n)``, ``sparsevec(n)``, and quantized distances over ``vector(n)``.

Values travel in the text forms (``[1,2]``, ``0101``, ``{1:1.5,3:2}/5`` with
1-based indices), except ``halfvec`` and ``sparsevec`` on asyncpg, whose
connections carry pgvector-python's binary codecs (see ``codecs``).  pgvector 0.8 has no int8 vector:
that kind is refused.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np
from sqlalchemy import cast
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.types import UserDefinedType

from ...kinds import BIT_METRICS, NUMERIC_METRICS, KindDistance, QuantizedDistance, SparseValue
from ..base import Processor, vector_to_text
from .codecs import uses_asyncpg_codecs

#: Kinds pgvector stores, with the distances it has for each.
VECTOR_KINDS: Mapping[str, Tuple[str, ...]] = {
    "half": NUMERIC_METRICS,
    "bit": BIT_METRICS,
    "sparse": NUMERIC_METRICS,
}
MISSING_KINDS: Mapping[str, str] = {
    "int8": "pgvector 0.8 has no int8 vector type; use HalfVector (2 bytes a dimension) or BitVector",
}
#: Most dimensions each pgvector 0.8 type declares (bit: PostgreSQL's bit string), and a sparsevec's non-zero elements.
MAX_DIMENSIONS: Mapping[str, int] = {"half": 16000, "bit": 83886080, "sparse": 1000000000}
MAX_SPARSE_ELEMENTS = 16000

OPERATORS = {"cosine": "<=>", "l2": "<->", "max_inner_product": "<#>", "l1": "<+>", "hamming": "<~>", "jaccard": "<%>"}

#: Operator-class prefix of each kind's indexes; ``vector`` is the full-precision column.
OPCLASS_PREFIX = {"half": "halfvec", "bit": "bit", "sparse": "sparsevec", None: "vector"}


class _Kind(UserDefinedType[Any]):
    cache_ok = True
    type_name = ""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def get_col_spec(self, **kw: Any) -> str:
        return f"{self.type_name}({self.dim})"

    def bind_expression(self, bindvalue: Any) -> Any:
        return cast(bindvalue, self)

    def to_text(self, value: Any) -> str:
        raise NotImplementedError

    def from_text(self, text: str) -> Any:
        raise NotImplementedError

    #: Whether asyncpg binds this type through a binary codec (pgvector-python's, or asyncpg's own for bit).
    has_codec = False

    def to_codec(self, value: Any) -> Any:
        """The value as the asyncpg connection's codec takes it."""
        raise NotImplementedError

    def from_codec(self, value: Any) -> Any:
        """The value from the object the asyncpg codec returns."""
        raise NotImplementedError

    def bind_processor(self, dialect: Dialect) -> Optional[Processor]:
        if self.has_codec and uses_asyncpg_codecs(dialect):
            to_codec = self.to_codec

            def process_codec(value: Any) -> Any:
                return None if value is None else to_codec(value)

            return process_codec
        to_text = self.to_text

        def process(value: Any) -> Any:
            return None if value is None else to_text(value)

        return process

    def literal_processor(self, dialect: Dialect) -> Processor:
        to_text = self.to_text

        def process(value: Any) -> str:
            return f"'{to_text(value)}'"

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Processor:
        from_text, from_codec = self.from_text, self.from_codec

        def process(value: Any) -> Any:
            if value is None:
                return None
            return from_text(value) if isinstance(value, str) else from_codec(value)

        return process


class HALFVEC(_Kind):
    """``halfvec(n)``: float16 values, written as the float32 text of the exact float16 values."""

    type_name = "HALFVEC"

    def to_text(self, value: Any) -> str:
        return vector_to_text(np.asarray(value, dtype=np.float16).astype(np.float32))

    def from_text(self, text: str) -> Any:
        stripped = text.strip()[1:-1]
        return np.array(stripped.split(",") if stripped else [], dtype=np.float32).astype(np.float16)

    has_codec = True

    def to_codec(self, value: Any) -> Any:
        return np.asarray(value, dtype=np.float16)

    def from_codec(self, value: Any) -> Any:
        return np.asarray(value.to_numpy(), dtype=np.float16)


class PGBIT(_Kind):
    """``bit(n)``: a string of 0 and 1."""

    type_name = "BIT"

    def to_text(self, value: Any) -> str:
        return (np.asarray(value, dtype=np.uint8) + ord("0")).tobytes().decode("ascii")

    def from_text(self, text: str) -> Any:
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8) == ord("1")

    # asyncpg's own bit codec is binary: it takes and returns BitString, never text.
    has_codec = True

    def to_codec(self, value: Any) -> Any:
        from asyncpg import BitString

        bits = np.asarray(value, dtype=np.bool_)
        return BitString.frombytes(np.packbits(bits).tobytes(), bits.shape[0])

    def from_codec(self, value: Any) -> Any:
        return np.unpackbits(np.frombuffer(value.bytes, dtype=np.uint8))[: len(value)].astype(np.bool_)


class SPARSEVEC(_Kind):
    """``sparsevec(n)``: ``{i:v,...}/n`` with 1-based indices."""

    type_name = "SPARSEVEC"

    def to_text(self, value: SparseValue) -> str:
        values = vector_to_text(value.values)[1:-1].split(",") if value.values.size else []
        body = ",".join(f"{int(i) + 1}:{v}" for i, v in zip(value.indices, values))
        return f"{{{body}}}/{value.dim}"

    def from_text(self, text: str) -> SparseValue:
        body, _, dim = text.strip().rpartition("/")
        pairs = [item.split(":") for item in body.strip("{}").split(",") if item]
        return SparseValue(int(dim), [int(i) - 1 for i, _ in pairs], [float(v) for _, v in pairs])

    has_codec = True

    def to_codec(self, value: SparseValue) -> Any:
        from pgvector import SparseVector

        return SparseVector(dict(zip(value.indices.tolist(), value.values.tolist())), value.dim)

    def from_codec(self, value: Any) -> SparseValue:
        return SparseValue(value.dimensions(), value.indices(), value.values())


_TYPES: Dict[str, type] = {"half": HALFVEC, "bit": PGBIT, "sparse": SPARSEVEC}


def storage_type(kind: str, dim: int) -> Optional[TypeEngine[Any]]:
    """The pgvector type of ``kind``, or None where pgvector has none."""
    cls = _TYPES.get(kind)
    return cls(dim) if cls is not None else None


def storage_kind(type_: TypeEngine[Any]) -> Optional[str]:
    """The kind of a pgvector compact type, if it is one."""
    return next((kind for kind, cls in _TYPES.items() if isinstance(type_, cls)), None)


def compile_distance(element: KindDistance, compiler: SQLCompiler, **kw: Any) -> str:
    left = compiler.process(element.left, **kw)
    right = compiler.process(element.right, **kw)
    return f"({left} {_escaped(OPERATORS[element.metric], compiler)} {right})"


def _escaped(operator: str, compiler: SQLCompiler) -> str:
    # Jaccard's <%> is a placeholder to drivers with the format/pyformat paramstyles.
    return operator.replace("%", "%%") if compiler.preparer._double_percents else operator


def quantized(expression: str, quantization: str, dim: int) -> str:
    """``expression`` (a ``vector(dim)``) as the quantized form its index covers."""
    if quantization == "half":
        return f"CAST({expression} AS halfvec({dim}))"
    return f"CAST(binary_quantize({expression}) AS bit({dim}))"


def quantized_operator(quantization: str, metric: str) -> str:
    return OPERATORS["hamming"] if quantization == "binary" else OPERATORS[metric]


def quantized_opclass(quantization: str, metric: str) -> str:
    if quantization == "binary":
        return "bit_hamming_ops"
    suffix = {"cosine": "cosine", "l2": "l2", "max_inner_product": "ip", "l1": "l1"}[metric]
    return f"halfvec_{suffix}_ops"


def compile_quantized_distance(element: QuantizedDistance, compiler: SQLCompiler, **kw: Any) -> str:
    left = quantized(compiler.process(element.left, **kw), element.quantization, element.dim)
    right = quantized(compiler.process(element.right, **kw), element.quantization, element.dim)
    return f"({left} {quantized_operator(element.quantization, element.metric)} {right})"
