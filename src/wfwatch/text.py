"""Making untrusted text (LLM output, foreign payloads) safe for a terminal.

Model output may contain ANSI/OSC escape sequences (colours, cursor moves,
OSC 52 clipboard writes, window titles), raw control characters, or Rich
markup like ``[red]``. None of it may take effect: wfwatch shows it
literally. Escape sequences and control characters are replaced by visible
placeholders (so a reader sees that something was there); Rich markup is a
non-issue as long as text goes into ``rich.text.Text`` objects, never into
markup strings — :func:`safe_text` builds those.

Invisible formatting characters are treated the same way: bidi embeddings,
overrides and isolates (which reorder what a reader sees, "Trojan Source"),
zero-width spaces and joiners, the Unicode line and paragraph separators,
the byte-order mark and the tag characters (invisible ASCII look-alikes)
all show as ``\\uNNNN`` placeholders instead of silently shaping the text.
"""

from __future__ import annotations

import re
from typing import Final

from rich.text import Text

#: ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL/ST),
#: DCS/SOS/PM/APC (ESC P/X/^/_ ... ST), and two-character escapes. A string
#: sequence left unterminated ends at the line's end, so one stray ``ESC ]``
#: cannot fold everything after it into its placeholder.
_ESCAPE_SEQUENCE: Final = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b\n]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x9d[^\x07\x9c\n]*[\x07\x9c]?"
)
#: Invisible characters that change how text reads without being seen
#: (inclusive ranges): the Arabic letter mark, the Mongolian vowel separator,
#: zero-width space/joiners and LRM/RLM, line/paragraph separators, bidi
#: embeddings/overrides, word joiner and invisible operators, bidi isolates and
#: the deprecated format characters, the BOM / zero-width no-break space,
#: interlinear annotation marks, and the tag characters.
INVISIBLE_RANGES: Final = (
    (0x061C, 0x061C),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0xE0000, 0xE007F),
)
#: Every code point :func:`sanitize` replaces: C0 and C1 controls except
#: newline and tab, DEL, and :data:`INVISIBLE_RANGES`.
UNSAFE_CODES: Final = frozenset(
    code
    for first, last in ((0x00, 0x1F), (0x7F, 0x9F), *INVISIBLE_RANGES)
    for code in range(first, last + 1)
    if chr(code) not in "\n\t"
)
_CONTROL: Final = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f" + "".join(rf"\U{a:08x}-\U{b:08x}" for a, b in INVISIBLE_RANGES) + "]"
)


def _visible(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _placeholder(match: re.Match[str]) -> str:
    """An escape sequence shows as its introducer and an ellipsis: ``\\x1b…``."""
    return _visible(match.group()[0]) + ("…" if len(match.group()) > 1 else "")


#: Characters that can start an escape sequence (ESC, C1 CSI, C1 OSC).
_INTRODUCER: Final = re.compile(r"[\x1b\x9b\x9d]")
#: The ASCII characters :func:`sanitize` keeps: printable ones, newline, tab.
_SAFE_ASCII: Final = bytes(range(0x20, 0x7F)) + b"\n\t"


def _visible_match(match: re.Match[str]) -> str:
    return _visible(match.group())


def sanitize(text: str) -> str:
    """Return ``text`` with escape sequences and control characters neutralised.

    Newlines and tabs survive; everything else that could drive the terminal
    or hide in the text (:data:`UNSAFE_CODES`) becomes a visible ``\\xNN`` /
    ``\\uNNNN`` placeholder. Lanes call this on their whole text every flush,
    so clean text is found clean in C and returned as is: ASCII text by one
    ``bytes.translate`` that deletes every safe byte (~35 µs for 100 KB, with
    newlines or not), other text by ``str.isprintable`` or one regex search.
    Only text with something to replace pays for a substitution.
    """
    if text.isascii():
        if not text.encode("ascii").translate(None, _SAFE_ASCII):
            return text
    elif text.isprintable() or _CONTROL.search(text) is None:
        return text
    if _INTRODUCER.search(text) is not None:
        text = _ESCAPE_SEQUENCE.sub(_placeholder, text)
    return _CONTROL.sub(_visible_match, text)


def one_line(text: str) -> str:
    """:func:`sanitize` for a one-line place (a title, a table cell, a header).

    Newlines and tabs show as ``\\n`` / ``\\t`` too, so a workflow id or a
    name cannot start a line of its own.
    """
    return sanitize(text).replace("\n", "\\n").replace("\t", "\\t")


def safe_text(text: str, style: str = "") -> Text:
    """A Rich ``Text`` showing ``text`` literally (no markup, no escapes)."""
    return Text(sanitize(text), style=style)
