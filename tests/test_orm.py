"""The declarative mixins on every backend: ids, JSON metadata, remapped and pre-existing tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import Integer, String, delete, func, insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.schema import CreateTable

import sqlalchemy_vector as sv
from index_helpers import fresh_database
from rag_fixtures import create_existing_tables, existing_models
from sqlalchemy_vector.dialects import backend_for
from sqlalchemy_vector.exc import InvalidVectorError, ModelConfigurationError, UnsupportedDialectError
from sqlalchemy_vector.filters import metadata_filter
from sqlalchemy_vector.orm import DocumentMixin, EmbeddedDocumentMixin, EmbeddingMixin, IntegerId, MetadataJSON, make_models
from tests.conftest import WITH_CLICKHOUSE

@pytest.fixture(params=WITH_CLICKHOUSE)
def backend(request: pytest.FixtureRequest) -> str:
    """This module's matrix: every backend, ClickHouse included."""
    return str(request.param)


VECTORS = {
    "a": [1.0, 0.0, 0.0, 0.0],
    "b": [0.0, 1.0, 0.0, 0.0],
    "c": [1.0, 1.0, 0.0, 0.0],
}


def session_on(conn: Connection) -> Session:
    return Session(bind=conn, join_transaction_mode="rollback_only")


def test_default_models_round_trip(conn: Connection) -> None:
    Document, Embedding = make_models(4, document_table="orm_docs", embedding_table="orm_embs")
    Document.metadata.create_all(conn)
    with session_on(conn) as session:
        docs = {key: Document(content=f"text {key}", metadata_={"key": key, "n": i, "ok": True}) for i, key in enumerate(VECTORS)}
        session.add_all(docs.values())
        session.flush()
        session.add_all(
            Embedding(document_id=docs[key].id, model_name="m", embedding=vector) for key, vector in VECTORS.items()
        )
        session.flush()
        session.expire_all()
        query = [1.0, 0.2, 0.0, 0.0]
        rows = session.execute(
            select(Document, Embedding.embedding.cosine(query).label("d"))
            .join(Embedding, Embedding.document_id == Document.id)
            .order_by("d")
        ).all()
        assert [row.Document.metadata_["key"] for row in rows] == ["a", "c", "b"]
        first = rows[0].Document
        assert isinstance(first.id, str) and len(first.id) == 36
        assert first.metadata_ == {"key": "a", "n": 0, "ok": True}
        assert isinstance(first.created_at, datetime) and first.created_at.tzinfo is None
        found = session.scalars(select(Document).where(metadata_filter(Document.metadata_, {"n": {"$gte": 1}}))).all()
        assert sorted(d.metadata_["key"] for d in found) == ["b", "c"]


def test_loaded_vectors_are_read_only_so_no_change_is_lost(conn: Connection) -> None:
    # The ORM finds a change by comparing with the array it loaded: an array changed in place compared
    # equal to itself, and the commit silently kept the old vector.  Loaded arrays are read-only, so the
    # change fails loudly, and a new array is written.
    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "mutable_items"
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(3))

    Base.metadata.create_all(conn)
    with session_on(conn) as session:
        session.add_all([Item(id=1, embedding=[3.0, 4.0, 0.0]), Item(id=2, embedding=[1.0, 0.0, 0.0])])
        session.flush()
        session.expire_all()
        first, second = session.get(Item, 1), session.get(Item, 2)
        assert not first.embedding.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            first.embedding /= np.linalg.norm(first.embedding)
        with pytest.raises(ValueError, match="read-only"):
            second.embedding[0] = 9.0
        first.embedding = first.embedding / np.linalg.norm(first.embedding)
        changed = second.embedding.copy()
        changed[0] = 9.0
        second.embedding = changed
        assert session.is_modified(first) and session.is_modified(second)
        session.flush()
        stored = dict(session.execute(select(Item.id, Item.embedding)).tuples().all())
        np.testing.assert_allclose(stored[1], [0.6, 0.8, 0.0], rtol=1e-6)
        np.testing.assert_array_equal(stored[2], [9.0, 0.0, 0.0])
        # Core rows too: the same read-only arrays.
        assert not conn.execute(select(Item.embedding).where(Item.id == 2)).scalar_one().flags.writeable


def updates_on(conn: Connection) -> list:
    """The UPDATE statements ``conn`` runs from now on."""
    seen: list = []

    @sa_event.listens_for(conn, "before_cursor_execute")
    def record(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            seen.append(statement)

    return seen


def test_the_same_vector_again_is_not_a_change(conn: Connection, backend: str) -> None:
    # The ORM compared the float32 array it loaded with the list the row was saved from: 0.1 is not
    # float32(0.1), so assigning the same list again, or merging an object built from it, wrote the row again.
    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "same_items"
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(3))

    Base.metadata.create_all(conn)
    saved = [0.1, 0.2, 0.3]
    with session_on(conn) as session:
        session.add(Item(id=1, embedding=saved))
        session.flush()
        session.expire_all()
        item = session.get(Item, 1)
        updates = updates_on(conn)
        item.embedding = list(saved)
        assert not session.is_modified(item)
        session.flush()
        session.merge(Item(id=1, embedding=np.array(saved)))
        session.flush()
        assert updates == []
        item.embedding = [0.1, 0.2, 0.31]  # a real change is still written
        assert session.is_modified(item)
        session.flush()
        assert len(updates) == 1
        session.expire_all()
        np.testing.assert_allclose(session.get(Item, 1).embedding, [0.1, 0.2, 0.31], rtol=1e-6)
        item = session.get(Item, 1)
        item.embedding = [0.1, float("nan"), 0.3]  # a value the column refuses is a change: the flush reports it
        assert session.is_modified(item)
        session.expunge(item)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_same_compact_vector_again_is_not_a_change(conn: Connection, backend: str) -> None:
    # Compared as stored too: float16 for HalfVector, float32 values for SparseVector.
    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "same_compact_items"
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        half: Mapped[np.ndarray] = mapped_column(sv.HalfVector(3))
        sparse: Mapped[Any] = mapped_column(sv.SparseVector(3))

    Base.metadata.create_all(conn)
    with session_on(conn) as session:
        session.add(Item(id=1, half=[0.1, 0.2, 0.3], sparse={0: 0.1, 2: 0.3}))
        session.flush()
        session.expire_all()
        item = session.get(Item, 1)
        updates = updates_on(conn)
        item.half, item.sparse = [0.1, 0.2, 0.3], {0: 0.1, 2: 0.3}
        assert not session.is_modified(item)
        session.merge(Item(id=1, half=[0.1, 0.2, 0.3], sparse={0: 0.1, 2: 0.3}))
        session.flush()
        assert updates == []
        item.sparse = {0: 0.1, 1: 0.3}
        session.flush()
        assert len(updates) == 1


def test_integer_ids_on_every_backend(conn: Connection) -> None:
    Document, Embedding = make_models(4, document_table="int_docs", embedding_table="int_embs", id_type=int)
    if conn.dialect.name == "clickhousedb":  # no sequence, no autoincrement: refused when the table is created
        with pytest.raises(UnsupportedDialectError, match=r"int_docs\.id is a database-generated integer key.*id_type=str"):
            Document.metadata.create_all(conn)
        return
    Document.metadata.create_all(conn)
    with session_on(conn) as session:
        docs = [Document(content=f"doc {i}") for i in range(3)]
        session.add_all(docs)
        session.flush()
        ids = [d.id for d in docs]
        assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 3
        session.add_all(Embedding(document_id=d.id, model_name="m", embedding=v) for d, v in zip(docs, VECTORS.values()))
        session.flush()
        embedding_ids = session.scalars(select(Embedding.id)).all()
        assert all(isinstance(i, int) for i in embedding_ids) and len(set(embedding_ids)) == 3
        # Core inserts get keys from the same sequence (SQLite: the rowid)
        more = session.execute(
            insert(Document).returning(Document.id), [{"content": "x", "metadata_": {}}, {"content": "y", "metadata_": {}}]
        ).scalars().all()
        assert len(set(more) | set(ids)) == 5
        assert session.get(Document, ids[1]).content == "doc 1"


def test_remapped_column_names(conn: Connection) -> None:
    class Base(DeclarativeBase):
        pass

    class Note(DocumentMixin, Base):
        __tablename__ = "notes"
        __column_names__ = {"id": "note_id", "content": "body", "metadata": "attrs", "created_at": "created"}

    class NoteVector(EmbeddingMixin, Base):
        __tablename__ = "note_vectors"
        __column_names__ = {"document_id": "note", "model_name": "model", "embedding": "vec"}
        __document_model__ = Note
        __dimension__ = 4

    assert [c.name for c in Note.__table__.c] == ["note_id", "body", "attrs", "created"]
    assert [c.name for c in NoteVector.__table__.c] == ["id", "note", "model", "vec"]
    Base.metadata.create_all(conn)
    with session_on(conn) as session:
        note = Note(content="remapped", metadata_={"lang": "en"})
        session.add(note)
        session.flush()
        session.add(NoteVector(document_id=note.id, model_name="m", embedding=VECTORS["c"]))
        session.flush()
        hit = session.execute(
            select(Note.content, NoteVector.embedding.l2([1.0, 1.0, 0.0, 0.0]))
            .join(NoteVector, NoteVector.document_id == Note.id)
            .where(metadata_filter(Note.metadata_, {"lang": "en"}))
        ).one()
        assert hit[0] == "remapped" and hit[1] == pytest.approx(0.0)
    # the database sees the remapped names
    raw = conn.execute(text("SELECT body, attrs FROM notes")).one()
    assert raw[0] == "remapped"
    assert conn.execute(text("SELECT count(*) FROM note_vectors WHERE model = 'm'")).scalar_one() == 1


def test_foreign_key_is_not_created_on_duckdb(conn: Connection) -> None:
    Document, Embedding = make_models(4, document_table="fk_docs", embedding_table="fk_embs")
    ddl = str(CreateTable(Embedding.__table__).compile(conn))
    foreign_keys = backend_for(conn.dialect).capabilities.foreign_keys  # not on DuckDB and ClickHouse
    assert ("REFERENCES fk_docs" in ddl) is foreign_keys is (conn.dialect.name not in ("duckdb", "clickhousedb"))
    assert Embedding.__table__.c.document_id.references(Document.__table__.c.id)  # kept in the model
    Document.metadata.create_all(conn)
    if conn.dialect.name == "duckdb":
        count = "SELECT count(*) FROM duckdb_indexes() WHERE table_name = 'fk_embs'"
        assert conn.execute(text(count)).scalar_one() == 0
    elif conn.dialect.name == "clickhousedb":  # no secondary indexes either: the table is ordered by its key
        assert "ORDER BY id" in ddl and "INDEX" not in ddl
    else:
        assert [ix["column_names"] for ix in inspect(conn).get_indexes("fk_embs")] == [["document_id"]]
    with session_on(conn) as session:
        doc = Document(content="x")
        session.add(doc)
        session.flush()
        session.add(Embedding(document_id=doc.id, model_name="m", embedding=VECTORS["a"]))
        session.flush()
        # a document and its embeddings deleted in one transaction, on every backend
        session.execute(delete(Embedding).where(Embedding.document_id == doc.id))
        session.execute(delete(Document).where(Document.id == doc.id))
        assert session.scalar(select(func.count()).select_from(Document)) == 0


def test_single_table_mixin(conn: Connection) -> None:
    class Base(DeclarativeBase):
        pass

    class Page(EmbeddedDocumentMixin, Base):
        __tablename__ = "pages"
        __column_names__ = {"embedding": "vec", "metadata_": "meta"}
        __dimension__ = 4
        title: Mapped[str] = mapped_column(String(50), default="")

    Base.metadata.create_all(conn)
    with session_on(conn) as session:
        session.add_all(Page(content=k, title=k.upper(), embedding=v) for k, v in VECTORS.items())
        session.flush()
        if backend_for(conn.dialect).capabilities.null_vectors:
            session.add(Page(content="no vector yet"))
            session.flush()
        else:  # ClickHouse: an Array column is never NULL
            with pytest.raises(InvalidVectorError, match=r"column 'pages\.vec' \(Vector\(4\)\) got None, and ClickHouse stores no NULL vector"):
                conn.execute(Page.__table__.insert().values(id="x", content="no vector yet", vec=None))
        nearest = session.scalars(
            select(Page).where(Page.embedding.is_not(None)).order_by(Page.embedding.cosine([0.0, 1.0, 0.1, 0.0])).limit(1)
        ).one()
        assert nearest.title == "B" and nearest.metadata_ == {}
        np.testing.assert_array_equal(nearest.embedding, VECTORS["b"])
    assert sorted(c.name for c in Page.__table__.c) == ["content", "created_at", "id", "meta", "title", "vec"]


def test_mapping_onto_existing_tables_with_data(conn: Connection, backend: str) -> None:
    create_existing_tables(conn, backend)
    KBDoc, KBVector = existing_models()
    with session_on(conn) as session:
        rows = session.execute(
            select(KBDoc, KBVector.embedding.cosine([1.0, 0.9, 0.0, 0.0]).label("d"))
            .join(KBVector, KBVector.document_id == KBDoc.id)
            .order_by("d")
        ).all()
        assert [r.KBDoc.id for r in rows] == ["doc-c", "doc-a", "doc-b"]
        assert rows[0].KBDoc.metadata_ == {"key": "c", "n": 2}
        assert rows[0].KBDoc.created_at == datetime(2024, 1, 3)
        picked = session.scalars(select(KBDoc.id).where(metadata_filter(KBDoc.metadata_, {"n": {"$lt": 2}}))).all()
        assert sorted(picked) == ["doc-a", "doc-b"]
        # and new rows written through the models land in the same columns
        session.add(KBDoc(id="doc-new", content="new", metadata_={"n": 9}))
        session.flush()
        session.add(KBVector(id="v-new", document_id="doc-new", model_name="legacy-model", embedding=[0, 0, 1, 0]))
        session.flush()
    assert conn.execute(text("SELECT body FROM kb_docs WHERE doc_id = 'doc-new'")).scalar_one() == "new"
    assert conn.execute(text("SELECT count(*) FROM kb_vectors")).scalar_one() == 4


def test_configuration_errors() -> None:
    class Base(DeclarativeBase):
        pass

    with pytest.raises(ModelConfigurationError, match="__column_names__ has keys 'body'.*expected some of id, content"):

        class Bad1(DocumentMixin, Base):
            __tablename__ = "bad1"
            __column_names__ = {"body": "content"}

    with pytest.raises(ModelConfigurationError, match="__id_type__ must be str .* or int"):

        class Bad2(DocumentMixin, Base):
            __tablename__ = "bad2"
            __id_type__ = float

    class Good(DocumentMixin, Base):
        __tablename__ = "good"

    with pytest.raises(ModelConfigurationError, match="needs __dimension__"):

        class Bad3(EmbeddingMixin, Base):
            __tablename__ = "bad3"
            __document_model__ = Good

    with pytest.raises(ModelConfigurationError, match="needs __document_model__"):

        class Bad4(EmbeddingMixin, Base):
            __tablename__ = "bad4"
            __dimension__ = 3

    # "no" read as true made document_id part of the primary key.
    with pytest.raises(ModelConfigurationError, match=r"Bad5.__distributed_by_document__ must be True or False, got 'yes'"):

        class Bad5(EmbeddingMixin, Base):
            __tablename__ = "bad5"
            __dimension__ = 3
            __document_model__ = Good
            __distributed_by_document__ = "yes"

    for value in ("no", "false", 0):
        with pytest.raises(ModelConfigurationError, match=r"make_models\(distributed=...\) must be True or False"):
            make_models(3, distributed=value)
    with pytest.raises(ModelConfigurationError, match=r"make_models got one name for both tables, 'docs'"):
        make_models(3, document_table="docs", embedding_table="Docs")  # it raised "Table 'docs' is already defined"

    # Checked as make_models checks its table names: DuckDB failed to name the sequence of 'my"table', and
    # PostgreSQL and DuckDB refused a 70-byte name with SQLAlchemy's IdentifierError; an integer key without
    # __tablename__ raised AttributeError.
    for table_name, message in (('my"table', "contains a double quote"), ("x" * 70, "is 70 bytes long")):
        with pytest.raises(ModelConfigurationError, match=r"Bad6.__tablename__ .*" + message):

            class Bad6(DocumentMixin, Base):
                __tablename__ = table_name
                __id_type__ = int

    with pytest.raises(ModelConfigurationError, match=r"Bad7 needs __tablename__"):

        class Bad7(DocumentMixin, Base):
            __id_type__ = int

    # A string, and two attributes on one column (in any case), raised ValueError and DuplicateColumnError, or failed
    # at CREATE TABLE on SQLite and DuckDB only.
    for names, message in (
        ("content", r"Bad8.__column_names__ must be a dict of attribute names to column names, got str 'content'"),
        ({"content": "body", "metadata_": "body"}, r"maps 'content' and 'metadata_' to one column, 'body'"),
        ({"content": "ID"}, r"maps 'id' and 'content' to one column, 'ID' \(names differing only in case count as one\)"),
    ):
        with pytest.raises(ModelConfigurationError, match=message):

            class Bad8(DocumentMixin, Base):
                __tablename__ = "bad8"
                __column_names__ = names


def test_the_facade_refuses_models_it_cannot_keep_apart(tmp_path: Path) -> None:
    # A single-table subclass: loads wrote the base's identity, get_document and the counts read the subclass's,
    # queries read every row. Embeddings of another document model: rows pointing at ids of another table
    # (PostgreSQL: a foreign-key violation from the COPY).
    class Base(DeclarativeBase):
        pass

    class Doc(EmbeddedDocumentMixin, Base):
        __tablename__ = "sti_docs"
        __dimension__ = 3
        kind: Mapped[str] = mapped_column(String(10), default="doc")
        __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "doc"}

    class Special(Doc):
        __mapper_args__ = {"polymorphic_identity": "special"}

    Articles, _ = make_models(3, base=Base, document_table="articles", embedding_table="article_vectors")
    _, NoteVectors = make_models(3, document_table="notes", embedding_table="note_vectors")  # a base of its own
    engine = sv.create_engine(f"sqlite:///{tmp_path / 'models.db'}")
    try:
        Base.metadata.create_all(engine)
        with pytest.raises(ModelConfigurationError, match=r"Special is a single-table subclass of Doc \(one table, told apart by kind\)"):
            sv.VectorRAG(engine, document_model=Special)
        with pytest.raises(ModelConfigurationError, match=r"embedding_model=Embedding refers to table 'notes' \(its document_id's foreign key\), not to 'articles'"):
            sv.VectorRAG(engine, document_model=Articles, embedding_model=NoteVectors)
        sv.VectorRAG(engine, document_model=Doc)  # the base itself is fine
    finally:
        engine.dispose()


def test_column_types_come_from_the_backend(conn: Connection) -> None:
    Document, Embedding = make_models(4, document_table="typed_docs", embedding_table="typed_embs", id_type=int)
    assert isinstance(Document.__table__.c.id.type, Integer)  # code that looks for integer keys finds it
    if conn.dialect.name == "clickhousedb":
        with pytest.raises(UnsupportedDialectError, match="typed_docs.id is a database-generated integer key"):
            CreateTable(Document.__table__).compile(conn)
        Document, Embedding = make_models(4, document_table="typed_docs", embedding_table="typed_embs")
        ddl = str(CreateTable(Document.__table__).compile(conn))
        assert "`metadata` VARCHAR" in ddl  # JSON text in a String: ClickHouse's JSON type drops null values
    else:
        ddl = str(CreateTable(Document.__table__).compile(conn))
    postgresql = conn.dialect.name == "postgresql"
    if conn.dialect.name != "clickhousedb":
        assert ("metadata JSONB NOT NULL" if postgresql else "metadata JSON NOT NULL") in ddl
        assert ("id INTEGER NOT NULL" if conn.dialect.name == "sqlite" else "id BIGINT NOT NULL") in ddl
    Document.metadata.create_all(conn)
    columns = {c["name"]: c["type"] for c in inspect(conn).get_columns("typed_docs")}
    if postgresql:
        assert type(columns["metadata"]).__name__ == "JSONB"
    with session_on(conn) as session:
        doc = Document(content="x", metadata_={"k": [1, "two", None]})
        session.add(doc)
        session.flush()
        session.expire_all()
        assert session.get(Document, doc.id).metadata_ == {"k": [1, "two", None]}


def test_derived_dialect_gets_its_base_types() -> None:
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    class DerivedPG(PGDialect_psycopg):
        name = "derived_pg"

    Document, Embedding = make_models(4, id_type=int)
    ddl = str(CreateTable(Document.__table__).compile(dialect=DerivedPG()))
    assert "metadata JSONB NOT NULL" in ddl and "id BIGINT NOT NULL" in ddl
    assert isinstance(MetadataJSON().dialect_impl(DerivedPG()), type(MetadataJSON().dialect_impl(PGDialect_psycopg())))
    assert str(IntegerId().compile(dialect=DerivedPG())) == "BIGINT"


# DuckDB and integer ids: Alembic does not render the model's Sequence, and
# duckdb_engine then renders BIGSERIAL, which DuckDB rejects; such a migration
# needs the Sequence added by hand.
@pytest.mark.filterwarnings("ignore:duckdb-engine doesn't yet support reflection on indices")
@pytest.mark.parametrize(
    "database, id_type",
    [(database, id_type) for database in ("sqlite", "postgresql", "duckdb") for id_type in (str, int, uuid.UUID)]
    + [("clickhouse", str), ("clickhouse", uuid.UUID)],
    ids=lambda value: value if isinstance(value, str) else value.__name__,
)
def test_migrations_of_the_models_run_on_every_backend(
    database: str, id_type: type, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from alembic import command
    from alembic.config import Config

    import sqlalchemy_vector.alembic as sva

    Document, Embedding = make_models(4, document_table="mig_docs", embedding_table="mig_embs", id_type=id_type)
    with fresh_database(database, tmp_path, request) as url:
        sva.init(str(tmp_path / "migrations"), config_file=str(tmp_path / "alembic.ini"), url=url)
        config = Config(str(tmp_path / "alembic.ini"))
        config.attributes["configure_logger"] = False
        config.attributes["target_metadata"] = Document.metadata
        script = command.revision(config, message="models", autogenerate=True)
        source = Path(script.path).read_text()  # type: ignore[union-attr]
        # Rendered by name on every backend: no dialect module, no variant.
        assert "sa.Column('metadata', sqlalchemy_vector.orm.MetadataJSON(), nullable=False)" in source
        if id_type is int and database == "sqlite":  # the rowid
            assert "sa.Column('id', sqlalchemy_vector.orm.IntegerId(), nullable=False)" in source
        elif id_type is int:  # the model's sequence, created first; no (BIG)SERIAL
            assert "op.execute(sa.schema.CreateSequence(sa.Sequence('mig_docs_id_seq')))" in source
            assert "sa.Column('id', sqlalchemy_vector.orm.IntegerId(), autoincrement=False, nullable=False)" in source
        if id_type is uuid.UUID:
            assert "sa.Column('id', sa.Uuid(), nullable=False)" in source
        assert "postgresql" not in source and "with_variant" not in source
        # Left out where create_all leaves it out: with it DuckDB refused to delete a document and its embeddings
        # in one transaction ("still referenced").
        assert ("sa.ForeignKeyConstraint(['document_id'], ['mig_docs.id'], )" in source) is (database in ("sqlite", "postgresql"))
        command.upgrade(config, "head")
        command.check(config)
        engine = sv.create_engine(url)
        try:
            with engine.begin() as connection:
                columns = {c["name"]: c["type"] for c in inspect(connection).get_columns("mig_docs")}
                if database == "postgresql":
                    assert type(columns["metadata"]).__name__ == "JSONB"
                    if id_type is uuid.UUID:  # the native type, not its text
                        assert type(columns["id"]).__name__ == "UUID"
                with Session(bind=connection) as session:
                    doc = Document(content="migrated", metadata_={"lang": "en"})
                    session.add(doc)
                    session.flush()
                    session.add(Embedding(document_id=doc.id, model_name="m", embedding=VECTORS["a"]))
                    session.flush()
                    found = session.scalars(select(Document).where(metadata_filter(Document.metadata_, {"lang": "en"}))).one()
                    assert found.content == "migrated"
                    session.execute(delete(Embedding).where(Embedding.document_id == doc.id))
                    session.execute(delete(Document).where(Document.id == doc.id))
                    assert session.scalar(select(func.count()).select_from(Document)) == 0
        finally:
            engine.dispose()
        command.downgrade(config, "base")
