"""Inputs, outputs and constants shared by the demo agent's workflows and activities.

One input dataclass per workflow and activity, so fields can be added later
without breaking running histories (the temporalio samples' convention).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.contrib.workflow_streams import WorkflowStreamState

TASK_QUEUE = "wfwatch-agents"

#: Search attributes the session list reads (registered by the embedded server).
SEARCH_ATTRIBUTES: dict[str, str] = {"WfwatchSession": "Keyword", "WfwatchTurn": "Int"}

#: The most a session's continue-as-new input may weigh, serialized: Temporal's
#: SDK warns (TMPRL1103) above 512 KiB a payload and the server refuses 2 MiB.
#: The log gets what the rest of the carried state leaves; what does not fit
#: is truncated, and readers get an explicit gap for it.
MAX_CARRY_PAYLOAD_BYTES = 320 * 1024
#: A poll Update's result, at most (the SDK's cap is 1 MB): a reader catching
#: up gets several smaller batches. A single item larger than this still goes
#: alone (see ``PublisherSettings.max_event_bytes``).
MAX_POLL_RESULT_BYTES = 256 * 1024
#: Messages waiting to become turns, JSON-encoded, at most: they are carried
#: whole across continue-as-new, so they must leave room for the log.
MAX_PENDING_BYTES = 128 * 1024
#: The newest entries of the transcript and of the turn offsets carried over.
MAX_CARRIED_TRANSCRIPT_BYTES = 16 * 1024
MAX_CARRIED_TURNS = 1000


@dataclass
class ModelSpec:
    """How the scripted model behaves; a real provider ignores what it can't use."""

    provider: str = "scripted"
    tokens_per_second: float = 40.0
    answer_words: int = 48
    reasoning_words: int = 24
    #: Fixed texts instead of generated ones (tests compare against them).
    answer: str | None = None
    reasoning: str | None = None
    #: Fault injection: raise after this many tokens on the listed attempts.
    fail_after_tokens: int = 0
    fail_on_attempts: list[int] = field(default_factory=list)
    #: Fault injection: SIGKILL the worker process after this many tokens on
    #: attempt 1 (honoured only by a worker started with WFWATCH_ALLOW_CRASH=1,
    #: so an in-process demo worker is never taken down by accident).
    crash_after_tokens: int = 0


@dataclass
class SubagentSpec:
    name: str
    model: ModelSpec = field(default_factory=ModelSpec)
    fail: bool = False


@dataclass
class CarriedState:
    """What a session hands to its next run at continue-as-new."""

    turn: int = 0
    turn_offsets: dict[int, int] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    in_turn: bool = False
    user_message: str = ""
    step_index: int = 0
    auto_turns_done: int = 0
    runs: int = 1
    transcript: list[str] = field(default_factory=list)
    #: Asked for by signal. Kept here, not on the workflow object, so a close or
    #: cancel that arrives just before continue-as-new reaches the next run
    #: (a signal is handled once, in the run that received it).
    closing: bool = False
    cancel_requested: bool = False
    #: Publish batches refused because their publisher wrote for another
    #: workflow that had this id before (see ``publisher_id_for``).
    foreign_batches: int = 0


@dataclass
class SessionInput:
    title: str = "agent session"
    model: ModelSpec = field(default_factory=ModelSpec)
    #: User messages queued at start (each becomes a turn).
    messages: list[str] = field(default_factory=list)
    #: Generate this many extra turns by itself (a long-running demo session).
    auto_turns: int = 0
    pause_between_turns: float = 2.0
    #: Close after this long with nothing to do (0: never; wait for messages).
    idle_timeout: float = 0.0
    #: Sub-agents run in every turn's "delegate" step (empty: no such step).
    subagents: list[SubagentSpec] = field(default_factory=list)
    #: Continue-as-new once history reaches this many events (Update and
    #: history limits stay far away), or after this many steps (tests).
    rollover_history_events: int = 4000
    rollover_after_steps: int = 0
    #: Bytes of stream log carried across continue-as-new, at most (older
    #: offsets are truncated; readers get an explicit gap for them). The whole
    #: input stays under ``MAX_CARRY_PAYLOAD_BYTES`` whatever this says.
    carry_log_bytes: int = MAX_CARRY_PAYLOAD_BYTES
    publish_linger: float = 0.05
    #: Also set the WfwatchSession/WfwatchTurn search attributes (they must be
    #: registered on the namespace; the embedded server registers them). Title
    #: and turn always go into the memo, which needs no registration.
    search_attributes: bool = False
    #: Seconds without a heartbeat before an LLM attempt counts as lost (e.g.
    #: its worker was killed); the retry starts only after this.
    llm_heartbeat_timeout: float = 10.0
    stream_state: WorkflowStreamState | None = None
    carried: CarriedState | None = None


@dataclass
class SessionResult:
    turns: int
    status: str
    runs: int


@dataclass
class SendResult:
    """What ``send_message`` returns: subscribe from ``head_offset`` to see the turn."""

    turn: int
    head_offset: int


@dataclass
class SessionInfo:
    session_id: str
    title: str
    turn: int
    in_turn: bool
    head_offset: int
    turn_offsets: dict[int, int]
    pending: int
    runs: int
    foreign_batches: int = 0


@dataclass
class LlmInput:
    stream_workflow_id: str
    message_id: str
    lane: str
    turn: int
    step_id: str
    prompt: str
    role: str
    model: ModelSpec
    linger: float = 0.05
    #: First run id of the stream's workflow: batches from an activity whose
    #: workflow was replaced under the same id are dropped by the new one.
    stream_epoch: str = ""


@dataclass
class LlmOutput:
    text: str
    tokens: int
    attempt: int


@dataclass
class ToolInput:
    name: str
    arguments: str


@dataclass
class SubagentInput:
    stream_workflow_id: str
    lane: str
    turn: int
    task: str
    spec: SubagentSpec
    linger: float = 0.05
    heartbeat_timeout: float = 10.0
    stream_epoch: str = ""


@dataclass
class SubagentResult:
    lane: str
    text: str
