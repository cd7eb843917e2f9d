"""Ingest of large files: read a piece at a time and split as written, in memory bounded by the batch."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any, List, Sequence

import pytest

from sqlalchemy_vector import cli
from sqlalchemy_vector.chunking import chunk_text
from sqlalchemy_vector.cli import main

WORDS = "river stone cloud lantern meadow harbor copper willow ember glacier orchard falcon".split()


def big_text(paragraphs: int) -> str:
    """Markdown of sections and paragraphs of 30-200 words (some cut into windows), CRLF line ends, a BOM."""
    parts = []
    for i in range(paragraphs):
        if i % 50 == 0:
            parts.append(f"## Part {i} ñ 漢字\r\n")
        words = " ".join(WORDS[(i * 7 + j) % len(WORDS)] + str(j % 13) for j in range(30 + (i * 37) % 170))
        parts.append(words + "\r\n")
    return "\ufeff" + "\r\n".join(parts)


def passages(url: str, capsys: pytest.CaptureFixture[str]) -> List[Any]:
    capsys.readouterr()
    assert main(["query", "river", "--mode", "vector", "--json", "-k", "1000", "--db", url]) == 0
    rows = json.loads(capsys.readouterr().out)
    return sorted((row["metadata"]["chunk"], row["content"], row["metadata"].get("heading")) for row in rows)


def test_a_large_file_is_split_as_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A file past the text a batch holds is read again in pieces and split as written: neither its text nor its
    # passages are held whole.  Before, the ingest held its bytes, its text and every passage's document at once.
    monkeypatch.setattr(cli, "_PIECE", 64 << 10, raising=False)
    monkeypatch.setattr(cli, "_HELD_TEXT", 256 << 10, raising=False)
    url = f"sqlite:///{tmp_path}/big.db"
    (tmp_path / "small.md").write_text("a small river note\n")  # the database made, its modules imported
    assert main(["ingest", str(tmp_path / "small.md"), "--db", url, "--quiet"]) == 0
    big = tmp_path / "big.md"
    big.write_bytes(big_text(6000).encode())  # about 5.6 MB, 8,400 passages
    tracemalloc.start()
    try:
        assert main(["ingest", str(big), "--batch-size", "10", "--db", url, "--quiet"]) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    size = big.stat().st_size
    assert peak < size / 2, f"the ingest of a {size:,}-byte file peaked at {peak:,} bytes"  # before: 6 times its size
    out = capsys.readouterr().out
    chunks = chunk_text(big.read_bytes().decode("utf-8-sig"))
    assert f"ingested {len(chunks)} passages from 1 file" in out


def test_passages_are_those_of_the_whole_text_across_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_PIECE", 7)  # CR LF, multi-byte characters and words cut between pieces
    monkeypatch.setattr(cli, "_HELD_TEXT", 0)
    note = tmp_path / "note.md"
    note.write_bytes(big_text(60).encode())
    url = f"sqlite:///{tmp_path}/pieces.db"
    assert main(["ingest", str(note), "--max-words", "50", "--overlap", "7", "--db", url, "--quiet"]) == 0
    whole = chunk_text(note.read_bytes().decode("utf-8-sig"), max_words=50, overlap=7)
    assert passages(url, capsys) == [(c.index, c.text, c.heading) for c in whole]


def test_a_file_read_again_that_changed_meanwhile_is_skipped_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    note = tmp_path / "note.md"
    note.write_text("first river text\n")
    (tmp_path / "other.md").write_text("another river text\n")
    url = f"sqlite:///{tmp_path}/race.db"
    assert main(["ingest", str(note), str(tmp_path / "other.md"), "--db", url, "--quiet"]) == 0
    note.write_text("second river text\n")
    monkeypatch.setattr(cli, "_HELD_TEXT", 0, raising=False)  # read again to be split
    lookup = cli._stored_hashes

    def saved_meanwhile(rag: Any, identities: Sequence[str]) -> Any:
        note.write_text("third river text\n")  # an editor saves the file after it was hashed
        return lookup(rag, identities)

    monkeypatch.setattr(cli, "_stored_hashes", saved_meanwhile)
    capsys.readouterr()
    assert main(["ingest", str(note), str(tmp_path / "other.md"), "--db", url, "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err == f"skipped {note}: changed while it was ingested (its stored passages are kept; ingest it again)\n"
    assert "from 1 file " in out and "(1 unchanged, 0 replaced" in out
    monkeypatch.setattr(cli, "_stored_hashes", lookup)
    assert sorted(text for _, text, _ in passages(url, capsys)) == ["another river text", "first river text"]
    assert main(["ingest", str(note), "--db", url, "--quiet"]) == 0
    assert sorted(text for _, text, _ in passages(url, capsys)) == ["another river text", "third river text"]
