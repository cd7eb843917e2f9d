"""bulk_insert on every backend: same rows as a plain insert, validation first, atomic."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Dict, List

import numpy as np
import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session

import sqlalchemy_vector as sv
from sqlalchemy_vector import bulk
from sqlalchemy_vector.bulk import bulk_insert
from sqlalchemy_vector.dialects import backend_for
from sqlalchemy_vector.exc import DimensionMismatchError, InvalidArgumentError, InvalidRowError, InvalidVectorError
from tests.conftest import WITH_CLICKHOUSE

DIM = 8
FIXED_TIME = dt.datetime(2024, 5, 17, 8, 30, 15, 123456)


@pytest.fixture(params=WITH_CLICKHOUSE)
def backend(request: pytest.FixtureRequest) -> str:
    """This module's matrix: every backend, ClickHouse included."""
    return str(request.param)


def _prefix(context: Any) -> str:
    # A default that reads the row, as SQLAlchemy documents for context-sensitive defaults.
    return "p:" + (context.get_current_parameters()["content"] or "")[:3]


def document_table(metadata: MetaData, name: str) -> Table:
    """Every kind of column a document table has, with odd names and every kind of default."""
    return Table(
        name,
        metadata,
        Column("n", Integer, primary_key=True, autoincrement=False),
        Column("body", Text, key="content"),  # key differs from the column name
        Column("Meta Data", JSON, key="meta"),  # a name that needs quoting
        Column("created_at", DateTime(timezone=True)),
        Column("naive", DateTime()),
        Column("score", Float, key="the score"),  # a key that bind names must escape
        Column("big", BigInteger),
        Column("flag", Boolean),
        Column("uid", Uuid(as_uuid=False)),
        Column("embedding", sv.Vector(DIM)),
        # absent from the rows: defaults applied
        Column("kind", String(10), default="doc"),
        Column("stamp", DateTime(), default=lambda: FIXED_TIME),
        Column("token", String(36), default=lambda: str(uuid.uuid4())),
        Column("prefix", String(10), default=_prefix),
        Column("origin", String(10), server_default=text("'server'")),
    )


def document_rows(count: int = 12, null_vectors: bool = True) -> List[Dict[str, Any]]:
    """Rows with every kind of value; ``null_vectors=False`` for backends that store no NULL vector."""
    rng = np.random.default_rng(7)
    utc = dt.timezone.utc
    rows = []
    for i in range(count):
        rows.append(
            {
                "n": i,
                "content": ["plain text", "ünïcödé ✓ 文字", "", None, "it's \"quoted\"\n\ttabbed"][i % 5],
                "meta": [
                    {"source": "a.md", "page": i, "score": 0.5, "ok": True, "tags": ["x", "y"]},
                    {"nested": {"deep": [1, 2, {"k": None}]}},
                    {},
                    None,  # JSON null, as the JSON type stores it by default
                    {"uni": "é", "big": 2**40, "neg": -1.25},
                ][i % 5],
                "created_at": None if i % 4 == 3 else dt.datetime(2024, 1, 1 + i, 12, 0, i, 1000 * i, tzinfo=utc),
                "naive": None if i % 6 == 5 else dt.datetime(2023, 12, 31, 23, 59, i, 999999 - i),
                "the score": None if i % 7 == 6 else (i - 3.5) * 1.25,
                "big": None if i % 5 == 4 else 2**40 + i,
                "flag": None if i % 3 == 2 else bool(i % 2),
                "uid": None if i % 4 == 1 else str(uuid.UUID(int=i * 7919 + 1)),
                "embedding": None if i % 5 == 2 and null_vectors else rng.standard_normal(DIM).astype(np.float32),
            }
        )
    return rows


def read_back(conn: Connection, table: Table) -> List[Dict[str, Any]]:
    return [dict(row) for row in conn.execute(select(table).order_by(table.c.n)).mappings()]


def assert_same_rows(actual: List[Dict[str, Any]], expected: List[Dict[str, Any]], skip: tuple = ()) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        assert got.keys() == want.keys()
        for key in got:
            if key in skip:
                continue
            a, b = got[key], want[key]
            if isinstance(b, np.ndarray) or isinstance(a, np.ndarray):
                assert a is not None and b is not None, (key, a, b)
                assert a.dtype == np.float32 and np.array_equal(a, b), key
            else:
                assert a == b and type(a) is type(b), (got["n"], key, a, b)


def test_bulk_matches_plain_insert(conn: Connection, backend: str) -> None:
    metadata = MetaData()
    plain = document_table(metadata, "docs_plain")
    fast = document_table(metadata, "docs_bulk")
    metadata.create_all(conn)
    null_vectors = backend_for(conn.dialect).capabilities.null_vectors
    rows = document_rows(null_vectors=null_vectors)
    conn.execute(insert(plain), rows)

    load = bulk.BulkLoad.prepare(conn, fast, rows)
    # The backend's bulk path itself (not the fallback) wrote the rows.
    assert backend_for(conn.dialect).bulk_write(conn, load) is True

    expected, actual = read_back(conn, plain), read_back(conn, fast)
    assert_same_rows(actual, expected, skip=("token",))
    for got in actual:
        assert str(uuid.UUID(got["token"])) == got["token"]
        assert got["kind"] == "doc" and got["stamp"] == FIXED_TIME and got["origin"] == "server"
        assert got["prefix"] == "p:" + (got["body"] or "")[:3]
    assert len({got["token"] for got in actual}) == len(rows)  # one call per row
    assert actual[3]["Meta Data"] is None and (actual[2]["embedding"] is None) is null_vectors
    np.testing.assert_array_equal(actual[0]["embedding"], rows[0]["embedding"])


@pytest.mark.parametrize("name", ["vecs.select", "it's a table"])
def test_names_that_need_quoting(conn: Connection, name: str) -> None:
    # ClickHouse's bulk path handed the bare name to insert_arrow, which read "vecs.select" as
    # database "vecs", table "select".
    table = Table(
        name,
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("the text", Text),
        Column("order", sv.Vector(2)),
    )
    table.create(conn)
    load = bulk.BulkLoad.prepare(conn, table, [{"id": i, "the text": f"t{i}", "order": [i, 1]} for i in range(3)])
    assert backend_for(conn.dialect).bulk_write(conn, load) is True  # the bulk path itself, not the fallback
    rows = conn.execute(select(table).order_by(table.c.id)).all()
    assert [(row[0], row[1], list(row[2])) for row in rows] == [(i, f"t{i}", [i, 1]) for i in range(3)]


def test_bulk_insert_returns_count_and_round_trips(conn: Connection) -> None:
    metadata = MetaData()
    table = document_table(metadata, "docs_public")
    metadata.create_all(conn)
    rows = document_rows(30, null_vectors=backend_for(conn.dialect).capabilities.null_vectors)
    assert bulk_insert(conn, table, rows) == 30
    assert bulk_insert(conn, table, []) == 0
    back = read_back(conn, table)
    assert [r["n"] for r in back] == list(range(30))
    assert back[7]["Meta Data"] == rows[7]["meta"] and back[7]["body"] == rows[7]["content"]


def vectors_table(metadata: MetaData, name: str = "vecs") -> Table:
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", sv.Vector(3)),
    )


@pytest.mark.parametrize(
    "values",
    [
        [[1, 2, 3], (4.5, 5.5, 6.5), np.array([7, 8, 9], dtype=np.int64)],  # mixed: row by row
        [[1.0, 2.0, 3.0], [4.5, 5.5, 6.5], [7.0, 8.0, 9.0]],  # lists: whole column at once
        list(np.arange(9, dtype=np.float64).reshape(3, 3)),
    ],
)
def test_vectors_from_any_array_like(conn: Connection, values: list) -> None:
    table = vectors_table(MetaData())
    table.create(conn)
    bulk_insert(conn, table, [{"id": i, "embedding": v} for i, v in enumerate(values)])
    back = conn.execute(select(table.c.embedding).order_by(table.c.id)).scalars().all()
    for got, want in zip(back, values):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, np.asarray(want, dtype=np.float32))


@pytest.mark.parametrize(
    "bad, error, fragment",
    [
        ([1.0, 2.0], DimensionMismatchError, "expects 3 dimensions, got 2"),
        ([1.0, float("nan"), 3.0], InvalidVectorError, "finite"),
        ([1.0, float("inf"), 3.0], InvalidVectorError, "finite"),
        ("1,2,3", InvalidVectorError, "sequence of numbers"),
        ([[1.0, 2.0, 3.0]], InvalidVectorError, "1-D"),
        # Refused by a plain insert; the whole-column path stored them, to rank in a wrong place on each backend.
        ([3e19, 3e19, 0.0], InvalidVectorError, "has a norm of 4.24e+19, outside what float32 distances handle"),
        ([1e-25, 0.0, 1e-25], InvalidVectorError, "has a norm of 1.41e-25, outside what float32 distances handle"),
    ],
)
def test_bad_vector_rejected_before_anything_is_written(conn: Connection, bad: Any, error: type, fragment: str) -> None:
    table = vectors_table(MetaData())
    table.create(conn)
    rows = [{"id": i, "embedding": [float(i), 0.0, 1.0]} for i in range(6)]
    rows[4]["embedding"] = bad
    with pytest.raises(error) as caught:
        bulk_insert(conn, table, rows)
    message = str(caught.value)
    assert "vecs.embedding" in message and "row 4" in message and fragment in message
    assert conn.execute(select(func.count()).select_from(table)).scalar() == 0


def test_null_vectors_stored_or_refused_by_name(conn: Connection) -> None:
    """NULL is stored where the backend has NULL vectors; elsewhere (ClickHouse) the error names column and row."""
    table = vectors_table(MetaData())
    table.create(conn)
    rows = [{"id": 0, "embedding": [1.0, 2.0, 3.0]}, {"id": 1, "embedding": None}]
    if backend_for(conn.dialect).capabilities.null_vectors:
        assert bulk_insert(conn, table, rows) == 2
        assert conn.execute(select(table.c.embedding).where(table.c.id == 1)).scalar_one() is None
        return
    with pytest.raises(InvalidVectorError, match=r"vecs\.embedding in row 1 is None, and ClickHouse stores no NULL vector"):
        bulk_insert(conn, table, rows)
    assert conn.execute(select(func.count()).select_from(table)).scalar() == 0


def test_inconsistent_rows_rejected(conn: Connection) -> None:
    table = vectors_table(MetaData())
    table.create(conn)
    with pytest.raises(InvalidRowError, match=r"row 1 .* missing 'embedding'"):
        bulk_insert(conn, table, [{"id": 1, "embedding": [1, 2, 3]}, {"id": 2}])
    with pytest.raises(InvalidRowError, match=r"not columns of table 'vecs': 'vector'"):
        bulk_insert(conn, table, [{"id": 1, "vector": [1, 2, 3]}])
    assert conn.execute(select(func.count()).select_from(table)).scalar() == 0


def test_sql_expression_defaults(conn: Connection, backend: str) -> None:
    # default=func.now() is SQL: rendered into the statement (SQLite, DuckDB) or
    # left to the plain insert (PostgreSQL's COPY cannot evaluate it).
    metadata = MetaData()
    table = Table(
        "stamped",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("created", DateTime(), default=func.now()),
        Column("embedding", sv.Vector(3)),
    )
    metadata.create_all(conn)
    assert bulk_insert(conn, table, [{"id": i, "embedding": [i, 1, 2]} for i in range(5)]) == 5
    stamps = conn.execute(select(table.c.created)).scalars().all()
    assert len(stamps) == 5 and all(isinstance(s, dt.datetime) for s in stamps)


def test_database_error_leaves_nothing_after_rollback(engine: Engine, backend: str) -> None:
    table = vectors_table(MetaData(), f"atomic_{uuid.uuid4().hex[:8]}")
    with engine.begin() as connection:
        table.create(connection)
    try:
        if not backend_for(engine.dialect).capabilities.transactions:
            # ClickHouse: no unique keys and no rollback; one bulk_insert is one insert, applied whole.
            rows = [{"id": i, "embedding": [i, 0, 1]} for i in range(50)] + [{"id": 7, "embedding": [0, 0, 1]}]
            with engine.connect() as connection:
                assert bulk_insert(connection, table, rows) == 51
                connection.rollback()
                assert connection.execute(select(func.count()).select_from(table)).scalar() == 51
            return
        rows = [{"id": i, "embedding": [i, 0, 1]} for i in range(50)] + [{"id": 7, "embedding": [0, 0, 1]}]
        with pytest.raises(IntegrityError if backend == "postgresql" else DBAPIError):
            with engine.begin() as connection:
                connection.execute(insert(table), [{"id": 1000, "embedding": [1, 1, 1]}])
                bulk_insert(connection, table, rows)  # duplicate key 7
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(table)).scalar() == 0
        with engine.begin() as connection:
            assert bulk_insert(connection, table, rows[:50]) == 50
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(table)).scalar() == 50
    finally:
        with engine.begin() as connection:
            table.drop(connection)


def test_bulk_insert_autobegins_like_execute(engine: Engine) -> None:
    table = vectors_table(MetaData(), f"autobegin_{uuid.uuid4().hex[:8]}")
    with engine.begin() as connection:
        table.create(connection)
    try:
        with engine.connect() as connection:
            bulk_insert(connection, table, [{"id": 1, "embedding": [1, 2, 3]}])
            assert connection.in_transaction()
            connection.rollback()
            if not backend_for(engine.dialect).capabilities.transactions:  # ClickHouse: the insert stays
                assert connection.execute(select(table.c.id)).scalars().all() == [1]
                return
            assert connection.execute(select(func.count()).select_from(table)).scalar() == 0
            bulk_insert(connection, table, [{"id": 1, "embedding": [1, 2, 3]}])
            connection.commit()
        with engine.connect() as connection:
            assert connection.execute(select(table.c.id)).scalars().all() == [1]
    finally:
        with engine.begin() as connection:
            table.drop(connection)


def test_postgresql_unknown_column_type_falls_back(postgresql_url: str) -> None:
    from sqlalchemy.dialects.postgresql import ARRAY

    engine = sv.create_engine(postgresql_url)
    try:
        with engine.connect() as connection:
            with connection.begin():
                metadata = MetaData()
                table = Table(
                    "arrays",
                    metadata,
                    Column("id", Integer, primary_key=True, autoincrement=False),
                    Column("tags", ARRAY(String)),
                    Column("embedding", sv.Vector(3)),
                )
                metadata.create_all(connection)
                rows = [{"id": 1, "tags": ["a", "b"], "embedding": [1, 2, 3]}]
                load = bulk.BulkLoad.prepare(connection, table, rows)
                assert backend_for(connection.dialect).bulk_write(connection, load) is False  # text[]: not on the COPY path
                assert bulk_insert(connection, table, rows) == 1
                row = connection.execute(select(table)).one()
                assert row.tags == ["a", "b"] and row.embedding.tolist() == [1.0, 2.0, 3.0]
                connection.rollback()
    finally:
        engine.dispose()


def test_postgresql_value_psycopg_cannot_dump_falls_back(postgresql_url: str) -> None:
    # A naive datetime for a timestamptz column: psycopg's binary COPY dumper
    # rejects it, the plain insert accepts it (server time zone); the savepoint
    # keeps the transaction usable and the plain insert writes the row.
    engine = sv.create_engine(postgresql_url)
    try:
        with engine.connect() as connection:
            with connection.begin():
                metadata = MetaData()
                table = Table(
                    "naive_tz",
                    metadata,
                    Column("id", Integer, primary_key=True, autoincrement=False),
                    Column("at", DateTime(timezone=True)),
                    Column("embedding", sv.Vector(3)),
                )
                metadata.create_all(connection)
                rows = [{"id": 1, "at": dt.datetime(2024, 1, 1, 12), "embedding": [1, 2, 3]}]
                assert bulk_insert(connection, table, rows) == 1
                plain = connection.execute(select(func.cast(dt.datetime(2024, 1, 1, 12), DateTime(timezone=True)))).scalar()
                assert connection.execute(select(table.c.at)).scalar() == plain
                connection.rollback()
    finally:
        engine.dispose()


def test_postgresql_copy_in_autocommit_mode(postgresql_url: str) -> None:
    # No transaction to hold a savepoint: the COPY is atomic on its own.
    engine = sv.create_engine(postgresql_url, isolation_level="AUTOCOMMIT")
    table = vectors_table(MetaData(), f"autocommit_{uuid.uuid4().hex[:8]}")
    try:
        with engine.connect() as connection:
            table.create(connection)
            rows = [{"id": i, "embedding": [i, 0, 1]} for i in range(20)]
            load = bulk.BulkLoad.prepare(connection, table, rows)
            assert backend_for(connection.dialect).bulk_write(connection, load) is True
            with pytest.raises(IntegrityError):
                bulk_insert(connection, table, [{"id": 100, "embedding": [1, 1, 1]}, {"id": 3, "embedding": [1, 1, 1]}])
            assert connection.execute(select(func.count()).select_from(table)).scalar() == 20
    finally:
        with engine.connect() as connection:
            table.drop(connection, checkfirst=True)
        engine.dispose()


async def test_async_engines_run_the_bulk_path(postgresql_url: str, workdir: str) -> None:
    # What an async facade does: AsyncConnection.run_sync(bulk_insert, ...).
    for url in (postgresql_url, f"sqlite+aiosqlite:///{workdir}/bulk-async.db"):
        engine = sv.create_async_engine(url)
        table = document_table(MetaData(), f"async_{uuid.uuid4().hex[:8]}")
        try:
            async with engine.connect() as connection:
                await connection.run_sync(table.create)
                rows = document_rows()

                def fast_path(sync_connection: Connection, table: Any = table, rows: Any = rows) -> bool:
                    backend = backend_for(sync_connection.dialect)
                    return backend.bulk_write(sync_connection, bulk.BulkLoad.prepare(sync_connection, table, rows))

                assert await connection.run_sync(fast_path) is True
                back = await connection.run_sync(read_back, table)
                assert [r["n"] for r in back] == list(range(len(rows)))
                assert back[0]["Meta Data"] == rows[0]["meta"] and back[1]["body"] == rows[1]["content"]
                np.testing.assert_array_equal(back[0]["embedding"], rows[0]["embedding"])
                assert await connection.run_sync(bulk_insert, table, [{**rows[0], "n": 100}]) == 1
                await connection.rollback()
        finally:
            await engine.dispose()


async def test_other_postgresql_drivers_take_the_plain_insert(postgresql_url: str) -> None:
    # asyncpg has no COPY path here: same rows through insert(table).
    engine = sv.create_async_engine(postgresql_url.replace("+psycopg", "+asyncpg", 1))
    table = vectors_table(MetaData(), f"asyncpg_{uuid.uuid4().hex[:8]}")
    try:
        async with engine.connect() as connection:
            await connection.run_sync(table.create)
            rows = [{"id": i, "embedding": [i, 0.5, -1]} for i in range(5)]
            load = await connection.run_sync(bulk.BulkLoad.prepare, table, rows)
            assert await connection.run_sync(backend_for(engine.dialect).bulk_write, load) is False
            assert await connection.run_sync(bulk_insert, table, rows) == 5
            back = (await connection.execute(select(table.c.embedding).order_by(table.c.id))).scalars().all()
            assert [v.tolist() for v in back] == [[float(i), 0.5, -1.0] for i in range(5)]
            await connection.rollback()
    finally:
        await engine.dispose()


def count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_rows_without_keys_rejected_before_anything_is_sent(conn: Connection) -> None:
    table = vectors_table(MetaData())
    table.create(conn)
    bulk_insert(conn, table, [{"id": 0, "embedding": [1, 2, 3]}])
    for rows in ([{}], [{}, {}], [{}, {"id": 1, "embedding": [1, 2, 3]}]):
        with pytest.raises(InvalidRowError) as caught:
            bulk_insert(conn, table, rows)
        message = str(caught.value)
        assert "table 'vecs'" in message and "row 0 has no keys" in message, message
        assert "id, embedding" in message and "give each row" in message, message
    assert conn.execute(select(table.c.id)).scalars().all() == [0]


def test_omitted_vector_column_stored_as_null_or_refused_by_name(conn: Connection) -> None:
    """An omitted vector column without a default is NULL: stored as a plain insert would, or refused like None."""
    metadata = MetaData()
    table = vectors_table(metadata)
    defaulted = Table(
        "vecs_defaulted",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("embedding", sv.Vector(3), default=lambda: [0.0, 0.0, 1.0]),
    )
    metadata.create_all(conn)
    rows = [{"id": 1}, {"id": 2}]
    # A vector column with a default takes it on every backend.
    assert bulk_insert(conn, defaulted, rows) == 2
    assert [v.tolist() for v in conn.execute(select(defaulted.c.embedding)).scalars()] == [[0.0, 0.0, 1.0]] * 2
    if backend_for(conn.dialect).capabilities.null_vectors:
        assert bulk_insert(conn, table, rows) == 2
        assert conn.execute(select(table.c.embedding).order_by(table.c.id)).scalars().all() == [None, None]
        return
    with pytest.raises(InvalidVectorError) as caught:
        bulk_insert(conn, table, rows)
    message = str(caught.value)
    assert "vecs.embedding" in message and "ClickHouse stores no NULL vector" in message, message
    assert "missing from the rows" in message and "'id'" in message and "give every row a vector" in message, message
    assert count(conn, table) == 0


def _error_class(call: Any) -> type:
    try:
        call()
    except Exception as err:
        return type(err)
    raise AssertionError("no error raised")


@pytest.mark.parametrize("error", ["missing table", "duplicate key"])
def test_database_errors_reach_the_caller_as_a_plain_insert_s(engine: Engine, backend: str, error: str) -> None:
    """A database error from a bulk path has the class the plain insert's has: SQLAlchemy's, not the driver's."""
    transactions = backend_for(engine.dialect).capabilities.transactions
    if error == "duplicate key" and not transactions:
        error = "missing table"  # ClickHouse has no unique keys
    table = vectors_table(MetaData(), f"errors_{uuid.uuid4().hex[:8]}")
    if error == "duplicate key":
        with engine.begin() as connection:
            table.create(connection)
            connection.execute(insert(table), [{"id": 7, "embedding": [7, 0, 1]}])
    rows = [{"id": i, "embedding": [i, 0, 1]} for i in range(10)]

    def attempt(how: str) -> None:
        with engine.begin() as connection:
            if how == "plain":
                connection.execute(insert(table), rows)
            else:
                bulk_insert(connection, table, rows)

    try:
        plain, fast = _error_class(lambda: attempt("plain")), _error_class(lambda: attempt("bulk"))
        assert issubclass(plain, DBAPIError), plain
        assert fast is plain, (fast, plain)
        if error == "duplicate key":
            assert issubclass(fast, IntegrityError)
            with engine.connect() as connection:
                assert connection.execute(select(table.c.id)).scalars().all() == [7]
    finally:
        with engine.begin() as connection:
            table.drop(connection, checkfirst=True)


def scalar_table(metadata: MetaData, name: str, fallback: bool = False) -> Table:
    columns: List[Any] = [
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("score", Float),
        Column("meta", JSON),
        Column("embedding", sv.Vector(3)),
    ]
    if fallback:
        # A default that asks for more than the row's values: only the plain insert computes it.
        columns.append(Column("compiled", Boolean, default=lambda context: context.compiled is not None))
    return Table(name, metadata, *columns)


@pytest.mark.parametrize("fallback", [False, True], ids=["bulk-path", "plain-insert-path"])
def test_value_a_json_column_cannot_store_rejected_by_name(conn: Connection, fallback: bool) -> None:
    table = scalar_table(MetaData(), "scalars", fallback)
    table.create(conn)
    rows = [{"id": i, "score": 0.5, "meta": {"a": i}, "embedding": [i, 0, 1]} for i in range(5)]
    rows[3]["meta"] = {"a": np.float32(1.5)}
    with pytest.raises(InvalidRowError) as caught:
        bulk_insert(conn, table, rows)
    message = str(caught.value)
    assert "scalars.meta in row 3" in message and "is a dict" in message and "JSON()" in message, message
    assert "float32 is not JSON serializable" in message and ".item()" in message, message
    assert count(conn, table) == 0


@pytest.mark.parametrize("backend", ["sqlite", "sqlite-python", "duckdb"])
@pytest.mark.parametrize("fallback", [False, True], ids=["bulk-path", "plain-insert-path"])
def test_value_a_float_column_cannot_convert_rejected_by_name(conn: Connection, fallback: bool) -> None:
    # Where the dialect converts Float values client-side (SQLite's, duckdb_engine's: float(value)),
    # the bulk path names the row and column; where the server reads the value (duckdb-sqlalchemy's,
    # PostgreSQL's), it raises what a plain insert of the same rows raises.
    table = scalar_table(MetaData(), "scalars", fallback)
    table.create(conn)
    rows = [{"id": i, "score": 0.5, "meta": {}, "embedding": [i, 0, 1]} for i in range(5)]
    rows[2]["score"] = "x"
    process = table.c.score.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    try:
        passed_on = process is None or process("x") == "x"
    except (TypeError, ValueError):
        passed_on = False
    if passed_on:  # the server reads 'x' and refuses it: the DataError a plain insert of these rows raises
        with pytest.raises(DataError, match="Could not convert string 'x'"):
            bulk_insert(conn, table, rows)
        return
    with pytest.raises(InvalidRowError) as caught:
        bulk_insert(conn, table, rows)
    message = str(caught.value)
    assert "scalars.score in row 2" in message and "is a str ('x')" in message and "Float()" in message, message
    assert "could not convert string to float" in message and "give a float" in message, message
    assert count(conn, table) == 0


@pytest.mark.parametrize("backend", ["clickhouse"])
@pytest.mark.parametrize("value", ["x", "1.5", b"1"])
def test_a_string_for_a_number_refused_on_clickhouse(conn: Connection, value: Any) -> None:
    # clickhouse-connect would store it as NULL (or 0) without an error, by the plain insert too.
    table = scalar_table(MetaData(), "scalars")
    table.create(conn)
    rows = [{"id": i, "score": 0.5, "meta": {}, "embedding": [i, 0, 1]} for i in range(5)]
    rows[4]["score"] = value
    with pytest.raises(InvalidRowError, match=r"scalars.score in row 4 is a (str|bytes) .* ClickHouse would store as NULL"):
        bulk_insert(conn, table, rows)
    assert count(conn, table) == 0


@pytest.mark.parametrize("backend", ["postgresql", "clickhouse"])
@pytest.mark.parametrize("kind, value, message", [
    (Integer, 2**32 + 5, r"in row 1 is 4294967301, outside the column's 32-bit integer range \(-2147483648 to 2147483647\)"),
    (Integer, np.int64(-(2**31) - 1), r"in row 1 is -2147483649, outside the column's 32-bit integer range \(-2147483648 to 2147483647\)"),
    (SmallInteger, 40000, r"in row 1 is 40000, outside the column's 16-bit integer range \(-32768 to 32767\)"),
])
def test_an_integer_beyond_its_column_is_refused_not_wrapped(conn: Connection, kind: Any, value: Any, message: str) -> None:
    # PostgreSQL's binary COPY and ClickHouse's Arrow insert packed it to the column's width: 4294967301 was stored
    # as 5 and 40000 as -25536, where a plain insert refuses it.
    table = Table(
        "ints", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False), Column("n", kind),
        Column("embedding", sv.Vector(2)),
    )
    table.create(conn)
    rows = [{"id": 0, "n": 7, "embedding": [1, 0]}, {"id": 1, "n": value, "embedding": [0, 1]}]
    with pytest.raises(InvalidRowError, match=r"ints.n " + message + r"; give a value in that range, or widen the column"):
        bulk_insert(conn, table, rows)
    assert count(conn, table) == 0
    bulk_insert(conn, table, [{"id": 2, "n": -7, "embedding": [1, 1]}])  # within the range: stored as given
    assert conn.execute(select(table.c.n)).scalars().all() == [-7]


@pytest.mark.parametrize("backend", ["clickhouse"])
def test_a_value_of_a_text_column_that_is_not_text_is_named_on_clickhouse(conn: Connection) -> None:
    # clickhouse-connect raised AttributeError: 'int' object has no attribute 'encode' (a plain insert too).
    table = Table(
        "texts", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False), Column("s", Text()),
        Column("embedding", sv.Vector(2)),
    )
    table.create(conn)
    rows = [{"id": 0, "s": "a", "embedding": [1, 0]}, {"id": 1, "s": 5, "embedding": [0, 1]}]
    with pytest.raises(InvalidRowError, match=r"texts.s in row 1 is int 5 for a Text\(\) column, which ClickHouse's driver cannot send; give a str"):
        bulk_insert(conn, table, rows)
    assert count(conn, table) == 0


@pytest.mark.parametrize("backend", ["clickhouse"])
def test_rows_without_their_key_are_refused_on_clickhouse(conn: Connection) -> None:
    # A plain insert refused them; bulk_insert stored every row under id '' (or 0 for an integer key).
    for key_type, stored in ((String(20), "''"), (Integer(), "0")):
        table = Table(
            f"keyless_{stored == '0'}", MetaData(), Column("id", key_type, primary_key=True, autoincrement=False),
            Column("embedding", sv.Vector(2)),
        )
        table.create(conn)
        with pytest.raises(sv.exc.UnsupportedDialectError, match=rf"gives no value for its primary key {table.name}.id \(columns given: embedding\).*stored with id = {stored}"):
            bulk_insert(conn, table, [{"embedding": [1, 0]}, {"embedding": [0, 1]}])
        assert count(conn, table) == 0


def test_rows_given_as_one_mapping_rejected(conn: Connection) -> None:
    table = vectors_table(MetaData())
    table.create(conn)
    one_row: Any = {"id": 1, "embedding": [1, 2, 3]}
    with pytest.raises(InvalidRowError) as caught:
        bulk_insert(conn, table, one_row)
    message = str(caught.value)
    assert "table 'vecs'" in message and "got one mapping (a dict)" in message and "wrap it in a list" in message, message
    for rows in (None, 5):
        with pytest.raises(InvalidRowError, match=r"rows for table 'vecs' must be an iterable of mappings, got (NoneType|int)"):
            bulk_insert(conn, table, rows)  # type: ignore[arg-type]
    assert count(conn, table) == 0


def test_rows_from_any_iterable(conn: Connection) -> None:
    table = vectors_table(MetaData())
    table.create(conn)
    assert bulk_insert(conn, table, ({"id": i, "embedding": [i, 1, 2]} for i in range(3))) == 3
    assert bulk_insert(conn, table, tuple({"id": i, "embedding": [i, 1, 2]} for i in range(3, 5))) == 2
    assert bulk_insert(conn, table, iter([])) == 0
    back = conn.execute(select(table.c.id, table.c.embedding).order_by(table.c.id)).all()
    assert [(i, v.tolist()) for i, v in back] == [(i, [float(i), 1.0, 2.0]) for i in range(5)]


def test_a_session_writes_in_its_transaction(engine: Engine) -> None:
    """An ORM Session is taken as its connection: the rows are in the session's transaction, committed with it."""
    table = vectors_table(MetaData(), f"session_{uuid.uuid4().hex[:8]}")
    with engine.begin() as connection:
        table.create(connection)
    try:
        with Session(engine) as session:
            assert bulk_insert(session, table, [{"id": 1, "embedding": [1, 2, 3]}]) == 1
            assert session.execute(select(table.c.id)).scalars().all() == [1]  # the same transaction sees it
            session.commit()
        with engine.connect() as connection:
            back = connection.execute(select(table.c.id, table.c.embedding)).all()
        assert [(i, v.tolist()) for i, v in back] == [(1, [1.0, 2.0, 3.0])]
    finally:
        with engine.begin() as connection:
            table.drop(connection)


def test_wrong_connection_or_table_refused_by_name(conn: Connection, engine: Engine) -> None:
    """An Engine, a table in the connection's place or a mapped class as the table: InvalidArgumentError with the fix."""
    table = vectors_table(MetaData())
    table.create(conn)
    rows = [{"id": 1, "embedding": [1, 2, 3]}]
    with pytest.raises(InvalidArgumentError, match=r"first argument must be a Connection or a Session, got Engine .*"
                       r"with engine\.begin\(\) as conn: bulk_insert\(conn, table, rows\)"):
        bulk_insert(engine, table, rows)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"table must be a Table, got Connection .*bulk_insert\(conn, Doc\.__table__"):
        bulk_insert(table, conn, rows)  # type: ignore[arg-type]

    class Base(DeclarativeBase):
        pass

    class Vec(Base):
        __table__ = table

    with pytest.raises(InvalidArgumentError, match=r"got the class Vec; .*bulk_insert\(conn, Vec\.__table__, rows\)"):
        bulk_insert(conn, Vec, rows)  # type: ignore[arg-type]
    assert count(conn, table) == 0


def test_driver_calls_of_bulk_paths_raise_what_execute_raises(engine: Engine, backend: str) -> None:
    """A bulk path's own driver call (Arrow registration, native insert) fails with execute()'s exception class."""
    from sqlalchemy_vector.bulk import driver_call

    statement = "SELECT * FROM no_such_table_for_bulk"
    with engine.connect() as connection:
        expected = _error_class(lambda: connection.exec_driver_sql(statement))
    with engine.connect() as connection:
        raw: Any = connection.connection.driver_connection
        call = (lambda: raw.client.command(statement)) if backend == "clickhouse" else (lambda: raw.execute(statement))
        got = _error_class(lambda: driver_call(connection, statement, call))
        assert not connection.invalidated
    assert issubclass(expected, DBAPIError) and got is expected, (got, expected)
