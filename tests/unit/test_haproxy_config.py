"""The HAProxy configuration the fleet runs behind (deploy/haproxy/, docs/scaling.md)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from wfwatch.bridge.haproxy import render_config

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
THREE = ["127.0.0.1:8701", "127.0.0.1:8702", "127.0.0.1:8703"]


def test_the_shipped_config_is_what_the_generator_writes_for_three_replicas() -> None:
    assert SHIPPED.read_text() == render_config(THREE), (
        "regenerate it: uv run python -m wfwatch.bridge.haproxy " + " ".join(THREE) + " > deploy/haproxy/haproxy.cfg"
    )


def test_hash_routing_hashes_the_session_path_only_and_checks_healthz() -> None:
    text = render_config(THREE)
    # /sessions/<id>: two slashes deep, the query string (?token=, ?from=) left out of the hash.
    assert "balance uri depth 2 path-only" in text
    assert "whole" not in text
    assert "hash-type consistent" in text
    assert "http-check send meth GET uri /healthz" in text
    assert "http-check expect status 200" in text
    assert "retry-on conn-failure empty-response 503" in text and "option redispatch\n" in text
    assert [line.split()[1:3] for line in text.splitlines() if line.strip().startswith("server ")] == [
        ["r1", "127.0.0.1:8701"],
        ["r2", "127.0.0.1:8702"],
        ["r3", "127.0.0.1:8703"],
    ]


def test_the_log_never_holds_a_query_string() -> None:
    text = render_config(THREE)
    log_format = next(line for line in text.splitlines() if "log-format" in line)
    # %r (the request line), %HU (the URI), %HQ (the query), or a sample fetch of them.
    assert not re.search(r"%(\{[^}]*\})?(r|HU|HQ)(?![a-z])|%\[(url|query)", log_format), log_format
    assert "%HP" in log_format


def test_round_robin_is_there_only_to_measure_against() -> None:
    text = render_config(THREE, routing="roundrobin")
    assert "balance roundrobin" in text and "hash-type" not in text
    with pytest.raises(ValueError):
        render_config([])


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed (apt-get install -y haproxy)")
@pytest.mark.parametrize("routing", ["hash", "roundrobin"])
def test_haproxy_accepts_the_config(tmp_path: Path, routing: str) -> None:
    path = tmp_path / "haproxy.cfg"
    path.write_text(render_config(THREE, routing=routing, stats_bind="127.0.0.1:8761"))  # type: ignore[arg-type]
    checked = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ALERT" not in checked.stdout + checked.stderr and "WARNING" not in checked.stdout + checked.stderr
