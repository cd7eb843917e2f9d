"""Citus: create_distributed_table as an Alembic operation and the facade's distributed=True (SQL, rendering, refusals; no Citus server runs here)."""

from __future__ import annotations

import io
from typing import Callable

import pytest
import sqlalchemy
from alembic.autogenerate import render_python_code
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.operations.ops import UpgradeOps
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable

import sqlalchemy_vector as sv
import sqlalchemy_vector.alembic  # noqa: F401  - registers the operations
from sqlalchemy_vector.dialects.postgresql.citus import (
    CreateDistributedTableOp,
    UndistributeTableOp,
    create_distributed_table_statement,
    distribution_statements,
)
from sqlalchemy_vector.exc import MissingExtensionError, ModelConfigurationError, UnsupportedDialectError
from sqlalchemy_vector.orm import make_models


def offline_sql(run: object) -> str:
    buffer = io.StringIO()
    context = MigrationContext.configure(
        dialect_name="postgresql", opts={"as_sql": True, "output_buffer": buffer, "literal_binds": True}
    )
    run(Operations(context))  # type: ignore[operator]
    return buffer.getvalue()


def test_statement_binds_every_value() -> None:
    statement = create_distributed_table_statement("embeddings", "document_id", colocate_with="documents")
    compiled = statement.compile(dialect=postgresql.dialect())
    assert str(compiled) == (
        "SELECT create_distributed_table(CAST(%(param_1)s AS REGCLASS), %(param_2)s, %(param_3)s, %(param_4)s) "
        "AS create_distributed_table_1"
    )
    assert list(compiled.params.values()) == ['"embeddings"', "document_id", "hash", "documents"]


def test_offline_migration_prints_the_calls() -> None:
    sql = offline_sql(
        lambda op: (
            op.create_distributed_table("documents", "id"),
            op.create_distributed_table("embeddings", "document_id", colocate_with="documents", schema="kb"),
            op.undistribute_table("embeddings", schema="kb"),
        )
    )
    assert "SELECT create_distributed_table(CAST('\"documents\"' AS REGCLASS), 'id')" in sql
    assert (
        "SELECT create_distributed_table(CAST('\"kb\".\"embeddings\"' AS REGCLASS), 'document_id', 'hash', 'documents')"
        in sql
    )
    assert "SELECT undistribute_table(CAST('\"kb\".\"embeddings\"' AS REGCLASS))" in sql


def test_a_quote_in_a_name_stays_inside_the_literal() -> None:
    sql = offline_sql(lambda op: op.create_distributed_table("odd'name", "id"))
    assert "CAST('\"odd''name\"' AS REGCLASS)" in sql


def test_rendered_and_reversed() -> None:
    create = CreateDistributedTableOp("embeddings", "document_id", colocate_with="documents")
    code = render_python_code(UpgradeOps(ops=[create, UndistributeTableOp("old", schema="kb")]))
    assert "op.create_distributed_table('embeddings', 'document_id', colocate_with='documents')" in code
    assert "op.undistribute_table('old', schema='kb')" in code
    back = create.reverse().reverse()
    assert (back.table_name, back.distribution_column, back.colocate_with) == ("embeddings", "document_id", "documents")
    with pytest.raises(sv.exc.InvalidArgumentError, match=r"undistribute_table\('old'\) cannot be reversed"):
        UndistributeTableOp("old", schema="kb").reverse()


# -- the facade's distributed=True --------------------------------------------------------------

NOT_YET = "WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = CAST('{}' AS REGCLASS))"


def test_distributed_models_key_embeddings_by_document() -> None:
    Document, Embedding = make_models(4, document_table="docs_d", embedding_table="embs_d", distributed=True)
    assert [c.name for c in Embedding.__table__.primary_key.columns] == ["id", "document_id"]
    ddl = str(CreateTable(Embedding.__table__).compile(dialect=postgresql.dialect()))
    assert "PRIMARY KEY (id, document_id)" in ddl and "FOREIGN KEY(document_id) REFERENCES docs_d (id)" in ddl
    _, plain = make_models(4, document_table="docs_p", embedding_table="embs_p")
    assert [c.name for c in plain.__table__.primary_key.columns] == ["id"]  # unchanged by default


def test_facade_statements_distribute_and_colocate_once() -> None:
    Document, Embedding = make_models(4, document_table="documents", embedding_table="embeddings", distributed=True)
    statements = distribution_statements(Document.__table__.c.id, Embedding.__table__.c.document_id)
    sql = [str(s.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})) for s in statements]
    assert sql == [
        "SELECT create_distributed_table(CAST('\"documents\"' AS REGCLASS), 'id') AS create_distributed_table_1 \n"
        + NOT_YET.format('"documents"'),
        "SELECT create_distributed_table(CAST('\"embeddings\"' AS REGCLASS), 'document_id', 'hash', 'documents') "
        "AS create_distributed_table_1 \n" + NOT_YET.format('"embeddings"'),
    ]
    bound = statements[1].compile(dialect=postgresql.dialect())
    assert list(bound.params.values()) == ['"embeddings"', "document_id", "hash", "documents", '"embeddings"']


def test_embeddings_keyed_by_id_alone_cannot_be_distributed() -> None:
    Document, Embedding = make_models(4, document_table="docs_k", embedding_table="embs_k")
    with pytest.raises(ModelConfigurationError, match=r"'embs_k' cannot be distributed by 'document_id'.*primary key is \(id\).*__distributed_by_document__ = True"):
        distribution_statements(Document.__table__.c.id, Embedding.__table__.c.document_id)


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "duckdb:///:memory:", "cockroachdb://root@localhost/db", "yugabytedb://u@localhost/db"])
def test_other_backends_refuse_distributed(url: str) -> None:
    """Refused before any connection (the two distributed SQL engines are not reached)."""
    engine = sqlalchemy.create_engine(url)
    try:
        with pytest.raises(UnsupportedDialectError, match="distributed=True"):
            sv.VectorRAG(engine, distributed=True)
    finally:
        engine.dispose()


def test_postgresql_without_citus_says_so_before_creating_tables(fresh_database_url: Callable[[str], str]) -> None:
    """The embedded PostgreSQL has no Citus: a clear error, and no table created."""
    engine = sv.create_engine(fresh_database_url("postgresql"))
    try:
        with pytest.raises(MissingExtensionError, match="distributed=True needs the Citus extension.*CREATE EXTENSION citus"):
            sv.VectorRAG(engine, distributed=True)
        assert sqlalchemy.inspect(engine).get_table_names() == []
        # The models distributed=True uses work on PostgreSQL as they are (composite key, foreign key).
        Document, Embedding = make_models(8, distributed=True)
        rag = sv.VectorRAG(engine, document_model=Document, embedding_model=Embedding, dimension=8)
        Document.metadata.create_all(engine)
        ids = rag.load_documents([{"content": "apple pie"}, {"content": "pear tart"}], show_progress=False)
        assert [hit["document_id"] for hit in rag.query("apple pie", top_k=1)] == [ids[0]]
        assert rag.delete_document(ids[0]) is True and rag.get_statistics()["embedding_count"] == 1
    finally:
        engine.dispose()
