"""Incremental ingest: files identified by path, unchanged ones skipped by hash, vanished ones pruned."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable, List

import pytest

from sqlalchemy_vector.cli import main
from sqlalchemy_vector.embedding import HashingEmbedder


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> List[str]:
    """Every text the lexical embedder embeds, in order."""
    texts: List[str] = []
    embed = HashingEmbedder.embed

    def counting(self: Any, batch: Any) -> Any:
        texts.extend(batch)
        return embed(self, batch)

    monkeypatch.setattr(HashingEmbedder, "embed", counting)
    return texts


def write_corpus(directory: Path, count: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (directory / f"note{i:04d}.md").write_text(f"# Note {i}\n\nThis note talks about topic number {i}.\n")


def stats(url: str, capsys: pytest.CaptureFixture[str]) -> Any:
    capsys.readouterr()
    assert main(["stats", "--json", "--db", url]) == 0
    return json.loads(capsys.readouterr().out)


def test_996_files_then_nothing_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], embedded: List[str]
) -> None:
    write_corpus(tmp_path / "notes", 996)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'notes.db'}"
    assert main(["ingest", "notes", "--db", url, "--quiet"]) == 0
    assert "ingested 996 passages from 996 files" in capsys.readouterr().out
    assert len(embedded) == 996
    assert stats(url, capsys)["document_count"] == 996
    # Again, from another working directory: the same files by their resolved paths, nothing embedded.
    embedded.clear()
    monkeypatch.chdir(tmp_path / "notes")
    assert main(["ingest", ".", "--db", url, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "ingested 0 passages from 996 files" in out and "(996 unchanged, 0 replaced, 0 pruned)" in out
    assert embedded == []
    assert stats(url, capsys)["document_count"] == 996
    # One file changed, one gone: only the changed one is embedded; --prune removes the gone one's passages.
    (tmp_path / "notes" / "note0005.md").write_text("# Note 5\n\nRewritten about something else entirely.\n")
    (tmp_path / "notes" / "note0006.md").unlink()
    assert main(["ingest", ".", "--db", url, "--quiet", "--prune"]) == 0
    out = capsys.readouterr().out
    assert "ingested 1 passages from 995 files" in out and "(994 unchanged, 1 replaced, 1 pruned)" in out
    assert len(embedded) == 1 and "Rewritten" in embedded[0]
    assert stats(url, capsys)["document_count"] == 995
    assert main(["query", "rewritten something else", "--json", "-k", "1", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out)[0]["metadata"]["source"] == "note0005.md"


@pytest.fixture(params=["sqlite", "duckdb", "postgresql"])
def db_url(request: pytest.FixtureRequest, fresh_database_url: Callable[[str], str]) -> str:
    return fresh_database_url(request.param)


def test_root_makes_identities_portable(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], embedded: List[str]
) -> None:
    write_corpus(tmp_path / "a" / "docs", 12)
    monkeypatch.chdir(tmp_path)
    assert main(["ingest", "a/docs", "--root", "a", "--db", db_url, "--quiet"]) == 0
    assert "(0 unchanged, 0 replaced, 0 pruned)" in capsys.readouterr().out
    # The same tree checked out elsewhere: unchanged under its --root.
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    embedded.clear()
    (tmp_path / "b" / "docs" / "note0003.md").unlink()
    assert main(["ingest", "b/docs", "--root", "b", "--prune", "--db", db_url, "--quiet"]) == 0
    assert "(11 unchanged, 0 replaced, 1 pruned)" in capsys.readouterr().out
    assert embedded == []
    assert stats(db_url, capsys)["document_count"] == 11
    assert main(["query", "topic", "--json", "-k", "1", "--db", db_url]) == 0
    assert json.loads(capsys.readouterr().out)[0]["metadata"]["source"].startswith("docs/note")
    assert main(["ingest", "a/docs", "--root", "b", "--db", db_url, "--quiet"]) == 1
    assert "is not under --root" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql", "clickhouse"])
def test_a_database_identifies_files_one_way(
    backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # With --root a file is stored under its path under the root, without under its resolved path: ingesting the
    # same files the other way stored every passage a second time (and queries returned each one twice).
    write_corpus(tmp_path / "docs", 3)
    monkeypatch.chdir(tmp_path)
    for number, (first, then) in enumerate(((["--root", "."], []), ([], ["--root", "."]))):
        url = fresh_database_url(backend).replace("/fresh.", f"/fresh{number}.")  # a new file, or database again
        assert main(["ingest", "docs", *first, "--db", url, "--quiet"]) == 0
        capsys.readouterr()
        assert main(["ingest", "docs", *then, "--db", url, "--quiet"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "this database identifies files by their" in err
        assert ("pass the --root it was ingested with" if first else "leave --root out") in err
        assert stats(url, capsys)["document_count"] == 3
        assert main(["ingest", "docs", *first, "--db", url, "--quiet"]) == 0
        assert "(3 unchanged, 0 replaced, 0 pruned)" in capsys.readouterr().out


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql", "clickhouse"])
def test_other_passage_sizes_split_unchanged_files_again(
    backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], embedded: List[str],
) -> None:
    # Files were compared by content alone: ingesting again with another --max-words skipped every file as
    # unchanged, and the passages kept their old size, whatever the option said.
    from cli_fixtures import CORPUS

    shutil.copytree(CORPUS, tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    url = fresh_database_url(backend)

    def words() -> List[int]:
        capsys.readouterr()
        assert main(["query", "vector", "--mode", "vector", "-k", "1000", "--json", "--db", url]) == 0
        return [len(r["content"].split()) for r in json.loads(capsys.readouterr().out)]

    assert main(["ingest", "corpus", "--db", url, "--quiet"]) == 0
    before = words()
    assert max(before) > 40
    capsys.readouterr()
    embedded.clear()
    assert main(["ingest", "corpus", "--max-words", "40", "--db", url, "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "(0 unchanged, 5 replaced, 0 pruned)" in out
    assert "splitting the files again: --max-words 40 --overlap 20 differ from the last ingest's" in err
    passages = len(embedded)
    after = words()
    assert len(after) == passages > len(before) and max(after) <= 40
    embedded.clear()
    assert main(["ingest", "corpus", "--max-words", "40", "--db", url, "--quiet"]) == 0
    assert "(5 unchanged, 0 replaced, 0 pruned)" in capsys.readouterr().out and embedded == []
    assert main(["ingest", "corpus", "--db", url, "--quiet"]) == 0
    assert sorted(words()) == sorted(before)


def test_prune_only_within_the_given_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_corpus(tmp_path / "one", 3)
    write_corpus(tmp_path / "two", 2)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert main(["ingest", "one", "two", "--db", url, "--quiet"]) == 0
    (tmp_path / "one" / "note0000.md").unlink()
    assert main(["ingest", "one", "--prune", "--db", url, "--quiet"]) == 0
    assert "(2 unchanged, 0 replaced, 1 pruned)" in capsys.readouterr().out
    assert stats(url, capsys)["document_count"] == 4  # "two" was not ingested this time, and is kept


def test_prune_a_directory_that_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A deleted directory was refused ("no such file or directory"), so its passages could only be pruned from
    # its parent, which reads every other file there too.
    import shutil

    write_corpus(tmp_path / "keep", 2)
    write_corpus(tmp_path / "old", 3)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert main(["ingest", "keep", "old", "--db", url, "--quiet"]) == 0
    shutil.rmtree(tmp_path / "old")
    capsys.readouterr()
    assert main(["ingest", "old", "--db", url, "--quiet"]) == 1  # without --prune: refused, with the way to prune
    assert "no such file or directory: old (to remove the passages of files ingested from it before, add --prune)" in capsys.readouterr().err
    assert main(["ingest", "old", "--prune", "--db", url, "--quiet"]) == 0
    assert "from 0 files" in (out := capsys.readouterr().out) and "(0 unchanged, 0 replaced, 3 pruned)" in out
    assert stats(url, capsys)["document_count"] == 2  # "keep" stays
    assert main(["ingest", "keep", "old", "--prune", "--db", url, "--quiet"]) == 0  # with a path still there too
    assert "(2 unchanged, 0 replaced, 0 pruned)" in capsys.readouterr().out


def test_headings_are_embedded_but_not_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], embedded: List[str]
) -> None:
    # A passage that never names its topic is found by the headings above it.
    (tmp_path / "guide.md").write_text("# Kubernetes\n\n## Rollbacks\n\nRun the undo command with the revision.\n")
    (tmp_path / "other.md").write_text("# Cooking\n\nRun the oven at the given temperature.\n")
    url = f"sqlite:///{tmp_path / 'guide.db'}"
    assert main(["ingest", str(tmp_path / "guide.md"), str(tmp_path / "other.md"), "--db", url, "--quiet"]) == 0
    assert "Kubernetes > Rollbacks\n\nRun the undo command with the revision." in embedded
    capsys.readouterr()
    assert main(["query", "kubernetes rollbacks", "--mode", "vector", "--json", "-k", "1", "--db", url]) == 0
    (top,) = json.loads(capsys.readouterr().out)
    assert top["content"] == "Run the undo command with the revision."
    assert top["metadata"]["heading"] == "Rollbacks"


@pytest.fixture
def embed_calls(monkeypatch: pytest.MonkeyPatch) -> List[int]:
    """How many texts each call of the lexical embedder got, in order."""
    calls: List[int] = []
    embed = HashingEmbedder.embed

    def counting(self: Any, batch: Any) -> Any:
        calls.append(len(batch))
        return embed(self, batch)

    monkeypatch.setattr(HashingEmbedder, "embed", counting)
    return calls


def write_sections(path: Path, title: str, count: int) -> None:
    """A Markdown file of ``count`` sections: one passage each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sections = "".join(f"## Part {j}\n\nPart {j} of {title} mentions item {j}.\n\n" for j in range(count))
    path.write_text(f"# {title}\n\n{sections}")


def contents(url: str, capsys: pytest.CaptureFixture[str], source: str) -> List[str]:
    capsys.readouterr()
    assert main(["query", "part", "--mode", "vector", "--json", "-k", "100", "--where", f"source={source}", "--db", url]) == 0
    return sorted(row["content"] for row in json.loads(capsys.readouterr().out))


def test_passages_are_embedded_and_written_a_batch_at_a_time(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], embed_calls: List[int]
) -> None:
    # Files of many passages: a batch of files must not become one write of all their passages.
    for i in range(3):
        write_sections(tmp_path / "docs" / f"small{i}.md", f"small {i}", 7)
    write_sections(tmp_path / "docs" / "big.md", "big", 25)  # more passages than a batch
    monkeypatch.chdir(tmp_path)
    assert main(["ingest", "docs", "--batch-size", "10", "--db", db_url, "--quiet"]) == 0
    assert "ingested 46 passages from 4 files" in capsys.readouterr().out
    assert sum(embed_calls) == 46 and max(embed_calls) <= 10
    assert stats(db_url, capsys)["document_count"] == 46
    # The big file and one small file change: their old passages go, the new ones come, a batch at a time.
    embed_calls.clear()
    write_sections(tmp_path / "docs" / "big.md", "big again", 30)
    write_sections(tmp_path / "docs" / "small1.md", "small one again", 2)
    assert main(["ingest", "docs", "--batch-size", "10", "--db", db_url, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "ingested 32 passages from 4 files" in out and "(2 unchanged, 2 replaced, 0 pruned)" in out
    assert sum(embed_calls) == 32 and max(embed_calls) <= 10
    assert stats(db_url, capsys)["document_count"] == 7 + 7 + 2 + 30
    big = contents(db_url, capsys, "docs/big.md")
    assert len(big) == 30 and all(" of big again " in text for text in big)
    embed_calls.clear()
    assert main(["ingest", "docs", "--batch-size", "10", "--db", db_url, "--quiet"]) == 0
    assert "(4 unchanged, 0 replaced, 0 pruned)" in capsys.readouterr().out
    assert embed_calls == []


def test_a_file_larger_than_a_batch_is_replaced_whole_or_not_at_all(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.md"
    write_sections(big, "old", 12)
    assert main(["ingest", str(big), "--batch-size", "5", "--db", db_url, "--quiet"]) == 0
    before = contents(db_url, capsys, big.resolve().as_posix())
    assert len(before) == 12
    # The new version's third slice of passages fails to embed: the first two were already inserted.
    write_sections(big, "new", 14)
    embed = HashingEmbedder.embed
    calls: List[int] = []

    def failing(self: Any, batch: Any) -> Any:
        calls.append(len(batch))
        if len(calls) == 3:
            raise RuntimeError("embedding model crashed")
        return embed(self, batch)

    monkeypatch.setattr(HashingEmbedder, "embed", failing)
    with pytest.raises(RuntimeError, match="embedding model crashed"):
        main(["ingest", str(big), "--batch-size", "5", "--db", db_url, "--quiet"])
    assert calls == [5, 5, 4]
    monkeypatch.setattr(HashingEmbedder, "embed", embed)
    assert stats(db_url, capsys)["document_count"] == 12
    assert contents(db_url, capsys, big.resolve().as_posix()) == before
    # Run again: the file is still old (its stored hash differs), so it is replaced now.
    assert main(["ingest", str(big), "--batch-size", "5", "--db", db_url, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "ingested 14 passages from 1 file" in out and "(0 unchanged, 1 replaced, 0 pruned)" in out
    assert stats(db_url, capsys)["document_count"] == 14
