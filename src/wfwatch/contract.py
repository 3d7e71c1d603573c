"""What makes a workflow a wfwatch session: the names both sides of it share.

The demo agent (:mod:`wfwatch.agents`) sets these markers and implements
these handlers; the dashboard, the bridge and the CLI read the markers and
call the handlers. Neither side imports the other, so the dashboard and the
library layers run without the demo agent's workflow code, and a change on
one side that breaks the other shows up here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from temporalio.common import SearchAttributeKey

#: The workflow type of a wfwatch session.
SESSION_WORKFLOW_TYPE: Final = "AgentSession"

#: Search attributes a session sets when they are registered on the namespace.
SESSION_ATTR: Final = SearchAttributeKey.for_keyword("WfwatchSession")
TURN_ATTR: Final = SearchAttributeKey.for_int("WfwatchTurn")
#: Memo keys a session always sets (a memo needs no registration on the cluster).
MEMO_TITLE: Final = "wfwatch.title"
MEMO_TURN: Final = "wfwatch.turn"

#: The handlers a steerable session implements.
SEND_MESSAGE_UPDATE: Final = "send_message"
CANCEL_TURN_SIGNAL: Final = "cancel_turn"
INFO_QUERY: Final = "info"


@dataclass
class SendResult:
    """What ``send_message`` returns: subscribe from ``head_offset`` to see the turn."""

    turn: int
    head_offset: int


@dataclass
class SessionInfo:
    """What the ``info`` query answers."""

    session_id: str
    title: str
    turn: int
    in_turn: bool
    head_offset: int
    turn_offsets: dict[int, int]
    pending: int
    runs: int
    foreign_batches: int = 0
