"""The scripted model: deterministic output, exact tokenization, injected faults."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import subprocess
import sys
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfwatch.agents.demo import DEMO_SESSIONS
from wfwatch.agents.model import ModelFailure, ScriptedModel, make_model, scripted_texts, tokenize
from wfwatch.agents.scenarios import (
    AUTO_PROMPTS,
    FALLBACK_ROLE,
    ROLE_THINKING,
    SCENARIOS,
    auto_prompt,
    scenario_for,
    tool_call_for,
    tool_result,
)
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
    assert 0 < len(reasoning.split()) <= 12
    assert 0 < len(answer.split()) <= 30 and answer.endswith(".")


def test_scripted_texts_depend_on_prompt_and_role_not_on_pacing() -> None:
    spec = ModelSpec(answer_words=30, reasoning_words=12)
    base = scripted_texts(spec, "hello", "writer")
    assert scripted_texts(spec, "summarize deploy d-2291 of checkout", "writer") != base
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
    reasoning, answer = scripted_texts(spec, "p", "writer")
    assert len(await collect(ScriptedModel(spec), attempt=1)) == len(tokenize(reasoning) + tokenize(answer))


# --- pacing ---------------------------------------------------------------------


async def test_zero_rate_is_unpaced() -> None:
    spec = ModelSpec(tokens_per_second=0, answer_words=20_000, reasoning_words=0)
    started = time.monotonic()
    deltas = await collect(ScriptedModel(spec))
    assert 19_900 <= len(deltas) <= 20_000
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
    spec = ModelSpec(
        tokens_per_second=100, answer="one two three four five six seven eight nine ten " * 2, reasoning=""
    )
    started = time.monotonic()
    deltas = await collect(ScriptedModel(spec))
    elapsed = time.monotonic() - started
    assert len(deltas) == 21  # 20 words and the trailing space
    # Token i is due at i / rate: the last (index 20) at 0.2 s.
    assert 0.18 <= elapsed < 1.5


async def test_crash_fault_is_ignored_unless_the_worker_allows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """An in-process demo worker must never be killed by a session's fault plan."""
    monkeypatch.delenv("WFWATCH_ALLOW_CRASH", raising=False)
    spec = ModelSpec(tokens_per_second=0, answer_words=10, reasoning_words=0, crash_after_tokens=2)
    deltas = await collect(ScriptedModel(spec), attempt=1)
    assert joined(deltas, "answer") == scripted_texts(spec, "p", "writer")[1]


# --- the scenarios: coherent, varied, deterministic --------------------------------

DEMO_SPECS = {
    name: [(spec.model, role) for role in ("planner", "writer")] + [(sub.model, sub.name) for sub in spec.subagents]
    for name, spec in DEMO_SESSIONS.items()
}


def _sentences(text: str, pool: tuple[str, ...]) -> list[str]:
    """Split ``text`` into sentences of ``pool`` (joined by single spaces), or fail the test."""
    found: list[str] = []
    rest = text
    while rest:
        match = next((s for s in sorted(pool, key=len, reverse=True) if rest == s or rest.startswith(s + " ")), None)
        assert match is not None, f"not a sentence of the scenario: {rest[:80]!r}"
        found.append(match)
        rest = rest[len(match) + 1 :]
    return found


def _answer_pool(prompt: str, role: str) -> tuple[str, ...]:
    scenario = scenario_for(prompt)
    return scenario.says.get(role) or scenario.says[FALLBACK_ROLE]


def _thinking_pool(prompt: str, role: str) -> tuple[str, ...]:
    return scenario_for(prompt).thinking + ROLE_THINKING.get(role, ROLE_THINKING[FALLBACK_ROLE])


def test_every_demo_text_is_whole_sentences_of_its_scenario() -> None:
    for session, calls in DEMO_SPECS.items():
        for prompt in AUTO_PROMPTS:
            for spec, role in calls:
                reasoning, answer = scripted_texts(spec, prompt, role)
                assert reasoning and answer, (session, prompt, role)
                for text, pool in ((answer, _answer_pool(prompt, role)), (reasoning, _thinking_pool(prompt, role))):
                    sentences = _sentences(text, pool)
                    assert all(s[-1] in ".?!" for s in sentences)
                    assert len(set(sentences)) == len(sentences), f"a short text repeats itself: {text!r}"
                    words = text.lower().split()
                    assert not any(words[i] == words[i + 1] == words[i + 2] for i in range(len(words) - 2))


def test_every_pool_sentence_is_a_sentence() -> None:
    pools = [s.thinking for s in SCENARIOS] + [p for s in SCENARIOS for p in s.says.values()]
    for pool in [*pools, *ROLE_THINKING.values()]:
        for sentence in pool:
            assert sentence[-1] in ".?!" and "  " not in sentence and sentence == sentence.strip()
            assert sentence[0].isupper() or sentence.split()[0].replace("_", "").isalnum(), sentence


def test_answers_open_with_the_lead_and_keep_the_pool_order() -> None:
    spec = ModelSpec(answer_words=60, reasoning_words=20)
    for prompt in AUTO_PROMPTS:
        for role in ("planner", "writer", "researcher", "critic"):
            pool = _answer_pool(prompt, role)
            sentences = _sentences(scripted_texts(spec, prompt, role)[1], pool)
            assert sentences[0] == pool[0]
            assert [pool.index(s) for s in sentences] == sorted(pool.index(s) for s in sentences)


def test_lengths_stay_near_the_requested_word_counts() -> None:
    """Benchmarks size their load in words: a text never exceeds its count and fills most of it."""
    for words in (20, 30, 45, 60, 150, 400, 2_000):
        for prompt in AUTO_PROMPTS:
            _, answer = scripted_texts(ModelSpec(answer_words=words), prompt, "writer")
            assert words * 0.5 <= len(tokenize(answer)) <= words, (words, prompt)
    # Fewer words than the lead sentence has: the lead alone, never a cut sentence.
    reasoning, answer = scripted_texts(ModelSpec(answer_words=3, reasoning_words=1), AUTO_PROMPTS[0], "writer")
    assert answer == _answer_pool(AUTO_PROMPTS[0], "writer")[0]
    assert reasoning == _thinking_pool(AUTO_PROMPTS[0], "writer")[len(scenario_for(AUTO_PROMPTS[0]).thinking)]


def test_long_texts_go_round_the_pool_without_a_sentence_twice_in_a_row() -> None:
    _, answer = scripted_texts(ModelSpec(answer_words=2_000), AUTO_PROMPTS[0], "writer")
    sentences = _sentences(answer, _answer_pool(AUTO_PROMPTS[0], "writer"))
    assert len(sentences) > 100
    assert all(a != b for a, b in itertools.pairwise(sentences))


def test_output_is_the_same_in_another_process() -> None:
    """Byte for byte across processes: nothing depends on Python's salted hash or on time."""
    code = (
        "from wfwatch.agents.model import scripted_texts; from wfwatch.agents.shared import ModelSpec;"
        "from wfwatch.agents.scenarios import auto_prompt, tool_call_for;"
        "p = [auto_prompt('demo-live', i) for i in range(20)];"
        "print(repr([(x, scripted_texts(ModelSpec(), x, r), tool_call_for(x)) for x in p for r in ('planner', 'critic')]))"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]
    assert runs[0] == runs[1]
    prompts = [auto_prompt("demo-live", i) for i in range(20)]
    here = repr(
        [(x, scripted_texts(ModelSpec(), x, r), tool_call_for(x)) for x in prompts for r in ("planner", "critic")]
    )
    assert runs[0].strip() == here


def test_a_long_running_session_varies_its_turns() -> None:
    turns = 24
    for session in DEMO_SESSIONS:
        prompts = [auto_prompt(session, i) for i in range(turns)]
        assert all(a != b for a, b in itertools.pairwise(prompts)), "the same prompt twice in a row"
        # Every prompt of the pool once per cycle.
        assert sorted(prompts[: len(AUTO_PROMPTS)]) == sorted(AUTO_PROMPTS)
        spec = DEMO_SESSIONS[session].model
        answers = {scripted_texts(spec, p, "writer")[1] for p in prompts}
        plans = {scripted_texts(spec, p, "planner")[1] for p in prompts}
        # Prompts of one scenario may share an answer (a plan, more often); across 24 turns most differ.
        assert len(answers) >= 10 and len(plans) >= len(SCENARIOS), (len(answers), len(plans))
        assert len({scenario_for(p).key for p in prompts}) == len(SCENARIOS)
    # Each session goes through the pool in its own order.
    orders = {tuple(auto_prompt(s, i) for i in range(6)) for s in DEMO_SESSIONS}
    assert len(orders) == len(DEMO_SESSIONS)
    assert auto_prompt("demo-live", 5) == auto_prompt("demo-live", 5 + len(AUTO_PROMPTS))


def test_reasoning_plans_and_then_the_answer_streams() -> None:
    for prompt in AUTO_PROMPTS:
        scenario = scenario_for(prompt)
        reasoning, plan = scripted_texts(ModelSpec(answer_words=60, reasoning_words=20), prompt, "planner")
        assert reasoning.startswith(scenario.thinking[0])
        assert plan.startswith("Plan: ")
        assert scenario.tool.name in plan, "the plan names the tool the turn then calls"


def test_sub_agents_speak_in_their_role() -> None:
    team = {sub.name: sub.model for sub in DEMO_SESSIONS["demo-team"].subagents}
    assert set(team) == {"researcher", "critic", "writer"}
    for prompt in AUTO_PROMPTS:
        scenario = scenario_for(prompt)
        texts = {role: scripted_texts(spec, prompt, role) for role, spec in team.items()}
        for role, (reasoning, answer) in texts.items():
            assert reasoning.startswith(ROLE_THINKING[role][0])
            assert set(_sentences(answer, scenario.says[role])) <= set(scenario.says[role])
        assert texts["researcher"][1] != texts["critic"][1] != texts["writer"][1]
    # An unknown role speaks like the writer, about the same scenario.
    _, answer = scripted_texts(ModelSpec(), AUTO_PROMPTS[0], "scout")
    _sentences(answer, _answer_pool(AUTO_PROMPTS[0], "writer"))


def test_tool_calls_carry_valid_json_and_a_matching_result() -> None:
    for prompt in AUTO_PROMPTS:
        tool = tool_call_for(prompt)
        assert re.fullmatch(r"[a-z_]+", tool.name)
        assert json.loads(tool.arguments_json) == tool.arguments and tool.arguments
        result = json.loads(tool_result(tool.name, tool.arguments_json))
        assert result == tool.result and result
    assert tool_call_for("the checkout errors are back").name == "search_logs"
    other = json.loads(tool_result("lookup", '{"q":1}'))
    assert other["ok"] is True and other == json.loads(tool_result("lookup", '{"q":1}'))


@pytest.mark.parametrize(
    ("prompt", "key"),
    [
        ("why did the deploy fail?", "deploy-summary"),
        ("the checkout alert fired again", "incident-triage"),
        ("please review PR 42", "change-review"),
        ("do we have headroom for the launch traffic?", "capacity-planning"),
        ("compare today's run with yesterday's", "slow-step"),
        ("what is our retry budget?", "retry-budget"),
    ],
)
def test_free_text_finds_its_scenario_by_keyword(prompt: str, key: str) -> None:
    assert scenario_for(prompt).key == key


def test_keywords_match_whole_words_and_anything_else_still_gets_a_scenario() -> None:
    assert scenario_for("a prompt about nothing").key == scenario_for("a prompt about nothing").key
    assert {scenario_for(f"hello {n}").key for n in range(40)} == {s.key for s in SCENARIOS}
    # "pr" inside "prompt" is no pull request: substring matching would tie it with "retry" and pick the review.
    assert scenario_for("retry the prompt").key == "retry-budget"


def test_demo_flaky_fails_mid_answer() -> None:
    """demo-flaky's fault lands inside the plan's answer, after its reasoning, on every prompt."""
    spec = DEMO_SESSIONS["demo-flaky"].model
    for prompt in AUTO_PROMPTS:
        for role in ("planner", "writer"):
            reasoning, answer = scripted_texts(spec, prompt, role)
            assert len(tokenize(reasoning)) < spec.fail_after_tokens < len(tokenize(reasoning) + tokenize(answer))
