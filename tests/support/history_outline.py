"""A failing test's nondeterminism error comes with the workflow's history, in outline.

CI twice failed on ``[TMPRL1100] Nondeterminism error: Timer fired event did
not have expected timer id 1, it was 2!`` while reading a completed session by
Query, and the history that would explain it was gone with the run's server.
When a report mentions TMPRL1100, the workflows it names are shown here, one
line per event that is not a publish Signal or a poll Update (those are only
counted), using the ``temporal`` CLI against the run's own server.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter

NONDETERMINISM = "TMPRL1100"
#: How a report names a workflow: the reader's error, a gRPC request, a fixture's prefix.
_WORKFLOW_ID = re.compile(r"reading '([^']+)' failed|workflow_id: \"([^\"]+)\"")
_QUIET = {
    "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
    "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED",
    "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED",
}
#: Attributes worth a glance, by event: timer ids, activity types, task attempts and failures.
_SHOWN = ("timerId", "startedEventId", "activityType", "attempt", "cause", "failure", "startToFireTimeout")


def workflow_ids(report_text: str) -> list[str]:
    """The workflow ids a failure report names, in order, once each."""
    found = [a or b for a, b in _WORKFLOW_ID.findall(report_text) if "{" not in (a or b)]
    return list(dict.fromkeys(found))


def outline(events: list[dict[str, object]]) -> str:
    """One line per event but publish Signals and poll Updates, which are counted where they fall."""
    lines: list[str] = []
    quiet: Counter[str] = Counter()

    def flush_quiet() -> None:
        if quiet:
            lines.append(
                "    … " + ", ".join(f"{n} x {t.removeprefix('EVENT_TYPE_').lower()}" for t, n in quiet.items())
            )
            quiet.clear()

    for event in events:
        kind = str(event.get("eventType", "?"))
        if kind in _QUIET:
            quiet[kind] += 1
            continue
        flush_quiet()
        attrs = next((v for k, v in event.items() if k.endswith("EventAttributes") and isinstance(v, dict)), {})
        shown = {k: attrs[k] for k in _SHOWN if k in attrs}
        if isinstance(shown.get("activityType"), dict):
            shown["activityType"] = shown["activityType"].get("name")
        if isinstance(shown.get("failure"), dict):
            shown["failure"] = str(shown["failure"].get("message", ""))[:160]
        lines.append(
            f"{event.get('eventId', '?'):>5} {kind.removeprefix('EVENT_TYPE_').lower()} {shown or ''}".rstrip()
        )
    flush_quiet()
    return "\n".join(lines)


def history_outlines(binary: str, address: str, namespace: str, report_text: str) -> str:
    """Outlines of every workflow the report names ("" when it names none or the server is gone)."""
    parts: list[str] = []
    for workflow_id in workflow_ids(report_text)[:3]:
        try:
            shown = subprocess.run(
                [
                    binary,
                    "workflow",
                    "show",
                    "--workflow-id",
                    workflow_id,
                    "--address",
                    address,
                    "--namespace",
                    namespace,
                    "--output",
                    "json",
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            events = json.loads(shown.stdout)["events"]
        except (OSError, subprocess.SubprocessError, ValueError, KeyError) as err:
            parts.append(f"{workflow_id}: no history ({err})")
            continue
        parts.append(f"{workflow_id}: {len(events)} events\n{outline(events)}")
    return "\n\n".join(parts)
