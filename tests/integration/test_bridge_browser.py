"""The built-in page in a real (headless) Chromium: it is a device like a dashboard pane.

The browser runs on a closed network (loopback only, no background
traffic) and is driven over the DevTools protocol. The page must end with
the same canonical text as the Python reducer — for a live session whose
bridge is SIGKILLed mid-stream and restarted, and for crafted records that
exercise every reduce rule (retries, lane order, odd items, re-delivery).

Without Chromium the module skips, unless ``WFWATCH_REQUIRE_BROWSER=1``
(CI sets it): then each test fails, so a broken CI image cannot pass quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from _bridge_support.cdp import Chromium, Page, find_chromium
from _bridge_support.processes import BridgeProcess
from temporalio.client import Client
from temporalio.worker import Worker

from wfwatch import events
from wfwatch.agents.shared import ModelSpec, SessionInput, SubagentSpec
from wfwatch.agents.workflows import AgentSession
from wfwatch.bridge.protocol import record_json
from wfwatch.bridge.server import BridgeServer
from wfwatch.hub import Hub
from wfwatch.reducer import Reducer, reduce
from wfwatch.stream.reader import read_all
from wfwatch.temporal.server import EmbeddedServer

CHROMIUM = find_chromium()
REQUIRE_BROWSER = os.environ.get("WFWATCH_REQUIRE_BROWSER") == "1"
RECORDINGS = Path(__file__).resolve().parent.parent / "unit" / "recordings"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not REQUIRE_BROWSER,
    reason="Chromium is not installed (apt-get install -y chromium); the browser tests need it",
)


@contextlib.asynccontextmanager
async def browser(tmp_path: Path, url: str) -> AsyncIterator[Page]:
    if CHROMIUM is None:
        pytest.fail("WFWATCH_REQUIRE_BROWSER=1 but Chromium is not installed (apt-get install -y chromium)")
    chromium = Chromium(CHROMIUM, tmp_path / "profile")
    try:
        await chromium.start(url)
        page = await chromium.page()
        try:
            yield page
        finally:
            await page.close()
    finally:
        await chromium.close()


@contextlib.asynccontextmanager
async def served(client: Client, tmp_path: Path) -> AsyncIterator[BridgeServer]:
    """A bridge (own hub, free loopback port) served in this process."""
    hub = Hub(client, state_dir=tmp_path / "state", cache_dir=tmp_path / "cache")
    async with hub, BridgeServer(client, hub, port=0) as server:
        yield server


async def test_the_page_follows_a_live_session_across_a_killed_server_to_the_canonical_text(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path, temporal_server: EmbeddedServer
) -> None:
    model = ModelSpec(
        tokens_per_second=80, answer_words=120, reasoning_words=10, fail_after_tokens=6, fail_on_attempts=[1]
    )
    helpers = [
        SubagentSpec(name=name, model=ModelSpec(tokens_per_second=80, answer_words=25)) for name in ("scout", "critic")
    ]
    # Open until closed once the second server is up: the kill must land mid-stream on a slow box too.
    spec = SessionInput(
        title="browser", messages=["how did the deploy go?"], model=model, subagents=helpers, idle_timeout=600
    )
    address, namespace = temporal_server.address, temporal_server.namespace
    first = BridgeProcess(address, namespace, tmp_path / "bridge-1")
    await first.start()
    second: BridgeProcess | None = None
    try:
        handle = await client.start_workflow(
            AgentSession.run, spec, id=f"session-{uuid.uuid4()}", task_queue=task_queue
        )
        async with browser(tmp_path, f"{first.url}/?session={handle.id}") as page:
            await page.wait_for("window.wfwatch && wfwatch.page && wfwatch.page.reducer.tokens > 5", timeout=20)
            assert await page.evaluate("document.body.dataset.state") == "live"
            await first.kill()  # mid-stream, without a goodbye
            cut_at = await page.evaluate("wfwatch.page.reducer.nextOffset")
            assert await page.wait_for("document.body.dataset.state === 'reconnecting'", timeout=10)
            await asyncio.sleep(1.0)  # the session keeps streaming while no server is there
            second = BridgeProcess(address, namespace, tmp_path / "bridge-2", port=first.port)
            await second.start()
            await handle.signal(AgentSession.close)
            await page.wait_for("document.body.dataset.state === 'ended'", timeout=40)
            canonical = await page.evaluate("document.getElementById('canonical').textContent")
            in_page = await page.evaluate("wfwatch.page.reducer.view().canonical")
            drops = await page.evaluate("wfwatch.page.drops")
            messages = await page.evaluate("wfwatch.page.messages")
            next_offset = await page.evaluate("wfwatch.page.reducer.nextOffset")
            lanes = await page.evaluate(
                "Array.from(document.querySelectorAll('#lanes .lane')).map(l => l.dataset.lane)"
            )
            errors = await page.evaluate("wfwatch.page.reducer.errors.length")
    finally:
        await first.kill()
        if second is not None:
            await second.kill()

    records, gaps, end = await read_all(client, handle.id, timeout=30)
    assert end is not None and not gaps
    view = reduce(records)
    assert cut_at < len(records), "the server must be killed while the session still streams"
    assert drops >= 1
    assert next_offset == len(records)
    # One record event per offset across the reconnect: the reducer would hide a re-sent one, this would not.
    assert messages == len(records), f"{messages} record events for {len(records)} offsets"
    assert canonical == in_page == view.canonical_text()
    assert lanes == [lane.name for lane in view.lanes] == ["main", "scout", "critic"]
    assert errors == len(view.errors) >= 1, "the scripted failure of attempt 1 is shown as an error"
    assert any(m.superseded_attempts for m in view.lanes[0].messages), "a retried message must be in the test"


def crafted_records() -> list[events.Record]:
    """Records that exercise each rule of the reducer, in one stream."""
    E = events
    items: list[events.Decoded] = [
        E.SessionStarted(session_id="s", title="crafted"),
        E.TurnStarted(turn=1, user_message="<b>hi</b>"),
        E.SubagentSpawned(lane="critic", name="critic", index=2, turn=1),
        E.AttemptStarted(message_id="m1", attempt=1, turn=1),
        E.TokenDelta(message_id="m1", text="lost ", attempt=1, turn=1),
        E.AttemptStarted(message_id="m1", attempt=2, turn=1),
        E.TokenDelta(message_id="m1", text="thinking", attempt=2, channel="reasoning", turn=1),
        E.TokenDelta(message_id="m1", text="<script>alert(1)</script>\nline two", attempt=2, turn=1),
        E.TokenDelta(message_id="m1", text=" late from attempt 1", attempt=1, turn=1),  # superseded: invisible
        E.TokenDelta(message_id="z1", text="unannounced zeta", lane="zeta", turn=1),
        E.SubagentSpawned(lane="scout", name="scout", index=1, turn=1),
        E.TokenDelta(message_id="a1", text="unannounced alpha", lane="alpha", turn=1),
        E.TokenDelta(message_id="c1", text="critic says ✓ — 日本", lane="critic", turn=1),
        E.AttemptStarted(message_id="empty", lane="scout", turn=1),
        E.MessageFinished(message_id="empty", lane="scout", turn=1),
        E.TokenDelta(message_id="s1", text="scout text", lane="scout", turn=1),
        E.TokenDelta(message_id="m2", text="second message", turn=1),
        E.StepFinished(step_id="t1-orphan", turn=1, status="failed", reason="joined late"),
        E.ErrorEvent(message="boom", message_id="m1", attempt=1, retryable=True, turn=1),
        E.UnknownItem(topic="other", data={"x": 1}, reason="topic 'other' is not 'wfwatch'"),
        E.UnknownItem(
            topic="wfwatch", data={"kind": "from_the_future"}, kind="from_the_future", reason="unknown event kind"
        ),
        E.InvalidItem(topic="wfwatch", reason="not JSON", preview="\\xff"),
        E.SubagentFinished(lane="critic", status="failed", reason="gave up", turn=1),
        E.TurnFinished(turn=1),
        E.SessionFinished(),
    ]
    return [events.Record(offset, item) for offset, item in enumerate(items)]


async def page_fold(page: Page, wire: list[dict[str, object]]) -> dict[str, Any]:
    """The page's own reducer (``wfwatch.Reducer`` in its script) fed ``wire`` frames: what its view holds."""
    await page.wait_for("typeof window.wfwatch?.Reducer === 'function'")
    script = (
        "(() => { const r = new wfwatch.Reducer();"
        f" for (const ev of {json.dumps(wire)}) r.apply(ev);"
        " const v = r.view();"
        " return {canonical: v.canonical, lanes: v.lanes.map(l => [l.name, l.status]),"
        " steps: v.steps.map(s => [s.name, s.status]), odd: v.odd.map(o => [o.offset, o.kind]),"
        " errors: v.errors, records: v.records, tokens: v.tokens,"
        " messages: v.lanes.flatMap(l => l.messages.map(m => [m.messageId, m.attempt, m.reasoning, m.superseded]))}; })()"
    )
    result: dict[str, Any] = await page.evaluate(script)
    return result


async def test_the_page_reducer_is_the_python_reducer(client: Client, tmp_path: Path) -> None:
    records = crafted_records()
    wire = [json.loads(record_json(r)) for r in records]
    wire.insert(10, wire[4])  # a re-delivered record changes nothing
    view = reduce(records)
    async with served(client, tmp_path) as server, browser(tmp_path, f"{server.url}/") as page:
        result = await page_fold(page, wire)
    assert result["canonical"] == view.canonical_text()
    assert result["lanes"] == [[lane.name, lane.status] for lane in view.lanes]
    assert [name for name, _ in result["lanes"]] == ["main", "scout", "critic", "zeta", "alpha"]
    assert result["steps"] == [[s.name, s.status] for s in view.steps]
    assert result["odd"] == [[o.offset, o.kind] for o in view.odd_items]
    assert result["errors"] == list(view.errors)
    assert (result["records"], result["tokens"]) == (view.record_count, view.token_count)
    assert result["messages"] == [
        [m.message_id, m.attempt, m.reasoning, list(m.superseded_attempts)]
        for lane in view.lanes
        for m in lane.messages
    ]


async def test_the_page_lists_sessions_and_shows_text_as_text(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    hostile = "<img src=x onerror=\"document.title='pwned'\">"
    spec = SessionInput(
        title=hostile,
        messages=["x"],
        model=ModelSpec(tokens_per_second=0, answer=hostile, reasoning=""),
        idle_timeout=0.3,
    )
    handle = await client.start_workflow(AgentSession.run, spec, id=f"session-{uuid.uuid4()}", task_queue=task_queue)
    await handle.result()
    async with served(client, tmp_path) as server, browser(tmp_path, f"{server.url}/") as page:
        await page.wait_for(f"document.querySelector('#sessions')?.textContent.includes({json.dumps(handle.id)})")
        await page.call("Page.navigate", url=f"{server.url}/?session={handle.id}")
        await page.wait_for("document.body.dataset.state === 'ended'", timeout=20)
        heading = await page.evaluate("document.getElementById('title').textContent")
        text = await page.evaluate("document.getElementById('lanes').textContent")
        images = await page.evaluate("document.querySelectorAll('img').length")
        title = await page.evaluate("document.title")
    assert heading == hostile
    assert hostile in text
    assert images == 0 and title != "pwned"


@pytest.mark.parametrize("recording", ["pydantic_ai_retry", "openai_agents_retry", "openai_agents_handoff"])
async def test_the_page_folds_a_framework_stream_as_a_pane_does(client: Client, tmp_path: Path, recording: str) -> None:
    """Framework frames carry the payload as it came and the events it stands for; the page applies those.

    The items are the real frameworks' payloads (tests/unit/recordings, captured by
    scripts/record_framework_streams.py), decoded as the hub decodes them.
    """
    rows = [json.loads(line) for line in (RECORDINGS / f"{recording}.jsonl").read_text().splitlines()]
    read = [
        events.Record(row["offset"], events.decode(json.dumps(row["data"], sort_keys=True).encode(), row["topic"]))
        for row in rows
    ]
    pane = Reducer()
    applied = pane.feed(read)
    view = pane.view()
    wire = [json.loads(record_json(record)) for record in applied]
    assert all(frame["data"] is not None for frame in wire)
    async with served(client, tmp_path) as server, browser(tmp_path, f"{server.url}/") as page:
        result = await page_fold(page, wire)
    assert result["canonical"] == view.canonical_text() and view.canonical_text()
    assert result["lanes"] == [[lane.name, lane.status] for lane in view.lanes]
    assert result["odd"] == [] and view.odd_items == ()
    assert result["messages"] == [
        [m.message_id, m.attempt, m.reasoning, list(m.superseded_attempts)]
        for lane in view.lanes
        for m in lane.messages
    ]
    if recording.endswith("_retry"):
        assert any(m.superseded_attempts for lane in view.lanes for m in lane.messages), "a retried call"
    else:
        assert len(view.lanes) > 1, "the handoff's lane"
