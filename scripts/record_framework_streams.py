"""Record what the real framework integrations publish into Workflow Streams, for unit tests.

    uv run python scripts/record_framework_streams.py [--out tests/unit/recordings]

Starts an embedded dev server, runs the PydanticAI and OpenAI Agents SDK
sessions of ``wfwatch.agents.frameworks`` (real frameworks, real Temporal
integrations, offline scripted models) in a few variants, reads each stream
with wfwatch's own reader and writes ``<framework>_<variant>.jsonl``: one line
per offset, ``{"offset": N, "topic": "...", "data": <the item's JSON value>}``.
Nothing here is written by hand: the files are the frameworks' wire JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client

from wfwatch import events
from wfwatch.agents.frameworks import FrameworkSessionInput
from wfwatch.stream.reader import read_all
from wfwatch.temporal.server import EmbeddedServer

OUT = Path(__file__).resolve().parent.parent / "tests" / "unit" / "recordings"
FIRST = "Where is my order A-1042?"
SECOND = "And what about order B-2077?"


@dataclass(frozen=True)
class Variant:
    name: str
    input: FrameworkSessionInput


def variants(framework: str) -> list[Variant]:
    """clean (1 prompt), retry (fail_once), two_turns (2 prompts); handoff for the Agents SDK."""
    base: dict[str, Any] = {"delta_delay": 0.005, "drain_timeout": 0.5}
    found = [
        Variant("clean", FrameworkSessionInput(prompts=[FIRST], **base)),
        Variant("retry", FrameworkSessionInput(prompts=[FIRST], fail_once=True, **base)),
        Variant("two_turns", FrameworkSessionInput(prompts=[FIRST, SECOND], **base)),
    ]
    if framework == "openai_agents":
        found.append(Variant("handoff", FrameworkSessionInput(prompts=[FIRST], handoff=True, **base)))
    return found


def to_lines(records: list[events.Record]) -> list[str]:
    lines = []
    for record in records:
        item = record.item
        line: dict[str, Any] = {"offset": record.offset, "topic": getattr(item, "topic", ""), "data": None}
        if isinstance(item, events.UnknownItem):
            line["data"] = item.data
        else:  # not expected from these sessions: keep it visible rather than drop it
            line["not_foreign"] = type(item).__name__
        lines.append(json.dumps(line, ensure_ascii=False, sort_keys=False))
    return lines


async def record(client: Client, framework: str, out: Path) -> None:
    if framework == "pydantic_ai":
        from wfwatch.agents.frameworks import pydantic_ai_session as session
    else:
        from wfwatch.agents.frameworks import openai_agents_session as session  # type: ignore[no-redef]
    task_queue = f"record-{uuid.uuid4()}"
    starter = session.plugin_client(client)
    async with session.create_worker(client, task_queue):
        for variant in variants(framework):
            workflow_id = f"record-{framework}-{variant.name}-{uuid.uuid4().hex[:8]}"
            handle = await starter.start_workflow(
                session.WORKFLOW_NAME, variant.input, id=workflow_id, task_queue=task_queue
            )
            outputs = await handle.result()
            records, gaps, end = await read_all(client, workflow_id, timeout=60)
            if gaps or end is None:
                raise SystemExit(f"{workflow_id}: incomplete read (gaps {gaps}, end {end})")
            path = out / f"{framework}_{variant.name}.jsonl"
            path.write_text("\n".join(to_lines(records)) + "\n")
            print(f"{path.name}: {len(records)} items, {path.stat().st_size} bytes, outputs {len(outputs)}")


async def main(out: Path, frameworks: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        async with EmbeddedServer(db_path=Path(tmp) / "temporal.db") as server:
            client = await Client.connect(server.address, namespace=server.namespace)
            for framework in frameworks:
                await record(client, framework, out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--framework", action="append", choices=["pydantic_ai", "openai_agents"], help="default: both")
    args = parser.parse_args()
    asyncio.run(main(args.out, args.framework or ["pydantic_ai", "openai_agents"]))
    sys.exit(0)
