"""``kill -9`` mid-write, then reopen: nothing half-written, nothing lost.

Each test runs the write in a child process and kills it with SIGKILL at a
random point (seeded, bounded) after it announced the write; then the
database is reopened here and checked: a load is all or nothing, a vec0 index
build is either there or can be built again, a re-ingest leaves each file's
passages either old or new, never both.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import pytest

from sqlalchemy_vector.cli import main as cli_main
from sqlalchemy_vector.orm import make_models
from sqlalchemy_vector.rag import VectorRAG

ROOT = Path(__file__).resolve().parent.parent
SYNC = ("sqlite", "duckdb", "postgresql")
# Kills per backend and test, at points drawn from a seeded generator (bench/soak.py --crash-trials runs more).
TRIALS = int(os.environ.get("SQLALCHEMY_VECTOR_CRASH_TRIALS", "1"))
BASELINE = 5  # documents committed before the killed write; none may be lost


def _killed(code: str, args: List[str], delay: float) -> int:
    """Run ``code`` in a child; once it prints 'go', wait ``delay`` seconds and SIGKILL it. Returns its exit code."""
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "go"
    time.sleep(delay)
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    return child.wait(timeout=60)


_LOAD = """
import sys
sys.path.insert(0, {root!r})
from sqlalchemy_vector.rag import VectorRAG
rag = VectorRAG(sys.argv[1], dimension=16)
documents = [{{"content": f"passage {{i}} " + "word " * 20, "metadata": {{"n": i}}}} for i in range(int(sys.argv[2]))]
print("go", flush=True)
rag.load_documents(documents, show_progress=False, batch_size=200)
print("done", flush=True)
"""


@pytest.mark.parametrize("backend", SYNC)
def test_kill_during_load(backend: str, fresh_database_url: Callable[[str], str]) -> None:
    url = fresh_database_url(backend)
    with VectorRAG(url, dimension=16) as rag:
        rag.load_documents([{"content": f"kept {i}"} for i in range(BASELINE)], show_progress=False)
    generator = random.Random(f"load-{backend}")
    code = _LOAD.format(root=str(ROOT))
    expected = BASELINE
    outcomes = []
    for trial in range(TRIALS):
        count = 20000  # long enough on every backend that the kill lands mid-load
        returncode = _killed(code, [url, str(count)], generator.uniform(0.05, 0.4))
        outcomes.append(returncode)
        with VectorRAG(url, dimension=16) as rag:
            stats = rag.get_statistics()
            # all or nothing, and every committed document kept
            assert stats["document_count"] in (expected, expected + count), (stats, returncode)
            assert stats["embedding_count"] == stats["document_count"]
            loaded = len(rag.query_with_filters({"n": {"$gte": 0}}, top_k=10**6))
            assert loaded == stats["document_count"] - BASELINE - trial
            expected = stats["document_count"]
            assert rag.load_document("after the crash", {"after": trial})  # still writable
            expected += 1
    assert outcomes.count(-signal.SIGKILL) >= (TRIALS + 1) // 2  # kills landed mid-load


_INDEX = """
import sys
sys.path.insert(0, {root!r})
from sqlalchemy_vector.cli import main as cli_main
from sqlalchemy_vector.orm import make_models
from sqlalchemy_vector.rag import VectorRAG
Document, Embedding = make_models(32, id_type=int)
rag = VectorRAG(sys.argv[1], document_model=Document, embedding_model=Embedding)
print("go", flush=True)
rag.create_index("vectors", "cosine")
print("done", flush=True)
"""


def test_kill_during_sqlite_index_build(tmp_path: Path) -> None:
    import numpy as np

    url = f"sqlite:///{tmp_path}/index.db"
    Document, Embedding = make_models(32, id_type=int)
    generator = random.Random("vec0")
    rows = np.random.default_rng(7).standard_normal((30000, 32)).astype(np.float32)
    with VectorRAG(url, document_model=Document, embedding_model=Embedding) as rag:
        Document.metadata.create_all(rag.engine)
        rag.load_documents([{"content": f"d{i}", "embedding": v} for i, v in enumerate(rows)], show_progress=False)
    code = _INDEX.format(root=str(ROOT))
    killed = 0
    for _ in range(TRIALS):
        killed += _killed(code, [url], generator.uniform(0.01, 0.15)) == -signal.SIGKILL  # the build takes ~0.2 s
        with VectorRAG(url, document_model=Document, embedding_model=Embedding) as rag:
            names = [i["name"] for i in rag.get_statistics()["indexes"]]
            assert names in ([], ["vectors"])
            if names:
                assert rag.delete_index("vectors")
            rag.create_index("vectors", "cosine")  # a half-built vec0 is not in the way
            assert [i["name"] for i in rag.get_statistics()["indexes"]] == ["vectors"]
            hit = rag.query_with_embedding(rows[123], top_k=1)[0]
            assert hit["content"] == "d123"
            assert rag.get_statistics()["embedding_count"] == len(rows)
            assert rag.delete_index("vectors")
    assert killed >= 1, "every build finished before its kill"


_INGEST = """
import sys
sys.path.insert(0, {root!r})
from sqlalchemy_vector.cli import main
print("go", flush=True)
main(["ingest", sys.argv[2], "--db", sys.argv[1], "--quiet", "--max-words", "30"])
print("done", flush=True)
"""


def _write_corpus(directory: Path, version: str) -> Dict[str, int]:
    directory.mkdir(exist_ok=True)
    passages = {}
    for f in range(6):
        paragraphs = [f"{version} file {f} paragraph {p} " + "text " * 25 for p in range(40)]
        (directory / f"f{f}.txt").write_text("\n\n".join(paragraphs))
        passages[f"f{f}.txt"] = len(paragraphs)
    return passages


@pytest.mark.parametrize("backend", SYNC)
def test_kill_during_reingest(backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path) -> None:
    url = fresh_database_url(backend)
    corpus = tmp_path / "corpus"
    code = _INGEST.format(root=str(ROOT))
    generator = random.Random(f"ingest-{backend}")
    expected = _write_corpus(corpus, "v0")
    assert cli_main(["ingest", str(corpus), "--db", url, "--quiet", "--max-words", "30"]) == 0
    for trial in range(1, TRIALS + 1):
        _write_corpus(corpus, f"v{trial}")
        _killed(code, [url, str(corpus)], generator.uniform(0.1, 1.5))
        with VectorRAG(url) as rag:
            found = rag.query_with_filters({}, top_k=10**6)
        by_file: Dict[str, set] = {}
        count: Dict[str, int] = {}
        for passage in found:
            name = Path(passage["metadata"]["source"]).name
            by_file.setdefault(name, set()).add(passage["content"].split()[0])
            count[name] = count.get(name, 0) + 1
        # every file's passages from one ingest only, complete, never twice
        assert set(by_file) == set(expected)
        assert all(len(versions) == 1 for versions in by_file.values()), by_file
        assert count == expected
