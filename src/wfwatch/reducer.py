"""The one reducer: a sequence of records becomes a session view.

Every device (a dashboard pane, a browser tab, ``wfwatch tail``, a script)
folds the records it received through :class:`Reducer`, so two devices that
saw the same offsets render the same thing. The reducer is deterministic and
does no I/O; feeding records in one call or split across many calls gives
the same view (a hypothesis test holds it to that).

It is incremental rather than copy-on-write because token streams are long:
text is kept as chunk lists and joined only when a view is taken.

Retries stay canonical: each message has a workflow-assigned id that is the
same across attempts. The canonical view shows only the highest attempt of a
message; the superseded attempts remain available (marked) for a raw view.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from wfwatch.events import (
    MAIN_LANE,
    AttemptStarted,
    Decoded,
    ErrorEvent,
    InvalidItem,
    MessageFinished,
    Record,
    SessionFinished,
    SessionStarted,
    StepFinished,
    StepStarted,
    SubagentFinished,
    SubagentSpawned,
    TokenDelta,
    ToolCall,
    ToolResult,
    TurnFinished,
    TurnStarted,
    UnknownItem,
)
from wfwatch.schemas import Translator

# --- the view: plain frozen data a renderer can trust -----------------------


@dataclass(frozen=True, slots=True)
class MessageView:
    """One model message as shown canonically: its latest attempt only."""

    message_id: str
    lane: str
    turn: int
    attempt: int
    answer: str
    reasoning: str
    finished: bool
    superseded_attempts: tuple[int, ...] = ()
    #: Publisher clock (Unix seconds) of the attempt's first record; 0 when the stream carries no times.
    started_ts: float = 0.0
    #: Tokens of this attempt, and the publisher times of its first and last one (0 when unknown).
    tokens: int = 0
    first_token_ts: float = 0.0
    last_token_ts: float = 0.0


@dataclass(frozen=True, slots=True)
class StepView:
    step_id: str
    lane: str
    turn: int
    name: str
    status: str
    started_offset: int
    started_ts: float
    duration_ms: float | None = None
    reason: str = ""
    #: Tokens the step's messages streamed (every attempt), with the first and last one's publisher time.
    tokens: int = 0
    first_token_ts: float = 0.0
    last_token_ts: float = 0.0

    @property
    def ttft_ms(self) -> float | None:
        """Time to first token: the first token's time minus the step's start (None without times)."""
        if self.started_ts > 0 and self.first_token_ts > 0:
            return max(0.0, (self.first_token_ts - self.started_ts) * 1000)
        return None

    @property
    def tokens_per_second(self) -> float | None:
        return rate(self.tokens, self.first_token_ts, self.last_token_ts)


@dataclass(frozen=True, slots=True)
class ToolCallView:
    """A tool call and its result, placed in its lane: ``after`` messages of the lane came before it."""

    call_id: str
    lane: str
    turn: int
    name: str
    arguments: str
    result: str | None = None
    ok: bool | None = None
    #: Offset of the call (of the result, when the device joined after the call).
    offset: int = 0
    after: int = 0
    ts: float = 0.0
    result_ts: float = 0.0

    @property
    def duration_ms(self) -> float | None:
        """Call to result by the publisher's clock; None while running or without times."""
        if self.ts > 0 and self.result_ts > 0:
            return max(0.0, (self.result_ts - self.ts) * 1000)
        return None


def rate(tokens: int, first_ts: float, last_ts: float) -> float | None:
    """Tokens per second by the publisher's clock: what the model produced at, not what arrived when."""
    if tokens < 2 or first_ts <= 0 or last_ts <= first_ts:
        return None
    return (tokens - 1) / (last_ts - first_ts)


@dataclass(frozen=True, slots=True)
class GapView:
    """Offsets ``start`` .. ``end - 1`` never reached this device (the stream no longer has them).

    ``after`` is how many of the lane's messages came before the gap, so a
    renderer can mark the hole where it is, between the text before and after.
    """

    start: int
    end: int
    after: int


@dataclass(frozen=True, slots=True)
class LaneView:
    """A lane is one agent's column: the session's own, or a sub-agent's."""

    name: str
    index: int
    status: str
    messages: tuple[MessageView, ...]
    workflow_id: str = ""
    reason: str = ""
    #: Records folded into this lane's messages: what "+N new records" counts.
    records: int = 0
    gaps: tuple[GapView, ...] = ()
    tools: tuple[ToolCallView, ...] = ()
    #: Tokens streamed into this lane (every attempt), first and last publisher time.
    tokens: int = 0
    first_token_ts: float = 0.0
    last_token_ts: float = 0.0

    @property
    def tokens_per_second(self) -> float | None:
        return rate(self.tokens, self.first_token_ts, self.last_token_ts)

    @property
    def text(self) -> str:
        """The lane's canonical answer text, messages separated by blank lines."""
        return "\n\n".join(m.answer for m in self.messages if m.answer)


@dataclass(frozen=True, slots=True)
class TurnView:
    turn: int
    user_message: str
    status: str
    start_offset: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OddItem:
    """An item the reducer could not interpret, kept with its offset."""

    offset: int
    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class SessionView:
    """Everything a device shows about a session, derived from records."""

    session_id: str
    title: str
    status: str
    first_offset: int | None
    next_offset: int
    record_count: int
    token_count: int
    turns: tuple[TurnView, ...]
    lanes: tuple[LaneView, ...]
    steps: tuple[StepView, ...]
    tool_calls: tuple[ToolCallView, ...]
    errors: tuple[str, ...]
    odd_items: tuple[OddItem, ...]
    #: ``(topic, schema)`` of each topic written in another framework's schema (``wfwatch.schemas``).
    schemas: tuple[tuple[str, str], ...] = ()
    #: Superseded attempts: LLM calls that were retried.
    retries: int = 0
    #: Publisher time of the first record that carried one (0: none did), what relative times count from.
    first_ts: float = 0.0
    #: Model tokens/s over the newest tokens that carry times (None when they carry none).
    token_rate: float | None = None

    def lane(self, name: str) -> LaneView | None:
        return next((lane for lane in self.lanes if lane.name == name), None)

    @property
    def text(self) -> str:
        """Canonical answer text of the main lane (what "the answer" means)."""
        main = self.lane(MAIN_LANE)
        return main.text if main else ""

    def canonical_text(self) -> str:
        """All lanes' canonical text, lane by lane in lane order.

        Two devices that saw the same records produce byte-identical output,
        which is what the tests compare across devices.
        """
        return "\n".join(f"[{lane.name}]\n{lane.text}" for lane in self.lanes)


# --- mutable accumulators, private to the reducer ----------------------------


@dataclass(slots=True)
class _Attempt:
    answer: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    finished: bool = False
    started_ts: float = 0.0
    tokens: int = 0
    first_token_ts: float = 0.0
    last_token_ts: float = 0.0


@dataclass(slots=True)
class _Message:
    message_id: str
    lane: str
    turn: int
    attempts: dict[int, _Attempt] = field(default_factory=dict)
    #: The last view built; a device asks for the view every flush, and most
    #: messages of a long session have stopped changing.
    shown: MessageView | None = None

    def view(self) -> MessageView:
        if self.shown is not None:
            return self.shown
        latest = max(self.attempts)
        current = self.attempts[latest]
        self.shown = MessageView(
            message_id=self.message_id,
            lane=self.lane,
            turn=self.turn,
            attempt=latest,
            answer="".join(current.answer),
            reasoning="".join(current.reasoning),
            finished=current.finished,
            superseded_attempts=tuple(sorted(a for a in self.attempts if a != latest)),
            started_ts=current.started_ts,
            tokens=current.tokens,
            first_token_ts=current.first_token_ts,
            last_token_ts=current.last_token_ts,
        )
        return self.shown


@dataclass(slots=True)
class _Lane:
    name: str
    index: int
    first_seen: int
    status: str = "running"
    workflow_id: str = ""
    reason: str = ""
    message_ids: list[str] = field(default_factory=list)
    records: int = 0
    gaps: list[GapView] = field(default_factory=list)
    tool_ids: list[str] = field(default_factory=list)
    tokens: _Tokens = field(default_factory=lambda: _Tokens())
    #: The step this lane's tokens count towards when their message names none.
    running_step: str = ""


@dataclass(slots=True)
class _Tokens:
    """A token count with the publisher times of the first and last token that had one."""

    count: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0

    def add(self, ts: float) -> None:
        self.count += 1
        if ts > 0:
            if not self.first_ts:
                self.first_ts = ts
            self.last_ts = max(self.last_ts, ts)


#: Tokens the session's rate is measured over (the newest ones that carry a time).
RATE_WINDOW = 200


class Reducer:
    """Folds records into a :class:`SessionView`.

    Records must arrive in offset order; a record at or below an offset
    already applied is ignored, so re-delivered records (a resumed device,
    an at-least-once transport) never double text.
    """

    def __init__(self, schema: str | None = None, *, turns_before: int = 0) -> None:
        """``schema`` forces a framework schema (``wfwatch.schemas``); ``turns_before`` numbers a
        framework's turns for a device that joined at the first offset of turn ``turns_before + 1``."""
        self._translator = Translator(schema, turns_before=turns_before)
        self._session_id = ""
        self._title = ""
        self._status = "running"
        self._first_offset: int | None = None
        self._next_offset = 0
        self._records = 0
        self._tokens = 0
        self._turns: dict[int, TurnView] = {}
        self._lanes: dict[str, _Lane] = {}
        self._messages: dict[str, _Message] = {}
        self._steps: dict[str, StepView] = {}
        self._tools: dict[str, ToolCallView] = {}
        self._errors: list[str] = []
        self._odd: list[OddItem] = []
        #: A gap before any record still moves the device on: older offsets are not applied.
        self._gapped = False
        self._retries = 0
        self._first_ts = 0.0
        self._step_of_message: dict[str, str] = {}
        self._step_tokens: dict[str, _Tokens] = {}
        self._token_times: deque[float] = deque(maxlen=RATE_WINDOW)

    @property
    def next_offset(self) -> int:
        """The offset after the last applied record (where to resume)."""
        return self._next_offset

    @property
    def token_count(self) -> int:
        return self._tokens

    @property
    def token_rate(self) -> float | None:
        """Model tokens/s over the newest timed tokens (what :attr:`SessionView.token_rate` says), without a view."""
        times = self._token_times
        return rate(len(times), min(times), max(times)) if times else None

    @property
    def turn_count(self) -> int:
        return len(self._turns)

    @property
    def retries(self) -> int:
        return self._retries

    @property
    def translator(self) -> Translator:
        """The fold of framework schemas this reducer applies (what it recognised, what it did not know)."""
        return self._translator

    def feed(self, records: Iterable[Record]) -> list[Record]:
        """Apply ``records``; returns them as applied (framework items with their derived events)."""
        return [self.apply(record) for record in records]

    def gap(self, start: int, end: int) -> None:
        """Offsets ``start`` .. ``end - 1`` are gone: mark the hole in every lane, move past it.

        A gap is part of the sequence a device received, so it is marked where
        it fell: after the messages each lane had then. Like records, a gap at
        or below what was already applied changes nothing.
        """
        if (self._first_offset is not None or self._gapped) and end <= self._next_offset:
            return
        start = max(start, self._next_offset) if (self._first_offset is not None or self._gapped) else start
        self._gapped = True
        self._next_offset = end
        for lane in self._lanes.values():
            lane.gaps.append(GapView(start, end, len(lane.message_ids)))
        self._translator.gap()

    def apply(self, record: Record) -> Record:
        """Apply one record; returns it as applied (see :meth:`feed`)."""
        if (self._first_offset is not None or self._gapped) and record.offset < self._next_offset:
            return record
        if self._first_offset is None:
            self._first_offset = record.offset
        self._next_offset = record.offset + 1
        self._records += 1
        if type(record.item) is UnknownItem:
            record, known = self._translator.translate(record)
            if known:
                for event in record.derived:
                    self._apply_item(event, record.offset)
                return record
        self._apply_item(record.item, record.offset)
        return record

    def _apply_item(self, item: Decoded, offset: int) -> None:
        ts = getattr(item, "ts", 0.0)
        if ts and not self._first_ts:
            self._first_ts = ts
        if isinstance(item, TokenDelta):
            self._tokens += 1
            message = self._message(item.message_id, item.lane, item.turn, offset)
            attempt = self._attempt(message, item.attempt, ts)
            (attempt.reasoning if item.channel == "reasoning" else attempt.answer).append(item.text)
            attempt.tokens += 1
            if ts > 0:
                if not attempt.first_token_ts:
                    attempt.first_token_ts = ts
                attempt.last_token_ts = max(attempt.last_token_ts, ts)
                self._token_times.append(ts)
            lane = self._lanes[message.lane]
            lane.tokens.add(ts)
            counted = self._step_of_message.get(item.message_id) or lane.running_step
            if counted:
                self._step_tokens.setdefault(counted, _Tokens()).add(ts)
        elif isinstance(item, AttemptStarted):
            self._attempt(self._message(item.message_id, item.lane, item.turn, offset), item.attempt, ts)
            if item.step_id:
                self._step_of_message[item.message_id] = item.step_id
        elif isinstance(item, MessageFinished):
            message = self._message(item.message_id, item.lane, item.turn, offset)
            self._attempt(message, item.attempt, ts).finished = True
        elif isinstance(item, StepStarted):
            self._lane(item.lane, offset)
            self._steps[item.step_id] = StepView(
                step_id=item.step_id,
                lane=item.lane,
                turn=item.turn,
                name=item.name,
                status="running",
                started_offset=offset,
                started_ts=item.ts,
            )
            self._lane(item.lane, offset).running_step = item.step_id
        elif isinstance(item, StepFinished):
            lane = self._lane(item.lane, offset)
            if lane.running_step == item.step_id:
                lane.running_step = ""
            step = self._steps.get(item.step_id)
            if step is None:  # joined after the start: name it from its id ("t3-plan" → "plan")
                name = item.step_id.split("-", 1)[1] if item.step_id.startswith(f"t{item.turn}-") else item.step_id
                step = StepView(item.step_id, item.lane, item.turn, name, "running", offset, item.ts)
            self._steps[item.step_id] = StepView(
                step_id=step.step_id,
                lane=step.lane,
                turn=step.turn,
                name=step.name,
                status=item.status,
                started_offset=step.started_offset,
                started_ts=step.started_ts,
                duration_ms=item.duration_ms,
                reason=item.reason,
            )
        elif isinstance(item, ToolCall):
            lane = self._lane(item.lane, offset)
            if item.call_id not in self._tools:
                lane.tool_ids.append(item.call_id)
            self._tools[item.call_id] = ToolCallView(
                item.call_id,
                item.lane,
                item.turn,
                item.name,
                item.arguments,
                offset=offset,
                after=len(lane.message_ids),
                ts=item.ts,
            )
        elif isinstance(item, ToolResult):
            call = self._tools.get(item.call_id)
            if call is None:  # joined after the call: the result stands where it arrived
                lane = self._lane(item.lane, offset)
                lane.tool_ids.append(item.call_id)
                call = ToolCallView(
                    item.call_id, item.lane, item.turn, "?", "", offset=offset, after=len(lane.message_ids)
                )
            else:
                self._lane(item.lane, offset)
            self._tools[item.call_id] = replace(call, result=item.result, ok=item.ok, result_ts=item.ts)
        elif isinstance(item, TurnStarted):
            self._turns[item.turn] = TurnView(item.turn, item.user_message, "running", offset)
        elif isinstance(item, TurnFinished):
            turn = self._turns.get(item.turn) or TurnView(item.turn, "", "running", offset)
            self._turns[item.turn] = TurnView(turn.turn, turn.user_message, item.status, turn.start_offset, item.reason)
        elif isinstance(item, SubagentSpawned):
            lane = self._lane(item.lane, offset)
            lane.index = item.index
            lane.workflow_id = item.workflow_id
            lane.status = "running"
        elif isinstance(item, SubagentFinished):
            lane = self._lane(item.lane, offset)
            lane.status = item.status
            lane.reason = item.reason
        elif isinstance(item, SessionStarted):
            self._session_id = item.session_id
            self._title = item.title
            self._lane(item.lane, offset)
        elif isinstance(item, SessionFinished):
            self._status = item.status
        elif isinstance(item, ErrorEvent):
            self._lane(item.lane, offset)
            where = f"{item.lane}/{item.message_id}#{item.attempt}" if item.message_id else item.lane
            self._errors.append(f"@{offset} {where}: {item.message}")
        elif isinstance(item, UnknownItem):
            self._odd.append(OddItem(offset, "unknown", item.reason or item.kind))
        elif isinstance(item, InvalidItem):
            self._odd.append(OddItem(offset, "invalid", item.reason))

    def _lane(self, name: str, offset: int) -> _Lane:
        lane = self._lanes.get(name)
        if lane is None:
            # Lanes not announced by a spawn event sort after announced ones,
            # in order of first appearance, which is the same for every device.
            index = 0 if name == MAIN_LANE else 1_000_000 + offset
            lane = self._lanes[name] = _Lane(name=name, index=index, first_seen=offset)
        return lane

    def _attempt(self, message: _Message, number: int, ts: float) -> _Attempt:
        """The message's attempt ``number``; a new attempt of a message that had one is a retry."""
        found = message.attempts.get(number)
        if found is None:
            if message.attempts:
                self._retries += 1
            found = message.attempts[number] = _Attempt(started_ts=ts)
        elif not found.started_ts and ts:
            found.started_ts = ts
        return found

    def _message(self, message_id: str, lane: str, turn: int, offset: int) -> _Message:
        """The message a record is about to change (so its cached view is dropped)."""
        message = self._messages.get(message_id)
        if message is None:
            message = self._messages[message_id] = _Message(message_id, lane, turn)
            self._lane(lane, offset).message_ids.append(message_id)
        message.shown = None
        self._lanes[message.lane].records += 1
        return message

    def _main_status(self) -> str:
        """The session's own lane is running while a turn runs, else idle or finished."""
        if self._status != "running":
            return self._status
        if any(turn.status == "running" for turn in self._turns.values()):
            return "running"
        return "idle" if self._turns else "running"

    def view(self) -> SessionView:
        lanes = sorted(self._lanes.values(), key=lambda lane: (lane.index, lane.first_seen))
        return SessionView(
            session_id=self._session_id,
            title=self._title,
            status=self._status,
            first_offset=self._first_offset,
            next_offset=self._next_offset,
            record_count=self._records,
            token_count=self._tokens,
            turns=tuple(self._turns[t] for t in sorted(self._turns)),
            lanes=tuple(
                LaneView(
                    name=lane.name,
                    index=lane.index,
                    status=self._main_status() if lane.name == MAIN_LANE else lane.status,
                    messages=tuple(self._messages[m].view() for m in lane.message_ids),
                    workflow_id=lane.workflow_id,
                    reason=lane.reason,
                    records=lane.records,
                    gaps=tuple(lane.gaps),
                    tools=tuple(self._tools[c] for c in lane.tool_ids),
                    tokens=lane.tokens.count,
                    first_token_ts=lane.tokens.first_ts,
                    last_token_ts=lane.tokens.last_ts,
                )
                for lane in lanes
            ),
            steps=tuple(sorted((self._step_view(s) for s in self._steps.values()), key=lambda s: s.started_offset)),
            tool_calls=tuple(self._tools.values()),
            errors=tuple(self._errors),
            odd_items=tuple(self._odd),
            schemas=tuple(self._translator.schemas.items()),
            retries=self._retries,
            first_ts=self._first_ts,
            token_rate=self.token_rate,
        )

    def _step_view(self, step: StepView) -> StepView:
        tokens = self._step_tokens.get(step.step_id)
        if tokens is None or tokens.count == step.tokens:
            return step
        return replace(step, tokens=tokens.count, first_token_ts=tokens.first_ts, last_token_ts=tokens.last_ts)


def reduce(records: Iterable[Record]) -> SessionView:
    """The session view of ``records`` (a convenience over :class:`Reducer`)."""
    reducer = Reducer()
    reducer.feed(records)
    return reducer.view()
