"""Lane rows an operator reads: tool calls on one line or in full, search hits as text streams in."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from wfwatch.reducer import MessageView, ToolCallView
from wfwatch.tui.timefmt import stamp
from wfwatch.tui.widgets.lane import _MessageLines, find_all, tool_lines

CALL = ToolCallView(
    "c1", "main", 1, "lookup_order", '{"order_id":"A-1042"}', '{"status":"shipped","eta":"tomorrow"}', True, ts=100.0
)


def test_a_tool_call_is_one_line_with_name_arguments_result_and_duration() -> None:
    done = replace(CALL, result_ts=100.12)
    (line,), _ = tool_lines(done, 200, expanded=False)
    assert line == '▸ lookup_order {"order_id":"A-1042"} → {"status":"shipped","eta":"tomorrow"} 120 ms'
    (narrow,), _ = tool_lines(done, 40, expanded=False)
    assert cell_len(narrow) <= 40 and narrow.startswith("▸ lookup_order {") and narrow.endswith(" 120 ms")
    running = ToolCallView("c2", "main", 1, "grep", "x")
    assert tool_lines(running, 80, expanded=False)[0] == ["▸ grep x → … running…"]


def test_an_expanded_tool_call_shows_everything_and_a_failure_is_marked() -> None:
    failed = ToolCallView("c3", "main", 1, "fetch\x1b[2J", "url", "connection refused " * 6, False)
    lines, kind = tool_lines(failed, 30, expanded=True)
    assert lines[0] == "▾ fetch\\x1b…"
    assert lines[1] == "  args url"
    assert lines[2].startswith("  ✘ connection refused") and all(cell_len(line) <= 30 for line in lines)
    assert "".join(lines[2:]).count("refused") == 6
    assert kind != tool_lines(CALL, 30, expanded=True)[1]


def test_no_time_shows_nothing() -> None:
    assert stamp(0.0, "absolute", 0.0) == "" and stamp(0.0, "relative", 5.0) == ""
    assert stamp(12.5, "relative", 10.0) == "+2.5s" and stamp(12.0, "off", 10.0) == ""


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="ab \n", max_size=12), min_size=1, max_size=20), st.sampled_from(["a", "ab", "b a"]))
def test_search_of_a_growing_message_finds_what_a_fresh_search_finds(pieces: list[str], query: str) -> None:
    text = ""
    made: _MessageLines | None = None
    for piece in pieces:
        text += piece
        message = MessageView("m", "main", 1, 1, text, "", False)
        if made is None:
            made = _MessageLines.new(message, 7)
        else:
            made.take(message, 7)
        assert list(made.search(query)) == find_all(made.lines, query)
