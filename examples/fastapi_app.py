"""A small document-search service: FastAPI + SQLModel on SQLite, DuckDB or PostgreSQL.

    pip install "sqlalchemy-vector[sqlite,pydantic]" fastapi sqlmodel uvicorn
    DATABASE_URL=sqlite:///documents.db uvicorn --factory fastapi_app:create_app

    curl -X POST localhost:8000/documents -H 'content-type: application/json' \\
         -d '{"content": "Cats purr when content.", "metadata": {"topic": "pets"}}'
    curl -G localhost:8000/search --data-urlencode 'q=purring cats' -d k=3 --data-urlencode 'where={"topic":"pets"}'
    curl localhost:8000/documents/1

Documents without an ``embedding`` are embedded with the built-in lexical
:class:`~sqlalchemy_vector.HashingEmbedder`.  Ids come from a ``Sequence``
(DuckDB rejects the ``SERIAL`` that duckdb_engine renders for a plain integer
key; SQLite ignores the sequence and uses its rowid).
"""

from __future__ import annotations

import json
import os
from contextlib import asynccontextmanager
from typing import Annotated, Any, AsyncIterator, Dict, Iterator, List, Optional

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, Field as PydanticField
from sqlalchemy import Column, Sequence, Text
from sqlmodel import Field, Session, SQLModel, select

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import InvalidFilterError
from sqlalchemy_vector.orm import MetadataJSON
from sqlalchemy_vector.serialization import VectorSchema

DIMENSION = 384
Embedding = Annotated[np.ndarray, VectorSchema(DIMENSION)]


class Document(SQLModel, table=True):
    __tablename__ = "documents"

    id: Optional[int] = Field(default=None, primary_key=True, sa_column_args=[Sequence("documents_id_seq")])
    content: str = Field(sa_type=Text)
    # "metadata" is taken by SQLModel (the MetaData), so the attribute is meta; the column and the API say metadata.
    meta: Dict[str, Any] = Field(default_factory=dict, sa_column=Column("metadata", MetadataJSON, nullable=False))
    embedding: Embedding = Field(sa_type=sv.Vector(DIMENSION))


class DocumentIn(BaseModel):
    content: str = PydanticField(min_length=1)
    metadata: Dict[str, Any] = {}
    embedding: Optional[Embedding] = None


class DocumentOut(BaseModel):
    id: int
    content: str
    metadata: Dict[str, Any]
    embedding: Embedding

    @classmethod
    def of(cls, doc: Document) -> "DocumentOut":
        return cls(id=doc.id, content=doc.content, metadata=doc.meta, embedding=doc.embedding)


class Hit(BaseModel):
    id: int
    content: str
    metadata: Dict[str, Any]
    distance: float


router = APIRouter()


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def create_app(url: Optional[str] = None, embedder: Optional[sv.Embedder] = None) -> FastAPI:
    """The service on the database at ``url`` (default: ``$DATABASE_URL``, else ``sqlite:///documents.db``)."""
    engine = sv.create_engine(url or os.environ.get("DATABASE_URL", "sqlite:///documents.db"))
    SQLModel.metadata.create_all(engine, tables=[Document.__table__])  # type: ignore[list-item]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(title="Document search", lifespan=lifespan)
    app.state.engine = engine
    app.state.embedder = embedder or sv.HashingEmbedder(DIMENSION)
    app.include_router(router)
    return app


@router.post("/documents", response_model=DocumentOut, status_code=201)
def add_document(body: DocumentIn, request: Request, session: SessionDep) -> DocumentOut:
    embedding = body.embedding
    if embedding is None:
        embedding = request.app.state.embedder.embed([body.content])[0]
    doc = Document(content=body.content, meta=body.metadata, embedding=embedding)
    session.add(doc)
    session.commit()
    session.refresh(doc)
    return DocumentOut.of(doc)


@router.get("/documents/{document_id}", response_model=DocumentOut)
def get_document(document_id: int, session: SessionDep) -> DocumentOut:
    doc = session.get(Document, document_id)
    if doc is None:
        raise HTTPException(status_code=404, detail=f"no document with id {document_id}")
    return DocumentOut.of(doc)


@router.get("/search", response_model=List[Hit])
def search(
    request: Request,
    session: SessionDep,
    q: Annotated[str, Query(min_length=1)],
    k: Annotated[int, Query(ge=1, le=100)] = 5,
    where: Annotated[Optional[str], Query(description='metadata filter as JSON, e.g. {"year": {"$gte": 2020}}')] = None,
) -> List[Hit]:
    query = request.app.state.embedder.embed([q])[0]
    if not query.any():
        raise HTTPException(status_code=422, detail=f"q={q!r} has no searchable words")
    distance = Document.embedding.cosine(query).label("distance")  # type: ignore[attr-defined]
    statement = select(Document, distance).order_by(distance, Document.id).limit(k)
    try:
        if where:
            statement = statement.where(sv.metadata_filter(Document.meta, json.loads(where)))
        rows = session.exec(statement).all()
    except (json.JSONDecodeError, InvalidFilterError) as err:
        raise HTTPException(status_code=422, detail=f"where: {err}") from None
    return [Hit(id=doc.id, content=doc.content, metadata=doc.meta, distance=d) for doc, d in rows]
