"""Maximal marginal relevance (Carbonell and Goldstein, 1998): relevant results that are not all alike.

From candidates already ranked for a query, pick ``k`` one at a time, each
maximising ``lambda_mult * sim(query, d) - (1 - lambda_mult) * max sim(d, chosen)``
with cosine similarity: ``lambda_mult=1`` keeps the relevance order,
``lambda_mult=0`` chooses for diversity alone.
"""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping

import numpy as np

from .exc import DimensionMismatchError, InvalidArgumentError
from .types import positive_integer, real_number, to_float32

__all__ = ["maximal_marginal_relevance"]


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    unit: np.ndarray = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return unit


def _check_lambda_mult(lambda_mult: Any) -> float:
    """``lambda_mult`` as a float from 0 to 1, or :class:`InvalidArgumentError`."""
    weight = real_number(lambda_mult)
    if weight is None or not 0.0 <= weight <= 1.0:
        raise InvalidArgumentError(f"lambda_mult must be a number from 0 to 1, got {lambda_mult!r}")
    return weight


def maximal_marginal_relevance(query: Any, candidates: Any, k: int, lambda_mult: float = 0.5) -> List[int]:
    """Positions (into ``candidates``) of the ``k`` picks, in the order chosen; ties go to the earlier candidate."""
    k = positive_integer("k", k)
    weight = _check_lambda_mult(lambda_mult)
    if isinstance(candidates, (str, bytes, Mapping)) or not isinstance(candidates, Iterable):
        raise InvalidArgumentError(
            f"candidates must be a list (or 2-D array) of vectors, got {type(candidates).__name__}; pass the "
            "candidates' embeddings, one per row"
        )
    rows = [to_float32(row, None, f"candidates[{i}]") for i, row in enumerate(candidates)]
    if not rows:
        return []
    target = to_float32(query, None, "the query vector")
    for name, vector in [("the query vector", target)] + [(f"candidates[{i}]", row) for i, row in enumerate(rows)]:
        if vector.shape != rows[0].shape:
            raise DimensionMismatchError(
                f"{name} has {vector.shape[0]} dimensions where candidates[0] has {rows[0].shape[0]}; "
                "compare vectors of one embedding model"
            )
    vectors = _unit(np.stack(rows).astype(np.float64))
    relevance = vectors @ _unit(target.astype(np.float64))
    chosen: List[int] = []
    redundancy = np.full(len(vectors), -np.inf)
    for _ in range(min(k, len(vectors))):
        penalty = np.where(np.isinf(redundancy), 0.0, redundancy)
        score = weight * relevance - (1.0 - weight) * penalty
        score[chosen] = -np.inf
        best = int(np.argmax(score))
        chosen.append(best)
        redundancy = np.maximum(redundancy, vectors @ vectors[best])
    return chosen
