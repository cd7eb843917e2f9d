"""Arguments of the wrong shape (a dict for a list, a name for a column, a string for numbers) are refused
with InvalidArgumentError naming the argument, and the natural shorthands (one condition, one column, numpy
scalars) give the same results as the canonical forms."""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert
from sqlalchemy.engine import Connection

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import InvalidArgumentError
from sqlalchemy_vector.fulltext import refresh_fulltext_index

DIM = 8
QUERY = np.random.default_rng(3).standard_normal(DIM).astype(np.float32)
SQLITE_AND_DUCKDB = pytest.mark.parametrize("backend", ["sqlite", "duckdb"], indirect=True)


def items_table(quantized: bool = False) -> Table:
    table = Table(
        "argshape_items",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("body", Text),
        Column("emb", sv.Vector(DIM)),
    )
    sv.FullTextIndex("argshape_items_fts", table.c.body)
    if quantized:
        sv.VectorIndex("argshape_items_bin", table.c.emb, metric="l2", quantization="binary")
    return table


def filled(conn: Connection, quantized: bool = False) -> Table:
    table = items_table(quantized)
    table.metadata.create_all(conn)
    rng = np.random.default_rng(0)
    words = "apple river stone cloud violin garden".split()
    conn.execute(
        insert(table),
        [
            {"id": i, "body": f"{words[i % 6]} {words[(i * 5) % 6]} note{i}", "emb": rng.standard_normal(DIM).tolist()}
            for i in range(30)
        ],
    )
    refresh_fulltext_index(conn, next(i for i in table.indexes if isinstance(i, sv.FullTextIndex)))
    return table


def hybrid(conn: Connection, table: Table, **kwargs: Any) -> List[Any]:
    statement = sv.hybrid_select(table.c.body, table.c.emb, "apple river", QUERY, bind=conn, top_k=10, **kwargs)
    return [tuple(row) for row in conn.execute(statement)]


# -- knn ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("ef_search", ["x", -5, 0, 5000, True, [1]])
def test_knn_with_rerank_checks_ef_search_as_without(conn: Connection, ef_search: Any) -> None:
    table = filled(conn, quantized=True)
    message = r"search_settings\(ef_search=\.\.\.\) expects an integer from 1 to 1000, got "
    with pytest.raises(InvalidArgumentError, match=message):
        sv.knn(conn, table.c.emb, QUERY, 3, metric="l2", ef_search=ef_search)
    with pytest.raises(InvalidArgumentError, match=message):
        sv.knn(conn, table.c.emb, QUERY, 3, metric="l2", rerank=10, ef_search=ef_search)


@SQLITE_AND_DUCKDB
def test_knn_takes_one_column_as_columns(conn: Connection) -> None:
    table = filled(conn)
    one = sv.knn(conn, table.c.emb, QUERY, 5, columns=table.c.id)
    assert [tuple(row) for row in one] == [tuple(row) for row in sv.knn(conn, table.c.emb, QUERY, 5, columns=[table.c.id])]
    assert len(one) == 5 and len(one[0]) == 2  # the id, then the distance


@SQLITE_AND_DUCKDB
@pytest.mark.parametrize(
    "columns, fragment",
    [("id", r"got str 'id'; pass the Column"), (["id"], r"at position 0 of the list; pass the Column"),
     ({"id": 1}, "got dict"), (5, "got int 5")],
)
def test_knn_refuses_columns_that_are_not_columns(conn: Connection, columns: Any, fragment: str) -> None:
    table = items_table()
    with pytest.raises(InvalidArgumentError, match=r"knn\(columns=\.\.\.\) expects a list of columns.*" + fragment):
        sv.knn(conn, table.c.emb, QUERY, 3, columns=columns)


@SQLITE_AND_DUCKDB
@pytest.mark.parametrize(
    "where, fragment",
    [({"id": 3}, r"got the dict .*metadata_filter"), ("id > 3", r"got the string 'id > 3'.*sqlalchemy\.text"),
     (5, "got int 5")],
)
def test_knn_refuses_a_where_that_is_not_sql(conn: Connection, where: Any, fragment: str) -> None:
    table = items_table()
    with pytest.raises(InvalidArgumentError, match=r"knn\(where=\.\.\.\) expects a SQL condition or a list of them.*" + fragment):
        sv.knn(conn, table.c.emb, QUERY, 3, where=where)


@SQLITE_AND_DUCKDB
def test_knn_refuses_a_list_holding_something_other_than_conditions(conn: Connection) -> None:
    table = items_table()
    with pytest.raises(InvalidArgumentError, match=r"knn\(where=\.\.\.\) .*got NoneType None at position 1 of the list"):
        sv.knn(conn, table.c.emb, QUERY, 3, where=[table.c.id > 3, None])


@SQLITE_AND_DUCKDB
@pytest.mark.parametrize("index", [123, ["argshape_items_bin"]])
def test_knn_refuses_an_index_of_the_wrong_type(conn: Connection, index: Any) -> None:
    table = filled(conn)
    with pytest.raises(InvalidArgumentError, match=r"knn\(index=\.\.\.\) expects a VectorIndex, the name of one, or None"):
        sv.knn(conn, table.c.emb, QUERY, 3, index=index)


# -- reciprocal_rank_fusion ---------------------------------------------------------------------------


def test_rrf_refuses_a_mapping_of_rankings() -> None:
    with pytest.raises(InvalidArgumentError, match=r"rankings must be a list of ranked lists .*got dict; .*rankings\.values\(\)"):
        sv.reciprocal_rank_fusion({"vector": ["a", "b"], "text": ["b", "c"]})


@pytest.mark.parametrize("ranking, fragment", [("bc", "got str 'bc'; wrap"), (b"bc", "got bytes"), (5, "got int 5")])
def test_rrf_refuses_a_ranking_that_is_a_string_or_not_iterable(ranking: Any, fragment: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"rankings\[1\] must be a list of keys, best first, " + fragment):
        sv.reciprocal_rank_fusion([["a"], ranking])


@pytest.mark.parametrize("ranking", [{"b", "a", "c"}, frozenset({1, 2}), {"a": 1, "b": 2}])
def test_rrf_refuses_a_ranking_with_no_order_of_its_own(ranking: Any) -> None:
    # A set was accepted, its hash order taken for the ranks.
    with pytest.raises(InvalidArgumentError, match=r"rankings\[0\] must be a list of keys, best first, got .*a set or a dict has no order of its own"):
        sv.reciprocal_rank_fusion([ranking])


def test_numbers_beyond_double_precision_are_named() -> None:
    # OverflowError: int too large to convert to float, and a top_k past the limit blamed fetch_k.
    with pytest.raises(InvalidArgumentError, match=r"rrf_k must be integers from 0 to 2147483647"):
        sv.reciprocal_rank_fusion([["a"]], rrf_k=10**400)
    with pytest.raises(InvalidArgumentError, match=r"weights must be (numbers, one per ranking|finite and non-negative)"):
        sv.reciprocal_rank_fusion([["a"], ["b"]], weights=[10**400, 1])
    table = Table("shapes", MetaData(), Column("id", Integer, primary_key=True), Column("body", Text), Column("v", sv.Vector(2)))
    sv.FullTextIndex("shapes_fts", table.c.body)
    engine = sv.create_engine("sqlite://")
    try:
        for kwargs, message in (({"weights": (10**400, 1)}, r"weights must be (two numbers|finite numbers)"),
                                ({"top_k": 2**31}, r"^top_k must be at most 2147483647, got 2147483648$")):
            with pytest.raises(InvalidArgumentError, match=message):
                sv.hybrid_select(table.c.body, table.c.v, "words", [1.0, 0.0], bind=engine, **kwargs)
    finally:
        engine.dispose()


def test_rrf_refuses_unhashable_keys_and_names_the_document_ids() -> None:
    results = [{"document_id": 1, "content": "a"}, {"document_id": 2, "content": "b"}]
    with pytest.raises(
        InvalidArgumentError, match=r"rankings\[0\]\[0\] is a dict, .*hashable.*\[r\['document_id'\] for r in results\]"
    ):
        sv.reciprocal_rank_fusion([results, results[::-1]])
    with pytest.raises(InvalidArgumentError, match=r"rankings\[1\]\[0\] is a list, which cannot be a key"):
        sv.reciprocal_rank_fusion([["a"], [["a"]]])


@pytest.mark.parametrize("weights", ["12", ("1", "2")])
def test_rrf_refuses_weights_that_are_a_string_or_strings(weights: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="weights must be numbers, one per ranking"):
        sv.reciprocal_rank_fusion([["a", "b"], ["b", "c"]], weights=weights)


def test_rrf_takes_numpy_weights() -> None:
    rankings = [["a", "b", "c"], ["c", "b", "d"]]
    expected = sv.reciprocal_rank_fusion(rankings, weights=[0.5, 2.0])
    assert sv.reciprocal_rank_fusion(rankings, weights=[np.float32(0.5), np.float64(2.0)]) == expected
    assert sv.reciprocal_rank_fusion(rankings, weights=np.array([0.5, 2.0])) == expected
    with pytest.raises(InvalidArgumentError, match="weights must be finite and non-negative"):
        sv.reciprocal_rank_fusion(rankings, weights=[np.float32("nan"), 1.0])


def test_rrf_ties_of_mixed_key_types_sort_by_type_name() -> None:
    assert [f["key"] for f in sv.reciprocal_rank_fusion([[1], ["a"]])] == [1, "a"]
    assert [f["key"] for f in sv.reciprocal_rank_fusion([["a"], [1]])] == [1, "a"]
    assert [f["key"] for f in sv.reciprocal_rank_fusion([[1, 2], ["a", "b"]])] == [1, "a", 2, "b"]
    # Keys of one type that do not compare keep their first appearance.
    assert [f["key"] for f in sv.reciprocal_rank_fusion([[("b",)], [(1,)]])] == [("b",), (1,)]
    assert [f["key"] for f in sv.reciprocal_rank_fusion([[(1,)], [("b",)]])] == [(1,), ("b",)]
    # Keys of one type are ordered as before.
    assert [f["key"] for f in sv.reciprocal_rank_fusion([["b", "d"], ["a", "c"]])] == ["a", "b", "c", "d"]


# -- hybrid_select ------------------------------------------------------------------------------------


@SQLITE_AND_DUCKDB
def test_hybrid_select_takes_where_as_knn_does(conn: Connection) -> None:
    table = filled(conn)
    condition = table.c.id % 2 == 0
    one = hybrid(conn, table, where=condition)
    assert one and all(row[0] % 2 == 0 for row in one)
    assert hybrid(conn, table, where=[condition]) == one
    assert hybrid(conn, table, where=(condition, table.c.id > 4)) == hybrid(conn, table, where=condition & (table.c.id > 4))
    assert hybrid(conn, table, where=[]) == hybrid(conn, table)
    assert hybrid(conn, table, vector_where=[condition]) == hybrid(conn, table, vector_where=condition)


@SQLITE_AND_DUCKDB
@pytest.mark.parametrize(
    "where, fragment", [({"id": 3}, r"got the dict .*metadata_filter"), ("id > 3", r"got the string 'id > 3'")]
)
def test_hybrid_select_refuses_a_where_that_is_not_sql(conn: Connection, where: Any, fragment: str) -> None:
    table = items_table()
    with pytest.raises(InvalidArgumentError, match=r"hybrid_select\(where=\.\.\.\) expects a SQL condition.*" + fragment):
        hybrid(conn, table, where=where)


@SQLITE_AND_DUCKDB
@pytest.mark.parametrize(
    "key, fragment", [("nosuch", "got 'nosuch'; the columns of argshape_items are id, body, emb"), (123, "got int 123")]
)
def test_hybrid_select_refuses_a_key_that_is_not_a_column(conn: Connection, key: Any, fragment: str) -> None:
    table = items_table()
    with pytest.raises(InvalidArgumentError, match=r"hybrid_select\(key=\.\.\.\) must be a column name of argshape_items or a Column, " + fragment):
        hybrid(conn, table, key=key)


@SQLITE_AND_DUCKDB
def test_hybrid_select_takes_a_key_by_name(conn: Connection) -> None:
    table = filled(conn)
    assert hybrid(conn, table, key="id") == hybrid(conn, table, key=table.c.id) == hybrid(conn, table)


@SQLITE_AND_DUCKDB
@pytest.mark.parametrize("argument", ["text_column", "vector_column"])
def test_hybrid_select_refuses_column_names_for_columns(conn: Connection, argument: str) -> None:
    table = items_table()
    columns: Dict[str, Any] = {"text_column": table.c.body, "vector_column": table.c.emb}
    columns[argument] = {"text_column": "body", "vector_column": "emb"}[argument]
    with pytest.raises(
        InvalidArgumentError,
        match=rf"hybrid_select\({argument}=\.\.\.\) expects a table's Column or a mapped attribute, got str '\w+'; pass the column itself, e\.g\. table\.c\[",
    ):
        sv.hybrid_select(columns["text_column"], columns["vector_column"], "apple", QUERY, bind=conn)


@SQLITE_AND_DUCKDB
@pytest.mark.parametrize("index", [123, ["argshape_items_fts"]])
def test_hybrid_select_refuses_an_index_of_the_wrong_type(conn: Connection, index: Any) -> None:
    table = items_table()
    with pytest.raises(InvalidArgumentError, match=r"hybrid_select\(index=\.\.\.\) expects a FullTextIndex, the name of one"):
        hybrid(conn, table, index=index)


@SQLITE_AND_DUCKDB
def test_hybrid_select_refuses_a_language_of_the_wrong_type(conn: Connection) -> None:
    table = items_table()
    with pytest.raises(InvalidArgumentError, match=r"hybrid_select\(language=\.\.\.\) expects the name of a text search language"):
        hybrid(conn, table, language=123)


@SQLITE_AND_DUCKDB
@pytest.mark.parametrize("weights", ["12", ("1", "2")])
def test_hybrid_select_refuses_weights_given_as_strings(conn: Connection, weights: Any) -> None:
    table = items_table()
    with pytest.raises(InvalidArgumentError, match=r"weights must be two numbers \(vector, text\)"):
        hybrid(conn, table, weights=weights)


# -- HashingEmbedder ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ngram_range", [3, (2, 3, 4), (3,), None])
def test_hashing_embedder_refuses_an_ngram_range_that_is_not_a_pair(ngram_range: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=r"HashingEmbedder\(ngram_range\) expects \(min, max\)"):
        sv.HashingEmbedder(16, ngram_range=ngram_range)


@pytest.mark.parametrize("name", ["word_weight", "bigram_weight", "char_weight"])
@pytest.mark.parametrize("value", ["heavy", None, float("nan"), float("inf"), np.float32("nan"), True])
def test_hashing_embedder_refuses_weights_that_are_not_finite_numbers(name: str, value: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"HashingEmbedder\({name}\) expects a finite number, got "):
        sv.HashingEmbedder(16, **{name: value})


def test_hashing_embedder_refuses_one_string_of_stop_words() -> None:
    with pytest.raises(InvalidArgumentError, match=r"HashingEmbedder\(stop_words\) .*got str 'the'; pass a list of words, e.g. \['the'\]"):
        sv.HashingEmbedder(16, stop_words="the")
    with pytest.raises(InvalidArgumentError, match=r"HashingEmbedder\(stop_words\) expects words \(strings\), got int 5"):
        sv.HashingEmbedder(16, stop_words=["the", 5])
    assert sv.HashingEmbedder(16, stop_words=["the"]).stop_words == frozenset({"the"})


# -- maximal_marginal_relevance -----------------------------------------------------------------------


def test_mmr_names_candidates_that_are_not_vectors() -> None:
    # None raised TypeError: 'NoneType' object is not iterable.
    for candidates in (None, 5, "abc", {"a": [1.0, 0.0]}):
        with pytest.raises(InvalidArgumentError, match=r"candidates must be a list \(or 2-D array\) of vectors, got"):
            sv.maximal_marginal_relevance([1.0, 0.0], candidates, 1)


def test_mmr_takes_a_numpy_lambda_mult() -> None:
    query = [1.0, 0.0, 0.0]
    candidates = [[1.0, 0.0, 0.0], [0.99, 0.1, 0.0], [0.6, 0.8, 0.0], [0.0, 1.0, 0.0]]
    expected = sv.maximal_marginal_relevance(query, candidates, 3, lambda_mult=0.5)
    assert sv.maximal_marginal_relevance(query, candidates, 3, lambda_mult=np.float32(0.5)) == expected
    assert sv.maximal_marginal_relevance(query, candidates, 3, lambda_mult=np.float16(0.5)) == expected
    for bad in (np.float32(1.5), np.float32("nan"), np.bool_(True)):
        with pytest.raises(InvalidArgumentError, match=r"lambda_mult must be a number from 0 to 1, got "):
            sv.maximal_marginal_relevance(query, candidates, 3, lambda_mult=bad)


def test_the_base_distance_function_names_the_functions_to_use() -> None:
    # VectorDistance (exported for isinstance checks) raised AttributeError "... has no attribute 'metric'".
    column = Column("e", sv.Vector(3))
    with pytest.raises(InvalidArgumentError, match=r"VectorDistance is the base of the distance functions.*cosine_distance\(a, b\)"):
        sv.VectorDistance(column, [1.0, 2.0, 3.0])
    assert isinstance(sv.cosine_distance(column, [1.0, 2.0, 3.0]), sv.VectorDistance)
