"""Vectors in web frameworks: Pydantic v2, SQLModel, FastAPI, Flask, pandas.

The FastAPI + SQLModel and Flask examples run on every backend through the
frameworks' test clients; results are checked against numpy.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Callable, Dict, List, Optional

import numpy as np
import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import Column, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlmodel import Field, SQLModel

import sqlalchemy_vector as sv
from sqlalchemy_vector.dialects import engine_state
from sqlalchemy_vector.exc import InvalidVectorError
from sqlalchemy_vector.serialization import PydanticVector, VectorSchema, json_default, jsonable

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str) -> ModuleType:
    module_name = f"examples_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # annotations resolve through sys.modules
        spec.loader.exec_module(module)
    return sys.modules[module_name]


@pytest.fixture(params=["sqlite", "duckdb", "postgresql"])
def database_url(request: pytest.FixtureRequest, fresh_database_url: Callable[[str], str]) -> str:
    return fresh_database_url(request.param)


# -- Pydantic ------------------------------------------------------------------------------------


class Item(BaseModel):
    embedding: Annotated[np.ndarray, VectorSchema(3)]
    extra: Optional[PydanticVector] = None


def errors(value: Any) -> List[Dict[str, Any]]:
    with pytest.raises(ValidationError) as info:
        Item(embedding=value)
    return info.value.errors(include_url=False)


@pytest.mark.parametrize("value", [[0.5, 1, -2], (0.5, 1, -2), np.array([0.5, 1, -2]), np.array([0.5, 1, -2], np.float32)])
def test_validates_lists_tuples_and_arrays_to_float32(value: Any) -> None:
    item = Item(embedding=value)
    assert isinstance(item.embedding, np.ndarray) and item.embedding.dtype == np.float32
    assert item.embedding.tolist() == [0.5, 1.0, -2.0]
    assert item.extra is None
    assert Item(embedding=value, extra=list(range(7))).extra.shape == (7,)  # type: ignore[union-attr]


def test_wrong_dimension_is_a_validation_error() -> None:
    [error] = errors([1.0, 2.0])
    assert error["type"] == "vector_dimension"
    assert error["loc"] == ("embedding",)
    assert error["msg"] == "vector expects 3 dimensions, got 2"
    assert error["ctx"] == {"expected": 3, "actual": 2}


@pytest.mark.parametrize(
    "value, message",
    [
        ([1.0, float("nan"), 2.0], "expects finite numbers"),
        ([1.0, float("inf"), 2.0], "expects finite numbers"),
        ([1.0, 1e39, 2.0], "beyond the float32 range"),
        ("abc", "expects a sequence of numbers, got str 'abc'"),
        (["a", "b", "c"], "expects numeric elements"),
        ([1, "2", 3], "expects numeric elements"),
        ([True, False, True], "expects numeric elements"),
        ([[1, 2, 3]], "expects a 1-D vector"),
    ],
)
def test_invalid_vectors_are_validation_errors(value: Any, message: str) -> None:
    [error] = errors(value)
    assert error["type"] == "vector_invalid"
    assert message in error["msg"]


@pytest.mark.parametrize("value", [None, {"a": 1}, 3.0])
def test_non_sequences_are_type_errors(value: Any) -> None:
    [error] = errors(value)
    assert error["type"] == "vector_type"
    assert error["msg"] == f"vector expects a list of numbers, got {type(value).__name__}"


def test_json_input_is_validated_the_same_way() -> None:
    assert Item.model_validate_json('{"embedding": [0.6, 1, 2]}').embedding.dtype == np.float32
    for payload, kind in [('[1, 2]', "vector_dimension"), ('[1, NaN, 2]', "vector_invalid"), ('[1, "2", 3]', "vector_invalid"),
                          ('"abc"', "vector_invalid"), ('{"a": 1}', "vector_type")]:
        with pytest.raises(ValidationError) as info:
            Item.model_validate_json(f'{{"embedding": {payload}}}')
        assert info.value.errors()[0]["type"] == kind, payload


def test_json_schema() -> None:
    for mode in ("validation", "serialization"):
        schema = Item.model_json_schema(mode=mode)  # type: ignore[arg-type]
        assert schema["properties"]["embedding"] == {
            "type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3, "title": "Embedding",
        }
    assert TypeAdapter(PydanticVector).json_schema() == {"type": "array", "items": {"type": "number"}}


def test_serialises_float32_without_widening_noise() -> None:
    item = Item(embedding=[0.6, 0.1, 1 / 3])
    assert item.model_dump_json() == '{"embedding":[0.6,0.1,0.33333334],"extra":null}'
    dumped = item.model_dump(mode="json")
    assert dumped["embedding"] == [0.6, 0.1, 0.33333334]
    assert all(type(x) is float for x in dumped["embedding"])
    assert json.dumps(dumped) == '{"embedding": [0.6, 0.1, 0.33333334], "extra": null}'
    python = item.model_dump()
    assert python["embedding"] is item.embedding  # stays a float32 array in Python


def test_json_round_trip_is_exact() -> None:
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**32, size=200_000, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    # Every float32 within the norms vectors may have (up to 9e18: beyond, float32 L2 distances overflow),
    # in rows of 16 that start with 1.0 so that no row's norm is below the range either.
    values = values[np.isfinite(values) & (np.abs(values) <= 1e18)]
    values = np.concatenate([values, np.array([0.0, -0.0, 1e-45, 1e18, -1.1754944e-38], np.float32)])
    count = len(values) // 15 * 15
    rows = np.hstack([np.ones((count // 15, 1), np.float32), values[-count:].reshape(-1, 15)])
    adapter = TypeAdapter(List[PydanticVector])
    back = adapter.validate_json(adapter.dump_json(list(rows)))
    assert all(row.dtype == np.float32 for row in back)
    assert np.array_equal(np.stack(back).view(np.uint32), rows.view(np.uint32))  # bit for bit, -0.0 and subnormals too
    dumped = adapter.dump_python(list(rows), mode="json")
    assert np.array_equal(np.array(dumped, np.float32).view(np.uint32), rows.view(np.uint32))
    with pytest.raises(ValidationError, match="outside what float32 distances handle"):
        TypeAdapter(PydanticVector).validate_python([3.4028235e38, 0.0])


def test_vector_schema_checks_its_dimension() -> None:
    for bad in (0, -3, True, 2.5, "3"):
        with pytest.raises(InvalidVectorError, match="VectorSchema"):
            VectorSchema(bad)  # type: ignore[arg-type]
    assert VectorSchema(3) == VectorSchema(3) != VectorSchema()


def test_jsonable_and_json_default() -> None:
    value = {"v": np.array([0.6, 0.1], np.float32), "n": [np.float32(0.6), np.int64(3), np.bool_(True)], "s": "x",
             "m": np.array([[1, 2], [3, 4]], np.int32), "t": (np.float64(0.1),), "z": np.array(np.float32(2.5))}
    assert jsonable(value) == {"v": [0.6, 0.1], "n": [0.6, 3, True], "s": "x", "m": [[1, 2], [3, 4]], "t": [0.1], "z": 2.5}
    assert jsonable(np.array([np.inf, 1], np.float32)) == [None, 1.0]
    assert jsonable(np.float32(np.nan)) is None
    strided = np.arange(10, dtype=np.float32)[::3]
    assert jsonable(strided) == [0.0, 3.0, 6.0, 9.0]
    assert json.dumps({"v": np.array([0.6], np.float32)}, default=json_default) == '{"v": [0.6]}'
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        json.dumps(object(), default=json_default)
    assert json_default({1}, fallback=sorted) == [1]


# -- SQLModel ------------------------------------------------------------------------------------


class TypedVectorRow(SQLModel, table=True):
    __tablename__ = "framework_typed_vectors"
    id: Optional[int] = Field(default=None, primary_key=True)
    embedding: Annotated[np.ndarray, VectorSchema(3)] = Field(sa_type=sv.Vector(3))


class ColumnVectorRow(SQLModel, table=True):
    __tablename__ = "framework_column_vectors"
    id: Optional[int] = Field(default=None, primary_key=True)
    embedding: Optional[Annotated[np.ndarray, VectorSchema(3)]] = Field(default=None, sa_column=Column(sv.Vector(3)))


def test_sqlmodel_table_fields(tmp_path: Path) -> None:
    typed, column = TypedVectorRow.__table__.c.embedding, ColumnVectorRow.__table__.c.embedding  # type: ignore[attr-defined]
    assert repr(typed.type) == repr(column.type) == "Vector(3)"
    assert typed.nullable is False and column.nullable is True
    assert TypedVectorRow.model_json_schema()["properties"]["embedding"]["maxItems"] == 3
    with pytest.raises(ValidationError, match="vector expects 3 dimensions, got 2"):
        TypedVectorRow.model_validate({"embedding": [1, 2]})

    engine = sv.create_engine(f"sqlite:///{tmp_path}/sqlmodel.db")
    SQLModel.metadata.create_all(engine, tables=[TypedVectorRow.__table__, ColumnVectorRow.__table__])  # type: ignore[attr-defined]
    with Session(engine) as session:
        session.add_all([TypedVectorRow(embedding=[0.6, 0.1, 0.2]), ColumnVectorRow()])
        session.commit()
        row = session.scalars(select(TypedVectorRow)).one()
        assert row.embedding.dtype == np.float32
        assert '"embedding":[0.6,0.1,0.2]' in row.model_dump_json()
        assert json.loads(row.model_dump_json()) == {"id": 1, "embedding": [0.6, 0.1, 0.2]}
        assert session.scalars(select(ColumnVectorRow)).one().model_dump(mode="json") == {"id": 1, "embedding": None}
        # table models skip validation on construction: the column type still refuses a bad vector
        session.add(TypedVectorRow(embedding=[1.0, 2.0]))
        with pytest.raises(sv.exc.DimensionMismatchError, match="framework_typed_vectors.embedding"):
            session.flush()
    engine.dispose()


# -- FastAPI + SQLModel --------------------------------------------------------------------------

DOCUMENTS = [
    ("Cats purr and knead blankets when they are content.", {"topic": "pets", "year": 2019}),
    ("Kittens chase string and pounce on toys.", {"topic": "pets", "year": 2023}),
    ("Dogs bark at the mail carrier every morning.", {"topic": "pets", "year": 2021}),
    ("Bond yields rose as stock markets fell.", {"topic": "finance", "year": 2023}),
    ("Central banks raised interest rates again.", {"topic": "finance", "year": 2024}),
]


def numpy_ranking(query: str, ids: List[int], filter_: Callable[[Dict[str, Any]], bool] = lambda m: True) -> List[tuple]:
    embedder = sv.HashingEmbedder(384)
    q = embedder.embed([query])[0].astype(np.float64)
    ranked = []
    for doc_id, (text, meta) in zip(ids, DOCUMENTS):
        if filter_(meta):
            v = embedder.embed([text])[0].astype(np.float64)
            ranked.append((1 - v @ q / (np.linalg.norm(v) * np.linalg.norm(q)), doc_id))
    return [(doc_id, d) for d, doc_id in sorted(ranked)]


def test_fastapi_sqlmodel_service(database_url: str) -> None:
    from fastapi.testclient import TestClient

    app_module = load_example("fastapi_app")
    embedder = sv.HashingEmbedder(384)
    with TestClient(app_module.create_app(database_url)) as client:
        ids = []
        for text, meta in DOCUMENTS:
            response = client.post("/documents", json={"content": text, "metadata": meta})
            assert response.status_code == 201, response.text
            body = response.json()
            assert body["metadata"] == meta and len(body["embedding"]) == 384
            ids.append(body["id"])
        assert len(set(ids)) == len(ids)

        # the stored vector comes back exactly (float32 bits) through JSON
        got = client.get(f"/documents/{ids[0]}").json()
        assert got["content"] == DOCUMENTS[0][0]
        stored = np.array(got["embedding"], np.float32)
        assert np.array_equal(stored.view(np.uint32), embedder.embed([DOCUMENTS[0][0]])[0].view(np.uint32))

        # ranking and distances as numpy computes them
        for params, keep in [
            ({"q": "content cats purring", "k": 5}, lambda m: True),
            ({"q": "stock market interest rates", "k": 2}, lambda m: True),
            ({"q": "cats", "k": 5, "where": json.dumps({"year": {"$gte": 2021}})}, lambda m: m["year"] >= 2021),
            ({"q": "cats", "k": 5, "where": json.dumps({"topic": "finance"})}, lambda m: m["topic"] == "finance"),
            ({"q": "pets", "where": json.dumps({"$or": [{"year": 2019}, {"topic": {"$ne": "pets"}}]})},
             lambda m: m["year"] == 2019 or m["topic"] != "pets"),
        ]:
            hits = client.get("/search", params=params).json()
            expected = numpy_ranking(params["q"], ids, keep)[: params.get("k", 5)]
            assert [h["id"] for h in hits] == [i for i, _ in expected], params
            assert [h["distance"] for h in hits] == pytest.approx([d for _, d in expected], abs=1e-5)
        assert client.get("/search", params={"q": "content cats purring"}).json()[0]["content"] == DOCUMENTS[0][0]
        finance = client.get("/search", params={"q": "cats", "where": '{"topic": "finance"}'}).json()
        assert {h["metadata"]["topic"] for h in finance} == {"finance"} and len(finance) == 2

        # a given embedding is stored as given, and written back without float32 widening noise
        given = [0.6, 0.1, 1 / 3] + [0.0] * 380 + [-2.5e-7]
        response = client.post("/documents", json={"content": "given", "embedding": given})
        assert response.status_code == 201
        raw = client.get(f"/documents/{response.json()['id']}").text
        assert '"embedding":[0.6,0.1,0.33333334,0.0,' in raw and raw.endswith(",-2.5e-7]}")
        assert "0.6000000238" not in raw

        # mistakes are 4xx answers that say what is wrong
        bad = client.post("/documents", json={"content": "x", "embedding": [0.6, 1]})
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["msg"] == "vector expects 384 dimensions, got 2"
        assert client.post("/documents", json={"content": "x", "embedding": [1, "a"] * 192}).status_code == 422
        assert client.get("/search", params={"q": "cats", "where": "{bad"}).status_code == 422
        unknown = client.get("/search", params={"q": "cats", "where": '{"year": {"$foo": 1}}'})
        assert unknown.status_code == 422 and "unknown operator '$foo'" in unknown.json()["detail"]
        assert client.get("/search", params={"q": "the"}).status_code == 422
        assert client.get("/documents/999999").status_code == 404

        schema = client.get("/openapi.json").json()["components"]["schemas"]["DocumentOut"]["properties"]["embedding"]
        assert schema == {"type": "array", "items": {"type": "number"}, "minItems": 384, "maxItems": 384, "title": "Embedding"}


# -- Flask + Flask-SQLAlchemy --------------------------------------------------------------------


def test_flask_service(database_url: str) -> None:
    app_module = load_example("flask_app")
    app = app_module.create_app(database_url)
    client = app.test_client()
    embedder = sv.HashingEmbedder(384)
    try:
        ids = []
        for text, _ in DOCUMENTS:
            response = client.post("/notes", json={"content": text})
            assert response.status_code == 201, response.get_data(as_text=True)
            ids.append(response.get_json()["id"])
        note = client.get(f"/notes/{ids[1]}").get_json()
        stored = np.array(note["embedding"], np.float32)
        assert np.array_equal(stored.view(np.uint32), embedder.embed([DOCUMENTS[1][0]])[0].view(np.uint32))

        hits = client.get("/search?q=kittens+pounce&k=3").get_json()
        expected = numpy_ranking("kittens pounce", ids)[:3]
        assert [h["id"] for h in hits] == [i for i, _ in expected]
        assert [h["distance"] for h in hits] == pytest.approx([d for _, d in expected], abs=1e-5)
        for k in ("-1", "0", "x", "101"):
            refused = client.get(f"/search?q=kittens&k={k}")
            assert refused.status_code == 422 and "k must be a whole number from 1 to 100" in refused.get_data(as_text=True)

        given = client.post("/notes", json={"content": "given", "embedding": [0.6] * 384})
        assert given.status_code == 201
        assert '"embedding":[0.6,0.6,' in client.get(f"/notes/{given.get_json()['id']}").get_data(as_text=True)
        bad = client.post("/notes", json={"content": "x", "embedding": [0.6, 1]})
        assert bad.status_code == 422 and "expects 384 dimensions, got 2" in bad.get_json()["error"]
        assert client.get("/notes/999999").status_code == 404
        with app.app_context():
            state = engine_state(app_module.db.engine.dialect)
        if database_url.startswith("sqlite"):
            assert state == {"sqlite_vec": "extension"}  # sqlean loads it through Flask-SQLAlchemy's engine
    finally:
        with app.app_context():
            app_module.db.engine.dispose()


def test_flask_json_provider_keeps_flask_types() -> None:
    import datetime
    import uuid

    app = load_example("flask_app").create_app("sqlite://")
    day, key = datetime.date(2024, 2, 29), uuid.UUID(int=1)
    with app.app_context():
        text = app.json.dumps({"v": np.array([0.6, 0.1], np.float32), "day": day, "key": key})
    assert json.loads(text) == {"v": [0.6, 0.1], "day": "Thu, 29 Feb 2024 00:00:00 GMT", "key": str(key)}


# -- pandas --------------------------------------------------------------------------------------


class PandasBase(DeclarativeBase):
    pass


class PandasDoc(PandasBase):
    __tablename__ = "pandas_docs"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    embedding: Mapped[np.ndarray] = mapped_column(sv.Vector(3))


def test_pandas_read_sql_gives_arrays(database_url: str) -> None:
    import pandas as pd

    engine = sv.create_engine(database_url)
    PandasBase.metadata.create_all(engine)
    vectors = {1: [0.6, 0.1, 0.2], 2: [1.0, -2.0, 3.5]}
    with Session(engine) as session:
        session.add_all(PandasDoc(id=i, embedding=v) for i, v in vectors.items())
        session.commit()
    frame = pd.read_sql(select(PandasDoc.id, PandasDoc.embedding).order_by(PandasDoc.id), engine)
    engine.dispose()
    assert frame["id"].tolist() == [1, 2]
    for doc_id, cell in zip(frame["id"], frame["embedding"]):
        assert isinstance(cell, np.ndarray) and cell.dtype == np.float32
        assert np.array_equal(cell, np.array(vectors[doc_id], np.float32))
    assert jsonable(frame.to_dict(orient="records")) == [{"id": 1, "embedding": [0.6, 0.1, 0.2]}, {"id": 2, "embedding": [1.0, -2.0, 3.5]}]


# -- the apps' documented curl commands ------------------------------------------------------------


def curl_request(command: str) -> Dict[str, Any]:
    """What curl sends for ``command`` (the options the docstrings use), or an AssertionError where curl would not send it.

    curl reads ``{...}`` and ``[...]`` in a URL as a glob (``{a,b}`` is two requests, ``{"k":"v"}`` loses its braces)
    unless ``-g``/``--globoff`` is given; ``-G`` puts ``-d``/``--data-urlencode`` data in the query string.
    """
    import shlex
    from urllib.parse import quote_plus, urlsplit

    args = shlex.split(command)
    assert args[0] == "curl"
    method, headers, data, get, globoff, url = None, {}, [], False, False, None
    i = 1
    while i < len(args):
        arg = args[i]
        if arg == "-X":
            method, i = args[i + 1], i + 1
        elif arg == "-H":
            name, _, value = args[i + 1].partition(":")
            headers[name.strip()], i = value.strip(), i + 1
        elif arg in ("-d", "--data"):
            data.append(args[i + 1])
            i += 1
        elif arg == "--data-urlencode":
            name, _, value = args[i + 1].partition("=")
            data.append(f"{name}={quote_plus(value)}")
            i += 1
        elif arg == "-G":
            get = True
        elif arg in ("-g", "--globoff"):
            globoff = True
        else:
            assert not arg.startswith("-"), f"option {arg} is not understood here"
            url = arg
        i += 1
    assert url is not None
    assert globoff or not any(c in url for c in "{}[]"), f"curl globs the braces or brackets in {url!r}; use -g or -G with --data-urlencode"
    parts = urlsplit(url if "://" in url else "http://" + url)
    query = "&".join(filter(None, [parts.query, *(data if get else [])]))
    body = None if get or not data else "&".join(data)
    return {"method": method or ("POST" if body is not None else "GET"), "path": parts.path + ("?" + query if query else ""),
            "headers": headers, "body": body}


def docstring_curls(name: str) -> List[str]:
    """The docstring's curl commands, each with its continuation line (after a trailing backslash) joined."""
    lines = (load_example(name).__doc__ or "").splitlines() + [""]
    return [
        line.strip().removesuffix("\\").strip() + (" " + nxt.strip() if line.rstrip().endswith("\\") else "")
        for line, nxt in zip(lines, lines[1:])
        if line.strip().startswith("curl ")
    ]


def test_curl_emulation_globs_like_curl() -> None:
    with pytest.raises(AssertionError, match="curl globs the braces"):
        curl_request("""curl 'localhost:8000/search?q=a&where={"topic":"pets"}'""")
    assert curl_request("""curl -G localhost:8000/s --data-urlencode 'w={"a":1}' -d k=3""")["path"] == "/s?w=%7B%22a%22%3A1%7D&k=3"


@pytest.mark.parametrize("app_name", ["fastapi_app", "flask_app"])
def test_docstring_curl_commands_work_as_written(app_name: str, tmp_path: Path) -> None:
    """Each curl command in the app's docstring, sent as curl sends it, is answered with success."""
    url = f"sqlite:///{tmp_path}/app.db"
    commands = docstring_curls(app_name)
    assert len(commands) == 3
    if app_name == "fastapi_app":
        from fastapi.testclient import TestClient

        with TestClient(load_example(app_name).create_app(url)) as client:
            for command in commands:
                sent = curl_request(command)
                response = client.request(sent["method"], sent["path"], headers=sent["headers"], content=sent["body"])
                assert response.status_code < 300, (command, response.text)
            hits = client.get(curl_request(commands[1])["path"]).json()
            assert [hit["content"] for hit in hits] == ["Cats purr when content."]
        return
    module = load_example(app_name)
    app = module.create_app(url)
    try:
        client = app.test_client()
        for command in commands:
            sent = curl_request(command)
            response = client.open(sent["path"], method=sent["method"], headers=sent["headers"], data=sent["body"])
            assert response.status_code < 300, (command, response.get_data(as_text=True))
    finally:
        with app.app_context():
            module.db.engine.dispose()
