"""Peak memory and time of ``sqlalchemy-vector ingest`` on SQLite: one large file, and many small files.

Each run is ``sqlalchemy-vector ingest`` (default lexical embedder) in a fresh Python process, timed from
outside; peak memory is its maximum resident set size (``ru_maxrss``).  ``--before DIR`` also runs the same
ingests with the package of another checkout (``git worktree add --detach DIR <commit>``), side by side.

Run: ``PYTHONPATH=. .venv/bin/python bench/ingest_memory.py [--large-mb 50] [--files 2000] [--before DIR]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Tuple

RUN = """
import resource, sys
sys.path.insert(0, sys.argv.pop(1))
from sqlalchemy_vector.cli import main
status = main(sys.argv[1:])
print("maxrss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(status)
"""

WORDS = "river stone cloud lantern meadow harbor copper willow ember glacier orchard falcon".split()


def paragraph(i: int) -> str:
    return " ".join(WORDS[(i * 7 + j) % len(WORDS)] + str(j % 13) for j in range(30 + (i * 37) % 170))


def write_large(path: Path, megabytes: float) -> None:
    with path.open("w") as out:
        i = 0
        while out.tell() < megabytes * 1e6:
            if i % 50 == 0:
                out.write(f"## Part {i}\n\n")
            out.write(paragraph(i) + "\n\n")
            i += 1


def write_small(directory: Path, count: int) -> None:
    directory.mkdir()
    for i in range(count):
        (directory / f"note{i:05d}.md").write_text(f"# Note {i}\n\n{paragraph(i)}\n")


def ingest(code: str, target: Path, url: str) -> Tuple[float, float, str]:
    started = time.perf_counter()
    command = [sys.executable, "-c", RUN, code, "ingest", str(target), "--quiet", "--db", url]
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"ingest exited with {done.returncode}: {done.stderr.strip()[-2000:]}")
    lines = done.stdout.strip().splitlines()
    return elapsed, float(lines[-1].split()[1]) / 1024, lines[0].split(" into ")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-mb", type=float, default=50)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--before", default=None, help="another checkout's directory, run side by side")
    args = parser.parse_args()
    checkouts: List[Tuple[str, str]] = [("this checkout", str(Path(__file__).resolve().parent.parent))]
    if args.before:
        checkouts.insert(0, ("before", str(Path(args.before).resolve())))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        large, small = Path(tmp) / "large.md", Path(tmp) / "small"
        write_large(large, args.large_mb)
        write_small(small, args.files)
        cases: List[Tuple[str, Path, Optional[str]]] = [
            (f"one {args.large_mb:g} MB file", large, None), (f"{args.files:,} small files", small, None),
        ]
        for case, target, _ in cases:
            for label, code in checkouts:
                url = f"sqlite:///{tmp}/{len(rows)}.db"
                elapsed, rss, report = ingest(code, target, url)
                rows.append((case, label, elapsed, rss, report))
                print(f"{case}, {label}: {elapsed:.1f} s, {rss:.0f} MB; {report}", file=sys.stderr)
                os.remove(f"{tmp}/{len(rows) - 1}.db")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print()
    print("| input | code | wall time (s) | peak RSS (MB) | ingest report |")
    print("|---|---|---:|---:|---|")
    for case, label, elapsed, rss, report in rows:
        print(f"| {case} | {label} | {elapsed:.1f} | {rss:.0f} | {report} |")


if __name__ == "__main__":
    main()
