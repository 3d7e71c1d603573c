"""The scripted model: deterministic output, exact tokenization, injected faults."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfwatch.agents.model import ModelFailure, ScriptedModel, make_model, scripted_texts, tokenize
from wfwatch.agents.shared import ModelSpec


async def collect(
    model: ScriptedModel, prompt: str = "p", role: str = "writer", attempt: int = 1
) -> list[tuple[str, str]]:
    return [delta async for delta in model.stream(prompt, role, attempt)]


def joined(deltas: list[tuple[str, str]], channel: str) -> str:
    return "".join(text for ch, text in deltas if ch == channel)


# --- determinism --------------------------------------------------------------


def test_scripted_texts_are_deterministic() -> None:
    spec = ModelSpec(answer_words=30, reasoning_words=12)
    assert scripted_texts(spec, "hello", "writer") == scripted_texts(
        ModelSpec(answer_words=30, reasoning_words=12), "hello", "writer"
    )
    reasoning, answer = scripted_texts(spec, "hello", "writer")
    assert len(reasoning.split()) == 12
    assert answer.startswith("[writer] ") and answer.endswith(".")
    assert len(answer.split()) == 31  # the role tag plus the words


def test_scripted_texts_depend_on_prompt_and_role_not_on_pacing() -> None:
    spec = ModelSpec(answer_words=30, reasoning_words=12)
    base = scripted_texts(spec, "hello", "writer")
    assert scripted_texts(spec, "hello!", "writer") != base
    assert scripted_texts(spec, "hello", "critic")[1] != base[1]
    assert (
        scripted_texts(ModelSpec(answer_words=30, reasoning_words=12, tokens_per_second=3), "hello", "writer") == base
    )


def test_fixed_texts_and_zero_lengths() -> None:
    assert scripted_texts(ModelSpec(answer="A b", reasoning="r"), "x", "y") == ("r", "A b")
    assert scripted_texts(ModelSpec(answer_words=0, reasoning_words=0), "x", "y") == ("", "")


async def test_stream_is_identical_on_every_run_and_attempt() -> None:
    spec = ModelSpec(tokens_per_second=0, answer_words=40, reasoning_words=10)
    first = await collect(ScriptedModel(spec), attempt=1)
    assert first == await collect(ScriptedModel(spec), attempt=1)
    assert first == await collect(ScriptedModel(spec), attempt=3)
    reasoning, answer = scripted_texts(spec, "p", "writer")
    assert joined(first, "reasoning") == reasoning
    assert joined(first, "answer") == answer
    # Reasoning comes entirely before the answer.
    channels = [ch for ch, _ in first]
    assert channels == ["reasoning"] * channels.count("reasoning") + ["answer"] * channels.count("answer")
    assert [text for _, text in first] == tokenize(reasoning) + tokenize(answer)


def test_make_model() -> None:
    assert isinstance(make_model(ModelSpec()), ScriptedModel)
    with pytest.raises(ValueError, match="unknown model provider"):
        make_model(ModelSpec(provider="nope"))


# --- tokenize -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", " ", "   ", "a", "a b", " a", "a ", "a  b", "  a  b  ", "[writer] one two three.", "x\ny z", "ünï cødé ✓"],
)
def test_tokenize_joins_back_exactly(text: str) -> None:
    tokens = tokenize(text)
    assert "".join(tokens) == text
    assert all(tokens)


def test_tokenize_splits_into_words() -> None:
    assert tokenize("one two  three") == ["one", " two", "  three"]


@given(st.text())
def test_tokenize_round_trips_any_text(text: str) -> None:
    tokens = tokenize(text)
    assert "".join(tokens) == text
    assert all(tokens)


# --- fault injection ------------------------------------------------------------


@pytest.mark.parametrize("fail_after", [1, 5, 14, 30])
async def test_fails_after_n_tokens_only_on_listed_attempts(fail_after: int) -> None:
    spec = ModelSpec(
        tokens_per_second=0, answer_words=30, reasoning_words=10, fail_after_tokens=fail_after, fail_on_attempts=[1, 3]
    )
    clean = await collect(ScriptedModel(ModelSpec(tokens_per_second=0, answer_words=30, reasoning_words=10)))
    for attempt in (1, 3):
        got: list[tuple[str, str]] = []
        with pytest.raises(ModelFailure, match=f"after {fail_after} tokens on attempt {attempt}"):
            async for delta in ScriptedModel(spec).stream("p", "writer", attempt):
                got.append(delta)
        assert got == clean[:fail_after]
    for attempt in (2, 4):
        assert await collect(ScriptedModel(spec), attempt=attempt) == clean


async def test_fault_beyond_the_output_length_never_fires() -> None:
    spec = ModelSpec(
        tokens_per_second=0, answer_words=3, reasoning_words=0, fail_after_tokens=100, fail_on_attempts=[1]
    )
    deltas = await collect(ScriptedModel(spec), attempt=1)
    assert joined(deltas, "answer") == scripted_texts(spec, "p", "writer")[1]


async def test_zero_fail_after_means_no_fault() -> None:
    spec = ModelSpec(tokens_per_second=0, answer_words=5, reasoning_words=2, fail_after_tokens=0, fail_on_attempts=[1])
    assert len(await collect(ScriptedModel(spec), attempt=1)) == 8


# --- pacing ---------------------------------------------------------------------


async def test_zero_rate_is_unpaced() -> None:
    spec = ModelSpec(tokens_per_second=0, answer_words=20_000, reasoning_words=0)
    started = time.monotonic()
    deltas = await collect(ScriptedModel(spec))
    assert len(deltas) == 20_001
    assert time.monotonic() - started < 2.0


async def test_zero_rate_still_yields_to_the_event_loop() -> None:
    """Unpaced streaming must stay cancellable (it yields every 256 tokens)."""
    spec = ModelSpec(tokens_per_second=0, answer_words=5_000, reasoning_words=0)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        await collect(ScriptedModel(spec))
    finally:
        task.cancel()
    assert ticks >= 5


async def test_positive_rate_paces_tokens() -> None:
    spec = ModelSpec(tokens_per_second=100, answer_words=20, reasoning_words=0)
    started = time.monotonic()
    deltas = await collect(ScriptedModel(spec))
    elapsed = time.monotonic() - started
    assert len(deltas) == 21
    # Token i is due at i / rate: the last (index 20) at 0.2 s.
    assert 0.18 <= elapsed < 1.5


async def test_crash_fault_is_ignored_unless_the_worker_allows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """An in-process demo worker must never be killed by a session's fault plan."""
    monkeypatch.delenv("WFWATCH_ALLOW_CRASH", raising=False)
    spec = ModelSpec(tokens_per_second=0, answer_words=10, reasoning_words=0, crash_after_tokens=2)
    deltas = await collect(ScriptedModel(spec), attempt=1)
    assert joined(deltas, "answer") == scripted_texts(spec, "p", "writer")[1]
