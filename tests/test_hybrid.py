"""Hybrid search (full-text rank + vector rank, fused by RRF) on every backend, against a Python fusion."""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
import pytest
from sqlalchemy import Column, MetaData, String, Table, Text, insert, select, update, delete
from sqlalchemy.engine import Connection

import sqlalchemy_vector as sv
from sqlalchemy_vector.fulltext import FullTextIndex, list_fulltext_indexes, refresh_fulltext_index
from sqlalchemy_vector.hybrid import hybrid_rows, hybrid_select, reciprocal_rank_fusion

WORDS = "apple river stone cloud violin garden copper lantern meadow falcon harbor pepper".split()
DIM = 8


def corpus() -> List[Dict[str, Any]]:
    rng = np.random.default_rng(7)
    rows = []
    for i in range(40):
        words = [WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(1 + i % 4)]
        if i % 5 == 0:
            words.append("zebra")
        if i % 9 == 0:
            words.append("quartz")
        rows.append(
            {
                "id": f"d{i:02d}",
                "content": " ".join(words) + ".",
                "category": "a" if i % 3 == 0 else "b",
                "embedding": rng.standard_normal(DIM).astype(np.float32),
            }
        )
    return rows


def make_table(conn: Connection, rows: List[Dict[str, Any]]) -> Table:
    metadata = MetaData()
    table = Table(
        "hybrid_notes",
        metadata,
        Column("id", String(8), primary_key=True),
        Column("content", Text, nullable=False),
        Column("category", String(4)),
        Column("embedding", sv.Vector(DIM)),
    )
    FullTextIndex("hybrid_notes_fts", table.c.content, language="english")
    metadata.create_all(conn)
    conn.execute(insert(table), rows)
    refresh_fulltext_index(conn, table.indexes.copy().pop())
    return table


def text_ranking(conn: Connection, table: Table, query: str, where: Any = None) -> List[str]:
    """The text arm alone: keys by descending relevance, ties by key."""
    backend = sv.dialects.backend_for(conn.dialect)
    index = next(i for i in table.indexes if isinstance(i, FullTextIndex))
    statement, relevance = backend.fulltext_arm(index.spec, table.c.id, query, False, conn.dialect)
    statement = statement.add_columns(table.c.id, relevance.label("relevance"))
    if where is not None:
        statement = statement.where(where)
    rows = conn.execute(statement).all()
    return [key for key, _ in sorted(rows, key=lambda row: (-row[1], row[0]))]


def vector_ranking(rows: List[Dict[str, Any]], query: np.ndarray) -> List[str]:
    def cosine(v: np.ndarray) -> float:
        return 1.0 - float(np.dot(v, query) / (np.linalg.norm(v) * np.linalg.norm(query)))

    return [r["id"] for r in sorted(rows, key=lambda r: (cosine(r["embedding"]), r["id"]))]


QUERY_VECTOR = np.random.default_rng(11).standard_normal(DIM).astype(np.float32)


@pytest.mark.parametrize("weights", [(1.0, 1.0), (0.3, 1.7)])
def test_fused_ranks_and_scores_match_python_rrf(conn: Connection, weights: Any) -> None:
    rows = corpus()
    table = make_table(conn, rows)
    query = "zebra quartz"
    statement = hybrid_select(
        table.c.content, table.c.embedding, query, QUERY_VECTOR, bind=conn, top_k=15, fetch_k=20, weights=weights
    )
    got = hybrid_rows(conn.execute(statement))
    by_text = text_ranking(conn, table, query)
    assert set(by_text) == {r["id"] for r in rows if "zebra" in r["content"] or "quartz" in r["content"]}
    expected = reciprocal_rank_fusion(
        [vector_ranking(rows, QUERY_VECTOR)[:20], by_text[:20]], weights=weights, top_k=15
    )
    assert [g["key"] for g in got] == [e["key"] for e in expected]
    for g, e in zip(got, expected):
        assert g["score"] == pytest.approx(e["score"], rel=1e-9)
        assert (g["vector_rank"], g["text_rank"]) == tuple(e["ranks"])
    # Documents matching both words rank first in the text arm.
    assert by_text[0] == "d00"


@pytest.mark.parametrize("rrf_k, fetch_k", [((1, 60), (20, 3)), ((60, 2), (6, 20)), ((0, 5), 20)])
def test_per_arm_constants_and_depths_match_python_rrf(conn: Connection, rrf_k: Any, fetch_k: Any) -> None:
    rows = corpus()
    table = make_table(conn, rows)
    query = "zebra quartz"
    statement = hybrid_select(
        table.c.content, table.c.embedding, query, QUERY_VECTOR, bind=conn, top_k=15, fetch_k=fetch_k, rrf_k=rrf_k
    )
    got = hybrid_rows(conn.execute(statement))
    vector_depth, text_depth = fetch_k if isinstance(fetch_k, tuple) else (fetch_k, fetch_k)
    expected = reciprocal_rank_fusion(
        [vector_ranking(rows, QUERY_VECTOR)[:vector_depth], text_ranking(conn, table, query)[:text_depth]],
        rrf_k=rrf_k, top_k=15,
    )
    assert [g["key"] for g in got] == [e["key"] for e in expected]
    for g, e in zip(got, expected):
        assert g["score"] == pytest.approx(e["score"], rel=1e-9)
        assert (g["vector_rank"], g["text_rank"]) == tuple(e["ranks"])
    assert max(g["text_rank"] or 0 for g in got) <= text_depth
    assert max(g["vector_rank"] or 0 for g in got) <= vector_depth
    if rrf_k == (1, 60):  # the vector arm leads: its first three ranks come first, in its order
        assert [g["vector_rank"] for g in got[:3]] == [1, 2, 3]


@pytest.mark.parametrize("value", [(1, 2, 3), (1, -1), "60", (1.5, 60), -1])
def test_per_arm_settings_are_checked(value: Any) -> None:
    metadata = MetaData()
    table = Table("t", metadata, Column("id", String(8), primary_key=True), Column("content", Text),
                  Column("embedding", sv.Vector(DIM)))
    FullTextIndex("t_fts", table.c.content)
    from sqlalchemy.dialects import sqlite

    for name in ("rrf_k", "fetch_k"):
        with pytest.raises(sv.exc.InvalidArgumentError, match=name):
            hybrid_select(table.c.content, table.c.embedding, "x", QUERY_VECTOR, bind=sqlite.dialect(), **{name: value})
    with pytest.raises(sv.exc.InvalidArgumentError, match="rrf_k has 1 values for 2 rankings"):
        reciprocal_rank_fusion([["a"], ["b"]], rrf_k=[60])


@pytest.mark.parametrize(
    "weights, message",
    [((5e-324, 1.0), "vector weight 5e-324 is too small"), ((1.0, 1e-323), "text weight 1e-323 is too small"),
     ((1.7e308, 1.7e308), "beyond double precision")],
)
def test_weights_whose_score_leaves_double_precision_are_refused(conn: Connection, weights: Any, message: str) -> None:
    # PostgreSQL raised "value out of range" (underflow, overflow); SQLite and DuckDB scored an infinity, or an arm as 0.
    table = make_table(conn, corpus())

    def keys(weights: Any) -> List[str]:
        statement = hybrid_select(table.c.content, table.c.embedding, "zebra quartz", QUERY_VECTOR, bind=conn,
                                  top_k=15, weights=weights, rrf_k=0)
        return [row.key for row in conn.execute(statement)]

    with pytest.raises(sv.exc.InvalidArgumentError, match=message):
        keys(weights)
    # Weights as small or as large as still fit order the rows as (1, 1) does.
    assert keys((1e-300, 1e-300)) == keys((1e300, 1e300)) == keys((1.0, 1.0))


def test_a_query_of_more_distinct_words_than_the_limit_is_refused(conn: Connection) -> None:
    # PostgreSQL failed such a query with its own errors ("invalid memory alloc request size") from about 20,000
    # words; every backend ran slower with each word.  Repeated words, in any case, count once.
    from sqlalchemy_vector.hybrid import MAX_QUERY_WORDS

    table = make_table(conn, corpus())
    fillers = [f"filler{i}" for i in range(MAX_QUERY_WORDS - 1)]

    def keys(query: str) -> List[str]:
        statement = hybrid_select(table.c.content, table.c.embedding, query, QUERY_VECTOR, bind=conn, top_k=50,
                                  weights=(0, 1))
        return [row.key for row in conn.execute(statement)]

    at_limit = " ".join(["zebra", "ZEBRA", "Zebra."] + fillers + fillers[:10])
    assert keys(at_limit) == keys("zebra") != []
    with pytest.raises(sv.exc.InvalidArgumentError, match=f"{MAX_QUERY_WORDS + 1:,} distinct words, more than the"):
        keys(at_limit + " quartz")


def test_a_query_of_more_characters_than_the_limit_is_refused(conn: Connection) -> None:
    # One word repeated passed the word count: 64,000 times failed PostgreSQL with match_all=True ("stack depth limit
    # exceeded") and took SQLite's FTS5 12 s; 1.5 MB of distinct words failed PostgreSQL by its tsvector's limit.
    from sqlalchemy_vector.hybrid import MAX_QUERY_CHARACTERS

    table = make_table(conn, corpus())

    def keys(query: str, match_all: bool) -> List[str]:
        statement = hybrid_select(table.c.content, table.c.embedding, query, QUERY_VECTOR, bind=conn, top_k=50,
                                  weights=(0, 1), match_all=match_all)
        return [row.key for row in conn.execute(statement)]

    repeated = ("zebra " * (MAX_QUERY_CHARACTERS // 6)).ljust(MAX_QUERY_CHARACTERS)  # 5,461 times, to the limit
    for match_all in (False, True):
        assert keys(repeated, match_all) == keys("zebra", match_all) != []
        with pytest.raises(sv.exc.InvalidArgumentError, match=f"query_text holds {MAX_QUERY_CHARACTERS + 1:,} characters, more than the {MAX_QUERY_CHARACTERS:,}"):
            keys(repeated + " ", match_all)


#: A compact kind's column, its rows (key 1 nearest the query) and a query in the kind's own form, by kind.
COMPACT_CASES = {
    "bit": (sv.BitVector(4), [[1, 0, 0, 0], [0, 1, 1, 0]], np.array([True, False, False, False]), "hamming", 3.0),
    "sparse": (sv.SparseVector(4), [{0: 1.0}, {1: 1.0}], sv.SparseValue(4, [0], [1.0]), "l2", 2**0.5),
    "int8": (sv.Int8Vector(4), [[100, 0, 0, 0], [0, 100, 0, 0]], np.array([100, 0, 0, 0], np.int8), "l1", 200.0),
    "half": (sv.HalfVector(4), [[1, 0, 0, 0], [0, 1, 0, 0]], np.array([1, 0, 0, 0], np.float16), "cosine", 1.0),
}


def test_a_compact_column_ranks_by_its_own_query_values_and_distances(conn: Connection) -> None:
    # Only dense float lists were taken as the query (a SparseValue, a dict of a sparse vector refused), and
    # only the float metrics (a BitVector's hamming refused as unknown).
    kinds = [kind for kind in COMPACT_CASES if kind in sv.dialects.backend_for(conn.dialect).capabilities.vector_kinds]
    assert kinds  # every backend here stores some compact kind
    for kind in kinds:
        column_type, stored, query, metric, far = COMPACT_CASES[kind]
        table = Table(f"hybrid_{kind}", MetaData(), Column("id", String(8), primary_key=True), Column("content", Text),
                      Column("v", column_type))
        FullTextIndex(f"hybrid_{kind}_fts", table.c.content)
        table.metadata.create_all(conn)
        conn.execute(insert(table), [{"id": "k1", "content": "apple", "v": stored[0]}, {"id": "k2", "content": "pear", "v": stored[1]}])
        refresh_fulltext_index(conn, table.indexes.copy().pop())
        statement = hybrid_select(table.c.content, table.c.v, "pear", query, bind=conn, metric=metric)
        got = hybrid_rows(conn.execute(statement))
        assert [(row["key"], row["vector_rank"], row["text_rank"]) for row in got] == [("k2", 2, 1), ("k1", 1, None)], kind
        assert [row["distance"] for row in got] == [pytest.approx(far, rel=1e-5), pytest.approx(0.0, abs=1e-6)], kind
        if kind == "sparse":  # an empty sparse query has no direction under cosine: the text arm ranks alone
            alone = hybrid_select(table.c.content, table.c.v, "pear", {}, bind=conn, metric="cosine")
            assert [(row["key"], row["vector_rank"]) for row in hybrid_rows(conn.execute(alone))] == [("k2", None)]


def test_inner_product_is_refused_as_knn_refuses_it(conn: Connection) -> None:
    # A similarity ranked by ascending value: the vector arm's first rank went to the farthest row.
    rows = corpus()
    table = make_table(conn, rows)
    nearest = max(rows, key=lambda row: float(np.dot(row["embedding"], QUERY_VECTOR)))["id"]
    statement = hybrid_select(table.c.content, table.c.embedding, "zebra", QUERY_VECTOR, bind=conn,
                              metric="max_inner_product", weights=(1, 0))
    assert conn.execute(statement).first().key == nearest
    with pytest.raises(sv.exc.UnsupportedMetricError, match="use 'max_inner_product'"):
        hybrid_select(table.c.content, table.c.embedding, "zebra", QUERY_VECTOR, bind=conn, metric="inner_product")


def test_filters_apply_to_both_arms(conn: Connection) -> None:
    rows = corpus()
    table = make_table(conn, rows)
    where = table.c.category == "a"
    statement = hybrid_select(
        table.c.content, table.c.embedding, "zebra", QUERY_VECTOR, bind=conn, top_k=40, fetch_k=5, where=where
    )
    got = hybrid_rows(conn.execute(statement))
    in_a = {r["id"] for r in rows if r["category"] == "a"}
    assert {g["key"] for g in got} <= in_a
    # Each arm ranked the filtered rows: both have their first five ranks among category "a".
    assert sorted(g["vector_rank"] for g in got if g["vector_rank"] is not None) == [1, 2, 3, 4, 5]
    zebra_a = sorted(r["id"] for r in rows if r["category"] == "a" and "zebra" in r["content"])
    assert sorted(g["key"] for g in got if g["text_rank"] is not None) == zebra_a[:5]
    filtered = [r for r in rows if r["category"] == "a"]
    expected = reciprocal_rank_fusion(
        [vector_ranking(filtered, QUERY_VECTOR)[:5], text_ranking(conn, table, "zebra", where)[:5]]
    )
    assert [g["key"] for g in got] == [e["key"] for e in expected]


def test_an_arm_weighted_zero_adds_no_rows(conn: Connection) -> None:
    rows = corpus()
    table = make_table(conn, rows)
    text_only = hybrid_rows(conn.execute(hybrid_select(
        table.c.content, table.c.embedding, "zebra", QUERY_VECTOR, bind=conn, top_k=40, fetch_k=10, weights=(0, 1)
    )))
    assert text_only and all(g["text_rank"] is not None for g in text_only)
    assert [g["key"] for g in text_only] == [k for k in text_ranking(conn, table, "zebra")[:10]]
    vector_only = hybrid_rows(conn.execute(hybrid_select(
        table.c.content, table.c.embedding, "zebra", QUERY_VECTOR, bind=conn, top_k=40, fetch_k=10, weights=(1, 0)
    )))
    assert [g["key"] for g in vector_only] == vector_ranking(rows, QUERY_VECTOR)[:10]
    nothing = hybrid_select(
        table.c.content, table.c.embedding, "qqqzzz", QUERY_VECTOR, bind=conn, top_k=40, weights=(0, 1)
    )
    assert conn.execute(nothing).all() == []  # full text alone finds nothing: no vector rows at score 0


def test_k_rows_when_k_match(conn: Connection) -> None:
    rows = corpus()
    table = make_table(conn, rows)
    # The text arm matches 8 rows, none in the filter; the vector arm still fills k.
    where = table.c.id.in_([r["id"] for r in rows if "zebra" not in r["content"]][:7])
    got = conn.execute(
        hybrid_select(table.c.content, table.c.embedding, "zebra", QUERY_VECTOR, bind=conn, top_k=5, where=where)
    ).all()
    assert len(got) == 5
    got = conn.execute(
        hybrid_select(table.c.content, table.c.embedding, "zebra", QUERY_VECTOR, bind=conn, top_k=10, where=where)
    ).all()
    assert len(got) == 7
    # fetch_k smaller than top_k cannot starve the result below what the arms hold together.
    got = conn.execute(
        hybrid_select(table.c.content, table.c.embedding, "zebra", QUERY_VECTOR, bind=conn, top_k=12, fetch_k=8)
    ).all()
    assert len(got) == 12 or len(got) == len({*vector_ranking(rows, QUERY_VECTOR)[:8], *text_ranking(conn, table, "zebra")[:8]})


@pytest.mark.parametrize(
    "query",
    ['zebra"', "zebra AND -(quartz", "NEAR(zebra quartz)", "zebra* col:quartz", "'; DROP TABLE x; --", "?!", ""],
)
def test_user_punctuation_never_breaks_the_text_arm(conn: Connection, query: str) -> None:
    rows = corpus()
    table = make_table(conn, rows)
    got = hybrid_rows(
        conn.execute(hybrid_select(table.c.content, table.c.embedding, query, QUERY_VECTOR, bind=conn, top_k=5))
    )
    assert len(got) == 5
    words = {w for w in ("zebra", "quartz") if w in query.lower()}
    matched = set(text_ranking(conn, table, query))
    assert matched == {r["id"] for r in rows if any(w in r["content"] for w in words)}


def test_match_all_requires_every_word(conn: Connection) -> None:
    rows = corpus()
    table = make_table(conn, rows)
    statement = hybrid_select(
        table.c.content, table.c.embedding, "zebra quartz", QUERY_VECTOR, bind=conn, top_k=40, match_all=True
    )
    texts = {g["key"] for g in hybrid_rows(conn.execute(statement)) if g["text_rank"] is not None}
    assert texts == {r["id"] for r in rows if "zebra" in r["content"] and "quartz" in r["content"]}


def test_stemming_and_index_listing(conn: Connection) -> None:
    rows = corpus()
    table = make_table(conn, rows)
    assert set(text_ranking(conn, table, "gardens")) == {r["id"] for r in rows if "garden" in r["content"]}
    found = list_fulltext_indexes(conn, table)
    assert found == [{"name": "hybrid_notes_fts", "table": "hybrid_notes", "column": "content", "language": "english"}]


def test_index_follows_writes(conn: Connection) -> None:
    rows = corpus()
    table = make_table(conn, rows)
    index = next(i for i in table.indexes if isinstance(i, FullTextIndex))
    conn.execute(insert(table), [{"id": "new", "content": "an okapi", "category": "a", "embedding": QUERY_VECTOR}])
    conn.execute(update(table).where(table.c.id == "d01").values(content="okapi again"))
    conn.execute(delete(table).where(table.c.id == "d00"))
    refresh_fulltext_index(conn, index)  # rebuilds DuckDB's; the others follow writes through triggers/GIN
    assert refresh_fulltext_index(conn, index) is False
    assert set(text_ranking(conn, table, "okapi")) == {"new", "d01"}
    assert "d00" not in set(text_ranking(conn, table, "zebra"))
    got = conn.execute(
        hybrid_select(table.c.content, table.c.embedding, "okapi", QUERY_VECTOR, bind=conn, top_k=1)
    ).all()
    assert got[0][0] == "new"  # first in both arms


def test_fulltext_index_is_dropped_with_its_table(conn: Connection) -> None:
    table = make_table(conn, corpus())
    table.metadata.drop_all(conn)
    assert list_fulltext_indexes(conn, "hybrid_notes") == []
    # Built again from scratch: nothing of the old one was left behind.
    make_table(conn, corpus())
    assert len(list_fulltext_indexes(conn, "hybrid_notes")) == 1


def test_python_fusion_is_reciprocal_rank() -> None:
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], rrf_k=60)
    assert [f["key"] for f in fused] == ["b", "a", "c"]
    assert fused[0]["score"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[0]["ranks"] == [2, 1]


def test_select_needs_a_known_index() -> None:
    metadata = MetaData()
    table = Table("plain", metadata, Column("id", String, primary_key=True), Column("content", Text), Column("e", sv.Vector(2)))
    from sqlalchemy.dialects import sqlite

    with pytest.raises(sv.exc.VectorIndexError, match="no FullTextIndex declared on plain.content"):
        hybrid_select(table.c.content, table.c.e, "x", [1.0, 0.0], bind=sqlite.dialect())
    statement = hybrid_select(table.c.content, table.c.e, "x", [1.0, 0.0], bind=sqlite.dialect(), index="plain_fts")
    assert "plain_fts" in str(statement.compile(dialect=sqlite.dialect()))
    assert select(statement.subquery()).selected_columns.keys() == ["key", "score", "vector_rank", "text_rank", "distance", "text_score"]


# -- the facade ---------------------------------------------------------------------------------------

from rag_fixtures import KeywordEmbedder, fresh_engine, pg_database  # noqa: E402,F401  (fixtures)

VOCABULARY = ["uuid", "identifier", "random", "time", "date", "json", "parse", "text", "file", "path"]
PASSAGES = [
    ("generate universally unique identifiers (uuid)", "py"),
    ("random numbers and random choices", "py"),
    ("dates and times: parse, format, time zones", "py"),
    ("read and write json text", "js"),
    ("file system paths, joined and resolved", "py"),
    ("identifier rules for json keys", "js"),
    ("the time a file was written", "js"),
]


def test_facade_hybrid_query(fresh_engine: Any, backend: str) -> None:
    from sqlalchemy_vector.rag import VectorRAG

    rag = VectorRAG(fresh_engine, embedder=KeywordEmbedder(VOCABULARY))
    ids = rag.load_documents(
        [{"content": c, "metadata": {"lang": lang}} for c, lang in PASSAGES], show_progress=False
    )
    with pytest.raises(sv.exc.ModelConfigurationError, match="create_fulltext_index"):
        rag.hybrid_query("uuid")
    rag.create_fulltext_index()
    results = rag.hybrid_query("uuid identifiers", top_k=3)
    assert results[0]["document_id"] == ids[0]
    assert results[0]["text_rank"] == 1 and results[0]["vector_rank"] == 1
    # No query word in the embedder's vocabulary: a zero vector, and the text arm ranks alone.
    results = rag.hybrid_query("universally unique", top_k=3)
    assert [(r["document_id"], r["vector_rank"], r["text_rank"]) for r in results] == [(ids[0], None, 1)]
    assert {"score", "vector_rank", "text_rank", "distance", "similarity", "text_score", "content"} <= set(results[0])
    # The vector arm alone ranks as query() does; the text arm alone keeps only text matches.
    vector_only = rag.hybrid_query("json time", top_k=7, weights=(1.0, 0.0))
    plain = rag.query("json time", top_k=7)
    assert {r["document_id"] for r in vector_only} == {r["document_id"] for r in plain}
    assert [r["distance"] for r in vector_only] == pytest.approx([r["distance"] for r in plain], abs=1e-6)
    assert [r["vector_rank"] for r in vector_only] == list(range(1, 8))
    text_only = rag.hybrid_query("json", top_k=7, weights=(0.0, 1.0))
    assert {r["document_id"] for r in text_only} == {ids[3], ids[5]}
    # Filters apply to both arms; k rows when k match.
    filtered = rag.hybrid_query("json file", top_k=3, filters={"lang": "js"})
    assert len(filtered) == 3 and all(r["metadata"]["lang"] == "js" for r in filtered)
    # Rows written after the index was built are found (DuckDB's index is rebuilt when stale).
    new = rag.load_document("parse a json file", {"lang": "py"})
    assert rag.hybrid_query("parse json file", top_k=1)[0]["document_id"] == new
    rag.close()


def test_facade_fusion_follows_the_embedders_lead(fresh_engine: Any, backend: str) -> None:
    from sqlalchemy_vector.rag import VectorRAG

    class Leading(KeywordEmbedder):
        hybrid_rrf_k = (60, 1)  # full text leads

    embedder = Leading(VOCABULARY)
    rag = VectorRAG(fresh_engine, embedder=embedder)
    rag.load_documents([{"content": c} for c, _ in PASSAGES], show_progress=False)
    rag.create_fulltext_index(language="simple")
    # "time" is in the vector vocabulary, "written" only in the text: the arms disagree on the first place.
    question = "time written"
    text_lead = rag.hybrid_query(question, top_k=3)
    assert [r["text_rank"] for r in text_lead[:1]] == [1]
    assert text_lead[0]["score"] == pytest.approx(1 / (1 + 1) + (1 / (60 + text_lead[0]["vector_rank"])
                                                                   if text_lead[0]["vector_rank"] else 0.0))
    # An explicit rrf_k wins over the embedder's; one number is the same constant for both arms.
    vector_lead = rag.hybrid_query(question, top_k=3, rrf_k=(1, 60))
    assert vector_lead[0]["vector_rank"] == 1
    plain = rag.hybrid_query(question, top_k=7, rrf_k=60)
    expected = reciprocal_rank_fusion(
        [[r["document_id"] for r in rag.hybrid_query(question, top_k=7, weights=(1, 0))],
         [r["document_id"] for r in rag.hybrid_query(question, top_k=7, weights=(0, 1))]],
        rrf_k=60,
    )
    assert [r["document_id"] for r in plain] == [e["key"] for e in expected][:7]
    # Without hybrid_rrf_k the facade uses the standard 60 for both arms.
    del Leading.hybrid_rrf_k
    assert [r["document_id"] for r in rag.hybrid_query(question, top_k=7)] == [r["document_id"] for r in plain]
    rag.close()


def test_builtin_embedders_say_which_arm_leads() -> None:
    assert sv.HashingEmbedder().hybrid_rrf_k == (60, 5)  # lexical vectors break full text's ties
    assert sv.SentenceTransformerEmbedder.hybrid_rrf_k == (1, 60)  # a semantic model leads


@pytest.mark.parametrize("backend", ["duckdb"])
def test_duckdb_index_is_rebuilt_by_the_facades_write_log(fresh_engine: Any, backend: str) -> None:
    """DuckDB's fts index is a snapshot: facade writes log themselves, and the query rebuilds without a scan."""
    from sqlalchemy import text

    from sqlalchemy_vector.rag import VectorRAG

    rag = VectorRAG(fresh_engine, embedder=KeywordEmbedder(VOCABULARY))
    table = rag.document_model.__table__
    state = f'"fts_main_{table.name}".index_state'
    log = f'"fts_main_{table.name}#writes".log'

    def writes() -> int:
        """Writes logged since the index was built."""
        with fresh_engine.connect() as connection:
            return int(connection.execute(text(f"SELECT (SELECT count(*) FROM {log}) - built_writes FROM {state}")).scalar_one())

    def top(question: str) -> Any:
        return rag.hybrid_query(question, top_k=1, weights=(0, 1))[0]["document_id"]

    ids = rag.load_documents([{"content": c} for c, _ in PASSAGES], show_progress=False)  # no index yet: no count
    rag.create_fulltext_index(language="simple")
    assert writes() == 0
    new = rag.load_document("okapi herds")
    assert writes() == 1
    assert top("okapi") == new and writes() == 0  # rebuilt before the query, which recorded the log's length
    assert rag.update_document(ids[1], content="okapi okapi okapi") and writes() == 1
    assert top("okapi") == ids[1] and writes() == 0
    assert rag.update_document(ids[2], metadata={"x": 1}) and writes() == 0  # the text did not change
    assert rag.delete_document(ids[1]) and writes() == 1
    assert top("okapi") == new
    assert not rag.delete_document(ids[1]) and writes() == 0  # nothing deleted, nothing to rebuild

    # A write outside the facade is not counted: hybrid_query does not scan the table, so it does not see it
    # until refresh_fulltext_index scans (the default) or the facade writes again.
    with fresh_engine.begin() as connection:
        connection.execute(table.update().where(table.c.id == ids[0]).values(content="zebu zebu"))
    assert rag.hybrid_query("zebu", top_k=1, weights=(0, 1)) == []
    spec = next(i for i in list_fulltext_indexes_of(fresh_engine, table))
    with fresh_engine.begin() as connection:
        assert refresh_fulltext_index(connection, spec, scan=False) is False
        assert refresh_fulltext_index(connection, spec) is True
        assert refresh_fulltext_index(connection, spec) is False
    assert top("zebu") == ids[0]
    rag.close()


def list_fulltext_indexes_of(engine: Any, table: Table) -> List[Any]:
    from sqlalchemy_vector.fulltext import FullTextSpec

    with engine.connect() as connection:
        found = list_fulltext_indexes(connection, table)
    return [FullTextSpec(i["name"], table, table.c[i["column"]], i["language"]) for i in found]


@pytest.mark.parametrize("backend", ["duckdb"])
def test_duckdb_index_built_before_the_write_log_is_rebuilt_once(fresh_engine: Any, backend: str) -> None:
    from sqlalchemy import text

    from sqlalchemy_vector.rag import VectorRAG

    rag = VectorRAG(fresh_engine, embedder=KeywordEmbedder(VOCABULARY))
    rag.load_documents([{"content": c} for c, _ in PASSAGES], show_progress=False)
    rag.create_fulltext_index(language="simple")
    table = rag.document_model.__table__
    state = f'"fts_main_{table.name}".index_state'
    with fresh_engine.begin() as connection:  # the state table and no log, as an index built by an older version
        connection.execute(text(f"ALTER TABLE {state} DROP COLUMN built_writes"))
        connection.execute(text(f'DROP SCHEMA "fts_main_{table.name}#writes" CASCADE'))
    rag.load_document("okapi herds")  # not logged: there is no log
    spec = list_fulltext_indexes_of(fresh_engine, table)[0]
    with fresh_engine.begin() as connection:
        assert refresh_fulltext_index(connection, spec, scan=False) is True
        assert refresh_fulltext_index(connection, spec, scan=False) is False
        assert connection.execute(text(f"SELECT built_writes FROM {state}")).scalar_one() == 0
    assert rag.hybrid_query("okapi", top_k=1, weights=(0, 1))[0]["content"] == "okapi herds"
    # Dropping the index drops its write log too.
    rag_table_indexes = list_fulltext_indexes_of(fresh_engine, table)
    with fresh_engine.begin() as connection:
        sv.drop_fulltext_index(connection, rag_table_indexes[0].name, table_name=table.name)
        schemas = connection.execute(text("SELECT schema_name FROM duckdb_schemas()")).scalars().all()
    assert not [name for name in schemas if name.startswith(f"fts_main_{table.name}")]
    rag.close()


@pytest.mark.parametrize("backend", ["duckdb"])
def test_duckdb_concurrent_facade_writes_do_not_conflict_on_the_write_log(fresh_engine: Any, backend: str) -> None:
    import threading

    from sqlalchemy_vector.rag import VectorRAG

    rag = VectorRAG(fresh_engine, embedder=KeywordEmbedder(VOCABULARY))
    rag.load_documents([{"content": c} for c, _ in PASSAGES], show_progress=False)
    rag.create_fulltext_index(language="simple")
    errors: List[BaseException] = []

    def write(thread: int) -> None:
        for i in range(5):
            try:
                rag.load_document(f"okapi{thread} note {i}")
            except BaseException as error:  # noqa: BLE001 - collected and asserted below
                errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    found = rag.hybrid_query("okapi0 okapi1 okapi2 okapi3", top_k=30, weights=(0, 1))
    assert len(found) == 20
    rag.close()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_async_facade_hybrid_query(tmp_path: Any, backend: str) -> None:
    rag = sv.AsyncVectorRAG(f"sqlite+aiosqlite:///{tmp_path}/a.db", embedder=KeywordEmbedder(VOCABULARY))
    ids = await rag.load_documents([{"content": c} for c, _ in PASSAGES], show_progress=False)
    await rag.create_fulltext_index(language="simple")
    results = await rag.hybrid_query("uuid identifiers", top_k=2)
    assert results[0]["document_id"] == ids[0]
    await rag.close()


# -- migrations ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql"])
def test_fulltext_index_migrates(kind: str, fresh_database_url: Any) -> None:
    from alembic.autogenerate import produce_migrations, render_python_code
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    import sqlalchemy_vector.alembic as sva

    def metadata_with(index: bool) -> MetaData:
        metadata = MetaData()
        table = Table(
            "notes", metadata, Column("id", String(8), primary_key=True), Column("content", Text), Column("embedding", sv.Vector(3))
        )
        if index:
            FullTextIndex("notes_fts", table.c.content, language="simple")
        return metadata

    def fulltext_ops(connection: Connection, metadata: MetaData) -> Any:
        context = MigrationContext.configure(connection, opts=sva.context_options(connection))
        upgrade = produce_migrations(context, metadata).upgrade_ops
        # (DuckDB reflects Text as String, an unrelated column diff: only full-text operations are looked at.)
        found = [op for table_ops in upgrade.ops for op in getattr(table_ops, "ops", [table_ops]) if "FullText" in type(op).__name__]
        return context, upgrade, found

    engine = sv.create_engine(fresh_database_url(kind))
    try:
        with engine.begin() as connection:
            metadata_with(False).create_all(connection)
            connection.execute(metadata_with(False).tables["notes"].insert(), [
                {"id": "a", "content": "okapi grazing", "embedding": [1, 0, 0]},
                {"id": "b", "content": "zebra grazing", "embedding": [0, 1, 0]},
            ])
        with engine.begin() as connection:
            context, upgrade, found = fulltext_ops(connection, metadata_with(True))
            assert [type(op).__name__ for op in found] == ["CreateFullTextIndexOp"]
            code = render_python_code(upgrade)
            assert "op.create_fulltext_index('notes_fts', 'notes', 'content', language='simple')" in code
            Operations(context).invoke(found[0])
        with engine.begin() as connection:
            assert list_fulltext_indexes(connection, "notes")[0]["language"] == "simple"
            # Filled from the rows already there; nothing more to migrate, and no shadow table shows as a change.
            table = metadata_with(True).tables["notes"]
            got = connection.execute(
                hybrid_select(table.c.content, table.c.embedding, "okapi", [1, 0, 0], bind=connection, top_k=2)
            ).all()
            assert got[0][0] == "a" and got[0][3] == 1
            context, upgrade, found = fulltext_ops(connection, metadata_with(True))
            assert found == []
            # Dropped from the models: the migration drops it, and its downgrade builds it again.
            context, upgrade, found = fulltext_ops(connection, metadata_with(False))
            assert [type(op).__name__ for op in found] == ["DropFullTextIndexOp"]
            assert "op.drop_fulltext_index('notes_fts', 'notes')" in render_python_code(upgrade)
            assert "op.create_fulltext_index('notes_fts', 'notes', 'content', language='simple')" in render_python_code(
                upgrade.reverse()
            )
            Operations(context).invoke(found[0])
            assert list_fulltext_indexes(connection, "notes") == []
    finally:
        engine.dispose()


# -- maximal marginal relevance -------------------------------------------------------------------------


def test_mmr_prefers_the_unlike() -> None:
    from sqlalchemy_vector.mmr import maximal_marginal_relevance

    query = [1.0, 0.0]
    candidates = [[1.0, 0.0], [0.99, 0.01], [0.7, 0.7]]
    assert maximal_marginal_relevance(query, candidates, 2, lambda_mult=1.0) == [0, 1]
    assert maximal_marginal_relevance(query, candidates, 2, lambda_mult=0.3) == [0, 2]
    assert maximal_marginal_relevance(query, candidates, 5, lambda_mult=0.3) == [0, 2, 1]
    with pytest.raises(sv.exc.InvalidArgumentError, match="lambda_mult"):
        maximal_marginal_relevance(query, candidates, 2, lambda_mult=2)


def test_facade_mmr_query(fresh_engine: Any, backend: str) -> None:
    from sqlalchemy_vector.rag import VectorRAG

    rag = VectorRAG(fresh_engine, embedder=KeywordEmbedder(VOCABULARY))
    ids = rag.load_documents(
        [
            {"content": "json json json text"},
            {"content": "json json json text"},  # a duplicate
            {"content": "json file"},
            {"content": "random time"},
        ],
        show_progress=False,
    )
    plain = [r["document_id"] for r in rag.query("json", top_k=2)]
    assert set(plain) == {ids[0], ids[1]}
    diverse = [r["document_id"] for r in rag.mmr_query("json", top_k=2, fetch_k=4, lambda_mult=0.5)]
    assert diverse[0] in (ids[0], ids[1]) and diverse[1] == ids[2]
    assert set(r["document_id"] for r in rag.mmr_query("json", top_k=2, lambda_mult=1.0)) == set(plain)
    rag.create_fulltext_index()
    hybrid = [r["document_id"] for r in rag.mmr_query("json", top_k=2, fetch_k=4, lambda_mult=0.5, mode="hybrid")]
    assert hybrid[0] in (ids[0], ids[1]) and hybrid[1] == ids[2]
    rag.close()
