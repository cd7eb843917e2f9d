"""Compact kinds and quantized indexes in Alembic: models -> autogenerate -> upgrade -> nothing left to generate."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, Integer, MetaData, Table

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import SchemaMismatchError, UnsupportedKindError
from sqlalchemy_vector.index import VectorIndex, list_vector_indexes
from sqlalchemy_vector.kinds import BitVector, HalfVector, Int8Vector, SparseVector

from index_helpers import fresh_database
from test_alembic import Project, body

TYPES = {"half": HalfVector, "int8": Int8Vector, "bit": BitVector, "sparse": SparseVector}

#: Each kind on the backends that store it natively (bit on PostgreSQL, SQLite and DuckDB).
CASES = [("postgresql", "half"), ("postgresql", "sparse"), ("postgresql", "bit"), ("sqlite", "int8"),
         ("sqlite", "bit"), ("duckdb", "bit")]


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path, request) as url:
        yield url


def kind_models(kind: str, dim: int = 8) -> MetaData:
    metadata = MetaData()
    Table(
        "items",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("code", TYPES[kind](dim)),
    )
    return metadata


def reflected_type(url: str, table: str, column: str) -> Any:
    engine = sv.create_engine(url)
    try:
        with engine.connect() as connection:
            sv.alembic.enable_vector_reflection(connection.dialect)
            return next(col["type"] for col in sa.inspect(connection).get_columns(table) if col["name"] == column)
    finally:
        engine.dispose()


@pytest.mark.filterwarnings("ignore:duckdb-engine doesn't yet support reflection on indices")
@pytest.mark.parametrize(
    ("database", "kind"), CASES, indirect=["database"], ids=[f"{backend}-{kind}" for backend, kind in CASES]
)
def test_kind_column_autogenerates_once(database: str, kind: str, tmp_path: Path) -> None:
    project = Project(tmp_path, database)
    source = project.autogenerate(kind_models(kind), "kind column")
    rendered = f"sqlalchemy_vector.{TYPES[kind].__name__}(8)"
    assert rendered in source, source
    assert "import sqlalchemy_vector" in source
    project.upgrade()
    project.assert_no_changes(kind_models(kind))
    # A new dimension is a dimension change of the kind, as for Vector: the values reset to NULL
    # (DuckDB's BIT keeps no length: nothing to compare there).
    if not database.startswith("duckdb"):
        changed = project.autogenerate(kind_models(kind, dim=9), "wider")
        upgrade = "\n".join(body(changed, "upgrade"))
        assert "op.alter_vector_dimension(" in upgrade and f"kind='{kind}'" in upgrade, changed
        assert "alter_column" not in upgrade, changed
        project.last_path.unlink()


@pytest.mark.filterwarnings("ignore:duckdb-engine doesn't yet support reflection on indices")
@pytest.mark.parametrize("database", ["sqlite", "duckdb", "clickhouse"], indirect=True)
def test_a_kind_the_database_cannot_store_is_refused_by_autogenerate(database: str, tmp_path: Path) -> None:
    # On ClickHouse a Vector(4) column declared HalfVector(4) (or HalfVector(8)) gave "No new upgrade
    # operations detected": the model and the database differed and `alembic check` passed.
    project = Project(tmp_path, database)
    metadata = MetaData()
    Table("items", metadata, Column("id", Integer, primary_key=True, autoincrement=False), Column("code", sv.Vector(4)))
    project.autogenerate(metadata, "vectors")
    project.upgrade()
    for dim in (4, 8):
        with pytest.raises(UnsupportedKindError, match=rf"items.code \(HalfVector\({dim}\)\): \w+ cannot store half vectors"):
            project.autogenerate(kind_models("half", dim), "half")


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_kind_change_postgresql_cannot_cast_is_refused_with_the_migration_to_write(database: str, tmp_path: Path) -> None:
    # Rendered as a bare alter_column, it failed at upgrade with psycopg's DatatypeMismatch ("column cannot be
    # cast automatically to type bit"), even on an empty table.
    project = Project(tmp_path, database)
    project.autogenerate(kind_models("half", 8), "half")
    project.upgrade()
    engine = sv.create_engine(database)
    try:
        with engine.begin() as connection:
            connection.execute(kind_models("half", 8).tables["items"].insert(), [{"id": 1, "code": [1, -2, 3, 0, 5, -6, 7, 8]}])
    finally:
        engine.dispose()
    with pytest.raises(SchemaMismatchError, match=r"items.code: PostgreSQL has no cast from halfvec to bit, .*BitVector\(8\).*postgresql_using='binary_quantize\(code\)::bit\(8\)'"):
        project.autogenerate(kind_models("bit", 8), "bits")
    # The migration the message gives, run as written.
    engine = sv.create_engine(database)
    try:
        with engine.begin() as connection:
            op = Operations(MigrationContext.configure(connection))
            op.alter_column("items", "code", type_=BitVector(8), postgresql_using="binary_quantize(code)::bit(8)")
            stored = connection.execute(sa.select(kind_models("bit", 8).tables["items"].c.code)).scalar_one()
            assert stored.tolist() == [True, False, True, False, True, False, True, True]
    finally:
        engine.dispose()
    with pytest.raises(SchemaMismatchError, match=r"items.code: PostgreSQL has no cast from bit to vector, .*drop the column and add it again"):
        metadata = MetaData()
        Table("items", metadata, Column("id", Integer, primary_key=True, autoincrement=False), Column("code", sv.Vector(8)))
        project.autogenerate(metadata, "back")


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_postgresql_reflects_pgvector_kinds_but_not_bit(database: str) -> None:
    engine = sv.create_engine(database)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE k (h halfvec(4), s sparsevec(6), b bit(8))")
    finally:
        engine.dispose()
    assert repr(reflected_type(database, "k", "h")) == "HalfVector(4)"
    assert repr(reflected_type(database, "k", "s")) == "SparseVector(6)"
    # bit(n) is also PostgreSQL's ordinary bit string: reflection leaves it a BIT.
    found = reflected_type(database, "k", "b")
    assert isinstance(found, sa.dialects.postgresql.BIT) and found.length == 8


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_sqlite_reflects_its_kind_types(database: str) -> None:
    engine = sv.create_engine(database)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE k (i INT8_BLOB(4), b BIT_BLOB(12))")
    finally:
        engine.dispose()
    assert repr(reflected_type(database, "k", "i")) == "Int8Vector(4)"
    assert repr(reflected_type(database, "k", "b")) == "BitVector(12)"


def quantized_models(quantization: str) -> MetaData:
    metadata = MetaData()
    Table(
        "docs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", sv.Vector(16)),
        VectorIndex("ix_docs_q", "embedding", metric="cosine", quantization=quantization),
    )
    return metadata


QUANTIZED = [("postgresql", "half"), ("postgresql", "binary"), ("sqlite", "binary")]


@pytest.mark.parametrize(
    ("database", "quantization"), QUANTIZED, indirect=["database"], ids=[f"{b}-{q}" for b, q in QUANTIZED]
)
def test_quantized_index_autogenerates_once(database: str, quantization: str, tmp_path: Path) -> None:
    project = Project(tmp_path, database)
    source = project.autogenerate(quantized_models(quantization), "quantized index")
    assert f"quantization={quantization!r}" in source, source
    project.upgrade()
    engine = sv.create_engine(database)
    try:
        with engine.connect() as connection:
            (found,) = list_vector_indexes(connection, "docs")
    finally:
        engine.dispose()
    # A binary index serves Hamming over the bits whatever metric re-ranks: the catalog keeps no metric for it.
    metric = "cosine" if quantization == "half" else None
    assert (found["column"], found["metric"], found["quantization"]) == ("embedding", metric, quantization)
    project.assert_no_changes(quantized_models(quantization))
    # Dropping the index from the models drops it, and the downgrade builds the quantized index again.
    bare = quantized_models(quantization)
    bare.tables["docs"].indexes.clear()
    dropped = project.autogenerate(bare, "drop index")
    assert body(dropped, "upgrade")[-1] == "op.drop_vector_index('ix_docs_q', table_name='docs')", dropped
    assert f"quantization={quantization!r}" in "\n".join(body(dropped, "downgrade")), dropped
    project.upgrade()
    project.downgrade("-1")
    project.last_path.unlink()
    project.assert_no_changes(quantized_models(quantization))


#: A vector index on each pgvector compact kind: (kind, metric, the operator class it must get).
INDEXED = [("half", "cosine", "halfvec_cosine_ops"), ("bit", "hamming", "bit_hamming_ops"),
           ("sparse", "l2", "sparsevec_l2_ops")]


def indexed_kind_models(kind: str, metric: str) -> MetaData:
    metadata = MetaData()
    Table(
        "items",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("code", TYPES[kind](16)),
        VectorIndex("ix_items_code", "code", metric=metric),
    )
    return metadata


@pytest.mark.parametrize(("kind", "metric", "opclass"), INDEXED, ids=[kind for kind, _, _ in INDEXED])
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_compact_column_index_autogenerates_once(
    database: str, kind: str, metric: str, opclass: str, tmp_path: Path
) -> None:
    project = Project(tmp_path, database)
    source = project.autogenerate(indexed_kind_models(kind, metric), "indexed kind column")
    assert f"kind={kind!r}" in source, source
    project.upgrade()
    engine = sv.create_engine(database)
    try:
        with engine.begin() as connection:
            definition = connection.execute(
                sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_items_code'")
            ).scalar_one()
            assert opclass in definition, definition
            (found,) = list_vector_indexes(connection, "items")
            assert (found["column"], found["metric"], found["quantization"]) == ("code", metric, None)
            table = indexed_kind_models(kind, metric).tables["items"]
            rng = np.random.default_rng(3)
            rows = [rng.random(16) > 0.5 if kind == "bit" else rng.random(16).astype(np.float32) for _ in range(50)]
            connection.execute(table.insert(), [{"id": i, "code": row} for i, row in enumerate(rows)])
            distance = getattr(table.c.code, metric)(rows[7])
            statement = sa.select(table.c.id).order_by(distance).limit(3)
            connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
            compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
            plan = "\n".join(r[0] for r in connection.execute(sa.text(f"EXPLAIN {compiled}")))
            assert "ix_items_code" in plan, plan
            assert connection.execute(statement).scalars().first() == 7
    finally:
        engine.dispose()
    project.assert_no_changes(indexed_kind_models(kind, metric))
    # Dropping it from the models drops it; the downgrade builds it again with its operator class.
    bare = indexed_kind_models(kind, metric)
    bare.tables["items"].indexes.clear()
    dropped = project.autogenerate(bare, "drop index")
    assert f"kind={kind!r}" in "\n".join(body(dropped, "downgrade")), dropped
    project.upgrade()
    project.downgrade("-1")
    project.last_path.unlink()
    project.assert_no_changes(indexed_kind_models(kind, metric))
