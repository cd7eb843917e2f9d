"""Parquet export and import with the async facade: through ``AsyncVectorRAG.run_sync``, on every backend."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Callable, List, Tuple

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqlalchemy_vector import AsyncVectorRAG, VectorRAG, export_parquet, import_parquet
from sqlalchemy_vector import exc as x
from tests.conftest import CLICKHOUSE

DIM = 4
DOCUMENTS = [
    {"document_id": f"d{i}", "content": f"text {i}", "metadata": {"n": i}, "embedding": [1.0, float(i), 0.5, -1.0]}
    for i in range(7)
]


def async_url(url: str) -> str:
    return url.replace("sqlite:", "sqlite+aiosqlite:", 1).replace("postgresql+psycopg:", "postgresql+psycopg_async:", 1)


def contents(found: List[dict]) -> List[Tuple[Any, ...]]:
    return sorted((r["document_id"], r["content"], r["metadata"]["n"]) for r in found)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "duckdb", CLICKHOUSE])
async def test_export_and_import_through_run_sync(
    backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    # export_parquet(async_rag, ...) raised AttributeError '_store', and the sync facade inside the loop
    # MissingGreenlet: there was no way to export from or import into an async facade.
    rag = AsyncVectorRAG(async_url(fresh_database_url(backend)), dimension=DIM)
    try:
        await rag.load_documents(DOCUMENTS, show_progress=False)
        before = contents(await rag.query_with_filters({}, top_k=100))
        path = tmp_path / "docs.parquet"
        assert await rag.run_sync(export_parquet, path, batch_size=3) == len(DOCUMENTS)
        assert await rag.delete_documents(filters={}) == len(DOCUMENTS)
        assert await rag.run_sync(import_parquet, path) == len(DOCUMENTS)
        assert contents(await rag.query_with_filters({}, top_k=100)) == before
        nearest = await rag.query_with_embedding([1.0, 6.0, 0.5, -1.0], top_k=1)
        assert nearest[0]["document_id"] == "d6"
        with pytest.raises(x.InvalidArgumentError, match=r"export_parquet\(\) takes a VectorRAG, got an AsyncVectorRAG.*"
                           r"await rag.run_sync\(export_parquet, path\)"):
            export_parquet(rag, path)
        with pytest.raises(x.InvalidArgumentError, match=r"await rag.run_sync\(import_parquet, path\)"):
            import_parquet(rag, path)

        async def coroutine(sync_rag: Any) -> None:
            pass

        # It returned the coroutine, never run.
        with pytest.raises(x.InvalidArgumentError, match=r"run_sync runs a synchronous function of the VectorRAG, got the coroutine function 'coroutine'"):
            await rag.run_sync(coroutine)
    finally:
        await rag.close()


def test_arguments_in_the_wrong_place(tmp_path: Path) -> None:
    rag = VectorRAG(f"sqlite:///{tmp_path}/a.db", dimension=DIM)
    path = tmp_path / "docs.parquet"
    with pytest.raises(x.InvalidArgumentError, match=r"takes a VectorRAG first, got PosixPath.*the path comes second"):
        export_parquet(path, rag)  # type: ignore[arg-type]
    with pytest.raises(x.InvalidArgumentError, match=r"export_parquet\(\) takes a file path \(str or Path\), got int 123"):
        export_parquet(rag, 123)  # type: ignore[arg-type]
    rag.load_documents(DOCUMENTS[:2], show_progress=False)
    export_parquet(rag, path)
    # "no" was taken as True: the ids were kept, and a second import failed on the duplicate keys.
    with pytest.raises(x.InvalidArgumentError, match=r"keep_ids=...\) takes True or False, got str 'no'"):
        import_parquet(rag, path, keep_ids="no")  # type: ignore[arg-type]
    assert rag.get_statistics()["document_count"] == 2
    rag.close()


# -- what a file holds, and files that are not whole ------------------------------------------------------------

ALL_BACKENDS = ["sqlite", "postgresql", "duckdb", CLICKHOUSE]


def _copy_url(backend: str, tmp_path: Path) -> str:
    """A second, empty database for a test whose first one is ``backend``'s fresh one."""
    return f"duckdb:///{tmp_path}/copy.duckdb" if backend == "sqlite" else f"sqlite:///{tmp_path}/copy.db"


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_export_refuses_vectors_a_file_would_leave_out(
    backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    # The file holds one vector per document, of the facade's model. Several embeddings of a document kept one
    # arbitrary one, another model's vectors were not written, and a facade opened without the embedder the data
    # was built with wrote every document without its vector: all silently.
    import numpy as np
    from sqlalchemy import delete
    from sqlalchemy.orm import Session

    from sqlalchemy_vector import CallableEmbedder
    from sqlalchemy_vector.orm import new_ids

    url = fresh_database_url(backend)
    rag = VectorRAG(url, dimension=DIM)
    path = tmp_path / "docs.parquet"
    try:
        rag.load_documents(DOCUMENTS, show_progress=False)
        E = rag.embedding_model
        assert E is not None
        with Session(rag.engine) as session:
            for vector in ([0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]):  # two more chunks of d1
                session.add(E(id=new_ids(1)[0], document_id="d1", model_name=rag.embedder.model_name, embedding=vector))
            session.commit()
        with pytest.raises(x.ModelConfigurationError, match=r"1 document\(s\) have several embeddings of 'hashing-v3-4'.*"
                           r"all but one would be left out; store each chunk as a document of its own"):
            export_parquet(rag, path)
        assert not path.exists()
        with Session(rag.engine) as session:
            session.execute(delete(E).where(E.document_id == "d1"))
            session.add(E(id=new_ids(1)[0], document_id="d1", model_name="other-model", embedding=[1.0, 2.0, 3.0, 4.0]))
            session.commit()
        with pytest.raises(x.ModelConfigurationError, match=r"holds vectors of 'other-model' \(1 vectors\) besides the "
                           r"facade's 'hashing-v3-4'.*they would be left out; delete the other models' embeddings"):
            export_parquet(rag, path)
        assert not path.exists()
        with Session(rag.engine) as session:
            session.execute(delete(E).where(E.document_id.is_not(None)))
            session.commit()
        other = CallableEmbedder(lambda texts: np.ones((len(texts), DIM)), dimension=DIM, model_name="neural-model")
        built = VectorRAG(url, embedder=other)
        built.load_documents([{"content": "with the other model", "document_id": "n1"}], show_progress=False)
        built.close()
        with pytest.raises(x.ModelConfigurationError, match=r"embeds with 'hashing-v3-4', which holds no vectors in "
                           r"embeddings, but the documents have vectors of 'neural-model' \(1 vectors\).*"
                           r"open the facade with the embedder those vectors were made with"):
            export_parquet(rag, path)
        assert not path.exists()
        # Documents stored without a vector are no loss: they are exported, and come back without one.
        with Session(rag.engine) as session:
            session.execute(delete(E).where(E.document_id.is_not(None)))
            session.commit()
        assert export_parquet(rag, path) == len(DOCUMENTS) + 1
    finally:
        rag.close()


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_created_at_moves_with_the_documents(
    backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    # Every imported document got the time of the import, so "oldest first" came back in another order.
    import time

    import pyarrow.parquet as pq

    rag = VectorRAG(fresh_database_url(backend), dimension=DIM)
    copy = VectorRAG(_copy_url(backend, tmp_path), dimension=DIM)
    names = ["zeta", "alpha", "mid"]  # loaded in this order: not the order of their ids
    try:
        for name in names:
            rag.load_document(f"content of {name}", {"tag": "x"}, document_id=name, generate_embedding=True)
            time.sleep(0.01)
        path = tmp_path / "docs.parquet"
        assert export_parquet(rag, path) == 3
        assert import_parquet(copy, path) == 3
        assert [d["created_at"] for d in copy.get_documents(names)] == [d["created_at"] for d in rag.get_documents(names)]
        assert [r["document_id"] for r in copy.query_with_filters({"tag": "x"})] == names
        # A file written before created_at was carried imports as before: the time of the import.
        table = pq.read_table(path)
        pq.write_table(table.drop(["created_at"]), tmp_path / "old.parquet")
        before = time.time()
        assert import_parquet(copy, tmp_path / "old.parquet", keep_ids=False) == 3
        new = [r for r in copy.query_with_filters({"tag": "x"}, top_k=10) if r["document_id"] not in names]
        assert len(new) == 3 and all(copy.get_document(r["document_id"])["created_at"].timestamp() >= before - 5 for r in new)
    finally:
        rag.close()
        copy.close()


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_uuid_keys_round_trip(backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path) -> None:
    # A documents table keyed by a native Uuid column: import passed the file's ids on as str (refused), and ids
    # made for documents given none were UUID strings (SQLite refused them; elsewhere get_document refused them).
    from sqlalchemy_vector import create_engine
    from sqlalchemy_vector.orm import EmbeddedDocumentMixin

    made: List[uuid.UUID] = []

    def default() -> uuid.UUID:
        made.append(uuid.uuid4())
        return made[-1]

    class Base(DeclarativeBase):
        pass

    class Item(EmbeddedDocumentMixin, Base):
        __tablename__ = "items"
        __dimension__ = DIM
        id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=default)

    def facade(url: str) -> VectorRAG:
        engine = create_engine(url)
        Base.metadata.create_all(engine)
        return VectorRAG(engine, document_model=Item)

    rag, copy = facade(fresh_database_url(backend)), facade(_copy_url(backend, tmp_path))
    try:
        given = [uuid.UUID(int=i + 1) for i in range(3)]
        rag.load_documents([{"content": f"c{i}", "document_id": given[i]} for i in range(3)], show_progress=False)
        generated = rag.load_document("without an id")
        assert isinstance(generated, uuid.UUID) and made == [generated]  # the key's own default made it
        assert rag.get_document(generated)["content"] == "without an id"
        path = tmp_path / "items.parquet"
        assert export_parquet(rag, path) == 4
        assert import_parquet(copy, path) == 4
        assert sorted(d["document_id"] for d in copy.get_documents([*given, generated])) == sorted([*given, generated])
        assert import_parquet(copy, path, keep_ids=False) == 4
        assert copy.get_statistics()["document_count"] == 8 and len(made) == 5
    finally:
        rag.close()
        copy.close()


@pytest.mark.parametrize("backend", ["sqlite", CLICKHOUSE])
def test_a_damaged_row_group_names_the_file(
    backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    # pyarrow's OSError came out raw, naming no file; on ClickHouse the batches before it stayed (unsaid, later
    # said with how many).
    import pyarrow.parquet as pq

    source = VectorRAG(f"sqlite:///{tmp_path}/source.db", dimension=DIM)
    source.load_documents(
        [{"content": f"document number {i} " * 20, "document_id": f"d{i:04d}"} for i in range(300)], show_progress=False
    )
    good = tmp_path / "good.parquet"
    export_parquet(source, good, batch_size=100)  # three row groups
    source.close()
    column = pq.ParquetFile(good).metadata.row_group(2).column(1)
    raw = bytearray(good.read_bytes())
    start = column.dictionary_page_offset if column.has_dictionary_page else column.data_page_offset
    for i in range(start + 40, start + column.total_compressed_size - 8, 3):
        raw[i] ^= 0x5A
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(bytes(raw))
    url = fresh_database_url(backend) if backend == CLICKHOUSE else f"sqlite:///{tmp_path}/target.db"
    rag = VectorRAG(url, dimension=DIM)
    try:
        with pytest.raises(x.InvalidDocumentError) as caught:
            import_parquet(rag, bad, batch_size=100)
        message = str(caught.value)
        assert message.startswith(f"{bad}: row group 2 of 3 cannot be read (") and "export the database again" in message
        # On ClickHouse too, which has no transactions: the batches written before it are deleted again.
        assert rag.get_statistics()["document_count"] == 0 and "written before" not in message
    finally:
        rag.close()


def test_export_pages_larger_than_the_parameter_limit(fresh_database_url: Callable[[str], str], tmp_path: Path) -> None:
    # The page's vectors were read with one IN list of batch_size ids: past 65,535 psycopg refused the statement.
    import pyarrow.parquet as pq

    rag = VectorRAG(fresh_database_url("postgresql"), dimension=2)
    try:
        count = 66_000
        rag.load_documents(
            ({"content": "x", "embedding": [1.0, float(i)]} for i in range(count)),
            generate_embeddings=False, show_progress=False, batch_size=20_000,
        )
        path = tmp_path / "big.parquet"
        assert export_parquet(rag, path, batch_size=100_000) == count
        assert pq.read_table(path).column("embedding").null_count == 0
    finally:
        rag.close()


def test_files_and_paths_are_named_in_errors(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rag = VectorRAG(f"sqlite:///{tmp_path}/a.db", dimension=DIM)
    try:
        rag.load_documents(DOCUMENTS[:2], show_progress=False)
        # Exporting into a missing directory named the hidden temporary file, not the path given.
        with pytest.raises(x.InvalidArgumentError, match=rf"directory {tmp_path}/nope does not exist, so "
                           rf"{tmp_path}/nope/d.parquet cannot be written"):
            export_parquet(rag, tmp_path / "nope" / "d.parquet")
        with pytest.raises(x.InvalidArgumentError, match=rf"{tmp_path} is a directory; pass the path of a file in it"):
            export_parquet(rag, tmp_path)
        path = tmp_path / "d.parquet"
        export_parquet(rag, path)
        table = pq.read_table(path)
        # The right columns without the schema's metadata read "holds embeddings of None (None dimensions)".
        pq.write_table(table.replace_schema_metadata(None), tmp_path / "bare.parquet")
        with pytest.raises(x.InvalidDocumentError, match=r"bare.parquet is not a file written by export: its schema "
                           r"does not record the embedding model and dimension"):
            import_parquet(rag, tmp_path / "bare.parquet")
        # A bad row is named by its file and row, not as documents[0].
        content = table.column("content").to_pylist()
        content[1] = None
        with_column(table, "content", pa.array(content, pa.string()), tmp_path / "broken.parquet")
        with pytest.raises(x.InvalidDocumentError, match=rf"^{tmp_path}/broken.parquet: row 1 content must be a string"):
            import_parquet(rag, tmp_path / "broken.parquet", keep_ids=False)
        vectors = table.column("embedding").to_pylist()
        vectors[0] = [float("nan")] * DIM
        with_column(table, "embedding", pa.array(vectors, table.schema.field("embedding").type), tmp_path / "nan.parquet")
        with pytest.raises(x.InvalidVectorError, match=rf"^{tmp_path}/nan.parquet: row 0 embedding expects finite numbers"):
            import_parquet(rag, tmp_path / "nan.parquet", keep_ids=False)
        assert rag.get_statistics()["document_count"] == 2
    finally:
        rag.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "duckdb", CLICKHOUSE])
def test_a_file_of_integer_ids_is_named_for_text_keys(
    backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    # The check for ids stored already sent them as they were: PostgreSQL raised "operator does not exist:
    # character varying = integer", and DuckDB, with a row stored, "Could not convert string ... to INT32".
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = exported(tmp_path, DOCUMENTS[:2])
    table = pq.read_table(path)
    with_column(table, "document_id", pa.array([1, 2], pa.int64()), tmp_path / "ints.parquet")
    rag = VectorRAG(fresh_database_url(backend), dimension=DIM)
    try:
        rag.load_documents([{"content": "already here", "document_id": "seed"}], show_progress=False)
        with pytest.raises(x.InvalidDocumentError, match=r"ints.parquet: row 0 document_id must be a str \(documents.id holds str ids\), got int 1"):
            import_parquet(rag, tmp_path / "ints.parquet")
        assert rag.get_statistics()["document_count"] == 1
    finally:
        rag.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "duckdb", CLICKHOUSE])
def test_created_at_of_other_kinds_is_read_as_naive_utc(
    backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    # A timestamp with a time zone (12:00 UTC written as 13:00 Europe/Paris) was stored as 13:00 on SQLite and as
    # 12:00 elsewhere; an ISO string was refused by SQLite only.
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    path = exported(tmp_path, DOCUMENTS[:3])
    table = pq.read_table(path)
    noon = dt.datetime(2020, 1, 1, 12, 0)
    zoned = pa.array([noon.replace(tzinfo=dt.timezone.utc)] * 3, pa.timestamp("us", tz="Europe/Paris"))
    with_column(table, "created_at", zoned, tmp_path / "zoned.parquet")
    texts = pa.array(["2020-01-01T12:00:00", "2020-01-01T13:00:00+01:00", None], pa.string())
    with_column(table, "created_at", texts, tmp_path / "texts.parquet")
    with_column(table, "created_at", pa.array(["yesterday"] * 3), tmp_path / "bad.parquet")
    for name in ("zoned", "texts"):
        rag = VectorRAG(fresh_database_url(backend), dimension=DIM)
        try:
            assert import_parquet(rag, tmp_path / f"{name}.parquet", keep_ids=False) == 3
            with rag.engine.connect() as connection:
                stamps = connection.execute(sa.select(rag.document_model.created_at)).scalars().all()
            assert stamps.count(noon) == (3 if name == "zoned" else 2), (name, stamps)  # the third text is None: now
            with pytest.raises(x.InvalidDocumentError, match=r"bad.parquet, row 0: created_at 'yesterday' is not an ISO 8601 timestamp"):
                import_parquet(rag, tmp_path / "bad.parquet", keep_ids=False)
            rag.delete_documents(filters={})  # the next file into the same database
        finally:
            rag.close()
            rag.engine.dispose()


def with_column(table: Any, column: str, values: Any, path: Path) -> None:
    """An exported ``table`` with ``column`` replaced by ``values``, written to ``path``: a file another tool made."""
    import pyarrow.parquet as pq

    pq.write_table(table.set_column(table.schema.get_field_index(column), column, values), path)


def exported(tmp_path: Path, documents: List[dict], name: str = "all.parquet") -> Path:
    """``documents`` loaded into a SQLite database under ``tmp_path``, exported to ``name`` there."""
    source = VectorRAG(f"sqlite:///{tmp_path}/source.db", dimension=DIM)
    try:
        source.load_documents(documents, show_progress=False)
        path = tmp_path / name
        export_parquet(source, path)
    finally:
        source.close()
    return path


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_import_of_ids_stored_already_writes_nothing(
    backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    # A file holding an id the database held came out as the driver's raw IntegrityError (with the statement and
    # its rows) where a unique key refused it; on ClickHouse, which keeps none, the batches before it stayed written.
    path = exported(tmp_path, [dict(d) for d in DOCUMENTS])
    rag = VectorRAG(fresh_database_url(backend), dimension=DIM)
    try:
        rag.load_documents([{**DOCUMENTS[5], "content": "kept"}], show_progress=False)
        with pytest.raises(x.InvalidDocumentError) as caught:
            import_parquet(rag, path, batch_size=2)  # d5 comes in the third batch
        message = str(caught.value)
        assert message.startswith(f"{path}: document_id 'd5' is stored already in documents, so nothing was imported")
        assert "keep_ids=False" in message
        assert rag.get_statistics()["document_count"] == 1 and rag.get_document("d5")["content"] == "kept"
        assert import_parquet(rag, path, keep_ids=False) == len(DOCUMENTS)  # new ids: all of them
    finally:
        rag.close()


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", CLICKHOUSE])
def test_metadata_moves_unchanged(backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path) -> None:
    # The file wrote metadata with its keys sorted, so a copy between backends that keep a dict's key order
    # (all but PostgreSQL, whose jsonb orders keys its own way) read back the dicts reordered.
    metadata = {
        "zeta": 1, "alpha": {"y": [1, {"b": 2, "a": None}], "x": "ü ☃ 𝄞"}, "big": 2**63 - 1, "odd": 2**53 + 1,
        "tenth": 0.1, "huge": 1e300, "neg_zero": -0.0, "flag": False, "ключ": [],
    }
    path = exported(tmp_path, [{**DOCUMENTS[0], "metadata": metadata}], "m.parquet")
    rag = VectorRAG(fresh_database_url(backend), dimension=DIM)
    try:
        import_parquet(rag, path)
        found = rag.get_document("d0")["metadata"]
        assert found == metadata and repr(found) == repr(metadata)  # the same keys in the same order, -0.0 too
    finally:
        rag.close()


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", CLICKHOUSE])
def test_an_interrupted_import_leaves_nothing(
    backend: str, fresh_database_url: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C in the middle of an import: on ClickHouse, which has no transactions, the batches written before it
    # stayed, unsaid, and the next import of the file was refused for the ids they took.
    from sqlalchemy_vector.rag.store import _Store

    path = exported(tmp_path, [dict(d) for d in DOCUMENTS])
    rag = VectorRAG(fresh_database_url(backend), dimension=DIM)
    try:
        rag.load_document("there before", document_id="x")
        insert, calls = _Store.insert, []

        def interrupted(self: Any, session: Any, documents: Any) -> Any:
            calls.append(len(documents))
            if len(calls) == 3:
                raise KeyboardInterrupt
            return insert(self, session, documents)

        monkeypatch.setattr(_Store, "insert", interrupted)
        with pytest.raises(KeyboardInterrupt):
            import_parquet(rag, path, batch_size=2)
        monkeypatch.setattr(_Store, "insert", insert)
        assert rag.get_statistics()["document_count"] == 1
        assert import_parquet(rag, path) == len(DOCUMENTS)  # again, whole
    finally:
        rag.close()
