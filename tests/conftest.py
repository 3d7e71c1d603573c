"""Shared fixtures: one real Temporal dev server per test session.

Tests never mock Temporal. Each test gets a fresh task queue and runs its own
worker on it, so tests don't see each other's workflows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Generator
from pathlib import Path

import pytest
from history_outline import NONDETERMINISM, history_outlines
from temporalio.client import Client
from temporalio.worker import Worker

from wfwatch.agents.shared import SEARCH_ATTRIBUTES
from wfwatch.agents.worker import create_worker
from wfwatch.temporal.server import EmbeddedServer, find_temporal_binary

HOME_ENV = "WFWATCH_HOME"
#: The home this run made for itself (removed at the end); absent when the caller chose one.
_OWN_HOME = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    """Keep the hub's positions/cache and preferences out of the user's own dirs.

    A ``WFWATCH_HOME`` the caller set is used and kept. Otherwise the run makes a
    temp dir and removes it at the end. Each pytest-xdist worker gets a dir of
    its own inside it, so workers never share a cache file or preferences.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    home = os.environ.get(HOME_ENV)
    if home is None:
        own = Path(tempfile.mkdtemp(prefix="wfwatch-tests-"))
        config.stash[_OWN_HOME] = own
        home = str(own)
    if worker:
        # Workers inherit the controller's home; the controller removes it, subdirs included.
        worker_home = Path(home) / worker
        worker_home.mkdir(exist_ok=True)
        home = str(worker_home)
    os.environ[HOME_ENV] = home


def pytest_unconfigure(config: pytest.Config) -> None:
    own = config.stash.get(_OWN_HOME, None)
    if own is not None:
        shutil.rmtree(own, ignore_errors=True)
        os.environ.pop(HOME_ENV, None)


@pytest.fixture(scope="session")
async def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedServer]:
    db = Path(tmp_path_factory.mktemp("temporal")) / "temporal.db"
    async with EmbeddedServer(db_path=db, search_attributes=SEARCH_ATTRIBUTES) as server:
        _SERVER.append(server)
        try:
            yield server
        finally:
            _SERVER.clear()


#: The run's shared server while it is up (for the nondeterminism report below).
_SERVER: list[EmbeddedServer] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failure that mentions TMPRL1100 shows the named workflows' histories in outline."""
    report = yield
    text = getattr(report, "longreprtext", "")
    if report.failed and NONDETERMINISM in text and _SERVER:
        server = _SERVER[0]
        found = history_outlines(str(find_temporal_binary()), server.address, server.namespace, text)
        if found:
            report.sections.append(("history of the nondeterministic workflow", found))
    return report


@pytest.fixture(scope="session")
async def client(temporal_server: EmbeddedServer) -> Client:
    return await Client.connect(temporal_server.address, namespace=temporal_server.namespace)


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4()}"


@pytest.fixture
async def worker(client: Client, task_queue: str) -> AsyncIterator[Worker]:
    async with create_worker(client, task_queue) as running:
        yield running
