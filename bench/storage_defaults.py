"""How prepared engines store vectors, against each database's own default, measured side by side.

Three storage settings of engines made by ``sqlalchemy_vector``, each timed
against the database's default in one run.  Every part loads the same N x 384
float32 vectors (a seeded Gaussian mixture) with ``VectorRAG.load_documents``
and interleaves its variants per query (the order alternating), printing
medians:

- ``sqlite``: new files with 16 kB pages (``dialects/sqlite/storage.py``)
  against SQLite's 4 kB: the facade's exact top 5, its vec0 top 5 once the
  index is built, ``update_document`` of one document's metadata, load and
  build times and the file's size.
- ``duckdb``: vectors stored without ALPRD (``dialects/duckdb/storage.py``)
  against DuckDB's default, two files checkpointed after the load: the
  facade's exact top 5 and the same top 5 in SQL on the embeddings table, the
  compression of the float segments and the blocks in use.
- ``clickhouse`` (chDB): vector columns declared ``CODEC(NONE)``
  (``dialects/clickhouse/ddl.py``) against the server's codec, a copy of the
  embeddings table declared without the codec, both merged into one part
  (``OPTIMIZE ... FINAL``, what background merges do in time): an exact top 5
  in SQL on each, the facade's on the first, codecs and stored size.
- ``postgresql`` (embedded server): vector columns created ``STORAGE MAIN``
  (``dialects/postgresql/storage.py``) against pgvector's ``EXTERNAL``, N / 2
  x 768 vectors (past about 500 dimensions a row passes 2 kB, where
  ``EXTERNAL`` moves vectors to the TOAST table) in two pairs of the facade's
  tables: the facade's exact top 5, table and TOAST sizes.

Run: ``.venv/bin/python bench/storage_defaults.py [--rows 100000] [--queries 21] [--backends sqlite,duckdb,clickhouse,postgresql]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

import numpy as np  # noqa: E402
from sqlalchemy import event  # noqa: E402

import sqlalchemy_vector as sv  # noqa: E402

Variants = Dict[str, Callable[[Any], Any]]


def interleaved(variants: Variants, queries: np.ndarray) -> Dict[str, float]:
    """Median ms of each variant over ``queries`` after three warm-up queries, the order alternating."""
    times: Dict[str, List[float]] = {key: [] for key in variants}
    for n, q in enumerate(queries):
        for key in list(variants) if n % 2 else list(reversed(list(variants))):
            start = time.perf_counter()
            variants[key](q)
            if n >= 3:
                times[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) * 1000 for key, values in times.items()}


def load(rag: sv.VectorRAG, data: np.ndarray) -> List[Any]:
    return rag.load_documents([{"content": f"document {i}", "embedding": v} for i, v in enumerate(data)], show_progress=False)


def facade(rag: sv.VectorRAG) -> Callable[[Any], Any]:
    return lambda q: rag.query_with_embedding(q, top_k=5)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[str]], text_columns: int = 1) -> None:
    """A markdown table: the first ``text_columns`` columns left-aligned, the figures after them right-aligned."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" if i < text_columns else "---:" for i in range(len(headers))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def prepared_engine(url: str, restore_default: Optional[str] = None) -> Any:
    """An engine from ``sv.create_engine``; ``restore_default`` is a statement each connection runs after the
    library's own set-up, to put back the database's default the comparison is against."""
    engine = sv.create_engine(url)
    if restore_default is not None:

        def restore(dbapi_connection: Any, record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(restore_default)
            cursor.close()

        event.listen(engine, "connect", restore)
    return engine


# -- SQLite: page size -----------------------------------------------------------------------------


def sqlite_pages(tmp: str, data: np.ndarray, queries: np.ndarray) -> None:
    stores: Dict[str, Dict[str, Any]] = {}
    for name in ("16 kB (prepared engines)", "4 kB (SQLite's default)"):
        path = f"{tmp}/pages{len(stores)}.db"
        engine = prepared_engine(f"sqlite:///{path}", "PRAGMA page_size = 4096" if name.startswith("4 kB") else None)
        rag = sv.VectorRAG(engine, dimension=data.shape[1])
        start = time.perf_counter()
        ids = load(rag, data)
        loaded = time.perf_counter() - start
        with engine.connect() as conn:
            page = conn.exec_driver_sql("PRAGMA page_size").scalar()
        stores[name] = {"rag": rag, "path": path, "ids": ids, "load": loaded, "page": page}
    exact = interleaved({name: facade(s["rag"]) for name, s in stores.items()}, queries)
    for s in stores.values():
        start = time.perf_counter()
        s["rag"].create_index("ix", "cosine")
        s["build"] = time.perf_counter() - start
        s["size"] = os.path.getsize(s["path"]) / 2**20
    indexed = interleaved({name: facade(s["rag"]) for name, s in stores.items()}, queries)
    counter = iter(range(10**9))

    def update(s: Dict[str, Any]) -> Callable[[Any], Any]:
        return lambda q: s["rag"].update_document(s["ids"][next(counter) % len(s["ids"])], metadata={"u": 1})

    updates = interleaved({name: update(s) for name, s in stores.items()}, queries)
    for s in stores.values():
        s["rag"].close()
    headers = ["SQLite pages", "page size", "load s", "exact top 5 ms", "vec0 build s", "indexed top 5 ms"]
    print_table(
        headers + ["update_document ms", "file MB"],
        (
            [name, str(s["page"]), f"{s['load']:.1f}", f"{exact[name]:.2f}", f"{s['build']:.1f}"]
            + [f"{indexed[name]:.2f}", f"{updates[name]:.2f}", f"{s['size']:.0f}"]
            for name, s in stores.items()
        ),
    )
    large, small = list(stores)
    print(f"\n4 kB / 16 kB: exact {exact[small] / exact[large]:.2f}, indexed {indexed[small] / indexed[large]:.2f}\n")


# -- DuckDB: ALPRD -------------------------------------------------------------------------------------


def duckdb_alprd(tmp: str, data: np.ndarray, queries: np.ndarray) -> None:
    import duckdb

    dim = data.shape[1]
    stores: Dict[str, Dict[str, Any]] = {}
    for name in ("plain (prepared engines)", "ALPRD (DuckDB's default)"):
        path = f"{tmp}/alprd{len(stores)}.duckdb"
        default = "SET disabled_compression_methods = ''" if name.startswith("ALPRD") else None
        engine = prepared_engine(f"duckdb:///{path}", default)
        rag = sv.VectorRAG(engine, dimension=dim)
        start = time.perf_counter()
        load(rag, data)
        with engine.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")
            methods = sorted(
                conn.exec_driver_sql(
                    "SELECT DISTINCT compression FROM pragma_storage_info('embeddings') WHERE segment_type = 'FLOAT'"
                ).scalars()
            )
            used = conn.exec_driver_sql("SELECT used_blocks * block_size FROM pragma_database_size()").scalar()
        stores[name] = {"rag": rag, "engine": engine, "methods": methods, "used": used, "load": time.perf_counter() - start}

    def scan(engine: Any) -> Callable[[Any], Any]:
        sql = f"SELECT document_id FROM embeddings ORDER BY array_cosine_distance(embedding, CAST(? AS FLOAT[{dim}])) LIMIT 5"

        def run(q: Any) -> Any:
            with engine.connect() as conn:
                return conn.exec_driver_sql(sql, (q.tolist(),)).all()

        return run

    variants: Variants = {}
    for name, s in stores.items():
        variants["facade " + name] = facade(s["rag"])
        variants["scan " + name] = scan(s["engine"])
    median = interleaved(variants, queries)
    for s in stores.values():
        s["rag"].close()
        s["engine"].dispose()
    print_table(
        [f"DuckDB {duckdb.__version__} floats", "float segments", "blocks in use MB", "load s", "facade ms", "SQL top 5 ms"],
        (
            [name, ", ".join(s["methods"]), f"{s['used'] / 2**20:.0f}", f"{s['load']:.1f}"]
            + [f"{median['facade ' + name]:.2f}", f"{median['scan ' + name]:.2f}"]
            for name, s in stores.items()
        ),
        text_columns=2,
    )
    plain, alprd = list(stores)
    print(
        f"\nALPRD / plain: facade {median['facade ' + alprd] / median['facade ' + plain]:.2f}, "
        f"SQL {median['scan ' + alprd] / median['scan ' + plain]:.2f}\n"
    )


# -- ClickHouse: the vector column's codec ------------------------------------------------------------


def clickhouse_codec(tmp: str, data: np.ndarray, queries: np.ndarray) -> None:
    rag = sv.VectorRAG(f"clickhousedb://?interface=chdb&path={tmp}/chdb", dimension=data.shape[1])
    load(rag, data)
    engine = rag.engine
    tables = ("embeddings", "embeddings_server_codec")
    with engine.connect() as conn:
        ddl = str(conn.exec_driver_sql("SHOW CREATE TABLE embeddings").scalar())
        conn.exec_driver_sql(ddl.replace("default.embeddings", "default.embeddings_server_codec", 1).replace(" CODEC(NONE)", ""))
        conn.exec_driver_sql("INSERT INTO embeddings_server_codec SELECT * FROM embeddings")
        stored = {}
        for table in tables:
            conn.exec_driver_sql(f"OPTIMIZE TABLE {table} FINAL")
            stored[table] = conn.exec_driver_sql(
                "SELECT any(p.default_compression_codec), any(c.compression_codec), sum(pc.column_data_compressed_bytes) "
                "FROM system.parts AS p "
                "JOIN system.parts_columns AS pc ON pc.table = p.table AND pc.name = p.name AND pc.active "
                "JOIN system.columns AS c ON c.table = p.table AND c.name = pc.column "
                f"WHERE p.active AND p.table = '{table}' AND pc.column = 'embedding' "
                "AND p.database = currentDatabase() AND c.database = currentDatabase()"
            ).one()

    def scan(table: str) -> Callable[[Any], Any]:
        sql = f"SELECT document_id, cosineDistance(embedding, CAST(%(q)s AS Array(Float32))) AS d FROM {table} ORDER BY d LIMIT 5"

        def run(q: Any) -> Any:
            with engine.connect() as conn:
                return conn.exec_driver_sql(sql, {"q": q.tolist()}).all()

        return run

    variants: Variants = {table: scan(table) for table in tables}
    variants["facade"] = facade(rag)
    median = interleaved(variants, queries)
    rag.close()
    print_table(
        ["ClickHouse table (one merged part)", "declared codec", "part codec", "vectors stored MB", "SQL top 5 ms"]
        + ["facade ms"],
        (
            [table, declared or "(none: the server decides)", part_codec, f"{size / 2**20:.0f}", f"{median[table]:.2f}"]
            + [f"{median['facade']:.2f}" if table == "embeddings" else "-"]
            for table, (part_codec, declared, size) in stored.items()
        ),
        text_columns=3,
    )
    print(f"\nserver codec / CODEC(NONE): {median[tables[1]] / median[tables[0]]:.2f}\n")


# -- PostgreSQL: the vector column's storage ------------------------------------------------------------

PG_DIM = 768  # past about 500 dimensions a row passes 2 kB, where pgvector's EXTERNAL storage moves vectors out


def postgresql_storage(tmp: str, data: np.ndarray, queries: np.ndarray) -> None:
    from topk_path import start_postgresql

    rng = np.random.default_rng(4)
    rows = max(len(data) // 2, 10)
    vectors = rng.standard_normal((rows, PG_DIM)).astype("f")
    pg_queries = rng.standard_normal((len(queries), PG_DIM)).astype("f")
    url, server = start_postgresql(tmp)
    engine = sv.create_engine(url)
    try:
        rags: Dict[str, sv.VectorRAG] = {}
        for name, suffix in (("MAIN (tables created here)", "main"), ("EXTERNAL (pgvector's default)", "external")):
            Document, Embedding = sv.make_models(PG_DIM, document_table=f"docs_{suffix}", embedding_table=f"emb_{suffix}")
            Document.metadata.create_all(engine)  # type: ignore[attr-defined]
            if suffix == "external":
                with engine.begin() as conn:
                    conn.exec_driver_sql("ALTER TABLE emb_external ALTER COLUMN embedding SET STORAGE EXTERNAL")
            rags[name] = sv.VectorRAG(engine, document_model=Document, embedding_model=Embedding)
            load(rags[name], vectors)
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
            sizes = {
                name: conn.exec_driver_sql(
                    "SELECT a.attstorage, pg_relation_size(c.oid), pg_relation_size(c.reltoastrelid) FROM pg_class c "
                    f"JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'embedding' WHERE c.relname = 'emb_{suffix}'"
                ).one()
                for name, suffix in zip(rags, ("main", "external"))
            }
        median = interleaved({name: facade(rag) for name, rag in rags.items()}, pg_queries)
        for rag in rags.values():
            rag.close()
    finally:
        engine.dispose()
        server.cleanup()
    print_table(
        [f"PostgreSQL vectors ({rows:,} x {PG_DIM})", "attstorage", "table MB", "TOAST MB", "facade exact top 5 ms"],
        (
            [name, storage, f"{table / 2**20:.0f}", f"{toast / 2**20:.0f}", f"{median[name]:.2f}"]
            for name, (storage, table, toast) in sizes.items()
        ),
        text_columns=2,
    )
    main, external = list(rags)
    print(f"\nEXTERNAL / MAIN: {median[external] / median[main]:.2f}\n")


PARTS = {"sqlite": sqlite_pages, "duckdb": duckdb_alprd, "clickhouse": clickhouse_codec, "postgresql": postgresql_storage}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=21)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--backends", default="sqlite,duckdb,clickhouse,postgresql")
    args = parser.parse_args()
    chosen = args.backends.split(",")
    unknown = set(chosen) - set(PARTS)
    if unknown:
        parser.error(f"unknown backend(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")

    rng = np.random.default_rng(3)
    centres = rng.standard_normal((8, args.dim))
    data = (centres[rng.integers(0, 8, args.rows)] + 0.6 * rng.standard_normal((args.rows, args.dim))).astype("f")
    queries = centres[rng.integers(0, 8, args.queries + 3)] + 0.6 * rng.standard_normal((args.queries + 3, args.dim))
    print(
        f"# {args.rows:,} x {args.dim} float32 loaded with load_documents, cosine top 5, medians of {args.queries} "
        f"queries; {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs\n"
    )
    for backend in chosen:
        with tempfile.TemporaryDirectory(prefix=f"sv-storage-{backend}-") as tmp:
            PARTS[backend](tmp, data, queries.astype("f"))


if __name__ == "__main__":
    main()
