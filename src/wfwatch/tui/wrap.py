"""Greedy word wrap that can be extended as a token stream grows.

A lane re-wrapping its whole text on every flush spends its time wrapping
(``benchmarks/tui_load.py``: most of a frame went to Rich/Textual wrapping a
few thousand characters per pane, twenty times a second). Greedy wrapping is
prefix-stable: appending text can only change the last line. So a growing
paragraph keeps the start offsets of its lines and re-wraps from the start of
its last line only (:meth:`WrappedParagraph.extend`), which costs the length
of one line, not of the paragraph.

The rules follow Rich's ``fold`` wrapping: words break at whitespace,
trailing spaces may hang past the edge, and a word longer than a line is cut
into line-sized pieces. Widths are terminal cells (``rich.cells``), so wide
characters count double.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rich.cells import cell_len

_WORD = re.compile(r"\s*\S+\s*")


def line_starts(text: str, width: int, offset: int = 0) -> list[int]:
    """Offsets (plus ``offset``) where each line of ``text`` wrapped at ``width`` cells starts."""
    width = max(1, width)
    starts = [offset]
    used = 0
    for match in _WORD.finditer(text):
        start = match.start()
        word = match.group()
        visible = cell_len(word.rstrip())
        if used and used + visible > width:
            starts.append(offset + start)
            used = 0
        if visible > width:  # fold: line-sized pieces, the last one continues the line
            piece_cells = 0
            for index, char in enumerate(word.rstrip(), start):
                cells = cell_len(char)
                if piece_cells + cells > width and piece_cells:
                    starts.append(offset + index)
                    piece_cells = 0
                piece_cells += cells
            used = piece_cells + cell_len(word[len(word.rstrip()) :])
            continue
        used += cell_len(word)
    return starts


def split_lines(text: str, starts: list[int]) -> list[str]:
    """The lines of ``text`` that ``starts`` describes, trailing whitespace dropped."""
    ends = [*starts[1:], len(text)]
    return [text[start:end].rstrip() for start, end in zip(starts, ends, strict=True)]


@dataclass
class WrappedParagraph:
    """One paragraph (no newlines) and where its lines start at ``width``."""

    width: int
    text: str = ""
    starts: list[int] = field(default_factory=lambda: [0])

    def extend(self, text: str) -> None:
        """Take ``text``, which must start with the current text, re-wrapping only the last line."""
        if not text.startswith(self.text):
            raise ValueError("extend() needs the old text as a prefix; wrap the new text afresh")
        last = self.starts[-1]
        self.starts[-1:] = line_starts(text[last:], self.width, last)
        self.text = text

    @property
    def lines(self) -> list[str]:
        return split_lines(self.text, self.starts)


@dataclass
class WrappedText:
    """Text with newlines, wrapped paragraph by paragraph; growing at the end is cheap."""

    width: int
    paragraphs: list[WrappedParagraph] = field(default_factory=list)
    length: int = 0

    @classmethod
    def of(cls, text: str, width: int) -> WrappedText:
        wrapped = cls(width)
        wrapped.extend(text)
        return wrapped

    def extend(self, text: str) -> None:
        """Take ``text`` (the old text plus more): only the last paragraph and any new ones are wrapped."""
        if len(text) < self.length:
            raise ValueError("extend() cannot shrink the text")
        pieces = text.split("\n")
        done = max(0, len(self.paragraphs) - 1)  # paragraphs before the last are final
        if self.paragraphs:
            self.paragraphs[-1].extend(pieces[done])
        for piece in pieces[len(self.paragraphs) :]:
            paragraph = WrappedParagraph(self.width)
            paragraph.extend(piece)
            self.paragraphs.append(paragraph)
        self.length = len(text)

    @property
    def lines(self) -> list[str]:
        return [line for paragraph in self.paragraphs for line in paragraph.lines]

    @property
    def line_count(self) -> int:
        return sum(len(paragraph.starts) for paragraph in self.paragraphs)
