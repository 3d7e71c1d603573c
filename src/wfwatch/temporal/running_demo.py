"""Where a running ``wfwatch demo`` serves Temporal, for the other wfwatch commands.

The demo's dev server listens on free ports, so ``wfwatch tail demo-live``
in a second shell would otherwise go to localhost:7233 (another server, or
none). While it runs the demo keeps a small JSON file under the user data
dir with its address, namespace and pid; connection resolution
(:func:`wfwatch.temporal.connect.resolve`) uses it when nothing says where
to connect. A file whose pid is gone (a demo killed with SIGKILL) is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from wfwatch import paths


@dataclass(frozen=True)
class RunningDemo:
    address: str
    namespace: str
    pid: int
    ui_url: str | None = None


def running_demo(path: Path | None = None) -> RunningDemo | None:
    """The demo running now, or ``None`` (no file, a file we cannot read, or its process is gone)."""
    path = path or paths.demo_server()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        demo = RunningDemo(
            address=str(data["address"]),
            namespace=str(data["namespace"]),
            pid=int(data["pid"]),
            ui_url=str(data["ui_url"]) if data.get("ui_url") else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return demo if _alive(demo.pid) else None


@contextlib.contextmanager
def advertise(demo: RunningDemo, path: Path | None = None) -> Iterator[Path]:
    """Publish ``demo`` for other commands while the block runs; the file goes when it ends.

    Written whole (a temporary file renamed over it), so a reader never sees
    half of it; removed only if it still names this demo (a second demo may
    have taken over since).
    """
    path = path or paths.demo_server()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{demo.pid}")
    partial.write_text(json.dumps(asdict(demo)), encoding="utf-8")
    partial.replace(path)
    try:
        yield path
    finally:
        if running_demo(path) == demo:
            with contextlib.suppress(OSError):
                path.unlink()


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":  # signal 0 there is CTRL_C_EVENT: no cheap check, trust the file
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    except OSError:
        return False
    return True
