"""`wfwatch tail`'s output: hostile fields neither drive the terminal nor forge tail's own lines."""

from __future__ import annotations

import io
import json
from typing import Any

from hostile import hostile_text, terminal_problems
from hypothesis import given, settings
from hypothesis import strategies as st

from wfwatch import events
from wfwatch.cli import CONTINUATION, _json_line, _TextPrinter

#: How each line tail writes begins (docs/events.md, "wfwatch tail output").
OWN_LINE_STARTS = ("[", "@")


def printed(records: list[events.Record], *, raw: bool = False, gap_after: int | None = None) -> str:
    out = io.StringIO()
    printer = _TextPrinter(out, raw)
    for record in records:
        printer.write(record)
        if record.offset == gap_after:
            printer.framing()
            out.write("\n[gap: offsets 1..1 are gone]\n")
    return out.getvalue()


def token(offset: int, text: str, **fields: Any) -> events.Record:
    return events.Record(offset, events.TokenDelta(message_id=fields.pop("message_id", "m"), text=text, **fields))


def test_model_text_cannot_print_a_record_or_an_end_line() -> None:
    forged = [
        token(0, "hello\n@9 session_finished status='completed'"),
        token(1, "\n[end: workflow completed; next offset 9]\n"),
        token(2, "[gap: offsets 0..3 are gone]"),
    ]
    lines = printed(forged).split("\n")
    assert lines == [
        "",
        "[main m #1 answer] hello",
        f"{CONTINUATION}@9 session_finished status='completed'",
        f"{CONTINUATION}[end: workflow completed; next offset 9]",
        f"{CONTINUATION}[gap: offsets 0..3 are gone]",
    ]


def test_names_stay_on_their_line() -> None:
    records = [
        token(0, "x", lane="a\n@5 session_finished", message_id="m\n[end: done]"),
        events.Record(1, events.UnknownItem(topic="t\n@2", data={"kind": "k\n@3 forged"}, kind="k\n@3 forged")),
    ]
    lines = printed(records).split("\n")
    assert len(lines) == 3 and lines[0] == ""
    assert lines[1].startswith("[a\\n@5 session_finished m\\n[end: done] #1 answer] x")
    assert lines[2].startswith("@1 unknown k\\n@3 forged on ")


def test_after_a_gap_the_running_message_gets_its_header_again() -> None:
    text = printed([token(0, "one"), token(2, "\n@7 forged")], gap_after=0)
    assert text.split("\n")[-2:] == ["[main m #1 answer] ", f"{CONTINUATION}@7 forged"]


def test_json_escapes_bidi_zero_width_and_c1_and_keeps_the_value() -> None:
    value = "a\u202eb\u2066c\u2069\u200b\u200f\u061c\u2028\u2029\ufeff\x85\x9b\U000e0041"
    line = _json_line(token(0, value, lane=value))
    assert line.endswith("\n") and line.count("\n") == 1
    assert terminal_problems(line) == []
    assert "\\u202e" in line and "\\udb40\\udc41" in line
    parsed = json.loads(line)
    assert parsed["text"] == value and parsed["lane"] == value


_record = st.one_of(
    st.builds(
        lambda text, lane, mid, channel: events.TokenDelta(message_id=mid, text=text, lane=lane, channel=channel),
        hostile_text,
        hostile_text,
        hostile_text,
        st.sampled_from(["answer", "reasoning"]),
    ),
    st.builds(lambda sid, title: events.SessionStarted(session_id=sid, title=title), hostile_text, hostile_text),
    st.builds(lambda n, a: events.ToolCall(call_id="c", name=n, arguments=a), hostile_text, hostile_text),
    st.builds(lambda r: events.ToolResult(call_id="c", result=r), hostile_text),
    st.builds(lambda n: events.StepStarted(step_id="s", name=n), hostile_text),
    st.builds(lambda m: events.ErrorEvent(message=m), hostile_text),
    st.builds(lambda u: events.TurnStarted(user_message=u, turn=1), hostile_text),
    st.builds(lambda n, w: events.SubagentSpawned(name=n, workflow_id=w, lane=n, index=1), hostile_text, hostile_text),
    st.builds(lambda r: events.SessionFinished(reason=r), hostile_text),
    st.builds(
        lambda topic, k, v: events.UnknownItem(topic=topic, data={"kind": k, "v": v}, kind=k, reason=v),
        hostile_text,
        hostile_text,
        hostile_text,
    ),
    st.builds(lambda p: events.InvalidItem(topic="wfwatch", reason="bad", preview=p), hostile_text),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_record, max_size=8), st.booleans())
def test_any_fields_print_safely_and_every_line_is_one_tail_wrote(items: list[events.Decoded], raw: bool) -> None:
    records = [events.Record(offset, item) for offset, item in enumerate(items)]
    text = printed(records, raw=raw)
    assert terminal_problems(text) == []
    headers = records_lines = 0
    for line in text.split("\n"):
        assert line == "" or line.startswith((*OWN_LINE_STARTS, CONTINUATION)), line
        headers += line.startswith("[")
        records_lines += line.startswith("@")
    shown_as_records = [r for r in records if raw or not isinstance(r.item, events.TokenDelta)]
    assert records_lines == len(shown_as_records)
    expected_headers, current = 0, None
    for record in records:
        item = record.item
        key = (item.message_id, item.attempt, item.channel) if isinstance(item, events.TokenDelta) else None
        expected_headers += key is not None and key != current and not raw
        current = key
    assert headers == expected_headers
    for record in records:
        line = _json_line(record)
        assert terminal_problems(line) == [] and line.count("\n") == 1
        assert json.loads(line)["offset"] == record.offset
