"""Shared fixtures: one real Temporal dev server per test session.

Tests never mock Temporal. Each test gets a fresh task queue and runs its own
worker on it, so tests don't see each other's workflows.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from wfwatch.agents.shared import SEARCH_ATTRIBUTES
from wfwatch.agents.worker import create_worker
from wfwatch.temporal.server import EmbeddedServer


def pytest_configure(config: pytest.Config) -> None:
    """Keep the hub's positions/cache and preferences out of the user's own dirs."""
    os.environ.setdefault("WFWATCH_HOME", tempfile.mkdtemp(prefix="wfwatch-tests-"))


@pytest.fixture(scope="session")
async def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedServer]:
    db = Path(tmp_path_factory.mktemp("temporal")) / "temporal.db"
    async with EmbeddedServer(db_path=db, search_attributes=SEARCH_ATTRIBUTES) as server:
        yield server


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
