"""One row per workflow id: the run that says what the session is doing now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wfwatch.sessions import SessionRow, latest_runs

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def run(workflow_id: str, run_id: str, status: str, minutes: float, turn: int | None = None) -> SessionRow:
    return SessionRow(workflow_id, run_id, "AgentSession", status, T0 + timedelta(minutes=minutes), "t", turn)


def test_the_run_that_started_last_wins_in_any_order_and_ids_keep_their_first_place() -> None:
    runs = [
        run("a", "a2", "running", 2, turn=9),
        run("b", "b1", "completed", 1),
        run("a", "a0", "continued_as_new", 0, turn=1),
        run("a", "a1", "continued_as_new", 1, turn=5),
    ]
    assert [(r.workflow_id, r.run_id) for r in latest_runs(runs)] == [("a", "a2"), ("b", "b1")]
    assert [r.run_id for r in latest_runs(reversed(runs))] == ["a2", "b1"]


def test_on_equal_start_times_the_run_that_carried_on_wins() -> None:
    old = run("a", "old", "continued_as_new", 3)
    new = run("a", "new", "running", 3)
    assert [r.run_id for r in latest_runs([old, new])] == ["new"]
    assert [r.run_id for r in latest_runs([new, old])] == ["new"]


def test_a_reused_id_shows_its_newest_workflow_and_a_missing_start_time_loses() -> None:
    replaced = run("a", "first", "completed", 0)
    again = run("a", "second", "failed", 10)
    unknown = SessionRow("a", "none", "AgentSession", "running", None, "", None)
    assert [r.run_id for r in latest_runs([replaced, unknown, again])] == ["second"]
