"""The pure size rules behind a session's bounded payloads (continue-as-new input, poll results)."""

from __future__ import annotations

from typing import Any

from temporalio.contrib.workflow_streams import PollResult
from temporalio.contrib.workflow_streams._types import _WorkflowStreamWireItem

from wfwatch.agents.workflows import _cap_poll_result, _item_size, _newest_within, _oldest_over


def wire_items(*sizes: int) -> list[Any]:
    """Log items as the SDK carries and returns them (base64 data of ``size`` characters)."""
    return [_WorkflowStreamWireItem(topic="wfwatch", data="A" * size, offset=n) for n, size in enumerate(sizes)]


def test_the_oldest_items_go_until_the_newest_fit() -> None:
    log = wire_items(1000, 1000, 100, 100)
    per_item = _item_size(log[0]) - 1000
    assert _oldest_over(log, 200 + 2 * per_item) == 2
    assert _oldest_over(log, 10_000) == 0
    assert _oldest_over(log, -5) == 4, "no room left: nothing is carried"
    # One large item stops the walk: what is older than it goes too.
    assert _oldest_over(wire_items(10, 5000, 10), 100) == 2


def test_a_poll_result_is_cut_where_the_budget_ends_with_more_ready() -> None:
    items = wire_items(300, 300, 300)
    result = PollResult(items=items, next_offset=3, more_ready=False)
    cut = _cap_poll_result(result, 700)
    assert (len(cut.items), cut.next_offset, cut.more_ready) == (2, 2, True)
    assert _cap_poll_result(result, 10_000) is result
    alone = _cap_poll_result(PollResult(items=wire_items(5000), next_offset=1), 100)
    assert len(alone.items) == 1 and not alone.more_ready, "one item too large still goes, alone"


def test_the_transcript_keeps_its_newest_entries_within_the_budget() -> None:
    texts = ["a" * 10, "b" * 10, "c" * 10]
    assert _newest_within(texts, 26) == ["b" * 10, "c" * 10]
    assert _newest_within(texts, 1000) == texts
    assert _newest_within(texts, 3) == []
