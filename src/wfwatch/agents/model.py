"""Language models behind one interface; the scripted one is the default.

:class:`ScriptedModel` is deterministic: the same prompt, role and spec give
the same tokens on every run and every attempt, so tests can compare a
retried answer byte for byte with an undisturbed one, and the demo runs
offline. A real provider implements :class:`LanguageModel` the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import time
from collections.abc import AsyncIterator
from typing import Literal, Protocol

from wfwatch.agents.shared import ModelSpec

Channel = Literal["answer", "reasoning"]


class ModelFailure(Exception):
    """The model call failed mid-stream (injected, or a provider error)."""


class LanguageModel(Protocol):
    def stream(self, prompt: str, role: str, attempt: int) -> AsyncIterator[tuple[Channel, str]]:
        """Yield ``(channel, text)`` deltas: reasoning first, then the answer."""
        ...


_WORDS = [
    "the",
    "agent",
    "reads",
    "the",
    "workflow",
    "history",
    "and",
    "checks",
    "each",
    "step",
    "before",
    "it",
    "answers",
    "durable",
    "streams",
    "keep",
    "every",
    "token",
    "at",
    "an",
    "offset",
    "so",
    "a",
    "late",
    "device",
    "can",
    "replay",
    "from",
    "zero",
    "while",
    "the",
    "live",
    "tail",
    "keeps",
    "flowing",
    "retries",
    "restart",
    "the",
    "call",
    "but",
    "the",
    "session",
    "shows",
    "one",
    "clean",
    "answer",
    "sub",
    "agents",
    "work",
    "in",
    "lanes",
    "of",
    "their",
    "own",
    "and",
    "the",
    "hub",
    "fans",
    "one",
    "upstream",
    "reader",
    "out",
    "to",
    "many",
    "devices",
    "each",
    "with",
    "a",
    "cursor",
    "of",
    "its",
    "own",
    "temporal",
    "keeps",
    "the",
    "run",
    "alive",
    "across",
    "crashes",
    "and",
    "the",
    "dashboard",
    "shows",
    "where",
    "every",
    "reader",
    "stands",
]


def _words(seed: str, count: int) -> list[str]:
    digest = hashlib.sha256(seed.encode()).digest()
    start = int.from_bytes(digest[:4], "big")
    step = 1 + digest[4] % 7
    return [_WORDS[(start + i * step) % len(_WORDS)] for i in range(count)]


def scripted_texts(spec: ModelSpec, prompt: str, role: str) -> tuple[str, str]:
    """The (reasoning, answer) the scripted model produces: tests use it as truth."""
    reasoning = spec.reasoning
    if reasoning is None:
        reasoning = " ".join(_words(f"r|{role}|{prompt}", spec.reasoning_words)) if spec.reasoning_words else ""
    answer = spec.answer
    if answer is None:
        words = _words(f"a|{role}|{prompt}", spec.answer_words)
        answer = f"[{role}] " + " ".join(words) + "." if words else ""
    return reasoning, answer


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
