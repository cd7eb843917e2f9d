"""Citus's create_distributed_table as an Alembic operation: SQL and rendering (no Citus server runs here)."""

from __future__ import annotations

import io

from alembic.autogenerate import render_python_code
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.operations.ops import UpgradeOps
from sqlalchemy.dialects import postgresql

import sqlalchemy_vector.alembic  # noqa: F401  - registers the operations
from sqlalchemy_vector.dialects.postgresql.citus import (
    CreateDistributedTableOp,
    UndistributeTableOp,
    create_distributed_table_statement,
)


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
