"""The bridge's wire rules, without a server: ids, frames, validation (milliseconds)."""

from __future__ import annotations

import json

import pytest

from wfwatch import events
from wfwatch.bridge.app import _without_token
from wfwatch.bridge.bind import is_loopback
from wfwatch.bridge.protocol import (
    BadRequest,
    Cursor,
    FrameCache,
    end_frame,
    gap_frame,
    parse_event_id,
    record_frame,
    record_json,
    reset_frame,
    valid_session_id,
)

EPOCH = "0198c3a0-1111-7222-8333-444455556666"


def test_event_ids_are_cursors_with_an_optional_epoch() -> None:
    assert parse_event_id(f"{EPOCH}:42") == Cursor(42, EPOCH)
    assert parse_event_id("17") == Cursor(17, None)
    assert parse_event_id(f" {EPOCH}:0 ") == Cursor(0, EPOCH)
    for bad in ["", ":", f"{EPOCH}:", f"{EPOCH}:-1", f"{EPOCH}:1.5", "x y:3", "a:b:c", "9" * 17, f"{EPOCH}:١٢"]:
        with pytest.raises(BadRequest):
            parse_event_id(bad)


def test_session_ids_are_validated() -> None:
    for good in ["session-1", "a", "A.b_c:d@e+f=g~h-i", "x" * 255]:
        assert valid_session_id(good) == good
    for bad in ["", "-x", "x" * 256, "a b", "a/b", "a'b", 'a"b', "a\nb", "ä", "a;b", "a%20b"]:
        with pytest.raises(BadRequest, match="invalid session id"):
            valid_session_id(bad)


@pytest.mark.parametrize(
    "item",
    [
        events.TokenDelta(message_id="m", text='quote " newline \n unicode ✓ \u2028', attempt=2, lane="x", turn=3),
        events.SessionStarted(session_id="s", title="t"),
        events.ToolResult(call_id="c", ok=False, result="e"),
        events.SubagentSpawned(lane="scout", name="scout", index=1),
    ],
)
def test_a_record_is_the_schema_json_plus_its_offset(item: events.Event) -> None:
    body = record_json(events.Record(41, item))
    data = json.loads(body)
    assert data.pop("offset") == 41
    assert data == events.to_dict(item)
    assert events.decode_value(data) == item
    frame = record_frame(EPOCH, events.Record(41, item))
    assert frame == b"id: " + EPOCH.encode() + b":42\ndata: " + body + b"\n\n"
    assert frame.count(b"\n") == 3, "the JSON must stay on one data: line"


def test_odd_items_keep_their_offset_and_say_what_they_are() -> None:
    unknown = json.loads(
        record_json(events.Record(3, events.UnknownItem(topic="other", data=b"\xff", kind="", reason="not JSON")))
    )
    assert unknown["offset"] == 3 and unknown["kind"] == "unknown" and unknown["topic"] == "other"
    invalid = json.loads(record_json(events.Record(4, events.InvalidItem(topic="wfwatch", reason="bad", preview="x"))))
    assert invalid == {"offset": 4, "kind": "invalid", "topic": "wfwatch", "reason": "bad", "preview": "x"}


def test_control_frames_carry_the_cursor_after_them() -> None:
    assert gap_frame(EPOCH, 0, 12) == f'event: gap\nid: {EPOCH}:12\ndata: {{"start":0,"end":12}}\n\n'.encode()
    assert end_frame(EPOCH, "completed", 99).startswith(f"event: end\nid: {EPOCH}:99\n".encode())
    assert reset_frame(EPOCH, "old").startswith(f"event: reset\nid: {EPOCH}:0\n".encode())


def test_the_frame_cache_returns_the_same_bytes_as_encoding_each_record() -> None:
    records = [events.Record(i, events.TokenDelta(message_id="m", text=f"t{i} ")) for i in range(10)]
    cache = FrameCache(max_frames=4, max_chunks=2)
    expected = b"".join(record_frame(EPOCH, r) for r in records)
    assert cache.chunk("s", EPOCH, records) == expected
    assert cache.chunk("s", EPOCH, records[3:7]) == b"".join(record_frame(EPOCH, r) for r in records[3:7])
    assert cache.chunk("s", "other-epoch", records[:1]) == record_frame("other-epoch", records[0])


def test_loopback_detection() -> None:
    assert all(is_loopback(h) for h in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"])
    assert not any(is_loopback(h) for h in ["0.0.0.0", "::", "10.0.0.1", "example.com", "localhost.evil.com", ""])


def test_the_token_is_cut_from_a_query_string_and_nothing_else() -> None:
    assert _without_token(b"token=abc") == b""
    assert _without_token(b"join=live&token=abc&last_event_id=E%3A4") == b"join=live&last_event_id=E%3A4"
    assert _without_token(b"tok%65n=abc&from=3&token&token=") == b"from=3"  # however it is spelled
    assert _without_token(b"tokens=1&my_token=2&from=token") == b"tokens=1&my_token=2&from=token"


def test_a_framework_item_travels_with_the_events_it_stands_for() -> None:
    """The page applies ``derived`` (wfwatch.schemas); two streams folded differently never share a frame."""
    from wfwatch.reducer import Reducer
    from wfwatch.schemas import Translator

    def part_start(index: int, content: str) -> events.UnknownItem:
        data = {"event_kind": "part_start", "index": index, "part": {"part_kind": "text", "content": content}}
        return events.UnknownItem(topic="agent-events", data=data)

    read = [events.Record(0, part_start(0, "Hello")), events.Record(1, part_start(0, "Hi"))]
    translator = Translator()
    translated = [translator.translate(record)[0] for record in read]
    frames = [json.loads(record_json(record)) for record in translated]
    assert frames[0]["schema"] == "pydantic-ai" and frames[0]["topic"] == "agent-events"
    assert [d["kind"] for d in frames[1]["derived"]] == ["attempt_started", "token"]

    # A Python fold of what the page receives equals a pane's fold of what the hub delivered.
    page = Reducer()
    for frame in frames:
        for derived in frame["derived"]:
            event = events.decode_value(derived)
            assert not isinstance(event, events.UnknownItem | events.InvalidItem)
            page._apply_item(event, frame["offset"])
    pane = Reducer()
    pane.feed(read)
    assert page.view().lanes == pane.view().lanes and pane.view().text == "Hi"

    # A stream that joined at offset 1 folds that item as a first attempt: its own frame.
    late = Translator().translate(read[1])[0]
    assert late.derived != translated[1].derived
    cache = FrameCache()
    assert cache.chunk("s", EPOCH, [translated[1]]) != cache.chunk("s", EPOCH, [late])
    assert cache.chunk("s", EPOCH, [late]) == record_frame(EPOCH, late)


def test_a_foreign_payload_travels_as_it_came_and_stays_on_one_data_line() -> None:
    """Kept bytes go out verbatim, unless a publisher's whitespace between tokens would end the SSE field."""
    compact = events.decode(b'{"type":"order.paid","n":1}', "orders")
    assert b'"data":{"type":"order.paid","n":1}' in record_json(events.Record(0, compact))
    for spaced in (b'{"type":\n"order.paid",\r\n"n":\r1}', b'{"type": "x",\n"data: forged": "\\n"}'):
        item = events.decode(spaced, "orders")
        assert isinstance(item, events.UnknownItem) and item.head is not None
        frame = record_frame(EPOCH, events.Record(0, item))
        assert frame.count(b"\n") == 3 and b"\r" not in frame, "the JSON must stay on one data: line"
        assert json.loads(frame.split(b"data: ", 1)[1])["data"] == item.value()
