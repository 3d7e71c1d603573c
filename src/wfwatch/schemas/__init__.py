"""Streams other agent frameworks write, mapped onto wfwatch's own events.

The Temporal integrations of the OpenAI Agents SDK and PydanticAI publish
into Workflow Streams in their own schemas. This package turns their items
into the :mod:`wfwatch.events` the reducer already folds, so the panes,
``tail``, the bridge and its page render a framework's run with the same
lanes, timeline, tool rows and canonical retries as the demo agent's.

One small module per schema, pure: no Temporal, no Textual, and no import
of the framework itself. Their wire JSON is the contract (recorded payloads
in ``tests/unit/recordings`` pin it). A schema is recognised from the
payloads themselves, per topic, so no flag is needed; ``Translator(schema=)``
forces one where a stream is ambiguous.

Translation is a fold: which attempt a delta belongs to, which turn a model
call opens, depend on what came before. A device therefore translates the
records it receives from its own first offset, inside its
:class:`~wfwatch.reducer.Reducer`; two devices that received the same
offsets translate them identically. What each schema can and cannot know is
written in ``docs/frameworks.md``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Final, Protocol

import msgspec

from wfwatch import events
from wfwatch.events import Event


class SchemaAdapter(Protocol):
    """The fold of one topic written in one framework's schema."""

    #: The schema's name as shown to users (``"pydantic-ai"``).
    schema: str
    #: The field its items name their type by (``"type"``, ``"event_kind"``): a known item's ``kind``.
    type_field: str

    def translate(self, offset: int, data: Any) -> tuple[Event, ...] | None:
        """The wfwatch events one item stands for; ``None`` when the item's type is not known."""
        ...

    def translate_head(self, offset: int, head: events.ItemHead) -> tuple[Event, ...] | None:
        """The events of an item its head alone decides (text deltas, quiet types); ``None``: read it whole."""
        ...

    def gap(self) -> None:
        """Items were lost here: forget the model call in progress (what follows starts afresh)."""
        ...


class _Detector(Protocol):
    def __call__(self, data: Any) -> bool: ...


def _registry() -> dict[str, tuple[_Detector, type[Any]]]:
    from wfwatch.schemas import openai_agents, pydantic_ai

    return {
        openai_agents.SCHEMA: (openai_agents.looks_like, openai_agents.OpenAIAgentsAdapter),
        openai_agents.ITEMS_SCHEMA: (openai_agents.looks_like_items, openai_agents.OpenAIAgentsItemsAdapter),
        pydantic_ai.SCHEMA: (pydantic_ai.looks_like, pydantic_ai.PydanticAIAdapter),
    }


#: Schema names :class:`Translator` accepts as an override.
SCHEMAS: Final = ("openai-agents", "openai-agents-items", "pydantic-ai")
#: The ``reason`` of an item a schema knew (built once, not per item).


def detect(data: Any) -> str | None:
    """The schema an item's JSON is written in, or ``None`` for a generic item."""
    for name, (looks_like, _) in _registry().items():
        if looks_like(data):
            return name
    return None


class Translator:
    """Per device: picks a schema for each foreign topic and folds its items.

    The first framework topic seen is the session's own agent (the main
    lane); a further topic in a framework schema (a delegate agent that
    publishes on a topic of its own) becomes a lane named after the topic.
    Items the schema does not know are left as they are and counted per
    type, so the raw view shows them and nothing is dropped silently.
    """

    def __init__(self, schema: str | None = None, *, turns_before: int = 0) -> None:
        """``turns_before``: the turns a device joining at a turn's first offset did not see."""
        if schema is not None and schema not in SCHEMAS:
            raise ValueError(f"unknown schema {schema!r}: use one of {', '.join(SCHEMAS)}")
        self._forced = schema
        self._turns_before = turns_before
        self._adapters: dict[str, SchemaAdapter | None] = {}
        self._main_topic: str | None = None
        #: ``(schema, type) -> count`` of items a known schema did not know.
        self.unknown_types: Counter[tuple[str, str]] = Counter()
        self.translated = 0

    @property
    def schemas(self) -> dict[str, str]:
        """``topic -> schema`` for every topic recognised so far."""
        return {topic: adapter.schema for topic, adapter in self._adapters.items() if adapter is not None}

    def translate(self, record: events.Record) -> tuple[events.Record, bool]:
        """``record`` with its ``derived`` events, and whether a schema knew the item.

        An item a schema knows may stand for no event at all (``derived`` is
        empty, the flag is true); an item of a known schema but an unknown
        type comes back unchanged but for its ``reason``, with the flag false.
        """
        item = record.item
        if type(item) is not events.UnknownItem or item.topic == events.TOPIC:
            return record, False
        topic, head = item.topic, item.head
        # Every item of a stream passes here: the topic's adapter first, detection only for a new topic.
        adapter = self._adapters.get(topic)
        if adapter is None:
            if head is not None and head.type is None and head.event_kind is None:
                return record, False  # no type field: no framework's item (and no need to decode it)
            adapter = self._adapter(topic, item.value())
            if adapter is None:
                return record, False
        offset = record.offset
        # The head alone decides most items (text deltas) without decoding the rest of the object.
        derived = adapter.translate_head(offset, head) if head is not None else None
        data: Any = None
        if derived is None:
            data = item.value()
            if not isinstance(data, dict):
                return record, False  # not a framework's JSON object: it keeps its reason
            derived = adapter.translate(offset, data)
        if derived is None:
            kind = type_of(data)
            self.unknown_types[(adapter.schema, kind)] += 1
            reason = f"{adapter.schema} event of a type wfwatch does not know ({kind!r})"
            return events.Record(offset, msgspec.structs.replace(item, kind=kind, reason=reason)), False
        self.translated += 1
        return events.Record(offset, item, derived, adapter.schema), True

    def gap(self) -> None:
        """Offsets are gone: no fold may take what follows for the rest of a call it did not see end."""
        for adapter in self._adapters.values():
            if adapter is not None:
                adapter.gap()

    def _adapter(self, topic: str, data: Any) -> SchemaAdapter | None:
        if not isinstance(data, dict):
            return None  # not a framework's JSON object (bytes that are not JSON keep their reason)
        name = self._forced or detect(data)
        if name is None:
            return None  # undecided: a later item on the topic may still tell
        factory = _registry()[name][1]
        lane = events.MAIN_LANE
        if getattr(factory, "auxiliary", False):
            pass  # it names its events' lanes itself
        elif self._main_topic is None:
            self._main_topic = topic
        else:
            lane = topic
        adapter: SchemaAdapter = factory(lane=lane, turns_before=self._turns_before)
        self._adapters[topic] = adapter
        return adapter


def type_of(data: Any) -> str:
    """The type a framework item names itself by (its ``type`` or ``event_kind``), or ``""``.

    :func:`wfwatch.events.type_field`'s answer, inlined: it runs for every item of a stream.
    """
    if isinstance(data, dict):
        for key in events.TYPE_FIELDS:
            found = data.get(key)
            if isinstance(found, str):
                return found
    return ""


def text_of(value: Any, limit: int = 1_000_000) -> str:
    """A payload field as display text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value[:limit]
    if value is None:
        return ""
    try:
        return msgspec.json.encode(value).decode()[:limit]
    except (TypeError, ValueError, OverflowError):
        return repr(value)[:limit]
