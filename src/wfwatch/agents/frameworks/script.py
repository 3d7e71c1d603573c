"""What the offline scripted models of both framework sessions say, and when they fail.

One script for both frameworks, so their sessions tell the same story and a
test can compare a framework's streamed answer with the text it should be.
Everything is a pure function of the prompt: a retried attempt streams the
same words again, as a real provider asked the same question roughly would.
"""

from __future__ import annotations

import json
import re

#: The tool both scripted agents call before they answer.
TOOL_NAME = "lookup_order"

_ORDER_ID = re.compile(r"\b[A-Z]-\d{3,}\b")

#: The answer fails after this many deltas on attempt 1 when fail_once is set.
FAIL_AFTER_DELTAS = 12


def order_id(prompt: str) -> str:
    """The order a prompt asks about (a default one if it names none)."""
    found = _ORDER_ID.search(prompt)
    return found.group(0) if found else "A-1042"


def order_record(order: str) -> dict[str, object]:
    """What ``lookup_order`` returns: small, deterministic, JSON-able."""
    items = 2 + sum(map(ord, order)) % 3
    return {"order_id": order, "status": "shipped", "carrier": "DHL", "items": items, "eta": "2026-12-07"}


def tool_arguments(prompt: str) -> str:
    """The tool call's JSON arguments, as the model streams them."""
    return json.dumps({"order_id": order_id(prompt)})


def planning_reasoning(prompt: str) -> str:
    """Reasoning before the tool call."""
    return (
        f"The customer asks about order {order_id(prompt)}. I should not guess its state: "
        f"look it up with {TOOL_NAME} first, then answer with the carrier and the arrival date."
    )


def answer_reasoning(prompt: str) -> str:
    """Reasoning after the tool result, before the answer."""
    record = order_record(order_id(prompt))
    return f"The lookup says {record['status']} with {record['carrier']}, {record['items']} items. Answer briefly."


def answer(prompt: str) -> str:
    """The final answer for a prompt."""
    record = order_record(order_id(prompt))
    return (
        f"Your order {record['order_id']} has shipped with {record['carrier']}. "
        f"The shipment contains {record['items']} items and should arrive by {record['eta']}. "
        "You will get a tracking link by email as soon as the carrier scans the parcel. "
        "Thanks for your patience, and let me know if anything else comes up."
    )


def words(text: str) -> list[str]:
    """``text`` as stream deltas: one word each, spaces kept, so the deltas join back to ``text``."""
    return re.findall(r"\S+\s*|\s+", text)


class ScriptedFailure(RuntimeError):
    """Raised by a scripted model mid-stream so Temporal retries its activity."""
