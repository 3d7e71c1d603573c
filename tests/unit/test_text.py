"""Untrusted text renders literally: no escape sequence or markup takes effect."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from wfwatch.text import safe_text, sanitize

ATTACKS = [
    "\x1b[31mred\x1b[0m",
    "\x1b[2J\x1b[H",  # clear screen, cursor home
    "\x1b]52;c;ZXZpbA==\x07",  # OSC 52 clipboard write
    "\x1b]0;title\x1b\\",  # window title
    "\x9b31m",  # C1 CSI
    "\x07\x08\x7f",
    "\u202eevil",  # bidi override
]


def test_each_attack_is_neutralised_and_visible() -> None:
    for attack in ATTACKS:
        cleaned = sanitize(attack)
        assert "\x1b" not in cleaned and "\x07" not in cleaned and "\x9b" not in cleaned
        assert "\\x" in cleaned or "\\u" in cleaned


def test_plain_text_newlines_and_tabs_survive() -> None:
    assert sanitize("hello\tworld\nnext") == "hello\tworld\nnext"


def test_rich_markup_stays_literal() -> None:
    console = Console(record=True, width=80, color_system="truecolor", force_terminal=True)
    console.print(safe_text("[red]not red[/red] [link=http://x]y[/link]"))
    assert "[red]not red[/red]" in console.export_text()
    assert "\x1b[31m" not in console.export_text(styles=True)


@given(st.text())
def test_sanitized_text_has_no_control_characters(text: str) -> None:
    cleaned = sanitize(text)
    assert all(c in "\n\t" or (ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F) for c in cleaned)


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x1b\x9b\x9d")))
def test_the_translate_fast_path_replaces_exactly_what_the_regex_does(text: str) -> None:
    from wfwatch.text import _CONTROL, _visible

    assert sanitize(text) == _CONTROL.sub(lambda m: _visible(m.group()), text)
