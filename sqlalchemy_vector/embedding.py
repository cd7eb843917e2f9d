"""Embedding providers: turn texts into float32 vectors for a :class:`~sqlalchemy_vector.Vector` column.

An embedder is anything with ``dimension``, ``model_name`` and
``embed(texts) -> numpy.ndarray`` of shape ``(len(texts), dimension)`` and
dtype float32 (the :class:`Embedder` protocol); ``aembed`` is optional.

- :class:`HashingEmbedder`: deterministic, offline, no dependencies.  It is
  *lexical*: texts are similar when they share words and word fragments, not
  when they mean the same thing.
- :class:`SentenceTransformerEmbedder`: a sentence-transformers model (the
  ``sentence-transformers`` extra), for semantic similarity.
- :class:`CallableEmbedder`: wraps any function from a list of texts to an
  array, e.g. a call to a hosted embedding service.
"""

from __future__ import annotations

import asyncio
import collections.abc as abc
import functools
import inspect
import itertools
import math
import re
import threading
import unicodedata
from hashlib import blake2b
from typing import Any, Awaitable, Callable, Dict, FrozenSet, Iterable, List, Optional, Protocol, Sequence, Tuple, Union, runtime_checkable

import numpy as np
import numpy.typing as npt

from .chunking import _CJK, _IS_CJK
from .exc import InvalidArgumentError, InvalidEmbeddingError, MissingDependencyError
from .types import NORM_RANGE_TEXT, flag, has_booleans, norm_of, real_number, unhandled_norm, whole_number

__all__ = [
    "Embedder",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "CallableEmbedder",
    "ENGLISH_STOP_WORDS",
    "aembed",
    "check_embeddings",
]

FloatArray = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """What the library needs from an embedding model.

    ``embed`` returns one L2-normalised or raw float32 row per text, shape
    ``(len(texts), dimension)``.  An embedder may also define a coroutine
    ``aembed(texts)``; :func:`aembed` falls back to ``embed`` in a worker thread.
    An optional ``hybrid_rrf_k`` ``(vector, text)`` tells hybrid search which
    arm should lead the fusion (the smaller constant) when the caller does not say.
    """

    dimension: int
    model_name: str

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed ``texts``; one row per text."""
        ...


async def aembed(embedder: Embedder, texts: Sequence[str]) -> FloatArray:
    """Embed ``texts`` from async code without blocking the event loop.

    Uses the embedder's own ``aembed`` coroutine when it has one, otherwise
    runs ``embed`` in a worker thread.  An ``aembed`` that is a plain method
    returning the vectors (no awaitable) is taken at its word.
    """
    method = getattr(embedder, "aembed", None)
    if method is not None:
        result = method(texts)
        if inspect.isawaitable(result):
            result = await result
        return result  # type: ignore[no-any-return]
    return await asyncio.to_thread(embedder.embed, texts)


def check_embeddings(
    value: Any, count: int, dimension: int, where: str, labels: Optional[Sequence[str]] = None
) -> FloatArray:
    """Validate an embedding model's output as ``count`` finite rows of ``dimension`` and return it as float32.

    ``where`` names the model in error messages, and ``labels`` (one per row, such as ``documents[13]``) the
    input a bad row was made from; without them a row is named by its position in ``value``.
    """
    wanted = f"a numpy array of shape ({count}, {dimension}) or a list of {count} lists of floats"
    if inspect.isawaitable(value):
        if hasattr(value, "close"):
            value.close()  # avoid "coroutine was never awaited"
        raise InvalidEmbeddingError(
            f"{where} returned an awaitable ({_type_name(value)}), not vectors: its embed() is a coroutine function; "
            "name it aembed(texts) beside a synchronous embed(texts), or wrap the function in CallableEmbedder, "
            "which takes either"
        )
    try:
        array = np.asarray(value)
    except ValueError as err:  # ragged rows
        raise InvalidEmbeddingError(
            f"{where} returned rows of different lengths ({err}); it must return {count} rows of {dimension} numbers"
        ) from None
    except Exception as err:  # the object's own conversion refused (a tensor needing gradients, on a GPU, bfloat16)
        raise InvalidEmbeddingError(
            f"{where} returned {_type_name(value)}, which numpy cannot read as an array ({type(err).__name__}: {err}); "
            f"return {wanted} (a torch tensor: tensor.detach().cpu().float().numpy())"
        ) from err
    if array.ndim == 0:  # None, a generator, a dict, one number
        raise InvalidEmbeddingError(
            f"{where} returned {'None' if value is None else f'{_type_name(value)} {repr(value)[:60]}'}, not {count} "
            f"rows of {dimension} numbers; "
            f"return {wanted}" + (" (e.g. list(rows) of a generator)" if isinstance(value, abc.Iterator) else "")
        )
    booleans = array.dtype.kind == "b" or (array.dtype.kind in "iuf" and has_booleans(value))  # [True, 0.5] reads as floats
    if array.dtype.kind not in "iuf" or booleans:
        odd = [x for x in array.flat if real_number(x) is None][:1] if array.dtype.kind == "O" else []
        found = "".join(f" ({_type_name(x)} {repr(x)[:40]} among them)" for x in odd)
        raise InvalidEmbeddingError(
            f"{where} returned {'booleans' if booleans else f'elements of dtype {array.dtype}'}{found}; it must "
            f"return numbers ({count} rows of {dimension} floats), not booleans, strings or None"
        )
    if array.ndim != 2 or array.shape[0] != count:
        raise InvalidEmbeddingError(
            f"{where} returned an array of shape {array.shape} for {count} texts; "
            f"expected shape ({count}, {dimension}), one row per text"
        )
    if array.shape[1] != dimension:
        raise InvalidEmbeddingError(
            f"{where} returned vectors of {array.shape[1]} dimensions, expected {dimension}; "
            f"declare dimension={array.shape[1]} or use the model the dimension was meant for"
        )
    with np.errstate(over="ignore"):
        result = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(result).all():
        row, col = (int(i) for i in np.argwhere(~np.isfinite(result))[0])
        raise InvalidEmbeddingError(
            f"{where} returned a non-finite value ({float(array[row, col])!r}) {_row(row, labels)} at index {col}; "
            "embeddings must be finite float32 numbers"
        )
    unhandled = unhandled_norm(result)
    if unhandled is not None:
        raise InvalidEmbeddingError(
            f"{where} returned a vector with a norm of {norm_of(result[unhandled]):.3g} {_row(unhandled, labels)}, "
            f"{NORM_RANGE_TEXT}; scale its vectors (e.g. normalize them to norm 1)"
        )
    return result


def _row(row: int, labels: Optional[Sequence[str]]) -> str:
    return f"for {labels[row]}" if labels is not None and row < len(labels) else f"in row {row}"


def _type_name(value: Any) -> str:
    """The type of ``value`` as its users import it: ``NoneType``, ``generator``, ``torch.Tensor``."""
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _check_texts(texts: Sequence[str], where: str) -> Sequence[str]:
    if isinstance(texts, str):
        raise InvalidArgumentError(f"{where}.embed() expects a sequence of strings, got one str; wrap it in a list: [text]")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidArgumentError(f"{where}.embed() expects strings, got {type(text).__name__} at index {index}")
    return texts


# -- HashingEmbedder --------------------------------------------------------------

ENGLISH_STOP_WORDS: FrozenSet[str] = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    s t d ll m re ve""".split()
)
"""Words the :class:`HashingEmbedder` ignores by default: frequent, and carrying no topic."""

_ASCII_TOKEN = re.compile(r"\w+")
_CJK_RUN = re.compile(f"[{_CJK}]+|[^{_CJK}]+")


def _cjk_bigrams(words: List[str]) -> List[str]:
    """Chinese and Japanese runs as their overlapping character pairs (a lone character as itself).

    Those scripts put no spaces between words, so a sentence was one word,
    and a query word shared nothing with it but a few character n-grams
    ("天气" scored 0.0 against "今天天气很好"). Pairs are what full-text
    engines index for them (Lucene's CJK analyzer): a two-character word is
    one, and a longer one shares its pairs with the text that holds it.
    """
    out: List[str] = []
    for word in words:
        if not _IS_CJK.search(word):
            out.append(word)
            continue
        for run in _CJK_RUN.findall(word):
            if _IS_CJK.match(run):
                out.extend(run[i : i + 2] for i in range(max(1, len(run) - 1)))
            else:
                out.append(run)
    return out


@functools.lru_cache(maxsize=None)
def _token_pattern() -> "re.Pattern[str]":
    """A word: a run of letters, digits and combining marks.

    ``\\w`` alone ends a word at a combining mark: Hindi's vowel signs and
    viramas cut "हिन्दी" into the letters "ह", "न", "द", and an accent written
    apart (NFD, as macOS file names and some PDFs have it) cut "résumé" into
    "re" and "sume".  Built once, from the planes that hold combining marks.
    """
    marks: List[str] = []
    start = None
    for point in itertools.chain(range(0x20000), range(0xE0000, 0xE1000), [-1]):
        mark = point >= 0 and unicodedata.category(chr(point)).startswith("M")
        if mark and start is None:
            start = point
        elif not mark and start is not None:
            marks.append(f"\\U{start:08x}-\\U{point - 1:08x}")
            start = None
    return re.compile(rf"[\w{''.join(marks)}]+")

#: (suffix, replacement) tried in order; the first that leaves a stem of 3+ letters applies.
_SUFFIXES: Tuple[Tuple[str, str], ...] = tuple(
    tuple(rule.split(":"))  # type: ignore[misc]
    for rule in (
        "ational:ate tional:tion iveness:ive fulness:ful ousness:ous ization:ize ations:ate ation:ate "
        "ies:y sses:ss ments: ment: ness: ingly: edly: ing: ed: ly: es: s:"
    ).split()
)


def _stem(word: str) -> str:
    """A light suffix stripper: ``copies`` -> ``copy``, ``matching`` -> ``match``, ``names`` -> ``name``.

    Cruder than Porter's stemmer and deliberately so: it only merges the
    common inflections of a word (plural, -ing, -ed, -ly, -ation), leaving
    words of four letters or fewer, and words with digits, alone.
    """
    if len(word) <= 4 or not word.isalpha():
        return word
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word[-2] in "su":  # class, status, ...
                return word
            if suffix == "es" and not word.endswith(("ses", "xes", "zes", "ches", "shes")):
                continue  # names -> name (by "s"), not nam
            return word[: -len(suffix)] + replacement
    return word

_Features = Tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]


def _weight(name: str, value: object) -> float:
    """The ``HashingEmbedder`` option ``name`` as a finite float, else :class:`InvalidArgumentError`."""
    checked = real_number(value)
    if checked is None:
        raise InvalidArgumentError(
            f"HashingEmbedder({name}) expects a finite number, got {type(value).__name__} {value!r}; "
            "pass a float such as 1.0 (0 turns the feature off)"
        )
    return checked


def _stop_words(words: Optional[Iterable[str]]) -> FrozenSet[str]:
    """The ``HashingEmbedder(stop_words)`` option as a set of words, else :class:`InvalidArgumentError`."""
    if words is None:
        return frozenset()
    if isinstance(words, (str, bytes)) or not isinstance(words, Iterable):
        raise InvalidArgumentError(
            f"HashingEmbedder(stop_words) expects a list of words or None, got {type(words).__name__} {words!r}; "
            + (f"pass a list of words, e.g. [{words!r}]" if isinstance(words, (str, bytes)) else "pass a list of words")
        )
    given = list(words)
    for word in given:
        if not isinstance(word, str):
            raise InvalidArgumentError(
                f"HashingEmbedder(stop_words) expects words (strings), got {type(word).__name__} {word!r} among them"
            )
    return frozenset(given)


#: The version of :class:`HashingEmbedder` new vectors are made with, and the versions it can make again.
HASHING_VERSION = 3
HASHING_VERSIONS = (2, 3)
#: Any name the lexical embedder records, of a version this release makes or not: ``hashing-v3-384``.
HASHING_NAME = re.compile(r"hashing-v([0-9]+)-.+")


def _hashing_version(model_name: str) -> Optional[int]:
    found = HASHING_NAME.fullmatch(model_name)
    return int(found.group(1)) if found is not None else None


def retired_hashing_version(model_name: str) -> Optional[int]:
    """The version of :class:`HashingEmbedder` that stored vectors under ``model_name``, where no release makes it
    any more (1: ``hashing-v1-384``), else None."""
    version = _hashing_version(model_name)
    return version if version is not None and version < min(HASHING_VERSIONS) else None


def newer_hashing_version(model_name: str) -> Optional[int]:
    """The version of :class:`HashingEmbedder` that stored vectors under ``model_name``, where it is newer than
    this release knows (a database a later release wrote: ``hashing-v4-384``), else None."""
    version = _hashing_version(model_name)
    return version if version is not None and version > max(HASHING_VERSIONS) else None


class HashingEmbedder:
    """A deterministic, dependency-free *lexical* embedder.

    Each text becomes a bag of hashed features: its words (lightly stemmed, so
    ``copies`` and ``copy`` are one word), pairs of adjacent words, and
    character n-grams of each word (so ``learn`` and ``learner`` share
    features).  Counts are damped (``1 + log tf``), longer words weigh more
    (``log(1 + length)``: they are rarer, a stand-in for IDF), the vector is
    L2-normalised, and common English words are ignored.  Similar vectors mean
    shared vocabulary, not shared meaning: "car" and "automobile" are unrelated
    to it.  Use it for offline search, tests and demos; use a neural model
    (:class:`SentenceTransformerEmbedder`) for semantic search.

    Hashes are BLAKE2b digests, identical across processes, platforms and
    Python versions, so stored vectors stay valid.  Texts with no features
    (empty, only stop words) embed as the zero vector.
    """

    #: Hybrid search lets full text lead and this embedder break its ties: both
    #: are lexical, and BM25 knows the corpus's word frequencies, which these
    #: vectors do not (measured in ``bench/hybrid_retrieval.py``).
    hybrid_rrf_k: Tuple[int, int] = (60, 5)

    def __init__(
        self,
        dimension: int = 384,
        *,
        ngram_range: Tuple[int, int] = (3, 5),
        word_weight: float = 1.0,
        bigram_weight: float = 0.5,
        char_weight: float = 1.0,
        stop_words: Optional[Iterable[str]] = ENGLISH_STOP_WORDS,
        lowercase: bool = True,
        stem: bool = True,
        length_weight: bool = True,
        version: int = HASHING_VERSION,
    ) -> None:
        if whole_number(version) not in HASHING_VERSIONS:
            raise InvalidArgumentError(
                f"HashingEmbedder(version) expects one of {', '.join(map(str, HASHING_VERSIONS))}, got {version!r}; "
                f"{HASHING_VERSION} (the default) for new vectors, 2 for those a database stored as hashing-v2-..."
            )
        self.version = int(version)
        checked = whole_number(dimension)
        if checked is None or checked < 1:
            raise InvalidArgumentError(f"HashingEmbedder(dimension) expects a positive integer, got {dimension!r}")
        dimension = checked
        pair = tuple(ngram_range) if isinstance(ngram_range, (tuple, list)) else ()
        low, high = (whole_number(pair[0]), whole_number(pair[1])) if len(pair) == 2 else (None, None)
        if low is None or high is None or not 1 <= low <= high:
            raise InvalidArgumentError(
                f"HashingEmbedder(ngram_range) expects (min, max) with 1 <= min <= max, got {ngram_range!r}; "
                "to turn character n-grams off, set char_weight=0"
            )
        self.dimension = dimension
        self.ngram_range = (low, high)
        self.word_weight = _weight("word_weight", word_weight)
        self.bigram_weight = _weight("bigram_weight", bigram_weight)
        self.char_weight = _weight("char_weight", char_weight)
        self.stop_words: FrozenSet[str] = _stop_words(stop_words)
        self.lowercase = flag("HashingEmbedder(lowercase)", lowercase)
        self.stem = flag("HashingEmbedder(stem)", stem)
        self.length_weight = flag("HashingEmbedder(length_weight)", length_weight)
        weights = (self.word_weight, self.bigram_weight, self.char_weight)
        defaults = (
            self.ngram_range == (3, 5)
            and weights == (1.0, 0.5, 1.0)
            and self.stop_words == ENGLISH_STOP_WORDS
            and self.lowercase
            and self.stem
            and self.length_weight
        )
        # The name identifies the feature set: vectors from different settings do not mix.  Version 2
        # (stemming, length weights, heavier n-grams) replaced version 1: a database embedded with
        # "hashing-v1-384" is refused by name rather than searched with incompatible vectors.  Version 3
        # reads words of every script (combining marks kept, one Unicode form, Chinese and Japanese as
        # character pairs); its vectors of other text are version 2's.
        settings = (
            f"{dimension}-n{low}{high}-w{weights[0]:g}-b{weights[1]:g}-c{weights[2]:g}"
            f"-s{_digest(' '.join(sorted(self.stop_words))) % 10**6:06d}{'' if lowercase else '-cased'}"
            f"{'' if self.stem else '-nostem'}{'' if self.length_weight else '-flat'}"
        )
        self.model_name = f"hashing-v{self.version}-{dimension if defaults else settings}"
        # Names a database may hold vectors of these settings under, which for_model_name() makes again:
        # version 2's (before version 3), and the long form of the defaults that earlier releases gave
        # them when ngram_range came as a list ([3, 5]).
        former = [f"hashing-v2-{dimension}"] if defaults and self.version > 2 else []
        former += [f"hashing-v2-{settings}"] if defaults or self.version > 2 else []
        self.former_model_names: Tuple[str, ...] = tuple(former)
        self._settings = dict(
            dimension=dimension, ngram_range=(low, high), word_weight=self.word_weight,
            bigram_weight=self.bigram_weight, char_weight=self.char_weight, stop_words=self.stop_words,
            lowercase=self.lowercase, stem=self.stem, length_weight=self.length_weight,
        )
        self._lock = threading.Lock()
        self._reset_vocabulary()

    def __repr__(self) -> str:
        return f"HashingEmbedder(dimension={self.dimension}, model_name={self.model_name!r})"

    def for_model_name(self, model_name: str) -> "HashingEmbedder":
        """This embedder as it made the vectors stored under ``model_name``, one of :attr:`former_model_names`.

        The same settings at the version the name records (``hashing-v2-384``:
        version 2), so a database holding an earlier version's vectors is
        searched, and added to, with vectors that match them.
        """
        if model_name == self.model_name:
            return self
        if model_name not in self.former_model_names:
            raise InvalidArgumentError(
                f"{self!r} does not make the vectors stored as {model_name!r}; "
                f"it makes {', '.join(map(repr, (self.model_name, *self.former_model_names)))}"
            )
        version = int(model_name.split("-")[1][1:])
        return HashingEmbedder(version=version, **self._settings)  # type: ignore[arg-type]

    def retired_model_name(self, model_name: str) -> bool:
        """Whether vectors stored under ``model_name`` were made by a version of this embedder no release makes
        any more (version 1, ``hashing-v1-...``): they cannot be searched or added to, only embedded again."""
        return retired_hashing_version(model_name) is not None

    def newer_model_name(self, model_name: str) -> bool:
        """Whether vectors stored under ``model_name`` were made by a version of this embedder newer than this
        release knows (``hashing-v4-...``, from a later release): the fix is to upgrade the package."""
        return newer_hashing_version(model_name) is not None

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed ``texts`` as L2-normalised float32 rows, shape ``(len(texts), dimension)``."""
        texts = _check_texts(texts, "HashingEmbedder")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        with self._lock:  # the vocabulary cache is shared by every caller of this instance
            for start in range(0, len(texts), _CHUNK):
                out[start : start + _CHUNK] = self._embed_chunk(texts[start : start + _CHUNK])
        return out

    async def aembed(self, texts: Sequence[str]) -> FloatArray:
        """Same as :meth:`embed`; large batches run in a worker thread so the event loop keeps going."""
        if len(texts) <= 256:
            return self.embed(texts)
        return await asyncio.to_thread(self.embed, texts)

    # -- features ----------------------------------------------------------------
    #
    # Every distinct word seen gets a vocabulary id; its hashed features (the
    # word and its character n-grams) are kept in one CSR-like table (indptr,
    # indices, values), and its 64-bit word hash in another array.  A batch is
    # then embedded with numpy gathers, one np.unique per feature kind and one
    # bincount.  Word pairs are hashed from the two word hashes in numpy
    # (splitmix64), not through the vocabulary: most pairs are rare.

    def _embed_chunk(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        dim = self.dimension
        n = len(texts)
        if len(self._vocab) > _MAX_VOCABULARY:
            self._reset_vocabulary()
        vocab = self._vocab
        stop = self.stop_words
        all_ids: list[int] = []
        lengths: list[int] = []
        for text in texts:
            if self.lowercase:
                text = text.lower()
            if text.isascii() or self.version == 2:
                words = _ASCII_TOKEN.findall(text)
            else:
                # One form of each accented letter: a text and a query written in different forms (NFC, NFD) match.
                words = _token_pattern().findall(unicodedata.normalize("NFC", text))
                if _IS_CJK.search(text):
                    words = _cjk_bigrams(words)
            tokens = [t for t in words if t not in stop]
            ids = [vocab.get(t, -1) for t in tokens]
            if -1 in ids:
                ids = [i if i >= 0 else self._add_to_vocabulary(t) for i, t in zip(ids, tokens)]
            all_ids.extend(ids)
            lengths.append(len(ids))
        flat = np.zeros(n * dim, dtype=np.float64)
        if all_ids:
            self._flush_vocabulary()
            ids_array = np.asarray(all_ids, dtype=np.int64)
            rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
            self._add_words(flat, rows, ids_array)
            if self.bigram_weight and ids_array.shape[0] > 1:
                self._add_bigrams(flat, rows, ids_array)
        matrix = flat.reshape(n, dim)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        return matrix

    def _add_words(self, flat: npt.NDArray[np.float64], rows: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]) -> None:
        vocabulary_size = len(self._vocab)
        pairs, tf = np.unique(rows * vocabulary_size + ids, return_counts=True)
        rows, ids = np.divmod(pairs, vocabulary_size)
        starts = self._indptr[ids]
        lengths = self._indptr[ids + 1] - starts
        total = int(lengths.sum())
        # the position in the feature table of every feature of every (row, word)
        gather = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total, dtype=np.int64)
        flat += np.bincount(
            np.repeat(rows * self.dimension, lengths) + self._indices[gather],
            weights=self._values[gather] * np.repeat(1.0 + np.log(tf), lengths),
            minlength=flat.shape[0],
        )

    def _add_bigrams(self, flat: npt.NDArray[np.float64], rows: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]) -> None:
        same_row = rows[:-1] == rows[1:]
        hashes = self._word_hashes[ids]
        with np.errstate(over="ignore"):
            pair = _splitmix64(_splitmix64(hashes[:-1][same_row]) ^ (hashes[1:][same_row] * _GOLDEN))
            keyed = _splitmix64(pair ^ (rows[:-1][same_row].astype(np.uint64) * _GOLDEN))
        _, first, tf = np.unique(keyed, return_index=True, return_counts=True)
        pair = pair[first]
        signs = np.where(pair >> np.uint64(63), 1.0, -1.0)
        flat += np.bincount(
            rows[:-1][same_row][first] * self.dimension + (pair % np.uint64(self.dimension)).astype(np.int64),
            weights=signs * self.bigram_weight * (1.0 + np.log(tf)),
            minlength=flat.shape[0],
        )

    def _reset_vocabulary(self) -> None:
        self._vocab: Dict[str, int] = {}
        self._pending: list[Tuple[int, _Features]] = []
        self._indptr = np.zeros(1, dtype=np.int64)
        self._indices = np.zeros(0, dtype=np.int64)
        self._values = np.zeros(0, dtype=np.float64)
        self._word_hashes = np.zeros(0, dtype=np.uint64)

    def _add_to_vocabulary(self, token: str) -> int:
        vocab_id = self._vocab.get(token)
        if vocab_id is None:
            vocab_id = len(self._vocab)
            self._vocab[token] = vocab_id
            self._pending.append(self._token_features(token))
        return vocab_id

    def _flush_vocabulary(self) -> None:
        if not self._pending:
            return
        pending = self._pending
        lengths = np.fromiter((len(f[1][0]) for f in pending), dtype=np.int64, count=len(pending))
        self._indptr = np.concatenate([self._indptr, self._indptr[-1] + np.cumsum(lengths)])
        self._indices = np.concatenate([self._indices, *(f[1][0] for f in pending)])
        self._values = np.concatenate([self._values, *(f[1][1] for f in pending)])
        self._word_hashes = np.concatenate(
            [self._word_hashes, np.fromiter((f[0] for f in pending), dtype=np.uint64, count=len(pending))]
        )
        self._pending = []

    def _token_features(self, token: str) -> Tuple[int, _Features]:
        """The word's 64-bit hash, and the features one occurrence contributes: the word and its n-grams."""
        # Longer words are rarer (Zipf), so they say more about a text's topic: a stand-in for IDF.
        scale = math.log1p(len(token)) / _LENGTH_NORM if self.length_weight else 1.0
        if self.stem:
            token = _stem(token)
        word = "w:" + token
        features = [word]
        weights = [self.word_weight]
        if self.char_weight:
            padded = f"<{token}>"
            low, high = self.ngram_range
            grams = [
                "c:" + padded[i : i + size]
                for size in range(low, high + 1)
                for i in range(len(padded) - size + 1)
            ]
            features += grams
            # Scaled so a word's n-grams weigh char_weight in total, whatever its length.
            weights += [self.char_weight / math.sqrt(len(grams))] * len(grams) if grams else []
        digests = [_digest(f) for f in features]
        # Signed feature hashing: the sign bit makes collisions cancel out on average.
        indices = np.array([d % self.dimension for d in digests], dtype=np.int64)
        values = np.array([scale * w if d >> 63 else -scale * w for d, w in zip(digests, weights)], dtype=np.float64)
        return digests[0], (indices, values)


_LENGTH_NORM = math.log1p(6)  # a six-letter word keeps weight 1
_CHUNK = 4096
_MAX_VOCABULARY = 500_000
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The splitmix64 finaliser: a fixed, well-mixing 64-bit permutation."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        mixed: npt.NDArray[np.uint64] = x ^ (x >> np.uint64(31))
        return mixed


def _digest(feature: str) -> int:
    return int.from_bytes(blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")


# -- CallableEmbedder ---------------------------------------------------------------

EmbedFunction = Callable[[List[str]], Union[Any, Awaitable[Any]]]


class CallableEmbedder:
    """Adapt any function ``list[str] -> array-like (n, dimension)`` to the :class:`Embedder` protocol.

    The function may be synchronous or a coroutine function (e.g. a client of
    a hosted embedding API).  Its output is checked: shape, numeric dtype and
    finite values, with errors naming ``model_name``.
    """

    def __init__(self, fn: EmbedFunction, dimension: int, model_name: str) -> None:
        if not callable(fn):
            raise InvalidArgumentError(f"CallableEmbedder expects a callable, got {type(fn).__name__}")
        checked = whole_number(dimension)
        if checked is None or checked < 1:
            raise InvalidArgumentError(f"CallableEmbedder(dimension) expects a positive integer, got {dimension!r}")
        if not isinstance(model_name, str) or not model_name:
            raise InvalidArgumentError(f"CallableEmbedder(model_name) expects a non-empty string, got {model_name!r}")
        self.fn = fn
        self.dimension = checked
        self.model_name = model_name
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004 - the method itself

    def __repr__(self) -> str:
        return f"CallableEmbedder({self.fn!r}, dimension={self.dimension}, model_name={self.model_name!r})"

    @property
    def _where(self) -> str:
        return f"embedding function {self.model_name!r}"

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Call the function (synchronously) and check its output.

        A coroutine function cannot be called from synchronous code without
        running an event loop: use :meth:`aembed` (or an async facade) instead.
        """
        texts = list(_check_texts(texts, "CallableEmbedder"))
        if self._is_async:
            raise InvalidArgumentError(
                f"{self._where} is a coroutine function; call `await embedder.aembed(texts)` "
                "from async code, or pass a synchronous function"
            )
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        result = self.fn(texts)
        if inspect.isawaitable(result):
            if hasattr(result, "close"):
                result.close()  # avoid "coroutine was never awaited"
            raise InvalidArgumentError(
                f"{self._where} returned an awaitable; call `await embedder.aembed(texts)` from async code"
            )
        return check_embeddings(result, len(texts), self.dimension, self._where)

    async def aembed(self, texts: Sequence[str]) -> FloatArray:
        """Await the function if it is a coroutine function, else run it in a worker thread; check its output."""
        texts = list(_check_texts(texts, "CallableEmbedder"))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._is_async:
            result = await self.fn(texts)
        else:
            result = await asyncio.to_thread(self.fn, texts)
            if inspect.isawaitable(result):
                result = await result
        return check_embeddings(result, len(texts), self.dimension, self._where)


# -- SentenceTransformerEmbedder ----------------------------------------------------

_ST_INSTALL = "pip install 'sqlalchemy-vector[sentence-transformers]'"


class SentenceTransformerEmbedder:
    """A `sentence-transformers <https://www.sbert.net>`_ model, for semantic similarity.

    ``model_name_or_path`` is a local directory (works offline) or a model hub
    name (downloaded by sentence-transformers on first use, when the hub is
    reachable).  Needs the ``sentence-transformers`` extra; the import happens
    here, not when this module is imported.  ``normalize`` returns unit vectors,
    so cosine distance and inner product rank alike.
    """

    #: Hybrid search lets the model lead and full text break its ties: on
    #: paraphrased questions, equal-weight fusion with BM25 costs a semantic model
    #: accuracy (measured in ``bench/hybrid_retrieval.py``).
    hybrid_rrf_k: Tuple[int, int] = (1, 60)

    def __init__(
        self,
        model_name_or_path: str,
        *,
        device: Optional[str] = None,
        batch_size: int = 32,
        normalize: bool = True,
        model_name: Optional[str] = None,
        **model_kwargs: Any,
    ) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise MissingDependencyError(
                f"SentenceTransformerEmbedder needs the sentence-transformers package, which is not installed "
                f"({err}); install it with: {_ST_INSTALL}"
            ) from err
        location = _model_location(str(model_name_or_path))
        self.model = SentenceTransformer(location, device=device, **model_kwargs)
        # sentence-transformers 6 renamed get_sentence_embedding_dimension.
        get_dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dimension = get_dimension()
        if not dimension:
            raise InvalidEmbeddingError(
                f"sentence-transformers model {model_name_or_path!r} does not report its embedding dimension"
            )
        self.dimension = int(dimension)
        self.model_name = model_name or _model_label(location)
        self.batch_size = batch_size
        self.normalize = normalize

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(model_name={self.model_name!r}, dimension={self.dimension})"

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Encode ``texts`` with the model; shape ``(len(texts), dimension)``, float32."""
        texts = list(_check_texts(texts, "SentenceTransformerEmbedder"))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        result = self.model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=self.normalize,
            show_progress_bar=False,
        )
        return check_embeddings(result, len(texts), self.dimension, f"sentence-transformers model {self.model_name!r}")

    async def aembed(self, texts: Sequence[str]) -> FloatArray:
        """:meth:`embed` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.embed, texts)


def _model_location(name_or_path: str) -> str:
    """What to give sentence-transformers: a directory with ``~`` expanded, or a hub name as it is.

    sentence-transformers reads ``~/models/x`` as a hub name and fails on the
    hub's rules for repository names.  A directory that does not exist is
    refused here: a name with a path's form (absolute, ``./``, ``~``, a
    backslash, or more than one ``/``: a hub name has at most one) raised
    FileNotFoundError or that same OSError about repository names.
    """
    from pathlib import Path

    path = Path(name_or_path).expanduser()
    if path.exists():
        return str(path)
    looks_local = (
        name_or_path.startswith((".", "~")) or "\\" in name_or_path or name_or_path.count("/") > 1
        or path.is_absolute()
    )
    if looks_local:
        raise InvalidArgumentError(
            f"SentenceTransformerEmbedder: model directory {name_or_path!r} does not exist "
            f"({path.resolve()}); pass the directory that holds the model's files, or a model hub name "
            "such as 'sentence-transformers/all-MiniLM-L6-v2' (downloaded on first use, when the hub is reachable)"
        )
    return name_or_path


def _model_label(name_or_path: str) -> str:
    # A local path names the model by its directory, not the machine-specific location.
    from pathlib import Path

    path = Path(name_or_path)
    return path.name if path.exists() else name_or_path
