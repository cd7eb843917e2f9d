"""Property-based tests: vector codecs round-trip exactly, and every backend's distances agree with numpy.

Hypothesis draws the vectors (any finite float32, including -0.0, subnormals
and the extremes, for the codecs; moderate values for the distances, where
float32 arithmetic must not overflow).  Examples are bounded so the suite
stays fast; ``database=None`` keeps no example store in the work tree.
"""

from __future__ import annotations

from typing import Any, Callable, Dict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine

import sqlalchemy_vector as sv
from sqlalchemy_vector import functions
from sqlalchemy_vector.exc import InvalidVectorError

BACKENDS = ("sqlite", "sqlite-python", "duckdb", "postgresql")
SETTINGS = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

ANY_FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
MODERATE = st.floats(min_value=-100, max_value=100, width=32, allow_nan=False, allow_infinity=False)


def vectors(elements: Any, max_dim: int = 64) -> Any:
    return st.integers(1, max_dim).flatmap(lambda n: hnp.arrays(np.float32, n, elements=elements))


def storable(value: np.ndarray) -> bool:
    """Whether float32 distances can use ``value``: its squared norm (in float32) is 0 or a normal number, with
    the norm at most 9e18 (the squared L2 distance of two such vectors stays finite in float32)."""
    with np.errstate(over="ignore", under="ignore"):
        squared = float(np.dot(value, value))
    return squared <= 9e18**2 and (squared >= np.finfo(np.float32).tiny or not value.any())


@pytest.mark.parametrize("backend", BACKENDS)
def test_codec_round_trip_is_exact(backend: str, engine_for: Callable[[str], Engine]) -> None:
    engine = engine_for(backend)
    with engine.connect() as connection:

        @SETTINGS
        @given(vectors(ANY_FLOAT32))
        def round_trip(value: np.ndarray) -> None:
            vector = sv.Vector(value.shape[0])
            if not storable(value):  # a norm float32 distances overflow or underflow: refused, not stored
                with pytest.raises(InvalidVectorError, match="outside what float32 distances handle"):
                    connection.execute(select(bindparam("v", value, type_=vector).label("v")))
                return
            back = connection.execute(select(bindparam("v", value, type_=vector).label("v"))).scalar_one()
            assert back.dtype == np.float32 and back.shape == value.shape
            assert back.tobytes() == value.tobytes()  # bit for bit: -0.0, subnormals, extremes
            # a Python list of the same floats is stored the same
            again = connection.execute(select(bindparam("v", value.tolist(), type_=vector).label("v"))).scalar_one()
            assert again.tobytes() == value.tobytes()

        round_trip()


@pytest.mark.parametrize("backend", BACKENDS)
def test_processors_round_trip(backend: str, engine_for: Callable[[str], Engine]) -> None:
    # The same through the type's own processors, without a statement: what the ORM does per value.
    dialect = engine_for(backend).dialect

    @SETTINGS
    @given(vectors(ANY_FLOAT32, max_dim=16))
    def processors(value: np.ndarray) -> None:
        vector = sv.Vector(value.shape[0])
        if not storable(value):
            with pytest.raises(InvalidVectorError, match="outside what float32 distances handle"):
                vector.process_bind_param(value.tolist(), dialect)
            return
        bound = vector.process_bind_param(value.tolist(), dialect)
        assert bound is not None and bound.tobytes() == value.tobytes()

    processors()


def _numpy(metric: str, a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    if metric == "cosine":
        return float(1 - a64 @ b64 / (np.linalg.norm(a64) * np.linalg.norm(b64)))
    if metric == "l2":
        return float(np.linalg.norm(a64 - b64))
    if metric == "l1":
        return float(np.abs(a64 - b64).sum())
    return float(-(a64 @ b64))  # max_inner_product


_FUNCTIONS = {
    "cosine": functions.cosine_distance,
    "l2": functions.l2_distance,
    "l1": functions.l1_distance,
    "max_inner_product": functions.max_inner_product,
}


def test_backends_agree_with_numpy(engine_for: Callable[[str], Engine]) -> None:
    connections: Dict[str, Any] = {backend: engine_for(backend).connect() for backend in BACKENDS}
    try:
        pairs = st.integers(1, 48).flatmap(
            lambda n: st.tuples(hnp.arrays(np.float32, n, elements=MODERATE), hnp.arrays(np.float32, n, elements=MODERATE))
        )

        @SETTINGS
        @given(pairs, st.sampled_from(sorted(_FUNCTIONS)))
        def agree(pair: Any, metric: str) -> None:
            a, b = pair
            if not (storable(a) and storable(b)):  # e.g. every element subnormal: refused, whatever the metric
                vector = sv.Vector(a.shape[0])
                statement = select(_FUNCTIONS[metric](bindparam("a", a, type_=vector), bindparam("b", b, type_=vector)))
                with pytest.raises(InvalidVectorError, match="outside what float32 distances handle"):
                    connections["sqlite"].execute(statement)
                return
            if metric == "cosine" and min(np.linalg.norm(a), np.linalg.norm(b)) < 1e-3:
                return  # no direction: each backend has its own answer (documented in docs/backends.md)
            expected = _numpy(metric, a, b)
            scale = 1 + float(np.abs(a).sum() * np.abs(b).sum() if metric == "max_inner_product" else np.abs(a).sum() + np.abs(b).sum())
            vector = sv.Vector(a.shape[0])
            statement = select(_FUNCTIONS[metric](bindparam("a", a, type_=vector), bindparam("b", b, type_=vector)))
            for backend, connection in connections.items():
                got = float(connection.execute(statement).scalar_one())
                tolerance = 1e-4 * scale if metric != "cosine" else 1e-4 + 1e-3 * abs(expected)
                assert abs(got - expected) <= tolerance, (backend, metric, got, expected)

        agree()
    finally:
        for connection in connections.values():
            connection.close()


@pytest.mark.parametrize("value", [[2.49e-24], [0.0, 1e-30, 0.0], [1e30, 0.0, 1.0], [3e19, 3e19]])
def test_a_norm_float32_distances_cannot_handle_is_refused(value: Any, engine_for: Callable[[str], Engine]) -> None:
    # Found by the properties above: |a| of [2.49e-24] underflows float32 to 0 (sqlite-vec's cosine was
    # infinite, pgvector's 0), and [1e30, 0, 1] overflows it (every backend's cosine 1.0, its L2 inf), so
    # each backend ranked such a vector in its own wrong place.
    vector = sv.Vector(len(value))
    statement = select(functions.cosine_distance(bindparam("a", value, type_=vector), bindparam("b", [1.0] * len(value), type_=vector)))
    for backend in BACKENDS:
        with engine_for(backend).connect() as connection:
            with pytest.raises(InvalidVectorError, match=r"has a norm of .*outside what float32 distances handle .*normalize"):
                connection.execute(statement)


def test_the_l2_distance_of_any_two_accepted_vectors_is_finite(engine_for: Callable[[str], Engine]) -> None:
    # Each of [1.5e19, 0] and [-1.5e19, 0] once fitted the accepted norms, and their L2 distance was inf on every
    # backend: the top is now 9e18, which keeps (|a| + |b|)^2 within float32.
    vector = sv.Vector(2)
    top = float(np.float32(8.99e18))
    statement = select(functions.l2_distance(bindparam("a", [top, 0.0], type_=vector), bindparam("b", [-top, 0.0], type_=vector)))
    beyond = select(functions.l2_distance(bindparam("a", [9.1e18, 0.0], type_=vector), bindparam("b", [1.0, 0.0], type_=vector)))
    for backend in BACKENDS:
        with engine_for(backend).connect() as connection:
            assert float(connection.execute(statement).scalar_one()) == pytest.approx(2 * top, rel=1e-6), backend
            with pytest.raises(InvalidVectorError, match=r"has a norm of 9.1e\+18, outside what float32 distances handle"):
                connection.execute(beyond)
