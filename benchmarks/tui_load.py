"""Dashboard under load: 4 panes, each fed 2,000 tokens/s.

    uv run python benchmarks/tui_load.py [--seconds 10] [--panes 4] [--rate 2000] [--operator] [--busy N]

``--operator`` turns on what an operator adds (issue 14): tokens carry times
and every pane shows them (wall clock), a tool call and its result every 1,000
records sit in the lanes, and every pane has a search active.

Each pane is a device fed by an in-process generator (no Temporal: this
measures the TUI alone — buffering, reducer, redraw). Reports, per second:
how far each pane lags behind what was produced, how long a key press takes
to be handled, and the process's CPU use. Goals (issue 4): lag does not grow,
key press handled within 100 ms, less than one core.

``--busy N`` runs N processes that spin on the CPU beside the app for the
whole run: the 2-core CI box busy with other jobs, made repeatable (a load
average of 3-4 from other work is what made this goal fail before).

The app is run twice: with CPython's default collector settings, then as
shipped (the app freezes its start-up objects and raises the young-generation
threshold, :mod:`wfwatch.gctune`), so the table shows what that buys.

The baseline row feeds the same records to a bare Reducer (no widgets), so the
table shows what the TUI adds on top of the fold every device must do anyway.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial

from textual.events import Key
from textual.widget import Widget

from wfwatch import events
from wfwatch.agents.shared import SendResult
from wfwatch.hub import Join
from wfwatch.reducer import Reducer
from wfwatch.tui.app import WfwatchApp
from wfwatch.tui.device import DeviceRecords, DeviceResult
from wfwatch.tui.screens.watch import WatchScreen
from wfwatch.tui.services import Services
from wfwatch.tui.widgets.pane import Pane

TICK = 0.05


class Feed:
    """Produces TokenDelta records at ``rate`` per second, in 50 ms batches."""

    def __init__(self, rate: float, operator: bool = False) -> None:
        self.rate = rate
        self.operator = operator
        #: device name -> offsets produced for it so far
        self.produced: dict[str, int] = {}

    async def __call__(self, session_id: str, name: str, join: Join, resume: int | None) -> AsyncIterator[DeviceResult]:
        start = time.monotonic()
        offset = 0
        while True:
            due = int((time.monotonic() - start) * self.rate)
            now = time.time() if self.operator else 0.0
            batch = [events.Record(o, self._item(o, now)) for o in range(offset, due)]
            if batch:
                offset = due
                self.produced[name] = offset
                yield DeviceRecords(batch, offset, offset)
            await asyncio.sleep(TICK)

    def _item(self, offset: int, ts: float) -> events.Event:
        if self.operator and offset % 1000 == 500:
            return events.ToolCall(call_id=f"c{offset}", name="lookup_order", arguments='{"order_id":"A-1042"}', ts=ts)
        if self.operator and offset % 1000 == 501:
            return events.ToolResult(call_id=f"c{offset - 1}", result='{"status":"shipped"}', ts=ts + 0.12)
        return events.TokenDelta(message_id=f"m{offset // 5000}", text=f" tok{offset}", lane="main", turn=1, ts=ts)


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def is_focused(screen: WatchScreen, widget: Widget) -> bool:
    return screen.focused is widget


def raw_mode_is(pane: Pane, wanted: bool) -> bool:
    return pane.raw_mode == wanted


async def key_latency_ms(app: WfwatchApp, key_name: str, done: Callable[[], bool]) -> float:
    """Time from a key event entering the app to its action having run (``done()`` true).

    The key goes in through the driver like a real key press; Pilot.press is
    not used because it also waits for the whole app to be idle, which a
    streaming dashboard never is.
    """
    key = Key(key_name, key_name)
    key.set_sender(app)
    t0 = time.perf_counter()
    assert app._driver is not None
    app._driver.send_message(key)
    while not done():
        await asyncio.sleep(0.001)
    return (time.perf_counter() - t0) * 1000


async def run_tui(
    seconds: float, panes: int, rate: float, *, tune_gc: bool = True, operator: bool = False
) -> dict[str, float]:
    feed = Feed(rate, operator)

    async def _list(query: str) -> list:  # type: ignore[type-arg]
        return []

    async def _send(session_id: str, text: str) -> SendResult:
        return SendResult(0, 0)

    async def _cancel(session_id: str) -> None:
        return None

    services = Services(list_sessions=_list, open_device=feed, send_message=_send, cancel_turn=_cancel)
    app = WfwatchApp(services=services, open_session="bench", tune_gc=tune_gc)
    lags: list[list[int]] = []
    presses: list[float] = []
    async with app.run_test(size=(200, 50)) as pilot:
        while not isinstance(app.screen, WatchScreen):
            await pilot.pause(0.05)
        screen = app.screen
        for _ in range(panes - 1):
            await pilot.press("a")
        screen.panes[0].focus()
        if operator:
            screen.action_cycle_time()
            screen.action_cycle_time()  # wall clock: the widest stamp
            for each in screen.panes:
                each.search("tok42")
        cpu0, wall0 = cpu_seconds(), time.monotonic()
        flushes0 = screen._pacer.flushes
        for _second in range(int(seconds)):
            for number in (2, 1, 2, 1):  # move the focus between two panes
                await asyncio.sleep(0.2)
                target = screen.panes[number - 1]
                presses.append(await key_latency_ms(app, str(number), partial(is_focused, screen, target)))
            await asyncio.sleep(0.1)
            # ...and once a second a key with real work behind it: the raw view, on and off.
            pane = screen.panes[0]
            for _ in range(2):
                was = pane.raw_mode
                presses.append(await key_latency_ms(app, "v", partial(raw_mode_is, pane, not was)))
            lags.append([feed.produced.get(p.device_name, 0) - p.reducer.next_offset for p in screen.panes])
        cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
        delivered = sum(p.reducer.next_offset for p in screen.panes)
        frames = (screen._pacer.flushes - flushes0) / wall
    first, last = lags[len(lags) // 4], lags[-1]
    return {
        "panes": panes,
        "rate_per_pane": rate,
        "seconds": wall,
        "delivered_per_s": delivered / wall,
        "lag_early_max": max(first),
        "lag_end_max": max(last),
        "lag_end_s": max(last) / rate,
        "key_p50_ms": statistics.median(presses),
        "key_p95_ms": statistics.quantiles(presses, n=20)[-1],
        "key_max_ms": max(presses),
        "cpu_pct": cpu / wall * 100,
        "frames_per_s": frames,
    }


def run_baseline(seconds: float, panes: int, rate: float) -> dict[str, float]:
    total = int(seconds * rate)
    records = [
        events.Record(o, events.TokenDelta(message_id=f"m{o // 5000}", text=f" tok{o}", lane="main", turn=1))
        for o in range(total)
    ]
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    for _ in range(panes):
        reducer = Reducer()
        for start in range(0, total, int(rate * TICK)):
            reducer.feed(records[start : start + int(rate * TICK)])
    cpu = cpu_seconds() - cpu0
    return {"cpu_pct_of_run": cpu / seconds * 100, "fold_s": time.monotonic() - wall0}


@contextlib.contextmanager
def busy(processes: int) -> Iterator[None]:
    """``processes`` other programs spinning on the CPU while the block runs."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--panes", type=int, default=4)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--operator", action="store_true", help="times shown, tool rows, a search in every pane")
    parser.add_argument("--busy", type=int, default=0, help="processes spinning on the CPU beside the app")
    args = parser.parse_args()
    os.environ.setdefault("WFWATCH_HOME", tempfile.mkdtemp(prefix="wfwatch-bench-"))
    with busy(args.busy):
        # The default collector first: settling it (gc.freeze) cannot be undone for a fair second run.
        plain = asyncio.run(run_tui(args.seconds, args.panes, args.rate, tune_gc=False, operator=args.operator))
        gc.unfreeze()
        gc.collect()
        tuned = asyncio.run(run_tui(args.seconds, args.panes, args.rate, tune_gc=True, operator=args.operator))
    base = run_baseline(args.seconds, args.panes, args.rate)

    def ok(flag: bool) -> str:
        return "✓" if flag else "✗"

    mode = " (operator: times, tool rows, search)" if args.operator else ""
    mode += f", {args.busy} other processes spinning" if args.busy else ""
    print(
        f"\nDashboard under load: {args.panes} panes × {args.rate:.0f} tokens/s, {tuned['seconds']:.1f} s a run{mode}"
    )
    print(f"{'measure':<34}{'default gc':>12}{'as shipped':>12}  goal (as shipped)")

    def row(name: str, key: str, fmt: str, goal: str = "") -> None:
        print(f"{name:<34}{format(plain[key], fmt):>12}{format(tuned[key], fmt):>12}  {goal}")

    row("delivered events/s (all panes)", "delivered_per_s", ".0f")
    row("max lag after 1/4 of the run", "lag_early_max", ".0f")
    growing = tuned["lag_end_max"] > max(tuned["lag_early_max"], args.rate * 0.25)
    row("max lag at the end (events)", "lag_end_max", ".0f", f"{ok(not growing)} not growing")
    row("key press handled, p50 (ms)", "key_p50_ms", ".1f")
    row("key press handled, p95 (ms)", "key_p95_ms", ".1f", f"{ok(tuned['key_p95_ms'] < 100)} < 100")
    row("key press handled, max (ms)", "key_max_ms", ".1f", "a full pass of the cyclic collector")
    row("app CPU (% of one core)", "cpu_pct", ".0f", f"{ok(tuned['cpu_pct'] < 100)} < 100")
    row("redraws per second", "frames_per_s", ".1f", "12; fewer while other programs hold the CPU")
    print(f"{'bare reducer CPU (%)':<34}{base['cpu_pct_of_run']:>24.1f}  same records, no widgets")


if __name__ == "__main__":
    main()
