"""Framework streams (PydanticAI, OpenAI Agents SDK) vs wfwatch's own schema: decode + reduce, cache catch-up.

    uv run python benchmarks/framework_reduce.py [--quick]

Every device folds a framework's stream itself (``wfwatch.schemas`` inside
``Reducer.apply``), so its cost is paid per device, on top of decoding. The
streams are the payloads recorded from the real frameworks
(``tests/unit/recordings/*_two_turns.jsonl``: two turns, each with
reasoning, a tool call and an answer) repeated to ~100k items, offsets and
tool call ids rewritten per repetition; the baseline is a native wfwatch
session with the same turns (the same token texts, tool calls and results,
as the demo agent publishes them). Items are held as the hub holds them:
:class:`~wfwatch.hub.codec.RawItem` bytes, JSON encoded as Temporal's JSON
converter writes it (compact, sorted keys). No Temporal server is needed.

Measured, for each schema, in the same run:

1. **Decode + reduce**: ``decode_raw`` of every item, ``Reducer.feed`` in
   device-sized chunks and one ``view()``: items/s per core (process CPU
   time), the median of N runs, interleaved across schemas so a busy machine
   hits them alike. Also per turn (a framework writes a different number of
   items for the same turn), and the share spent in CPython's cyclic
   collector (default thresholds; the inputs are frozen out of its sight, as
   wfwatch's front ends freeze their start-up objects). Goal (issue 16):
   within 2x of native.
2. **Catch-up from the cache**: the stream stored in an ``EventCache`` as a
   completed session, read by a new hub device from offset 0 through an
   offline ``SessionFeed`` (sqlite blocks decoded on the cache's reader
   thread), every delivery folded by a ``Reducer`` as a pane does.
3. **Per-device fold**: records decoded once (the hub's buffer shares them),
   folded by 1 and by 10 reducers (10 devices each translate on their own).

Writes ``benchmarks/results/framework_reduce.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _hub_common import offline_device, offline_feed, write_completed

from wfwatch import events
from wfwatch.hub import Delivery, EndOfStream
from wfwatch.hub.cache import EventCache
from wfwatch.hub.codec import JSON_ENCODING, RawItem, decode_raw
from wfwatch.reducer import Reducer, SessionView, ToolCallView

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "framework_reduce.json"
RECORDINGS = HERE.parent / "tests" / "unit" / "recordings"
#: Records a hub device delivers at a time (the hub's default chunk size).
CHUNK = 4096
#: The goal of issue 16: a framework schema costs at most this many times the native one.
GOAL = 2.0


@dataclass(frozen=True)
class Schema:
    """One row: a stream in one schema, from a recording (or the native equivalent)."""

    label: str
    recording: str  # "" for native
    topics: tuple[str, ...] = ()


NATIVE = Schema("native wfwatch", "")
SCHEMAS = (
    NATIVE,
    Schema("PydanticAI", "pydantic_ai_two_turns", ("agent-events",)),
    Schema("OpenAI Agents model stream", "openai_agents_two_turns", ("agent-events",)),
    Schema("OpenAI Agents + items topic", "openai_agents_two_turns", ("agent-events", "agent-items")),
)


@dataclass
class Row:
    label: str
    items: int = 0
    turns: int = 0
    tokens: int = 0
    tool_calls: int = 0
    mb: float = 0.0
    # 1. decode + reduce (medians)
    cpu_s: float = 0.0
    decode_s: float = 0.0
    reduce_s: float = 0.0
    view_s: float = 0.0
    gc_s: float = 0.0  # of cpu_s: in the cyclic collector
    items_per_s: float = 0.0
    us_per_turn: float = 0.0
    ratio_items: float = 0.0  # native items/s over this schema's
    ratio_turns: float = 0.0  # this schema's CPU per turn over native's
    runs_cpu_s: list[float] = field(default_factory=list)
    # 2. catch-up from the cache (medians)
    catchup_wall_s: float = 0.0
    catchup_cpu_s: float = 0.0
    catchup_runs_wall_s: list[float] = field(default_factory=list)
    catchup_ratio: float = 0.0
    # 3. per-device fold on shared decoded records
    fold_1_items_per_s: float = 0.0
    fold_10_items_per_s: float = 0.0  # item folds per CPU second, all 10 reducers together
    fold_10_cpu_s: float = 0.0


@dataclass
class Report:
    quick: bool
    target_items: int
    runs: int
    catchup_runs: int
    machine: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)


# --- the streams --------------------------------------------------------------------------


def encode_json(data: Any) -> bytes:
    """As Temporal's JSON payload converter writes a value: compact, keys sorted."""
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def recorded(name: str, topics: tuple[str, ...]) -> list[tuple[str, Any]]:
    """``(topic, data)`` of a recording's items on ``topics``, in offset order."""
    rows = [json.loads(line) for line in (RECORDINGS / f"{name}.jsonl").read_text().splitlines()]
    return [(row["topic"], row["data"]) for row in sorted(rows, key=lambda r: r["offset"]) if row["topic"] in topics]


def _records(items: list[tuple[str, Any]]) -> list[events.Record]:
    return [events.Record(offset, events.UnknownItem(topic=t, data=d)) for offset, (t, d) in enumerate(items)]


def framework_stream(schema: Schema, target: int) -> list[RawItem]:
    """The recording repeated to at least ``target`` items; offsets and tool call ids rewritten per repetition.

    Whole repetitions only, so the session ends where a recorded run ended.
    """
    items = recorded(schema.recording, schema.topics)
    call_ids = [call.call_id.encode() for call in _tool_calls(_records(items))]
    encoded = [(topic, encode_json(data)) for topic, data in items]
    raw: list[RawItem] = []
    repetition = 0
    while len(raw) < target:
        for topic, data in encoded:
            for call_id in call_ids:
                if call_id in data:
                    data = data.replace(b'"' + call_id + b'"', b'"' + call_id + b"~%d" % repetition + b'"')
            raw.append(RawItem(len(raw), topic, JSON_ENCODING, data))
        repetition += 1
    return raw


def _tool_calls(records: list[events.Record]) -> tuple[ToolCallView, ...]:
    reducer = Reducer()
    reducer.feed(records)
    return reducer.view().tool_calls


@dataclass
class _Call:
    """One model call of a recorded turn: its token texts and the tools it called."""

    reasoning: list[str] = field(default_factory=list)
    answer: list[str] = field(default_factory=list)
    tools: list[list[str]] = field(default_factory=list)  # [call_id, name, arguments, result]


def recorded_turns(name: str) -> list[list[_Call]]:
    """The turns of a recording as wfwatch reads them: per model call, its tokens and tool calls."""
    turns: list[list[_Call]] = []
    tools: dict[str, list[str]] = {}
    reducer = Reducer()
    for record in reducer.feed(_records(recorded(name, ("agent-events",)))):
        for event in record.derived:
            if isinstance(event, events.TurnStarted):
                turns.append([])
            elif isinstance(event, events.AttemptStarted):
                turns[-1].append(_Call())
            elif isinstance(event, events.TokenDelta):
                call = turns[-1][-1]
                (call.reasoning if event.channel == "reasoning" else call.answer).append(event.text)
            elif isinstance(event, events.ToolCall):
                tools[event.call_id] = [event.call_id, event.name, event.arguments, ""]
                turns[-1][-1].tools.append(tools[event.call_id])
            elif isinstance(event, events.ToolResult) and event.call_id in tools:
                tools[event.call_id][3] = event.result
    return turns


def native_turn(turn: int, calls: list[_Call], clock: Iterator[float]) -> Iterator[events.Event]:
    """One turn as the demo agent publishes it: steps, attempts, tokens, tool call and result."""
    yield events.TurnStarted(turn=turn, user_message="where is my order?", ts=next(clock))
    for index, call in enumerate(calls, 1):
        step_id, message_id = f"t{turn}-model-{index}", f"t{turn}-m{index}"
        yield events.StepStarted(turn=turn, step_id=step_id, name="model", ts=next(clock))
        yield events.AttemptStarted(turn=turn, message_id=message_id, step_id=step_id, ts=next(clock))
        for text in call.reasoning:
            yield events.TokenDelta(turn=turn, message_id=message_id, text=text, channel="reasoning", ts=next(clock))
        for text in call.answer:
            yield events.TokenDelta(turn=turn, message_id=message_id, text=text, ts=next(clock))
        yield events.MessageFinished(turn=turn, message_id=message_id, ts=next(clock))
        yield events.StepFinished(turn=turn, step_id=step_id, duration_ms=850.0, ts=next(clock))
        for call_id, name, arguments, result in call.tools:
            tool_step = f"t{turn}-tool-{call_id}"
            yield events.StepStarted(turn=turn, step_id=tool_step, name=name, ts=next(clock))
            yield events.ToolCall(
                turn=turn, call_id=f"t{turn}-{call_id}", name=name, arguments=arguments, ts=next(clock)
            )
            yield events.ToolResult(turn=turn, call_id=f"t{turn}-{call_id}", result=result, ts=next(clock))
            yield events.StepFinished(turn=turn, step_id=tool_step, duration_ms=120.0, ts=next(clock))
    yield events.TurnFinished(turn=turn, ts=next(clock))


def native_stream(target: int) -> list[RawItem]:
    """A native session with the recorded turns (PydanticAI's, the same script both frameworks ran)."""

    def ticks() -> Iterator[float]:
        now = 1_796_000_000.0
        while True:
            now += 0.005
            yield now

    clock = ticks()
    turns = recorded_turns("pydantic_ai_two_turns")
    stream: list[events.Event] = [events.SessionStarted(session_id="bench-native", title="bench", ts=next(clock))]
    turn = 0
    while len(stream) < target:
        for calls in turns:
            turn += 1
            stream.extend(native_turn(turn, calls, clock))
    stream.append(events.SessionFinished(ts=next(clock)))
    return [RawItem(offset, events.TOPIC, JSON_ENCODING, events.encode(e)) for offset, e in enumerate(stream)]


def build(schema: Schema, target: int) -> list[RawItem]:
    return native_stream(target) if schema is NATIVE else framework_stream(schema, target)


# --- 1. decode + reduce -------------------------------------------------------------------


class GcClock:
    """CPU seconds spent in the cyclic collector while installed (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def decode_and_reduce(raw: list[RawItem]) -> tuple[float, float, float, SessionView]:
    """CPU seconds of decoding, folding and the final view, as a device does it chunk by chunk."""
    clock = time.process_time
    decode_s = reduce_s = 0.0
    reducer = Reducer()
    for start in range(0, len(raw), CHUNK):
        t0 = clock()
        records = [decode_raw(item) for item in raw[start : start + CHUNK]]
        t1 = clock()
        reducer.feed(records)
        t2 = clock()
        decode_s += t1 - t0
        reduce_s += t2 - t1
    t0 = clock()
    view = reducer.view()
    return decode_s, reduce_s, clock() - t0, view


# --- 2. catch-up from the cache -------------------------------------------------------------


async def catch_up(tmp: Path, cache_path: Path, name: str) -> tuple[float, float, SessionView]:
    """A new hub device reads the completed session from offset 0 out of sqlite; a reducer folds it."""
    cache = EventCache(cache_path)
    feed, _ = await offline_feed(tmp, name, cache)
    device = offline_device(feed, 0)
    reducer = Reducer()
    applied: list[events.Record] = []  # a pane keeps records as applied, for its raw view
    cpu0, wall0 = time.process_time(), time.perf_counter()
    async for event in device:
        if isinstance(event, Delivery):
            applied.extend(reducer.feed(event.records))
        elif isinstance(event, EndOfStream):
            break
    view = reducer.view()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    assert view.next_offset == feed.end.next_offset if feed.end else False, "the device did not read to the end"
    await device.close()
    await feed.close()
    await cache.close()
    return wall, cpu, view


# --- 3. per-device fold ------------------------------------------------------------------------


def fold(records: list[events.Record], reducers: int) -> float:
    """CPU seconds for ``reducers`` devices each folding the same decoded records chunk by chunk."""
    t0 = time.process_time()
    for _ in range(reducers):
        reducer = Reducer()
        for start in range(0, len(records), CHUNK):
            reducer.feed(records[start : start + CHUNK])
        reducer.view()
    return time.process_time() - t0


# --- running ---------------------------------------------------------------------------------------


async def main(quick: bool, target: int, runs: int, catchup_runs: int) -> Report:
    report = Report(quick=quick, target_items=target, runs=runs, catchup_runs=catchup_runs)
    report.machine = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()),
    }
    streams = {schema.label: build(schema, target) for schema in SCHEMAS}
    rows = {schema.label: Row(schema.label) for schema in SCHEMAS}
    for label, raw in streams.items():
        row = rows[label]
        row.items = len(raw)
        row.mb = sum(len(item.data) for item in raw) / 1e6
    report.rows = list(rows.values())

    print(f"decode + reduce, {runs} runs...", flush=True)
    # The inputs live as long as the run: out of the collector's sight, as wfwatch's front ends
    # freeze their start-up objects (wfwatch.gctune), so collections walk what decoding made.
    gc.collect()
    gc.freeze()
    samples: dict[str, list[tuple[float, float, float, float]]] = {label: [] for label in streams}
    for _ in range(runs):
        for label, raw in streams.items():  # interleaved: machine load hits every schema alike
            gc.collect()
            with GcClock() as collector:
                decode_s, reduce_s, view_s, view = decode_and_reduce(raw)
            samples[label].append((decode_s, reduce_s, view_s, collector.seconds))
            row = rows[label]
            row.turns, row.tokens, row.tool_calls = len(view.turns), view.token_count, len(view.tool_calls)
            del view
    for label, runs_of in samples.items():
        row = rows[label]
        row.runs_cpu_s = [sum(s[:3]) for s in runs_of]
        row.cpu_s = statistics.median(row.runs_cpu_s)
        row.decode_s = statistics.median(s[0] for s in runs_of)
        row.reduce_s = statistics.median(s[1] for s in runs_of)
        row.view_s = statistics.median(s[2] for s in runs_of)
        row.gc_s = statistics.median(s[3] for s in runs_of)
        row.items_per_s = row.items / row.cpu_s
        row.us_per_turn = row.cpu_s / row.turns * 1e6 if row.turns else float("nan")
    native = rows[NATIVE.label]
    for row in rows.values():
        row.ratio_items = native.items_per_s / row.items_per_s
        row.ratio_turns = row.us_per_turn / native.us_per_turn

    print(f"per-device fold, 1 vs 10 reducers, {runs} runs...", flush=True)
    decoded = {label: [decode_raw(item) for item in raw] for label, raw in streams.items()}
    gc.collect()
    gc.freeze()  # inputs, as above
    one: dict[str, list[float]] = {label: [] for label in streams}
    ten: dict[str, list[float]] = {label: [] for label in streams}
    for _ in range(runs):
        for label, records in decoded.items():
            gc.collect()
            one[label].append(fold(records, 1))
            gc.collect()
            ten[label].append(fold(records, 10))
    for label, row in rows.items():
        row.fold_1_items_per_s = row.items / statistics.median(one[label])
        row.fold_10_cpu_s = statistics.median(ten[label])
        row.fold_10_items_per_s = 10 * row.items / row.fold_10_cpu_s
    gc.unfreeze()
    del decoded
    gc.collect()
    gc.freeze()  # the raw streams again

    print(f"catch-up from the cache, {catchup_runs} runs...", flush=True)
    with tempfile.TemporaryDirectory(prefix="wfwatch-framework-bench-") as name:
        tmp = Path(name)
        paths: dict[str, tuple[Path, str]] = {}
        for index, (label, raw) in enumerate(streams.items()):
            session = f"bench-session-{index}"
            path = tmp / f"{session}.sqlite"
            cache = EventCache(path)
            await write_completed(cache, session, raw)
            await cache.close()
            paths[label] = (path, session)
        walls: dict[str, list[float]] = {label: [] for label in streams}
        cpus: dict[str, list[float]] = {label: [] for label in streams}
        for _ in range(catchup_runs):
            for label, (path, session) in paths.items():
                gc.collect()
                wall, cpu, view = await catch_up(tmp, path, session)
                walls[label].append(wall)
                cpus[label].append(cpu)
                assert len(view.turns) == rows[label].turns, f"{label}: catch-up saw other turns"
        for label, row in rows.items():
            row.catchup_runs_wall_s = walls[label]
            row.catchup_wall_s = statistics.median(walls[label])
            row.catchup_cpu_s = statistics.median(cpus[label])
        for row in rows.values():
            row.catchup_ratio = row.catchup_wall_s / native.catchup_wall_s
    return report


# --- output -------------------------------------------------------------------------------------------


def fmt(value: float, digits: int = 0) -> str:
    if value != value:  # NaN
        return "–"
    return f"{value:,.{digits}f}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return "\n".join([line, rule, *body])


def render(report: Report) -> str:
    headers = [
        "schema",
        "items",
        "MB",
        "turns",
        "items/s per core",
        "decode / reduce / of which GC %",
        "vs native (items)",
        "µs per turn",
        "vs native (turn)",
        "cache catch-up s",
        "vs native",
        "fold items/s 1 / 10 reducers",
    ]
    rows = []
    for row in report.rows:
        rows.append(
            [
                row.label,
                f"{row.items:,}",
                fmt(row.mb, 1),
                f"{row.turns:,}",
                fmt(row.items_per_s),
                f"{fmt(100 * row.decode_s / row.cpu_s)} / {fmt(100 * (row.reduce_s + row.view_s) / row.cpu_s)}"
                f" / {fmt(100 * row.gc_s / row.cpu_s)}",
                f"{row.ratio_items:.2f}x",
                fmt(row.us_per_turn),
                f"{row.ratio_turns:.2f}x",
                f"{row.catchup_wall_s:.2f} ({row.catchup_cpu_s:.2f} CPU)",
                f"{row.catchup_ratio:.2f}x",
                f"{fmt(row.fold_1_items_per_s)} / {fmt(row.fold_10_items_per_s)}",
            ]
        )
    worst = max(max(r.ratio_items, r.ratio_turns) for r in report.rows)
    verdict = "within" if worst <= GOAL else "NOT within"
    return "\n".join(
        [
            f"Decode + reduce (medians of {report.runs} runs, CPU time) and catch-up of a completed session "
            f"from the sqlite cache (medians of {report.catchup_runs}, wall time):",
            table(headers, rows),
            f"Goal (issue 16): framework schemas within {GOAL:g}x of native: {verdict} "
            f"(worst {worst:.2f}x). 'vs native' is the schema's cost over native's; per turn compares the "
            "same session content (frameworks write a different number of items per turn).",
            "fold: records decoded once and shared (the hub's buffer), folded by 1 and by 10 reducers "
            "(10 devices each translating); items/s counts every reducer's items.",
            f"load average at start: {', '.join(f'{x:.1f}' for x in report.machine['load_average'])} "
            f"on {report.machine['cpus']} CPUs",
        ]
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20k items, 3 runs")
    parser.add_argument("--items", type=int, default=0, help="items per stream (default 100,000; 20,000 quick)")
    parser.add_argument("--runs", type=int, default=0, help="runs per measurement (default 5; 3 quick)")
    args = parser.parse_args()
    target = args.items or (20_000 if args.quick else 100_000)
    runs = args.runs or (3 if args.quick else 5)
    if target < 1_000 or runs < 1:
        parser.error("--items must be at least 1,000 and --runs at least 1")
    report = asyncio.run(main(args.quick, target, runs, catchup_runs=runs))
    print()
    print(render(report))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(asdict(report), indent=2, default=str))
    print(f"\nwritten to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    cli()
