"""Whole-number arguments take numpy integers (what ``np.argmax``, ``arr.sum()`` or an int array's items are).

Each such argument (``k``, ``top_k``, dimensions, ``batch_size``, ``fetch_k``,
chunk sizes, index options, RRF constants, ...) accepts a numpy integer scalar
as it accepts the same ``int``, and goes on as a plain Python ``int`` (stored,
compared, put into ``LIMIT``).  Booleans (``True``, ``np.bool_``) and floats
(``np.float64(2.0)`` too) are refused as before, with the same exception.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, List

import numpy as np
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase

import sqlalchemy_vector as sv
from sqlalchemy_vector import exc as x
from sqlalchemy_vector.chunking import chunk_text
from sqlalchemy_vector.embedding import CallableEmbedder, HashingEmbedder
from sqlalchemy_vector.fulltext import FullTextIndex
from sqlalchemy_vector.hybrid import hybrid_select, reciprocal_rank_fusion
from sqlalchemy_vector.index import CreateVectorIndex
from sqlalchemy_vector.mmr import maximal_marginal_relevance
from sqlalchemy_vector.orm import EmbeddedDocumentMixin, make_models
from sqlalchemy_vector.rag import VectorRAG
from sqlalchemy_vector.types import whole_number

DIM = 4
VECTORS = {1: [1.0, 0.0, 0.0], 2: [0.9, 0.1, 0.0], 3: [0.0, 1.0, 0.0], 4: [0.0, 0.0, 1.0]}
NOT_WHOLE_NUMBERS = [True, False, np.bool_(True), np.float64(2.0), 2.0]
TEXT = " ".join(f"word{i}" for i in range(40)) + "\n\n# Heading\n\n" + " ".join(f"more{i}" for i in range(12))


def is_int(value: Any) -> bool:
    return type(value) is int


def table(dim: Any = 3) -> Table:
    return Table("docs", MetaData(), Column("id", Integer, primary_key=True), Column("emb", sv.Vector(dim)))


@pytest.fixture
def conn() -> Iterator[Connection]:
    engine = sv.create_engine("sqlite://")
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def filled(conn: Connection, dim: Any = 3) -> Table:
    docs = table(dim)
    docs.metadata.create_all(conn)
    conn.execute(insert(docs), [{"id": i, "emb": v} for i, v in VECTORS.items()])
    return docs


@pytest.fixture
def rag(tmp_path: Path) -> Iterator[VectorRAG]:
    facade = VectorRAG("sqlite:///" + str(tmp_path / "x.db"), dimension=DIM)
    facade.load_documents(
        [{"document_id": f"d{i}", "content": f"document {i} about topic {i % 3}"} for i in range(6)], show_progress=False
    )
    yield facade
    facade.close()


# -- the helper --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [5, np.int64(5), np.int32(5), np.uint8(5), np.intp(5), np.array(5)])
def test_whole_numbers_become_plain_ints(value: Any) -> None:
    assert whole_number(value) == 5 and is_int(whole_number(value))


@pytest.mark.parametrize("value", [*NOT_WHOLE_NUMBERS, np.bool_(False), np.array(5.0), "5", None, [5]])
def test_booleans_floats_and_others_are_not_whole_numbers(value: Any) -> None:
    assert whole_number(value) is None


# -- column types ------------------------------------------------------------------------------------


def test_vector_with_a_numpy_dimension_round_trips(conn: Connection) -> None:
    docs = filled(conn, np.int64(3))
    assert docs.c.emb.type.dim == 3 and is_int(docs.c.emb.type.dim)
    assert repr(docs.c.emb.type) == "Vector(3)"
    stored = dict(conn.execute(select(docs.c.id, docs.c.emb)).tuples().all())
    assert sorted(stored) == sorted(VECTORS)
    for i, vector in stored.items():
        assert vector.tolist() == pytest.approx(VECTORS[i])
    with pytest.raises(x.DimensionMismatchError):
        conn.execute(insert(docs), [{"id": 9, "emb": [1.0, 2.0]}])


@pytest.mark.parametrize("kind", [sv.HalfVector, sv.Int8Vector, sv.BitVector, sv.SparseVector])
def test_compact_kinds_take_a_numpy_dimension(kind: Any) -> None:
    column_type = kind(np.int64(8))
    assert column_type.dim == 8 and is_int(column_type.dim)
    assert repr(column_type) == repr(kind(8))


def test_vector_schema_and_vector_column_take_a_numpy_dimension() -> None:
    schema = sv.VectorSchema(np.int32(3))
    assert schema == sv.VectorSchema(3) and is_int(schema.dim)
    column = sv.vector_column(np.int64(3))
    assert isinstance(column.column.type, sv.Vector)
    assert column.column.type.dim == 3 and is_int(column.column.type.dim)


# -- knn -----------------------------------------------------------------------------------------------


def test_knn_select_with_a_numpy_k_is_the_plain_statement() -> None:
    docs = table()
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        plain = sv.knn_select(docs.c.emb, [1, 0, 0], 2).compile(dialect=dialect)
        numpy_k = sv.knn_select(docs.c.emb, [1, 0, 0], np.int64(2)).compile(dialect=dialect)
        assert str(numpy_k) == str(plain)
        numbers = {k: v for k, v in numpy_k.params.items() if isinstance(v, (int, np.integer))}
        assert numbers == {k: v for k, v in plain.params.items() if isinstance(v, (int, np.integer))}
        assert 2 in numbers.values() and all(map(is_int, numbers.values()))


def test_knn_with_a_numpy_k(conn: Connection) -> None:
    docs = filled(conn)
    query = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    plain = sv.knn(conn, docs.c.emb, query, 2)
    got = sv.knn(conn, docs.c.emb, query, k=np.int64(2))
    assert [(r.id, r.distance) for r in got] == [(r.id, r.distance) for r in plain]
    assert [r.id for r in got] == [1, 2]
    assert len(sv.knn(conn, docs.c.emb, query, k=np.argmax([0, 0, 3]))) == 2  # np.argmax: an np.intp
    with sv.search_settings(conn, ef_search=np.int64(40), probes=np.int32(4)):
        assert [r.id for r in sv.knn(conn, docs.c.emb, query, np.int16(1))] == [1]


# -- index options ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "options"), [("hnsw", {"m": 16, "ef_construction": 64}), ("ivfflat", {"lists": 10})]
)
def test_vector_index_options_take_numpy_integers(method: str, options: dict) -> None:
    def ddl(**given: Any) -> str:
        docs = table()
        index = sv.VectorIndex("docs_emb", docs.c.emb, method=method, **given)
        assert index.options == options and all(map(is_int, index.options.values()))
        return str(CreateVectorIndex(index).compile(dialect=postgresql.dialect()))

    assert ddl(**{k: np.int64(v) for k, v in options.items()}) == ddl(**options)
    assert "16" in ddl(**options) or "10" in ddl(**options)


# -- chunking, MMR, fusion --------------------------------------------------------------------------------


def test_chunk_text_takes_numpy_sizes() -> None:
    plain = chunk_text(TEXT, max_words=10, overlap=3)
    assert len(plain) > 3
    assert chunk_text(TEXT, max_words=np.int64(10), overlap=np.int64(3)) == plain
    assert chunk_text(TEXT, max_words=np.int32(10), overlap=np.uint8(3)) == plain
    with pytest.raises(x.InvalidArgumentError, match="overlap must be between 0 and max_words - 1"):
        chunk_text(TEXT, max_words=np.int64(3), overlap=np.int64(3))


def test_mmr_takes_a_numpy_k() -> None:
    candidates = [v for v in VECTORS.values()]
    plain = maximal_marginal_relevance([1.0, 0.0, 0.0], candidates, 3, 0.3)
    got = maximal_marginal_relevance([1.0, 0.0, 0.0], candidates, np.int64(3), 0.3)
    assert got == plain and len(got) == 3 and all(map(is_int, got))


def test_reciprocal_rank_fusion_takes_numpy_integers() -> None:
    rankings = [["a", "b", "c"], ["b", "c", "d"]]
    plain = reciprocal_rank_fusion(rankings, rrf_k=60, top_k=2)
    assert reciprocal_rank_fusion(rankings, rrf_k=np.int64(60), top_k=np.int64(2)) == plain
    got = reciprocal_rank_fusion(rankings, rrf_k=[np.int32(60), np.int64(60)], top_k=np.int32(2))
    assert got == plain and len(got) == 2
    assert all(type(item["score"]) is float for item in got)  # not numpy floats from a numpy constant


def hybrid_table() -> Table:
    docs = Table("t", MetaData(), Column("id", String(8), primary_key=True), Column("content", Text),
                 Column("embedding", sv.Vector(3)))
    FullTextIndex("t_fts", docs.c.content)
    return docs


def test_hybrid_select_takes_numpy_integers() -> None:
    def compiled(**given: Any) -> Any:
        docs = hybrid_table()
        statement = hybrid_select(docs.c.content, docs.c.embedding, "x", [1.0, 0.0, 0.0], bind=sqlite.dialect(), **given)
        return statement.compile(dialect=sqlite.dialect())

    plain = compiled(top_k=5, fetch_k=(20, 30), rrf_k=(60, 5))
    for given in (
        {"top_k": np.int64(5), "fetch_k": (np.int64(20), np.int32(30)), "rrf_k": (np.int64(60), np.uint8(5))},
        {"top_k": np.int64(5), "fetch_k": [np.int64(20), 30], "rrf_k": [60, np.int64(5)]},
    ):
        got = compiled(**given)
        assert str(got) == str(plain)
        numbers = {k: v for k, v in got.params.items() if isinstance(v, (int, np.integer))}
        assert numbers == {k: v for k, v in plain.params.items() if isinstance(v, (int, np.integer))}
        assert numbers and all(map(is_int, numbers.values()))
    assert str(compiled(top_k=np.int64(5), fetch_k=np.int64(20))) == str(compiled(top_k=5, fetch_k=20))


# -- embedders and models ------------------------------------------------------------------------------------


def test_embedders_take_a_numpy_dimension() -> None:
    hashing = HashingEmbedder(np.int64(16))
    assert hashing.dimension == 16 and is_int(hashing.dimension)
    assert hashing.model_name == HashingEmbedder(16).model_name
    assert hashing.embed(["a text"]).shape == (1, 16)
    ngrams = HashingEmbedder(16, ngram_range=(np.int64(2), np.int32(4)))
    assert ngrams.ngram_range == (2, 4) and all(map(is_int, ngrams.ngram_range))
    assert ngrams.model_name == HashingEmbedder(16, ngram_range=(2, 4)).model_name
    wrapped = CallableEmbedder(lambda texts: np.ones((len(texts), 3)), np.int64(3), "ones")
    assert wrapped.dimension == 3 and is_int(wrapped.dimension)
    assert wrapped.embed(["a", "b"]).shape == (2, 3)


def test_make_models_takes_a_numpy_dimension() -> None:
    document, embedding = make_models(np.int64(4))
    assert embedding.__dimension__ == 4 and is_int(embedding.__dimension__)
    vector_type = embedding.__table__.c.embedding.type
    assert isinstance(vector_type, sv.Vector) and vector_type.dim == 4 and is_int(vector_type.dim)
    half = make_models(np.int32(4), precision="half")[1].__table__.c.embedding.type
    assert isinstance(half, sv.HalfVector) and is_int(half.dim)


def test_a_mixin_dimension_may_be_a_numpy_integer() -> None:
    class Base(DeclarativeBase):
        pass

    class Page(EmbeddedDocumentMixin, Base):
        __tablename__ = "pages"
        __dimension__ = np.int64(4)

    column_type = Page.__table__.c.embedding.type
    assert column_type.dim == 4 and is_int(column_type.dim)


# -- the facade ---------------------------------------------------------------------------------------------


def test_facade_searches_take_numpy_integers(rag: VectorRAG) -> None:
    query = np.array([1.0, 0.5, 0.0, 0.2], dtype=np.float32)
    plain = rag.query_with_embedding(query, top_k=2)
    got = rag.query_with_embedding(query, top_k=np.int32(2))
    assert len(got) == 2 and got == plain
    assert rag.query("document about topic 1", top_k=np.int64(3)) == rag.query("document about topic 1", top_k=3)
    assert rag.query_batch(["topic 1", "topic 2"], top_k=np.int64(2)) == rag.query_batch(["topic 1", "topic 2"], top_k=2)
    assert rag.query_with_filters({}, top_k=np.int64(4)) == rag.query_with_filters({}, top_k=4)
    assert rag.find_similar_documents("d1", top_k=np.int64(2)) == rag.find_similar_documents("d1", top_k=2)
    assert len(rag.query_with_embedding(query, top_k=np.argmax([0, 5, 1, 0]))) == 1  # np.argmax: an np.intp
    plain_mmr = rag.mmr_query("document topic", top_k=2, fetch_k=5)
    assert len(plain_mmr) == 2 and rag.mmr_query("document topic", top_k=np.int64(2), fetch_k=np.int64(5)) == plain_mmr


def test_facade_hybrid_query_takes_numpy_integers(rag: VectorRAG) -> None:
    rag.create_fulltext_index()
    plain = rag.hybrid_query("document topic", top_k=3, rrf_k=(60, 5), fetch_k=(10, 10))
    got = rag.hybrid_query(
        "document topic", top_k=np.int64(3), rrf_k=(np.int64(60), np.int32(5)), fetch_k=np.int64(10)
    )
    assert len(got) == 3 and got == plain


def test_facade_loads_in_numpy_sized_batches(tmp_path: Path) -> None:
    facade = VectorRAG("sqlite:///" + str(tmp_path / "x.db"), dimension=np.int64(DIM))
    try:
        assert facade.dimension == DIM and is_int(facade.dimension)
        documents = [{"document_id": f"n{i}", "content": f"text {i}"} for i in range(5)]
        assert facade.load_documents(documents, show_progress=False, batch_size=np.int64(2)) == [d["document_id"] for d in documents]
        assert facade.get_statistics()["document_count"] == 5
    finally:
        facade.close()


# -- still refused: booleans and floats ---------------------------------------------------------------------------


def _knn_select(value: Any) -> Any:
    return sv.knn_select(table().c.emb, [1, 0, 0], value)


def _hybrid(name: str) -> Callable[[Any], Any]:
    def call(value: Any) -> Any:
        docs = hybrid_table()
        return hybrid_select(docs.c.content, docs.c.embedding, "x", [1.0, 0.0, 0.0], bind=sqlite.dialect(), **{name: value})

    return call


REFUSALS: List[Any] = [
    pytest.param(sv.Vector, x.InvalidVectorError, id="Vector"),
    pytest.param(sv.HalfVector, x.InvalidVectorError, id="HalfVector"),
    pytest.param(sv.VectorSchema, x.InvalidVectorError, id="VectorSchema"),
    pytest.param(sv.vector_column, x.InvalidArgumentError, id="vector_column"),
    pytest.param(_knn_select, x.InvalidArgumentError, id="knn_select-k"),
    pytest.param(lambda v: sv.VectorIndex("ix", table().c.emb, m=v), x.VectorIndexError, id="VectorIndex-m"),
    pytest.param(lambda v: chunk_text(TEXT, max_words=v), x.InvalidArgumentError, id="chunk_text-max_words"),
    pytest.param(lambda v: chunk_text(TEXT, overlap=v), x.InvalidArgumentError, id="chunk_text-overlap"),
    pytest.param(lambda v: maximal_marginal_relevance([1, 0], [[1, 0]], v), x.InvalidArgumentError, id="mmr-k"),
    pytest.param(lambda v: reciprocal_rank_fusion([["a"]], rrf_k=v), x.InvalidArgumentError, id="rrf-rrf_k"),
    pytest.param(lambda v: reciprocal_rank_fusion([["a"]], top_k=v), x.InvalidArgumentError, id="rrf-top_k"),
    pytest.param(_hybrid("top_k"), x.InvalidArgumentError, id="hybrid_select-top_k"),
    pytest.param(_hybrid("fetch_k"), x.InvalidArgumentError, id="hybrid_select-fetch_k"),
    pytest.param(_hybrid("rrf_k"), x.InvalidArgumentError, id="hybrid_select-rrf_k"),
    pytest.param(HashingEmbedder, x.InvalidArgumentError, id="HashingEmbedder"),
    pytest.param(lambda v: CallableEmbedder(len, v, "m"), x.InvalidArgumentError, id="CallableEmbedder"),
    pytest.param(make_models, x.InvalidVectorError, id="make_models"),
]


@pytest.mark.parametrize("value", NOT_WHOLE_NUMBERS, ids=repr)
@pytest.mark.parametrize(("call", "error"), REFUSALS)
def test_booleans_and_floats_are_still_refused(call: Callable[[Any], Any], error: type, value: Any) -> None:
    with pytest.raises(error):
        call(value)


@pytest.mark.parametrize("value", NOT_WHOLE_NUMBERS, ids=repr)
def test_search_settings_and_knn_still_refuse_booleans_and_floats(conn: Connection, value: Any) -> None:
    docs = filled(conn)
    with pytest.raises(x.InvalidArgumentError, match="knn\\(\\) expects k to be a positive integer"):
        sv.knn(conn, docs.c.emb, [1, 0, 0], value)
    with pytest.raises(x.InvalidArgumentError, match="search_settings\\(ef_search=...\\) expects an integer from 1 to 1000"):
        with sv.search_settings(conn, ef_search=value):
            pass


@pytest.mark.parametrize("value", NOT_WHOLE_NUMBERS, ids=repr)
def test_a_mixin_dimension_that_is_a_boolean_or_float_is_refused(value: Any) -> None:
    class Base(DeclarativeBase):
        pass

    with pytest.raises(x.ModelConfigurationError, match="needs __dimension__ = <positive int>"):

        class Page(EmbeddedDocumentMixin, Base):
            __tablename__ = "pages"
            __dimension__ = value


@pytest.mark.parametrize("value", NOT_WHOLE_NUMBERS, ids=repr)
def test_the_facade_still_refuses_booleans_and_floats(rag: VectorRAG, tmp_path: Path, value: Any) -> None:
    query = np.ones(DIM, dtype=np.float32)
    with pytest.raises(x.InvalidArgumentError, match="top_k must be a positive integer"):
        rag.query_with_embedding(query, top_k=value)
    with pytest.raises(x.InvalidArgumentError, match="batch_size must be a positive integer"):
        rag.load_documents([{"content": "x"}], show_progress=False, batch_size=value)
    with pytest.raises(x.InvalidArgumentError, match="fetch_k must be a positive integer"):
        rag.mmr_query("x", fetch_k=value)
    with pytest.raises(x.ModelConfigurationError, match="dimension must be a positive integer"):
        VectorRAG("sqlite:///" + str(tmp_path / "other.db"), dimension=value)
    assert rag.get_statistics()["document_count"] == 6


def test_ngram_sizes_refuse_booleans_and_floats_like_every_other_whole_number() -> None:
    for value in (True, np.bool_(True), np.float64(3.0)):
        with pytest.raises(x.InvalidArgumentError, match="ngram_range"):
            HashingEmbedder(16, ngram_range=(value, 5))
