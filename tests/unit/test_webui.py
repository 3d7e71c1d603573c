"""Temporal Web UI links: quoting workflow-controlled parts, and where the UI's address comes from."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from wfwatch.temporal.running_demo import RunningDemo, advertise
from wfwatch.webui import ENV, configured_ui, workflow_url


def test_a_hostile_id_stays_one_path_segment() -> None:
    url = workflow_url("http://ui:8233/", "team a", "a b/c?d#e", "run-1")
    assert url == "http://ui:8233/namespaces/team%20a/workflows/a%20b%2Fc%3Fd%23e/run-1/history"
    parts = urlsplit(url)
    assert parts.query == "" and parts.fragment == ""  # nothing after ? or # escaped the path
    segments = parts.path.split("/")
    assert unquote(segments[4]) == "a b/c?d#e" and segments[-1] == "history"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WFWATCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(ENV, raising=False)
    return tmp_path


def test_the_preference_then_the_environment_then_nothing(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert configured_ui("", address="localhost:7233") is None
    monkeypatch.setenv(ENV, "http://env-ui:8233/")
    assert configured_ui("", address="localhost:7233") == "http://env-ui:8233"
    assert configured_ui("https://pref-ui", address="localhost:7233") == "https://pref-ui"


def test_a_running_demos_ui_only_for_that_demos_server(home: Path) -> None:
    demo = RunningDemo(address="127.0.0.1:45678", namespace="default", pid=os.getpid(), ui_url="http://127.0.0.1:45679")
    with advertise(demo):
        assert configured_ui("", address="127.0.0.1:45678") == "http://127.0.0.1:45679"
        assert configured_ui("", address="prod.example:7233") is None, "another server's workflows are not there"
    assert configured_ui("", address="127.0.0.1:45678") is None, "the demo stopped"
