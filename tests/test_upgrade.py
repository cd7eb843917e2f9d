"""Databases made by earlier versions keep working.

Each test builds the on-disk shape an earlier version left (its DDL, its
settings rows) with today's code and plain SQL, then uses it as today's code does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable, List, Tuple

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert, text
from sqlalchemy.engine import Connection

import sqlalchemy_vector as sv
from sqlalchemy_vector.cli import LEXICAL_MODEL, ingest_files, load_embedder, main
from sqlalchemy_vector.embedding import HashingEmbedder
from sqlalchemy_vector.fulltext import FullTextIndex, refresh_fulltext_index
from sqlalchemy_vector.hybrid import hybrid_select


def notes_table(conn: Connection, name: str, language: str = "english") -> Table:
    metadata = MetaData()
    table = Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("content", Text),
        Column("embedding", sv.Vector(2)),
        FullTextIndex(f"{name}_fts", "content", language=language),
    )
    metadata.create_all(conn)
    return table


def text_keys(conn: Connection, table: Table, query: str) -> List[Any]:
    statement = hybrid_select(table.c.content, table.c.embedding, query, [1.0, 0.0], bind=conn, weights=(0, 1))
    return [row[0] for row in conn.execute(statement)]


# -- SQLite: the full-text update trigger of an earlier version -------------------------------------


def old_sqlite_update_trigger(conn: Connection, name: str, table: str) -> None:
    """The update trigger versions before the rowid fix built: it fired on UPDATE OF the column only."""
    conn.exec_driver_sql(f"DROP TRIGGER {name}_au")
    conn.exec_driver_sql(
        f"CREATE TRIGGER {name}_au AFTER UPDATE OF content ON {table} BEGIN "
        f"INSERT INTO {name}({name}, rowid, content) VALUES ('delete', old.rowid, old.content); "
        f"INSERT INTO {name}(rowid, content) VALUES (new.rowid, new.content); END"
    )


def update_trigger_sql(conn: Connection, name: str) -> str:
    return str(conn.exec_driver_sql(f"SELECT sql FROM sqlite_master WHERE name = '{name}_au'").scalar())


@pytest.mark.parametrize("backend", ["sqlite", "sqlite-python"])
def test_sqlite_fulltext_index_of_an_earlier_version_is_brought_up_to_date_by_refresh(conn: Connection) -> None:
    table = notes_table(conn, "upg_notes")
    index = next(iter(table.indexes))
    conn.execute(insert(table), [{"id": 1, "content": "unique identifiers", "embedding": [1, 0]},
                                 {"id": 2, "content": "random numbers", "embedding": [0, 1]}])
    old_sqlite_update_trigger(conn, "upg_notes_fts", "upg_notes")
    # Used under the earlier version: a changed key left its entry under the old rowid, which a new row took.
    conn.execute(table.update().where(table.c.id == 1).values(id=10))
    conn.execute(insert(table), {"id": 1, "content": "parse dates", "embedding": [1, 0]})

    assert refresh_fulltext_index(conn, index) is True  # the trigger replaced, the index rebuilt
    assert "old.rowid IS NOT new.rowid" in update_trigger_sql(conn, "upg_notes_fts")
    assert text_keys(conn, table, "unique") == [10]
    assert text_keys(conn, table, "parse") == [1]
    conn.exec_driver_sql("INSERT INTO upg_notes_fts(upg_notes_fts, rank) VALUES ('integrity-check', 1)")
    assert refresh_fulltext_index(conn, index) is False  # once
    conn.execute(table.update().where(table.c.id == 2).values(id=20))  # followed from now on
    assert text_keys(conn, table, "random") == [20]


def test_facade_brings_an_earlier_sqlite_fulltext_index_up_to_date(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    rag = sv.VectorRAG(url, dimension=16)
    try:
        rag.load_documents([{"content": "unique identifiers"}, {"content": "random numbers"}], show_progress=False)
        rag.create_fulltext_index()
        name = "documents_content_fts"  # the facade's default index name
        with rag.engine.begin() as conn:
            old_sqlite_update_trigger(conn, name, "documents")
        assert [r["content"] for r in rag.hybrid_query("unique", top_k=1)] == ["unique identifiers"]
        with rag.engine.connect() as conn:
            assert "old.rowid IS NOT new.rowid" in update_trigger_sql(conn, name)
    finally:
        rag.close()


def test_sqlite_fulltext_index_of_an_earlier_version_opened_read_only_is_searched_as_it_is(tmp_path: Path) -> None:
    engine = sv.create_engine(f"sqlite:///{tmp_path}/old.db")
    with engine.begin() as conn:
        table = notes_table(conn, "upg_ro")
        conn.execute(insert(table), [{"id": 1, "content": "unique identifiers", "embedding": [1, 0]}])
        old_sqlite_update_trigger(conn, "upg_ro_fts", "upg_ro")
    engine.dispose()
    index = next(iter(table.indexes))
    read_only = sv.create_engine(f"sqlite:///file:{tmp_path}/old.db?mode=ro&uri=true")
    try:
        with read_only.connect() as conn:
            assert refresh_fulltext_index(conn, index) is False  # cannot write: no error, nothing changed
            assert text_keys(conn, table, "unique") == [1]
            assert "old.rowid IS NOT new.rowid" not in update_trigger_sql(conn, "upg_ro_fts")
    finally:
        read_only.dispose()


# -- DuckDB: a full-text index of an earlier version kept the English stop words in every language --


def old_duckdb_stop_words(conn: Connection, table: str) -> None:
    """Rebuild ``table``'s index as versions before the stop-word fix did: fts's default (English) stop words."""
    schema = f"fts_main_{table}"
    state = dict(conn.exec_driver_sql(f"SELECT * FROM {schema}.index_state").mappings().one())
    conn.exec_driver_sql(f"PRAGMA create_fts_index('{table}', 'id', 'content', stemmer='none', overwrite=1)")
    conn.exec_driver_sql(
        f"CREATE TABLE {schema}.index_state (name VARCHAR, column_name VARCHAR, language VARCHAR, rows BIGINT, "
        "fingerprint UBIGINT, built_writes BIGINT NOT NULL)"
    )
    conn.exec_driver_sql(f"INSERT INTO {schema}.index_state VALUES (?, ?, ?, ?, ?, ?)", tuple(state.values()))


@pytest.mark.parametrize("backend", ["duckdb"])
def test_duckdb_fulltext_index_of_an_earlier_version_keeps_stop_words_after_refresh(conn: Connection) -> None:
    table = notes_table(conn, "upg_simple", language="simple")
    index = next(iter(table.indexes))
    conn.execute(insert(table), [{"id": 1, "content": "the who", "embedding": [1, 0]},
                                 {"id": 2, "content": "notes about nothing", "embedding": [0, 1]}])
    refresh_fulltext_index(conn, index)
    old_duckdb_stop_words(conn, "upg_simple")
    assert text_keys(conn, table, "the") == []  # what the earlier version's index answers

    assert refresh_fulltext_index(conn, index) is True
    assert text_keys(conn, table, "the") == [1]  # as an index built today, and as PostgreSQL and SQLite answer
    assert text_keys(conn, table, "about nothing") == [2]
    assert refresh_fulltext_index(conn, index) is False  # once


def test_duckdb_fulltext_index_of_an_earlier_version_opened_read_only_is_searched_as_it_is(tmp_path: Path) -> None:
    engine = sv.create_engine(f"duckdb:///{tmp_path}/old.duckdb")
    with engine.begin() as conn:
        table = notes_table(conn, "upg_ro", language="simple")
        conn.execute(insert(table), [{"id": 1, "content": "the band sings", "embedding": [1, 0]}])
    # One transaction each: DuckDB 1.5.5 fails the commit of a transaction that builds an index and drops it.
    with engine.begin() as conn:
        refresh_fulltext_index(conn, next(iter(table.indexes)))
    with engine.begin() as conn:
        old_duckdb_stop_words(conn, "upg_ro")
    engine.dispose()
    read_only = sv.create_engine(f"duckdb:///{tmp_path}/old.duckdb?access_mode=read_only")
    try:
        with read_only.connect() as conn:
            assert refresh_fulltext_index(conn, next(iter(table.indexes))) is False  # cannot rebuild: no error
            assert text_keys(conn, table, "band") == [1]
            assert text_keys(conn, table, "the") == []  # its stop words kept, until opened for writing
    finally:
        read_only.dispose()


# -- The command-line tool: a database holding files identified both with and without --root ------------


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql", "clickhouse"])
def test_ingest_into_a_database_of_both_kinds_of_identity(
    backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Earlier releases stored files ingested with --root under their path there and the others under their
    # resolved path, in one database. Today's refusal read one stored file, whichever came first: ingesting the
    # other files as before was refused, and the way out it named stored them a second time.
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        for i in range(2):
            (tmp_path / folder / f"{folder}{i}.md").write_text(f"# Note {folder}{i}\n\nAbout topic {folder}{i}.\n")
    monkeypatch.chdir(tmp_path)
    url = fresh_database_url(backend)
    assert main(["ingest", "a", "--root", ".", "--db", url, "--quiet"]) == 0
    rag = sv.VectorRAG(url, embedder=load_embedder(LEXICAL_MODEL))
    try:
        ingest_files(rag, sorted((tmp_path / "b").glob("*.md")))  # as an earlier release's ingest without --root
    finally:
        rag.close()

    def count() -> int:
        capsys.readouterr()
        assert main(["stats", "--json", "--db", url]) == 0
        return int(json.loads(capsys.readouterr().out)["document_count"])

    assert count() == 4
    for paths in (["a", "--root", "."], ["b"]):  # each file the way it is stored: unchanged
        capsys.readouterr()
        assert main(["ingest", *paths, "--db", url, "--quiet"]) == 0, capsys.readouterr().err
        assert "(2 unchanged, 0 replaced, 0 pruned)" in capsys.readouterr().out
    (tmp_path / "b" / "b0.md").write_text("# Note b0\n\nChanged.\n")
    assert main(["ingest", "b", "--db", url, "--quiet"]) == 0
    assert "(1 unchanged, 1 replaced, 0 pruned)" in capsys.readouterr().out
    # The other way would store them twice: refused, naming how each was ingested.
    assert main(["ingest", "b", "--root", ".", "--db", url, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"is stored under its resolved path {tmp_path.resolve()}/b/b0.md" in err
    assert "ingest it without --root, as before" in err
    assert main(["ingest", "a", "--db", url, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"ingest it with --root {tmp_path.resolve()}, as before" in err
    assert count() == 4


# -- The command-line tool: a database that records no passage size --------------------------------------


def forget_passage_size(url: str) -> None:
    """Leave the settings as releases before the passage size was recorded did: the model alone."""
    engine = sv.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM vector_collection WHERE key IN ('max_words', 'overlap')"))
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql", "clickhouse"])
def test_ingest_into_a_database_recording_no_passage_size(
    backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Earlier releases recorded the model but not --max-words and --overlap. The first ingest after the upgrade
    # took its own sizes for the stored passages' without looking: other sizes kept every unchanged file's old
    # passages while recording the new sizes, and the original sizes then split every file again.
    from cli_fixtures import CORPUS

    shutil.copytree(CORPUS, tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    url = fresh_database_url(backend)
    embedded: List[str] = []
    embed = HashingEmbedder.embed

    def counting(self: Any, batch: Any) -> Any:
        embedded.extend(batch)
        return embed(self, batch)

    monkeypatch.setattr(HashingEmbedder, "embed", counting)

    def ingest(*options: str) -> Tuple[str, str]:
        capsys.readouterr()
        embedded.clear()
        assert main(["ingest", "corpus", *options, "--db", url, "--quiet"]) == 0
        return capsys.readouterr()

    def sizes() -> List[int]:
        capsys.readouterr()
        assert main(["query", "vector", "--mode", "vector", "-k", "1000", "--json", "--db", url]) == 0
        return sorted(len(r["content"].split()) for r in json.loads(capsys.readouterr().out))

    for first, then in ((["--max-words", "40"], []), ([], ["--max-words", "40"])):
        ingest(*first)
        made = sizes()
        forget_passage_size(url)  # the settings an earlier release left
        out, err = ingest(*first)  # the sizes it was built with: nothing to do, and they are recorded
        assert "(5 unchanged, 0 replaced, 0 pruned)" in out and err == "" and embedded == []
        out, err = ingest(*then)
        assert "(0 unchanged, 5 replaced, 0 pruned)" in out and embedded
        assert "splitting the files again" in err and sizes() != made
        forget_passage_size(url)
        out, err = ingest(*first)  # other sizes than the stored passages': those files split again
        assert "(0 unchanged, 5 replaced, 0 pruned)" in out and embedded
        assert "split 5 unchanged files again: their stored passages were split otherwise than" in err
        assert sizes() == made
        out, err = ingest(*first)
        assert "(5 unchanged, 0 replaced, 0 pruned)" in out and embedded == []


# -- The facade: vectors an earlier release recorded under another name for the same embedder -------------


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql"])
def test_facade_finds_vectors_recorded_under_the_embedders_former_name(
    backend: str, fresh_database_url: Callable[[str], str]
) -> None:
    # Earlier releases named HashingEmbedder(ngram_range=[3, 5]) (the defaults, given as a list) by its settings;
    # today it is the default model. Its stored vectors were no longer searched: every query found nothing.
    url = fresh_database_url(backend)
    earlier = HashingEmbedder(dimension=16, version=2)
    earlier.model_name = "hashing-v2-16-n35-w1-b0.5-c1-s042313"  # what such a release recorded
    rag = sv.VectorRAG(url, embedder=earlier)
    try:
        rag.load_documents([{"content": f"notes about {word}"} for word in ("apples", "pears", "plums")], show_progress=False)
    finally:
        rag.close()

    rag = sv.VectorRAG(url, embedder=HashingEmbedder(dimension=16, ngram_range=[3, 5]))
    try:
        assert rag.embedder.model_name == "hashing-v2-16"
        assert [r["content"] for r in rag.query("pears", top_k=1)] == ["notes about pears"]
        rag.load_documents([{"content": "notes about figs"}], show_progress=False)  # joins them
        assert rag.get_statistics()["models"] == {earlier.model_name: 4}
        assert [r["content"] for r in rag.query("figs", top_k=1)] == ["notes about figs"]
    finally:
        rag.close()


# -- HashingEmbedder's version 2: a database holding its vectors keeps being searched with them ------------

# Version 3 reads these as words (combining marks kept, one Unicode form, character pairs for Chinese); version 2
# cut them into pieces, so a version 3 query vector shares little with the version 2 vector of the same text.
MARKED = ["नमस्ते दुनिया", "今天天气很好", "résumé café", "plain english notes"]


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql", "clickhouse"])
def test_facade_searches_version_2_vectors_with_version_2(backend: str, fresh_database_url: Callable[[str], str]) -> None:
    url = fresh_database_url(backend)
    rag = sv.VectorRAG(url, embedder=HashingEmbedder(dimension=16, version=2))  # what an earlier release made
    try:
        rag.load_documents([{"content": text} for text in MARKED], show_progress=False)
    finally:
        rag.close()
    rag = sv.VectorRAG(url, dimension=16)  # today's default embedder is version 3
    try:
        for text in MARKED:
            found = rag.query(text, top_k=1)
            assert [r["content"] for r in found] == [text] and found[0]["similarity"] == pytest.approx(1.0, abs=1e-5)
        assert rag.embedder.model_name == "hashing-v2-16"
        rag.load_documents([{"content": "दुनिया नमस्ते"}], show_progress=False)  # joins them, as version 2
        assert rag.get_statistics()["models"] == {"hashing-v2-16": 5}
    finally:
        rag.close()


@pytest.mark.parametrize("backend", ["sqlite", "duckdb"])
def test_cli_database_of_the_lexical_model_at_version_2(backend: str, tmp_path: Path, capsys: Any) -> None:
    # An earlier release recorded its default model as 'lexical', which made hashing-v2-384 vectors; 'lexical' is
    # version 3 today. The database's queries and ingests keep using version 2, the version of its vectors.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "hindi.md").write_text("नमस्ते दुनिया, यह एक छोटा नोट है।\n", encoding="utf-8")
    (corpus / "english.md").write_text("Notes about vector indexes and queries.\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path}/cli.db" if backend == "sqlite" else f"duckdb:///{tmp_path}/cli.duckdb"
    assert main(["ingest", str(corpus), "--model", "hashing-v2-384", "--db", url, "--quiet"]) == 0
    engine = sv.create_engine(url)
    with engine.begin() as conn:  # what an earlier release recorded for its default model
        conn.execute(text("UPDATE vector_collection SET value = :v WHERE key = 'model'"), {"v": LEXICAL_MODEL})
    engine.dispose()
    capsys.readouterr()
    assert main(["query", "नमस्ते दुनिया", "-k", "1", "--db", url, "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert "नमस्ते" in hits[0]["content"] and hits[0]["similarity"] > 0.5
    (corpus / "more.md").write_text("दुनिया के बारे में और नोट्स।\n", encoding="utf-8")
    assert main(["ingest", str(corpus), "--db", url, "--quiet"]) == 0
    assert "ingested 1 passages from 3 files" in capsys.readouterr().out
    assert main(["stats", "--db", url, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["embedding_model"] == "hashing-v2-384" and list(stats["models"]) == ["hashing-v2-384"]


# -- HashingEmbedder's version 1: no release makes its vectors any more -----------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql", "clickhouse"])
def test_facade_refuses_version_1_vectors_instead_of_finding_none(
    backend: str, fresh_database_url: Callable[[str], str]
) -> None:
    # The first releases stored HashingEmbedder's vectors as hashing-v1-N. Today's facade searched for its own
    # name only: every query of such a database found nothing, and new documents became a second model beside them.
    url = fresh_database_url(backend)
    earlier = HashingEmbedder(dimension=16, version=2)
    earlier.model_name = "hashing-v1-16"  # what those releases recorded
    rag = sv.VectorRAG(url, embedder=earlier)
    try:
        rag.load_documents([{"content": f"notes about {word}"} for word in ("apples", "pears")], show_progress=False)
    finally:
        rag.close()
    with pytest.raises(sv.exc.ModelConfigurationError) as caught:
        sv.VectorRAG(url, dimension=16)
    message = str(caught.value)
    assert "'hashing-v1-16'" in message and "'hashing-v3-16'" in message and "new database" in message
    rag = sv.VectorRAG(url, embedder=earlier)  # nothing was written
    try:
        assert rag.get_statistics()["models"] == {"hashing-v1-16": 2}
    finally:
        rag.close()


def test_cli_names_version_1_as_no_longer_made(tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The refusal said "pass the --model they were made with"; --model hashing-v1-384 then went looking for a
    # sentence-transformers model of that name on the network.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(sv.exc.InvalidArgumentError, match="version 1") as caught:
        load_embedder("hashing-v1-384")
    assert "new database" in str(caught.value)
    url = f"sqlite:///{tmp_path}/cli.db"
    earlier = HashingEmbedder(version=2)
    earlier.model_name = "hashing-v1-384"
    rag = sv.VectorRAG(url, embedder=earlier)
    try:
        rag.load_documents([{"content": "notes about pears"}], show_progress=False)
    finally:
        rag.close()
    capsys.readouterr()
    assert main(["query", "pears", "--db", url]) != 0
    err = capsys.readouterr().err
    assert "'hashing-v1-384'" in err and "new database" in err and "pass the --model" not in err


# -- a version of HashingEmbedder newer than this release: a database a later release wrote ---------------------


def test_vectors_of_a_later_release_ask_for_an_upgrade(tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Version 4 was taken for a retired version: the advice was to embed everything again into a new database,
    # where the fix is to upgrade the package that opens it.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(sv.exc.InvalidArgumentError, match="version 4, which a later release") as caught:
        load_embedder("hashing-v4-384")
    assert "pip install -U sqlalchemy-vector" in str(caught.value)
    url = f"sqlite:///{tmp_path}/later.db"
    later = HashingEmbedder(version=3)
    later.model_name = "hashing-v4-384"  # what such a release would record
    rag = sv.VectorRAG(url, embedder=later)
    try:
        rag.load_documents([{"content": "notes about pears"}], show_progress=False)
    finally:
        rag.close()
    with pytest.raises(sv.exc.ModelConfigurationError) as raised:
        sv.VectorRAG(url, dimension=384)
    message = str(raised.value)
    assert "'hashing-v4-384'" in message and "pip install -U sqlalchemy-vector" in message
    assert "new database" not in message
    capsys.readouterr()
    assert main(["query", "pears", "--db", url]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'hashing-v4-384'" in err and "pip install -U sqlalchemy-vector" in err
    assert "new database" not in err
