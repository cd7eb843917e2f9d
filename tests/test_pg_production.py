"""PostgreSQL set up the way hosted services run it: pgvector in its own schema, interrupted index builds, roles that only read.

Each test makes a fresh database of the embedded server and drops it at the end.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Iterator, Tuple

import numpy as np
import pytest
import sqlalchemy
from sqlalchemy import Column, Integer, MetaData, Table, event, select
from sqlalchemy.engine import URL, Engine

import sqlalchemy_vector as sv
from sqlalchemy_vector import VectorRAG
from sqlalchemy_vector.exc import MissingExtensionError, VectorIndexError

WAYS = ("create_engine", "plugin", "attach")


def prepared(url: URL, way: str) -> Engine:
    """An engine for ``url`` prepared for vectors ``way``."""
    if way == "create_engine":
        return sv.create_engine(url)
    if way == "plugin":
        return sqlalchemy.create_engine(url.update_query_dict({"plugin": "vector"}))
    return sv.attach(sqlalchemy.create_engine(url))


def docs_table() -> Table:
    return Table("docs", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False), Column("emb", sv.Vector(3)))


@pytest.fixture
def database(fresh_database_url: Callable[[str], str], postgresql_url: str) -> Iterator[URL]:
    url = sqlalchemy.make_url(fresh_database_url("postgresql"))
    yield url
    admin = sqlalchemy.create_engine(postgresql_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {conn.dialect.identifier_preparer.quote(str(url.database))} WITH (FORCE)")
    admin.dispose()


def loaded_docs(database: URL) -> Tuple[Engine, Table]:
    """An engine on ``database`` and its ``docs`` table, created and holding 49 rows."""
    engine = sv.create_engine(database)
    table = docs_table()
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": i, "emb": [1, i, 0]} for i in range(1, 50)])
    return engine, table


def run_as_owner(url: URL, *statements: str) -> None:
    engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    engine.dispose()


@pytest.mark.parametrize("way", WAYS)
def test_extension_schema_off_the_search_path_is_named(database: URL, way: str) -> None:
    # Hosted services install pgvector in a schema of its own; its type and operators resolve through search_path.
    run_as_owner(database, "CREATE SCHEMA extensions", "CREATE EXTENSION vector SCHEMA extensions")
    engine = prepared(database, way)
    try:
        with pytest.raises(MissingExtensionError) as caught:
            docs_table().create(engine)
        message = str(caught.value)
        assert "schema 'extensions'" in message and "search_path" in message
        assert "ALTER ROLE" in message and str(database.database) in message
    finally:
        engine.dispose()

    # With the schema on the search path (as the message says), everything works.
    engine = prepared(database.update_query_dict({"options": "-csearch_path=public,extensions"}), way)
    try:
        table = docs_table()
        table.create(engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"id": 1, "emb": [1, 0, 0]}, {"id": 2, "emb": [0, 1, 0]}])
            sv.create_vector_index(conn, sv.VectorIndex("docs_emb_idx", table.c.emb, metric="cosine"))
            found = conn.execute(select(table.c.id, table.c.emb).order_by(table.c.emb.cosine([0.9, 0.1, 0])).limit(1)).one()
        assert found.id == 1 and np.array_equal(found.emb, [1, 0, 0])
    finally:
        engine.dispose()



@pytest.mark.parametrize("way", WAYS)
def test_extension_schema_put_on_the_search_path_by_a_connect_listener(database: URL, way: str) -> None:
    # An application's own listener, added after the engine was prepared, sets the path on each connection.
    run_as_owner(database, "CREATE SCHEMA extensions", "CREATE EXTENSION vector SCHEMA extensions")
    engine = prepared(database, way)

    @sqlalchemy.event.listens_for(engine, "connect")
    def set_search_path(dbapi_connection: object, connection_record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("SET search_path = public, extensions")
        cursor.close()
        dbapi_connection.commit()  # type: ignore[attr-defined]

    try:
        table = docs_table()
        table.create(engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"id": 1, "emb": [1, 0, 0]}, {"id": 2, "emb": [0, 1, 0]}])
            nearest = conn.execute(select(table.c.id).order_by(table.c.emb.cosine([0.1, 0.9, 0])).limit(1)).scalar_one()
        assert nearest == 2
    finally:
        engine.dispose()

def test_index_an_interrupted_build_left_invalid_is_not_taken_as_built(database: URL) -> None:
    engine, table = loaded_docs(database)
    # CREATE INDEX CONCURRENTLY commits the index's catalog entry first, then waits for writers: a writer
    # holding its transaction open past lock_timeout interrupts it, and PostgreSQL keeps the index INVALID.
    writer = engine.connect()
    writer.begin()
    writer.execute(table.insert(), [{"id": 100, "emb": [0, 0, 1]}])
    owner = sqlalchemy.create_engine(database, isolation_level="AUTOCOMMIT")
    try:
        with owner.connect() as conn:
            conn.exec_driver_sql("SET lock_timeout = '200ms'")
            with pytest.raises(sqlalchemy.exc.OperationalError, match="lock timeout"):
                conn.exec_driver_sql("CREATE INDEX CONCURRENTLY docs_emb_idx ON docs USING hnsw (emb vector_cosine_ops)")
            assert conn.exec_driver_sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'docs_emb_idx'::regclass").scalar() is False
        writer.rollback()

        index = sv.VectorIndex("docs_emb_idx", table.c.emb, metric="cosine")
        with engine.begin() as conn:
            # Not listed as an index the planner would use ...
            assert sv.list_vector_indexes(conn, "docs") == []
            # ... nor kept by if_not_exists as if it were built: the message names it and the fix.
            with pytest.raises(VectorIndexError, match="invalid index 'docs_emb_idx' of table 'docs'.*drop"):
                sv.create_vector_index(conn, index, if_not_exists=True)
            # Dropped by name, then built.
            sv.drop_vector_index(conn, "docs_emb_idx")
            sv.create_vector_index(conn, index)
            assert [found["name"] for found in sv.list_vector_indexes(conn, "docs")] == ["docs_emb_idx"]
            valid = conn.exec_driver_sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'docs_emb_idx'::regclass")
            assert valid.scalar() is True
    finally:
        writer.close()
        owner.dispose()
        engine.dispose()


def test_rebuild_builds_beside_the_old_index_so_reads_go_on(database: URL) -> None:
    engine, table = loaded_docs(database)
    with engine.begin() as conn:
        sv.create_vector_index(conn, sv.VectorIndex("docs_emb_idx", table.c.emb, metric="cosine", m=8))
    reader = engine.connect()
    reads = []

    def read_while_building(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # Right after the new index's CREATE INDEX, before the transaction ends: a drop first would hold the
        # table's ACCESS EXCLUSIVE lock here, and this read would wait past its lock_timeout.
        if statement.lstrip().upper().startswith("CREATE INDEX") and not reads:
            reader.exec_driver_sql("SET lock_timeout = '500ms'")
            reads.append(reader.execute(select(table.c.id).order_by(table.c.emb.cosine([1, 2, 0])).limit(3)).scalars().all())
            reader.rollback()

    rebuilding = engine.connect()
    event.listen(rebuilding, "after_cursor_execute", read_while_building)
    try:
        with rebuilding.begin():
            sv.rebuild_vector_index(rebuilding, sv.VectorIndex("docs_emb_idx", table.c.emb, metric="cosine", m=12))
        assert len(reads) == 1 and reads[0][0] == 2
        with engine.connect() as conn:
            listed = sv.list_vector_indexes(conn, "docs")
            names = conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'docs'").scalars().all()
        assert [(found["name"], found["options"]["m"]) for found in listed] == [("docs_emb_idx", 12)]
        assert sorted(names) == ["docs_emb_idx", "docs_pkey"]  # the temporary name is gone
    finally:
        rebuilding.close()
        reader.close()
        engine.dispose()


def test_a_read_only_role_searches_and_its_writes_are_refused(database: URL) -> None:
    # A search service often connects as a role that may only read: opening the facade must create nothing.
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((30, 8)).astype(np.float32)
    owner = VectorRAG(database, dimension=8)
    owner.load_documents([{"content": f"d{i}", "embedding": v, "metadata": {"n": i}} for i, v in enumerate(vectors)], show_progress=False)
    owner.create_index("ix", "cosine")
    owner.close()
    role = f"reader_{uuid.uuid4().hex[:8]}"
    run_as_owner(
        database,
        f"CREATE ROLE {role} LOGIN PASSWORD 'r'",
        f"GRANT CONNECT ON DATABASE {database.database} TO {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    )
    reader = VectorRAG(database.set(username=role, password="r"), dimension=8)
    try:
        q = rng.standard_normal(8)
        cosine = 1 - vectors @ q / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
        assert [r["content"] for r in reader.query_with_embedding(q, top_k=3)] == [f"d{i}" for i in np.argsort(cosine)[:3]]
        assert [r["content"] for r in reader.query_with_embedding(q, top_k=2, filters={"n": {"$in": [4, 7]}})] == sorted(
            ["d4", "d7"], key=lambda c: cosine[int(c[1:])]
        )
        assert reader.get_statistics()["document_count"] == 30
        assert [i["name"] for i in reader.get_statistics()["indexes"]] == ["ix"]
        with pytest.raises(sqlalchemy.exc.ProgrammingError, match="permission denied for table documents"):
            reader.load_documents([{"content": "new", "embedding": vectors[0]}], show_progress=False)
        assert reader.get_statistics()["document_count"] == 30
    finally:
        reader.close()
        run_as_owner(database, f"DROP OWNED BY {role}", f"DROP ROLE {role}")


def test_rebuild_of_an_index_named_to_the_byte_limit(database: URL) -> None:
    # The temporary name fits PostgreSQL's 63 bytes: cut there, it would be the old index's own name.
    engine, table = loaded_docs(database)
    name = "€" * 21  # 63 bytes
    index = sv.VectorIndex(name, table.c.emb, metric="l2")
    try:
        with engine.begin() as conn:
            sv.create_vector_index(conn, index)
            sv.rebuild_vector_index(conn, index)
            assert [found["name"] for found in sv.list_vector_indexes(conn, "docs")] == [name]
    finally:
        engine.dispose()


def test_rebuild_that_cannot_take_its_lock_leaves_the_old_index(database: URL) -> None:
    # The swap at the end needs the table alone for a moment: behind a long read it waits, or with lock_timeout gives up.
    engine, table = loaded_docs(database)
    declared = sv.VectorIndex("docs_emb_idx", table.c.emb, metric="cosine", m=8)
    with engine.begin() as conn:
        sv.create_vector_index(conn, declared)
        built = sv.list_vector_indexes(conn, "docs")
    long_read = engine.connect()
    long_read.execute(select(table.c.id).limit(1)).all()  # its transaction stays open, holding ACCESS SHARE
    try:
        with pytest.raises(sqlalchemy.exc.OperationalError, match="lock timeout"):
            with engine.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '300ms'")
                sv.rebuild_vector_index(conn, sv.VectorIndex("docs_emb_idx", table.c.emb, metric="cosine", m=12))
        long_read.rollback()
        with engine.connect() as conn:
            assert sv.list_vector_indexes(conn, "docs") == built  # the old index, its options unchanged
            names = conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'docs'").scalars().all()
        assert sorted(names) == ["docs_emb_idx", "docs_pkey"]  # and no index left under the temporary name
    finally:
        long_read.close()
        engine.dispose()


def test_default_models_moved_to_native_uuid_keys_by_a_migration(database: URL) -> None:
    # The default models' text keys widen each embeddings row; a migration can move a table holding UUID strings to
    # native uuid keys in place, and the facade opens the result with make_models(..., id_type=uuid.UUID).
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    engine = sv.create_engine(database)
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((40, 3)).astype(np.float32)
    before = VectorRAG(engine, dimension=3)
    ids = before.load_documents([{"content": f"d{i}", "embedding": v} for i, v in enumerate(vectors)], show_progress=False)
    before.create_index("ix", "cosine")
    query = rng.standard_normal(3).astype(np.float32)
    expected = [uuid.UUID(r["document_id"]) for r in before.query_with_embedding(query, top_k=5)]

    Document, Embedding = sv.make_models(3, id_type=uuid.UUID)

    def migrate(conn: Any) -> None:
        op = Operations(MigrationContext.configure(conn))
        (foreign_key,) = sqlalchemy.inspect(conn).get_foreign_keys("embeddings")
        assert foreign_key["name"] == "embeddings_document_id_fkey"  # the name docs/alembic.md gives
        op.drop_constraint(foreign_key["name"], "embeddings", type_="foreignkey")
        for table, column in (("documents", "id"), ("embeddings", "id"), ("embeddings", "document_id")):
            op.alter_column(table, column, type_=sqlalchemy.Uuid(), postgresql_using=f"{column}::uuid")
        op.create_foreign_key(foreign_key["name"], "embeddings", "documents", ["document_id"], ["id"])

    # An id of one's own that is not a UUID string stops the cast, and the whole migration rolls back.
    before.load_documents([{"content": "named", "embedding": vectors[0], "document_id": "readme.md"}], show_progress=False)
    with pytest.raises(sqlalchemy.exc.DataError, match="invalid input syntax for type uuid"):
        with engine.begin() as conn:
            migrate(conn)
    assert before.get_document("readme.md")["content"] == "named"  # type: ignore[index]
    assert len(sqlalchemy.inspect(engine).get_foreign_keys("embeddings")) == 1
    assert before.delete_document("readme.md")

    with engine.begin() as conn:
        migrate(conn)
        # What the migration left is what the models declare: autogenerate finds only the index the facade built,
        # which the models do not declare.
        differences = compare_metadata(MigrationContext.configure(conn), Document.metadata)
        assert [(d[0], d[1].name) for d in differences] == [("remove_index", "ix")]
        assert conn.exec_driver_sql("SELECT pg_typeof(document_id)::text FROM embeddings LIMIT 1").scalar() == "uuid"

    after = VectorRAG(engine, document_model=Document, embedding_model=Embedding)
    assert [r["document_id"] for r in after.query_with_embedding(query, top_k=5)] == expected
    assert after.get_statistics()["indexes"] == before.get_statistics()["indexes"]
    assert after.get_document(uuid.UUID(ids[0]))["content"] == "d0"  # type: ignore[index]
    (new,) = after.load_documents([{"content": "new", "embedding": vectors[0]}], show_progress=False)
    assert isinstance(new, uuid.UUID) and after.get_statistics()["document_count"] == 41
    engine.dispose()


@pytest.mark.parametrize("way", WAYS)
def test_a_database_made_again_gets_pgvector_after_dispose(database: URL, postgresql_url: str, way: str) -> None:
    # The engine learnt the extension's schema at its first connection and never looked again: after the database
    # was dropped and made again (a test fixture's pattern) and engine.dispose(), CREATE TABLE failed with
    # MissingExtensionError saying the schema was off the search_path, where pgvector was not installed at all.
    engine = prepared(database, way)
    table = docs_table()
    table.create(engine)
    engine.dispose()
    admin = sqlalchemy.create_engine(postgresql_url, isolation_level="AUTOCOMMIT")
    name = admin.dialect.identifier_preparer.quote(str(database.database))
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": 1, "emb": [1, 0, 0]}, {"id": 2, "emb": [0, 1, 0]}])
        assert conn.execute(select(table.c.id).order_by(table.c.emb.cosine([0, 1, 0])).limit(1)).scalar_one() == 2
    engine.dispose()


def test_a_document_loaded_during_a_delete_by_filter_stays_whole(database: URL) -> None:
    # delete_documents deletes the matching documents' embeddings, then the documents. A load committed between
    # the two statements made a new matching document with its embedding, which PostgreSQL's second statement
    # saw: it failed with a ForeignKeyViolation (about 1 delete in 10 while another facade loaded).
    loader, deleter = VectorRAG(str(database), dimension=8), VectorRAG(str(database), dimension=8)
    try:
        loader.load_documents([{"content": "old news", "metadata": {"src": "x"}, "document_id": "old"}], show_progress=False)
        raced: list = []

        @event.listens_for(deleter.engine, "after_cursor_execute")
        def load_in_between(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.startswith("DELETE FROM embeddings") and not raced:
                raced.append(True)
                loader.load_documents([{"content": "new news", "metadata": {"src": "x"}, "document_id": "new"}],
                                      show_progress=False)

        assert deleter.delete_documents(filters={"src": "x"}) == 1
        assert raced
        assert deleter.get_document("old") is None
        assert deleter.get_document("new") is not None  # loaded after the delete began: whole, with its embedding
        assert deleter.get_statistics()["embedding_count"] == 1
    finally:
        loader.close()
        deleter.close()


def test_pgvector_is_created_in_public_whatever_the_search_path_puts_first(database: URL, postgresql_url: str) -> None:
    # CREATE EXTENSION took the first schema of the connection's search_path: a tenant's. Another tenant's facade
    # then failed (MissingExtensionError), and DROP SCHEMA tenant_a CASCADE dropped the extension with the vector
    # column of an unrelated public table.
    run_as_owner(database, "DROP EXTENSION IF EXISTS vector CASCADE", "CREATE SCHEMA tenant_a", "CREATE SCHEMA tenant_b")
    tenant_a = database.update_query_dict({"options": "-csearch_path=tenant_a,public"})
    engine = sv.create_engine(tenant_a)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'"
            ).scalar_one() == "public"
    finally:
        engine.dispose()
    with VectorRAG(str(database.update_query_dict({"options": "-csearch_path=tenant_b,public"})), dimension=3) as rag:
        rag.load_documents([{"content": "tenant b"}], show_progress=False)
        assert rag.get_statistics()["document_count"] == 1
