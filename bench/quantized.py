"""Compact indexes: float32, half precision and binary + exact re-rank, on PostgreSQL, SQLite and DuckDB.

For each variant: index size, build time, recall@10 against the exact top 10 (numpy, cosine) and the median
query latency, all measured in one run on one data set.

- PostgreSQL (pgvector): float32 HNSW; half HNSW; binary HNSW (m = 16 and m = 8) and binary IVFFlat over
  ``binary_quantize(v)``, each re-ranking 40 ... 1,000 candidates exactly (``knn(..., rerank=n)``).
- SQLite (sqlite-vec): the exact float32 vec0 table; a binary vec0 table of ``bit[n]`` (an exact Hamming scan)
  re-ranking n candidates.  Sizes from ``dbstat``.
- DuckDB: no quantized index (vss builds HNSW over ``FLOAT[n]`` only); measured here: the exact scan, and the
  same re-rank over a ``BIT`` column scanned by ``bit_count(xor(...))``.
- Optionally a 3,072-dimension column (beyond the 2,000 a ``vector`` HNSW index takes) through half and binary.

Data (``--data``): ``clustered`` (a Gaussian mixture, 64 clusters, spread 0.6: points of one cluster share most
signs, the hard case for sign bits), ``random`` (isotropic Gaussian) or ``file`` (an ``.npy`` matrix of real
embeddings, ``--file``; the last ``--queries`` rows are the queries).

    python bench/quantized.py --rows 100000 --dim 384
    python bench/real_embeddings.py --out emb.npy   # then:
    python bench/quantized.py --data file --file emb.npy --rows 20000 --wide-rows 0
    nice -n 10 python bench/quantized.py --rows 1000000 --queries 20 --rerank 1000 --wide-rows 0 \
        --backends postgresql,sqlite --binary-only
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy_vector as sv  # noqa: E402
from bench.topk_path import mixture, start_postgresql  # noqa: E402

K = 10
Result = Dict[str, Any]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def exact_top(data: np.ndarray, queries: np.ndarray) -> List[List[int]]:
    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    result = []
    for q in queries:
        scores = unit @ (q / np.linalg.norm(q))
        result.append([int(i) + 1 for i in np.argsort(-scores)[:K]])
    return result


def dataset(args: argparse.Namespace, dim: int, rows: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    if args.data == "clustered":
        return mixture(rows, args.queries, dim, clusters=64, spread=0.6, seed=seed)
    if args.data == "random":
        rng = np.random.default_rng(seed)
        return (rng.standard_normal((rows, dim)).astype(np.float32), rng.standard_normal((args.queries, dim)).astype(np.float32))
    matrix = np.load(args.file).astype(np.float32)
    return matrix[: -args.queries][:rows], matrix[-args.queries :]


def make_table(name: str, dim: int) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("v", sv.Vector(dim)),
    )


def load(engine: sa.Engine, table: sa.Table, data: np.ndarray) -> None:
    with engine.begin() as conn:
        table.metadata.drop_all(conn)
        table.metadata.create_all(conn)
        for start in range(0, len(data), 10000):
            chunk = data[start : start + 10000]
            sv.bulk_insert(conn, table, [{"id": start + i + 1, "v": row} for i, row in enumerate(chunk)])


def measure(
    search: Callable[[np.ndarray], List[int]], queries: np.ndarray, truth: List[List[int]]
) -> Tuple[float, float]:
    """Recall@10 and median latency (ms) of ``search`` over the queries."""
    latencies, hits = [], 0
    for q, expected in zip(queries, truth):
        started = time.perf_counter()
        ids = search(q)
        latencies.append(time.perf_counter() - started)
        hits += len(set(ids[:K]) & set(expected))
    return hits / (K * len(queries)), 1000 * statistics.median(latencies)


def row(backend: str, variant: str, index_bytes: float, build: Optional[float], recall: float, ms: float) -> Result:
    """One line of the table; ``build`` None: the index of the line above, NaN: nothing built."""
    return {"backend": backend, "variant": variant, "index MB": index_bytes / 1e6, "build s": build,
            "recall@10": recall, "median ms": ms}


# -- PostgreSQL ----------------------------------------------------------------------------------


PG_VARIANTS = ("f32", "half", "binary-hnsw", "binary-hnsw-m8", "ivfflat")


def pg_variants(url: str, table: sa.Table, queries: np.ndarray, truth: List[List[int]], rows: int,
                reranks: List[int], wide: bool = False, chosen: Tuple[str, ...] = PG_VARIANTS,
                ef_searches: Tuple[int, ...] = (40,)) -> List[Result]:
    engine = sv.create_engine(url)
    results: List[Result] = []
    dim = table.c.v.type.dim
    lists = max(10, int(round(rows ** 0.5)))
    plans: List[Tuple[str, Optional[str], str, Dict[str, int], List[Tuple[int, Dict[str, int]]]]] = []
    if "f32" in chosen and not wide:  # a vector HNSW index takes at most 2,000 dimensions
        plans.append(("float32 HNSW", None, "hnsw", {}, [(0, {"ef_search": e}) for e in ef_searches]))
    if "half" in chosen:
        plans.append(("half HNSW", "half", "hnsw", {}, [(K, {"ef_search": e}) for e in ef_searches]))
    if "binary-hnsw" in chosen:
        plans.append(("binary HNSW m=16", "binary", "hnsw", {}, [(n, {}) for n in reranks]))
    if "binary-hnsw-m8" in chosen and not wide:
        plans.append(("binary HNSW m=8", "binary", "hnsw", {"m": 8, "ef_construction": 32}, [(reranks[-1], {})]))
    if "ivfflat" in chosen and not wide:
        probes = [max(1, lists // 16)] if len(chosen) == 1 else [max(1, lists // 16), max(1, lists // 4)]
        plans.append(("binary IVFFlat", "binary", "ivfflat", {"lists": lists},
                      [(n, {"probes": p}) for p in probes for n in (reranks[-1], 2 * reranks[-1])]))
    for label, quantization, method, options, runs in plans:
        name = f"{table.name}_{quantization or 'f32'}_{method}{options.get('m', '')}"
        index = sv.VectorIndex(name, table.c.v, metric="cosine", method=method, quantization=quantization, **options)
        with engine.begin() as conn:
            started = time.perf_counter()
            sv.create_vector_index(conn, index)
            seconds = time.perf_counter() - started
            size = conn.exec_driver_sql(f"SELECT pg_relation_size('{name}')").scalar() or 0
        log(f"  built {label} in {seconds:.1f} s")
        first = True
        for rerank, settings in runs:
            def search(
                q: np.ndarray, rerank: int = rerank, settings: Dict[str, int] = settings, index: Any = index
            ) -> List[int]:
                ef_search = settings.get("ef_search", None if rerank else 40)
                probes = {key: value for key, value in settings.items() if key != "ef_search"}
                with engine.begin() as conn:
                    with sv.search_settings(conn, **probes):
                        found = sv.knn(conn, table.c.v, q, K, index=index, rerank=rerank or None, ef_search=ef_search)
                return [r.id for r in found]

            recall, ms = measure(search, queries, truth)
            detail = "" if not rerank else f" + rerank {rerank}"
            detail += "".join(f", {key} {value}" for key, value in settings.items())
            results.append(row("PostgreSQL", f"{label} ({dim}-d){detail}", size, seconds if first else None, recall, ms))
            log(f"  {results[-1]}")
            first = False
        with engine.begin() as conn:
            sv.drop_vector_index(conn, index)
        table.indexes.discard(index)
    with engine.connect() as conn:
        # The heap and its TOAST table: what the vectors take without any index.
        size = conn.exec_driver_sql(f"SELECT pg_table_size('{table.name}')").scalar() or 0
    results.append(row("PostgreSQL", f"base table, float32 vectors ({dim}-d)", size, float("nan"), float("nan"),
                       float("nan")))
    engine.dispose()
    return results


# -- SQLite ----------------------------------------------------------------------------------------


def sqlite_variants(path: str, data: np.ndarray, queries: np.ndarray, truth: List[List[int]],
                    reranks: List[int], binary_only: bool = False) -> List[Result]:
    engine = sv.create_engine(f"sqlite:///{path}")
    table = make_table("items", data.shape[1])
    load(engine, table, data)
    results: List[Result] = []
    dim = data.shape[1]

    def pages(conn: sa.Connection, name: str, shadow: bool = True) -> int:
        """Bytes of table ``name`` and (``shadow``) of the ``name_*`` tables a vec0 table keeps its data in."""
        pattern = f"{name}!_%" if shadow else name
        return int(conn.exec_driver_sql(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ? OR name LIKE ? ESCAPE '!'", (name, pattern)
        ).scalar() or 0)

    plans = [("float32 vec0 (exact)", None, [0]), ("binary vec0 bit[n]", "binary", reranks)]
    for label, quantization, runs in plans[binary_only:]:
        name = f"items_{quantization or 'f32'}"
        index = sv.VectorIndex(name, table.c.v, metric="cosine", quantization=quantization)
        with engine.begin() as conn:
            started = time.perf_counter()
            sv.create_vector_index(conn, index)
            seconds = time.perf_counter() - started
        with engine.connect() as conn:
            size = pages(conn, name)
        first = True
        for rerank in runs:
            def search(q: np.ndarray, rerank: int = rerank, index: Any = index) -> List[int]:
                with engine.connect() as conn:
                    return [r.id for r in sv.knn(conn, table.c.v, q, K, index=index, rerank=rerank or None)]

            recall, ms = measure(search, queries, truth)
            detail = f" + rerank {rerank}" if rerank else ""
            results.append(row("SQLite", f"{label} ({dim}-d){detail}", size, seconds if first else None, recall, ms))
            log(f"  {results[-1]}")
            first = False
        table.indexes.discard(index)
    with engine.connect() as conn:
        results.append(row("SQLite", f"base table, float32 BLOBs ({dim}-d)", pages(conn, "items", shadow=False), float("nan"), float("nan"),
                           float("nan")))
    engine.dispose()
    return results


# -- DuckDB ----------------------------------------------------------------------------------------


def duckdb_hnsw(engine: sa.Engine, path: str, table: sa.Table, queries: np.ndarray, truth: List[List[int]],
                ef_searches: Tuple[int, ...]) -> List[Result]:
    """vss's float32 HNSW (m=16, ef_construction=128), kept in the file (experimental persistence) to weigh it."""
    dim = table.c.v.type.dim
    with engine.connect() as conn:
        conn.exec_driver_sql("CHECKPOINT")
    before = os.path.getsize(path)
    index = sv.VectorIndex("items_hnsw", table.c.v, metric="cosine", duckdb_experimental_persistence=True)
    with engine.begin() as conn:
        started = time.perf_counter()
        sv.create_vector_index(conn, index)
        seconds = time.perf_counter() - started
    log(f"  built DuckDB float32 HNSW in {seconds:.1f} s")
    with engine.connect() as conn:
        conn.exec_driver_sql("CHECKPOINT")
    size = os.path.getsize(path) - before
    results: List[Result] = []
    with engine.connect() as conn:
        for ef in ef_searches:
            def search(q: np.ndarray, ef: int = ef) -> List[int]:
                return [r.id for r in sv.knn(conn, table.c.v, q, K, index=index, ef_search=ef)]

            recall, ms = measure(search, queries, truth)
            build = seconds if ef == ef_searches[0] else None
            results.append(row("DuckDB", f"float32 HNSW ({dim}-d), ef_search {ef}; size: file growth", size, build,
                               recall, ms))
            log(f"  {results[-1]}")
    with engine.begin() as conn:
        sv.drop_vector_index(conn, index)
    table.indexes.discard(index)
    return results


def duckdb_variants(path: str, data: np.ndarray, queries: np.ndarray, truth: List[List[int]],
                    reranks: List[int], hnsw_ef_searches: Tuple[int, ...] = ()) -> List[Result]:
    engine = sv.create_engine(f"duckdb:///{path}")
    table = make_table("items", data.shape[1])
    load(engine, table, data)
    dim = data.shape[1]
    results: List[Result] = []
    if hnsw_ef_searches:
        results += duckdb_hnsw(engine, path, table, queries, truth, hnsw_ef_searches)
    with engine.begin() as conn:
        # The sign bits as a BIT string column (DuckDB has no binary_quantize and no index over BIT).
        started = time.perf_counter()
        conn.exec_driver_sql("ALTER TABLE items ADD COLUMN b BIT")
        conn.exec_driver_sql(
            "UPDATE items SET b = CAST(array_to_string(list_transform(CAST(v AS FLOAT[]), "
            "lambda x: CASE WHEN x > 0 THEN '1' ELSE '0' END), '') AS BIT)"
        )
        seconds = time.perf_counter() - started
    with engine.connect() as conn:
        def exact(q: np.ndarray) -> List[int]:
            return [r.id for r in sv.knn(conn, table.c.v, q, K)]

        recall, ms = measure(exact, queries, truth)
        results.append(row("DuckDB", f"float32 exact scan ({dim}-d)", 0, float("nan"), recall, ms))
        for rerank in reranks:
            def bits(q: np.ndarray, rerank: int = rerank) -> List[int]:
                code = "".join("1" if x > 0 else "0" for x in q)
                literal = "[" + ",".join(repr(float(x)) for x in q) + "]"
                statement = (
                    f"SELECT id FROM (SELECT id, v FROM items ORDER BY bit_count(xor(b, CAST('{code}' AS BIT))) "
                    f"LIMIT {rerank}) AS c ORDER BY array_cosine_distance(v, CAST('{literal}' AS FLOAT[{dim}])) LIMIT {K}"
                )
                return [r[0] for r in conn.exec_driver_sql(statement)]

            recall, ms = measure(bits, queries, truth)
            results.append(row("DuckDB", f"BIT column scan + rerank {rerank} ({dim}-d; raw bits)", dim / 8 * len(data),
                               seconds if rerank == reranks[0] else None, recall, ms))
            log(f"  {results[-1]}")
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE items DROP COLUMN b")
    with engine.connect() as conn:
        conn.exec_driver_sql("CHECKPOINT")
    engine.dispose()
    # The database file holds only the table (ids and float32 vectors) once the bits are dropped.
    results.append(row("DuckDB", f"base table, float32 vectors ({dim}-d; database file)", os.path.getsize(path),
                       float("nan"), float("nan"), float("nan")))
    return results


# -- output ----------------------------------------------------------------------------------------


def table_text(results: List[Result]) -> str:
    lines = ["| backend | variant | index MB | build s | recall@10 | median ms |", "|---|---|---:|---:|---:|---:|"]
    for r in results:
        build = "(same index)" if r["build s"] is None else "" if r["build s"] != r["build s"] else f"{r['build s']:.1f}"
        recall = "" if r["recall@10"] != r["recall@10"] else f"{r['recall@10']:.3f}"
        ms = "" if r["median ms"] != r["median ms"] else f"{r['median ms']:.2f}"
        lines.append(f"| {r['backend']} | {r['variant']} | {r['index MB']:.1f} | {build} | {recall} | {ms} |")
    return "\n".join(lines)


@contextlib.contextmanager
def postgresql(workdir: str, maintenance_work_mem: str) -> Iterator[str]:
    url, server = start_postgresql(workdir, maintenance_work_mem)
    try:
        yield url
    finally:
        server.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--data", choices=("clustered", "random", "file"), default="clustered")
    parser.add_argument("--file", default=None, help="with --data file: an .npy matrix (rows x dim)")
    parser.add_argument("--wide-rows", type=int, default=20000, help="rows of the 3,072-d table (0: skip)")
    parser.add_argument("--wide-dim", type=int, default=3072)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--rerank", type=int, nargs="+", default=[40, 200, 1000])
    parser.add_argument("--backends", default="postgresql,sqlite,duckdb")
    parser.add_argument(
        "--binary-only", action="store_true",
        help="PostgreSQL: binary IVFFlat only; SQLite: the binary vec0 table only (for sizes where HNSW builds take hours)",
    )
    parser.add_argument(
        "--pg-variants", default=",".join(PG_VARIANTS),
        help=f"PostgreSQL indexes to build on the main table, some of {', '.join(PG_VARIANTS)}",
    )
    parser.add_argument("--wide-rerank", type=int, nargs="+", default=[200],
                        help="candidates re-ranked through the 3,072-d binary index")
    parser.add_argument("--ef-search", type=int, nargs="+", default=[40],
                        help="hnsw.ef_search values tried on the float32 and half HNSW indexes")
    parser.add_argument("--duckdb-hnsw", action="store_true",
                        help="DuckDB: also build vss's float32 HNSW index (minutes at 100k rows, in memory)")
    parser.add_argument("--maintenance-work-mem", default="1GB",
                        help="PostgreSQL's memory for index builds (an HNSW graph of 1M x 384 needs about 2.5 GB)")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    unknown = [b for b in backends if b not in ("postgresql", "sqlite", "duckdb")]
    if unknown or not backends:  # before anything runs: a misspelt name would otherwise be skipped
        parser.error(f"unknown backend(s) {', '.join(unknown) or '(none)'}; choose from postgresql, sqlite, duckdb")
    chosen = ("ivfflat",) if args.binary_only else tuple(args.pg_variants.split(","))
    unknown = set(chosen) - set(PG_VARIANTS)
    if unknown:
        parser.error(f"unknown --pg-variants {', '.join(sorted(unknown))}; choose from {', '.join(PG_VARIANTS)}")
    data, queries = dataset(args, args.dim, args.rows, seed=1)
    rows, dim = data.shape
    truth = exact_top(data, queries)
    results: List[Result] = []
    with tempfile.TemporaryDirectory() as workdir:
        if "postgresql" in backends:
            with postgresql(workdir, args.maintenance_work_mem) as url:
                engine = sv.create_engine(url)
                table = make_table("items", dim)
                load(engine, table, data)
                engine.dispose()
                log(f"PostgreSQL: loaded {rows} x {dim}")
                results += pg_variants(url, table, queries, truth, rows, args.rerank, chosen=chosen,
                                       ef_searches=tuple(args.ef_search))
                if args.wide_rows:
                    wide, wide_queries = dataset(args, args.wide_dim, args.wide_rows, seed=2)
                    wide_table = make_table("wide", args.wide_dim)
                    engine = sv.create_engine(url)
                    load(engine, wide_table, wide)
                    engine.dispose()
                    log(f"PostgreSQL: loaded {args.wide_rows} x {args.wide_dim}")
                    results += pg_variants(url, wide_table, wide_queries, exact_top(wide, wide_queries),
                                           args.wide_rows, args.wide_rerank, wide=True, ef_searches=tuple(args.ef_search))
        if "sqlite" in backends:
            results += sqlite_variants(os.path.join(workdir, "q.db"), data, queries, truth, args.rerank, args.binary_only)
        if "duckdb" in backends:
            results += duckdb_variants(os.path.join(workdir, "q.duckdb"), data, queries, truth, args.rerank,
                                       tuple(args.ef_search) if args.duckdb_hnsw else ())
    print(f"{rows} x {dim}, {args.data}, cosine, top {K}, {args.queries} queries")
    print(table_text(results))


if __name__ == "__main__":
    main()
