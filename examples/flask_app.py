"""A small note-search service: Flask + Flask-SQLAlchemy on SQLite, DuckDB or PostgreSQL.

    pip install "sqlalchemy-vector[sqlite]" flask flask-sqlalchemy
    DATABASE_URL=sqlite:////tmp/notes.db flask --app "flask_app:create_app()" run

    curl -X POST localhost:5000/notes -H 'content-type: application/json' -d '{"content": "Cats purr."}'
    curl 'localhost:5000/search?q=purring+cats&k=3'
    curl localhost:5000/notes/1

Flask-SQLAlchemy creates the engine itself, so :func:`sqlalchemy_vector.attach`
prepares it (before its first connection).  Vectors reach ``jsonify`` as numpy
arrays: the app's JSON provider hands them to
:func:`sqlalchemy_vector.serialization.json_default`.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np
from flask import Flask, abort, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask_sqlalchemy import SQLAlchemy
from werkzeug.exceptions import HTTPException
from sqlalchemy import Sequence, Text, make_url, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import InvalidVectorError
from sqlalchemy_vector.serialization import json_default

DIMENSION = 384


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Note(db.Model):  # type: ignore[name-defined]
    __tablename__ = "notes"

    # A Sequence: DuckDB rejects the SERIAL that duckdb_engine renders for a plain integer key.
    id: Mapped[int] = mapped_column(Sequence("notes_id_seq"), primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(DIMENSION))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "content": self.content, "embedding": self.embedding}


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, plus numpy arrays and scalars (vectors as lists of numbers)."""

    @staticmethod
    def default(value: Any) -> Any:
        return json_default(value, fallback=DefaultJSONProvider.default)


def create_app(url: Optional[str] = None) -> Flask:
    """The service on the database at ``url`` (default: ``$DATABASE_URL``, else ``sqlite:////tmp/notes.db``)."""
    app = Flask(__name__)
    app.json = JSONProvider(app)
    url = url or os.environ.get("DATABASE_URL", "sqlite:////tmp/notes.db")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    if make_url(url).get_backend_name() == "sqlite":
        # sqlean (the sqlite extra) can load sqlite-vec where the standard sqlite3 cannot (pyenv, macOS);
        # without it, attach() registers slower pure-Python distance functions instead.
        import sqlean

        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"module": sqlean}
    db.init_app(app)
    embedder = sv.HashingEmbedder(DIMENSION)
    with app.app_context():
        sv.attach(db.engine)  # loads sqlite-vec / checks pgvector / loads DuckDB's vss on each new connection
        db.create_all()

    @app.errorhandler(HTTPException)
    def error_as_json(err: HTTPException) -> Any:
        return jsonify(error=err.description), err.code

    @app.post("/notes")
    def add_note() -> Any:
        body = request.get_json()
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, str) or not content:
            abort(422, description="expected a JSON object with a non-empty 'content' string")
        embedding = body.get("embedding")
        note = Note(content=content, embedding=embedder.embed([content])[0] if embedding is None else embedding)
        db.session.add(note)
        try:
            db.session.commit()
        except InvalidVectorError as err:  # a given embedding of the wrong size, NaN, strings...
            db.session.rollback()
            abort(422, description=str(err))
        return jsonify(note.to_json()), 201

    @app.get("/notes/<int:note_id>")
    def get_note(note_id: int) -> Any:
        return jsonify(db.get_or_404(Note, note_id).to_json())

    @app.get("/search")
    def search() -> Any:
        query = embedder.embed([request.args.get("q", "")])[0]
        if not query.any():
            abort(422, description="q has no searchable words")
        distance = Note.embedding.cosine(query).label("distance")
        k = request.args.get("k", "5")
        if not k.isdigit() or not 1 <= int(k) <= 100:
            abort(422, description=f"k must be a whole number from 1 to 100, got {k!r}")
        rows = db.session.execute(select(Note.id, Note.content, distance).order_by(distance, Note.id).limit(int(k)))
        return jsonify([{"id": i, "content": c, "distance": d} for i, c, d in rows])

    return app
