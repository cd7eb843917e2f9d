"""What reflection and Alembic see of pgvector: ``vector(n)`` columns and HNSW/IVFFlat indexes."""

from __future__ import annotations

from typing import Any, Callable, Dict

from sqlalchemy.schema import Index
from sqlalchemy.sql.type_api import TypeEngine

from ..base import reflected_vector

#: Index access methods of pgvector: a reflected index using one is a vector index.
VECTOR_INDEX_METHODS = ("hnsw", "ivfflat")


def type_names() -> Dict[str, Callable[..., TypeEngine[Any]]]:
    """The dialect reflects ``vector(384)`` as the name ``vector`` with the argument 384.

    ``halfvec(n)`` and ``sparsevec(n)`` are pgvector's alone and reflect as
    their kinds; ``bit(n)`` is also PostgreSQL's ordinary bit string and keeps
    the dialect's ``BIT`` (autogenerate still sees a model's ``BitVector(n)``
    as unchanged: see :func:`sqlalchemy_vector.kinds.same_kind_type`).
    """
    from ...kinds import reflected_kind

    return {"vector": reflected_vector, "halfvec": reflected_kind("half"), "sparsevec": reflected_kind("sparse")}


def is_vector_index(index: Index) -> bool:
    """A reflected index whose access method is pgvector's."""
    return index.dialect_kwargs.get("postgresql_using") in VECTOR_INDEX_METHODS
