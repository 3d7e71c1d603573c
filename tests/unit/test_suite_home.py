"""The test suite's WFWATCH_HOME: its own temp dir removed at the end, the caller's kept, one per xdist worker.

Each case runs a small pytest session of the suite (one fast unit file) in a
subprocess, with a plugin that writes down the home every session saw.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Each case starts pytest (and xdist workers) that import the suite: seconds, not milliseconds.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FAST_FILE = "tests/unit/test_text.py"
PLUGIN = """
import os
from pathlib import Path

def pytest_sessionfinish(session):
    with Path(os.environ["HOME_RECORD"]).open("a") as f:
        f.write(os.environ.get("PYTEST_XDIST_WORKER", "-") + " " + os.environ["WFWATCH_HOME"] + "\\n")
"""


def _run_suite(tmp_path: Path, *args: str, home: Path | None = None) -> dict[str, Path]:
    """The home each session (controller ``-`` and workers) saw, by worker id."""
    (tmp_path / "record_home.py").write_text(PLUGIN)
    record = tmp_path / "homes.txt"
    env = {key: value for key, value in os.environ.items() if key not in ("WFWATCH_HOME", "PYTEST_XDIST_WORKER")}
    env["PYTHONPATH"] = str(tmp_path)
    env["HOME_RECORD"] = str(record)
    if home is not None:
        env["WFWATCH_HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "record_home", *args, FAST_FILE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    seen = dict(line.split(" ", 1) for line in record.read_text().splitlines())
    return {worker: Path(path) for worker, path in seen.items()}


def test_a_home_the_run_made_is_removed(tmp_path: Path) -> None:
    seen = _run_suite(tmp_path)
    assert seen["-"].name.startswith("wfwatch-tests-")
    assert not seen["-"].exists()


def test_a_home_the_caller_set_is_used_and_kept(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "keep").write_text("mine")
    seen = _run_suite(tmp_path, home=home)
    assert seen == {"-": home}
    assert (home / "keep").read_text() == "mine"


@pytest.mark.parametrize("caller_home", [False, True])
def test_each_xdist_worker_has_its_own_home(tmp_path: Path, caller_home: bool) -> None:
    home = tmp_path / "home" if caller_home else None
    if home is not None:
        home.mkdir()
    seen = _run_suite(tmp_path, "-n", "2", home=home)
    base = seen.pop("-")
    assert sorted(seen) == ["gw0", "gw1"]
    assert seen["gw0"] != seen["gw1"]
    assert all(path.parent == base for path in seen.values())
    if home is None:
        assert not base.exists()
    else:
        assert base == home and home.exists()
