"""Splitting text and Markdown files into passages for embedding."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Iterator, List, Optional, Tuple

from .exc import InvalidArgumentError
from .types import whole_number

__all__ = ["Chunk", "chunk_lines", "chunk_text"]

# An ATX heading; its closing #s only after a space (CommonMark): "# C#" is titled "C#".
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
# A code fence: three or more backticks or tildes, indented at most 3 spaces, and what follows (an info string).
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
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
    return list(chunk_lines(text.splitlines(), max_words=max_words, overlap=overlap, markdown=markdown))


def chunk_lines(
    lines: Iterable[str], *, max_words: int = 120, overlap: Optional[int] = None, markdown: bool = True
) -> Iterator[Chunk]:
    """The passages of the text of ``lines`` (without their line ends), as they are found.

    What :func:`chunk_text` gives for ``"\n".join(lines)``, but lazily: only the
    current paragraph's words past the last full passage are held, so a file
    read line by line is split in memory bounded by ``max_words``, not by its size.
    """
    max_words = _integer("max_words", max_words)
    if max_words < 1:
        raise InvalidArgumentError(f"max_words must be at least 1, got {max_words}")
    overlap = min(20, max_words - 1) if overlap is None else _integer("overlap", overlap)
    if not 0 <= overlap < max_words:
        raise InvalidArgumentError(f"overlap must be between 0 and max_words - 1 ({max_words - 1}), got {overlap}")
    return _Splitter(max_words, overlap).chunks(lines, markdown)


class _Splitter:
    """Paragraphs are kept whole when they fit a passage (several joined while they fit); a longer one is cut
    into windows of ``size`` words that share ``overlap``, each given as soon as its words are known."""

    def __init__(self, size: int, overlap: int) -> None:
        self.size, self.step = size, size - overlap
        self.count = 0  # passages given so far: the next one's index
        self.headings: Tuple[str, ...] = ()
        self.buffer: List[str] = []  # paragraphs that fit, joined into one passage
        self.words: List[str] = []  # the current paragraph's words from ``start`` on
        self.start = 0  # the paragraph's index of words[0]
        self.seen = 0  # the paragraph's words so far
        self.windowed = False  # the paragraph is longer than a passage: cut into windows
        self.next = 0  # the paragraph's index of the next window's first word

    def chunk(self, words: List[str]) -> Chunk:
        heading = self.headings[-1] if self.headings else None
        self.count += 1
        return Chunk(_join(words), heading, self.count - 1, self.headings)

    def add(self, words: List[str]) -> Iterator[Chunk]:
        """Words of the current paragraph."""
        self.words += words
        self.seen += len(words)
        if self.buffer and len(self.buffer) + self.seen > self.size:
            yield self.chunk(self.buffer)
            self.buffer = []
        if self.seen <= self.size:
            return
        self.windowed = True
        while self.next + self.size <= self.seen:  # a full window, and more words after it (or its last one)
            yield self.chunk(self.words[self.next - self.start : self.next - self.start + self.size])
            self.next += self.step
        del self.words[: self.next - self.start]
        self.start = self.next

    def end_paragraph(self) -> Iterator[Chunk]:
        if self.windowed:
            # The window at ``next`` holds the last words, unless the window before it already reached the end.
            if self.next - self.step + self.size < self.seen:
                yield self.chunk(self.words[self.next - self.start :])
        else:
            self.buffer += self.words
        self.words, self.start, self.seen, self.windowed, self.next = [], 0, 0, False, 0

    def end_section(self) -> Iterator[Chunk]:
        if self.buffer:
            yield self.chunk(self.buffer)
            self.buffer = []

    def chunks(self, lines: Iterable[str], markdown: bool) -> Iterator[Chunk]:
        """Sections end at a heading (unless in a fenced code block); paragraphs at a blank line (likewise)."""
        path: List[Tuple[int, str]] = []  # (level, title) of the headings above, outermost first
        in_paragraph = False
        fence = ""  # the open code fence's marker: a fence of the same character, as long or longer, closes it
        for line in lines:
            found = _FENCE.match(line) if markdown else None
            if found is not None and not fence:
                fence = found.group(1)
            elif found is not None and found.group(1)[0] == fence[0] and len(found.group(1)) >= len(fence) and not found.group(2).strip():
                fence = ""
            in_fence = bool(fence)
            match = _HEADING.match(line) if markdown and not in_fence else None
            if match:
                if in_paragraph:
                    yield from self.end_paragraph()
                    in_paragraph = False
                yield from self.end_section()
                level = len(match.group(1))
                while path and path[-1][0] >= level:
                    path.pop()
                path.append((level, match.group(2)))
                self.headings = tuple(title for _, title in path)
            elif not line.strip() and not in_fence:
                if in_paragraph:
                    yield from self.end_paragraph()
                    in_paragraph = False
            else:
                in_paragraph = True
                yield from self.add(_words(line))
        if in_paragraph:
            yield from self.end_paragraph()
        yield from self.end_section()


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
