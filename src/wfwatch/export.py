"""A session's transcript as a file: Markdown, HTML or JSON Lines.

Pure functions over what a reader read (records in offset order, the gaps,
how the stream ended): no Temporal, no Textual. ``wfwatch export`` reads the
stream the way ``wfwatch tail`` does and hands the result here.

The transcript is built on the one reducer (:class:`wfwatch.reducer.Reducer`),
so its text is the session's canonical text: for every lane, its messages'
latest attempts, in the lane's order. ``raw`` adds what the canonical view
leaves out: superseded attempts (marked) and every record on a line of its own.

Everything a workflow writes is untrusted. In Markdown, model text sits in a
code fence longer than any run of backticks inside it, and names in headings
and tables have every ASCII punctuation character backslash-escaped, so text
cannot close a fence, start a heading or add a table cell. In HTML every
string goes through :func:`html.escape`. In both, escape sequences, control
and invisible or bidi characters show as visible placeholders
(:func:`wfwatch.text.sanitize`; in HTML marked with ``<span class="ctl">``).
JSON Lines are ``wfwatch tail --jsonl``'s lines, exact strings included.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from wfwatch import events
from wfwatch.reducer import MessageView, Reducer, SessionView
from wfwatch.text import INVISIBLE_RANGES, one_line, sanitize

Format = Literal["markdown", "jsonl", "html"]
FORMATS: Final[tuple[Format, ...]] = ("markdown", "jsonl", "html")

# --- JSON Lines: the machine format, shared with `wfwatch tail --jsonl` -------


def _json_escape(code: int) -> str:
    """``\\uXXXX`` (a surrogate pair above U+FFFF): what ``ensure_ascii`` would write."""
    if code < 0x10000:
        return f"\\u{code:04x}"
    high, low = divmod(code - 0x10000, 0x400)
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"


#: JSON leaves DEL, C1 controls (U+0080..U+009F) and the invisible and bidi
#: characters (U+202E, U+200B, ...: :data:`wfwatch.text.INVISIBLE_RANGES`) raw
#: with ensure_ascii=False; terminals act on them or reorder text around them,
#: so they are written as \u escapes (still valid JSON, the same string).
C1_ESCAPED: Final = {
    code: _json_escape(code) for first, last in ((0x7F, 0x9F), *INVISIBLE_RANGES) for code in range(first, last + 1)
}


def dumps_line(obj: dict[str, Any]) -> str:
    """One JSON object on one line, with nothing a terminal acts on (docs/events.md, ``--jsonl``)."""
    return json.dumps(obj, ensure_ascii=False).translate(C1_ESCAPED) + "\n"


def json_line(record: events.Record) -> str:
    """One record as ``tail --jsonl`` prints it."""
    return dumps_line(record_json(record))


def record_json(record: events.Record) -> dict[str, Any]:
    """A record's JSON object: ``offset`` first, then the event's fields (or unknown/invalid)."""
    item = record.item
    if isinstance(item, events.UnknownItem):
        fields: dict[str, Any] = {
            "offset": record.offset,
            "kind": "unknown",
            "topic": item.topic,
            "data": item.value(),
            "reason": item.reason,
        }
        if record.schema:
            fields["schema"] = record.schema
        if record.derived:
            fields["derived"] = [events.to_dict(event) for event in record.derived]
        return fields
    if isinstance(item, events.InvalidItem):
        return {"offset": record.offset, "kind": "invalid", "topic": item.topic, "reason": item.reason}
    return {"offset": record.offset, **events.to_dict(item)}


def gap_json(start: int, end: int) -> dict[str, Any]:
    return {"gap": [start, end]}


def end_json(status: str, next_offset: int) -> dict[str, Any]:
    return {"end": status, "next_offset": next_offset}


def head_json(next_offset: int) -> dict[str, Any]:
    """``--no-follow`` stopped at the head of a running workflow."""
    return {"head": "running", "next_offset": next_offset}


# --- what was read ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gap:
    """Offsets ``start`` to ``end - 1`` were gone when the stream was read."""

    start: int
    end: int


@dataclass(slots=True)
class Transcript:
    """A session as read: its records in offset order, its gaps, how the read stopped.

    ``end`` is the workflow's closing status (``None``: it was still running
    and the read stopped at ``next_offset``, the head).
    """

    workflow_id: str
    records: list[events.Record] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    end: str | None = None
    next_offset: int = 0
    #: ``(records before it, gap)``: JSON Lines puts a gap line where the read met it.
    _marks: list[tuple[int, Gap]] = field(default_factory=list)

    def add_gap(self, start: int, end: int) -> None:
        gap = Gap(start, end)
        self.gaps.append(gap)
        self._marks.append((len(self.records), gap))


def build(workflow_id: str, records: Iterable[events.Record]) -> Transcript:
    """A :class:`Transcript` of records read without gaps (tests and callers with a list at hand)."""
    transcript = Transcript(workflow_id)
    transcript.records.extend(records)
    transcript.next_offset = transcript.records[-1].offset + 1 if transcript.records else 0
    return transcript


def render(transcript: Transcript, fmt: Format = "markdown", *, raw: bool = False, schema: str | None = None) -> str:
    """The transcript in ``fmt``; ``raw`` adds superseded attempts and every record (not for jsonl)."""
    if fmt == "jsonl":
        return render_jsonl(transcript, schema=schema)
    model = _Model.of(transcript, schema)
    return _markdown(model, raw) if fmt == "markdown" else _html(model, raw)


def render_jsonl(transcript: Transcript, *, schema: str | None = None) -> str:
    """Every record as ``tail --jsonl`` prints it, gaps where they were, then the end (or head) line."""
    reducer = Reducer(schema)
    out: list[str] = []
    marks = iter(transcript._marks)
    mark = next(marks, None)
    for index, record in enumerate(transcript.records):
        while mark is not None and mark[0] == index:
            out.append(dumps_line(gap_json(mark[1].start, mark[1].end)))
            mark = next(marks, None)
        out.append(json_line(reducer.apply(record)))
    while mark is not None:
        out.append(dumps_line(gap_json(mark[1].start, mark[1].end)))
        mark = next(marks, None)
    if transcript.end is not None:
        out.append(dumps_line(end_json(transcript.end, transcript.next_offset)))
    else:
        out.append(dumps_line(head_json(transcript.next_offset)))
    return "".join(out)


# --- the model both document formats render ----------------------------------


@dataclass(slots=True)
class _Tool:
    offset: int
    call_id: str
    lane: str
    turn: int
    name: str
    arguments: str
    started_ts: float
    result: str | None = None
    ok: bool | None = None
    finished_ts: float | None = None

    @property
    def duration_ms(self) -> float | None:
        if self.finished_ts is None or not self.started_ts or not self.finished_ts:
            return None
        return max(0.0, (self.finished_ts - self.started_ts) * 1000)


@dataclass(frozen=True, slots=True)
class _Error:
    offset: int
    lane: str
    turn: int
    message: str
    retryable: bool
    where: str


@dataclass(slots=True)
class _Model:
    """The reducer's view plus what a transcript shows that the view does not keep."""

    transcript: Transcript
    view: SessionView
    applied: list[events.Record]
    #: (message_id, attempt, channel) -> text, every attempt (raw shows the superseded ones).
    attempt_text: dict[tuple[str, int, str], list[str]]
    first_offset: dict[str, int]
    #: (message_id, attempt) -> [started, first token, finished] publisher times (0: not seen).
    attempt_times: dict[tuple[str, int], list[float]]
    tools: list[_Tool]
    errors: list[_Error]
    first_ts: float

    @classmethod
    def of(cls, transcript: Transcript, schema: str | None) -> _Model:
        reducer = Reducer(schema)
        applied = reducer.feed(transcript.records)
        texts: dict[tuple[str, int, str], list[str]] = {}
        first: dict[str, int] = {}
        times: dict[tuple[str, int], list[float]] = {}
        tools: dict[str, _Tool] = {}
        errors: list[_Error] = []
        first_ts = 0.0
        for record in applied:
            for event in record.derived or (record.item,):
                ts = getattr(event, "ts", 0.0)
                if ts and not first_ts:
                    first_ts = ts
                if isinstance(event, events.TokenDelta):
                    texts.setdefault((event.message_id, event.attempt, event.channel), []).append(event.text)
                    first.setdefault(event.message_id, record.offset)
                    at = times.setdefault((event.message_id, event.attempt), [0.0, 0.0, 0.0])
                    at[1] = at[1] or event.ts
                elif isinstance(event, events.AttemptStarted | events.MessageFinished):
                    first.setdefault(event.message_id, record.offset)
                    at = times.setdefault((event.message_id, event.attempt), [0.0, 0.0, 0.0])
                    at[0 if isinstance(event, events.AttemptStarted) else 2] = event.ts
                elif isinstance(event, events.ToolCall):
                    tools[event.call_id] = _Tool(
                        record.offset, event.call_id, event.lane, event.turn, event.name, event.arguments, event.ts
                    )
                elif isinstance(event, events.ToolResult):
                    tool = tools.get(event.call_id)
                    if tool is None:
                        tool = tools[event.call_id] = _Tool(
                            record.offset, event.call_id, event.lane, event.turn, "?", "", 0.0
                        )
                    tool.result, tool.ok, tool.finished_ts = event.result, event.ok, event.ts
                elif isinstance(event, events.ErrorEvent):
                    where = f"{event.message_id}#{event.attempt}" if event.message_id else ""
                    errors.append(_Error(record.offset, event.lane, event.turn, event.message, event.retryable, where))
        return cls(transcript, reducer.view(), applied, texts, first, times, list(tools.values()), errors, first_ts)

    def retries(self) -> int:
        return sum(len(m.superseded_attempts) for lane in self.view.lanes for m in lane.messages)

    def turn_numbers(self) -> list[int]:
        """Every turn something happened in, in order (turn 0: before the first turn)."""
        numbers = {t.turn for t in self.view.turns}
        numbers.update(m.turn for lane in self.view.lanes for m in lane.messages)
        numbers.update(s.turn for s in self.view.steps)
        numbers.update(t.turn for t in self.tools)
        numbers.update(e.turn for e in self.errors)
        return sorted(numbers)

    def entries(self, turn: int, lane: str) -> list[MessageView | _Tool | _Error]:
        """A lane's messages, tool calls and errors of one turn, in the order they first appeared.

        Messages keep the lane's own order (the canonical text's), tools and
        errors go between them by offset.
        """
        lane_view = self.view.lane(lane)
        messages = [m for m in lane_view.messages if m.turn == turn] if lane_view else []
        others: list[_Tool | _Error] = [t for t in self.tools if t.turn == turn and t.lane == lane]
        others += [e for e in self.errors if e.turn == turn and e.lane == lane]
        others.sort(key=lambda o: o.offset)
        out: list[MessageView | _Tool | _Error] = []
        for message in messages:
            at = self.first_offset.get(message.message_id, 0)
            while others and others[0].offset < at:
                out.append(others.pop(0))
            out.append(message)
        return out + others

    def superseded(self, message: MessageView) -> list[tuple[int, str, str]]:
        """``(attempt, reasoning, answer)`` of each superseded attempt."""
        return [
            (
                attempt,
                "".join(self.attempt_text.get((message.message_id, attempt, "reasoning"), [])),
                "".join(self.attempt_text.get((message.message_id, attempt, "answer"), [])),
            )
            for attempt in message.superseded_attempts
        ]

    def timing(self, message: MessageView) -> str:
        """``, first token after 0.31 s, 2.40 s`` of the shown attempt ("" when its events carry no times)."""
        started, first_token, finished = self.attempt_times.get((message.message_id, message.attempt), (0.0,) * 3)
        parts = []
        if started and first_token:
            parts.append(f"first token after {max(0.0, first_token - started):.2f} s")
        if started and finished:
            parts.append(f"took {max(0.0, finished - started):.2f} s")
        return "".join(f", {part}" for part in parts)

    def when(self, ts: float) -> str:
        """``+1.25 s`` after the first event (times are the publisher's, informational)."""
        if not ts or not self.first_ts:
            return ""
        return f"+{ts - self.first_ts:.2f} s"


def _ms(value: float | None) -> str:
    if value is None:
        return "not measured"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _utc(ts: float) -> str:
    if not ts:
        return "unknown"
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return "unknown"


class _Untrusted(str):
    """A fact a workflow wrote (ids, topic names); the others are wfwatch's own words and numbers."""

    __slots__ = ()


def _facts(model: _Model) -> list[tuple[str, str]]:
    view, transcript = model.view, model.transcript
    state = f"closed: {transcript.end}" if transcript.end else "running (read up to the head)"
    facts = [
        ("workflow", _Untrusted(transcript.workflow_id)),
        *([("session", _Untrusted(view.session_id))] if view.session_id else []),
        ("status", f"{view.status} (workflow {state})"),
        ("started", _utc(model.first_ts)),
        ("offsets", f"{view.first_offset if view.first_offset is not None else 0}..{transcript.next_offset - 1}"),
        ("records", str(view.record_count)),
        ("turns", str(len(view.turns))),
        ("lanes", str(len(view.lanes))),
        ("tokens", str(view.token_count)),
        ("retries", str(model.retries())),
        ("tool calls", str(len(model.tools))),
        ("errors", str(len(model.errors))),
    ]
    if view.schemas:
        facts.append(("schemas", _Untrusted(", ".join(f"{topic}: {schema}" for topic, schema in view.schemas))))
    for gap in transcript.gaps:
        facts.append(("gap", f"offsets {gap.start}..{gap.end - 1} were gone"))
    if view.odd_items:
        facts.append(("odd items", str(len(view.odd_items))))
    return facts


def _record_lines(model: _Model) -> list[str]:
    """Every record on one line, as ``tail --raw`` prints it; framework items with their events below."""
    lines = []
    for record in model.applied:
        lines.append(f"@{record.offset} {one_line(events.summarize(record.item))}")
        lines.extend(f"  -> {one_line(events.summarize(event))}" for event in record.derived)
    return lines


# --- Markdown ---------------------------------------------------------------

_MD_PUNCTUATION: Final = re.compile(r"([!-/:-@\[-`{-~])")


def md_inline(text: str) -> str:
    """Untrusted text for one line of Markdown (a heading, a list item, a table cell): literal.

    Every ASCII punctuation character is backslash-escaped (CommonMark renders
    ``\\X`` as ``X``), so no ``#``, ``|``, ``*``, ``<``, ``[`` or backtick can
    mean anything; newlines and controls show as placeholders (:func:`one_line`),
    and whitespace at the edges is kept (as ``&#x20;``).
    """
    escaped = _MD_PUNCTUATION.sub(r"\\\1", one_line(text))
    # Markdown strips a heading's or cell's edge whitespace: as character references it stays.
    stripped = escaped.strip()
    if stripped == escaped:
        return escaped
    lead = escaped[: len(escaped) - len(escaped.lstrip())]
    trail = escaped[len(escaped.rstrip()) :] if stripped else ""
    return _char_refs(lead) + stripped + _char_refs(trail)


def _char_refs(text: str) -> str:
    return "".join(f"&#x{ord(char):X};" for char in text)


def md_fence(text: str, info: str = "text") -> str:
    """A fenced code block around untrusted text: the fence is longer than any backtick run inside."""
    body = sanitize(text)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}\n"


def _markdown(model: _Model, raw: bool) -> str:
    view = model.view
    out: list[str] = [f"# {md_inline(view.title or model.transcript.workflow_id)}\n\n"]
    out += [
        f"- **{name}:** {md_inline(value) if isinstance(value, _Untrusted) else value}\n"
        for name, value in _facts(model)
    ]
    out.append("\n")
    turns = {t.turn: t for t in view.turns}
    for number in model.turn_numbers():
        turn = turns.get(number)
        status = f" ({md_inline(turn.status)})" if turn else ""
        out.append(f"## Turn {number}{status}\n\n" if number else "## Before the first turn\n\n")
        if turn is not None:
            if turn.reason:
                out.append(f"Reason: {md_inline(turn.reason)}\n\n")
            if turn.user_message:
                out.append("**User:**\n\n" + md_fence(turn.user_message) + "\n")
        steps = [s for s in view.steps if s.turn == number]
        if steps:
            out.append("| step | lane | status | started | duration |\n|---|---|---|---|---|\n")
            for step in steps:
                reason = f": {step.reason}" if step.reason else ""
                out.append(
                    f"| {md_inline(step.name)} | {md_inline(step.lane)} | {md_inline(step.status + reason)} "
                    f"| {model.when(step.started_ts)} | {_ms(step.duration_ms)} |\n"
                )
            out.append("\n")
        for lane in view.lanes:
            entries = model.entries(number, lane.name)
            if not entries:
                continue
            out.append(f"### Lane {md_inline(lane.name)} ({md_inline(lane.status)})\n\n")
            for entry in entries:
                out.append(_md_entry(model, entry, raw))
    if view.odd_items:
        out.append("## Odd items\n\n")
        out += [f"- @{odd.offset} {md_inline(odd.kind)}: {md_inline(odd.detail)}\n" for odd in view.odd_items]
        out.append("\n")
    if raw:
        out.append("## Records\n\n" + md_fence("\n".join(_record_lines(model))))
    return "".join(out)


def _md_entry(model: _Model, entry: MessageView | _Tool | _Error, raw: bool) -> str:
    if isinstance(entry, _Error):
        retry = " (a retry follows)" if entry.retryable else ""
        where = f" {md_inline(entry.where)}" if entry.where else ""
        return f"**Error** @{entry.offset}{where}{retry}:\n\n" + md_fence(entry.message) + "\n"
    if isinstance(entry, _Tool):
        state = "running" if entry.ok is None else ("ok" if entry.ok else "failed")
        parts = [
            f"**Tool** {md_inline(entry.name)} (call {md_inline(entry.call_id)}, {state}, "
            f"{_ms(entry.duration_ms) if entry.ok is not None else 'no result yet'}):\n\n",
            "Arguments:\n\n" + md_fence(entry.arguments) + "\n",
        ]
        if entry.result is not None:
            parts.append("Result:\n\n" + md_fence(entry.result) + "\n")
        return "".join(parts)
    retries = len(entry.superseded_attempts)
    note = f", {retries} superseded" if retries else ""
    done = "" if entry.finished else ", unfinished"
    timing = model.timing(entry)  # our own words and numbers
    parts = [f"#### Message {md_inline(entry.message_id)} (attempt {entry.attempt}{note}{done}{timing})\n\n"]
    if raw:
        for attempt, reasoning, answer in model.superseded(entry):
            parts.append(f"*Attempt {attempt} (superseded) reasoning:*\n\n" + md_fence(reasoning) + "\n")
            parts.append(f"*Attempt {attempt} (superseded) answer:*\n\n" + md_fence(answer) + "\n")
    if entry.reasoning:
        parts.append("*Reasoning:*\n\n" + md_fence(entry.reasoning) + "\n")
    if entry.answer:
        parts.append("*Answer:*\n\n" + md_fence(entry.answer) + "\n")
    elif not entry.reasoning:
        parts.append("*No text.*\n\n")
    return "".join(parts)


# --- HTML -------------------------------------------------------------------

_UNSAFE: Final = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f" + "".join(rf"\U{a:08x}-\U{b:08x}" for a, b in INVISIBLE_RANGES) + "]"
)


def _placeholder(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def html_text(text: str) -> str:
    """Untrusted text as HTML: escaped, each control or invisible character a marked placeholder.

    ``\\u202e`` shows as ``<span class="ctl" title="U+202E">\\u202e</span>``,
    never as the override itself; an escape sequence's ESC the same way, the
    rest of it as plain text. (A ``<pre>`` drops the newline right after its
    tag, so every ``<pre>`` here starts with one of its own.)
    """
    out: list[str] = []
    at = 0
    for match in _UNSAFE.finditer(text):
        out.append(html.escape(text[at : match.start()]))
        char = match.group()
        out.append(f'<span class="ctl" title="U+{ord(char):04X}">{html.escape(_placeholder(char))}</span>')
        at = match.end()
    out.append(html.escape(text[at:]))
    return "".join(out)


def _html_inline(text: str) -> str:
    """One-line places (headings, cells): newlines and tabs shown as ``\\n`` / ``\\t``."""
    return html_text(text).replace("\n", "\\n").replace("\t", "\\t")


_CSS: Final = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
pre { background: #f6f6f6; padding: .6rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.ctl { background: #fdd; color: #900; border-radius: 2px; }
.superseded { opacity: .6; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .2rem .5rem; text-align: left; }
"""


def _html(model: _Model, raw: bool) -> str:
    view = model.view
    title = _html_inline(view.title or model.transcript.workflow_id)
    out: list[str] = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        # Nothing in the page may load or run anything, whatever a string in it says.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n<dl>\n",
    ]
    out += [f"<dt>{html.escape(name)}</dt><dd>{_html_inline(value)}</dd>\n" for name, value in _facts(model)]
    out.append("</dl>\n")
    turns = {t.turn: t for t in view.turns}
    for number in model.turn_numbers():
        turn = turns.get(number)
        status = f" ({_html_inline(turn.status)})" if turn else ""
        out.append(f"<h2>Turn {number}{status}</h2>\n" if number else "<h2>Before the first turn</h2>\n")
        if turn is not None:
            if turn.reason:
                out.append(f"<p>Reason: {_html_inline(turn.reason)}</p>\n")
            if turn.user_message:
                out.append(f'<p><strong>User:</strong></p>\n<pre class="user">\n{html_text(turn.user_message)}</pre>\n')
        steps = [s for s in view.steps if s.turn == number]
        if steps:
            out.append("<table>\n<tr><th>step</th><th>lane</th><th>status</th><th>started</th><th>duration</th></tr>\n")
            for step in steps:
                reason = f": {step.reason}" if step.reason else ""
                cells = (step.name, step.lane, step.status + reason, model.when(step.started_ts), _ms(step.duration_ms))
                out.append("<tr>" + "".join(f"<td>{_html_inline(c)}</td>" for c in cells) + "</tr>\n")
            out.append("</table>\n")
        for lane in view.lanes:
            entries = model.entries(number, lane.name)
            if not entries:
                continue
            out.append(
                f'<section class="lane">\n<h3>Lane {_html_inline(lane.name)} ({_html_inline(lane.status)})</h3>\n'
            )
            for entry in entries:
                out.append(_html_entry(model, entry, raw))
            out.append("</section>\n")
    if view.odd_items:
        out.append("<h2>Odd items</h2>\n<ul>\n")
        out += [f"<li>@{o.offset} {_html_inline(o.kind)}: {_html_inline(o.detail)}</li>\n" for o in view.odd_items]
        out.append("</ul>\n")
    if raw:
        out.append(
            '<h2>Records</h2>\n<pre class="records">\n' + html_text("\n".join(_record_lines(model))) + "</pre>\n"
        )
    out.append("</body>\n</html>\n")
    return "".join(out)


def _html_entry(model: _Model, entry: MessageView | _Tool | _Error, raw: bool) -> str:
    if isinstance(entry, _Error):
        retry = " (a retry follows)" if entry.retryable else ""
        where = f" {_html_inline(entry.where)}" if entry.where else ""
        return f'<p><strong>Error</strong> @{entry.offset}{where}{retry}:</p>\n<pre class="error">\n{html_text(entry.message)}</pre>\n'
    if isinstance(entry, _Tool):
        state = "running" if entry.ok is None else ("ok" if entry.ok else "failed")
        took = _ms(entry.duration_ms) if entry.ok is not None else "no result yet"
        parts = [
            f'<div class="tool"><p><strong>Tool</strong> {_html_inline(entry.name)} '
            f"(call {_html_inline(entry.call_id)}, {state}, {_html_inline(took)})</p>\n",
            f'<p>Arguments:</p>\n<pre class="arguments">\n{html_text(entry.arguments)}</pre>\n',
        ]
        if entry.result is not None:
            parts.append(f'<p>Result:</p>\n<pre class="result">\n{html_text(entry.result)}</pre>\n')
        return "".join(parts) + "</div>\n"
    retries = len(entry.superseded_attempts)
    note = f", {retries} superseded" if retries else ""
    done = "" if entry.finished else ", unfinished"
    parts = [
        f'<article class="message">\n<h4>Message {_html_inline(entry.message_id)} '
        f"(attempt {entry.attempt}{note}{done}{_html_inline(model.timing(entry))})</h4>\n"
    ]
    if raw:
        for attempt, reasoning, answer in model.superseded(entry):
            parts.append(
                f'<div class="superseded"><p><em>Attempt {attempt} (superseded)</em></p>\n'
                f'<pre class="reasoning">\n{html_text(reasoning)}</pre>\n<pre class="answer">\n{html_text(answer)}</pre></div>\n'
            )
    if entry.reasoning:
        parts.append(f'<p><em>Reasoning:</em></p>\n<pre class="reasoning">\n{html_text(entry.reasoning)}</pre>\n')
    if entry.answer:
        parts.append(f'<p><em>Answer:</em></p>\n<pre class="answer">\n{html_text(entry.answer)}</pre>\n')
    elif not entry.reasoning:
        parts.append("<p><em>No text.</em></p>\n")
    parts.append("</article>\n")
    return "".join(parts)
