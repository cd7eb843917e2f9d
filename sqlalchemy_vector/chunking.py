"""Splitting text and Markdown files into passages for embedding."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

from .exc import InvalidArgumentError
from .types import whole_number

__all__ = ["Chunk", "chunk_text"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


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


def chunk_text(text: str, *, max_words: int = 120, overlap: int = 20, markdown: bool = True) -> List[Chunk]:
    """Split ``text`` into passages of at most ``max_words`` words.

    Paragraphs are kept whole when they fit; longer ones are cut into windows
    that share ``overlap`` words.  With ``markdown``, a heading starts a new
    passage and is recorded as the passage's ``heading`` (fenced code blocks
    are not scanned for headings).
    """
    if not isinstance(text, str):
        hint = "; decode it first (text.decode('utf-8'))" if isinstance(text, (bytes, bytearray)) else ""
        raise InvalidArgumentError(f"chunk_text() expects the text as a str, got {type(text).__name__}{hint}")
    numbers: List[int] = []
    for name, value in (("max_words", max_words), ("overlap", overlap)):
        number = whole_number(value)
        if number is None:
            raise InvalidArgumentError(f"{name} must be an integer, got {value!r}")
        numbers.append(number)
    max_words, overlap = numbers
    if max_words < 1:
        raise InvalidArgumentError(f"max_words must be at least 1, got {max_words}")
    if not 0 <= overlap < max_words:
        raise InvalidArgumentError(f"overlap must be between 0 and max_words - 1 ({max_words - 1}), got {overlap}")
    chunks: List[Chunk] = []
    for headings, paragraphs in _sections(text, markdown):
        heading = headings[-1] if headings else None
        buffer: List[str] = []
        for paragraph in paragraphs:
            words = paragraph.split()
            if buffer and len(buffer) + len(words) > max_words:
                chunks.append(Chunk(" ".join(buffer), heading, len(chunks), headings))
                buffer = []
            if len(words) <= max_words:
                buffer.extend(words)
                continue
            for window in _windows(words, max_words, overlap):
                chunks.append(Chunk(" ".join(window), heading, len(chunks), headings))
        if buffer:
            chunks.append(Chunk(" ".join(buffer), heading, len(chunks), headings))
    return chunks


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
