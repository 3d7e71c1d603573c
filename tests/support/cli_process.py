"""``wfwatch`` run as a real process, the way a user's shell runs it."""

from __future__ import annotations

import asyncio
import sys


async def run_cli(*args: str, timeout: float = 90) -> tuple[int, str, str]:
    """``wfwatch ARGS...`` in a subprocess: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from wfwatch.cli import entry; entry()",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()
