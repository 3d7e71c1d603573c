"""Making untrusted text (LLM output, foreign payloads) safe for a terminal.

Model output may contain ANSI/OSC escape sequences (colours, cursor moves,
OSC 52 clipboard writes, window titles), raw control characters, or Rich
markup like ``[red]``. None of it may take effect: wfwatch shows it
literally. Escape sequences and control characters are replaced by visible
placeholders (so a reader sees that something was there); Rich markup is a
non-issue as long as text goes into ``rich.text.Text`` objects, never into
markup strings — :func:`safe_text` builds those.
"""

from __future__ import annotations

import re
from typing import Final

from rich.text import Text

#: ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL/ST),
#: DCS/SOS/PM/APC (ESC P/X/^/_ ... ST), and two-character escapes.
_ESCAPE_SEQUENCE: Final = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x9d[^\x07\x9c]*[\x07\x9c]?"
)
#: C0 and C1 control characters except newline and tab, plus DEL and the
#: Unicode bidi overrides that can reorder what a reader sees.
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _placeholder(match: re.Match[str]) -> str:
    """An escape sequence shows as its introducer and an ellipsis: ``\\x1b…``."""
    return _visible(match.group()[0]) + ("…" if len(match.group()) > 1 else "")


#: Characters that can start an escape sequence (ESC, C1 CSI, C1 OSC).
_INTRODUCER: Final = re.compile(r"[\x1b\x9b\x9d]")
#: The same replacements as ``_CONTROL``, as a table for ``str.translate``.
_CONTROL_TABLE: Final = {
    code: _visible(chr(code))
    for code in [*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    if chr(code) not in "\n\t"
}


def sanitize(text: str) -> str:
    """Return ``text`` with escape sequences and control characters neutralised.

    Newlines and tabs survive; everything else that could drive the terminal
    becomes a visible ``\\xNN`` placeholder. Lanes call this on their whole
    text every flush, so the common cases stay in C: printable text is
    returned as is, and text without escape introducers (just newlines, say)
    goes through one ``str.translate``.
    """
    if text.isprintable():
        return text
    if _INTRODUCER.search(text) is None:
        return text.translate(_CONTROL_TABLE)
    text = _ESCAPE_SEQUENCE.sub(_placeholder, text)
    return _CONTROL.sub(lambda m: _visible(m.group()), text)


def safe_text(text: str, style: str = "") -> Text:
    """A Rich ``Text`` showing ``text`` literally (no markup, no escapes)."""
    return Text(sanitize(text), style=style)
