"""Mistakes in the arguments of the Core functions and helpers raise the library's errors, named and with a fix.

The facade's and the bulk loader's own checks are in test_reliability.py, test_facade_inputs.py and test_bulk.py.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import sqlalchemy_vector as sv
from sqlalchemy_vector import exc as x
from sqlalchemy_vector.chunking import chunk_text
from sqlalchemy_vector.index import CreateVectorIndex
from sqlalchemy_vector.kinds import SparseValue, to_int8, to_sparse


def table() -> Table:
    return Table("docs", MetaData(), Column("id", Integer, primary_key=True), Column("emb", sv.Vector(3)))


@pytest.mark.parametrize("metric", [["cosine"], {"cosine": 1}, None, 3])
def test_a_metric_that_is_not_a_string(metric: Any) -> None:
    docs = table()
    with pytest.raises(x.UnsupportedMetricError, match=f"the metric is named by a string, got {type(metric).__name__}"):
        sv.knn_select(docs.c.emb, [1, 0, 0], 2, metric=metric)
    with pytest.raises(x.UnsupportedMetricError, match="pass one of cosine, l2"):
        sv.VectorIndex("ix", docs.c.emb, metric=metric)


def test_bit_metrics_on_a_float_vector_say_what_they_are_for() -> None:
    with pytest.raises(x.UnsupportedMetricError, match="hamming is a distance between bit vectors .*BitVector"):
        sv.knn_select(table().c.emb, [1, 0, 0], 2, metric="hamming")


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        (1.0, 2.0, "first argument of cosine_distance\\(\\) expects a sequence of numbers, got float 1.0"),
        ("ab", "ab", "expects a sequence of numbers, got str 'ab'"),
        (None, [1, 2], "expects a sequence of numbers, got NoneType None"),
        ([], [], "first argument of cosine_distance\\(\\) is an empty vector"),
    ],
)
def test_distance_between_two_python_values(a: Any, b: Any, message: str) -> None:
    with pytest.raises(x.InvalidVectorError, match=message):
        sv.cosine_distance(a, b)


def test_distance_between_two_python_vectors_still_compiles() -> None:
    assert sv.l2_distance([1, 2], [3, 4]).dim == 2


@pytest.mark.parametrize(
    ("query", "error", "message"),
    [
        (None, x.InvalidVectorError, "expects a sequence of numbers, got NoneType None; pass a list"),
        ({"a": 1}, x.InvalidVectorError, "got dict \\{'a': 1\\}"),
        ([], x.DimensionMismatchError, "expects 3 dimensions, got 0; an empty vector has none"),
        (np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False]), x.InvalidVectorError, "masked elements"),
    ],
)
def test_query_vectors_that_are_not_vectors(query: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        table().c.emb.cosine(query)


def test_a_masked_array_without_masked_elements_is_a_vector() -> None:
    expression = table().c.emb.l2(np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, False, False]))
    assert expression.dim == 3


def test_knn_given_an_engine_says_to_open_a_connection(engine_for: Callable[[str], Engine]) -> None:
    with pytest.raises(x.InvalidArgumentError, match="got Engine \\(open one: `with engine.connect\\(\\) as conn:`\\)"):
        sv.knn(engine_for("sqlite"), table().c.emb, [1, 0, 0], 2)


def test_int8_refuses_a_fraction_that_float32_would_round_away() -> None:
    with pytest.raises(x.InvalidVectorError, match="whole numbers from -128 to 127, got .*1.00000001"):
        to_int8([1.00000001, 2, 3], 3)
    assert to_int8([1.0, -128, 127], 3).tolist() == [1, -128, 127]


def test_sparse_value_with_more_indices_than_values() -> None:
    with pytest.raises(x.InvalidVectorError, match="has 2 indices and 1 values; give one value per index"):
        to_sparse(SparseValue(5, [0, 1], [1.0]), 5)
    assert to_sparse(SparseValue(5, [], []), 5).indices.size == 0  # the zero vector is a sparse vector


@pytest.mark.parametrize(
    ("query", "candidates", "error", "message"),
    [
        ([1, 0], [[1, 0, 0], [0, 1, 0]], x.DimensionMismatchError, "the query vector has 2 dimensions where candidates"),
        ([1, 0, 0], [[1, 0, 0], [0, 1]], x.DimensionMismatchError, "candidates\\[1\\] has 2 dimensions"),
        ([np.nan, 0, 0], [[1, 0, 0]], x.InvalidVectorError, "the query vector expects finite numbers"),
        ([1, 0, 0], [[1, 0, 0], "abc"], x.InvalidVectorError, "candidates\\[1\\] expects a sequence of numbers"),
    ],
)
def test_mmr_checks_its_vectors(query: Any, candidates: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        sv.maximal_marginal_relevance(query, candidates, 2)


def test_mmr_takes_a_matrix_as_before() -> None:
    candidates = np.array([[1, 0, 0], [0.99, 0.1, 0], [0, 1, 0]], dtype=np.float32)
    assert sv.maximal_marginal_relevance([1, 0, 0], candidates, 2, lambda_mult=0.3) == [0, 2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rrf_k": -1}, "rrf_k must be integers from 0 to 2147483647"),
        ({"rrf_k": 1.5}, "rrf_k must be integers from 0 to 2147483647"),
        ({"rrf_k": True}, "rrf_k must be integers from 0 to 2147483647"),
        ({"weights": [float("nan"), 1]}, "weights must be finite and non-negative"),
        ({"weights": ["x", 1]}, "weights must be numbers, one per ranking"),
        ({"top_k": -1}, "top_k must be a positive integer, got -1"),
        ({"top_k": "x"}, "top_k must be a positive integer, got 'x'"),
    ],
)
def test_reciprocal_rank_fusion_checks_its_arguments(kwargs: Any, message: str) -> None:
    with pytest.raises(x.InvalidArgumentError, match=message):
        sv.reciprocal_rank_fusion([["a", "b"], ["b", "c"]], **kwargs)


def test_reciprocal_rank_fusion_with_rrf_k_zero() -> None:
    fused = sv.reciprocal_rank_fusion([["a", "b"], ["b"]], rrf_k=0)
    assert [item["key"] for item in fused] == ["b", "a"] and fused[0]["score"] == pytest.approx(1 / 2 + 1 / 1)


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        (None, {}, "expects the text as a str, got NoneType$"),
        (b"bytes", {}, "got bytes; decode it first"),
        ("text", {"max_words": "10"}, "max_words must be an integer, got '10'"),
        ("text", {"max_words": True, "overlap": 0}, "max_words must be an integer, got True"),
        ("text", {"max_words": 3, "overlap": 1.5}, "overlap must be an integer, got 1.5"),
    ],
)
def test_chunk_text_checks_its_arguments(text: Any, kwargs: Any, message: str) -> None:
    with pytest.raises(x.InvalidArgumentError, match=message):
        chunk_text(text, **kwargs)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"m": 1000}, "pgvector takes m from 2 to 100, got 1000"),
        ({"m": 16, "ef_construction": 1}, "pgvector takes ef_construction from 4 to 1000, got 1"),
        ({"m": 40}, "needs ef_construction >= 2 \\* m = 80, got ef_construction=64 with m=40"),
        ({"method": "ivfflat", "lists": 100000}, "pgvector takes lists from 1 to 32768, got 100000"),
    ],
)
def test_index_options_out_of_pgvector_range_are_refused_before_the_database(
    options: Any, message: str, engine_for: Callable[[str], Engine]
) -> None:
    docs = table()
    sv.VectorIndex("docs_emb", docs.c.emb, **options)
    engine = engine_for("postgresql")
    with engine.connect() as conn:
        with pytest.raises(x.VectorIndexError, match=message):
            docs.metadata.create_all(conn)
        conn.rollback()
        assert not inspect(conn).has_table("docs")
    with pytest.raises(x.VectorIndexError, match=message):
        CreateVectorIndex(list(docs.indexes)[0]).compile(dialect=engine.dialect)
    if "m" in options:  # DuckDB's vss has no such bounds: the same HNSW declaration is not refused there
        assert "CREATE INDEX" in str(CreateVectorIndex(list(docs.indexes)[0]).compile(dialect=engine_for("duckdb").dialect))


@pytest.mark.parametrize("backend, provider", [("duckdb", "DuckDB's vss extension"), ("clickhouse", "ClickHouse's vector_similarity index")])
def test_an_hnsw_index_with_m_below_2_is_refused_before_the_database(
    backend: str, provider: str, engine_for: Callable[[str], Engine]
) -> None:
    # The database's own error came through (DuckDB's binder error, ClickHouse's code 117) where PostgreSQL's
    # bounds were checked first. Neither sets an upper bound: m=1000 builds.
    docs = table()
    sv.VectorIndex("docs_emb", docs.c.emb, m=1)
    with pytest.raises(x.VectorIndexError, match=f"VectorIndex 'docs_emb': {provider} takes m of at least 2, got 1; choose"):
        CreateVectorIndex(list(docs.indexes)[0]).compile(dialect=engine_for(backend).dialect)
    wide = table()
    sv.VectorIndex("docs_emb", wide.c.emb, m=1000)
    assert "1000" in str(CreateVectorIndex(list(wide.indexes)[0]).compile(dialect=engine_for(backend).dialect))


def test_index_options_in_range_build_on_postgresql(engine_for: Callable[[str], Engine]) -> None:
    docs = table()
    sv.VectorIndex("docs_emb", docs.c.emb, m=100, ef_construction=200)
    with engine_for("postgresql").connect() as conn:
        docs.metadata.create_all(conn)
        assert [(i["name"], i["options"]) for i in sv.list_vector_indexes(conn, "docs")] == [
            ("docs_emb", {"m": 100, "ef_construction": 200})
        ]
        conn.rollback()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": (1.0, float("nan"))}, "weights must be finite numbers"),
        ({"weights": (float("inf"), 1.0)}, "weights must be finite numbers"),
        ({"rrf_k": 2**31}, "rrf_k must be an integer from 0 to 2147483647"),
        ({"fetch_k": (10, 2**40)}, "fetch_k must be an integer from 1 to 2147483647"),
    ],
)
def test_hybrid_select_checks_weights_and_per_arm_integers(
    kwargs: Any, message: str, engine_for: Callable[[str], Engine]
) -> None:
    notes = Table(
        "notes", MetaData(), Column("id", Integer, primary_key=True), Column("body", Text()), Column("emb", sv.Vector(3))
    )
    sv.FullTextIndex("notes_fts", notes.c.body)
    with pytest.raises(x.InvalidArgumentError, match=message):
        sv.hybrid_select(notes.c.body, notes.c.emb, "query", [1, 0, 0], bind=engine_for("sqlite"), **kwargs)


@pytest.mark.parametrize("kind", [sv.HalfVector, sv.Int8Vector, sv.SparseVector])
def test_a_zero_cosine_query_is_refused_on_compact_kinds(kind: Any) -> None:
    column = Table("kinds", MetaData(), Column("id", Integer, primary_key=True), Column("v", kind(4))).c.v
    with pytest.raises(x.InvalidVectorError, match=r"cosine distance on column 'kinds.v' .*the query vector is all zeros"):
        sv.distance("cosine", column, [0, 0, 0, 0])
    assert sv.distance("l2", column, [0, 0, 0, 0]) is not None  # a zero vector has an L2 distance


def test_a_half_vector_that_float16_would_make_zero_is_refused() -> None:
    from sqlalchemy_vector.kinds import to_half

    with pytest.raises(x.InvalidVectorError, match="has no element float16 can hold apart from 0"):
        to_half([1e-8, -2e-8, 0.0], 3)
    assert to_half([1e-8, 0.5, 0.0], 3).tolist() == [0.0, 0.5, 0.0]  # one small element among others rounds, as float16 does
    assert not to_half([0.0, 0.0, 0.0], 3).any()  # a zero vector stays one


@pytest.mark.parametrize(("kind", "name"), [(sv.HalfVector, "HalfVector"), (sv.Int8Vector, "Int8Vector"), (sv.SparseVector, "SparseVector")])
def test_a_compact_kinds_dimension_error_suggests_its_own_type(kind: Any, name: str) -> None:
    column = Table("kinds", MetaData(), Column("id", Integer, primary_key=True), Column("v", kind(3))).c.v
    with pytest.raises(x.DimensionMismatchError, match=rf"expects 3 dimensions, got 2; .* declare {name}\(2\)"):
        sv.distance("l2", column, [1, 2])


def test_knn_messages_name_what_applies_to_the_column() -> None:
    # An unknown metric listed hamming and jaccard for a Vector column; knn_select() of a class with two vector
    # columns said "expects a Vector column, got <class ...> of type None" where knn() named the columns.
    with pytest.raises(x.UnsupportedMetricError, match=r"unknown metric 'COSINE'; expected one of cosine, l2, max_inner_product, l1 \(or 'ip'\)$"):
        sv.knn_select(table().c.emb, [1, 0, 0], 2, metric="COSINE")

    class Base(DeclarativeBase):
        pass

    class Two(Base):
        __tablename__ = "two_vectors"
        id: Mapped[int] = mapped_column(primary_key=True)
        title = mapped_column(sv.Vector(3))
        body = mapped_column(sv.Vector(3))

    with pytest.raises(x.InvalidArgumentError, match=r"the class Two needs it to have exactly one Vector column, it has title, body; pass the attribute instead, e.g. Two.title$"):
        sv.knn_select(Two, [1, 0, 0], 2)
    assert "ORDER BY distance" in str(sv.knn_select(Two.body, [1, 0, 0], 2))


def test_an_empty_bit_vector_is_named_by_its_length() -> None:
    # It was "expects booleans or the integers 0 and 1, got dtype float64 in []".
    with pytest.raises(x.DimensionMismatchError, match=r"BitVector\(4\) value expects 4 bits, got 0; an empty vector has none"):
        sv.BitVector(4).process_bind_param([], None)
