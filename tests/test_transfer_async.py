"""Parquet export and import with the async facade: through ``AsyncVectorRAG.run_sync``, on every backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, List, Tuple

import pytest

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
