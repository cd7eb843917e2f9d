"""Splitting text and Markdown files into passages for embedding."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, List, Optional

from .exc import InvalidArgumentError

__all__ = ["Chunk", "chunk_text"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: its text, the nearest heading above it, and its position."""

    text: str
    heading: Optional[str]
    index: int


def chunk_text(text: str, *, max_words: int = 120, overlap: int = 20, markdown: bool = True) -> List[Chunk]:
    """Split ``text`` into passages of at most ``max_words`` words.

    Paragraphs are kept whole when they fit; longer ones are cut into windows
    that share ``overlap`` words.  With ``markdown``, a heading starts a new
    passage and is recorded as the passage's ``heading`` (fenced code blocks
    are not scanned for headings).
    """
    if max_words < 1:
        raise InvalidArgumentError(f"max_words must be at least 1, got {max_words}")
    if not 0 <= overlap < max_words:
        raise InvalidArgumentError(f"overlap must be between 0 and max_words - 1 ({max_words - 1}), got {overlap}")
    chunks: List[Chunk] = []
    for heading, paragraphs in _sections(text, markdown):
        buffer: List[str] = []
        for paragraph in paragraphs:
            words = paragraph.split()
            if buffer and len(buffer) + len(words) > max_words:
                chunks.append(Chunk(" ".join(buffer), heading, len(chunks)))
                buffer = []
            if len(words) <= max_words:
                buffer.extend(words)
                continue
            for window in _windows(words, max_words, overlap):
                chunks.append(Chunk(" ".join(window), heading, len(chunks)))
        if buffer:
            chunks.append(Chunk(" ".join(buffer), heading, len(chunks)))
    return chunks


def _windows(words: List[str], size: int, overlap: int) -> Iterator[List[str]]:
    step = size - overlap
    for start in range(0, len(words), step):
        yield words[start : start + size]
        if start + size >= len(words):
            return


def _sections(text: str, markdown: bool) -> Iterator[tuple[Optional[str], List[str]]]:
    """Yield (heading, paragraphs) per section; paragraphs are blank-line separated."""
    heading: Optional[str] = None
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
            heading, paragraphs = match.group(2), []
        elif not line.strip() and not in_fence:
            close_paragraph()
        else:
            current.append(line)
    close_paragraph()
    if paragraphs:
        yield heading, paragraphs
