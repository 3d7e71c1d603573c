"""Links into the Temporal Web UI, when the user says where one is.

The dashboard does not render histories; the Web UI does. Where it runs is
taken from, in order: the ``ui_url`` preference, ``WFWATCH_UI_URL``, or a
running ``wfwatch demo --ui`` (only when the dashboard talks to that demo's
server: another server's workflows are not in its UI).
"""

from __future__ import annotations

import os
from urllib.parse import quote

from wfwatch.temporal.running_demo import running_demo

ENV = "WFWATCH_UI_URL"


def configured_ui(preference: str, *, address: str | None) -> str | None:
    """The Web UI's base URL, or ``None`` when none is configured (see the module doc)."""
    base = preference.strip() or os.environ.get(ENV, "").strip()
    if not base:
        demo = running_demo()
        if demo is not None and demo.ui_url and (address is None or address == demo.address):
            base = demo.ui_url
    return base.rstrip("/") or None


def workflow_url(base: str, namespace: str, workflow_id: str, run_id: str) -> str:
    """The Web UI page of one run's history.

    Every part a workflow controls is quoted whole (``/``, ``?`` and ``#``
    included), so an id like ``a b/c?d`` stays one path segment.
    """
    parts = (quote(part, safe="") for part in (namespace, workflow_id, run_id))
    ns, wid, run = parts
    return f"{base.rstrip('/')}/namespaces/{ns}/workflows/{wid}/{run}/history"
