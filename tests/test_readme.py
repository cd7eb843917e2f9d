"""The documentation: README.md, docs/*.md and bench/README.md.

Every ```python block runs, in a fresh namespace and an empty directory, and prints what the page says it prints (an
output block right after it, a comment after a ``print()``); every relative link between the pages
points to a file that exists and, with a ``#fragment``, to a heading of that file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES: List[Path] = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]


def name_of(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def python_blocks(page: Path) -> List[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


# (page, index of the block in that page, code)
BLOCKS: List[Tuple[str, int, str]] = [
    (name_of(page), index, code) for page in PAGES for index, code in enumerate(python_blocks(page))
]


def printed_outputs(page: Path) -> Dict[int, List[str]]:
    """The lines of the output block (```, or ```text) right after a python block, by the block's index."""
    outputs: Dict[int, List[str]] = {}
    text = page.read_text(encoding="utf-8")
    for index, match in enumerate(re.finditer(r"```python\n.*?```", text, flags=re.S)):
        after = re.match(r"\n\n```(?:text)?\n(.*?)```", text[match.end():], flags=re.S)
        if after:
            outputs[index] = after.group(1).splitlines()
    return outputs


OUTPUTS: Dict[Tuple[str, int], List[str]] = {
    (name_of(page), index): lines for page in PAGES for index, lines in printed_outputs(page).items()
}


def as_data(line: str) -> object:
    """A printed line as JSON data where it is JSON (the order of an object's keys may differ), else as text."""
    try:
        return json.loads(line)
    except ValueError:
        return line.strip()


def test_readme_has_examples() -> None:
    assert len(python_blocks(README)) >= 2
    # README.md had 14 python blocks before its reference sections moved to docs/ and bench/.
    assert len(BLOCKS) >= 14
    assert all(page.is_file() for page in PAGES)


@pytest.mark.parametrize(
    ("page", "index"), [(page, index) for page, index, _ in BLOCKS], ids=[f"{page}-{index}" for page, index, _ in BLOCKS]
)
def test_readme_block_runs(
    page: str, index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = next(code for name, number, code in BLOCKS if (name, number) == (page, index))
    monkeypatch.chdir(tmp_path)
    code = compile(source, f"{page} block {index}", "exec", dont_inherit=True)
    namespace: dict = {"__name__": "readme_block_" + re.sub(r"\W", "_", f"{page}_{index}")}
    exec(code, namespace)  # noqa: S102 - the documentation's own examples
    out = capsys.readouterr().out
    if "rag.query(" in source:
        assert "Deep learning is machine learning" in out.splitlines()[0]
    if "bulk_insert(conn, docs, rows)" in source:
        assert out.splitlines()[0] == "Machine learning finds patterns in data."
    printed = [as_data(line) for line in out.splitlines() if line.strip()]
    # An output block after the code is what it prints; a comment after a print() is what that call prints.
    if (page, index) in OUTPUTS:
        assert printed == [as_data(line) for line in OUTPUTS[page, index]]
    for expected in re.findall(r"^[ \t]*print\(.*\)[ \t]+#[ \t]*(.+)$", source, flags=re.M):
        assert as_data(expected) in printed, (expected, out)


# ---------------------------------------------------------------------------------------------------- links

FENCE = re.compile(r"^```.*?^```[^\n]*$", flags=re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")


def prose(page: Path) -> str:
    """The page without its code blocks and code spans, where brackets are code, not links."""
    return CODE_SPAN.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation other than - and _ dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> Set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    seen: Dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", text, flags=re.M):
        slug = anchor(heading)
        found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return found


def test_anchor_rules() -> None:
    assert anchor("ClickHouse, and the distributed engines") == "clickhouse-and-the-distributed-engines"
    assert anchor("The facade's top-k") == "the-facades-top-k"
    assert anchor("Documents and retrieval (RAG)") == "documents-and-retrieval-rag"
    assert anchor("Measured: size and recall") == "measured-size-and-recall"


@pytest.mark.parametrize("page", PAGES, ids=name_of)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in LINK.findall(prose(page)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.is_file():
            broken.append(f"{target}: no such file")
        elif fragment and fragment not in anchors(file):
            broken.append(f"{target}: no heading #{fragment} in {name_of(file)}")
    assert not broken, broken


def test_the_readme_links_every_page() -> None:
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in LINK.findall(prose(README))}
    assert not [name_of(page) for page in PAGES[1:] if page.resolve() not in linked]
