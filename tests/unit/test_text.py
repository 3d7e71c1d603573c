"""Untrusted text renders literally: no escape sequence or markup takes effect."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from wfwatch.text import INVISIBLE_RANGES, UNSAFE_CODES, one_line, safe_text, sanitize

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


#: The invisible and bidi characters of issue 13 (item 3), each of which reached the terminal.
INVISIBLE = (
    "\u200b\u200c\u200d\u200e\u200f\u061c\u2028\u2029\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
#: Text that is mostly ordinary, with every kind of character sanitize cares about mixed in.
hostile_chars = st.characters(codec="utf-8") | st.sampled_from(
    [*INVISIBLE, "\U000e0041", "\u2060", "\x1b", "\x9b", "\x9d", "\x07", "\x85", "\n", "\t", "[", "]", "é", "a"]
)


def test_invisible_and_bidi_characters_show_as_placeholders() -> None:
    for char in INVISIBLE:
        cleaned = sanitize(f"pay {char}100")
        assert char not in cleaned and f"\\u{ord(char):04x}" in cleaned, repr(char)
    assert sanitize("tag\U000e0041") == "tag\\U000e0041"  # tag characters: invisible ASCII look-alikes
    assert sanitize("ascii only\nand é") == "ascii only\nand é"  # nothing else changes


@given(st.text(alphabet=hostile_chars))
def test_sanitized_text_has_no_control_or_invisible_characters(text: str) -> None:
    cleaned = sanitize(text)
    assert all(c in "\n\t" or (ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F) for c in cleaned)
    assert not UNSAFE_CODES.intersection(map(ord, cleaned))


def test_the_unsafe_set_covers_the_invisible_ranges() -> None:
    assert all(code in UNSAFE_CODES for first, last in INVISIBLE_RANGES for code in range(first, last + 1))
    assert ord("\n") not in UNSAFE_CODES and ord("\t") not in UNSAFE_CODES


@given(st.text(alphabet=hostile_chars.filter(lambda c: c not in "\x1b\x9b\x9d")))
def test_the_fast_paths_replace_exactly_what_the_regex_does(text: str) -> None:
    from wfwatch.text import _CONTROL, _visible

    expected = _CONTROL.sub(lambda m: _visible(m.group()), text)
    assert sanitize(text) == expected
    assert sanitize(text.encode("ascii", "ignore").decode()) == _CONTROL.sub(
        lambda m: _visible(m.group()), text.encode("ascii", "ignore").decode()
    )


def test_one_line_keeps_a_name_on_its_line() -> None:
    assert one_line("mk\n@5 forged\tx\x1b[2J") == "mk\\n@5 forged\\tx\\x1b…"
    assert "\n" not in one_line("a\nb") and "\t" not in one_line("a\tb")


def test_an_unterminated_string_sequence_hides_no_more_than_its_line() -> None:
    for introducer in ("\x1b]0;", "\x1bP", "\x9d"):
        cleaned = sanitize(f"before {introducer}title\nthe rest of the answer\n")
        assert cleaned.endswith("…\nthe rest of the answer\n"), repr(cleaned)
