"""Splitting text and Markdown files into passages for embedding."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

from .exc import InvalidArgumentError
from .types import whole_number

__all__ = ["Chunk", "chunk_text"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
# Scripts written without spaces between words: Han ideographs and Japanese kana.
_CJK = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
_IS_CJK = re.compile(f"[{_CJK}]")
#: Characters without a space counted as one word at most: a longer run (a URL, a hash, a script
#: written without spaces) counts as several, so max_words bounds every passage.
LONGEST_WORD = 24
# A word cut out of a longer run is joined to the one before it without a space. str.split() never leaves
# U+001F (a separator it splits at) in a word, so a leading one marks such a word.
_GLUED = "\x1f"


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: its text, the nearest heading above it, and its position.

    ``headings`` is the path of Markdown headings the passage sits under,
    outermost first (``("Install", "Offline")``); ``heading`` is its last one.
    """

    text: str
    heading: Optional[str]
    index: int
    headings: Tuple[str, ...] = ()

    @property
    def embedding_text(self) -> str:
        """What to embed: the heading path, then the passage (a passage often omits what its headings say)."""
        if not self.headings:
            return self.text
        return " > ".join(self.headings) + "\n\n" + self.text


def chunk_text(text: str, *, max_words: int = 120, overlap: Optional[int] = None, markdown: bool = True) -> List[Chunk]:
    """Split ``text`` into passages of at most ``max_words`` words.

    Paragraphs are kept whole when they fit; longer ones are cut into windows
    that share ``overlap`` words (by default 20, or ``max_words - 1`` when
    that is fewer, as the CLI's ``--overlap``).  With ``markdown``, a heading
    starts a new passage and is recorded as the passage's ``heading`` (fenced
    code blocks are not scanned for headings).  Words are what spaces separate, except
    that each Chinese or Japanese character counts as a word (those scripts
    put no spaces between words), and a run of more than :data:`LONGEST_WORD`
    characters without a space counts as a word per ``LONGEST_WORD`` characters;
    combining marks stay with their letter.
    """
    if not isinstance(text, str):
        hint = "; decode it first (text.decode('utf-8'))" if isinstance(text, (bytes, bytearray)) else ""
        raise InvalidArgumentError(f"chunk_text() expects the text as a str, got {type(text).__name__}{hint}")
    max_words = _integer("max_words", max_words)
    if max_words < 1:
        raise InvalidArgumentError(f"max_words must be at least 1, got {max_words}")
    overlap = min(20, max_words - 1) if overlap is None else _integer("overlap", overlap)
    if not 0 <= overlap < max_words:
        raise InvalidArgumentError(f"overlap must be between 0 and max_words - 1 ({max_words - 1}), got {overlap}")
    chunks: List[Chunk] = []
    for headings, paragraphs in _sections(text, markdown):
        heading = headings[-1] if headings else None
        buffer: List[str] = []
        for paragraph in paragraphs:
            words = _words(paragraph)
            if buffer and len(buffer) + len(words) > max_words:
                chunks.append(Chunk(_join(buffer), heading, len(chunks), headings))
                buffer = []
            if len(words) <= max_words:
                buffer.extend(words)
                continue
            for window in _windows(words, max_words, overlap):
                chunks.append(Chunk(_join(window), heading, len(chunks), headings))
        if buffer:
            chunks.append(Chunk(_join(buffer), heading, len(chunks), headings))
    return chunks


def _integer(name: str, value: object) -> int:
    number = whole_number(value)
    if number is None:
        raise InvalidArgumentError(f"{name} must be an integer, got {value!r}")
    return number


def _words(paragraph: str) -> List[str]:
    tokens = paragraph.split()
    if not _IS_CJK.search(paragraph) and max(map(len, tokens), default=0) <= LONGEST_WORD:
        return tokens
    words: List[str] = []
    for token in tokens:
        if len(token) <= LONGEST_WORD and not _IS_CJK.search(token):
            words.append(token)
        else:
            pieces = _pieces(token)
            words.append(pieces[0])
            words.extend(_GLUED + piece for piece in pieces[1:])
    return words


def _pieces(token: str) -> List[str]:
    """A run without spaces as the words it counts as: each CJK character, and runs of others of at most LONGEST_WORD."""
    pieces: List[str] = []
    current: List[str] = []
    cjk = False  # whether the current piece is a CJK character (with its marks)
    for char in token:
        starts_cjk = bool(_IS_CJK.match(char)) and not _attaches(char, current)
        if current and not _attaches(char, current) and (starts_cjk or cjk or len(current) >= LONGEST_WORD):
            pieces.append("".join(current))
            current = []
        if not current:
            cjk = starts_cjk
        current.append(char)
    if current:
        pieces.append("".join(current))
    return pieces


def _attaches(char: str, before: List[str]) -> bool:
    """Whether ``char`` belongs with the characters before it: a combining mark, a joiner or variation selector,
    a skin tone, or anything after a zero-width joiner (a cut there would split what reads as one character)."""
    if not before:
        return False
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")
        or char in "\u200c\u200d"
        or "\ufe00" <= char <= "\ufe0f"
        or "\U0001f3fb" <= char <= "\U0001f3ff"
        or "\U000e0020" <= char <= "\U000e007f"
        or before[-1] == "\u200d"
    )


def _join(words: List[str]) -> str:
    text = " ".join(words)
    return text.replace(" " + _GLUED, "").lstrip(_GLUED) if _GLUED in text else text


def _windows(words: List[str], size: int, overlap: int) -> Iterator[List[str]]:
    step = size - overlap
    for start in range(0, len(words), step):
        yield words[start : start + size]
        if start + size >= len(words):
            return


def _sections(text: str, markdown: bool) -> Iterator[Tuple[Tuple[str, ...], List[str]]]:
    """Yield (heading path, paragraphs) per section; paragraphs are blank-line separated."""
    path: List[Tuple[int, str]] = []  # (level, title) of the headings above, outermost first
    heading: Tuple[str, ...] = ()
    paragraphs: List[str] = []
    current: List[str] = []
    in_fence = False

    def close_paragraph() -> None:
        if current:
            paragraphs.append("\n".join(current))
            current.clear()

    for line in text.splitlines():
        if markdown and _FENCE.match(line):
            in_fence = not in_fence
        match = _HEADING.match(line) if markdown and not in_fence else None
        if match:
            close_paragraph()
            if paragraphs:
                yield heading, paragraphs
            level = len(match.group(1))
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, match.group(2)))
            heading, paragraphs = tuple(title for _, title in path), []
        elif not line.strip() and not in_fence:
            close_paragraph()
        else:
            current.append(line)
    close_paragraph()
    if paragraphs:
        yield heading, paragraphs
