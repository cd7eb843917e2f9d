"""Options documented as ``bool`` take ``True``/``False`` (``np.bool_`` too) and refuse anything else.

A string was read as truthy: ``sqlite_vec="false"`` loaded the extension,
``duckdb_experimental_persistence="no"`` opted in to what it meant to avoid,
``keep_ids="no"`` kept the ids, ``match_all="no"`` required every word.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text

import sqlalchemy_vector as sv
from sqlalchemy_vector import exc as x
from sqlalchemy_vector.embedding import HashingEmbedder

NOT_FLAGS = ["false", "no", "", 0, 1, None, 1.0]
DIM = 4


@pytest.fixture
def rag(tmp_path: Path) -> Iterator[sv.VectorRAG]:
    facade = sv.VectorRAG(f"sqlite:///{tmp_path}/f.db", dimension=DIM)
    facade.load_documents([{"content": "alpha beta", "embedding": [1.0, 0.0, 0.0, 0.0]}], show_progress=False)
    yield facade
    facade.close()


def table() -> Table:
    return Table("docs", MetaData(), Column("id", Integer, primary_key=True), Column("body", Text), Column("e", sv.Vector(DIM)))


CALLS: list[tuple[str, Callable[..., Any]]] = [
    ("sqlite_vec", lambda value, rag: sv.create_engine("sqlite://", sqlite_vec=value)),
    ("sqlite_vec", lambda value, rag: sv.attach(__import__("sqlalchemy").create_engine("sqlite://"), sqlite_vec=value)),
    ("duckdb_experimental_persistence", lambda value, rag: sv.VectorIndex("ix", table().c.e, duckdb_experimental_persistence=value)),
    ("exact", lambda value, rag: sv.knn_select(table().c.e, [1.0, 0, 0, 0], 3, exact=value)),
    ("match_all", lambda value, rag: rag.hybrid_query("alpha", match_all=value)),
    ("generate_embeddings", lambda value, rag: rag.load_documents([{"content": "z"}], generate_embeddings=value)),
    ("show_progress", lambda value, rag: rag.load_documents([{"content": "z"}], show_progress=value)),
    ("distributed", lambda value, rag: sv.VectorRAG("sqlite://", dimension=DIM, distributed=value)),
    ("stem", lambda value, rag: HashingEmbedder(DIM, stem=value)),
    ("lowercase", lambda value, rag: HashingEmbedder(DIM, lowercase=value)),
    ("length_weight", lambda value, rag: HashingEmbedder(DIM, length_weight=value)),
]


@pytest.mark.parametrize("value", NOT_FLAGS, ids=repr)
@pytest.mark.parametrize(("name", "call"), CALLS, ids=[name for name, _ in CALLS])
def test_only_booleans_are_flags(rag: sv.VectorRAG, name: str, call: Callable[..., Any], value: Any) -> None:
    before = rag.get_statistics()["document_count"]
    with pytest.raises(x.InvalidArgumentError, match=f"{name}.* takes True or False, got {type(value).__name__} {value!r}"):
        call(value, rag)
    assert rag.get_statistics()["document_count"] == before  # nothing written


def test_keep_ids_takes_a_flag(rag: sv.VectorRAG, tmp_path: Path) -> None:
    path = tmp_path / "docs.parquet"
    sv.export_parquet(rag, path)
    with pytest.raises(x.InvalidArgumentError, match="keep_ids=...\\) takes True or False, got str 'no'"):
        sv.import_parquet(rag, path, keep_ids="no")  # type: ignore[arg-type]
    assert sv.import_parquet(rag, path, keep_ids=np.bool_(False)) == 1  # numpy's bool is a bool
    assert rag.get_statistics()["document_count"] == 2


def test_numpy_booleans_are_flags() -> None:
    assert sv.VectorIndex("ix", table().c.e, duckdb_experimental_persistence=np.bool_(True)).duckdb_experimental_persistence is True
    assert HashingEmbedder(DIM, stem=np.bool_(False)).stem is False
