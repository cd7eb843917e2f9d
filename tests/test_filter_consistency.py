"""One metadata filter, one answer on every backend: a corpus of awkward values, a matrix of filters, a Python oracle.

Each filter of the matrix runs through the facade (``query_with_filters``, ``query_with_embedding``,
``delete_documents``) on SQLite, DuckDB, PostgreSQL and ClickHouse, and must return exactly the
documents the oracle finds by evaluating the filter on the Python metadata with the documented
semantics: values compare by JSON type (``1`` matches ``1.0``, not ``"1"`` or ``True``), numbers as
double precision (``0`` matches ``-0.0``), strings by code point, ``None`` matches JSON null only,
a missing key matches only ``$ne``, ``$nin``, ``$not`` and ``"$exists": False``, and ``$like`` is
case-sensitive (``%`` any run, newlines included, ``_`` one character, ``\\`` escapes).  Malformed
filters raise ``InvalidFilterError`` before any SQL runs.
"""

from __future__ import annotations

import random
import re
from datetime import datetime
from typing import Any, Callable, Dict, Iterator, List, Mapping, Sequence, Tuple

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

import sqlalchemy_vector as sv
from index_helpers import fresh_database
from test_filters import operators_used
from rag_fixtures import KeywordEmbedder, existing_models, vector_ddl, vector_param, vector_placeholder
from sqlalchemy_vector.exc import InvalidFilterError
from sqlalchemy_vector.filters import OPERATORS, json_value
from sqlalchemy_vector.rag import VectorRAG

# The backends a fresh database is made of (test_rag.py's FRESH_BACKENDS).
BACKENDS = ("sqlite", "duckdb", "postgresql", "clickhouse")

# -- the corpus ---------------------------------------------------------------------------------

_MISSING = object()

# Key "v" of one document each (the last two have none).
VALUES: List[Any] = [
    # strings, including ones that look like numbers, booleans or null, and LIKE/GLOB/regex characters
    "", "1", "true", "null", "abc", "ABC", "a'b", 'a"b', "a\\b", "a.b", "a%b", "a_b", "a*b",
    "é", "e\u0301", "😀", "line\nbreak", "zeta",
    # numbers: -0.0 next to 0, 1.0 next to 1, the ends of 64 bits, beyond 2**53, a float above 2**63
    0, -0.0, 1, 1.0, -1, 2**63 - 1, -(2**63), 2**53 + 1, 1e20, 1.5, 0.1, -2.5,
    # far magnitudes that SQLite 3.50 reads from JSON text one unit in the last place off
    7.654927133881691e-231, 8.615776765854815e+213,
    True, False, None,
    [], ["a", "b"], [1], {}, {"x": 1},
    _MISSING, _MISSING,
]

# Keys that need quoting or escaping in some backend's JSON path (a double quote is test_filters.py's:
# SQLite before 3.45 cannot address it).
ODD_KEYS: Dict[str, Any] = {
    "with space": "sp", "it's": "apos", "": "empty key", "é": 1, "😀": "smile", "k\nnl": "newline key",
    "back\\slash": 3, "~/x": 4, "[0]": 6, "12": 7, "a.$n": 8,
}


def _metadata(i: int, value: Any) -> Dict[str, Any]:
    meta: Dict[str, Any] = {} if value is _MISSING else {"v": value}
    if i % 3 == 0:
        meta["n"] = i  # a number on some documents, a numeric string on others, missing on the rest
    elif i % 3 == 1:
        meta["n"] = str(i)
    if i % 7:
        meta["flag"] = [True, False, 1, 0, None][i % 5]  # True next to 1, False next to 0
    if i % 4 == 0:
        meta["tags"] = ["red", "blue"] if i % 8 == 0 else ["red"]
    if i % 6 == 0:
        meta["nested"] = {"deep": {"k": i}, "x": i % 4}
    if i % 5 == 0:
        meta["a.b"] = i  # a key with a dot ...
    elif i % 5 == 1:
        meta["a"] = {"b": i}  # ... is not a path into this one
    if i % 9 == 0:
        meta.update(ODD_KEYS)
        meta["odd"] = dict(ODD_KEYS)  # the same keys inside an object
    if i % 10 == 2:
        meta["list_or_obj"] = {"0": i, "k": {"0": i}}  # a member named "0" ...
    elif i % 10 == 7:
        meta["list_or_obj"] = [i, {"k": i}]  # ... is not an array's first element
    return meta


CORPUS: Dict[str, Dict[str, Any]] = {f"d{i:02d}": _metadata(i, value) for i, value in enumerate(VALUES)}
EMBEDDINGS = {doc_id: [1.0, i / len(CORPUS)] for i, doc_id in enumerate(CORPUS)}

# -- the oracle: the filter evaluated on the Python metadata ------------------------------------------


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "list" if isinstance(value, list) else "dict"


def _equals(meta: Mapping[str, Any], key: str, value: Any) -> bool:
    if key not in meta or _kind(meta[key]) != _kind(value):
        return False
    if _kind(value) == "number":
        return float(meta[key]) == float(value)  # double precision
    return bool(meta[key] == value)


def _ordered(meta: Mapping[str, Any], key: str, op: str, value: Any) -> bool:
    if key not in meta or _kind(meta[key]) != _kind(value):
        return False
    stored = meta[key]
    if _kind(value) == "number":
        stored, value = float(stored), float(value)
    # str compares by code point, the order of UTF-8 bytes
    return {"$gt": stored > value, "$gte": stored >= value, "$lt": stored < value, "$lte": stored <= value}[op]


def _like(pattern: str) -> "re.Pattern[str]":
    parts: List[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            parts.append(re.escape(next(chars)))
        else:
            parts.append({"%": ".*", "_": "."}.get(char, re.escape(char)))
    return re.compile("".join(parts), re.DOTALL)


def _operator(meta: Mapping[str, Any], key: str, op: str, value: Any) -> bool:
    if op == "$eq":
        return _equals(meta, key, value)
    if op == "$ne":
        return not _equals(meta, key, value)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return _ordered(meta, key, op, value)
    if op == "$in":
        return any(_equals(meta, key, v) for v in value)
    if op == "$nin":
        return not any(_equals(meta, key, v) for v in value)
    if op == "$exists":
        return (key in meta) is value
    if op == "$like":
        return isinstance(meta.get(key), str) and _like(value).fullmatch(meta[key]) is not None
    assert op == "$not", op
    return not _field(meta, key, value)


def _field(meta: Mapping[str, Any], key: str, condition: Any) -> bool:
    if isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition):
        return all(_operator(meta, key, op, value) for op, value in condition.items())
    if isinstance(condition, dict) and condition:
        # plain keys: members of the object at key; anything else there (an array included) has none
        inner = meta[key] if isinstance(meta.get(key), dict) else {}
        return all(_field(inner, k, c) for k, c in condition.items())
    return _equals(meta, key, condition)


def matches(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    for key, condition in spec.items():
        if key == "$and":
            ok = all(matches(meta, part) for part in condition)
        elif key == "$or":
            ok = any(matches(meta, part) for part in condition)
        elif key == "$not":
            ok = not matches(meta, condition)
        else:
            ok = _field(meta, key, condition)
        if not ok:
            return False
    return True


def oracle(spec: Mapping[str, Any], corpus: Mapping[str, Mapping[str, Any]] = CORPUS) -> List[str]:
    return sorted(doc_id for doc_id, meta in corpus.items() if matches(meta, spec))


# -- the matrix -------------------------------------------------------------------------------------

SCALARS = [v for v in VALUES if v is not _MISSING and not isinstance(v, (list, dict))]
PROBES: List[Any] = SCALARS + [
    "5", 5, 2, "a", "A", "z", "\x7f", "ÿ", "%", "_", 0.0, 2**53, -1e20, 9.223372036854776e18, 5e-324,
    8.6e+213, 7.6e-231,
]
ORDERED_PROBES = [p for p in PROBES if not isinstance(p, bool) and p is not None]

IN_LISTS: List[Sequence[Any]] = [
    [], [1, True], [0, False], [1, "1"], [None], [None, 0], [0, 5], [-0.0, 5], [0.0, 1.0, 2.0], [5e-324, 0],
    ["", "1", "true"], [True, False], [1, 1.0, 1.5, "1", True, None], [2**63 - 1, -(2**63)], [2**53, 7],
    [1e20, 0.1], ["é", "e\u0301", "😀"], ("abc", "ABC"), {"abc", "zeta"}, [False, None, ""],
    [0, *range(1000, 1100)],  # a long list
]

LIKE_PATTERNS = [
    "%", "", "_", "__", "a%", "A%", "%b", "a_b", "a\\_b", "a\\%b", "a%b", "a\\\\b", "a\\b", "a.b", "a\\.b", "a*b",
    "a\\*b", "%*%", "%[%", "%.%", ".*", "é", "e_", "e__", "_\u0301", "😀", "line%", "line_break", "%\n%", "tr%",
    "%1%", "%'%", '%"%', "abc", "ABC", "%B%", "\\a%", "%\\\\%", "%\\%%", "%\\_%",
]

SECONDARY_VALUES: List[Any] = [True, False, 1, 0, -0.0, None, "1", "0", 1.0, "true", 3, "4"]


def _random_leaf(rnd: random.Random) -> Dict[str, Any]:
    key = rnd.choice(["v", "n", "flag", "tags", "nested", "a.b", "a", "missing", "", "é"])
    op = rnd.choice(["$eq", "$ne", "$gt", "$lte", "$in", "$nin", "$exists", "$like", "bare", "$not"])
    value = rnd.choice(PROBES)
    if op == "bare":
        return {key: value}
    if op in ("$gt", "$lte"):
        return {key: {op: rnd.choice(ORDERED_PROBES), "$lt" if op == "$gt" else "$gte": rnd.choice(ORDERED_PROBES)}}
    if op in ("$in", "$nin"):
        return {key: {op: rnd.sample(PROBES, rnd.randint(0, 6))}}
    if op == "$exists":
        return {key: {op: rnd.random() < 0.5}}
    if op == "$like":
        return {key: {op: rnd.choice(LIKE_PATTERNS)}}
    if op == "$not":
        return {key: {"$not": rnd.choice([{"$eq": value}, {"$in": rnd.sample(PROBES, 3)}, {"$like": "a%"}])}}
    return {key: {op: value}}


def _random_nested_leaf(rnd: random.Random) -> Dict[str, Any]:
    """A leaf on a key inside objects: the condition of a random leaf, moved under a path."""
    ((_, condition),) = _random_leaf(rnd).items()
    path = rnd.choice([["nested", "x"], ["nested", "deep", "k"], ["a", "b"], ["list_or_obj", "0"], ["v", "x"], ["tags", "0"]])
    for key in reversed(path):
        condition = {key: condition}
    return condition


def _random_filter(rnd: random.Random, depth: int = 0) -> Dict[str, Any]:
    pick = rnd.random()
    if depth > 2 or pick < 0.35:
        return _random_nested_leaf(rnd) if rnd.random() < 0.25 else _random_leaf(rnd)
    if pick < 0.55:
        return {"$and": [_random_filter(rnd, depth + 1) for _ in range(rnd.randint(1, 3))]}
    if pick < 0.75:
        return {"$or": [_random_filter(rnd, depth + 1) for _ in range(rnd.randint(1, 3))]}
    if pick < 0.9:
        return {"$not": _random_filter(rnd, depth + 1)}
    combined: Dict[str, Any] = {}
    for _ in range(3):
        combined.update(_random_leaf(rnd))
    return combined


def _matrix() -> Dict[str, List[Dict[str, Any]]]:
    groups: Dict[str, List[Dict[str, Any]]] = {}
    groups["equality"] = [
        spec
        for p in PROBES
        for spec in ({"v": p}, {"v": {"$eq": p}}, {"v": {"$ne": p}}, {"v": {"$in": [p]}}, {"v": {"$nin": [p]}})
    ]
    groups["ordering"] = [{"v": {op: p}} for p in ORDERED_PROBES for op in ("$gt", "$gte", "$lt", "$lte")] + [
        {"v": {"$gt": 0, "$lt": 100}},
        {"v": {"$gt": "a", "$lt": "b"}},
        {"v": {"$gte": "", "$lte": ""}},
        {"n": {"$gt": "5"}},  # strings only: "6" > "5" but "10" < "5"
        {"n": {"$lt": 5}},
        {"flag": {"$gte": 0}},  # numbers only, not False
    ]
    groups["in"] = [{key: {op: values}} for values in IN_LISTS for key in ("v", "flag", "missing") for op in ("$in", "$nin")]
    groups["secondary"] = [
        spec for key in ("flag", "n") for value in SECONDARY_VALUES for spec in ({key: value}, {key: {"$ne": value}})
    ]
    keys = ["v", "n", "flag", "tags", "nested", "a.b", "a", "missing", "nested.deep.k", "nested.x", "a.b.c", *ODD_KEYS]
    groups["keys"] = [
        spec
        for key in keys
        for spec in ({key: {"$exists": True}}, {key: {"$exists": False}}, {key: None}, {key: {"$ne": None}})
    ] + [spec for key, value in ODD_KEYS.items() for spec in ({key: value}, {key: {"$ne": value}})] + [
        {"a.b": 0}, {"a.b": 5}, {"nested.x": 0}, {"nested.deep.k": 6},  # dots name keys, never paths
        {"tags": "red"}, {"tags": {"$ne": "red"}}, {"tags": {"$in": ["red"]}},  # lists are not searched
    ]
    groups["like"] = [{"v": {"$like": p}} for p in LIKE_PATTERNS] + [
        {"v": {"$not": {"$like": "a%"}}},
        {"n": {"$like": "1%"}},  # strings only: "1", "10", "13", ..., not 12
        {"tags": {"$like": "%red%"}},
        {"nested": {"$like": "%"}},
    ]
    groups["logic"] = [
        {},
        {"$and": [{}]},
        {"$or": [{}, {"v": 1}]},
        {"$not": {}},
        {"$and": [{"v": {"$gte": 0}}, {"v": {"$lt": 2}}]},
        {"$or": [{"v": True}, {"v": 1}]},
        {"$or": [{"v": None}, {"v": {"$exists": False}}]},
        {"$not": {"v": {"$exists": True}}},
        {"$not": {"v": None}},
        {"$not": {"$or": [{"v": {"$gt": 0}}, {"v": {"$lt": "b"}}]}},
        {"$and": [{"$or": [{"n": {"$gt": 10}}, {"n": {"$lt": "2"}}]}, {"$not": {"flag": True}}]},
        {"v": {"$not": {"$gt": 0}}},
        {"v": {"$not": {"$in": [1, "1"]}}},
        {"v": {"$not": {"$exists": True}}},
        {"v": {"$not": {"$not": {"$eq": 1}}}},
        {"v": {"$not": {"$like": "a%"}}, "n": {"$exists": True}},
        {"v": {"$exists": True}, "flag": {"$in": [True, 0]}},
        {"$and": [{"v": {"$ne": None}}, {"v": {"$ne": 0}}]},
        {"$not": {"$and": [{"n": {"$exists": True}}, {"flag": {"$exists": True}}]}},
    ]
    groups["nested"] = [
        {"nested": {"x": 0}},
        {"nested": {"x": {"$gt": 1}}},
        {"nested": {"x": {"$ne": 0}}},
        {"nested": {"x": {"$not": {"$in": [0, 1]}}}},
        {"nested": {"x": 0, "deep": {"k": 12}}},
        {"nested": {"deep": {"k": 6}}},
        {"nested": {"deep": {"k": {"$in": [0, 6, 12, "6"]}}}},
        {"nested": {"deep": {"k": {"$nin": [6]}}}},
        {"nested": {"deep": {"k": {"$gt": 10, "$lt": 40}}}},
        {"nested": {"deep": {"$exists": True}}},
        {"nested": {"deep": {"k": {"$exists": False}}}},
        {"nested": {"deep": {"k": {"$like": "%"}}}},  # numbers are not strings
        {"nested": {"deep": None}},
        {"nested": {"missing": {"k": {"$exists": False}}}},
        {"a": {"b": 1}},
        {"a": {"b": {"$gte": 10}}},
        {"a.b": {"$exists": True}, "a": {"b": {"$exists": False}}},
        {"v": {"x": 1}},  # the object {"x": 1} among scalar values
        {"v": {"x": {"$ne": 1}}},
        {"v": {"x": None}},
        {"tags": {"0": "red"}},  # arrays have no members
        {"tags": {"0": {"$exists": True}}},
        {"list_or_obj": {"0": 2}},
        {"list_or_obj": {"0": {"$exists": True}}},
        {"list_or_obj": {"0": {"$exists": False}}},
        {"list_or_obj": {"0": {"$gte": 0}}},
        {"list_or_obj": {"1": {"k": {"$exists": True}}}},
        {"list_or_obj": {"k": {"0": {"$gte": 0}}}},
        {"$not": {"nested": {"x": 0}}},
        {"$or": [{"nested": {"x": 1}}, {"a": {"b": 6}}]},
        {"$and": [{"nested": {"x": {"$exists": True}}}, {"nested": {"deep": {"k": {"$lt": 20}}}}]},
    ] + [
        spec
        for key, value in ODD_KEYS.items()
        for spec in ({"odd": {key: value}}, {"odd": {key: {"$ne": value}}}, {"odd": {key: {"$exists": True}}})
    ]
    rnd = random.Random(20240601)
    groups["random"] = [_random_filter(rnd) for _ in range(150)]
    return groups


MATRIX = _matrix()

# -- the databases: one per backend, the corpus loaded once ----------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[str, VectorRAG]]:
    backend = str(request.param)
    with fresh_database(backend, tmp_path_factory.mktemp(f"filters-{backend}"), request) as url:
        rag = VectorRAG(url, dimension=2)
        try:
            rag.load_documents(
                [
                    {"content": doc_id, "document_id": doc_id, "metadata": meta, "embedding": EMBEDDINGS[doc_id]}
                    for doc_id, meta in CORPUS.items()
                ],
                show_progress=False,
            )
            yield backend, rag
        finally:
            rag.close()


@pytest.fixture
def rag(loaded: Tuple[str, VectorRAG], engine_for: Callable[[str], Engine]) -> VectorRAG:
    engine_for(loaded[0])  # counts the backend as reached (SQLALCHEMY_VECTOR_REQUIRE_BACKENDS)
    return loaded[1]


def _ids(results: Sequence[Mapping[str, Any]]) -> List[str]:
    return sorted(str(r["document_id"]) for r in results)


def _keys(spec: Any) -> List[str]:
    """The metadata keys a filter reads."""
    if isinstance(spec, dict):
        return [k for key, value in spec.items() for k in ([] if key.startswith("$") else [key]) + _keys(value)]
    if isinstance(spec, (list, tuple)):
        return [k for part in spec for k in _keys(part)]
    return []


def _mismatches(run: Callable[[Dict[str, Any]], List[str]], specs: Sequence[Dict[str, Any]]) -> List[str]:
    found = []
    for spec in specs:
        expected, got = oracle(spec), run(spec)
        if got != expected:
            extra, missing = sorted(set(got) - set(expected)), sorted(set(expected) - set(got))
            keys = dict.fromkeys(_keys(spec))
            values = {d: {k: CORPUS[d].get(k, "<missing>") for k in keys} for d in extra + missing}
            found.append(f"{spec!r}: extra {extra}, missing {missing} (their values: {values!r})")
    return found


def test_the_matrix_uses_every_operator() -> None:
    assert operators_used(list(MATRIX.values())) == set(OPERATORS)
    assert len(CORPUS) == 42 and sum(map(len, MATRIX.values())) > 800


def test_the_oracle_follows_the_documented_semantics() -> None:
    by_value = {repr(meta.get("v", "<missing>")): doc_id for doc_id, meta in CORPUS.items()}
    assert oracle({"v": 1}) == sorted([by_value["1"], by_value["1.0"]])  # not "1", not True
    assert oracle({"v": True}) == [by_value["True"]]
    assert oracle({"v": {"$in": [0, 5]}}) == sorted([by_value["0"], by_value["-0.0"]])
    assert oracle({"v": None}) == [by_value["None"]]  # not the documents without the key
    assert len(oracle({"v": {"$ne": None}})) == len(CORPUS) - 1
    assert oracle({"v": {"$like": "a_b"}}) == sorted(by_value[repr(s)] for s in ("a'b", 'a"b', "a\\b", "a.b", "a%b", "a_b", "a*b"))


@pytest.mark.parametrize("group", sorted(MATRIX))
def test_query_with_filters_matches_the_oracle(rag: VectorRAG, group: str) -> None:
    mismatches = _mismatches(lambda spec: _ids(rag.query_with_filters(spec, top_k=100)), MATRIX[group])
    assert not mismatches, f"{len(mismatches)} of {len(MATRIX[group])} filters disagree:\n" + "\n".join(mismatches)


def test_ranked_search_filters_the_same_way(rag: VectorRAG) -> None:
    # query_with_embedding applies the filter inside the ranking (SQLite: inside the KNN; ClickHouse: a
    # second statement reads the documents)
    specs = MATRIX["logic"] + MATRIX["in"][::4] + MATRIX["equality"][::12] + MATRIX["nested"][::2] + MATRIX["random"][:25]
    mismatches = _mismatches(lambda spec: _ids(rag.query_with_embedding([1.0, 0.0], top_k=100, filters=spec)), specs)
    assert not mismatches, "\n".join(mismatches)


# -- malformed filters: InvalidFilterError, the filter and value named, before any SQL runs ----------------

MALFORMED: List[Tuple[Any, str]] = [
    ({"v": {"$regex": "a"}}, r"on key 'v': unknown operator '\$regex'; expected one of"),
    ({"$nor": [{"v": 1}]}, r"unknown operator '\$nor' at the top level"),
    ({"$price": 5}, r"a metadata key that starts with '\$' is read with an expression instead: "
     r"json_value\(Document.metadata_, '\$price', 'number'\) > 3"),
    ({"v": {"$or": [{"$eq": 1}]}}, r"on key 'v': unknown operator '\$or'"),
    ({"v": {"$in": "abc"}}, r"\$in expects a list of values, got str 'abc'"),
    ({"v": {"$in": 5}}, r"\$in expects a list of values, got int 5"),
    ({"v": {"$nin": None}}, r"\$nin expects a list of values, got NoneType None"),
    ({"v": {"$in": {"a": 1}}}, r"\$in expects a list of values, got dict"),
    ({"v": {"$eq": {"x": 1}}}, r"\$eq expects a number, string, boolean or None, got dict \{'x': 1\}"),
    ({"nested": {"deep": {}}}, r"on key 'nested' > 'deep': \$eq expects a number, string, boolean or None, got dict \{\}"),
    ({"nested": {"x": {"$regex": "a"}}}, r"on key 'nested' > 'x': unknown operator '\$regex'"),
    ({"nested": {"x": {"$gt": 1}, "$lt": 2}}, r"on key 'nested': mixes operators and plain keys"),
    ({"v": {}}, r"\$eq expects a number, string, boolean or None, got dict \{\}"),
    ({"v": [1]}, r"\$eq expects a number, string, boolean or None, got list \[1\]"),
    ({"v": {"$in": [[1]]}}, r"\$in expects a number, string, boolean or None, got list \[1\]"),
    ({"v": {"$gt": True}}, r"\$gt compares numbers or strings, got the boolean True"),
    ({"v": {"$lte": None}}, r"\$lte expects a number or a string, got NoneType None"),
    ({"v": float("nan")}, r"filters\['v'\] holds nan"),
    ({"v": {"$gt": float("inf")}}, r"filters\['v'\]\['\$gt'\] holds inf"),
    ({"v": {"$in": [1, float("nan")]}}, r"filters\['v'\]\['\$in'\]\[1\] holds nan"),
    ({1: "a"}, r"filters has the key 1 of type int"),
    ({"v": {"$gt": 1, 2: 3}}, r"filters\['v'\] has the key 2 of type int"),
    ({"v": {"$exists": 1}}, r"\$exists expects True or False, got 1"),
    ({"v": {"$like": 5}}, r"\$like expects a string pattern, got int 5"),
    ({"v": {"$like": "abc\\"}}, r"ends with an unpaired escape character"),
    ({"v": {"$gt": 1, "x": 2}}, r"mixes operators and plain keys"),
    ({"$or": []}, r"\$or expects a non-empty list of filter dicts, got \[\]"),
    ({"$and": [1]}, r"\$and\[0\] must be a filter dict, got int 1"),
    ({"$not": [{"v": 1}]}, r"\$not expects a filter dict"),
    ({"v": {"$not": 3}}, r"\$not on a key expects a dict of operators"),
    ({"v": 2**64}, r"holds the integer 18446744073709551616, outside the 64-bit range"),
    ({"v": "a\x00b"}, r"contains a NUL character"),
    ({"v": {"$eq": b"x"}}, r"\$eq expects a number, string, boolean or None, got bytes b'x'"),
    ("v = 1", r"filters must be a dict of metadata conditions or a SQLAlchemy boolean expression, got str"),
]


@pytest.mark.parametrize("spec, message", MALFORMED, ids=[repr(m[0]) for m in MALFORMED])
def test_malformed_filters_raise_before_any_sql(rag: VectorRAG, spec: Any, message: str) -> None:
    statements: List[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(rag.engine, "before_cursor_execute", record)
    try:
        with pytest.raises(InvalidFilterError, match=message):
            rag.query_with_filters(spec, top_k=100)
        with pytest.raises(InvalidFilterError, match=message):
            rag.query_with_embedding([1.0, 0.0], top_k=100, filters=spec)
        with pytest.raises(InvalidFilterError, match=message):
            rag.delete_documents(filters=spec)
        assert statements == []
        assert len(rag.query_with_filters({}, top_k=100)) == len(CORPUS)  # nothing was deleted
        assert statements  # the recorder sees the statements that do run
    finally:
        event.remove(rag.engine, "before_cursor_execute", record)


@pytest.mark.parametrize("backend", BACKENDS)
def test_keys_starting_with_a_dollar_are_found_as_the_error_says(backend: str, fresh_database_url: Any) -> None:
    # A filter dict cannot name such a key (it reads as an operator): the error points to json_value.
    rag = VectorRAG(fresh_database_url(backend), dimension=2)
    try:
        rag.load_documents([{"content": "a", "document_id": "a", "metadata": {"$price": 5}},
                            {"content": "b", "document_id": "b", "metadata": {"$price": 1}}], show_progress=False)
        with pytest.raises(InvalidFilterError, match=r"json_value\(Document.metadata_, '\$price', 'number'\) > 3"):
            rag.query_with_filters({"$price": {"$gt": 3}})
        expression = json_value(rag.document_model.metadata_, "$price", "number") > 3  # type: ignore[attr-defined]
        assert _ids(rag.query_with_filters(expression)) == ["a"]
    finally:
        rag.close()


# -- writes and tables of other shapes -----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_delete_documents_deletes_what_the_oracle_matches(backend: str, fresh_database_url: Any) -> None:
    rag = VectorRAG(fresh_database_url(backend), dimension=2)
    try:
        rag.load_documents(
            [{"content": d, "document_id": d, "metadata": m, "embedding": EMBEDDINGS[d]} for d, m in CORPUS.items()],
            show_progress=False,
        )
        left = dict(CORPUS)
        for spec in (
            {"v": {"$in": [0, 5]}},  # 0 and -0.0
            {"flag": {"$in": [-0.0, True]}},
            {"v": {"$nin": ["abc", 1, None, True], "$exists": True}, "n": {"$like": "%"}},
            {"$or": [{"v": {"$gt": "a"}}, {"tags": {"$exists": True}}]},
        ):
            expected = oracle(spec, left)
            assert rag.delete_documents(filters=spec) == len(expected), spec
            left = {d: m for d, m in left.items() if d not in expected}
            assert _ids(rag.query_with_filters({}, top_k=100)) == sorted(left), spec
    finally:
        rag.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_null_metadata_column_has_no_keys(backend: str, fresh_database_url: Any) -> None:
    # An existing table's nullable metadata column: the facade reads SQL NULL as {}, and so do filters.
    url = fresh_database_url(backend)
    engine = sv.create_engine(url)
    json_type = {"postgresql": "json", "duckdb": "JSON", "clickhouse": "Nullable(String)"}.get(backend, "TEXT")
    table_engine = " ENGINE = MergeTree" if backend == "clickhouse" else ""
    cast = {"postgresql": "CAST(:attrs AS json)", "duckdb": "CAST(:attrs AS JSON)"}.get(backend, ":attrs")
    stored = {"doc-0": None, "doc-1": "{}", "doc-2": '{"k": 1}', "doc-3": '{"k": null}'}
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    f"CREATE TABLE kb_docs (doc_id VARCHAR(40) PRIMARY KEY, body TEXT NOT NULL, attrs {json_type}, "
                    f"created TIMESTAMP NOT NULL){table_engine}"
                )
            )
            conn.execute(
                text(
                    f"CREATE TABLE kb_vectors (vid VARCHAR(40) PRIMARY KEY, doc VARCHAR(40) NOT NULL, "
                    f"model VARCHAR(40) NOT NULL, vec {vector_ddl(backend, 4)} NOT NULL){table_engine}"
                )
            )
            for i, (doc_id, attrs) in enumerate(stored.items()):
                conn.execute(
                    text(f"INSERT INTO kb_docs VALUES (:id, 'body', {cast}, :created)"),
                    {"id": doc_id, "attrs": attrs, "created": datetime(2024, 1, 1 + i)},
                )
                conn.execute(
                    text(f"INSERT INTO kb_vectors VALUES (:vid, :doc, 'legacy', {vector_placeholder(backend, 'vec', 4)})"),
                    {"vid": f"v{i}", "doc": doc_id, "vec": vector_param(backend, [1.0, 0.0, 0.0, float(i)], 4)},
                )
    finally:
        engine.dispose()
    KBDoc, KBVector = existing_models()
    rag = VectorRAG(url, document_model=KBDoc, embedding_model=KBVector, embedder=KeywordEmbedder(list("wxyz"), "legacy"))
    try:
        read = {r["document_id"]: r["metadata"] for r in rag.query_with_filters({}, top_k=10)}
        assert read == {"doc-0": {}, "doc-1": {}, "doc-2": {"k": 1}, "doc-3": {"k": None}}
        for spec in (
            {"k": {"$exists": False}},
            {"k": {"$exists": True}},
            {"k": {"$not": {"$exists": True}}},
            {"$not": {"k": {"$exists": True}}},
            {"k": {"$ne": 1}},
            {"k": {"$nin": [1, None]}},
            {"k": None},
            {"k": {"$ne": None}},
        ):
            assert _ids(rag.query_with_filters(spec, top_k=10)) == oracle(spec, read), spec
    finally:
        rag.close()
