"""Metadata filters on every backend: each operator, each JSON type, bound keys and values."""

from __future__ import annotations

from typing import Any, Dict, List, Set

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from sqlalchemy_vector.exc import InvalidFilterError
from sqlalchemy_vector.filters import OPERATORS, json_value, metadata_filter
from sqlalchemy_vector.orm import MetadataJSON
from tests.conftest import WITH_CLICKHOUSE

ROWS: Dict[int, Dict[str, Any]] = {
    1: {"n": 1, "s": "1", "b": True, "x": None, "tags": ["a"], "name": "Alpha"},
    2: {"n": 2.5, "s": "abc", "b": False, "name": "alpha"},
    3: {"n": "2", "s": "ABC", "b": 1, "name": "beta_1"},
    4: {"n": True, "s": "a%c", "name": "beta*1"},
    5: {},
    6: {"n": -3, "s": "zeta", "b": None, "name": "gamma"},
    7: {"n": 1.0, "s": "", "name": "é-accent"},
}

# filter -> ids it must match; numbers, strings and booleans never match each other.
CASES: List[tuple[Dict[str, Any], List[int]]] = [
    ({"n": 1}, [1, 7]),
    ({"n": 1.0}, [1, 7]),
    ({"n": "1"}, []),
    ({"s": "1"}, [1]),
    ({"s": 1}, []),
    ({"n": True}, [4]),
    ({"b": True}, [1]),
    ({"b": False}, [2]),
    ({"b": 1}, [3]),
    ({"b": None}, [6]),
    ({"x": None}, [1]),
    ({"n": {"$eq": 2.5}}, [2]),
    ({"n": {"$ne": 1}}, [2, 3, 4, 5, 6]),
    ({"b": {"$ne": True}}, [2, 3, 4, 5, 6, 7]),
    ({"n": {"$gt": 1}}, [2]),
    ({"n": {"$gte": 1}}, [1, 2, 7]),
    ({"n": {"$lt": 1}}, [6]),
    ({"n": {"$lte": 1}}, [1, 6, 7]),
    ({"n": {"$gte": -3, "$lt": 2}}, [1, 6, 7]),
    ({"n": {"$gt": "1"}}, [3]),
    ({"s": {"$gt": "a"}}, [2, 4, 6]),
    ({"s": {"$lt": "a"}}, [1, 3, 7]),
    ({"s": {"$lte": ""}}, [7]),
    ({"n": {"$in": [1, "2", True]}}, [1, 3, 4, 7]),
    ({"n": {"$in": [2.5]}}, [2]),
    ({"n": {"$in": []}}, []),
    ({"b": {"$in": [None, False]}}, [2, 6]),
    ({"n": {"$nin": [1, 2.5]}}, [3, 4, 5, 6]),
    ({"n": {"$nin": []}}, [1, 2, 3, 4, 5, 6, 7]),
    ({"x": {"$exists": True}}, [1]),
    ({"b": {"$exists": True}}, [1, 2, 3, 6]),
    ({"n": {"$exists": False}}, [5]),
    ({"tags": {"$exists": True}}, [1]),
    ({"name": {"$like": "alpha"}}, [2]),
    ({"name": {"$like": "%lpha"}}, [1, 2]),
    ({"name": {"$like": "beta_1"}}, [3, 4]),
    ({"name": {"$like": "beta\\_1"}}, [3]),
    ({"name": {"$like": "beta*1"}}, [4]),
    ({"name": {"$like": "beta\\*1"}}, [4]),
    ({"s": {"$like": "a\\%c"}}, [4]),
    ({"s": {"$like": "a%c"}}, [2, 4]),
    ({"name": {"$like": "_-accent"}}, [7]),
    ({"n": {"$like": "%"}}, [3]),
    ({"$and": [{"n": {"$gte": 1}}, {"s": {"$like": "%"}}]}, [1, 2, 7]),
    ({"$or": [{"n": 1}, {"s": "ABC"}]}, [1, 3, 7]),
    ({"$or": [{"n": {"$gt": 100}}, {"b": {"$exists": False}}]}, [4, 5, 7]),
    ({"$not": {"n": 1}}, [2, 3, 4, 5, 6]),
    ({"$not": {"$or": [{"n": 1}, {"b": False}]}}, [3, 4, 5, 6]),
    ({"n": {"$not": {"$gt": 1}}}, [1, 3, 4, 5, 6, 7]),
    ({"n": {"$gte": 1}, "name": {"$like": "%a"}}, [1, 2]),
    ({}, [1, 2, 3, 4, 5, 6, 7]),
]


def operators_used(node: Any) -> Set[str]:
    """The ``$`` operators a filter (or a list or tuple of filters) uses, at any depth."""
    if isinstance(node, dict):
        return {key for key in node if key.startswith("$")}.union(*map(operators_used, node.values()))
    if isinstance(node, (list, tuple)):
        return set().union(*map(operators_used, node))
    return set()


def test_every_operator_has_a_case() -> None:
    assert operators_used([spec for spec, _ in CASES]) == set(OPERATORS)


@pytest.fixture(params=WITH_CLICKHOUSE)
def backend(request: pytest.FixtureRequest) -> str:
    """This module's matrix: the four backends and ClickHouse."""
    return str(request.param)


@pytest.fixture
def docs(conn: Connection) -> Table:
    table = Table(
        "filter_docs",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("label", String(20)),
        Column("meta", MetadataJSON),
    )
    table.create(conn)
    conn.execute(insert(table), [{"id": i, "label": f"row{i}", "meta": meta} for i, meta in ROWS.items()])
    return table


def ids(conn: Connection, table: Table, condition: Any) -> List[int]:
    return list(conn.execute(select(table.c.id).where(condition).order_by(table.c.id)).scalars())


@pytest.mark.parametrize("spec, expected", CASES, ids=[repr(c[0]) for c in CASES])
def test_filter_matches_by_type(conn: Connection, docs: Table, spec: Dict[str, Any], expected: List[int]) -> None:
    assert ids(conn, docs, metadata_filter(docs.c.meta, spec)) == expected


def test_reused_statement_shapes_get_their_own_values(conn: Connection, docs: Table) -> None:
    # Same statement shape, different keys and values: the compiled-statement
    # cache must not reuse the first key or value.
    assert ids(conn, docs, metadata_filter(docs.c.meta, {"n": 1})) == [1, 7]
    assert ids(conn, docs, metadata_filter(docs.c.meta, {"n": 2.5})) == [2]
    assert ids(conn, docs, metadata_filter(docs.c.meta, {"s": "abc"})) == [2]
    assert ids(conn, docs, metadata_filter(docs.c.meta, {"name": {"$like": "g%"}})) == [6]
    assert ids(conn, docs, metadata_filter(docs.c.meta, {"name": {"$like": "A%"}})) == [1]


def test_keys_that_need_escaping(conn: Connection, docs: Table) -> None:
    keys = ["with.dot", "with/slash", "tilde~0", "space key", "é", "a.$n", "[0]", "back\\slash", "it's"]
    conn.execute(insert(docs), [{"id": 100 + i, "meta": {key: i}} for i, key in enumerate(keys)])
    for i, key in enumerate(keys):
        assert ids(conn, docs, metadata_filter(docs.c.meta, {key: i})) == [100 + i], key
        assert ids(conn, docs, metadata_filter(docs.c.meta, {key: {"$exists": True}})) == [100 + i], key


def test_double_quote_in_key(conn: Connection, docs: Table) -> None:
    conn.execute(insert(docs).values(id=200, meta={'say "hi"': 1}))
    condition = metadata_filter(docs.c.meta, {'say "hi"': 1})
    if conn.dialect.name == "sqlite" and conn.dialect.server_version_info < (3, 45):
        with pytest.raises(InvalidFilterError, match="cannot address in a JSON path"):
            ids(conn, docs, condition)
    else:
        assert ids(conn, docs, condition) == [200]


def test_keys_and_values_are_bound_not_pasted(conn: Connection, docs: Table) -> None:
    hostile_key = "n') OR 1=1 --"
    hostile_value = "x' OR '1'='1"
    condition = metadata_filter(docs.c.meta, {hostile_key: hostile_value, "s": {"$like": "%' OR 1=1 --"}})
    sql = str(select(docs.c.id).where(condition).compile(conn))
    assert "OR 1=1" not in sql and "'1'='1" not in sql
    assert ids(conn, docs, condition) == []
    assert ids(conn, docs, metadata_filter(docs.c.meta, {hostile_key: {"$exists": False}})) == sorted(ROWS)


def test_keys_inside_objects(conn: Connection, docs: Table) -> None:
    odd = ["with/slash", "tilde~0", "with.dot", "0", "it's", "é"]
    rows = [
        {"id": 300, "meta": {"o": {"p": 2, "q": "x", "in": {"deep": True}}}},
        {"id": 301, "meta": {"o": {"p": 1}}},
        {"id": 302, "meta": {"o": [2, {"p": 2}]}},  # an array has no members, "0" included
        {"id": 303, "meta": {"o": "p"}},
        {"id": 304, "meta": {"o": {f"n{i}": {k: i} for i, k in enumerate(odd)} | {k: i for i, k in enumerate(odd)}}},
    ]
    conn.execute(insert(docs), rows)
    assert ids(conn, docs, metadata_filter(docs.c.meta, {"o": {"p": 2}})) == [300]
    assert ids(conn, docs, metadata_filter(docs.c.meta, {"o": {"p": {"$gte": 1}, "q": {"$exists": False}}})) == [301]
    assert ids(conn, docs, metadata_filter(docs.c.meta, {"o": {"in": {"deep": True}}})) == [300]
    assert ids(conn, docs, metadata_filter(docs.c.meta, {"o": {"0": {"$exists": True}}})) == [304]
    for i, key in enumerate(odd):
        assert ids(conn, docs, metadata_filter(docs.c.meta, {"o": {key: i}})) == [304], key
        assert ids(conn, docs, metadata_filter(docs.c.meta, {"o": {f"n{i}": {key: {"$in": [i, -1]}}}})) == [304], key
    # json_value takes the path as a list; statements of one shape keep their own keys
    assert ids(conn, docs, json_value(docs.c.meta, ["o", "p"], "number") > 1) == [300]
    assert ids(conn, docs, json_value(docs.c.meta, ("o", "q"), "string") == "x") == [300]
    assert ids(conn, docs, json_value(docs.c.meta, ["o", "in", "deep"], "boolean")) == [300]
    assert ids(conn, docs, ~json_value(docs.c.meta, ["o", "p"], "present")) == [1, 2, 3, 4, 5, 6, 7, 302, 303, 304]
    hostile = "p') OR 1=1 --"
    condition = metadata_filter(docs.c.meta, {"o": {hostile: {"$exists": False}}})
    assert "OR 1=1" not in str(select(docs.c.id).where(condition).compile(conn))
    assert len(ids(conn, docs, condition)) == len(ROWS) + len(rows)


def test_json_value_refuses_what_is_not_a_key_or_a_path_of_keys() -> None:
    table = Table("t", MetaData(), Column("meta", MetadataJSON))
    for key in ([], ["o", 1], 5, None):
        with pytest.raises(InvalidFilterError, match=r"metadata keys are strings \(or, for a key inside nested objects"):
            json_value(table.c.meta, key, "number")  # type: ignore[arg-type]


def test_a_backend_that_reads_top_level_keys_only_says_so() -> None:
    # A backend of another package that renders JSONValue.json_key and implements json_key_path only.
    from sqlalchemy_vector.dialects.base import Backend
    from sqlalchemy_vector.dialects.sqlite import SQLiteBackend

    class TopLevelOnly(SQLiteBackend):
        json_nested_path = Backend.json_nested_path

    with pytest.raises(InvalidFilterError, match=r"on sqlite read top-level keys only, got the key 'o' > 'p' inside nested"):
        TopLevelOnly().json_nested_path(("o", "p"), sqlite.dialect())


def test_sqlalchemy_expression_passes_through(conn: Connection, docs: Table) -> None:
    clause = docs.c.label.in_(["row2", "row3"])
    assert metadata_filter(docs.c.meta, clause) is clause
    assert ids(conn, docs, metadata_filter(docs.c.meta, clause)) == [2, 3]
    # json_value composes with ordinary SQLAlchemy expressions
    combined = (json_value(docs.c.meta, "n", "number") > 0) & (docs.c.label != "row1")
    assert ids(conn, docs, combined) == [2, 7]


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"$nor": [{"a": 1}]}, "unknown operator '\\$nor'"),
        ({"n": {"$regex": "a"}}, "unknown operator '\\$regex'"),
        ({"n": {"$gt": True}}, "compares numbers or strings, got the boolean"),
        ({"n": {"$gt": None}}, "expects a number or a string"),
        ({"n": {"$in": "abc"}}, "expects a list of values"),
        ({"n": {"$exists": 1}}, "expects True or False"),
        ({"n": {"$like": 5}}, "expects a string pattern"),
        ({"n": {"$like": "abc\\"}}, "unpaired escape"),
        ({"n": {"$gt": 1, "m": 2}}, "mixes operators and plain keys"),
        ({"n": [1, 2]}, "scalar JSON values"),
        ({"n": {"$eq": float("nan")}}, "finite number"),
        ({"n": "a\x00b"}, "NUL character \\(U\\+0000\\) at position 1"),
        ({"n": {"$nin": ["a", "b", "a\x00b"]}}, "\\$nin got a string with a NUL character"),
        ({"$or": []}, "non-empty list"),
        ({"$and": [1]}, "must be a filter dict"),
        ({"$not": [{"a": 1}]}, "expects a filter dict"),
        ({"n": {"$not": 3}}, "dict of operators"),
    ],
)
def test_malformed_filters_raise_early(spec: Dict[str, Any], message: str) -> None:
    table = Table("t", MetaData(), Column("meta", MetadataJSON))
    with pytest.raises(InvalidFilterError, match=message):
        metadata_filter(table.c.meta, spec)


def test_filters_nest_at_most_16_levels(conn: Connection, docs: Table) -> None:
    # 28 nested $not overflowed SQLite 3.40's parser ("parser stack overflow", a raw OperationalError)
    # and 63 overflowed Python's stack while the statement compiled (a bare RecursionError).
    def negated(times: int, spec: Dict[str, Any]) -> Dict[str, Any]:
        for _ in range(times):
            spec = {"$not": spec}
        return spec

    # 14 $not, the key's dict and its operators' dict: 16 levels.
    assert ids(conn, docs, metadata_filter(docs.c.meta, negated(14, {"n": {"$gt": 0}}))) == [1, 2, 7]
    assert ids(conn, docs, metadata_filter(docs.c.meta, negated(13, {"n": {"$gt": 0}}))) == [3, 4, 5, 6]
    nested_or: Dict[str, Any] = {"n": 2.5}
    for _ in range(7):
        nested_or = {"$or": [nested_or, {"s": "zeta"}]}
    assert ids(conn, docs, metadata_filter(docs.c.meta, nested_or)) == [2, 6]
    for spec in (negated(15, {"n": {"$gt": 0}}), negated(30, {"n": 1}), negated(100, {"n": 1}),
                 negated(100_000, {"n": 1}), {"$or": [nested_or, {"s": "zeta"}]}):
        with pytest.raises(InvalidFilterError, match="filters nest dicts and lists more than 16 levels deep"):
            metadata_filter(docs.c.meta, spec)


def test_not_a_filter() -> None:
    table = Table("t", MetaData(), Column("meta", MetadataJSON))
    with pytest.raises(InvalidFilterError, match="dict of metadata conditions"):
        metadata_filter(table.c.meta, "kind = 'x'")  # type: ignore[arg-type]


def test_compiled_forms() -> None:
    table = Table("t", MetaData(), Column("meta", MetadataJSON))
    condition = metadata_filter(table.c.meta, {"year": {"$gte": 2020}, "name": {"$like": "a%"}})
    pg = str(select(table).where(condition).compile(dialect=postgresql.psycopg2.dialect()))
    assert "jsonb_typeof(CAST(t.meta AS JSONB) -> CAST(%(param_1)s AS TEXT)) = 'number'" in pg
    assert "LIKE %(param_4)s ESCAPE '\\'" in pg and "2020" not in pg and "year" not in pg
    lite = str(select(table).where(condition).compile(dialect=sqlite.dialect()))
    assert "json_type(t.meta, ?) IN ('integer', 'real')" in lite and "GLOB ?" in lite
    literal = str(
        select(table).where(condition).compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    )
    assert "'$.\"year\"'" in literal and "GLOB 'a*'" in literal
    nested = metadata_filter(table.c.meta, {"source": {"page": {"$gte": 3}}})
    pg = str(select(table).where(nested).compile(dialect=postgresql.psycopg2.dialect()))
    # -> with text keys (never #>, whose digits would index arrays)
    assert "CAST(t.meta AS JSONB) -> CAST(%(param_1)s AS TEXT) -> CAST(%(param_2)s AS TEXT)) = 'number'" in pg
    literal = str(
        select(table).where(nested).compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    )
    assert "'$.\"source\".\"page\"'" in literal


MANY_NUMBERS = [*range(3, 10_002), 1]  # 10,000 values; 1 matches rows 1 and 7
MANY_STRINGS = [*(f"v{i}" for i in range(9_999)), "abc"]  # 10,000 values; "abc" matches row 2
MANY_MIXED = [*range(3, 5_002), 1, *(f"v{i}" for i in range(4_998)), "2", None]  # 10,000 of three kinds


@pytest.mark.parametrize(
    "key, values, matched",
    [("n", MANY_NUMBERS, [1, 7]), ("s", MANY_STRINGS, [2]), ("n", MANY_MIXED, [1, 3, 7])],
    ids=["numbers", "strings", "mixed"],
)
def test_in_and_nin_with_ten_thousand_values(
    conn: Connection, docs: Table, key: str, values: List[Any], matched: List[int]
) -> None:
    assert len(values) == 10_000
    # One list parameter per JSON kind (an expanding IN, PostgreSQL's = ANY(array), SQLite's json_each
    # of a JSON array): no OR (or comparison) per value, which SQLite rejects past a depth of 1,000.
    kinds = len({type(v) for v in values})
    sql = str(select(docs.c.id).where(metadata_filter(docs.c.meta, {key: {"$in": values}})).compile(conn))
    listed = {"postgresql": " = ANY(", "sqlite": " IN (SELECT value FROM json_each("}.get(
        conn.dialect.name, "IN (__[POSTCOMPILE_"
    )
    assert sql.count(listed) == kinds - (None in values)
    assert sql.count(" OR ") == kinds - 1
    assert ids(conn, docs, metadata_filter(docs.c.meta, {key: {"$in": values}})) == matched
    unmatched = [i for i in sorted(ROWS) if i not in matched]
    assert ids(conn, docs, metadata_filter(docs.c.meta, {key: {"$nin": values}})) == unmatched


@pytest.mark.parametrize("op", ["$gt", "$eq", "$in"])
def test_integer_beyond_double_range(op: str) -> None:
    table = Table("t", MetaData(), Column("meta", MetadataJSON))
    huge = 10**400
    with pytest.raises(InvalidFilterError, match=r"on key 'n': \$\w+ got 1000000000.*beyond the range of double"):
        metadata_filter(table.c.meta, {"n": {op: [1, huge] if op == "$in" else huge}})


def test_derived_dialect_compiles_like_its_base() -> None:
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    class DerivedPG(PGDialect_psycopg):
        name = "derived_pg"

    table = Table("t", MetaData(), Column("meta", MetadataJSON))
    condition = metadata_filter(table.c.meta, {"year": {"$gte": 2020}, "name": {"$like": "a%"}})
    derived = str(select(table).where(condition).compile(dialect=DerivedPG()))
    assert derived == str(select(table).where(condition).compile(dialect=PGDialect_psycopg()))
    assert "jsonb_typeof(" in derived and "LIKE" in derived


def test_dialect_without_a_backend() -> None:
    from sqlalchemy.dialects import mysql

    from sqlalchemy_vector.exc import UnsupportedDialectError

    table = Table("t", MetaData(), Column("meta", MetadataJSON))
    condition = metadata_filter(table.c.meta, {"year": 2020})
    with pytest.raises(UnsupportedDialectError, match="'mysql' dialect has no metadata filters"):
        str(select(table).where(condition).compile(dialect=mysql.dialect()))
