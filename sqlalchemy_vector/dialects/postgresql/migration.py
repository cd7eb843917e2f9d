"""What Alembic migrations of vector columns need on PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from sqlalchemy import text
from sqlalchemy.engine import Connection

from ...kinds import vector_column_type

if TYPE_CHECKING:
    from alembic.operations import Operations

CREATE_EXTENSION = ("CREATE EXTENSION IF NOT EXISTS vector",)
DROP_EXTENSION = ("DROP EXTENSION IF EXISTS vector",)


def alter_vector_dimension(
    operations: "Operations",
    table_name: str,
    column_name: str,
    dim: int,
    existing_dim: int,
    schema: Optional[str],
    kind: Optional[str] = None,
) -> None:
    # Vectors cannot be cast to another dimension: USING NULL resets them.
    operations.alter_column(
        table_name,
        column_name,
        type_=vector_column_type(kind, dim),
        existing_type=vector_column_type(kind, existing_dim),
        postgresql_using="NULL",
        schema=schema,
    )


def database_has_vectors(connection: Connection) -> bool:
    return bool(
        connection.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                "JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind = 'r' AND (t.typname IN ('vector', 'halfvec', "
                "'sparsevec') OR (t.typname = 'bit' AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector'))))"
            )
        ).scalar()
    )


def extension_installed_apart(connection: Connection) -> bool:
    """pgvector installed in a schema other than the one ``CREATE EXTENSION vector`` would use (the current one).

    ``CREATE EXTENSION vector SCHEMA extensions``, as Supabase has it: the
    migrations' ``DROP EXTENSION`` would remove it from there, and their next
    ``CREATE EXTENSION`` build it again in the current schema.
    """
    return bool(
        connection.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                "WHERE e.extname = 'vector' AND n.nspname IS DISTINCT FROM current_schema())"
            )
        ).scalar()
    )


#: pgvector's type of each kind, as a cast names it.
_PG_TYPES = {"float32": "vector", "half": "halfvec", "sparse": "sparsevec", "bit": "bit"}
#: The Python type a model declares for each kind.
_DECLARED = {"float32": "Vector", "half": "HalfVector", "sparse": "SparseVector", "bit": "BitVector"}


def kind_change_refusal(table_name: str, column_name: str, kind: str, existing_kind: str, dim: int) -> Optional[str]:
    """Why ``ALTER COLUMN ... TYPE`` cannot turn ``existing_kind`` into ``kind`` (pgvector has casts between
    vector, halfvec and sparsevec, none to or from bit), with the migration to write instead; None if it can."""
    if kind == existing_kind or "bit" not in (kind, existing_kind):
        return None
    column = f"{table_name}.{column_name}"
    alter = f"op.alter_column({table_name!r}, {column_name!r}, type_=sqlalchemy_vector.BitVector({dim}), "
    if kind == "bit" and existing_kind in ("float32", "half"):
        fix = (
            f"write the conversion in the migration: {alter}postgresql_using='binary_quantize({column_name})::bit({dim})') "
            "keeps the sign of each element (1 where it is positive), or drop the column and add it again"
        )
    else:
        fix = "drop the column and add it again, then store new vectors in it"
    return (
        f"{column}: PostgreSQL has no cast from {_PG_TYPES.get(existing_kind, existing_kind)} to "
        f"{_PG_TYPES.get(kind, kind)}, so the ALTER COLUMN autogenerate writes for {_DECLARED.get(kind, kind)}({dim}) "
        f"would fail; {fix}"
    )
