"""Facade models whose vector column is nullable: the step of a migration that changes the dimension."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session

import sqlalchemy_vector as sv


# ClickHouse holds no NULL vector (an Array cannot be Nullable), and refuses a dimension change.
@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql"])
def test_facade_searches_past_rows_without_a_vector(kind: str, fresh_database_url: Callable[[str], str]) -> None:
    Document, Embedding = sv.make_models(8, nullable_embedding=True)
    engine = sv.create_engine(fresh_database_url(kind))
    Document.metadata.create_all(engine)
    assert inspect(engine).get_columns("embeddings")[-1]["nullable"] is True
    rag = sv.VectorRAG(engine, document_model=Document, embedding_model=Embedding)
    try:
        vectors = np.eye(8, dtype=np.float32)[:4]
        ids = rag.load_documents(
            [{"content": f"doc {i}", "embedding": v} for i, v in enumerate(vectors)], show_progress=False
        )
        with Session(engine) as session:  # what a dimension change leaves: vectors reset until re-embedded
            for row in session.query(Embedding).filter(Embedding.document_id.in_(ids[:2])):
                row.embedding = None
            session.commit()
        query = np.ones(8, dtype=np.float32)
        assert sorted(r["document_id"] for r in rag.query_with_embedding(query, top_k=4)) == sorted(ids[2:])
        rag.create_index("ix_nullable", "cosine", duckdb_experimental_persistence=True)
        assert sorted(r["document_id"] for r in rag.query_with_embedding(query, top_k=4)) == sorted(ids[2:])
    finally:
        rag.close()
        engine.dispose()


def test_default_models_keep_the_vector_required() -> None:
    _, Embedding = sv.make_models(8)
    assert Embedding.__table__.c.embedding.nullable is False


def test_nullable_embedding_takes_a_bool() -> None:
    with pytest.raises(sv.exc.ModelConfigurationError, match=r"make_models\(nullable_embedding=...\) must be True or False, got 'yes'"):
        sv.make_models(8, nullable_embedding="yes")  # type: ignore[arg-type]
