"""Incremental ingest: first ingest, re-ingest with nothing changed, re-ingest with one file changed.

Data: N generated Markdown files of a heading and a paragraph (one passage
each).  Each run is ``sqlalchemy-vector ingest DIR --quiet`` in a fresh
Python process, timed from outside; peak memory is that process's maximum
resident set size.  "embedded" counts the passages the run embedded (the
ingest report's passages).  The re-ingest of an unchanged corpus hashes every
file and looks the hashes up in chunks, and embeds and writes nothing.

Run: ``PYTHONPATH=. .venv/bin/python bench/ingest_incremental.py [--files 10000] [--backends sqlite,duckdb]
[--pg-url postgresql+psycopg://...]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Tuple

RUN = """
import resource, sys
from sqlalchemy_vector.cli import main
status = main(sys.argv[1:])
print("maxrss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(status)
"""


def write_corpus(directory: Path, count: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (directory / f"note{i:05d}.md").write_text(
            f"# Note {i}\n\nThis note is about topic {i % 97} and item {i}; it mentions river, stone and cloud.\n"
        )


def ingest(directory: Path, url: str) -> Tuple[float, float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", RUN, "ingest", str(directory), "--quiet", "--db", url],
        capture_output=True, text=True, check=True,
    )
    elapsed = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    rss = float(lines[-1].split()[1]) / 1024
    return elapsed, rss, lines[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,duckdb")
    parser.add_argument("--pg-url", default=None, help="also a PostgreSQL database (emptied first is up to you)")
    args = parser.parse_args()
    rows: List[Tuple[str, str, float, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        write_corpus(corpus, args.files)
        urls = []
        for backend in filter(None, args.backends.split(",")):
            urls.append((backend, f"sqlite:///{tmp}/bench.db" if backend == "sqlite" else f"duckdb:///{tmp}/bench.duckdb"))
        if args.pg_url:
            urls.append(("postgresql", args.pg_url))
        for backend, url in urls:
            for label in ("first ingest", "unchanged", "one file changed"):
                if label == "one file changed":
                    (corpus / "note00007.md").write_text("# Note 7\n\nRewritten.\n")
                elapsed, rss, report = ingest(corpus, url)
                rows.append((backend, label, elapsed, rss, re.sub(r" into .* in [0-9.]+ s", "", report)))
            write_corpus(corpus, args.files)  # restore note 7 for the next backend
    print(f"{args.files} files; Python {platform.python_version()}, {os.cpu_count()} cores")
    print()
    print("| backend | run | wall time (s) | peak RSS (MB) | report |")
    print("|---|---|---:|---:|---|")
    for backend, label, elapsed, rss, report in rows:
        print(f"| {backend} | {label} | {elapsed:.1f} | {rss:.0f} | {report} |")


if __name__ == "__main__":
    main()
