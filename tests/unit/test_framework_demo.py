"""The demo's framework sessions: skipped with a reason when a framework is missing; wfwatch never needs one."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from wfwatch.agents.frameworks import demo, missing_framework


class NoClient:
    """Any Temporal call would fail the test: a skipped session must not touch the server."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the client was used ({name}) although every framework was missing")


async def test_every_missing_framework_is_one_skip_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "missing_framework", lambda name: f"{name} is not installed")
    async with demo.framework_sessions(NoClient()) as started:  # type: ignore[arg-type]
        assert started.session_ids == []
        assert started.skipped == [
            "skipped demo-pydantic: pydantic-ai is not installed",
            "skipped demo-openai: openai-agents is not installed",
        ]


def test_a_missing_framework_names_its_package_and_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pydantic_ai", None)  # what find_spec reports for an absent package
    monkeypatch.setitem(sys.modules, "agents", None)
    assert missing_framework("pydantic-ai") == "pydantic-ai-slim is not installed (pip install 'wfwatch[pydantic-ai]')"
    assert missing_framework("openai-agents") == (
        "temporalio-openai-agents is not installed (pip install 'wfwatch[openai-agents]')"
    )


def test_installed_frameworks_are_not_reported_missing() -> None:
    # Both are in the dev group, so `uv run` has them.
    assert missing_framework("pydantic-ai") is None
    assert missing_framework("openai-agents") is None


def test_wfwatch_and_the_demo_import_without_the_frameworks() -> None:
    code = (
        "import sys\n"
        "sys.modules['pydantic_ai'] = None\n"
        "sys.modules['agents'] = None\n"
        "sys.modules['temporalio.openai_agents'] = None\n"
        "import wfwatch.cli, wfwatch.agents.worker, wfwatch.agents.frameworks.demo, wfwatch.reducer, wfwatch.schemas\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_pydantic_ai_session_keeps_pydantic_ais_banner_off_the_dashboard() -> None:
    """PydanticAI prints a first-run banner to the terminal (not under pytest or CI): under Textual it garbles the screen."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_VERSION", "CI", "PYDANTIC_AI_NO_BANNER")}
    code = (
        "import wfwatch.agents.frameworks.pydantic_ai_session\n"
        "from pydantic_ai._display import _banner_suppressed\n"
        "print(_banner_suppressed())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
