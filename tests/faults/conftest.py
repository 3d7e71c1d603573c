"""Fixtures of the fault suite: each test reports one result line with counts.

A test fills in ``fault_result`` (what was done, what was checked, counts);
once the test has run, the fixture prints a one-line summary and, when the
environment variable ``WFWATCH_RELIABILITY_OUT`` names a file, appends the
result as a JSON line to it. A test without ``fault_result`` gets a line
too, marked as recording nothing, so the report's rows are every test that
ran. ``scripts/reliability_report.py`` sets that variable, runs this suite
and turns the lines into ``docs/reliability.md``. Without the variable
nothing is written (CI must not write into the repository).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from faultkit import FaultResult

OUT_ENV = "WFWATCH_RELIABILITY_OUT"
_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_REPORT] = report
    return report


def _outcome(report: pytest.TestReport | None) -> tuple[str, str]:
    if report is None:
        return "error", "the test did not run (setup failed)"
    xfail = getattr(report, "wasxfail", None)
    if xfail is not None:
        return ("xfail" if report.skipped else "xpass"), str(xfail)
    if report.passed:
        return "pass", ""
    if report.skipped:
        return "skipped", str(report.longrepr)[-200:]
    text = report.longreprtext.strip().splitlines()
    errors = [line for line in text if line.startswith("E ")]
    return "FAIL", (errors[0][1:].strip() if errors else (text[-1] if text else "failed"))[:300]


@pytest.fixture
def fault_result(request: pytest.FixtureRequest) -> Iterator[FaultResult]:
    result = FaultResult(scenario=request.node.name)
    began = time.monotonic()
    yield result
    _report(request, result, began)


@pytest.fixture(autouse=True)
def _every_test_is_reported(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that records no ``fault_result`` still gets a row, saying so, so the report hides nothing."""
    began = time.monotonic()
    yield
    if "fault_result" in request.fixturenames:
        return
    doc = (getattr(request.function, "__doc__", None) or "").strip().splitlines()
    result = FaultResult(
        scenario=request.node.name,
        what=doc[0] if doc else "",
        checked="(this test records no fault_result: only its outcome is known)",
    )
    _report(request, result, began)


def _report(request: pytest.FixtureRequest, result: FaultResult, began: float) -> None:
    outcome, detail = _outcome(request.node.stash.get(_REPORT, None))
    counts = " ".join(f"{key}={value}" for key, value in result.counts.items())
    print(f"\n[fault] {result.scenario}: {outcome} {counts}" + (f" ({detail})" if detail else ""))
    out = os.environ.get(OUT_ENV)
    if not out:
        return
    line = {
        "scenario": result.scenario,
        "test": request.node.nodeid,
        "what": result.what,
        "checked": result.checked,
        "contract": result.contract,
        "outcome": outcome,
        "detail": detail,
        "counts": result.counts,
        "notes": result.notes,
        "seconds": round(time.monotonic() - began, 1),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
