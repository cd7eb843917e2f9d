"""Splitting documents into passages."""

from __future__ import annotations

import pytest

from sqlalchemy_vector.chunking import chunk_text

DOC = """# Title

Intro paragraph one.

## Install

Run pip install.
Then import it.

```python
# not a heading inside a fence
print("hi")
```

## Usage

Use it.
"""


def test_markdown_sections_and_headings() -> None:
    chunks = chunk_text(DOC, max_words=50)
    assert [c.heading for c in chunks] == ["Title", "Install", "Usage"]
    assert chunks[1].text.startswith("Run pip install. Then import it.")
    assert "# not a heading inside a fence" in chunks[1].text
    assert [c.index for c in chunks] == [0, 1, 2]


def test_paragraphs_pack_up_to_max_words() -> None:
    text = "\n\n".join(" ".join(f"w{p}_{i}" for i in range(10)) for p in range(5))
    chunks = chunk_text(text, max_words=25, markdown=False)
    assert [len(c.text.split()) for c in chunks] == [20, 20, 10]
    assert all(c.heading is None for c in chunks)


def test_long_paragraph_windows_overlap() -> None:
    words = [f"w{i}" for i in range(250)]
    chunks = chunk_text(" ".join(words), max_words=100, overlap=20, markdown=False)
    assert [c.text.split()[0] for c in chunks] == ["w0", "w80", "w160"]
    assert chunks[-1].text.split()[-1] == "w249"
    assert chunks[0].text.split()[-20:] == chunks[1].text.split()[:20]


def test_every_word_is_kept() -> None:
    text = DOC * 3
    chunks = chunk_text(text, max_words=7, overlap=0)
    headings = {"# Title", "## Install", "## Usage"}
    body_words = [w for line in text.splitlines() if line not in headings for w in line.split()]
    assert [w for c in chunks for w in c.text.split()] == body_words


def test_empty_and_bad_arguments() -> None:
    assert chunk_text("   \n\n ") == []
    with pytest.raises(ValueError, match="overlap must be between 0 and max_words - 1"):
        chunk_text("x", max_words=10, overlap=10)
    with pytest.raises(ValueError, match="max_words must be at least 1"):
        chunk_text("x", max_words=0)


def test_the_default_overlap_fits_a_small_max_words() -> None:
    # The default overlap of 20 was refused for any max_words up to 20, naming an argument never given.
    words = " ".join(f"w{i}" for i in range(12))
    assert [c.text for c in chunk_text(words, max_words=5)] == [
        "w0 w1 w2 w3 w4", "w1 w2 w3 w4 w5", "w2 w3 w4 w5 w6", "w3 w4 w5 w6 w7", "w4 w5 w6 w7 w8",
        "w5 w6 w7 w8 w9", "w6 w7 w8 w9 w10", "w7 w8 w9 w10 w11",
    ]  # windows share max_words - 1 words, as the CLI's --overlap does
    assert len(chunk_text(" ".join(f"w{i}" for i in range(300)))) == 3  # 120 words, 20 shared: 0-119, 100-219, 200-299


def test_heading_path_is_embedded_with_the_passage() -> None:
    text = "# Guide\n\nIntro.\n\n## Install\n\n### Offline\n\nCopy the wheel.\n\n## Usage\n\nCall it.\n"
    chunks = chunk_text(text)
    assert [c.headings for c in chunks] == [("Guide",), ("Guide", "Install", "Offline"), ("Guide", "Usage")]
    assert [c.heading for c in chunks] == ["Guide", "Offline", "Usage"]
    assert chunks[1].text == "Copy the wheel."
    assert chunks[1].embedding_text == "Guide > Install > Offline\n\nCopy the wheel."
    plain = chunk_text("no headings here", markdown=False)[0]
    assert plain.headings == () and plain.embedding_text == "no headings here"


def test_text_without_spaces_is_cut_to_max_words() -> None:
    # Chinese and Japanese put no spaces between words: a paragraph was one "word", so a whole chapter became one
    # passage, of which an embedding model reads its first few hundred tokens. A character is a word there now.
    sentence = "机器学习是人工智能的一个分支"  # 14 characters
    chunks = chunk_text(sentence * 10, max_words=30, overlap=5, markdown=False)
    assert [len(c.text) for c in chunks] == [30, 30, 30, 30, 30, 15]
    assert chunks[1].text.startswith((sentence * 10)[25:30])  # windows share 5 characters
    assert "".join(c.text[5 if i else 0:] for i, c in enumerate(chunks)) == sentence * 10
    mixed = chunk_text("ひらがなとカタカナ SQLite 漢字", max_words=4, overlap=0, markdown=False)
    assert [c.text for c in mixed] == ["ひらがな", "とカタカ", "ナ SQLite 漢字"]
    # Any other run without spaces counts as a word per LONGEST_WORD (24) characters: a passage stays bounded.
    blob = "x" * 100
    assert [c.text for c in chunk_text(f"see {blob} here", max_words=3, overlap=0, markdown=False)] == [
        "see " + "x" * 48, "x" * 52, "here",
    ]


def test_a_cut_keeps_what_reads_as_one_character_whole() -> None:
    # A combining mark, a dakuten written apart, a skin tone and a zero-width-joined emoji stay with what they mark.
    decomposed = "か\u3099" * 3 + "e\u0301" * 30 + "👩\u200d💻" * 2
    chunks = chunk_text(decomposed, max_words=1, overlap=0, markdown=False)
    assert "".join(c.text for c in chunks) == decomposed
    assert [c.text for c in chunks][:3] == ["か\u3099"] * 3
    assert all(c.text[0] not in "\u3099\u0301\u200d" for c in chunks)
    assert chunks[3].text == "e\u0301" * 12  # 24 characters: 12 letters and their accents


def test_markdown_headings_and_fences_as_commonmark_reads_them() -> None:
    # "# C#" was titled "C" (a closing sequence needs a space before it), and a ``` line closed a ~~~ fence, so a
    # comment line inside the code became the next passage's heading.
    text = (
        "# C#\n\nAbout C sharp.\n\n"
        "~~~\n# inside the tilde block\n```\n# still inside\n~~~\n\n"
        "# Title ##\n\nText.\n\n"
        "````python\n# code\n```\n# code too\n````\n\nAfter the code."
    )
    found = [(chunk.heading, chunk.text) for chunk in chunk_text(text, markdown=True)]
    assert found == [
        ("C#", "About C sharp. ~~~ # inside the tilde block ``` # still inside ~~~"),
        ("Title", "Text. ````python # code ``` # code too ```` After the code."),
    ]
