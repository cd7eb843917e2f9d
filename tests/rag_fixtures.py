"""Fresh databases and small deterministic embedders for the ORM, filter and RAG facade tests.

The facade commits, so these tests cannot use the rolled-back ``conn``
fixture: each test gets a new SQLite or DuckDB file, or on PostgreSQL a
database of its test module (created on the session's server), emptied after
every test.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import numpy as np
import pytest
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase

import sqlalchemy_vector as sv
from sqlalchemy_vector.orm import DocumentMixin, EmbeddingMixin

SYNC_BACKENDS = ("sqlite", "sqlite-python", "duckdb", "postgresql")


class KeywordEmbedder:
    """A deterministic embedder over a fixed vocabulary: one axis per word, counts, no normalisation.

    Known vectors make expected distances easy to compute with numpy.
    """

    def __init__(self, vocabulary: Sequence[str], model_name: str = "keywords-v1") -> None:
        self.vocabulary = list(vocabulary)
        self.dimension = len(self.vocabulary)
        self.model_name = model_name
        self.calls: List[List[str]] = []

    def vector(self, text: str) -> np.ndarray:
        out = np.zeros(self.dimension, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            if word in self.vocabulary:
                out[self.vocabulary.index(word)] += 1.0
        return out

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.stack([self.vector(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)


class AsyncKeywordEmbedder(KeywordEmbedder):
    """The same, with a coroutine ``aembed`` (what an HTTP embedding client would have)."""

    def __init__(self, vocabulary: Sequence[str], model_name: str = "keywords-v1") -> None:
        super().__init__(vocabulary, model_name)
        self.async_calls: List[List[str]] = []

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        self.async_calls.append(list(texts))
        return np.stack([self.vector(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)


VOCABULARY = ["apple", "banana", "cherry", "durian", "elder", "fig", "grape", "honey"]

# Documents with known keyword vectors and typed metadata.
CORPUS: List[Dict[str, Any]] = [
    {"document_id": "d1", "content": "apple apple banana", "metadata": {"kind": "fruit", "rank": 1, "fresh": True}},
    {"document_id": "d2", "content": "banana cherry", "metadata": {"kind": "fruit", "rank": 2, "fresh": False}},
    {"document_id": "d3", "content": "cherry durian elder", "metadata": {"kind": "exotic", "rank": 3}},
    {"document_id": "d4", "content": "fig grape", "metadata": {"kind": "fruit", "rank": "4", "fresh": 1}},
    {"document_id": "d5", "content": "honey", "metadata": {"kind": "sweet", "rank": 5.5, "tags": None}},
    {"document_id": "d6", "content": "apple honey grape fig", "metadata": {"kind": "mix", "rank": 6}},
]


def reference(embedder: KeywordEmbedder, query: np.ndarray, function: str, contents: Dict[str, str]) -> Dict[str, float]:
    """Distances computed with numpy in float64, per document id, for ``similarity_function``."""
    q = np.asarray(query, dtype=np.float64)
    out = {}
    for doc_id, content in contents.items():
        x = embedder.vector(content).astype(np.float64)
        if function == "cosine":
            norms = np.linalg.norm(x) * np.linalg.norm(q)
            out[doc_id] = 2.0 if norms == 0 else float(1 - x @ q / norms)
        elif function == "euclidean":
            out[doc_id] = float(np.linalg.norm(x - q))
        else:
            out[doc_id] = float(-(x @ q))
    return out


def similarity(function: str, distance: float) -> float:
    return {"cosine": 1 - distance, "euclidean": 1 / (1 + distance), "inner_product": -distance}[function]


# -- databases ------------------------------------------------------------------------------


def drop_all_postgresql(url: URL) -> None:
    """Drop every table and sequence in the public schema (the pgvector extension stays)."""
    engine = sa_create_engine(url)
    try:
        with engine.begin() as connection:
            quote = connection.dialect.identifier_preparer.quote
            tables = connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
            for name in tables:
                connection.execute(text(f"DROP TABLE IF EXISTS {quote(name)} CASCADE"))
            sequences = connection.execute(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
            ).scalars().all()
            for name in sequences:
                connection.execute(text(f"DROP SEQUENCE IF EXISTS {quote(name)} CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def pg_database(postgresql_url: str) -> Iterator[URL]:
    """A PostgreSQL database for this test module on the session's server (dropped at the end)."""
    server = make_url(postgresql_url)
    name = f"rag_{uuid.uuid4().hex[:12]}"
    admin = sa_create_engine(server, isolation_level="AUTOCOMMIT")
    quote = admin.dialect.identifier_preparer.quote
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {quote(name)}"))
    try:
        yield server.set(database=name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)"))
        admin.dispose()


def fresh_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> URL:
    if backend in ("sqlite", "sqlite-python"):
        return make_url(f"sqlite:///{tmp_path / 'rag.db'}")
    if backend == "duckdb":
        return make_url(f"duckdb:///{tmp_path / 'rag.duckdb'}")
    if backend == "postgresql":
        return request.getfixturevalue("pg_database")  # type: ignore[no-any-return]
    if backend == "clickhouse":  # a new database on the run's chDB
        return make_url(request.getfixturevalue("fresh_database_url")(backend))
    raise ValueError(backend)


@pytest.fixture
def fresh_engine(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A new engine on an empty database for ``backend``; PostgreSQL's tables are dropped afterwards."""
    url = fresh_url(backend, tmp_path, request)
    engine = sv.create_engine(url, sqlite_vec=backend != "sqlite-python")
    try:
        yield engine
    finally:
        engine.dispose()
        if backend == "postgresql":
            drop_all_postgresql(url)


def vector_ddl(backend: str, dim: int) -> str:
    """The column type each backend stores vectors in, for tables created with raw DDL."""
    return {"postgresql": f"vector({dim})", "duckdb": f"FLOAT[{dim}]", "clickhouse": "Array(Float32)"}.get(backend, "BLOB")


def vector_param(backend: str, vector: Sequence[float], dim: int) -> Any:
    """A vector value for raw SQL: text for a CAST on PostgreSQL/DuckDB, float32 bytes on SQLite."""
    if backend in ("postgresql", "duckdb"):
        return "[" + ",".join(repr(float(x)) for x in vector) + "]"
    if backend == "clickhouse":  # rendered as an array literal
        return [float(x) for x in vector]
    return np.asarray(vector, dtype="<f4").tobytes()


def vector_placeholder(backend: str, name: str, dim: int) -> str:
    if backend == "postgresql":
        return f"CAST(:{name} AS vector({dim}))"
    if backend == "duckdb":
        return f"CAST(:{name} AS FLOAT[{dim}])"
    return f":{name}"


# -- tables created outside SQLAlchemy -------------------------------------------------------

EXISTING_VECTORS = {
    "a": [1.0, 0.0, 0.0, 0.0],
    "b": [0.0, 1.0, 0.0, 0.0],
    "c": [1.0, 1.0, 0.0, 0.0],
}


def create_existing_tables(conn: Connection, backend: str) -> None:
    """Tables made outside SQLAlchemy, holding data, with their own column names."""
    json_type = {"postgresql": "json", "duckdb": "JSON"}.get(backend, "TEXT")
    engine = " ENGINE = MergeTree" if backend == "clickhouse" else ""  # ClickHouse tables need one
    conn.execute(
        text(
            f"CREATE TABLE kb_docs (doc_id VARCHAR(40) PRIMARY KEY, body TEXT NOT NULL, attrs {json_type}, "
            f"created TIMESTAMP NOT NULL){engine}"
        )
    )
    conn.execute(
        text(
            f"CREATE TABLE kb_vectors (vid VARCHAR(40) PRIMARY KEY, doc VARCHAR(40) NOT NULL, "
            f"model VARCHAR(40) NOT NULL, vec {vector_ddl(backend, 4)} NOT NULL){engine}"
        )
    )
    metadata_cast = {"postgresql": "CAST(:attrs AS json)", "duckdb": "CAST(:attrs AS JSON)"}.get(backend, ":attrs")
    for i, (key, vector) in enumerate(EXISTING_VECTORS.items()):
        conn.execute(
            text(f"INSERT INTO kb_docs VALUES (:id, :body, {metadata_cast}, :created)"),
            {"id": f"doc-{key}", "body": f"existing {key}", "attrs": f'{{"key": "{key}", "n": {i}}}', "created": datetime(2024, 1, 1 + i)},
        )
        conn.execute(
            text(f"INSERT INTO kb_vectors VALUES (:vid, :doc, 'legacy-model', {vector_placeholder(backend, 'vec', 4)})"),
            {"vid": f"v-{key}", "doc": f"doc-{key}", "vec": vector_param(backend, vector, 4)},
        )


def existing_models() -> Tuple[Any, Any]:
    class Base(DeclarativeBase):
        pass

    class KBDoc(DocumentMixin, Base):
        __tablename__ = "kb_docs"
        __column_names__ = {"id": "doc_id", "content": "body", "metadata_": "attrs", "created_at": "created"}

    class KBVector(EmbeddingMixin, Base):
        __tablename__ = "kb_vectors"
        __column_names__ = {"id": "vid", "document_id": "doc", "model_name": "model", "embedding": "vec"}
        __document_model__ = KBDoc
        __dimension__ = 4

    return KBDoc, KBVector
