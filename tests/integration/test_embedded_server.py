"""The embedded dev server really starts, registers search attributes, persists, and dies cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from wfwatch.temporal.server import EmbeddedServer, ServerError, find_temporal_binary


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _custom_search_attributes(client: Client, namespace: str) -> dict[str, int]:
    resp = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    return dict(resp.custom_attributes)


def test_find_temporal_binary() -> None:
    binary = find_temporal_binary()
    assert binary.is_file()
    assert os.access(binary, os.X_OK)


@pytest.mark.asyncio
async def test_start_register_stop_and_restart_on_same_db(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "temporal.db"  # parent dir must be created for us
    log = tmp_path / "server.log"

    server = EmbeddedServer(
        db,
        search_attributes={"WfwatchSession": "Keyword", "WfwatchTurn": "Int"},
        log_path=log,
    )
    async with server:
        assert server.running
        assert server.address.startswith("127.0.0.1:")
        assert server.ui_url is None  # headless by default
        assert server.startup_seconds is not None and server.startup_seconds > 0
        pid = server.pid
        assert pid is not None

        client = await Client.connect(server.address, namespace=server.namespace)
        ns = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
        assert ns.namespace_info.name == "default"
        attrs = await _custom_search_attributes(client, server.namespace)
        assert attrs["WfwatchSession"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        assert attrs["WfwatchTurn"] == IndexedValueType.INDEXED_VALUE_TYPE_INT

        # Something to find after the restart (no worker needed to start one).
        await client.start_workflow("NoSuchWorkflow", id="persisted-wf", task_queue="nowhere")

    assert not server.running
    assert server.pid is None
    assert not _pid_exists(pid)
    assert db.is_file()
    assert log.is_file()

    # Restart on the same db without re-registering: state must come back.
    async with EmbeddedServer(db) as again:
        client = await Client.connect(again.address, namespace=again.namespace)
        attrs = await _custom_search_attributes(client, again.namespace)
        assert "WfwatchSession" in attrs
        desc = await client.get_workflow_handle("persisted-wf").describe()
        assert desc.workflow_type == "NoSuchWorkflow"
        second_pid = again.pid
    assert second_pid is not None and not _pid_exists(second_pid)


@pytest.mark.asyncio
async def test_in_memory_with_ui_and_custom_namespace() -> None:
    async with EmbeddedServer(None, namespace="wfwatch-test", ui=True) as server:
        assert server.ui_url is not None and server.ui_url.startswith("http://127.0.0.1:")
        client = await Client.connect(server.address, namespace=server.namespace)
        ns = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="wfwatch-test"))
        assert ns.namespace_info.name == "wfwatch-test"


@pytest.mark.asyncio
async def test_missing_binary_raises_server_error(tmp_path: Path) -> None:
    server = EmbeddedServer(binary=tmp_path / "does-not-exist" / "temporal")
    with pytest.raises(ServerError, match="cannot run the Temporal CLI"):
        await server.start()
    assert server.pid is None
    await server.stop()  # idempotent, nothing to do


@pytest.mark.asyncio
async def test_early_exit_quotes_server_log() -> None:
    server = EmbeddedServer(extra_args=["--no-such-flag"])
    with pytest.raises(ServerError, match="exited during startup") as info:
        await server.start()
    assert "no-such-flag" in str(info.value)
    assert server.pid is None


def test_atexit_kills_server_when_owner_forgets_to_stop() -> None:
    script = textwrap.dedent(
        """
        import asyncio
        from wfwatch.temporal.server import EmbeddedServer

        async def main() -> None:
            server = EmbeddedServer()
            await server.start()
            print(server.pid, flush=True)

        asyncio.run(main())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pid = int(out.stdout.strip())
    assert not _pid_exists(pid)
