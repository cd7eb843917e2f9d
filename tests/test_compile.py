"""DB-free compile tests: every distance function on every dialect, DDL, literals, caching."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, literal, select
from sqlalchemy.exc import CompileError
from sqlalchemy.dialects import mssql, mysql, postgresql, registry, sqlite
from sqlalchemy.schema import CreateTable

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import UnsupportedDialectError, UnsupportedMetricError

DIALECTS = {
    "postgresql": postgresql.psycopg.dialect(),
    "sqlite": sqlite.dialect(),
    # Whichever DuckDB dialect is installed (duckdb-sqlalchemy or duckdb_engine) under its registered name.
    "duckdb": registry.load("duckdb")(),
}

table = Table("docs", MetaData(), Column("id", Integer, primary_key=True), Column("embedding", sv.Vector(3)))
other = table.alias("o")
Q = [1.0, 2.0, 3.0]

# The exact SQL each (dialect, metric) compiles to, with a bound query vector.
EXPECTED = {
    ("postgresql", "cosine"): "(docs.embedding <=> CAST(%(param_1)s AS VECTOR(3)))",
    ("postgresql", "l2"): "(docs.embedding <-> CAST(%(param_1)s AS VECTOR(3)))",
    ("postgresql", "max_inner_product"): "(docs.embedding <#> CAST(%(param_1)s AS VECTOR(3)))",
    ("postgresql", "inner_product"): "((docs.embedding <#> CAST(%(param_1)s AS VECTOR(3))) * -1)",
    ("postgresql", "l1"): "(docs.embedding <+> CAST(%(param_1)s AS VECTOR(3)))",
    ("duckdb", "cosine"): "array_cosine_distance(docs.embedding, CAST(%(param_1)s AS FLOAT[3]))",
    ("duckdb", "l2"): "array_distance(docs.embedding, CAST(%(param_1)s AS FLOAT[3]))",
    ("duckdb", "max_inner_product"): "array_negative_inner_product(docs.embedding, CAST(%(param_1)s AS FLOAT[3]))",
    ("duckdb", "inner_product"): "array_inner_product(docs.embedding, CAST(%(param_1)s AS FLOAT[3]))",
    ("duckdb", "l1"): (
        "list_sum(list_transform(list_zip(CAST(docs.embedding AS FLOAT[]), "
        "CAST(CAST(%(param_1)s AS FLOAT[3]) AS FLOAT[])), lambda pair: abs(pair[1] - pair[2])))"
    ),
    ("sqlite", "cosine"): (
        "(CASE WHEN docs.embedding IS NULL THEN NULL ELSE coalesce(vec_distance_cosine(docs.embedding, ?), 2.0) END)"
    ),
    ("sqlite", "l2"): "(CASE WHEN docs.embedding IS NULL THEN NULL ELSE vec_distance_l2(docs.embedding, ?) END)",
    ("sqlite", "l1"): "(CASE WHEN docs.embedding IS NULL THEN NULL ELSE vec_distance_l1(docs.embedding, ?) END)",
    ("sqlite", "inner_product"): (
        "(CASE WHEN docs.embedding IS NULL THEN NULL ELSE coalesce(coalesce(1.0 - vec_distance_cosine(docs.embedding, ?), 0.0)"
        " * vec_distance_l2(docs.embedding, zeroblob(12)) * vec_distance_l2(?, zeroblob(12)), 0.0) END)"
    ),
    ("sqlite", "max_inner_product"): (
        "(CASE WHEN docs.embedding IS NULL THEN NULL ELSE coalesce(coalesce(vec_distance_cosine(docs.embedding, ?) - 1.0, 0.0)"
        " * vec_distance_l2(docs.embedding, zeroblob(12)) * vec_distance_l2(?, zeroblob(12)), 0.0) END)"
    ),
}


def compile_sql(stmt, dialect_name: str, **kw) -> str:
    return str(stmt.compile(dialect=DIALECTS[dialect_name], **kw)).replace("\n", " ")


@pytest.mark.parametrize("dialect_name,metric", sorted(EXPECTED))
def test_every_function_on_every_dialect(dialect_name: str, metric: str) -> None:
    expr = sv.distance(metric, table.c.embedding, Q)
    assert compile_sql(expr, dialect_name) == EXPECTED[dialect_name, metric]


@pytest.mark.parametrize("dialect_name", sorted(DIALECTS))
def test_index_eligible_order_by(dialect_name: str) -> None:
    # The shapes pgvector's and DuckDB's HNSW indexes match: ORDER BY <distance>(col, const) LIMIT k, ascending.
    for method, metric in (("cosine", "cosine"), ("l2", "l2"), ("max_inner_product", "max_inner_product")):
        stmt = select(table.c.id).order_by(getattr(table.c.embedding, method)(Q)).limit(5)
        sql = compile_sql(stmt, dialect_name)
        assert sql.split(" ORDER BY ")[1].split(" LIMIT ")[0].strip() == EXPECTED[dialect_name, metric]
        assert " DESC" not in sql


@pytest.mark.parametrize("dialect_name", sorted(DIALECTS))
def test_column_against_column(dialect_name: str) -> None:
    sql = compile_sql(table.c.embedding.l2(other.c.embedding), dialect_name)
    assert "o.embedding" in sql and "docs.embedding" in sql and "param" not in sql and "?" not in sql
    if dialect_name == "sqlite":
        assert sql.startswith("(CASE WHEN docs.embedding IS NULL OR o.embedding IS NULL THEN NULL")


@pytest.mark.parametrize(
    "dialect_name,expected",
    [
        ("postgresql", "(docs.embedding <=> CAST('[1.0,2.0,3.0]' AS VECTOR(3))) < 0.5"),
        ("duckdb", "array_cosine_distance(docs.embedding, CAST('[1.0,2.0,3.0]' AS FLOAT[3])) < 0.5"),
        (
            "sqlite",
            "(CASE WHEN docs.embedding IS NULL THEN NULL ELSE "
            "coalesce(vec_distance_cosine(docs.embedding, X'0000803f0000004000004040'), 2.0) END) < 0.5",
        ),
    ],
)
def test_literal_binds(dialect_name: str, expected: str) -> None:
    stmt = select(table.c.id).where(table.c.embedding.cosine(Q) < 0.5)
    sql = compile_sql(stmt, dialect_name, compile_kwargs={"literal_binds": True})
    assert sql.endswith("WHERE " + expected)


def test_literal_binds_round_trip_every_float32_digit() -> None:
    value = np.array([0.1, -1e-30, 1.2345679e18], dtype=np.float32)  # a norm float32 distances handle
    sql = compile_sql(select(literal(value, sv.Vector(3))), "postgresql", compile_kwargs={"literal_binds": True})
    text = sql.split("'")[1]
    np.testing.assert_array_equal(np.array(text[1:-1].split(","), dtype=np.float32), value)


@pytest.mark.parametrize(
    "dialect_name,ddl",
    [("postgresql", "embedding VECTOR(3)"), ("sqlite", "embedding F32_BLOB(3)"), ("duckdb", "embedding FLOAT[3]")],
)
def test_create_table(dialect_name: str, ddl: str) -> None:
    assert ddl in compile_sql(CreateTable(table), dialect_name)


@pytest.mark.parametrize("dialect_name", sorted(DIALECTS))
def test_cache_key_ignores_query_values(dialect_name: str) -> None:
    first = select(table.c.id).order_by(table.c.embedding.cosine([1.0, 0.0, 0.0])).limit(3)
    second = select(table.c.id).order_by(table.c.embedding.cosine([0.0, 1.0, 0.0])).limit(3)
    key1, key2 = first._generate_cache_key(), second._generate_cache_key()
    assert key1 == key2
    # The cached compiled form serves both: only the extracted parameters differ.
    dialect = DIALECTS[dialect_name]
    compiled = dialect.statement_compiler(dialect, first, cache_key=key1)
    params1 = compiled.construct_params(extracted_parameters=key1.bindparams)
    params2 = compiled.construct_params(extracted_parameters=key2.bindparams)
    vectors1 = [v for v in params1.values() if isinstance(v, np.ndarray)]
    vectors2 = [v for v in params2.values() if isinstance(v, np.ndarray)]
    np.testing.assert_array_equal(vectors1[0], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(vectors2[0], [0.0, 1.0, 0.0])
    # Different dimensions or metrics are different statements.
    assert select(table.c.id).order_by(table.c.embedding.l2([1.0, 0.0, 0.0])).limit(3)._generate_cache_key() != key1
    assert sv.Vector(3)._static_cache_key != sv.Vector(4)._static_cache_key


@pytest.mark.parametrize("dialect", [mysql.dialect(), mssql.dialect()], ids=["mysql", "mssql"])
def test_unsupported_dialect(dialect) -> None:
    with pytest.raises(UnsupportedDialectError, match=rf"cosine_distance\(\) cannot be compiled for the '{dialect.name}' dialect; sqlalchemy_vector supports clickhousedb, cockroachdb, duckdb, postgresql, sqlite, yugabytedb"):
        table.c.embedding.cosine(Q).compile(dialect=dialect)
    # SQLAlchemy re-raises DDL errors with the table and column named; ours is the cause.
    with pytest.raises(CompileError, match=f"column 'embedding'.*the '{dialect.name}' dialect has no vector support") as info:
        CreateTable(table).compile(dialect=dialect)
    assert isinstance(info.value.__cause__, UnsupportedDialectError)


def test_unknown_metric() -> None:
    with pytest.raises(UnsupportedMetricError, match="unknown vector metric 'dot'; expected one of cosine, l2"):
        sv.distance("dot", table.c.embedding, Q)


def test_vector_requires_positive_dimension() -> None:
    for bad in (0, -3, 2.5, "3", True):
        with pytest.raises(sv.exc.InvalidVectorError, match="positive integer"):
            sv.Vector(bad)  # type: ignore[arg-type]


def test_subclass_keeps_behaviour() -> None:
    class Embedding384(sv.Vector):
        cache_ok = True

    t = Table("t", MetaData(), Column("e", Embedding384(4)))
    assert "(t.e <-> CAST(%(param_1)s AS VECTOR(4)))" == compile_sql(t.c.e.l2([1, 2, 3, 4]), "postgresql")
    assert repr(t.c.e.type) == "Embedding384(4)"


def test_import_registers_nothing_global() -> None:
    from sqlalchemy import func
    from sqlalchemy.sql.functions import _registry

    assert "cosine_distance" not in _registry["_default"]
    assert "l2_distance" not in _registry["_default"]
    # func.l2_distance stays a plain SQL function for other code
    assert str(func.l2_distance(1, 2).compile(dialect=DIALECTS["sqlite"])) == "l2_distance(?, ?)"


def test_statements_print_without_a_database() -> None:
    # print(select(table)) raised UnsupportedDialectError: the vector column's type asked the 'default'
    # dialect (what str() compiles with) for a backend. The README promises a readable rendering.
    kinds = Table(
        "kinds", MetaData(), Column("id", Integer, primary_key=True), Column("h", sv.HalfVector(3)),
        Column("b", sv.BitVector(8)), Column("s", sv.SparseVector(5)),
    )
    assert str(select(table).order_by(table.c.embedding.cosine(Q)).limit(2)) == (
        "SELECT docs.id, docs.embedding \nFROM docs ORDER BY cosine_distance(docs.embedding, :param_1)\n LIMIT :param_2"
    )
    assert str(table.insert().values(id=1, embedding=Q)) == "INSERT INTO docs (id, embedding) VALUES (:id, :embedding)"
    assert str(select(kinds)) == "SELECT kinds.id, kinds.h, kinds.b, kinds.s \nFROM kinds"
    # With literal binds too (it raised CompileError: could not render the array as a BLOB).
    literal = select(table.c.id).where(table.c.embedding.l2([1, 2, 3]) < 1).compile(compile_kwargs={"literal_binds": True})
    assert str(literal) == "SELECT docs.id \nFROM docs \nWHERE l2_distance(docs.embedding, '[1.0,2.0,3.0]') < 1"
    shown = select(kinds.c.id).order_by(kinds.c.h.cosine([1, 2, 3]), kinds.c.s.l2({0: 1.0}))
    assert str(shown.compile(compile_kwargs={"literal_binds": True})).endswith(
        "ORDER BY cosine_distance(kinds.h, '[1.0, 2.0, 3.0]'), l2_distance(kinds.s, '{0: 1.0}')"
    )
    # A dialect without vectors still refuses, by name.
    with pytest.raises(CompileError, match="the 'mysql' dialect has no vector support"):
        select(table).compile(dialect=mysql.dialect())
