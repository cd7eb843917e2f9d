"""The synchronous RAG facade on every backend, each test on a fresh database."""

from __future__ import annotations

import asyncio
import uuid
import warnings
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

import sqlalchemy_vector as sv
from rag_fixtures import (  # noqa: F401  (pg_database and fresh_engine are fixtures)
    CORPUS,
    SYNC_BACKENDS,
    VOCABULARY,
    KeywordEmbedder,
    create_existing_tables,
    drop_all_postgresql,
    existing_models,
    fresh_engine,
    fresh_url,
    pg_database,
    reference,
    similarity,
)
from sqlalchemy_vector.embedding import HashingEmbedder
from sqlalchemy_vector.exc import (
    DimensionMismatchError,
    DocumentNotFoundError,
    IndexMaintenanceWarning,
    InvalidArgumentError,
    InvalidDocumentError,
    InvalidFilterError,
    InvalidVectorError,
    MissingExtensionError,
    ModelConfigurationError,
    SchemaMismatchError,
    UnsupportedMetricError,
    VectorIndexError,
)
from sqlalchemy_vector.orm import EmbeddedDocumentMixin, make_models
from sqlalchemy_vector.rag import VectorRAG
from tests.conftest import BACKENDS, WITH_CLICKHOUSE

# The backends fresh_database_url makes a database of (its SQLite URL is the sqlite-vec one).
FRESH_BACKENDS = ("sqlite", "duckdb", "postgresql", "clickhouse")

FUNCTIONS = ("cosine", "euclidean", "inner_product")
# A query vector whose distances to CORPUS have no ties under any function.
Q = [0.8, 0.45, 0.3, 0.1, 0.05, 0.2, 0.15, 0.37]
CONTENTS = {d["document_id"]: d["content"] for d in CORPUS}
STATISTICS_KEYS = {
    "backend", "document_count", "embedding_count", "dimension", "embedding_model", "models", "tables", "indexes",
}


@pytest.fixture
def embedder() -> KeywordEmbedder:
    return KeywordEmbedder(VOCABULARY)


@pytest.fixture(params=WITH_CLICKHOUSE)
def backend(request: pytest.FixtureRequest) -> str:
    """This module's matrix: the four backends and ClickHouse."""
    return str(request.param)


@pytest.fixture
def rag(fresh_engine: Engine, embedder: KeywordEmbedder) -> VectorRAG:
    facade = VectorRAG(fresh_engine, embedder=embedder)
    assert facade.load_documents(CORPUS, show_progress=False) == [d["document_id"] for d in CORPUS]
    embedder.calls.clear()
    return facade


def ranking(function: str, query: Any = Q, contents: Dict[str, str] = CONTENTS) -> List[tuple[str, float]]:
    expected = reference(KeywordEmbedder(VOCABULARY), np.asarray(query), function, contents)
    return sorted(expected.items(), key=lambda item: item[1])


def assert_matches(results: List[Dict[str, Any]], expected: List[tuple[str, float]], function: str) -> None:
    assert [r["document_id"] for r in results] == [doc_id for doc_id, _ in expected]
    for result, (_, distance) in zip(results, expected):
        assert set(result) == {"document_id", "content", "metadata", "distance", "similarity"}
        assert result["distance"] == pytest.approx(distance, rel=1e-5, abs=1e-6)
        assert result["similarity"] == pytest.approx(similarity(function, distance), rel=1e-5, abs=1e-6)
        assert result["content"] == CONTENTS[result["document_id"]]


# -- loading and reading ------------------------------------------------------------------------


def test_load_and_get(fresh_engine: Engine, embedder: KeywordEmbedder) -> None:
    rag = VectorRAG(fresh_engine, embedder=embedder)
    new_id = rag.load_document("apple fig", {"source": "a.txt", "page": 3})
    assert isinstance(new_id, str) and len(new_id) == 36
    doc = rag.get_document(new_id)
    assert doc is not None
    assert set(doc) == {"document_id", "content", "metadata", "created_at"}
    assert (doc["document_id"], doc["content"], doc["metadata"]) == (new_id, "apple fig", {"source": "a.txt", "page": 3})
    assert rag.load_document("no vector", document_id="plain", generate_embedding=False) == "plain"
    ids = rag.load_documents(
        [
            {"content": "cherry", "document_id": "given-1"},
            {"content": "precomputed", "embedding": [0, 0, 0, 0, 0, 0, 3, 4], "metadata": {"pre": True}},
            {"content": "durian"},
        ],
        show_progress=False,
        batch_size=2,
    )
    assert ids[0] == "given-1" and len(set(ids)) == 3
    # the precomputed vector was stored as given, not embedded
    assert ["precomputed"] not in embedder.calls and ["cherry"] in embedder.calls
    hit = rag.query_with_embedding([0, 0, 0, 0, 0, 0, 0.6, 0.8], top_k=1)[0]
    assert hit["document_id"] == ids[1] and hit["distance"] == pytest.approx(0.0, abs=1e-6)
    assert [d["document_id"] for d in rag.get_documents([ids[2], "missing", new_id])] == [ids[2], new_id]
    assert rag.get_document("missing") is None and rag.get_documents([]) == []
    stats = rag.get_statistics()
    assert (stats["document_count"], stats["embedding_count"]) == (5, 4)  # "plain" has no embedding
    assert "plain" not in [r["document_id"] for r in rag.query("cherry durian apple fig", top_k=10)]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_query_with_embedding_matches_numpy(rag: VectorRAG, function: str) -> None:
    expected = ranking(function)
    assert len({round(d, 6) for _, d in expected}) == len(expected)  # no ties
    assert_matches(rag.query_with_embedding(Q, top_k=6, similarity_function=function), expected, function)
    assert_matches(rag.query_with_embedding(np.asarray(Q), top_k=2, similarity_function=function), expected[:2], function)


def test_query_text(rag: VectorRAG, embedder: KeywordEmbedder) -> None:
    results = rag.query("apple banana", top_k=3)
    assert embedder.calls == [["apple banana"]]
    assert_matches(results, ranking("cosine", embedder.vector("apple banana"))[:3], "cosine")
    assert rag.query("apple banana", top_k=1, similarity_function="euclidean")[0]["document_id"] == "d1"
    assert rag.query("banana", top_k=2, filters={"fresh": False})[0]["document_id"] == "d2"
    # a query with no features has no direction under cosine: a clear error, as for knn(), naming the text
    # (it named "the query vector", so of a batch's texts the caller could not tell which)
    no_words = r"embeds as all zeros with embedder 'keywords-v1' \(a text with no word it knows.*similarity_function="
    with pytest.raises(sv.exc.InvalidVectorError, match="query_text 'unknown words' " + no_words):
        rag.query("unknown words", top_k=3)
    with pytest.raises(sv.exc.InvalidVectorError, match=r"query_texts\[1\] 'no such words' " + no_words):
        rag.query_batch(["apple", "no such words", "fig"], top_k=3)
    with pytest.raises(sv.exc.InvalidVectorError, match="query_text 'unknown' " + no_words):
        rag.query_with_filters({"kind": "fruit"}, query_text="unknown")
    with pytest.raises(sv.exc.InvalidVectorError, match="query_text 'unknown' " + no_words):
        rag.mmr_query("unknown")
    assert len(rag.query("unknown words", top_k=3, similarity_function="euclidean")) == 3


@pytest.mark.parametrize("function", FUNCTIONS)
def test_threshold_applies_to_similarity_before_the_limit(rag: VectorRAG, fresh_engine: Engine, function: str) -> None:
    expected = ranking(function)
    similarities = [similarity(function, d) for _, d in expected]
    cut = (similarities[2] + similarities[3]) / 2  # between the 3rd and 4th best
    statements: List[str] = []
    event.listen(fresh_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    results = rag.query_with_embedding(Q, top_k=5, similarity_threshold=cut, similarity_function=function)
    assert_matches(results, expected[:3], function)
    assert all(r["similarity"] >= cut for r in results)
    search = [s for s in statements if "LIMIT" in s.upper()]
    assert search and "<=" in search[0]  # the threshold is in the statement that has the limit
    # the limit still applies, and a threshold above every similarity matches nothing
    assert_matches(rag.query_with_embedding(Q, top_k=2, similarity_threshold=cut, similarity_function=function), expected[:2], function)
    assert rag.query_with_embedding(Q, similarity_threshold=similarities[0] + 0.01, similarity_function=function) == []
    # the best one exactly at its own similarity (float rounding aside) is kept
    at_best = rag.query_with_embedding(Q, top_k=5, similarity_threshold=similarities[0] - 1e-6, similarity_function=function)
    assert [r["document_id"] for r in at_best] == [expected[0][0]]


def test_threshold_edges(rag: VectorRAG) -> None:
    rag.load_document("zero vector here", document_id="zero")  # no vocabulary word: the zero vector
    everything = rag.query_with_embedding(Q, top_k=10, similarity_threshold=-1.0)
    assert [r["document_id"] for r in everything][-1] == "zero"
    assert everything[-1]["distance"] == 2.0 and everything[-1]["similarity"] == -1.0
    assert "zero" not in [r["document_id"] for r in rag.query_with_embedding(Q, top_k=10, similarity_threshold=-0.99)]
    assert len(rag.query_with_embedding(Q, top_k=10, similarity_threshold=0.0, similarity_function="euclidean")) == 7
    assert rag.query_with_embedding(Q, top_k=10, similarity_threshold=1.5, similarity_function="euclidean") == []


def test_query_batch_embeds_once(rag: VectorRAG, embedder: KeywordEmbedder) -> None:
    texts = ["apple", "honey grape", "cherry"]
    batch = rag.query_batch(texts, top_k=2, filters={"kind": {"$ne": "mix"}})
    assert embedder.calls == [texts]
    assert batch == [rag.query(t, top_k=2, filters={"kind": {"$ne": "mix"}}) for t in texts]
    assert [r[0]["document_id"] for r in batch] == ["d1", "d5", "d2"]
    assert rag.query_batch([], top_k=2) == []


def test_query_with_filters(rag: VectorRAG) -> None:
    plain = rag.query_with_filters({"kind": "fruit"})
    assert [r["document_id"] for r in plain] == ["d1", "d2", "d4"]
    assert all(r["distance"] is None and r["similarity"] is None for r in plain)
    assert [r["document_id"] for r in rag.query_with_filters({"kind": "fruit"}, top_k=2)] == ["d1", "d2"]
    ranked = rag.query_with_filters({"kind": "fruit"}, query_text="grape fig", top_k=1)
    assert [r["document_id"] for r in ranked] == ["d4"] and ranked[0]["similarity"] == pytest.approx(1.0)
    assert len(rag.query_with_filters({"kind": "fruit"}, query_text="grape fig", top_k=5)) == 3
    # numbers, strings and booleans compare by type through the facade too
    assert [r["document_id"] for r in rag.query_with_filters({"rank": {"$gte": 3}}, top_k=10)] == ["d3", "d5", "d6"]
    assert [r["document_id"] for r in rag.query_with_filters({"rank": "4"}, top_k=10)] == ["d4"]
    assert [r["document_id"] for r in rag.query_with_filters({"fresh": True}, top_k=10)] == ["d1"]
    assert [r["document_id"] for r in rag.query_with_filters({"fresh": 1}, top_k=10)] == ["d4"]
    assert [r["document_id"] for r in rag.query_with_filters({"tags": None}, top_k=10)] == ["d5"]
    # a SQLAlchemy expression on the document model
    Document = rag.document_model
    clause = Document.content.like("%honey%")  # type: ignore[attr-defined]
    assert [r["document_id"] for r in rag.query_with_filters(clause, top_k=10)] == ["d5", "d6"]
    assert [r["document_id"] for r in rag.query_with_embedding(Q, filters=clause)] == ["d6", "d5"]


def test_find_similar_documents(rag: VectorRAG, embedder: KeywordEmbedder) -> None:
    anchor = embedder.vector(CONTENTS["d6"])
    for function in ("cosine", "euclidean"):
        expected = [item for item in ranking(function, anchor) if item[0] != "d6"][:1]
        results = rag.find_similar_documents("d6", top_k=1, similarity_function=function)
        assert_matches(results, expected, function)
    tied = rag.find_similar_documents("d6", top_k=2, similarity_function="inner_product")  # d1 and d4 tie at 2
    assert sorted(r["document_id"] for r in tied) == ["d1", "d4"] and [r["similarity"] for r in tied] == pytest.approx([2.0, 2.0])
    results = rag.find_similar_documents("d1", top_k=10)
    assert "d1" not in [r["document_id"] for r in results] and len(results) == 5
    assert [r["document_id"] for r in rag.find_similar_documents("d1", top_k=10, filters={"kind": "fruit"})] == ["d2", "d4"]
    with pytest.raises(DocumentNotFoundError, match="'nope' is not in table 'documents'"):
        rag.find_similar_documents("nope")
    rag.load_document("apple", document_id="unembedded", generate_embedding=False)
    assert rag.find_similar_documents("unembedded") == []


def test_update_document(rag: VectorRAG, embedder: KeywordEmbedder) -> None:
    assert rag.update_document("d1", metadata={"kind": "changed"}) is True
    assert embedder.calls == []  # metadata only: no re-embedding
    assert rag.get_document("d1")["metadata"] == {"kind": "changed"}  # type: ignore[index]
    assert rag.query("apple apple banana", top_k=1)[0]["document_id"] == "d1"
    embedder.calls.clear()
    assert rag.update_document("d1", content="apple apple banana") is True  # same content
    assert embedder.calls == []
    assert rag.update_document("d1", content="durian elder") is True
    assert embedder.calls == [["durian elder"]]
    doc = rag.get_document("d1")
    assert doc is not None and doc["content"] == "durian elder" and doc["metadata"] == {"kind": "changed"}
    top = rag.query("durian elder", top_k=1)[0]
    assert top["document_id"] == "d1" and top["similarity"] == pytest.approx(1.0)
    assert rag.get_statistics()["embedding_count"] == 6  # replaced, not added
    assert rag.update_document("missing", content="x") is False
    with pytest.raises(InvalidDocumentError):
        rag.update_document("d1", metadata=["not", "a", "dict"])  # type: ignore[arg-type]


def test_delete(rag: VectorRAG) -> None:
    assert rag.delete_document("d1") is True
    assert rag.delete_document("d1") is False
    assert rag.delete_documents(ids=["d2", "d3", "nope"]) == 2
    assert rag.delete_documents(ids=["d4", "d5"], filters={"kind": "sweet"}) == 1
    assert rag.delete_documents(ids=[]) == 0
    with pytest.raises(InvalidFilterError, match="pass filters=\\{\\} to delete every document"):
        rag.delete_documents()
    stats = rag.get_statistics()
    assert (stats["document_count"], stats["embedding_count"]) == (2, 2)
    assert rag.delete_documents(filters={"rank": {"$gt": 5}}) == 1
    assert rag.delete_documents(filters={}) == 1
    stats = rag.get_statistics()
    assert (stats["document_count"], stats["embedding_count"], stats["models"]) == (0, 0, {})


def test_delete_by_expressions_with_like_patterns(rag: VectorRAG) -> None:
    # On ClickHouse the '%' that contains(), startswith() and endswith() add was rendered as a
    # quoted name inside DELETE, which the server refused.
    Document = rag.document_model
    assert rag.delete_documents(filters=Document.content.contains("cherry")) == 2  # type: ignore[attr-defined]
    assert rag.delete_documents(ids=["d1", "d4"], filters=Document.content.startswith("fig")) == 1  # type: ignore[attr-defined]
    assert rag.delete_documents(filters=Document.content.endswith("honey")) == 1  # type: ignore[attr-defined]
    assert sorted(r["document_id"] for r in rag.query_with_filters({}, top_k=10)) == ["d1", "d6"]
    stats = rag.get_statistics()
    assert (stats["document_count"], stats["embedding_count"]) == (2, 2)


# -- transactions ---------------------------------------------------------------------------------


# ClickHouse neither rolls back nor enforces unique keys: its guarantees are in tests/test_clickhouse.py.
@pytest.mark.parametrize("backend", BACKENDS)
def test_failed_batch_leaves_nothing_behind(rag: VectorRAG) -> None:
    def count() -> tuple[int, int]:
        stats = rag.get_statistics()
        return stats["document_count"], stats["embedding_count"]

    before = count()
    good = [{"content": f"apple {i}", "metadata": {"i": i}} for i in range(7)]
    bad_vector = [*good[:5], {"content": "bad", "embedding": [1.0, 2.0]}, *good[5:]]
    with pytest.raises(DimensionMismatchError, match=r"documents\[5\] embedding expects 8 dimensions, got 2"):
        rag.load_documents(bad_vector, batch_size=2, show_progress=False)
    assert count() == before
    bad_content = [*good, {"content": None}]
    with pytest.raises(InvalidDocumentError, match=r"documents\[7\] content must be a string"):
        rag.load_documents(bad_content, batch_size=3, show_progress=False)
    assert count() == before
    duplicate = [*good[:4], {"content": "dup", "document_id": "d2"}]  # d2 exists: the database refuses
    with pytest.raises(IntegrityError):
        rag.load_documents(duplicate, batch_size=2, show_progress=False)
    assert count() == before
    with pytest.raises(IntegrityError):
        rag.load_document("again", document_id="d3")
    assert count() == before and rag.get_document("d3")["content"] == CONTENTS["d3"]  # type: ignore[index]
    assert len(rag.load_documents(good, batch_size=3, show_progress=False)) == 7
    assert count() == (before[0] + 7, before[1] + 7)


def test_sync_code_runs_without_an_event_loop(fresh_engine: Engine) -> None:
    seen: List[Any] = []

    class LoopCheckingEmbedder(KeywordEmbedder):
        def embed(self, texts: Any) -> np.ndarray:
            seen.append(asyncio._get_running_loop())
            return super().embed(texts)

    event.listen(fresh_engine, "before_cursor_execute", lambda *args: seen.append(asyncio._get_running_loop()))
    rag = VectorRAG(fresh_engine, embedder=LoopCheckingEmbedder(VOCABULARY))
    rag.load_documents(CORPUS[:2], show_progress=False)
    rag.query("apple")
    assert seen and all(loop is None for loop in seen)


# -- statistics, models, construction -------------------------------------------------------------


def test_statistics(rag: VectorRAG, backend: str) -> None:
    stats = rag.get_statistics()
    assert set(stats) == STATISTICS_KEYS
    assert stats["backend"] == {"sqlite-python": "sqlite", "clickhouse": "clickhousedb"}.get(backend, backend)
    assert stats["document_count"] == 6 and stats["embedding_count"] == 6 and stats["dimension"] == 8
    assert stats["embedding_model"] == "keywords-v1" and stats["models"] == {"keywords-v1": 6}
    assert stats["tables"] == {"documents": "documents", "embeddings": "embeddings"}
    assert stats["indexes"] == []


@pytest.mark.parametrize("backend", BACKENDS)  # ClickHouse generates no integer keys
def test_remapped_integer_id_models(fresh_engine: Engine, embedder: KeywordEmbedder) -> None:
    Document, Embedding = make_models(
        8,
        document_table="kb_docs",
        embedding_table="kb_vectors",
        document_columns={"content": "body", "metadata_": "attrs"},
        embedding_columns={"embedding": "vec", "document_id": "doc"},
        id_type=int,
    )
    Document.metadata.create_all(fresh_engine)
    rag = VectorRAG(fresh_engine, document_model=Document, embedding_model=Embedding, embedder=embedder)
    ids = rag.load_documents([{"content": d["content"], "metadata": d["metadata"]} for d in CORPUS], show_progress=False)
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 6
    by_content = dict(zip(CONTENTS.values(), ids))
    one = rag.load_document("elder fig")
    assert isinstance(one, int) and one not in ids
    top = rag.query_with_embedding(Q, top_k=2)
    assert [r["document_id"] for r in top] == [by_content[CONTENTS["d1"]], by_content[CONTENTS["d6"]]]
    assert rag.find_similar_documents(one, top_k=1)[0]["document_id"] == by_content[CONTENTS["d4"]]
    assert rag.update_document(ids[0], content="honey") and rag.query("honey", top_k=1)[0]["document_id"] in (ids[0], ids[4])
    assert [r["document_id"] for r in rag.query_with_filters({"kind": "exotic"})] == [ids[2]]
    assert rag.delete_documents(filters={"kind": "fruit"}) == 3
    stats = rag.get_statistics()
    assert stats["tables"] == {"documents": "kb_docs", "embeddings": "kb_vectors"}
    assert (stats["document_count"], stats["embedding_count"]) == (4, 4)
    with fresh_engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM kb_vectors WHERE vec IS NOT NULL").scalar() == 4


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_uuid_key_models(fresh_engine: Engine, embedder: KeywordEmbedder) -> None:
    Document, Embedding = make_models(8, document_table="uuid_docs", embedding_table="uuid_vectors", id_type=uuid.UUID)
    Document.metadata.create_all(fresh_engine)
    rag = VectorRAG(fresh_engine, document_model=Document, embedding_model=Embedding, embedder=embedder)
    ids = rag.load_documents([{"content": d["content"], "metadata": d["metadata"]} for d in CORPUS], show_progress=False)
    assert all(isinstance(i, uuid.UUID) for i in ids) and len(set(ids)) == 6
    by_content = dict(zip(CONTENTS.values(), ids))
    given = uuid.UUID(int=7)
    assert rag.load_document("elder fig", document_id=given) == given
    with pytest.raises(InvalidDocumentError, match=r"must be a uuid\.UUID \(uuid_docs\.id holds UUID ids\).*uuid\.UUID\(x\)"):
        rag.load_document("elder fig", document_id=str(uuid.UUID(int=8)))
    top = rag.query_with_embedding(Q, top_k=2)
    assert [r["document_id"] for r in top] == [by_content[CONTENTS["d1"]], by_content[CONTENTS["d6"]]]
    assert rag.find_similar_documents(given, top_k=1)[0]["document_id"] == by_content[CONTENTS["d4"]]
    assert rag.get_document(given)["content"] == "elder fig"  # type: ignore[index]
    assert rag.update_document(ids[0], content="honey") and rag.query("honey", top_k=1)[0]["document_id"] in (ids[0], ids[4])
    assert [r["document_id"] for r in rag.query_with_filters({"kind": "exotic"})] == [ids[2]]
    assert rag.delete_documents(filters={"kind": "fruit"}) == 3
    assert (rag.get_statistics()["document_count"], rag.get_statistics()["embedding_count"]) == (4, 4)
    with Session(fresh_engine) as session:
        assert {e.document_id for e in session.scalars(sqlalchemy.select(Embedding))} == {ids[2], ids[4], ids[5], given}


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_default_models_keyed_by_uuid_values(fresh_engine: Engine, embedder: KeywordEmbedder, backend: str) -> None:
    rag = VectorRAG(fresh_engine, embedder=embedder, id_type=uuid.UUID)
    ids = rag.load_documents([{"content": d["content"], "metadata": d["metadata"]} for d in CORPUS], show_progress=False)
    assert all(isinstance(i, uuid.UUID) for i in ids)
    by_content = dict(zip(CONTENTS.values(), ids))
    assert [r["document_id"] for r in rag.query_with_embedding(Q, top_k=2)] == [by_content[CONTENTS["d1"]], by_content[CONTENTS["d6"]]]
    assert rag.get_statistics()["tables"] == {"documents": "documents", "embeddings": "embeddings"}
    with fresh_engine.connect() as connection:
        stored = connection.execute(sqlalchemy.select(sqlalchemy.text("id")).select_from(sqlalchemy.text("documents"))).scalars().all()
    # the database's own UUID type where it has one, else the 32 hexadecimal digits
    assert {type(value) for value in stored} == ({uuid.UUID} if backend in ("postgresql", "duckdb") else {str})
    # opened again: the key type is part of the default models
    assert VectorRAG(fresh_engine, embedder=embedder, id_type=uuid.UUID).get_document(ids[0])["content"] == CORPUS[0]["content"]  # type: ignore[index]
    if backend in ("postgresql", "duckdb"):  # opened with the default text keys: refused
        with pytest.raises(SchemaMismatchError, match="column documents.id in the database holds native UUID keys"):
            VectorRAG(fresh_engine, embedder=embedder)
    # Indexed too (SQLite refused to build its vec0 index over a Uuid key), and searched through the index.
    if backend == "sqlite-python":  # no vec0 without sqlite-vec
        return
    rag.create_index("uuid_index", **({"duckdb_experimental_persistence": True} if backend == "duckdb" else {}))
    assert [r["document_id"] for r in rag.query_with_embedding(Q, top_k=2)] == [by_content[CONTENTS["d1"]], by_content[CONTENTS["d6"]]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IndexMaintenanceWarning)  # DuckDB's, after a delete under its index
        assert rag.delete_document(by_content[CONTENTS["d1"]])
    assert [r["document_id"] for r in rag.query_with_embedding(Q, top_k=1)] == [by_content[CONTENTS["d6"]]]


@pytest.mark.parametrize("backend", BACKENDS)  # ClickHouse generates no integer keys
def test_default_models_keyed_by_database_integers(fresh_engine: Engine, embedder: KeywordEmbedder) -> None:
    rag = VectorRAG(fresh_engine, embedder=embedder, id_type=int)
    ids = rag.load_documents([{"content": d["content"]} for d in CORPUS], show_progress=False)
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 6
    assert [r["document_id"] for r in rag.query_with_embedding(Q, top_k=2)] == [ids[0], ids[5]]
    assert rag.delete_documents(ids=ids[:2]) == 2 and rag.get_statistics()["embedding_count"] == 4


@pytest.mark.parametrize("backend", BACKENDS)  # ClickHouse generates no integer keys
def test_integer_keys_and_text_or_uuid_keys_are_not_mixed(fresh_engine: Engine, embedder: KeywordEmbedder) -> None:
    # Opened the other way, PostgreSQL refused each lookup (bigint = character varying), DuckDB and SQLite found no
    # document by id.
    VectorRAG(fresh_engine, embedder=embedder, id_type=int).load_documents([{"content": "apple"}], show_progress=False)
    for id_type in (None, uuid.UUID):
        with pytest.raises(
            SchemaMismatchError,
            match=r"column documents\.id in the database holds integer keys, but Document declares (String|Uuid)\(\); "
            r"open it with models keyed by integers \(VectorRAG\(url, id_type=int\) for the facade's own tables",
        ):
            VectorRAG(fresh_engine, embedder=embedder, id_type=id_type)
    Text, TextEmbedding = make_models(8, document_table="text_docs", embedding_table="text_vectors")
    Text.metadata.create_all(fresh_engine)
    VectorRAG(fresh_engine, document_model=Text, embedding_model=TextEmbedding, embedder=embedder).load_documents(
        CORPUS[:1], show_progress=False
    )
    Integer, IntegerEmbedding = make_models(8, document_table="text_docs", embedding_table="text_vectors", id_type=int)
    with pytest.raises(
        SchemaMismatchError,
        match=r"column text_docs\.id in the database holds text keys such as 'd1', but Document declares IntegerId\(\); "
        r"open it with models keyed by strings \(the default models; id_type=str\)$",
    ):
        VectorRAG(fresh_engine, document_model=Integer, embedding_model=IntegerEmbedding, embedder=embedder)


@pytest.mark.parametrize("backend", ["postgresql", "duckdb"])
def test_uuid_keys_stored_as_text_on_a_database_with_a_uuid_type(fresh_engine: Engine, embedder: KeywordEmbedder) -> None:
    # Uuid(native_uuid=False) stores 32 hexadecimal digits in CHAR(32) even where the database has a UUID type: its
    # tables open empty and loaded, as those of a native key do.
    class Base(DeclarativeBase):
        pass

    class Note(sv.DocumentMixin, Base):
        __tablename__ = "hex_notes"
        id: sqlalchemy.orm.Mapped[uuid.UUID] = sqlalchemy.orm.mapped_column(
            sqlalchemy.Uuid(native_uuid=False), primary_key=True, default=uuid.uuid4
        )

    class NoteVector(sv.EmbeddingMixin, Base):
        __tablename__ = "hex_note_vectors"
        __document_model__ = Note
        __dimension__ = 8
        __id_type__ = uuid.UUID

    Base.metadata.create_all(fresh_engine)
    rag = VectorRAG(fresh_engine, document_model=Note, embedding_model=NoteVector, embedder=embedder)
    ids = rag.load_documents([{"content": d["content"]} for d in CORPUS], show_progress=False)
    again = VectorRAG(fresh_engine, document_model=Note, embedding_model=NoteVector, embedder=embedder)
    assert [r["document_id"] for r in again.query_with_embedding(Q, top_k=2)] == [ids[0], ids[5]]


def test_id_type_is_for_the_default_models() -> None:
    Document, Embedding = make_models(8)
    with pytest.raises(ModelConfigurationError, match=r"id_type=UUID applies to the default models only; leave it out"):
        VectorRAG("sqlite://", document_model=Document, embedding_model=Embedding, id_type=uuid.UUID)
    with pytest.raises(ModelConfigurationError, match=r"id_type must be str .*, uuid\.UUID .* or int .*, got <class 'float'>"):
        VectorRAG("sqlite://", dimension=8, id_type=float)


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_models_keyed_otherwise_than_the_stored_keys_are_refused(
    fresh_engine: Engine, embedder: KeywordEmbedder, backend: str
) -> None:
    # Looked up in the other form, documents went unfound (DuckDB), failed to compare (PostgreSQL), or new keys
    # were written in a second form beside the stored ones (SQLite).
    VectorRAG(fresh_engine, embedder=embedder).load_documents(CORPUS[:2], show_progress=False)  # text keys
    Document, Embedding = make_models(8, id_type=uuid.UUID)
    native = backend in ("postgresql", "duckdb")
    stored = "text keys" if native else "keys such as 'd[12]', not the 32 hexadecimal digits"
    with pytest.raises(
        SchemaMismatchError,
        match=rf"column documents\.id in the database holds {stored}.*Document declares Uuid\(\); open it with models "
        r"keyed by strings \(the default models; id_type=str\)"
        + (r", or migrate the keys \(see 'From text keys to native UUID keys' in docs/alembic\.md\)$" if native else "$"),
    ):
        VectorRAG(fresh_engine, document_model=Document, embedding_model=Embedding, embedder=embedder)
    if backend not in ("postgresql", "duckdb"):
        return  # no UUID type: a text key reads UUID keys' 32 digits as strings
    Document, Embedding = make_models(8, document_table="uuid_docs", embedding_table="uuid_vectors", id_type=uuid.UUID)
    Document.metadata.create_all(fresh_engine)
    Text, TextEmbedding = make_models(8, document_table="uuid_docs", embedding_table="uuid_vectors")
    for rows in ([], CORPUS[:1]):  # empty (the tables' types are read), then holding a row (its keys are read)
        VectorRAG(fresh_engine, document_model=Document, embedding_model=Embedding, embedder=embedder).load_documents(
            [{"content": d["content"]} for d in rows], show_progress=False
        )
        with pytest.raises(
            SchemaMismatchError,
            match=r"column uuid_docs\.id in the database holds native UUID keys, but Document declares String\(\); "
            r"open it with models keyed by uuid\.UUID",
        ):
            VectorRAG(fresh_engine, document_model=Text, embedding_model=TextEmbedding, embedder=embedder)


@pytest.mark.parametrize("backend", BACKENDS)  # raw DDL of the other backends
def test_existing_tables_with_data(fresh_engine: Engine, backend: str) -> None:
    with fresh_engine.begin() as connection:
        create_existing_tables(connection, backend)
    KBDoc, KBVector = existing_models()
    legacy = KeywordEmbedder(["w", "x", "y", "z"], model_name="legacy-model")
    rag = VectorRAG(fresh_engine, document_model=KBDoc, embedding_model=KBVector, embedder=legacy)
    assert [r["document_id"] for r in rag.query_with_embedding([1.0, 0.9, 0.0, 0.0])] == ["doc-c", "doc-a", "doc-b"]
    assert [r["document_id"] for r in rag.find_similar_documents("doc-a")] == ["doc-c", "doc-b"]
    assert rag.get_document("doc-b")["metadata"] == {"key": "b", "n": 1}  # type: ignore[index]
    new = rag.load_document("x y", {"n": 7})
    assert rag.query("x y", top_k=1)[0]["document_id"] == new
    assert [r["document_id"] for r in rag.query_with_filters({"n": {"$gte": 1}}, top_k=10)] == ["doc-b", "doc-c", new]
    stats = rag.get_statistics()
    assert (stats["document_count"], stats["models"]) == (4, {"legacy-model": 4})
    # other models' vectors are never mixed in: a model with none here is told so, not answered with nothing
    other = VectorRAG(fresh_engine, document_model=KBDoc, embedding_model=KBVector, embedder=KeywordEmbedder(["w", "x", "y", "z"], "other"))
    with pytest.raises(ModelConfigurationError, match="holds no vectors of the embedder's model 'other', only vectors of 'legacy-model'"):
        other.query_with_embedding([1.0, 0.9, 0.0, 0.0])


@pytest.mark.parametrize("backend", BACKENDS)  # a document without a vector is a NULL vector, which ClickHouse cannot store
def test_single_table_model(fresh_engine: Engine, embedder: KeywordEmbedder) -> None:
    class Base(DeclarativeBase):
        pass

    class Snippet(EmbeddedDocumentMixin, Base):
        __tablename__ = "snippets"
        __dimension__ = 8

    Base.metadata.create_all(fresh_engine)
    rag = VectorRAG(fresh_engine, document_model=Snippet, embedder=embedder)
    assert rag.embedding_model is None
    rag.load_documents(CORPUS, show_progress=False)
    rag.load_document("apple", document_id="bare", generate_embedding=False)
    for function in FUNCTIONS:
        assert_matches(rag.query_with_embedding(Q, top_k=6, similarity_function=function), ranking(function), function)
    assert [r["document_id"] for r in rag.find_similar_documents("d1", top_k=2)] == ["d6", "d2"]
    assert rag.update_document("bare", content="honey")
    assert rag.query("honey", top_k=1)[0]["document_id"] in ("bare", "d5")
    assert rag.delete_documents(ids=["d1", "bare"]) == 2
    stats = rag.get_statistics()
    assert set(stats) == STATISTICS_KEYS
    assert (stats["document_count"], stats["embedding_count"], stats["tables"]["embeddings"]) == (5, 5, None)


def test_a_model_without_vectors_among_another_models_is_told_so(fresh_engine: Engine, backend: str) -> None:
    # Opened with an embedder whose vectors the table does not hold (another model, or the same one under another
    # model_name), every search answered nothing, as if no document matched.
    VectorRAG(fresh_engine, embedder=KeywordEmbedder(VOCABULARY, "model-a")).load_documents(CORPUS, show_progress=False)
    other = VectorRAG(fresh_engine, embedder=KeywordEmbedder(VOCABULARY, "model-b"))
    searches = {
        "query": lambda: other.query("apple"),
        "query_with_embedding": lambda: other.query_with_embedding(Q),
        "query_batch": lambda: other.query_batch(["apple", "fig"]),
        "query_with_filters": lambda: other.query_with_filters({"kind": "fruit"}, "apple"),
        "mmr_query": lambda: other.mmr_query("apple"),
        "find_similar_documents": lambda: other.find_similar_documents("d1"),
    }
    for search in searches.values():
        with pytest.raises(ModelConfigurationError, match="embeddings.embedding holds no vectors of the embedder's "
                           r"model 'model-b', only vectors of 'model-a': .*\(model_name 'model-a'"):
            search()
    assert other.query("apple", filters={"kind": "none"}) == []  # no document matches: nothing to say
    if backend != "clickhouse":  # no full-text search there
        other.create_fulltext_index()
        with pytest.raises(ModelConfigurationError, match="only vectors of 'model-a'"):
            other.hybrid_query("apple")
        assert len(other.hybrid_query("apple", weights=(0, 1))) == 2  # text alone needs no vectors
    # Once the model has vectors, a search its filters keep from them finds nothing, as before.
    other.load_document("apple", {"kind": "new"}, document_id="b1")
    assert [r["document_id"] for r in other.query("apple")] == ["b1"]
    assert other.query("apple", filters={"kind": "fruit"}) == []
    assert other.find_similar_documents("d1") == []  # d1 has no vector of model-b


def test_several_embeddings_per_document(rag: VectorRAG) -> None:
    # chunks: many vectors of d5 near the query must not crowd other documents out
    Embedding = rag.embedding_model
    with Session(rag.engine) as session, session.begin():
        session.add_all(
            Embedding(document_id="d5", model_name="keywords-v1", embedding=np.asarray(Q) * (1 + i / 100))  # type: ignore[misc]
            for i in range(12)
        )
        session.add(Embedding(document_id="d4", model_name="another-model", embedding=Q))  # type: ignore[misc]
    results = rag.query_with_embedding(Q, top_k=3)
    assert [r["document_id"] for r in results] == ["d5", "d1", "d6"]
    assert results[0]["distance"] == pytest.approx(0.0, abs=1e-6)
    assert rag.get_statistics()["models"] == {"another-model": 1, "keywords-v1": 18}
    assert rag.delete_document("d5") and rag.get_statistics()["models"] == {"another-model": 1, "keywords-v1": 5}


def test_mmr_takes_a_document_with_several_embeddings_by_the_one_that_ranked_it(rag: VectorRAG) -> None:
    # d3 ("cherry durian elder") gains a chunk about apples. The search ranks d3 first by that chunk, but MMR
    # compared whichever of d3's vectors the database returned first: with lambda_mult=1 (relevance only)
    # d3 fell behind d1 and d6 on SQLite, DuckDB and PostgreSQL, and stayed first on ClickHouse.
    Embedding = rag.embedding_model
    apple = np.eye(len(VOCABULARY), dtype=np.float32)[VOCABULARY.index("apple")]
    with Session(rag.engine) as session, session.begin():
        session.add(Embedding(document_id="d3", model_name="keywords-v1", embedding=apple))  # type: ignore[misc]
    ranked = [r["document_id"] for r in rag.query("apple", top_k=3)]
    assert ranked == ["d3", "d1", "d6"]
    assert [r["document_id"] for r in rag.mmr_query("apple", top_k=3, lambda_mult=1.0)] == ranked
    # With diversity, d3 is compared by its apple chunk too: d1 (mostly apple) is the redundant one.
    assert [r["document_id"] for r in rag.mmr_query("apple", top_k=2, fetch_k=3, lambda_mult=0.3)] == ["d3", "d6"]


def test_similar_documents_of_a_document_with_several_embeddings_are_found_by_their_mean(rag: VectorRAG) -> None:
    # find_similar_documents searched by whichever of d3's vectors the database returned first: its own on
    # SQLite, DuckDB and PostgreSQL (d2 first), often the added chunk on ClickHouse (d1, d6 first).
    Embedding = rag.embedding_model
    axes = np.eye(len(VOCABULARY), dtype=np.float32)
    apple, honey = axes[VOCABULARY.index("apple")], axes[VOCABULARY.index("honey")]
    with Session(rag.engine) as session, session.begin():
        session.add(Embedding(document_id="d3", model_name="keywords-v1", embedding=apple))  # type: ignore[misc]
        session.add(Embedding(document_id="d5", model_name="keywords-v1", embedding=-honey))  # type: ignore[misc]
    embedder = KeywordEmbedder(VOCABULARY)
    mean = (embedder.vector(CONTENTS["d3"]) + apple) / 2
    expected = reference(embedder, mean, "cosine", {k: v for k, v in CONTENTS.items() if k != "d3"})
    expected_top = sorted(expected.items(), key=lambda item: item[1])[:3]
    results = rag.find_similar_documents("d3", top_k=3)
    assert [r["document_id"] for r in results] == [doc_id for doc_id, _ in expected_top] == ["d1", "d2", "d6"]
    assert [r["distance"] for r in results] == pytest.approx([d for _, d in expected_top], abs=1e-6)
    # honey and -honey: a mean of zeros has no direction under cosine
    with pytest.raises(InvalidVectorError, match=r"the document's 2 stored embeddings have a mean that is all zeros"):
        rag.find_similar_documents("d5")
    assert [r["document_id"] for r in rag.find_similar_documents("d5", top_k=1, similarity_function="l2")] == ["d3"]


def test_default_embedder_is_lexical(fresh_engine: Engine) -> None:
    rag = VectorRAG(fresh_engine, dimension=64)
    assert isinstance(rag.embedder, HashingEmbedder) and rag.dimension == 64
    rag.load_documents(
        [
            {"content": "Machine learning models learn patterns from training data", "document_id": "ml"},
            {"content": "A recipe for tomato soup with basil", "document_id": "soup"},
            {"content": "Deep learning is a branch of machine learning", "document_id": "dl"},
            {"content": "The history of the Roman empire", "document_id": "rome"},
        ],
        show_progress=False,
    )
    assert {r["document_id"] for r in rag.query("machine learning", top_k=2)} == {"ml", "dl"}


def test_construction(
    fresh_engine: Engine, backend: str, tmp_path: Path, request: pytest.FixtureRequest, embedder: KeywordEmbedder
) -> None:
    url = fresh_url(backend, tmp_path, request)  # the database of fresh_engine, which cleans it up
    sqlite_vec = backend != "sqlite-python"
    with VectorRAG(url.render_as_string(hide_password=False), embedder=embedder) as from_url:
        from_url.load_documents(CORPUS, show_progress=False)
        assert from_url.get_statistics()["document_count"] == 6
    engine = sv.create_engine(url, sqlite_vec=sqlite_vec)
    try:
        from_sessions = VectorRAG(sessionmaker(engine), embedder=embedder)
        assert [r["document_id"] for r in from_sessions.query_with_embedding(Q, top_k=2)] == ["d1", "d6"]
        with pytest.raises(ModelConfigurationError, match="makes 8-dimensional vectors but the embeddings are stored in column 'embeddings.embedding' \\(Vector\\(16\\)\\)"):
            VectorRAG(engine, embedder=embedder, dimension=16)
        Document, Embedding = make_models(8, document_table="other_docs", embedding_table="other_embs")
        with pytest.raises(ModelConfigurationError, match="dimension=4 does not match"):
            VectorRAG(engine, document_model=Document, embedding_model=Embedding, embedder=embedder, dimension=4)
        with pytest.raises(ModelConfigurationError, match="needs document_model="):
            VectorRAG(engine, embedding_model=Embedding, embedder=embedder)
        with pytest.raises(ModelConfigurationError, match="has no 'embedding' attribute"):
            VectorRAG(engine, document_model=Document, embedder=embedder)
        with pytest.raises(ModelConfigurationError, match="needs an Engine, a database URL or a sessionmaker"):
            VectorRAG(42, embedder=embedder)  # type: ignore[arg-type]
        rag = VectorRAG(engine, embedder=embedder)
        with pytest.raises(UnsupportedMetricError, match="unknown similarity_function 'dot'"):
            rag.query("apple", similarity_function="dot")
        with pytest.raises(ValueError, match="top_k must be a positive integer"):
            rag.query("apple", top_k=0)
        with pytest.raises(TypeError, match="wrap it in a list"):
            rag.query_batch("apple")  # type: ignore[arg-type]
        with pytest.raises(InvalidDocumentError, match="unknown keys 'text'"):
            rag.load_documents([{"text": "apple"}], show_progress=False)
        with pytest.raises(InvalidDocumentError, match="metadata must be a dict"):
            rag.load_document("apple", metadata="kind=fruit")  # type: ignore[arg-type]
        with pytest.raises(DimensionMismatchError, match="query embedding expects 8 dimensions, got 3"):
            rag.query_with_embedding([1, 2, 3])
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", FRESH_BACKENDS)
def test_sessionmaker_of_an_engine_made_elsewhere(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, embedder: KeywordEmbedder
) -> None:
    # A sessionmaker's engine is prepared as an Engine bind is: without it PostgreSQL had no vector
    # type, ClickHouse no table engine and SQLite no sqlite-vec.
    url = fresh_url(backend, tmp_path, request)
    engine = sqlalchemy.create_engine(url)
    try:
        rag = VectorRAG(sessionmaker(engine), embedder=embedder)
        rag.load_documents(CORPUS, show_progress=False)
        assert [r["document_id"] for r in rag.query_with_embedding(Q, top_k=2)] == ["d1", "d6"]
        assert rag.engine is engine
    finally:
        engine.dispose()
        if backend == "postgresql":
            drop_all_postgresql(url)


@pytest.mark.parametrize("backend", FRESH_BACKENDS)
def test_your_models_tables_missing_at_first_use(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, embedder: KeywordEmbedder
) -> None:
    # The facade creates only its default tables. Yours missing gave the driver's "no such table" at the
    # first write; the tables are looked for at each call until they exist, then checked as at opening.
    url = fresh_url(backend, tmp_path, request)
    engine = sv.create_engine(url)
    try:
        Document, Embedding = make_models(8, document_table="late_docs", embedding_table="late_embs")
        rag = VectorRAG(engine, document_model=Document, embedding_model=Embedding, embedder=embedder)
        message = (
            "tables 'late_docs' \\(Document\\) and 'late_embs' \\(Embedding\\) do not exist in the database; the "
            "facade creates only the tables of its default models: create yours first, e.g. "
            "Document.metadata.create_all\\(engine\\)"
        )
        with pytest.raises(SchemaMismatchError, match=message):
            rag.load_documents(CORPUS, show_progress=False)
        with pytest.raises(SchemaMismatchError, match=message):
            rag.query_with_embedding(Q, top_k=2)
        Document.metadata.create_all(engine)  # type: ignore[attr-defined]
        rag.load_documents(CORPUS, show_progress=False)
        assert [r["document_id"] for r in rag.query_with_embedding(Q, top_k=2)] == ["d1", "d6"]
        # Created with another dimension after the facade opened: refused as at opening.
        Wide, WideEmbedding = make_models(16, document_table="wide_docs", embedding_table="wide_embs")
        Narrow, NarrowEmbedding = make_models(8, document_table="wide_docs", embedding_table="wide_embs")
        narrow = VectorRAG(engine, document_model=Narrow, embedding_model=NarrowEmbedding, embedder=embedder)
        Wide.metadata.create_all(engine)  # type: ignore[attr-defined]
        with pytest.raises(SchemaMismatchError, match="stores 16-dimensional vectors, but this facade expects 8"):
            narrow.get_statistics()
    finally:
        engine.dispose()
        if backend == "postgresql":
            drop_all_postgresql(url)


# -- indexes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)  # IVFFlat and per-backend index DDL; ClickHouse's index: tests/test_clickhouse.py
def test_indexes(fresh_engine: Engine, backend: str, embedder: KeywordEmbedder) -> None:
    rag = VectorRAG(fresh_engine, embedder=embedder)
    rag.load_documents(CORPUS, show_progress=False)
    assert rag.delete_index("no_such_index") is False
    if backend == "sqlite-python":
        with pytest.raises(MissingExtensionError, match="vec0"):
            rag.create_index("emb_vec0")
        return
    if backend == "sqlite":
        # vec0 rows are keyed by the UUID strings of the default models, or by an integer rowid
        before = rag.query_with_embedding(Q, top_k=3, filters={"kind": "fruit"})
        rag.create_index("emb_uuid")
        assert {"name": "emb_uuid", "table": "embeddings", "column": "embedding", "metric": "cosine", "method": "vec0", "options": {}, "quantization": None} in rag.get_statistics()["indexes"]
        assert rag.query_with_embedding(Q, top_k=3, filters={"kind": "fruit"}) == before
        assert rag.delete_index("emb_uuid") is True
        Document, Embedding = make_models(8, document_table="int_docs", embedding_table="int_embs", id_type=int)
        Document.metadata.create_all(fresh_engine)
        rag = VectorRAG(fresh_engine, document_model=Document, embedding_model=Embedding, embedder=embedder)
        rag.load_documents([{"content": d["content"], "metadata": d["metadata"]} for d in CORPUS], show_progress=False)
        with pytest.raises(UnsupportedMetricError, match="no vec0 index for metric 'max_inner_product'"):
            rag.create_index("emb_ip", similarity_function="inner_product")
    exact = [r["content"] for r in rag.query_with_embedding(Q, top_k=3, filters={"kind": "fruit"})]
    exact_l2 = rag.query_with_embedding(Q, top_k=6, similarity_function="euclidean")
    if backend == "sqlite":
        rag.create_index("emb_vec0", similarity_function="euclidean")
        expected = {"name": "emb_vec0", "table": "int_embs", "column": "embedding", "metric": "l2", "method": "vec0", "options": {}, "quantization": None}
    elif backend == "duckdb":
        with pytest.raises(VectorIndexError, match="experimental persistence"):
            rag.create_index("emb_hnsw")
        rag.create_index("emb_hnsw", duckdb_experimental_persistence=True)
        expected = {"name": "emb_hnsw", "table": "embeddings", "column": "embedding", "metric": "cosine", "method": "hnsw", "options": {}, "quantization": None}
    else:
        rag.create_index("emb_hnsw", m=8, ef_construction=32)
        rag.create_index("emb_ip", similarity_function="inner_product", method="ivfflat", lists=1)
        expected = {"name": "emb_hnsw", "table": "embeddings", "column": "embedding", "metric": "cosine", "method": "hnsw", "options": {"m": 8, "ef_construction": 32}, "quantization": None}
    indexes = rag.get_statistics()["indexes"]
    assert expected in indexes
    # the same answers with the index in place, filters included
    assert [r["content"] for r in rag.query_with_embedding(Q, top_k=3, filters={"kind": "fruit"})] == exact
    assert rag.query_with_embedding(Q, top_k=6, similarity_function="euclidean") == exact_l2
    rag.load_document("grape grape", {"kind": "fruit"})  # written while the index exists
    assert rag.query("grape", top_k=1, filters={"kind": "fruit"})[0]["content"] == "grape grape"
    with_grape = rag.query_with_embedding(Q, top_k=6, similarity_function="euclidean")
    for index in indexes:  # each built again as it was (IVFFlat with its lists, vec0 keyed by integers)
        rag.rebuild_index(index["name"])
    assert rag.get_statistics()["indexes"] == indexes
    assert rag.query_with_embedding(Q, top_k=6, similarity_function="euclidean") == with_grape
    for index in indexes:
        assert rag.delete_index(index["name"]) is True
    assert rag.get_statistics()["indexes"] == []



def _index_warnings(action: Any) -> List[str]:
    """The messages of the IndexMaintenanceWarnings ``action()`` gives."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [str(w.message) for w in caught if issubclass(w.category, IndexMaintenanceWarning)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_deleting_vectors_warns_once_where_the_index_may_lose_rows(
    fresh_engine: Engine, backend: str, embedder: KeywordEmbedder
) -> None:
    # DuckDB's vss can lose live rows after deletes and inserts (docs/indexes.md): the facade says so once.
    rag = VectorRAG(fresh_engine, embedder=embedder)
    rag.load_documents(CORPUS, show_progress=False)
    assert _index_warnings(lambda: rag.update_document("d1", content="apple cherry")) == []  # no index: no warning
    if backend != "sqlite-python":  # no vec0 there
        rag.create_index("emb_index", **({"duckdb_experimental_persistence": True} if backend == "duckdb" else {}))
    changes = [
        lambda: rag.update_document("d2", content="banana fig"),
        lambda: rag.delete_document("d3"),
        lambda: rag.update_document("d4", metadata={"kind": "fruit"}),  # no new vector: nothing deleted from the index
    ]
    first, *later = [_index_warnings(change) for change in changes]
    if backend == "duckdb":
        assert len(first) == 1
        assert "embeddings: vectors were deleted while the vector index emb_index exists" in first[0]
        assert "build it again: rebuild_index('emb_index')" in first[0]
    else:
        assert first == []
    assert later == [[], []]  # once per facade
    fresh = VectorRAG(fresh_engine, embedder=embedder)  # another facade warns on its own first delete
    assert len(_index_warnings(lambda: fresh.delete_document("d5"))) == (1 if backend == "duckdb" else 0)
    assert [r["content"] for r in rag.query("banana fig", top_k=1)] == ["banana fig"]

def test_rebuild_index_builds_the_same_index_over_the_rows_stored_now(rag: VectorRAG, backend: str) -> None:
    if backend == "sqlite-python":  # no vec0 there, so no index to build again
        with pytest.raises(VectorIndexError, match=r"rebuild_index\('ix'\): embeddings has no vector index named 'ix' "
                           r"\(existing ones: none\); build it with create_index\('ix', \.\.\.\)"):
            rag.rebuild_index("ix")
        return
    options = {"m": 8, "ef_construction": 32} if backend in ("postgresql", "clickhouse") else {}  # DuckDB reports none
    rag.create_index("ix", "euclidean", **options, **({"duckdb_experimental_persistence": True} if backend == "duckdb" else {}))
    built = rag.get_statistics()["indexes"]
    assert [(i["name"], i["metric"], i["options"]) for i in built] == [("ix", "l2", options)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IndexMaintenanceWarning)  # DuckDB's, which this method answers
        rag.update_document("d2", content="banana fig")
        rag.delete_document("d3")
    rag.rebuild_index("ix")
    assert rag.get_statistics()["indexes"] == built  # the same name, metric, method and options
    contents = {**{k: v for k, v in CONTENTS.items() if k != "d3"}, "d2": "banana fig"}
    expected = ranking("euclidean", contents=contents)
    found = rag.query_with_embedding(Q, top_k=len(contents), similarity_function="euclidean")
    assert [(r["document_id"], r["content"]) for r in found] == [(k, contents[k]) for k, _ in expected]
    assert [r["distance"] for r in found] == pytest.approx([d for _, d in expected], rel=1e-5, abs=1e-6)
    if options:  # options given replace the ones the catalog reports
        rag.rebuild_index("ix", m=12)
        assert [i["options"] for i in rag.get_statistics()["indexes"]] == [{"m": 12, "ef_construction": 32}]
    with pytest.raises(VectorIndexError, match=r"no vector index named 'other' \(existing ones: ix\)"):
        rag.rebuild_index("other")
    with pytest.raises(InvalidArgumentError, match="built again for the metric it serves; for another, delete_index"):
        rag.rebuild_index("ix", metric="cosine")
    assert [i["name"] for i in rag.get_statistics()["indexes"]] == ["ix"]  # refused before anything was dropped


# -- the same answers everywhere ------------------------------------------------------------------


def test_same_results_on_every_backend(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    answers: Dict[str, Any] = {}
    for backend in SYNC_BACKENDS:
        url = fresh_url(backend, tmp_path / backend, request)
        (tmp_path / backend).mkdir()
        engine = sv.create_engine(url, sqlite_vec=backend != "sqlite-python")
        try:
            rag = VectorRAG(engine, embedder=KeywordEmbedder(VOCABULARY))
            rag.load_documents(CORPUS, show_progress=False)
            answers[backend] = {
                "queries": [
                    rag.query_with_embedding(Q, top_k=4, similarity_function=f, similarity_threshold=t)
                    for f in FUNCTIONS
                    for t in (None, 0.1)
                ],
                "similar": rag.find_similar_documents("d2", top_k=3),
                "filtered": rag.query_with_filters({"$or": [{"rank": {"$lt": 3}}, {"fresh": 1}]}, query_text="fig", top_k=10),
                "stats": {k: v for k, v in rag.get_statistics().items() if k != "backend"},
            }
        finally:
            engine.dispose()
            if backend == "postgresql":
                drop_all_postgresql(url)
    reference_answers = answers["postgresql"]
    for backend, answer in answers.items():
        assert answer["stats"] == reference_answers["stats"], backend
        for got, want in zip(
            [*answer["queries"], answer["similar"], answer["filtered"]],
            [*reference_answers["queries"], reference_answers["similar"], reference_answers["filtered"]],
        ):
            assert [r["document_id"] for r in got] == [r["document_id"] for r in want], backend
            assert [r["metadata"] for r in got] == [r["metadata"] for r in want], backend
            for a, b in zip(got, want):
                assert set(a) == set(b)
                assert a["distance"] == pytest.approx(b["distance"], abs=2e-6), backend
                assert a["similarity"] == pytest.approx(b["similarity"], abs=2e-6), backend


def test_an_index_dropped_elsewhere_is_searched_without(tmp_path: Path) -> None:
    # On SQLite the ranking names the vec0 table: a facade that searched through it before another
    # one dropped it must not fail from then on (elsewhere the index name is only a hint).
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    vectors = [np.eye(4)[i % 4] + i * 0.01 for i in range(8)]
    admin = VectorRAG(url, dimension=4)
    admin.load_documents([{"content": f"c{i}", "document_id": f"d{i}", "embedding": v} for i, v in enumerate(vectors)], show_progress=False)
    admin.create_index("ix", "cosine")
    app = VectorRAG(url, dimension=4)
    try:
        before = [r["document_id"] for r in app.query_with_embedding([1, 0, 0, 0], top_k=3)]
        assert app.get_statistics()["indexes"][0]["name"] == "ix"
        assert admin.delete_index("ix") is True
        assert [r["document_id"] for r in app.query_with_embedding([1, 0, 0, 0], top_k=3)] == before
        assert [r["document_id"] for r in app.query_with_embedding([1, 0, 0, 0], top_k=3, filters={})] == before
    finally:
        app.close()
        admin.close()


@pytest.mark.parametrize("backend", FRESH_BACKENDS)
def test_similar_documents_of_a_zero_embedding_under_cosine(backend: str, fresh_database_url: Any) -> None:
    rag = VectorRAG(fresh_database_url(backend), dimension=3)
    try:
        rag.load_documents(
            [{"content": "zero", "document_id": "z", "embedding": [0, 0, 0]}, {"content": "one", "document_id": "o", "embedding": [1, 0, 0]}],
            show_progress=False,
        )
        with pytest.raises(sv.exc.InvalidVectorError, match=r"find_similar_documents\('z'\): the document's stored embedding is all zeros"):
            rag.find_similar_documents("z")
        assert [r["document_id"] for r in rag.find_similar_documents("z", similarity_function="euclidean")] == ["o"]
    finally:
        rag.close()


@pytest.mark.parametrize("backend", FRESH_BACKENDS)
def test_equal_distances_come_back_in_key_order(backend: str, fresh_database_url: Any) -> None:
    # Six documents at each of two points: which of the tied ones make a top 3, and their order, is
    # the key order on every backend (the database's own order of ties differs from one to the next).
    rag = VectorRAG(fresh_database_url(backend), dimension=4)
    try:
        documents = [{"content": f"c{i}", "document_id": f"d{i:02}", "embedding": np.eye(4)[i % 2]} for i in range(12)]
        rag.load_documents(documents[::-1], show_progress=False)
        found = [r["document_id"] for r in rag.query_with_embedding([1, 0, 0, 0], top_k=3)]
        assert found == ["d00", "d02", "d04"]
        found = [r["document_id"] for r in rag.query_with_embedding([1, 0, 0, 0], top_k=8)]
        assert found == ["d00", "d02", "d04", "d06", "d08", "d10", "d01", "d03"]
        assert [r["document_id"] for r in rag.find_similar_documents("d00", top_k=3)] == ["d02", "d04", "d06"]
        # Through an index, which decides the rows it returns: those come back in key order too.
        rag.create_index("ix", "cosine", duckdb_experimental_persistence=True)
        found = [r["document_id"] for r in rag.query_with_embedding([1, 0, 0, 0], top_k=12)]
        assert found == [f"d{i:02}" for i in range(0, 12, 2)] + [f"d{i:02}" for i in range(1, 12, 2)]
    finally:
        rag.close()


@pytest.mark.parametrize("backend", FRESH_BACKENDS)
def test_an_index_created_twice_is_refused_by_name(backend: str, fresh_database_url: Any) -> None:
    rag = VectorRAG(fresh_database_url(backend), dimension=4)
    try:
        rag.load_documents([{"content": f"c{i}", "embedding": np.eye(4)[i % 4] + 0.1} for i in range(8)], show_progress=False)
        rag.create_index("ix", "cosine", duckdb_experimental_persistence=True)
        with pytest.raises(sv.exc.VectorIndexError, match=r"create_index\('ix'\): embeddings has a vector index named 'ix' already"):
            rag.create_index("ix", "cosine", duckdb_experimental_persistence=True)
        assert [i["name"] for i in rag.get_statistics()["indexes"]] == ["ix"]
        if backend != "clickhouse":  # no full-text index there
            rag.create_fulltext_index()
            with pytest.raises(sv.exc.VectorIndexError, match="has a full-text index named 'documents_content_fts' already"):
                rag.create_fulltext_index()
    finally:
        rag.close()


@pytest.mark.parametrize("backend", FRESH_BACKENDS)
def test_an_index_named_like_a_table_or_another_index_is_refused_naming_it(backend: str, fresh_database_url: Any) -> None:
    # PostgreSQL and SQLite name tables and indexes alike: their own "relation/table ... already exists" was raised.
    rag = VectorRAG(fresh_database_url(backend), dimension=4)
    try:
        rag.load_documents([{"content": f"c{i}", "embedding": np.eye(4)[i % 4] + 0.1} for i in range(8)], show_progress=False)
        if backend in ("sqlite", "postgresql"):
            with pytest.raises(
                sv.exc.VectorIndexError,
                match="VectorIndex 'documents' on embeddings.embedding: the name is taken in the database by table "
                "'documents'; choose another name for the index, or drop table 'documents' first",
            ):
                rag.create_index("documents", "cosine")
            with pytest.raises(
                sv.exc.VectorIndexError,
                match="FullTextIndex 'embeddings' on documents.content: the name is taken in the database by table 'embeddings'",
            ):
                rag.create_fulltext_index("embeddings")
        else:  # DuckDB and ClickHouse name indexes apart from tables
            rag.create_index("documents", "cosine", duckdb_experimental_persistence=True)
            assert rag.delete_index("documents") is True
        assert rag.get_statistics()["indexes"] == []
        rag.create_index("ix", "cosine", duckdb_experimental_persistence=True)
        if backend in ("sqlite", "postgresql"):
            with pytest.raises(
                sv.exc.VectorIndexError,
                match="FullTextIndex 'ix' on documents.content: the name is taken in the database by vector index 'ix' "
                "of table 'embeddings'",
            ):
                rag.create_fulltext_index("ix")
        assert [r["document_id"] for r in rag.query_with_embedding([1, 0, 0, 0], top_k=8)]  # still usable
    finally:
        rag.close()


@pytest.mark.parametrize("backend", FRESH_BACKENDS)
def test_large_float_metadata_reads_back_as_a_float(backend: str, fresh_database_url: Any) -> None:
    # PostgreSQL's jsonb writes 1e20 as 100000000000000000000; read as an int, it was refused by every
    # other backend when the documents were exported and imported there.
    rag = VectorRAG(fresh_database_url(backend), dimension=4)
    try:
        metadata = {"big": 1e20, "huge": 1.5e300, "nested": {"list": [-1e19, 2.5]}, "int": 2**63 - 1}
        document_id = rag.load_document("text", metadata=metadata)
        got = rag.get_document(document_id)["metadata"]  # type: ignore[index]
        assert got == metadata
        assert type(got["big"]) is float and type(got["huge"]) is float and type(got["nested"]["list"][0]) is float
        assert type(got["int"]) is int
    finally:
        rag.close()


def _nested(levels: int, leaf: Any = 1) -> Any:
    """``levels`` dicts inside each other, every other one a list: {"x": [{"x": [... leaf]}]}."""
    value = leaf
    for level in range(levels):
        value = [value] if level % 2 else {"x": value}
    return value


@pytest.mark.parametrize("backend", FRESH_BACKENDS)
def test_metadata_and_filters_nest_only_so_deep(backend: str, fresh_database_url: Any) -> None:
    # 900 levels of metadata were stored and then no read could return the document (RecursionError while
    # reading the JSON back); 1,000 raised RecursionError from the checks; 100 nested $not overflowed while
    # compiling the filter, 28 in SQLite's parser.  Now each limit is the same everywhere, and is checked
    # before anything is written or run.
    rag = VectorRAG(fresh_database_url(backend), dimension=4)
    try:
        deepest = {"deep": _nested(63)}
        rag.load_document("kept", metadata=deepest, document_id="kept")
        assert rag.get_document("kept")["metadata"] == deepest  # type: ignore[index]
        for levels in (65, 900, 100_000):
            with pytest.raises(InvalidDocumentError, match="metadata.*nests dicts and lists more than 64 levels deep"):
                rag.load_document("refused", metadata={"deep": _nested(levels - 1)}, document_id="refused")
            with pytest.raises(InvalidDocumentError, match="more than 64 levels deep.*json.dumps"):
                rag.update_document("kept", metadata={"deep": _nested(levels - 1)})
        assert [d["document_id"] for d in rag.get_documents(["kept", "refused"])] == ["kept"]
        assert rag.get_document("kept")["metadata"] == deepest  # type: ignore[index]

        negated: Dict[str, Any] = {"deep": {"$exists": True}}
        for _ in range(14):
            negated = {"$not": negated}
        assert [d["document_id"] for d in rag.query_with_embedding([1, 0, 0, 0], filters=negated)] == ["kept"]
        for levels in (1, 50, 5_000):
            for _ in range(levels):
                negated = {"$not": negated}
            with pytest.raises(InvalidFilterError, match="filters nest dicts and lists more than 16 levels deep"):
                rag.query_with_embedding([1, 0, 0, 0], filters=negated)
    finally:
        rag.close()


@pytest.mark.parametrize("backend", FRESH_BACKENDS)
def test_ids_that_look_like_sql_comments(backend: str, fresh_database_url: Any) -> None:
    # On ClickHouse, clickhouse-connect took "--" in a bound string for a comment when it read the statement,
    # and an empty result lost its columns: get_document("x' --") raised NoSuchColumnError.
    rag = VectorRAG(fresh_database_url(backend), dimension=4)
    try:
        stored = ["' OR 1=1 --", "a'; DROP TABLE documents; --"]
        for document_id in stored:
            rag.load_document("text", metadata={"note": document_id}, document_id=document_id)
        for missing in ("x' --", "' OR '1'='1' --", "x'\n--", "--'--'--", "50%% --'"):
            assert rag.get_document(missing) is None
            assert rag.get_documents([missing]) == []
            assert rag.delete_document(missing) is False
        assert [d["document_id"] for d in rag.get_documents(stored)] == stored
        assert [d["document_id"] for d in rag.query_with_embedding([1, 0, 0, 0], filters={"note": stored[1]})] == [stored[1]]
        assert rag.query_with_embedding([1, 0, 0, 0], filters={"note": "x' --"}) == []
        assert rag.get_statistics()["document_count"] == 2
    finally:
        rag.close()
