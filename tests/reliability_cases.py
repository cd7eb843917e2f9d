"""Hostile input for the RAG facade and bulk_insert, shared by tests/test_reliability.py and bench/soak.py.

Each case is what a careless or hostile caller might pass, with the
exception sqlalchemy_vector must raise, the same on every backend, before
anything is written.  :func:`run_cases` tries them all on a facade and
reports every outcome that was not that exception (an "unclear" outcome).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import numpy as np
from sqlalchemy import func, select

from sqlalchemy_vector import bulk_insert
from sqlalchemy_vector import exc as x

DIM = 4
Case = Tuple[str, Callable[[Any], Any], type]


def _load(metadata: Any = None, content: Any = "text", **extra: Any) -> Callable[[Any], Any]:
    document = {"content": content, "metadata": metadata, **extra}
    return lambda rag: rag.load_documents([document], show_progress=False)


def _bulk(rows: Any) -> Callable[[Any], Any]:
    def run(rag: Any) -> Any:
        table = rag.embedding_model.__table__
        with rag.engine.begin() as connection:
            return bulk_insert(connection, table, rows)

    return run


def _vector_row(vector: Any) -> List[Dict[str, Any]]:
    return [{"id": "e1", "document_id": "missing", "model_name": "m", "embedding": vector}]


BAD_STRINGS = {
    "NUL": "a\x00b",
    "NUL at start": "\x00",
    "lone high surrogate": "a\ud800b",
    "lone low surrogate": "\udc00",
    "reversed pair": "\udc00\ud800",
}

CASES: List[Case] = []
for _label, _bad in BAD_STRINGS.items():
    CASES += [
        (f"content with {_label}", _load(content=_bad), x.InvalidDocumentError),
        (f"metadata value with {_label}", _load({"k": _bad}), x.InvalidDocumentError),
        (f"metadata key with {_label}", _load({_bad: 1}), x.InvalidDocumentError),
        (f"nested metadata with {_label}", _load({"k": [{"n": _bad}]}), x.InvalidDocumentError),
        (f"document_id with {_label}", _load(document_id=_bad), x.InvalidDocumentError),
        (f"load_document content with {_label}", lambda rag, b=_bad: rag.load_document(b), x.InvalidDocumentError),
        (f"update content with {_label}", lambda rag, b=_bad: rag.update_document("none", content=b), x.InvalidDocumentError),
        (f"filter key with {_label}", lambda rag, b=_bad: rag.query_with_filters({b: 1}), x.InvalidFilterError),
        (f"filter value with {_label}", lambda rag, b=_bad: rag.query_with_filters({"k": {"$eq": b}}), x.InvalidFilterError),
        (f"index name with {_label}", lambda rag, b=_bad: rag.create_index("i" + b), x.VectorIndexError),
    ]
for _label, _number in {"NaN": float("nan"), "infinity": float("inf"), "-infinity": float("-inf")}.items():
    CASES += [
        (f"metadata {_label}", _load({"k": _number}), x.InvalidDocumentError),
        (f"metadata {_label} in a list", _load({"k": [1, _number]}), x.InvalidDocumentError),
        (f"update metadata {_label}", lambda rag, n=_number: rag.update_document("none", metadata={"k": n}), x.InvalidDocumentError),
        (f"filter {_label}", lambda rag, n=_number: rag.query_with_filters({"k": {"$gt": n}}), x.InvalidFilterError),
        (f"vector with {_label}", _load(embedding=[1.0, _number, 0.0, 0.0]), x.InvalidVectorError),
        (f"bulk vector with {_label}", _bulk(_vector_row([1.0, _number, 0.0, 0.0])), x.InvalidVectorError),
    ]
for _label, _integer in {"2**63": 2**63, "-2**63-1": -(2**63) - 1, "10**400": 10**400}.items():
    CASES += [
        (f"metadata integer {_label}", _load({"k": _integer}), x.InvalidDocumentError),
        (f"filter $gt {_label}", lambda rag, n=_integer: rag.query_with_filters({"k": {"$gt": n}}), x.InvalidFilterError),
    ]
CASES += [
    ("metadata int key", _load({1: "a"}), x.InvalidDocumentError),
    ("metadata tuple key", _load({(1, 2): "a"}), x.InvalidDocumentError),
    ("metadata not a dict", _load(["a"]), x.InvalidDocumentError),
    ("content bytes", _load(content=b"abc"), x.InvalidDocumentError),
    ("content None", _load(content=None), x.InvalidDocumentError),
    ("unknown document key", lambda rag: rag.load_documents([{"content": "a", "meta": {}}], show_progress=False), x.InvalidDocumentError),
    ("document not a dict", lambda rag: rag.load_documents(["text"], show_progress=False), x.InvalidDocumentError),
    ("documents a str", lambda rag: rag.load_documents("text", show_progress=False), x.InvalidDocumentError),
    ("vector of booleans", _load(embedding=[True, False, True, False]), x.InvalidVectorError),
    ("vector mixing booleans and floats", _load(embedding=[True, 0.5, 0.0, 1.0]), x.InvalidVectorError),
    ("vector numpy bool", _load(embedding=np.array([True, False, True, False])), x.InvalidVectorError),
    ("vector of strings", _load(embedding=["1", "2", "3", "4"]), x.InvalidVectorError),
    ("vector a string", _load(embedding="1,2,3,4"), x.InvalidVectorError),
    ("vector 2-D", _load(embedding=[[1.0, 2.0], [3.0, 4.0]]), x.InvalidVectorError),
    ("vector ragged", _load(embedding=[1.0, [2.0], 3.0, 4.0]), x.InvalidVectorError),
    ("vector too short", _load(embedding=[1.0, 2.0]), x.DimensionMismatchError),
    ("vector too long", _load(embedding=[1.0] * 5), x.DimensionMismatchError),
    ("vector beyond float32", _load(embedding=[1e39, 0.0, 0.0, 0.0]), x.InvalidVectorError),
    ("vector complex", _load(embedding=np.ones(DIM, dtype=complex)), x.InvalidVectorError),
    ("bulk vector of booleans", _bulk(_vector_row([True, False, True, False])), x.InvalidVectorError),
    ("bulk vector mixing booleans", _bulk(_vector_row([True, 0.5, 0.0, 1.0])), x.InvalidVectorError),
    ("bulk numpy bool vector", _bulk(_vector_row(np.array([True, False, True, False]))), x.InvalidVectorError),
    ("bulk rows as tuples", _bulk([("e1", "missing", "m", [1.0, 0.0, 0.0, 0.0])]), x.InvalidRowError),
    ("bulk rows as lists", _bulk([["e1", "missing", "m", [1.0, 0.0, 0.0, 0.0]]]), x.InvalidRowError),
    ("bulk unknown key", _bulk([{"nope": 1}]), x.InvalidRowError),
    ("bulk keys differ", _bulk([{"id": "a"}, {"model_name": "b"}]), x.InvalidRowError),
    ("query vector booleans", lambda rag: rag.query_with_embedding([True, False, True, False]), x.InvalidVectorError),
    ("query vector NaN", lambda rag: rag.query_with_embedding([float("nan")] * DIM), x.InvalidVectorError),
    ("query vector wrong size", lambda rag: rag.query_with_embedding([1.0] * 3), x.DimensionMismatchError),
    ("metric as a list", lambda rag: rag.query("a", similarity_function=["cosine"]), x.UnsupportedMetricError),
    ("metric as a dict", lambda rag: rag.query("a", similarity_function={"cosine": 1}), x.UnsupportedMetricError),
    ("metric None", lambda rag: rag.query("a", similarity_function=None), x.UnsupportedMetricError),
    ("metric unknown", lambda rag: rag.query("a", similarity_function="hamming"), x.UnsupportedMetricError),
    ("index metric a list", lambda rag: rag.create_index("i", similarity_function=["cosine"]), x.UnsupportedMetricError),
    ("top_k 2**63", lambda rag: rag.query("a", top_k=2**63), x.InvalidArgumentError),
    ("top_k 0", lambda rag: rag.query("a", top_k=0), x.InvalidArgumentError),
    ("top_k -1", lambda rag: rag.query("a", top_k=-1), x.InvalidArgumentError),
    ("top_k float", lambda rag: rag.query("a", top_k=2.0), x.InvalidArgumentError),
    ("top_k True", lambda rag: rag.query("a", top_k=True), x.InvalidArgumentError),
    ("top_k str", lambda rag: rag.query("a", top_k="5"), x.InvalidArgumentError),
    ("threshold NaN", lambda rag: rag.query("a", similarity_threshold=float("nan")), x.InvalidArgumentError),
    ("threshold str", lambda rag: rag.query("a", similarity_threshold="0.5"), x.InvalidArgumentError),
    ("batch_size 0", lambda rag: rag.load_documents([{"content": "a"}], batch_size=0, show_progress=False), x.InvalidArgumentError),
    ("query text bytes", lambda rag: rag.query(b"a"), x.InvalidArgumentError),
    ("query texts a str", lambda rag: rag.query_batch("abc"), x.InvalidArgumentError),
    ("index name empty", lambda rag: rag.create_index(""), x.VectorIndexError),
    ("index name None", lambda rag: rag.create_index(None), x.VectorIndexError),
    ("index name with a double quote", lambda rag: rag.create_index('i"; DROP TABLE documents; --'), x.VectorIndexError),
    ("index name of 64 bytes", lambda rag: rag.create_index("i" * 64), x.VectorIndexError),
    ("drop index name with NUL", lambda rag: rag.delete_index("i\x00"), x.VectorIndexError),
    ("delete with neither ids nor filters", lambda rag: rag.delete_documents(), x.InvalidFilterError),
    ("filter unknown operator", lambda rag: rag.query_with_filters({"k": {"$regex": "a"}}), x.InvalidFilterError),
]


def run_cases(rag: Any) -> Dict[str, Any]:
    """Try every case on ``rag``; count them, and list outcomes other than the expected error."""
    unclear: List[str] = []
    for label, action, expected in CASES:
        try:
            action(rag)
        except expected:
            continue
        except Exception as err:  # noqa: BLE001 - any other outcome is what we count
            unclear.append(f"{label}: {type(err).__module__}.{type(err).__name__}: {str(err)[:160]}")
        else:
            unclear.append(f"{label}: accepted")
    return {"cases": len(CASES), "unclear": unclear, "rows": stored_rows(rag)}


def stored_rows(rag: Any) -> int:
    """Documents plus embeddings in the facade's tables: none may be left by rejected input."""
    with rag.engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(rag.document_model.__table__)).scalar_one()
        if rag.embedding_model is not None:
            count += connection.execute(select(func.count()).select_from(rag.embedding_model.__table__)).scalar_one()
    return int(count)
