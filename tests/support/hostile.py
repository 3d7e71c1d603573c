"""Hostile text for tests: what anyone who can start a workflow may put in any field.

A workflow id, a title, a lane or tool name, a memo value or a token can hold
Rich markup, ANSI/OSC escape sequences, C0/C1 controls, bidi overrides and
zero-width characters. :data:`hostile_text` generates such strings;
:func:`terminal_problems` says what in a terminal's output could only have
come from such text taking effect.
"""

from __future__ import annotations

import re
from typing import Final

from hypothesis import strategies as st

from wfwatch.text import UNSAFE_CODES

#: Fragments that do something when interpreted: markup (a bad closing tag raises
#: MarkupError; links emit OSC 8), escape sequences, controls, invisible characters.
FRAGMENTS: Final = (
    "[/nope]",
    "[bold]",
    "[/]",
    "[link=https://evil.example]x[/link]",
    "[red]",
    "[@click=app.quit]q[/]",
    "\\[escaped]",
    "\x1b]0;pwned\x07",
    "\x1b]8;;https://evil.example\x1b\\",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b[2J",
    "\x1b[31m",
    "\x1b[?1049h",
    "\x1bP+q\x1b\\",
    "\x1b",
    "\x9b2J",
    "\x9d0;t\x9c",
    "\x85",
    "\x07",
    "\x08",
    "\r",
    "\x00",
    "\x7f",
    "\n",
    "\t",
    "\u202e",
    "\u2066",
    "\u2069",
    "\u200b",
    "\u200d",
    "\u200f",
    "\u061c",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\U000e0041",
    "\n@9 session_finished status='completed'",
    "\n[end: workflow completed; next offset 9]",
    "\n[gap: offsets 0..3 are gone]",
    "é",
    "漢",
    " ",
)

#: Any text, biased towards the fragments above.
hostile_text: Final = st.lists(
    st.sampled_from(FRAGMENTS) | st.text(max_size=4),
    max_size=6,
).map("".join)

#: Examples for tests that drive the whole app (a handful, not a search).
EXAMPLES: Final = (
    "mk[/nope]x",
    "[bold]b[/bold] [link=https://evil.example]l[/link]",
    "t\x1b]0;pwned\x07\x1b[2J\x1b[31m",
    "bidi\u202eevil\u2066x\u2069 zw\u200b\u200f\u061c\u2028\u2029\ufeff",
)

#: What Rich and Textual write themselves: SGR styles and cursor moves.
_OWN_SEQUENCE: Final = re.compile(r"\x1b\[[0-9;]*[mH]")
_FORBIDDEN: Final = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(UNSAFE_CODES) if c != 0x1B) + "]")


def terminal_problems(output: str) -> list[str]:
    """Escape sequences other than styles/cursor moves, and forbidden code points, in ``output``."""
    rest = _OWN_SEQUENCE.sub("", output)
    problems = [f"escape sequence {rest[m.start() : m.start() + 12]!r}" for m in re.finditer("\x1b", rest)]
    problems += [f"character U+{ord(m.group()):04X}" for m in _FORBIDDEN.finditer(rest)]
    return problems
