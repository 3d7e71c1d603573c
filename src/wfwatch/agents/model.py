"""Language models behind one interface; the scripted one is the default.

:class:`ScriptedModel` is deterministic: the same prompt, role and spec give
the same tokens on every run and every attempt, so tests can compare a
retried answer byte for byte with an undisturbed one, and the demo runs
offline. It speaks in whole sentences about the prompt's operations
scenario (:mod:`wfwatch.agents.scenarios`). A real provider implements :class:`LanguageModel` the same way.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from collections.abc import AsyncIterator
from typing import Literal, Protocol

from wfwatch.agents.scenarios import FALLBACK_ROLE, ROLE_THINKING, Scenario, digest, scenario_for
from wfwatch.agents.shared import ModelSpec

Channel = Literal["answer", "reasoning"]


class ModelFailure(Exception):
    """The model call failed mid-stream (injected, or a provider error)."""


class LanguageModel(Protocol):
    def stream(self, prompt: str, role: str, attempt: int) -> AsyncIterator[tuple[Channel, str]]:
        """Yield ``(channel, text)`` deltas: reasoning first, then the answer."""
        ...


def scripted_texts(spec: ModelSpec, prompt: str, role: str) -> tuple[str, str]:
    """The (reasoning, answer) the scripted model produces: tests use it as truth.

    Both are whole sentences from the prompt's scenario (see
    :mod:`wfwatch.agents.scenarios`), about ``reasoning_words`` and
    ``answer_words`` words long (never longer, unless one sentence is).
    """
    scenario = scenario_for(prompt)
    reasoning = spec.reasoning
    if reasoning is None:
        reasoning = compose(_thinking(scenario, role), ("r", role, prompt, spec.reasoning_words), spec.reasoning_words)
    answer = spec.answer
    if answer is None:
        says = scenario.says.get(role) or scenario.says[FALLBACK_ROLE]
        answer = compose(says, ("a", role, prompt, spec.answer_words), spec.answer_words)
    return reasoning, answer


def _thinking(scenario: Scenario, role: str) -> tuple[str, ...]:
    """The planner thinks about the task first; other roles start from their role."""
    own = ROLE_THINKING.get(role, ROLE_THINKING[FALLBACK_ROLE])
    return scenario.thinking + own if role == "planner" else own + scenario.thinking


def compose(pool: tuple[str, ...], seed: tuple[object, ...], words: int) -> str:
    """Whole sentences of ``pool``, in the pool's order, adding up to at most ``words`` words.

    The first sentence always leads (and is said even when it alone is too
    long); ``seed`` picks which of the others fit. A long text goes round the
    pool again, but only while the whole pool still fits, so a text as short
    as a demo answer never repeats itself.
    """
    if words <= 0 or not pool:
        return ""
    pool_words = sum(_size(s) for s in pool)
    chosen: list[str] = []
    total = 0
    for round_ in itertools.count():
        room = words - total
        if chosen and room < pool_words:
            break
        picked = _pick(pool, (*seed, round_), room, must_lead=not chosen)
        if not picked:
            break
        chosen += picked
        total += sum(_size(s) for s in picked)
    return " ".join(chosen)


def _pick(pool: tuple[str, ...], seed: tuple[object, ...], room: int, must_lead: bool) -> list[str]:
    """One pass over the pool: the lead, then the others ``seed`` ranks first that fit in ``room`` words."""
    lead, rest = pool[0], range(1, len(pool))
    if _size(lead) > room and not must_lead:
        return []
    taken = {0}
    left = room - _size(lead)
    for index in sorted(rest, key=lambda i: digest(*seed, pool[i])):
        if _size(pool[index]) <= left:
            taken.add(index)
            left -= _size(pool[index])
    return [pool[i] for i in sorted(taken)]


def _size(sentence: str) -> int:
    return len(sentence.split())


def tokenize(text: str) -> list[str]:
    """Split into word-sized tokens that join back to exactly ``text``."""
    tokens: list[str] = []
    current = ""
    for char in text:
        if char == " " and current.strip():
            tokens.append(current)
            current = ""
        current += char
    if current:
        tokens.append(current)
    return tokens


class ScriptedModel:
    """Deterministic streaming model with optional paced output and faults."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    async def stream(self, prompt: str, role: str, attempt: int) -> AsyncIterator[tuple[Channel, str]]:
        reasoning, answer = scripted_texts(self.spec, prompt, role)
        fail_after = self.spec.fail_after_tokens if attempt in self.spec.fail_on_attempts else 0
        crash_after = self.spec.crash_after_tokens if attempt == 1 and crash_allowed() else 0
        rate = self.spec.tokens_per_second
        started = time.monotonic()
        emitted = 0
        for channel, text in (("reasoning", reasoning), ("answer", answer)):
            for token in tokenize(text):
                if crash_after and emitted >= crash_after:
                    os.kill(os.getpid(), signal.SIGKILL)  # a hard crash: no cleanup, no flush
                if fail_after and emitted >= fail_after:
                    raise ModelFailure(f"scripted failure after {emitted} tokens on attempt {attempt}")
                if rate > 0:
                    delay = started + emitted / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                elif emitted % 256 == 0:
                    await asyncio.sleep(0)  # stay cancellable when unpaced
                emitted += 1
                yield channel, token  # type: ignore[misc]


def crash_allowed() -> bool:
    return os.environ.get("WFWATCH_ALLOW_CRASH") == "1"


def make_model(spec: ModelSpec) -> LanguageModel:
    if spec.provider == "scripted":
        return ScriptedModel(spec)
    raise ValueError(f"unknown model provider {spec.provider!r} (available: scripted)")
