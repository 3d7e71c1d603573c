"""``wfwatch.export``: transcripts from records, and hostile text that stays literal in every format."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hostile import EXAMPLES, FRAGMENTS, hostile_text
from hypothesis import given, settings
from markdown_it import MarkdownIt

from wfwatch import events, export
from wfwatch.reducer import reduce
from wfwatch.text import UNSAFE_CODES, one_line, sanitize

RECORDINGS = Path(__file__).parent / "recordings"


def session(value: str, *, lane: str = "main") -> list[events.Record]:
    """A one-turn session with ``value`` in every field a workflow controls."""
    items: list[events.Event] = [
        events.SessionStarted(session_id=value, title=value),
        events.TurnStarted(turn=1, user_message=value),
        events.StepStarted(turn=1, step_id="s1", name=value, ts=10.0),
        events.AttemptStarted(turn=1, message_id=value, lane=lane),
        events.TokenDelta(turn=1, message_id=value, text=value, channel="reasoning", lane=lane),
        events.TokenDelta(turn=1, message_id=value, text=value, lane=lane),
        events.ToolCall(turn=1, call_id="c1", name=value, arguments=value, lane=lane, ts=10.5),
        events.ToolResult(turn=1, call_id="c1", result=value, ok=False, lane=lane, ts=10.75),
        events.ErrorEvent(turn=1, message=value, lane=lane),
        events.StepFinished(turn=1, step_id="s1", duration_ms=1500.0, reason=value),
        events.TurnFinished(turn=1, reason=value),
    ]
    return [events.Record(offset, item) for offset, item in enumerate(items)]


def markdown_of(value: str, *, raw: bool = False) -> str:
    return export.render(export.build("wf", session(value, lane=value or "main")), "markdown", raw=raw)


def _inline_text(token: object) -> tuple[str, set[str]]:
    children = getattr(token, "children", None) or []
    return "".join(c.content for c in children), {c.type for c in children}


def check_markdown_structure(value: str, raw: bool) -> None:
    document = markdown_of(value, raw=raw)
    tokens = MarkdownIt("commonmark").enable("table").parse(document)
    fences = [t.content.removesuffix("\n") for t in tokens if t.type == "fence"]
    shown = sanitize(value)
    # The user's message, reasoning, answer, error, tool arguments and result: each its own block,
    # holding exactly the (sanitized) text (empty reasoning is left out); raw adds the records' block.
    blocks = 6 if value else 5
    assert fences[:blocks] == [shown] * blocks, document
    assert len(fences) == blocks + raw
    # Every heading and table cell is plain text: no emphasis, links, code spans, raw HTML.
    headings = [tokens[i + 1] for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert [t.tag for t in tokens if t.type == "heading_open"] == ["h1", "h2", "h3", "h4"] + ["h2"] * raw
    title, types = _inline_text(headings[0])
    assert title == one_line(value or "wf") and types <= {"text"}
    assert _inline_text(headings[3])[0].startswith(f"Message {one_line(value)} (attempt 1")
    cells = [tokens[i + 1] for i, t in enumerate(tokens) if t.type in ("td_open", "th_open")]
    assert len(cells) == 10, document  # one header row and one step, five columns: nobody added a cell
    assert _inline_text(cells[5])[0] == one_line(value)
    for token in [*headings, *cells]:
        assert _inline_text(token)[1] <= {"text"}, token
    # Nothing in the file drives a terminal that shows it.
    assert not set(map(ord, document)) & UNSAFE_CODES


@pytest.mark.parametrize(
    "value", [*FRAGMENTS, *EXAMPLES, "```", "a ```` b", "`", "| x | y |", "# h\n## h2", "<b>x</b>"]
)
def test_markdown_keeps_hostile_text_literal(value: str) -> None:
    check_markdown_structure(value, raw=False)


@given(hostile_text)
@settings(max_examples=150, deadline=None)
def test_markdown_keeps_any_hostile_text_literal(value: str) -> None:
    check_markdown_structure(value, raw=True)


def test_the_fence_is_longer_than_any_backtick_run_inside() -> None:
    block = export.md_fence("x\n`````\ny")
    assert block.startswith("``````text\n") and block.endswith("\n``````\n")


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.pre: list[str] = []
        self.in_pre = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "pre":
            self.in_pre, self.text = True, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self.in_pre = False
            self.pre.append("".join(self.text))

    def handle_data(self, data: str) -> None:
        if self.in_pre:
            self.text.append(data)


_UNSAFE = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(UNSAFE_CODES)) + "]")


def _placeholders(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else (f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")

    return _UNSAFE.sub(one, value)


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "h4", "dl", "dt", "dd", "p"}
ALLOWED_TAGS |= {"strong", "em", "pre", "span", "table", "tr", "th", "td", "section", "article", "div", "ul", "li"}


def check_html(value: str) -> None:
    page = export.render(export.build("wf", session(value, lane=value or "main")), "html", raw=True)
    parsed = _Collect()
    parsed.feed(page)
    parsed.close()
    assert set(parsed.tags) <= ALLOWED_TAGS, parsed.tags
    blocks = 6 if value else 5  # empty reasoning is left out; the records' block follows
    assert parsed.tags.count("pre") == blocks + 1
    assert parsed.pre[:blocks] == [_placeholders(value)] * blocks
    assert not set(map(ord, page)) & UNSAFE_CODES
    for char in value:
        if ord(char) in UNSAFE_CODES:
            assert f'<span class="ctl" title="U+{ord(char):04X}">' in page


@pytest.mark.parametrize("value", [*FRAGMENTS, *EXAMPLES, "<script>alert(1)</script>", "&amp;", "</pre><b>"])
def test_html_escapes_everything_and_marks_invisible_characters(value: str) -> None:
    check_html(value)


@given(hostile_text)
@settings(max_examples=150, deadline=None)
def test_html_escapes_any_hostile_text(value: str) -> None:
    check_html(value)


def test_jsonl_is_tail_jsonl_and_keeps_exact_strings() -> None:
    value = EXAMPLES[2] + EXAMPLES[3]
    transcript = export.build("wf", session(value))
    transcript.end = "completed"
    lines = export.render(transcript, "jsonl").splitlines()
    assert len(lines) == 12
    decoded = [json.loads(line) for line in lines]
    assert [d["offset"] for d in decoded[:-1]] == list(range(11))
    assert decoded[5]["text"] == value  # exact, not sanitized
    assert decoded[-1] == {"end": "completed", "next_offset": 11}
    assert not set(map(ord, "".join(lines))) & UNSAFE_CODES


def test_jsonl_puts_a_gap_where_the_read_met_it_and_a_head_line_for_a_running_session() -> None:
    transcript = export.Transcript("wf", next_offset=12)
    transcript.add_gap(0, 10)
    transcript.records += [
        events.Record(10, events.TurnStarted(turn=2)),
        events.Record(11, events.TurnFinished(turn=2)),
    ]
    lines = [json.loads(line) for line in export.render_jsonl(transcript).splitlines()]
    assert lines == [
        {"gap": [0, 10]},
        {"offset": 10, **events.to_dict(events.TurnStarted(turn=2))},
        {"offset": 11, **events.to_dict(events.TurnFinished(turn=2))},
        {"head": "running", "next_offset": 12},
    ]
    assert "- **gap:** offsets 10\\.\\.9" not in export.render(transcript)
    assert "- **gap:** offsets 0\\.\\.9 were gone" in export.render(transcript)


def retried_session() -> list[events.Record]:
    items: list[events.Event] = [
        events.TurnStarted(turn=1, user_message="What is 2+2?", ts=100.0),
        events.StepStarted(turn=1, step_id="t1-llm", name="llm", ts=100.0),
        events.AttemptStarted(turn=1, message_id="m1"),
        events.TokenDelta(turn=1, message_id="m1", text="The ans"),
        events.ErrorEvent(turn=1, message="connection reset", retryable=True, message_id="m1", attempt=1),
        events.AttemptStarted(turn=1, message_id="m1", attempt=2, ts=101.0),
        events.TokenDelta(turn=1, message_id="m1", text="Let me add.", attempt=2, channel="reasoning", ts=101.25),
        events.TokenDelta(turn=1, message_id="m1", text="2+2 = 4", attempt=2, ts=101.5),
        events.MessageFinished(turn=1, message_id="m1", attempt=2, ts=101.75),
        events.StepFinished(turn=1, step_id="t1-llm", duration_ms=1990.0, ts=102.0),
        events.TurnFinished(turn=1, ts=102.0),
    ]
    return [events.Record(offset, item) for offset, item in enumerate(items)]


def test_canonical_shows_the_latest_attempt_and_counts_retries_raw_shows_the_superseded_one() -> None:
    transcript = export.build("wf", retried_session())
    canonical = export.render(transcript)
    assert "- **retries:** 1\n" in canonical
    assert "#### Message m1 (attempt 2, 1 superseded, first token after 0.25 s, took 0.75 s)" in canonical
    assert "*Answer:*\n\n```text\n2+2 = 4\n```" in canonical
    assert "*Reasoning:*\n\n```text\nLet me add.\n```" in canonical
    assert "The ans" not in canonical
    assert "| llm | main | completed | \\+0\\.00 s | 1\\.99 s |" in canonical
    assert "**Error** @4 m1\\#1 (a retry follows):" in canonical
    raw = export.render(transcript, raw=True)
    assert "*Attempt 1 (superseded) answer:*\n\n```text\nThe ans\n```" in raw
    assert re.findall(r"^@(\d+) ", raw, re.M) == [str(n) for n in range(11)]


@pytest.mark.parametrize("name", ["pydantic_ai_two_turns", "openai_agents_handoff", "pydantic_ai_retry"])
def test_a_framework_session_exports_its_canonical_text(name: str) -> None:
    records = []
    for line in (RECORDINGS / f"{name}.jsonl").read_text().splitlines():
        row = json.loads(line)
        records.append(events.Record(row["offset"], events.UnknownItem(topic=row["topic"], data=row["data"])))
    view = reduce(records)
    document = export.render(export.build(name, records))
    answers = re.findall(r"^\*Answer:\*\n\n(`{3,})text\n(.*?)\n\1$", document, re.M | re.S)
    assert "\n\n".join(a for _, a in answers if a) == "\n\n".join(lane.text for lane in view.lanes if lane.text)
    assert document.count("**Tool** ") == len(view.tool_calls) > 0
    jsonl = [json.loads(line) for line in export.render_jsonl(export.build(name, records)).splitlines()]
    assert [line["offset"] for line in jsonl[:-1]] == [r.offset for r in records]
    assert any(line.get("derived") for line in jsonl) and all(
        line.get("schema") for line in jsonl[:-1] if line.get("derived")
    )
