"""The facade on tables written by other tools: pgvector-python, langchain-postgres's layout, sqlite-vec.

Each table is created and filled the other tool's way; the application maps
it with the library's mixins, declaring the columns the table lacks absent
(``__column_names__ = {"created_at": None, ...}``), then loads, gets,
queries, filters (where the table has metadata) and deletes through
:class:`~sqlalchemy_vector.VectorRAG`.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import ForeignKey, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import InvalidFilterError, ModelConfigurationError
from sqlalchemy_vector.orm import EmbeddedDocumentMixin

from index_helpers import fresh_database


class ThreeWords:
    """An embedder for the tests: one dimension per word."""

    dimension = 3
    model_name = "three-words"
    words = ("red", "green", "blue")

    def embed(self, texts: Any) -> np.ndarray:
        return np.array([[1.0 if w in t.split() else 0.0 for w in self.words] for t in texts], np.float32) + 0.01


@pytest.fixture
def pg_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path, request) as url:
        yield url


def exercise(rag: sv.VectorRAG, existing_ids: list[Any], *, with_metadata: bool) -> None:
    """load, get, query, filter, delete: what the facade does with a table it did not create."""
    metadata = {"lang": "en"} if with_metadata else None
    new_id = rag.load_document("blue sky", metadata=metadata)
    got = rag.get_document(new_id)
    assert got is not None and got["content"] == "blue sky" and got["created_at"] is None
    assert got["metadata"] == (metadata or {})
    old = rag.get_document(existing_ids[0])
    assert old is not None and old["content"] == "red apple" and old["metadata"] == ({"lang": "fr"} if with_metadata else {})

    hits = rag.query_with_embedding([1, 0, 0], top_k=2)
    assert [hit["content"] for hit in hits][0] == "red apple"
    assert [hit["document_id"] for hit in rag.query("blue", top_k=1)] == [new_id]
    if with_metadata:
        assert [hit["content"] for hit in rag.query_with_filters({"lang": "fr"}, top_k=5)] == ["red apple", "green leaf"]
        assert [hit["content"] for hit in rag.query("red", top_k=5, filters={"lang": "en"})] == ["blue sky"]
    else:
        with pytest.raises(InvalidFilterError, match="need a metadata column"):
            rag.query("red", filters={"lang": "en"})
        with pytest.raises(ModelConfigurationError, match="no metadata column"):
            rag.load_document("red again", metadata={"lang": "en"})
    assert rag.get_statistics()["document_count"] == 3

    assert rag.delete_document(existing_ids[1]) is True
    assert rag.delete_document(new_id) is True
    assert [doc["content"] for doc in rag.get_documents(existing_ids)] == ["red apple"]


def test_table_written_by_pgvector_python(pg_url: str) -> None:
    from pgvector.sqlalchemy import Vector as PgvectorVector

    # pgvector-python's own way: its type, its README's table.
    class TheirBase(DeclarativeBase):
        pass

    class Item(TheirBase):
        __tablename__ = "items"
        id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
        content: Mapped[str] = mapped_column(sa.Text)
        embedding = mapped_column(PgvectorVector(3))

    theirs = sa.create_engine(pg_url)
    with theirs.begin() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        connection.execute(text("CREATE TABLE items (id bigserial PRIMARY KEY, content text, embedding vector(3))"))
    with sa.orm.Session(theirs) as session:
        session.add_all(
            [Item(content="red apple", embedding=[1.01, 0.01, 0.01]), Item(content="green leaf", embedding=[0.01, 1.01, 0.01])]
        )
        session.commit()
        existing = list(session.scalars(sa.select(Item.id).order_by(Item.id)))
    theirs.dispose()

    # The application's mapping of the same table.
    class Base(DeclarativeBase):
        pass

    class Doc(EmbeddedDocumentMixin, Base):
        __tablename__ = "items"
        __dimension__ = 3
        __id_type__ = int  # bigserial: its sequence is items_id_seq, the mixin's name for it
        __column_names__ = {"created_at": None, "metadata_": None}

    with sv.VectorRAG(pg_url, document_model=Doc, embedder=ThreeWords()) as rag:
        exercise(rag, existing, with_metadata=False)


def test_langchain_postgres_layout(pg_url: str) -> None:
    collection = uuid.uuid4()
    engine = sa.create_engine(pg_url)
    with engine.begin() as connection:
        # The tables langchain-postgres's PGVector creates (its CollectionStore and EmbeddingStore).
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        connection.execute(
            text("CREATE TABLE langchain_pg_collection (uuid uuid PRIMARY KEY, name varchar NOT NULL UNIQUE, cmetadata json)")
        )
        connection.execute(
            text(
                "CREATE TABLE langchain_pg_embedding (id varchar PRIMARY KEY, collection_id uuid "
                "REFERENCES langchain_pg_collection (uuid) ON DELETE CASCADE, embedding vector(3), "
                "document varchar, cmetadata jsonb)"
            )
        )
        connection.execute(text("INSERT INTO langchain_pg_collection VALUES (:u, 'notes', '{}')"), {"u": collection})
        for key, content, vector in [("a", "red apple", "[1.01,0.01,0.01]"), ("b", "green leaf", "[0.01,1.01,0.01]")]:
            connection.execute(
                text(
                    "INSERT INTO langchain_pg_embedding VALUES (:id, :c, CAST(:v AS vector), :d, CAST(:m AS jsonb))"
                ),
                {"id": key, "c": collection, "v": vector, "d": content, "m": '{"lang": "fr"}'},
            )
    engine.dispose()

    class Base(DeclarativeBase):
        pass

    class Chunk(EmbeddedDocumentMixin, Base):
        __tablename__ = "langchain_pg_embedding"
        __dimension__ = 3
        __column_names__ = {"content": "document", "metadata_": "cmetadata", "created_at": None}

        # Written by hand: the collection new documents belong to.
        collection_id: Mapped[uuid.UUID] = mapped_column(
            sa.Uuid, ForeignKey("langchain_pg_collection.uuid"), default=lambda: collection
        )

    sa.Table("langchain_pg_collection", Base.metadata, sa.Column("uuid", sa.Uuid, primary_key=True))
    with sv.VectorRAG(pg_url, document_model=Chunk, embedder=ThreeWords()) as rag:
        exercise(rag, ["a", "b"], with_metadata=True)
    engine = sa.create_engine(pg_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT DISTINCT collection_id FROM langchain_pg_embedding")).scalars().all() == [
            collection
        ]
    engine.dispose()


def test_sqlite_vec_table_written_with_serialize_float32(tmp_path: Path) -> None:
    import sqlite_vec

    url = f"sqlite:///{tmp_path}/notes.db"
    theirs = sv.create_engine(url)  # only for a connection that has sqlite-vec loaded
    with theirs.begin() as connection:
        connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, embedding BLOB)"))
        for content, vector in [("red apple", [1.01, 0.01, 0.01]), ("green leaf", [0.01, 1.01, 0.01])]:
            connection.execute(
                text("INSERT INTO notes (body, embedding) VALUES (:b, :e)"),
                {"b": content, "e": sqlite_vec.serialize_float32(vector)},
            )
        assert connection.execute(text("SELECT vec_length(embedding) FROM notes")).scalars().all() == [3, 3]
    theirs.dispose()

    class Base(DeclarativeBase):
        pass

    class Note(EmbeddedDocumentMixin, Base):
        __tablename__ = "notes"
        __dimension__ = 3
        __id_type__ = int
        __column_names__ = {"content": "body", "created_at": None, "metadata_": None}

    with sv.VectorRAG(url, document_model=Note, embedder=ThreeWords()) as rag:
        exercise(rag, [1, 2], with_metadata=False)
    # What the facade wrote is what sqlite-vec's helper writes: float32 little-endian bytes.
    plain = sa.create_engine(url)
    with plain.connect() as connection:
        blob = connection.execute(text("SELECT embedding FROM notes WHERE id = 1")).scalar_one()
        assert blob == sqlite_vec.serialize_float32([1.01, 0.01, 0.01])
    plain.dispose()
    with sv.VectorRAG(url, document_model=Note, embedder=ThreeWords()) as rag:
        # An empty filter reads no metadata: every document (refused before, for the missing column).
        assert [hit["content"] for hit in rag.query_with_filters({}, top_k=5)] == ["red apple"]
        assert rag.delete_documents(filters={}) == 1
        assert rag.get_statistics()["document_count"] == 0


def test_only_optional_columns_may_be_absent() -> None:
    class Base(DeclarativeBase):
        pass

    with pytest.raises(ModelConfigurationError, match=r"only created_at, metadata_ may be None"):

        class Broken(EmbeddedDocumentMixin, Base):
            __tablename__ = "broken"
            __dimension__ = 3
            __column_names__ = {"content": None}
