"""Tables in a named schema, and the same table name in two schemas.

PostgreSQL and DuckDB ``CREATE SCHEMA app``; SQLite ``ATTACH DATABASE ... AS
app``.  Each schema's table, indexes and sequences are its own: nothing built,
listed, searched or dropped for one reaches the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Optional, Tuple

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase, mapped_column

import sqlalchemy_vector as sv
from sqlalchemy_vector.orm import DocumentMixin, EmbeddedDocumentMixin, EmbeddingMixin, IntegerId

from index_helpers import database_with_schema, fresh_database


@pytest.fixture(params=["sqlite", "duckdb", "postgresql"])
def schema_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine whose database has a schema ``app`` beside the default one."""
    with database_with_schema(request.param, tmp_path, request) as (_url, engine):
        yield engine


class Words:
    """One dimension per word: queries rank by the words they share."""

    dimension = 4
    model_name = "words"
    words = ("apple", "banana", "cherry", "pie")

    def embed(self, texts: Any) -> np.ndarray:
        return np.array([[1.0 if w in t.split() else 0.0 for w in self.words] for t in texts], np.float32) + 0.01


def docs(*contents: str) -> list[dict[str, Any]]:
    return [{"content": content} for content in contents]


def two_schemas(engine: sa.Engine) -> Tuple[Tuple[type, type], Tuple[type, type]]:
    """Document and embedding models named alike in the default schema and in ``app``, their tables created."""

    def models(schema: Optional[str]) -> Tuple[type, type]:
        class Base(DeclarativeBase):
            pass

        class Note(DocumentMixin, Base):
            __tablename__ = "notes"
            __table_args__ = {"schema": schema}

        class NoteVector(EmbeddingMixin, Base):
            __tablename__ = "note_vectors"
            __table_args__ = {"schema": schema}
            __document_model__ = Note
            __dimension__ = 4

        Base.metadata.create_all(engine)
        return Note, NoteVector

    return models(None), models("app")


def test_an_existing_bigserial_table_in_a_schema_with_its_key_declared(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The mixin's sequence has no schema; docs/rag.md declares the key with the table's own sequence."""
    with fresh_database("postgresql", tmp_path, request) as url:
        engine = sv.create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("CREATE SCHEMA app"))
            connection.execute(text("CREATE TABLE app.items (id bigserial PRIMARY KEY, content text, embedding vector(4))"))

        class Base(DeclarativeBase):
            pass

        class Item(EmbeddedDocumentMixin, Base):
            __tablename__ = "items"
            __table_args__ = {"schema": "app"}
            __dimension__ = 4
            __column_names__ = {"created_at": None, "metadata_": None}
            id = mapped_column(IntegerId(), sa.Sequence("items_id_seq", schema="app"), primary_key=True)

        with sv.VectorRAG(engine, document_model=Item, embedder=Words()) as rag:
            assert rag.load_documents(docs("apple pie", "banana")) == [1, 2]
            assert [hit["content"] for hit in rag.query("banana", top_k=1)] == ["banana"]
        with engine.connect() as connection:
            assert connection.execute(text("SELECT last_value FROM app.items_id_seq")).scalar_one() == 2
        engine.dispose()


def test_indexes_of_the_same_name_on_tables_of_the_same_name_in_two_schemas(schema_engine: sa.Engine) -> None:
    (note, vector), (app_note, app_vector) = two_schemas(schema_engine)
    main = sv.VectorRAG(schema_engine, document_model=note, embedding_model=vector, embedder=Words())
    app = sv.VectorRAG(schema_engine, document_model=app_note, embedding_model=app_vector, embedder=Words())
    main.load_documents(docs("apple pie"))
    app.load_documents(docs("banana", "cherry"))
    options = {"duckdb_experimental_persistence": True} if schema_engine.dialect.name == "duckdb" else {}
    for rag in (main, app):
        rag.create_index("note_ix", "cosine", **options)
        rag.create_fulltext_index("note_text")
    # Written after the indexes were built: the app table's own index (and, on SQLite, its triggers) has them.
    app.load_documents(docs("cherry pie"))

    assert [i["name"] for i in main.get_statistics()["indexes"]] == ["note_ix"]
    assert [i["name"] for i in app.get_statistics()["indexes"]] == ["note_ix"]
    assert [hit["content"] for hit in main.query("cherry", top_k=5)] == ["apple pie"]
    assert [hit["content"] for hit in app.query("cherry", top_k=5)][:2] == ["cherry", "cherry pie"]
    assert {hit["content"] for hit in app.hybrid_query("pie", top_k=5)} == {"cherry pie", "banana", "cherry"}
    assert [hit["content"] for hit in main.hybrid_query("pie", top_k=5)] == ["apple pie"]

    assert app.delete_index("note_ix") is True
    assert app.get_statistics()["indexes"] == []
    assert [i["name"] for i in main.get_statistics()["indexes"]] == ["note_ix"]  # the other schema's is kept
    assert [hit["content"] for hit in main.query("apple", top_k=5)] == ["apple pie"]
    assert [hit["content"] for hit in app.query("banana", top_k=1)] == ["banana"]
