"""Half-precision embeddings through the facade and the CLI: stored as HalfVector where the backend has one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

import sqlalchemy_vector as sv
from rag_fixtures import (  # noqa: F401  (pg_database and fresh_engine are fixtures)
    CORPUS,
    VOCABULARY,
    KeywordEmbedder,
    fresh_engine,
    pg_database,
)
from sqlalchemy_vector.cli import main
from sqlalchemy_vector.exc import ModelConfigurationError, SchemaMismatchError, UnsupportedKindError
from sqlalchemy_vector.kinds import HalfVector
from sqlalchemy_vector.orm import make_models
from sqlalchemy_vector.rag import VectorRAG
from tests.conftest import WITH_CLICKHOUSE

Q = [0.8, 0.45, 0.3, 0.1, 0.05, 0.2, 0.15, 0.37]


@pytest.fixture(params=WITH_CLICKHOUSE)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def half_reference(function: str) -> list[tuple[str, float]]:
    """Distances numpy computes from the float16-rounded stored vectors (the query stays float32)."""
    embedder = KeywordEmbedder(VOCABULARY)
    q = np.asarray(Q, dtype=np.float32)
    out = {}
    for doc in CORPUS:
        v = embedder.vector(doc["content"]).astype(np.float16).astype(np.float32)
        if function == "cosine":
            d = 1.0 - float(v @ q) / (float(np.linalg.norm(v)) * float(np.linalg.norm(q)))
        elif function == "euclidean":
            d = float(np.linalg.norm(v - q))
        else:
            d = -float(v @ q)
        out[doc["document_id"]] = d
    return sorted(out.items(), key=lambda item: item[1])


def supports_half(engine: Engine) -> bool:
    return "half" in sv.dialects.backend_for(engine.dialect).capabilities.vector_kinds


@pytest.mark.parametrize("function", ["cosine", "euclidean", "inner_product"])
def test_half_precision_facade(fresh_engine: Engine, backend: str, function: str) -> None:
    embedder = KeywordEmbedder(VOCABULARY)
    capabilities = sv.dialects.backend_for(fresh_engine.dialect).capabilities
    if not supports_half(fresh_engine):
        with pytest.raises(UnsupportedKindError) as info:
            VectorRAG(fresh_engine, embedder=embedder, precision="half")
        message = str(info.value)
        name = sv.dialects.backend_for(fresh_engine.dialect).name
        assert f"{name} cannot store half vectors" in message and "precision='float32'" in message
        assert capabilities.missing_kinds.get("half", "no native form") in message
        return
    rag = VectorRAG(fresh_engine, embedder=embedder, precision="half")
    assert rag.precision == "half" and isinstance(rag.embedding_model.embedding.type, HalfVector)  # type: ignore[union-attr]
    rag.load_documents(CORPUS, show_progress=False)
    expected = half_reference(function)
    results = rag.query_with_embedding(Q, top_k=len(CORPUS), similarity_function=function)
    assert [r["document_id"] for r in results] == [doc_id for doc_id, _ in expected]
    for result, (_, distance) in zip(results, expected):
        assert result["distance"] == pytest.approx(distance, rel=1e-3, abs=1e-3)
    # The column really is the compact type in the database.
    with fresh_engine.connect() as connection:
        declared = connection.execute(
            text("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'embeddings'::regclass "
                 "AND attname = 'embedding'")
        ).scalar()
    assert declared == "halfvec(8)"
    # An index on the half column uses its own operator class, and the facade's queries use it.
    rag.create_index("emb_half", similarity_function=function)
    (found,) = rag.get_statistics()["indexes"]
    assert (found["name"], found["quantization"]) == ("emb_half", None)
    indexed = rag.query_with_embedding(Q, top_k=3, similarity_function=function)
    assert [r["document_id"] for r in indexed] == [doc_id for doc_id, _ in expected[:3]]
    # Similar documents start from the stored float16 vector.
    similar = rag.find_similar_documents(CORPUS[0]["document_id"], top_k=2, similarity_function=function)
    assert len(similar) == 2 and CORPUS[0]["document_id"] not in [r["document_id"] for r in similar]
    # Opening the half table as float32 (or the reverse) is refused.
    with pytest.raises(SchemaMismatchError, match="stores half precision .*precision='half'"):
        VectorRAG(fresh_engine, embedder=embedder)


def test_half_index_serves_the_facade_ranking(pg_database: Any) -> None:
    engine = sv.create_engine(pg_database)
    try:
        rag = VectorRAG(engine, embedder=KeywordEmbedder(VOCABULARY), precision="half")
        rag.load_documents(CORPUS, show_progress=False)
        rag.create_index("emb_half_plan")
        column = rag.embedding_model.embedding  # type: ignore[union-attr]
        with engine.begin() as connection:
            request = sv.search.TopK(
                column=column.__clause_element__(), vector=np.asarray(Q, np.float32), k=3, metric="cosine",
                selected=[column.class_.document_id], dialect=connection.dialect,
            )
            compiled = request.ordered_select().compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
            connection.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(r[0] for r in connection.execute(text("EXPLAIN " + str(compiled))))
            assert "emb_half_plan" in plan, plan
            connection.execute(text("DROP TABLE embeddings, documents"))
    finally:
        engine.dispose()


def test_precision_arguments() -> None:
    with pytest.raises(ModelConfigurationError, match="'float32', 'half'"):
        make_models(8, precision="int4")
    document, embedding = make_models(8, precision="half")
    assert repr(embedding.embedding.type) == "HalfVector(8)"  # type: ignore[attr-defined]
    with pytest.raises(ModelConfigurationError, match="does not match"):
        VectorRAG("sqlite://", document_model=document, embedding_model=embedding, precision="float32",
                  embedder=KeywordEmbedder(VOCABULARY))


@pytest.fixture(params=["sqlite", "duckdb", "postgresql", "clickhouse"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           fresh_database_url: Callable[[str], str]) -> str:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "fruit.md").write_text("# Fruit\n\nApples and pears grow on trees in the orchard.\n")
    (corpus / "tools.md").write_text("# Tools\n\nA hammer drives nails; a saw cuts planks.\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SQLALCHEMY_VECTOR_DB", raising=False)
    return fresh_database_url(request.param)


def test_cli_ingest_precision_half(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    engine = sv.create_engine(db_url)
    try:
        half = supports_half(engine)
        name = sv.dialects.backend_for(engine.dialect).name
    finally:
        engine.dispose()
    if not half:
        assert main(["ingest", "corpus", "--db", db_url, "--quiet", "--precision", "half"]) != 0
        err = capsys.readouterr().err
        # In the command line's words (the option), not the API's (precision='float32').
        assert err.startswith(f"sqlalchemy-vector: error: --precision half: {name} cannot store half vectors (")
        assert "leave --precision out (float32), or use a database that stores them (postgresql)" in err
        assert "precision=" not in err and err.count("\n") == 1
        # The default precision still works there, and is recorded.
        assert main(["ingest", "corpus", "--db", db_url, "--quiet"]) == 0
        assert main(["ingest", "corpus", "--db", db_url, "--quiet", "--precision", "half"]) != 0
        assert "stores its vectors at float32 precision, not half" in capsys.readouterr().err
        return
    assert main(["ingest", "corpus", "--db", db_url, "--quiet", "--precision", "half"]) == 0
    capsys.readouterr()
    # query reads the precision stored with the collection, in vector and in hybrid mode
    for mode in ("vector", "hybrid"):
        assert main(["query", "hammer and nails", "--mode", mode, "--json", "--db", db_url]) == 0
        results = json.loads(capsys.readouterr().out)
        assert results[0]["metadata"]["source"] == "corpus/tools.md", mode
    assert main(["stats", "--db", db_url]) == 0
    assert "half precision" in capsys.readouterr().out
    # ingesting again without --precision keeps it; a different one is refused
    assert main(["ingest", "corpus", "--db", db_url, "--quiet"]) == 0
    assert main(["ingest", "corpus", "--db", db_url, "--quiet", "--precision", "float32"]) != 0
    assert "stores its vectors at half precision, not float32" in capsys.readouterr().err
    # export reads the float16 vectors; a float32 database takes them in
    assert main(["export", "half.parquet", "--db", db_url]) == 0
    copy = "sqlite:///copy.db"
    assert main(["import", "half.parquet", "--db", copy]) == 0
    capsys.readouterr()
    assert main(["query", "hammer and nails", "--mode", "vector", "--json", "--db", copy]) == 0
    assert json.loads(capsys.readouterr().out)[0]["metadata"]["source"] == "corpus/tools.md"


def test_cli_on_a_half_database_built_through_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_database_url: Callable[[str], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Such a database records no precision for the command-line tool, which opened it as float32: stats did not
    # say half, ingest was refused in the API's words (open it with precision='half'), export failed in the
    # database (function vector_send(halfvec) does not exist).
    url = fresh_database_url("postgresql")
    rag = VectorRAG(url, precision="half")
    try:
        rag.load_documents([{"content": "a hammer drives nails"}, {"content": "apples grow on trees"}], show_progress=False)
    finally:
        rag.close()
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "tools.md").write_text("# Tools\n\nA saw cuts planks.\n")
    monkeypatch.chdir(tmp_path)
    assert main(["stats", "--db", url]) == 0
    assert "embeddings: 2 x 384 (hashing-v3-384, half precision)" in capsys.readouterr().out
    assert main(["stats", "--json", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out)["precision"] == "half"  # JSON says what the text says
    assert main(["ingest", "corpus", "--db", url, "--quiet"]) == 0
    assert main(["export", "half.parquet", "--db", url]) == 0
    assert "exported 3 passages" in capsys.readouterr().out
    assert main(["query", "hammer nails", "--mode", "vector", "--json", "-k", "1", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out)[0]["content"] == "a hammer drives nails"
    assert main(["ingest", "corpus", "--db", url, "--quiet", "--precision", "float32"]) == 1
    assert "stores its vectors at half precision, not float32; leave --precision out" in capsys.readouterr().err


def test_async_facade_half_precision(pg_database: Any) -> None:
    import asyncio

    from rag_fixtures import drop_all_postgresql

    from sqlalchemy_vector.rag import AsyncVectorRAG

    async def run() -> list[Any]:
        rag = AsyncVectorRAG(pg_database.set(drivername="postgresql+psycopg_async"),
                             embedder=KeywordEmbedder(VOCABULARY), precision="half")
        try:
            assert rag.sync_rag.precision == "half"
            await rag.load_documents(CORPUS, show_progress=False)
            return await rag.query_with_embedding(Q, top_k=3)
        finally:
            await rag.close()

    try:
        results = asyncio.run(run())
    finally:
        drop_all_postgresql(pg_database)
    assert [r["document_id"] for r in results] == [doc_id for doc_id, _ in half_reference("cosine")[:3]]


def test_float32_table_is_not_opened_as_half(pg_database: Any) -> None:
    from rag_fixtures import drop_all_postgresql

    engine = sv.create_engine(pg_database)
    try:
        VectorRAG(engine, embedder=KeywordEmbedder(VOCABULARY)).load_documents(CORPUS[:2], show_progress=False)
        with pytest.raises(SchemaMismatchError, match="stores float32 vectors .*precision='float32'"):
            VectorRAG(engine, embedder=KeywordEmbedder(VOCABULARY), precision="half")
    finally:
        engine.dispose()
        drop_all_postgresql(pg_database)


class _WideEmbedder:
    """Random embeddings of ``dimension`` dimensions (wider than pgvector indexes as vector)."""

    model_name = "wide"

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension

    def embed(self, texts: list[str]) -> list[np.ndarray]:
        rng = np.random.default_rng(len(texts))
        return [rng.standard_normal(self.dimension).astype(np.float32) for _ in texts]


def test_half_index_takes_halfvec_dimensions(pg_database: Any) -> None:
    # pgvector indexes halfvec up to 4,000 dimensions (vector up to 2,000): a 3,072-dimension half column is indexed.
    engine = sv.create_engine(pg_database)
    try:
        rag = VectorRAG(engine, embedder=_WideEmbedder(3072), precision="half")
        rag.load_documents([{"content": "one"}, {"content": "two"}], show_progress=False)
        rag.create_index("emb_half_wide")
        assert [ix["name"] for ix in rag.get_statistics()["indexes"]] == ["emb_half_wide"]
        assert len(rag.query("one", top_k=1)) == 1
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE embeddings, documents"))
        rag = VectorRAG(engine, embedder=_WideEmbedder(4001), precision="half")
        rag.load_documents([{"content": "one"}], show_progress=False)
        with pytest.raises(sv.exc.DimensionLimitError, match="half vectors of at most 4000 dimensions.*4001"):
            rag.create_index("emb_half_too_wide")
        assert rag.get_statistics()["indexes"] == []
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE embeddings, documents"))
    finally:
        engine.dispose()
