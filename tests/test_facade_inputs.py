"""Facade arguments of the wrong shape or type: one clear error, the same on every backend, nothing written.

One id (or text) where a list of them belongs, metadata values that are not
JSON, document ids of another type than the documents table's key, and an id
given twice in one load.  Each is refused before anything reaches the
database, with the sqlalchemy_vector exception that names the argument, what
was expected, what was given and the fix.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import re
import types
import uuid
from typing import Any, Callable, Iterator, List, Tuple

import numpy as np
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from rag_fixtures import fresh_engine, pg_database  # noqa: F401  (fixtures)
from sqlalchemy_vector import exc as x
from sqlalchemy_vector.embedding import HashingEmbedder
from sqlalchemy_vector.orm import make_models
from sqlalchemy_vector.rag import AsyncVectorRAG, VectorRAG
from tests.conftest import BACKENDS, CLICKHOUSE, WITH_CLICKHOUSE

DIM = 4
# DuckDB and ClickHouse have no asyncio driver: their async facade runs the sync driver in a worker thread.
ASYNC = ("sqlite", "postgresql", "duckdb", CLICKHOUSE)
STORED: List[dict] = [
    {"document_id": "doc-1", "content": "apple", "metadata": {"n": 1}},
    {"document_id": "d", "content": "banana", "metadata": {"n": 2}},
    {"document_id": "o", "content": "cherry"},
]


@pytest.fixture(params=WITH_CLICKHOUSE)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rag(fresh_engine: Engine) -> VectorRAG:  # noqa: F811
    facade = VectorRAG(fresh_engine, dimension=DIM)
    assert facade.load_documents(STORED, show_progress=False) == ["doc-1", "d", "o"]
    return facade


def stored(rag: VectorRAG) -> Tuple[Any, ...]:
    """Every document (id, content, metadata) and the counts: what a refused call leaves as it was."""
    documents = sorted(
        (repr(r["document_id"]), r["content"], json.dumps(r["metadata"], sort_keys=True))
        for r in rag.query_with_filters({}, top_k=1000)
    )
    stats = rag.get_statistics()
    return documents, stats["document_count"], stats["embedding_count"]


def refused(error: type, pattern: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    with pytest.raises(error, match=pattern):
        call(*args, **kwargs)


# -- one id where a list of ids belongs --------------------------------------------------------------


def test_one_id_where_a_list_belongs(rag: VectorRAG) -> None:
    # list("doc-1") would be the ids 'd', 'o', 'c', '-', '1': the documents 'd' and 'o' would go.
    before = stored(rag)
    for value, shown in [("doc-1", "str 'doc-1'"), (b"doc-1", "bytes b'doc-1'"), (7, "int 7"), ({"doc-1": 1}, "dict")]:
        refused(
            x.InvalidArgumentError,
            re.escape(f"delete_documents(): ids must be a list of document ids, got {shown}")
            + r".*wrap it in a list .*or use delete_document\(\) for one document",
            rag.delete_documents,
            ids=value,
        )
        refused(
            x.InvalidArgumentError,
            re.escape(f"get_documents(): ids must be a list of document ids, got {shown}")
            + r".*or use get_document\(\) for one document",
            rag.get_documents,
            value,
        )
    for value, shown in [(b"apple", "bytes"), (7, "int"), ({"apple": 1}, "dict")]:
        refused(
            x.InvalidArgumentError,
            rf"query_texts must be a list of strings, got {shown}.*wrap it in a list or use query\(\)",
            rag.query_batch,
            value,
        )
    refused(x.InvalidDocumentError, "documents must be an iterable of dicts, got int", rag.load_documents, 7)
    assert stored(rag) == before
    # Lists, tuples and generators of ids are what these take.
    assert [r["document_id"] for r in rag.get_documents(("o", "doc-1"))] == ["o", "doc-1"]
    assert rag.delete_documents(ids=(i for i in ["d"])) == 1
    assert [r["document_id"] for r in rag.get_documents(["doc-1", "d", "o"])] == ["doc-1", "o"]


# -- metadata values that are not JSON ----------------------------------------------------------------

NOT_JSON = [
    (np.float32(0.5), "numpy.float32", "float(x)"),
    (np.int64(3), "numpy.int64", "int(x)"),
    (np.bool_(True), "numpy.bool", "bool(x)"),
    (np.array([1.0, 2.0]), "numpy.ndarray", "x.tolist()"),
    (decimal.Decimal("1.5"), "decimal.Decimal", "float(x)"),
    (datetime.datetime(2024, 1, 1), "datetime.datetime", "x.isoformat()"),
    (datetime.date(2024, 1, 1), "datetime.date", "x.isoformat()"),
    ({1, 2}, "set", "list(x)"),
    (b"ab", "bytes", "x.decode()"),
    (uuid.UUID(int=7), "uuid.UUID", "str(x)"),
    (types.MappingProxyType({"a": 1}), "mappingproxy", "dict(x)"),
    (object(), "object", "str(x)"),
]


def test_metadata_that_is_not_json(rag: VectorRAG) -> None:
    before = stored(rag)
    for value, name, fix in NOT_JSON:
        documents = [{"content": "fine"}, {"content": "x", "metadata": {"outer": {"k": [1, value]}}}]
        refused(
            x.InvalidDocumentError,
            re.escape(f"documents[1] metadata['outer']['k'][1] holds {name} ") + r".*not a JSON value.*" + re.escape(fix),
            rag.load_documents,
            documents,
            show_progress=False,
        )
        refused(
            x.InvalidDocumentError,
            re.escape(f"update_document('doc-1') metadata['score'] holds {name} ") + r".*" + re.escape(fix),
            rag.update_document,
            "doc-1",
            content="changed",
            metadata={"score": value},
        )
    refused(x.InvalidDocumentError, r"document metadata\['k'\] holds numpy.float32", rag.load_document, "x", {"k": np.float32(1)})
    assert stored(rag) == before
    # Subclasses of JSON types are JSON: numpy's float64 is a float, its str_ a str; a tuple is a list.
    assert rag.update_document("doc-1", metadata={"f": np.float64(0.25), "s": np.str_("a"), "t": (1, 2)})
    assert rag.get_document("doc-1")["metadata"] == {"f": 0.25, "s": "a", "t": [1, 2]}  # type: ignore[index]


# -- document ids of another type than the table's key ---------------------------------------------------


def lookups(rag: VectorRAG, stored_id: Any) -> List[Tuple[str, Callable[[Any], Any]]]:
    """Every method taking a document id, with how its error names the id (lists start with a good id)."""
    return [
        ("get_document(): document_id", lambda v: rag.get_document(v)),
        ("get_documents(): ids[1]", lambda v: rag.get_documents([stored_id, v])),
        ("update_document(): document_id", lambda v: rag.update_document(v, content="z", metadata={"z": 1})),
        ("delete_document(): document_id", lambda v: rag.delete_document(v)),
        ("delete_documents(): ids[1]", lambda v: rag.delete_documents(ids=[stored_id, v])),
        ("find_similar_documents(): document_id", lambda v: rag.find_similar_documents(v)),
    ]


def test_string_ids_are_strings(rag: VectorRAG) -> None:
    # Stored as str(value) before, differently per backend (['a'] became '[a]', '{a}' or "['a']"), or refused by the driver.
    before = stored(rag)
    for value, shown in [(12345, "int 12345"), (["a"], "list ['a']"), (uuid.UUID(int=7), "uuid.UUID"), (True, "bool True"),
                         (b"a", "bytes b'a'"), (1.5, "float 1.5")]:
        refused(
            x.InvalidDocumentError,
            re.escape(f"documents[1] document_id must be a str (documents.id holds str ids), got {shown}")
            + r".*str\(x\).*leave document_id out",
            rag.load_documents,
            [{"content": "fine", "document_id": "new"}, {"content": "x", "document_id": value}],
        )
    refused(x.InvalidDocumentError, r"^document document_id must be a str .*got int 5", rag.load_document, "x", document_id=5)
    for where, call in lookups(rag, "d"):
        for value, shown in [(5, "int 5"), (None, "NoneType None"), (b"doc-1", "bytes b'doc-1'")]:
            refused(
                x.InvalidArgumentError,
                re.escape(f"{where} must be a str (documents.id holds str ids), got {shown}") + r".*as load_documents\(\) returned it",
                call,
                value,
            )
        refused(x.InvalidArgumentError, re.escape(f"{where} must be a str") + ".*got list", call, ["doc-1"])
        refused(x.InvalidArgumentError, re.escape(where) + ".*NUL", call, "doc\x00-1")
    refused(x.InvalidArgumentError, r"got list \['doc-1'\]; pass one id, or use get_documents\(\)", rag.get_document, ["doc-1"])
    refused(x.InvalidArgumentError, r"got list \['doc-1'\]; pass one id, or use delete_documents\(\)", rag.delete_document, ["doc-1"])
    assert stored(rag) == before


@pytest.mark.parametrize("backend", BACKENDS)  # ClickHouse generates no integer keys
def test_integer_ids_are_integers(fresh_engine: Engine) -> None:  # noqa: F811
    Document, Embedding = make_models(DIM, document_table="int_docs", embedding_table="int_embs", id_type=int)
    Document.metadata.create_all(fresh_engine)
    rag = VectorRAG(fresh_engine, document_model=Document, embedding_model=Embedding)
    ids = rag.load_documents([{"content": "apple"}, {"content": "banana", "document_id": 100}], show_progress=False)
    assert isinstance(ids[0], int) and ids[1] == 100
    before = stored(rag)
    for value, shown in [("7", "str '7'"), (True, "bool True"), (np.int64(7), "numpy.int64"), (7.0, "float 7.0")]:
        refused(
            x.InvalidDocumentError,
            re.escape(f"documents[0] document_id must be an int (int_docs.id holds int ids), got {shown}") + r".*int\(x\)",
            rag.load_documents,
            [{"content": "x", "document_id": value}],
            show_progress=False,
        )
    refused(
        x.InvalidDocumentError,
        r"documents\[0\] document_id 9223372036854775808 is outside the 64-bit range",
        rag.load_documents,
        [{"content": "x", "document_id": 2**63}],
        show_progress=False,
    )
    for where, call in lookups(rag, ids[1]):
        for value, shown in [(str(ids[0]), f"str '{ids[0]}'"), (False, "bool False")]:
            refused(x.InvalidArgumentError, re.escape(f"{where} must be an int (int_docs.id holds int ids), got {shown}"), call, value)
        refused(x.InvalidArgumentError, re.escape(f"{where} -9223372036854775809 is outside the 64-bit range"), call, -(2**63) - 1)
    assert stored(rag) == before
    assert rag.get_document(ids[0])["content"] == "apple"  # type: ignore[index]


# -- one id twice in one load -----------------------------------------------------------------------------


def test_an_id_twice_in_one_load(rag: VectorRAG, backend: str) -> None:
    before = stored(rag)
    twice = [{"content": "a", "document_id": "new"}, {"content": "b"}, {"content": "c", "document_id": "new"}]
    refused(
        x.InvalidDocumentError,
        r"documents\[2\] document_id 'new' repeats the id of documents\[0\].*give each document its own id",
        rag.load_documents,
        twice,
        show_progress=False,
    )
    assert stored(rag) == before
    # A list is checked whole before its first batch is written, on every backend.
    batches = [{"content": "a", "document_id": "p"}, {"content": "b", "document_id": "q"}, {"content": "c"},
               {"content": "d", "document_id": "q"}]
    pattern = r"documents\[3\] document_id 'q' repeats the id of documents\[1\]"
    refused(x.InvalidDocumentError, pattern, rag.load_documents, batches, batch_size=2, show_progress=False)
    assert stored(rag) == before

    # A generator is checked as it is read: a batch written before the repeat stays where nothing rolls back.
    def generated() -> Iterator[dict]:
        yield from batches

    refused(x.InvalidDocumentError, pattern, rag.load_documents, generated(), batch_size=2, show_progress=False)
    if backend == CLICKHOUSE:
        assert rag.get_statistics()["document_count"] == len(STORED) + 2
    else:
        assert stored(rag) == before
    # An id stored before is the database's to refuse (ClickHouse stores both); a new id goes in.
    assert rag.load_documents([{"content": "e", "document_id": "r"}], show_progress=False) == ["r"]


# -- create_index's own arguments --------------------------------------------------------------------------


def test_create_index_options_it_sets_itself(rag: VectorRAG) -> None:
    # VectorIndex got them twice: TypeError "got multiple values for keyword argument 'metric'".
    before = stored(rag)
    refused(x.InvalidArgumentError, r"create_index\('ix'\) does not take metric, but got metric='l2': give the metric "
            r"as similarity_function", rag.create_index, "ix", metric="l2")
    refused(x.InvalidArgumentError, r"does not take name, column.*index_name, the first argument; leave column out",
            rag.create_index, "ix", name="other", column="embedding")
    # A quantized index was built, and never read by the facade's searches.
    refused(x.InvalidArgumentError, r"does not take quantization.*knn\(\.\.\., rerank=",
            rag.create_index, "ix", quantization="binary")
    assert rag.get_statistics()["indexes"] == []
    assert stored(rag) == before


def test_index_names_are_checked_alike(rag: VectorRAG) -> None:
    # create_fulltext_index(123) raised AttributeError from inside the backend's DDL builder.
    refused(x.VectorIndexError, "index_name must be a non-empty string, got 123", rag.create_index, 123)
    refused(x.VectorIndexError, "index_name must be a non-empty string, got 123", rag.create_fulltext_index, 123)


# -- the async facade: the same errors through its proxies --------------------------------------------------


def async_url(url: str) -> str:
    return url.replace("sqlite:", "sqlite+aiosqlite:", 1).replace("postgresql+psycopg:", "postgresql+psycopg_async:", 1)


@pytest.mark.parametrize("backend", ASYNC)
async def test_async_facade(backend: str, fresh_database_url: Callable[[str], str]) -> None:
    rag = AsyncVectorRAG(async_url(fresh_database_url(backend)), dimension=DIM)
    try:
        await rag.load_documents(STORED, show_progress=False)
        with pytest.raises(x.InvalidArgumentError, match=r"delete_documents\(\): ids must be a list of document ids, got str"):
            await rag.delete_documents(ids="doc-1")
        with pytest.raises(x.InvalidArgumentError, match=r"get_documents\(\): ids must be a list of document ids, got str"):
            await rag.get_documents("doc-1")
        with pytest.raises(x.InvalidArgumentError, match="query_texts must be a list of strings, got bytes"):
            await rag.query_batch(b"apple")
        with pytest.raises(x.InvalidArgumentError, match=r"get_document\(\): document_id must be a str"):
            await rag.get_document(5)
        with pytest.raises(x.InvalidArgumentError, match=r"update_document\(\): document_id must be a str"):
            await rag.update_document(5, content="z")
        with pytest.raises(x.InvalidArgumentError, match=r"delete_document\(\): document_id must be a str"):
            await rag.delete_document(5)
        with pytest.raises(x.InvalidArgumentError, match=r"find_similar_documents\(\): document_id must be a str"):
            await rag.find_similar_documents(5)
        with pytest.raises(x.InvalidDocumentError, match=r"update_document\('doc-1'\) metadata\['k'\] holds numpy.float32"):
            await rag.update_document("doc-1", metadata={"k": np.float32(1)})
        with pytest.raises(x.InvalidDocumentError, match=r"documents\[0\] metadata\['k'\] holds decimal.Decimal"):
            await rag.load_documents([{"content": "x", "metadata": {"k": decimal.Decimal(1)}}], show_progress=False)
        with pytest.raises(x.InvalidDocumentError, match=r"documents\[1\] document_id must be a str"):
            await rag.load_documents([{"content": "x"}, {"content": "y", "document_id": 5}], show_progress=False)
        with pytest.raises(x.InvalidDocumentError, match=r"documents\[1\] document_id 'n' repeats the id of documents\[0\]"):
            await rag.load_documents([{"content": "x", "document_id": "n"}, {"content": "y", "document_id": "n"}], show_progress=False)
        with pytest.raises(x.InvalidArgumentError, match=r"create_index\('ix'\) does not take metric"):
            await rag.create_index("ix", metric="l2")
        # An option named like the proxy's own parameter: TypeError "_run() got multiple values for argument 'fn'".
        with pytest.raises(x.VectorIndexError, match="unknown option.* fn"):
            await rag.create_index("ix", fn=1)
        assert rag.precision == "float32"
        found = await rag.get_documents(["doc-1", "d", "o"])
        assert [(r["document_id"], r["content"], r["metadata"]) for r in found] == [
            ("doc-1", "apple", {"n": 1}), ("d", "banana", {"n": 2}), ("o", "cherry", {})
        ]
        assert (await rag.get_statistics())["document_count"] == len(STORED)
    finally:
        await rag.close()


# -- numpy scalars where Python numbers belong ----------------------------------------------------------


def test_numpy_scalars_count_as_the_numbers_they_hold(fresh_engine: Engine, backend: str) -> None:  # noqa: F811
    # similarity_threshold=np.float32(...) (a score computed from float32 embeddings), mmr_query's lambda_mult
    # and filter values such as np.int64(1) (what pandas and numpy give) were refused as not numbers.
    rag = VectorRAG(fresh_engine, dimension=DIM)
    rag.load_documents(
        [{"content": f"doc {i}", "metadata": {"n": i, "x": i / 4, "odd": bool(i % 2)}, "embedding": [1.0, i, 0.5, -i]}
         for i in range(6)],
        show_progress=False,
    )
    query = np.array([1.0, 2.0, 0.5, -2.0], dtype=np.float32)

    def ids(results: List[dict]) -> List[Any]:
        return [r["document_id"] for r in results]

    plain = ids(rag.query_with_embedding(query, top_k=6, similarity_threshold=0.9))
    assert 0 < len(plain) < 6  # the threshold keeps some, not all
    assert ids(rag.query_with_embedding(query, top_k=6, similarity_threshold=np.float32(0.9))) == plain
    assert ids(rag.mmr_query("doc", top_k=3, lambda_mult=np.float32(0.25))) == ids(rag.mmr_query("doc", top_k=3, lambda_mult=0.25))
    pairs = [
        ({"n": np.int64(2)}, {"n": 2}),
        ({"x": {"$gt": np.float32(0.5)}}, {"x": {"$gt": 0.5}}),
        ({"n": {"$in": [np.int32(1), np.uint8(4)]}}, {"n": {"$in": [1, 4]}}),
        ({"odd": np.bool_(True)}, {"odd": True}),
    ]
    for numpy_filter, python_filter in pairs:
        expected = ids(rag.query_with_filters(python_filter, top_k=10))
        assert expected, python_filter
        assert ids(rag.query_with_filters(numpy_filter, top_k=10)) == expected, numpy_filter
        assert ids(rag.query_with_embedding(query, top_k=6, filters=numpy_filter)) == ids(
            rag.query_with_embedding(query, top_k=6, filters=python_filter)
        )
    rag.close()


class _Described:
    """An embedder-shaped object with the given dimension and model name."""

    def __init__(self, dimension: Any, model_name: Any = "m") -> None:
        self.dimension, self.model_name = dimension, model_name

    def embed(self, texts: List[str]) -> List[List[float]]:
        return [[1.0] * DIM for _ in texts]


class _AsyncOnly:
    """An embedder with only a coroutine ``aembed``, as a hosted API's client often is."""

    dimension, model_name = DIM, "remote"

    async def aembed(self, texts: List[str]) -> List[List[float]]:
        return [[1.0] * DIM for _ in texts]


@pytest.mark.parametrize(
    ("arguments", "pattern"),
    [
        ({"embedder": _AsyncOnly()}, r"has no 'embed'.*wrapped: CallableEmbedder\(embedder\.aembed, dimension=\.\.\., model_name"),
        ({"embedder": HashingEmbedder}, r"has no 'dimension', 'model_name', 'embed'.*pass an instance, e.g. HashingEmbedder\(\.\.\.\)"),
        ({"embedder": lambda texts: texts}, "has no 'dimension', 'model_name', 'embed'"),
        ({"embedder": "hashing"}, "has no 'dimension', 'model_name', 'embed'"),
        ({"embedder": _Described(None)}, "has dimension None; it must be a positive integer"),
        ({"embedder": _Described("x"), "dimension": DIM}, "has dimension 'x'"),
        ({"embedder": _Described(3.7)}, "has dimension 3.7"),
        ({"embedder": _Described(True)}, "has dimension True"),
        ({"embedder": _Described(DIM, None)}, "has model_name None; it must be a non-empty string"),
        ({"document_model": "Doc"}, "document_model must be a mapped class, got 'Doc'"),
    ],
    ids=lambda value: str(value)[:30],
)
def test_what_cannot_embed_is_refused_before_use(arguments: dict, pattern: str, tmp_path: Any) -> None:
    # Each raised AttributeError, TypeError or ValueError from inside the constructor, or (3.7, True) was
    # taken as another dimension.
    with pytest.raises(x.ModelConfigurationError, match=pattern):
        VectorRAG(f"sqlite:///{tmp_path}/e.db", **arguments)
    assert not (tmp_path / "e.db").exists()


# -- what the input table (docs/inputs-and-errors.md) says the databases do with ids and numbers ------------------------------


@pytest.mark.parametrize("backend", BACKENDS)  # ClickHouse generates no integer keys
def test_generated_integer_ids_after_given_ones(fresh_engine: Engine, backend: str) -> None:  # noqa: F811
    Document, Embedding = make_models(DIM, document_table="seq_docs", embedding_table="seq_embs", id_type=int)
    Document.metadata.create_all(fresh_engine)
    rag = VectorRAG(fresh_engine, document_model=Document, embedding_model=Embedding)
    assert rag.load_documents([{"content": "a", "document_id": 1}], show_progress=False) == [1]
    if backend.startswith("sqlite"):  # the rowid goes on after the largest key
        assert rag.load_documents([{"content": "b"}], show_progress=False) == [2]
    else:  # the sequence did not move past the given id: its first value collides with it
        with pytest.raises(sa_exc.IntegrityError):
            rag.load_documents([{"content": "b"}], show_progress=False)
        assert rag.get_statistics()["document_count"] == 1


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_numbers_in_metadata_read_back_as_the_readme_says(fresh_engine: Engine, backend: str) -> None:  # noqa: F811
    rag = VectorRAG(fresh_engine, dimension=DIM)
    metadata = {"big": 1e16, "beyond": 1e20, "negative_zero": -0.0, "b": 1, "aa": 2}
    rag.load_documents([{"content": "x", "document_id": "m", "metadata": metadata}], show_progress=False)
    back = rag.get_document("m")["metadata"]  # type: ignore[index]
    assert back == metadata
    kinds = {key: type(value).__name__ for key, value in back.items()}
    if backend == "postgresql":  # its JSON keeps numbers, not their Python type
        assert kinds["big"] == "int" and kinds["beyond"] == "float"
        assert math.copysign(1.0, back["negative_zero"]) == 1.0
        assert list(back) != list(metadata)  # jsonb orders keys its own way
    else:
        assert kinds["big"] == kinds["beyond"] == "float"
        assert math.copysign(1.0, back["negative_zero"]) == -1.0
    assert [r["document_id"] for r in rag.query_with_filters({"big": 1e16})] == ["m"]


@pytest.mark.parametrize("backend", WITH_CLICKHOUSE)
def test_a_repeated_id_in_a_generator_is_found_as_it_is_read(fresh_engine: Engine, backend: str) -> None:  # noqa: F811
    rag = VectorRAG(fresh_engine, dimension=DIM)
    documents = ({"content": f"g{i}", "document_id": "same" if i in (0, 3) else f"g{i}"} for i in range(4))
    with pytest.raises(x.InvalidDocumentError, match=r"documents\[3\] document_id 'same' repeats the id of documents\[0\]"):
        rag.load_documents(documents, batch_size=2, show_progress=False)
    # One transaction elsewhere; on ClickHouse, which has none, the first batch stays written.
    assert rag.get_statistics()["document_count"] == (2 if backend == CLICKHOUSE else 0)


@pytest.mark.parametrize("vector", [[3e19, 3e19, 0.0, 0.0], [1e-25, 0.0, 0.0, 1e-25]], ids=["huge", "tiny"])
def test_a_norm_float32_distances_cannot_handle_is_refused_however_it_comes(
    rag: VectorRAG, fresh_engine: Engine, vector: List[float]  # noqa: F811
) -> None:
    # A plain insert and a query vector refused these, but a precomputed embedding in a load, and an
    # embedder's output, were stored: [3e19, 3e19, 0, 0] then had cosine distance 1.0 to itself, and
    # [1e-25, 0, 0, 1e-25] came first under cosine (-inf on SQLite and ClickHouse, 0.0 elsewhere).
    before = stored(rag)
    norm = f"{np.linalg.norm(vector):.3g}"
    refused(
        x.InvalidVectorError,
        re.escape(f"documents[1] embedding has a norm of {norm}, outside what float32 distances handle"),
        rag.load_documents,
        [{"content": "fine", "embedding": [1.0, 0.0, 0.0, 0.0]}, {"content": "bad", "embedding": vector}],
        generate_embeddings=False,
        show_progress=False,
    )
    assert stored(rag) == before
    embedder = _Fixed(vector)
    other = VectorRAG(fresh_engine, embedder=embedder)
    message = re.escape(f"embedder 'fixed' returned a vector with a norm of {norm} in row 0, outside what float32")
    message += r".*normalize them to norm 1"
    refused(x.InvalidEmbeddingError, message, other.load_document, "bad")
    refused(x.InvalidEmbeddingError, message, other.update_document, "doc-1", content="changed")
    refused(x.InvalidEmbeddingError, message, other.query, "bad")
    assert stored(rag) == before


class _NaNFor(HashingEmbedder):
    """The lexical embedder, with a NaN in the vector of one text."""

    def __init__(self, bad: str) -> None:
        super().__init__(dimension=DIM)
        self.bad = bad

    def embed(self, texts: List[str]) -> Any:
        vectors = np.array(super().embed(texts))
        vectors[[i for i, text in enumerate(texts) if text == self.bad], 0] = np.nan
        return vectors


def test_an_embedders_bad_vector_is_named_by_the_input_it_was_made_from(fresh_engine: Engine) -> None:  # noqa: F811
    # The row was counted within its batch: documents[3], in the second batch of 2, was reported as "row 1".
    rag = VectorRAG(fresh_engine, embedder=_NaNFor("doc 3"))
    documents = [{"content": f"doc {i}"} for i in range(5)]
    nan = r"embedder 'hashing-v3-4' returned a non-finite value \(nan\) {} at index 0"
    refused(x.InvalidEmbeddingError, nan.format(r"for documents\[3\]"), rag.load_documents, documents, batch_size=2, show_progress=False)
    refused(x.InvalidEmbeddingError, nan.format(r"for query_texts\[1\]"), rag.query_batch, ["doc 1", "doc 3"])
    refused(x.InvalidEmbeddingError, nan.format("in row 0"), rag.query, "doc 3")  # one text: its only row


class _Fixed:
    """An embedder returning one vector for every text."""

    model_name = "fixed"
    dimension = DIM

    def __init__(self, vector: List[float]) -> None:
        self.vector = vector

    def embed(self, texts: List[str]) -> Any:
        return np.array([self.vector] * len(texts))


class _Counting(HashingEmbedder):
    """The lexical embedder, counting the texts it was asked to embed (a paid model's bill)."""

    def __init__(self) -> None:
        super().__init__(DIM)
        self.texts: List[str] = []

    def embed(self, texts: Any) -> Any:
        self.texts.extend(texts)
        return super().embed(texts)


def test_a_refused_search_embeds_nothing(fresh_engine: Engine, backend: str) -> None:  # noqa: F811
    # Filters, lambda_mult and a missing full-text index were found only after the query had been embedded.
    embedder = _Counting()
    rag = VectorRAG(fresh_engine, embedder=embedder)
    rag.load_documents(STORED, show_progress=False)
    embedder.texts.clear()
    bad = {"n": {"$near": 1}}
    refused(x.InvalidFilterError, "unknown operator '\\$near'", rag.query, "apple", filters=bad)
    refused(x.InvalidFilterError, "unknown operator '\\$near'", rag.query_batch, ["apple", "pear"], filters=bad)
    refused(x.InvalidFilterError, "unknown operator '\\$near'", rag.mmr_query, "apple", filters=bad)
    refused(x.InvalidFilterError, "unknown operator '\\$near'", rag.hybrid_query, "apple", filters=bad)
    refused(x.InvalidArgumentError, "lambda_mult must be a number from 0 to 1, got 2", rag.mmr_query, "apple", lambda_mult=2)
    refused(x.InvalidArgumentError, r"query_texts\[1\] must be a string, got int 3", rag.query_batch, ["apple", 3])
    no_index = x.UnsupportedDialectError if backend == CLICKHOUSE else x.ModelConfigurationError
    refused(no_index, "full-text ind", rag.hybrid_query, "apple")
    refused(no_index, "full-text ind", rag.mmr_query, "apple", mode="hybrid")
    assert embedder.texts == []
    assert [r["document_id"] for r in rag.mmr_query("apple", top_k=1, lambda_mult=1)] == ["doc-1"]
    assert embedder.texts == ["apple"]
