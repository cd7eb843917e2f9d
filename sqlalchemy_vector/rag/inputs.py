"""Argument checks shared by both facades: the rule for text and JSON values, ids, embedders and index options."""

from __future__ import annotations

import collections.abc as abc
import datetime
import math
import numbers
import re
import uuid
from typing import (
    Any,
    Dict,
    List,
    Tuple,
)

import numpy as np
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import sessionmaker

from ..dialects.base import backend_for, dialect_class
from ..exc import (
    InvalidArgumentError,
    ModelConfigurationError,
    UnsupportedMetricError,
)
from ..functions import SIMILARITY_FUNCTIONS
from ..orm import INT64_RANGE, MAX_METADATA_NESTING
from ..types import whole_number


# -- the rule for text and JSON values, the same on every backend ------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_text(value: str, where: str, error: type) -> None:
    """Reject what some backend would store differently or not at all: NUL, and unpaired surrogates."""
    if "\x00" in value:
        raise error(
            f"{where} contains a NUL character (U+0000) at position {value.index(chr(0))} in {value!r:.60}; "
            "PostgreSQL text cannot hold it and SQLite's JSON paths stop at it, so no backend accepts it: "
            "remove it or replace it (e.g. text.replace('\\x00', ''))"
        )
    found = _SURROGATE.search(value)
    if found is not None:
        raise error(
            f"{where} contains an unpaired surrogate {found.group()!r} at position {found.start()}, which is not "
            "valid Unicode and cannot be encoded as UTF-8; decode the source with errors='replace' or clean the text"
        )


def _check_json(value: Any, where: str, error: type, only_json: bool = True, depth: int = 0) -> None:
    """Metadata and filters: string keys, finite numbers, 64-bit integers and clean strings, at any depth.

    Dicts and lists nest at most :data:`~sqlalchemy_vector.orm.MAX_METADATA_NESTING`
    levels (``depth`` counts those around ``value``); filters are held to
    their own, smaller limit before they get here.

    Metadata (``only_json``) holds JSON values only: str, int, float, bool,
    None, lists (or tuples) and dicts; anything else is refused with the
    conversion to make, never converted here.  Filters may hold more (a set
    for ``$in``, a SQLAlchemy expression), which :func:`metadata_filter` checks.
    """
    if isinstance(value, str):
        _check_text(value, where, error)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT64_RANGE[0] <= value <= INT64_RANGE[1]:
            raise error(
                f"{where} holds the integer {value!r:.40}, outside the 64-bit range every backend's JSON keeps "
                "exactly; store it as a string"
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise error(
                f"{where} holds {value!r}, which JSON cannot represent; use None or a finite number"
            )
    elif isinstance(value, (abc.Mapping, list, tuple)) and depth == MAX_METADATA_NESTING:
        raise error(
            f"{where} nests dicts and lists more than {MAX_METADATA_NESTING} levels deep; metadata may nest at "
            f"most {MAX_METADATA_NESTING} (reading a deeper value back overflows Python's stack): flatten it, or "
            "store the inner part as a string (json.dumps(x))"
        )
    elif isinstance(value, abc.Mapping):
        if only_json and not isinstance(value, dict):
            _not_json(value, where, error)
        for key, item in value.items():
            if not isinstance(key, str):
                raise error(
                    f"{where} has the key {key!r} of type {type(key).__name__}; JSON keys are strings "
                    f"(it would be read back as {str(key)!r}): use string keys"
                )
            _check_text(key, f"{where} key {key!r:.40}", error)
            _check_json(item, f"{where}[{key!r:.40}]", error, only_json, depth + 1)
    elif isinstance(value, (list, tuple)):
        for position, item in enumerate(value):
            _check_json(item, f"{where}[{position}]", error, only_json, depth + 1)
    elif only_json:
        _not_json(value, where, error)


def _not_json(value: Any, where: str, error: type) -> None:
    if isinstance(value, np.ndarray):
        fix = "x.tolist()"
    elif isinstance(value, np.bool_):
        fix = "bool(x)"
    elif isinstance(value, np.integer):
        fix = "int(x)"
    elif isinstance(value, np.floating):
        fix = "float(x)"
    elif isinstance(value, np.generic):
        fix = "x.item()"
    elif isinstance(value, (datetime.date, datetime.time)):
        fix = "x.isoformat()"
    elif isinstance(value, (set, frozenset)):
        fix = "list(x), or sorted(x) for a stable order"
    elif isinstance(value, (bytes, bytearray, memoryview)):
        fix = "x.decode() for text, or base64 for binary data"
    elif isinstance(value, abc.Mapping):
        fix = "dict(x)"
    elif isinstance(value, numbers.Number):
        fix = "float(x), or str(x) to keep every digit"
    else:
        fix = "str(x)"
    raise error(
        f"{where} holds {_type_name(value)} {value!r:.40}, which is not a JSON value (str, int, float, bool, None, "
        f"list or dict); convert it before storing it, e.g. {fix}"
    )


def _type_name(value: Any) -> str:
    """The type of ``value`` as its users import it: ``int``, ``numpy.float32``, ``decimal.Decimal``."""
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


# How a document id of each key type is named in messages, and made from another value.
_ID_KINDS: Dict[type, Tuple[str, str]] = {
    str: ("a str", "str(x)"),
    int: ("an int", "int(x)"),
    uuid.UUID: ("a uuid.UUID", "uuid.UUID(x)"),
}


def _id_kind(id_type: type) -> Tuple[str, str]:
    """How messages name an id of ``id_type``, and the conversion that makes one."""
    return _ID_KINDS.get(id_type, (f"a {id_type.__name__}", f"{id_type.__name__}(x)"))


#: ``VectorIndex`` arguments that ``create_index`` sets itself or cannot use, and what to do instead.
_FACADE_INDEX_ARGUMENTS = {
    "name": "give the name as index_name, the first argument",
    "column": "leave column out: the index is on the embeddings column",
    "metric": "give the metric as similarity_function (e.g. similarity_function='l2')",
    "quantization": "the facade's searches read full-precision indexes only; build a quantized one with "
    "VectorIndex(..., quantization=...) and search it with knn(..., rerank=...)",
}

_REBUILD_INDEX_ARGUMENTS = {
    "metric": "the index is built again for the metric it serves; for another, delete_index it and "
    "create_index it with that similarity_function",
}


def _check_index_options(index_name: str, options: Dict[str, Any], method: str = "create_index") -> None:
    """Refuse options ``create_index`` (or ``method``) sets itself, which ``VectorIndex`` would get twice."""
    taken = [name for name in _FACADE_INDEX_ARGUMENTS if name in options]
    if taken:
        hints = {**_FACADE_INDEX_ARGUMENTS, **(_REBUILD_INDEX_ARGUMENTS if method == "rebuild_index" else {})}
        raise InvalidArgumentError(
            f"{method}({index_name!r}) does not take {', '.join(taken)}, but got "
            f"{', '.join(f'{name}={options[name]!r}' for name in taken)}: "
            + "; ".join(hints[name] for name in taken)
        )


def _check_embedder(embedder: Any) -> None:
    """Refuse what cannot embed: a class instead of an instance, a function, a name; a dimension that is not
    a positive integer, a model name that is not a string."""
    missing = [name for name in ("dimension", "model_name", "embed") if isinstance(embedder, type) or not hasattr(embedder, name)]
    if missing:
        hint = f"; pass an instance, e.g. {embedder.__name__}(...)" if isinstance(embedder, type) else ""
        if missing == ["embed"] and callable(getattr(embedder, "aembed", None)):
            hint = (
                "; one with only aembed(texts) can be wrapped: "
                "CallableEmbedder(embedder.aembed, dimension=..., model_name=...), for AsyncVectorRAG"
            )
        raise ModelConfigurationError(
            f"embedder {embedder!r} has no {', '.join(map(repr, missing))}: an embedder is an object with "
            f"dimension, model_name and embed(texts) (see sqlalchemy_vector.embedding){hint}"
        )
    dimension = whole_number(embedder.dimension)
    if dimension is None or dimension < 1:
        raise ModelConfigurationError(
            f"embedder {embedder!r} has dimension {embedder.dimension!r}; it must be a positive integer"
        )
    if not isinstance(embedder.model_name, str) or not embedder.model_name:
        raise ModelConfigurationError(
            f"embedder {embedder!r} has model_name {embedder.model_name!r}; it must be a non-empty string "
            "(stored with each embedding)"
        )


def _refuse_asyncio_driver(bind: Any) -> None:
    """``VectorRAG`` runs synchronously: an asyncio driver's URL or engine belongs to ``AsyncVectorRAG``."""
    engine = bind.kw.get("bind") if isinstance(bind, sessionmaker) else bind
    if isinstance(engine, (str, URL)):
        url = make_url(engine)
        drivers = backend_for(dialect_class(url)).capabilities.async_drivers  # first: a dialect missing is named
        asynchronous = url.get_driver_name() in drivers
    elif isinstance(engine, Engine):
        url, asynchronous = engine.url, engine.dialect.is_async
    else:
        return
    if asynchronous:
        raise ModelConfigurationError(
            f"VectorRAG got the asyncio driver {url.drivername!r}: use AsyncVectorRAG with it, or "
            f"VectorRAG with a synchronous driver ({url.get_backend_name()}://...)"
        )


def _index_metric(similarity_function: str) -> str:
    if not isinstance(similarity_function, str) or similarity_function not in SIMILARITY_FUNCTIONS:
        raise UnsupportedMetricError(
            f"unknown similarity_function {similarity_function!r}; expected one of {', '.join(SIMILARITY_FUNCTIONS)}"
        )
    return SIMILARITY_FUNCTIONS[similarity_function]


def _text(value: Any, name: str = "query_text") -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a string, got {_type_name(value)} {value!r:.60}")
    return value


def _texts(values: Any) -> List[Any]:
    if isinstance(values, (str, bytes, bytearray, memoryview, abc.Mapping)) or not isinstance(values, abc.Iterable):
        raise InvalidArgumentError(
            f"query_texts must be a list of strings, got {_type_name(values)} {values!r:.60}; "
            "wrap it in a list or use query()"
        )
    return list(values)


def _fusion_constant(embedder: Any, rrf_k: Any) -> Any:
    """``rrf_k``, or the embedder's preferred (vector, text) RRF constants, or the standard 60."""
    if rrf_k is not None:
        return rrf_k
    preferred = getattr(embedder, "hybrid_rrf_k", None)
    return 60 if preferred is None else preferred
