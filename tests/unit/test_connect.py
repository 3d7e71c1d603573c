"""Connection resolution follows the temporal CLI: flag > env > config file > default."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from wfwatch import paths
from wfwatch.cli_options import add_connection_options, click_errors, options_from_click
from wfwatch.temporal.connect import (
    ConnectError,
    ConnectionOptions,
    connect,
    describe,
    resolve,
)
from wfwatch.temporal.running_demo import RunningDemo, advertise, running_demo

SECRET = "sk-live-0123456789abcdefWXYZ"

CONFIG = f"""
[profile.default]
address = "file-default.example:7233"
namespace = "file-default-ns"

[profile.prod]
address = "prod.example:7233"
namespace = "prod-ns"
api_key = "{SECRET}"

[profile.mtls]
address = "mtls.example:7233"
[profile.mtls.tls]
client_cert_path = "/certs/client.pem"
client_key_path = "/certs/client.key"
server_name = "mtls.internal"

[profile.plain]
address = "plain.example:7233"
api_key = "{SECRET}"
[profile.plain.tls]
disabled = true
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "temporal.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def empty_config(tmp_path: Path) -> Path:
    """An explicit empty file, so the user's real ~/.config/temporalio is never read."""
    path = tmp_path / "empty.toml"
    path.write_text("")
    return path


def test_defaults(empty_config: Path) -> None:
    r = resolve(ConnectionOptions(config_file=empty_config), env={})
    assert r.address == "localhost:7233"
    assert r.namespace == "default"
    assert r.api_key is None
    assert r.tls is False


def test_default_profile_from_file(config_file: Path) -> None:
    r = resolve(ConnectionOptions(config_file=config_file), env={})
    assert (r.address, r.namespace) == ("file-default.example:7233", "file-default-ns")


def test_named_profile(config_file: Path) -> None:
    r = resolve(ConnectionOptions(config_file=config_file, profile="prod"), env={})
    assert (r.address, r.namespace, r.api_key) == ("prod.example:7233", "prod-ns", SECRET)


def test_profile_selected_by_env(config_file: Path) -> None:
    r = resolve(ConnectionOptions(config_file=config_file), env={"TEMPORAL_PROFILE": "prod"})
    assert r.address == "prod.example:7233"


def test_config_file_from_env(config_file: Path) -> None:
    r = resolve(ConnectionOptions(), env={"TEMPORAL_CONFIG_FILE": str(config_file)})
    assert r.address == "file-default.example:7233"


def test_env_overrides_profile(config_file: Path) -> None:
    env = {"TEMPORAL_ADDRESS": "env.example:7233"}
    r = resolve(ConnectionOptions(config_file=config_file, profile="prod"), env=env)
    assert r.address == "env.example:7233"
    assert r.namespace == "prod-ns"  # untouched fields still come from the profile


def test_flags_override_env_and_profile(config_file: Path) -> None:
    env = {"TEMPORAL_ADDRESS": "env.example:7233", "TEMPORAL_NAMESPACE": "env-ns"}
    opts = ConnectionOptions(
        config_file=config_file,
        profile="prod",
        address="flag.example:7233",
        namespace="flag-ns",
        api_key="flag-key",
    )
    r = resolve(opts, env=env)
    assert (r.address, r.namespace, r.api_key) == ("flag.example:7233", "flag-ns", "flag-key")


def test_api_key_implies_tls(empty_config: Path) -> None:
    r = resolve(ConnectionOptions(config_file=empty_config, api_key=SECRET), env={})
    assert r.tls is True
    assert r.connect_kwargs()["tls"] is not False


def test_api_key_from_env_implies_tls(empty_config: Path) -> None:
    r = resolve(ConnectionOptions(config_file=empty_config), env={"TEMPORAL_API_KEY": SECRET})
    assert (r.api_key, r.tls) == (SECRET, True)


def test_api_key_from_profile_implies_tls(config_file: Path) -> None:
    assert resolve(ConnectionOptions(config_file=config_file, profile="prod"), env={}).tls


def test_explicit_no_tls_beats_api_key(empty_config: Path) -> None:
    opts = ConnectionOptions(config_file=empty_config, api_key=SECRET, tls=False)
    r = resolve(opts, env={})
    assert r.tls is False
    assert r.connect_kwargs()["tls"] is False


def test_profile_can_disable_tls_despite_api_key(config_file: Path) -> None:
    assert not resolve(ConnectionOptions(config_file=config_file, profile="plain"), env={}).tls


def test_env_can_disable_tls(config_file: Path) -> None:
    opts = ConnectionOptions(config_file=config_file, profile="prod")
    assert not resolve(opts, env={"TEMPORAL_TLS": "false"}).tls


def test_tls_paths_imply_tls_and_flags_override_profile(config_file: Path) -> None:
    r = resolve(ConnectionOptions(config_file=config_file, profile="mtls"), env={})
    assert r.tls is True
    assert r.tls_settings is not None
    assert r.tls_settings.client_cert == Path("/certs/client.pem")

    opts = ConnectionOptions(
        config_file=config_file,
        profile="mtls",
        tls_cert_path=Path("/flag/cert.pem"),
        tls_server_name="flag.internal",
    )
    r = resolve(opts, env={})
    assert r.tls_settings is not None
    assert r.tls_settings.client_cert == Path("/flag/cert.pem")
    assert r.tls_settings.client_private_key == Path("/certs/client.key")
    assert r.tls_settings.server_name == "flag.internal"

    r = resolve(ConnectionOptions(config_file=config_file, tls_ca_path=Path("/ca.pem")), env={})
    assert r.tls is True


def test_unreadable_tls_file_is_a_connect_error(empty_config: Path) -> None:
    opts = ConnectionOptions(config_file=empty_config, tls_ca_path=Path("/nonexistent/ca.pem"))
    with pytest.raises(ConnectError, match=r"/nonexistent/ca\.pem"):
        resolve(opts, env={}).connect_kwargs()


def test_describe_masks_api_key(config_file: Path) -> None:
    r = resolve(ConnectionOptions(config_file=config_file, profile="prod"), env={})
    text = describe(r)
    assert SECRET not in text
    assert SECRET not in repr(r)
    assert "prod.example:7233" in text and "prod-ns" in text and "tls=on" in text
    assert "api-key=****" in text
    assert "\n" not in text


def test_describe_fully_masks_short_keys(empty_config: Path) -> None:
    r = resolve(ConnectionOptions(config_file=empty_config, api_key="short"), env={})
    assert "short" not in describe(r)


def test_missing_config_file_is_a_connect_error(tmp_path: Path) -> None:
    with pytest.raises(ConnectError, match="config file not found"):
        resolve(ConnectionOptions(config_file=tmp_path / "nope.toml"), env={})


def test_unknown_profile_is_a_connect_error(config_file: Path) -> None:
    with pytest.raises(ConnectError, match="nope") as info:
        resolve(ConnectionOptions(config_file=config_file, profile="nope"), env={})
    assert "\n" not in str(info.value)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.asyncio
async def test_connect_to_closed_port_is_one_line_error(empty_config: Path) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    began = time.monotonic()
    with pytest.raises(ConnectError) as info:
        await connect(ConnectionOptions(address=address, config_file=empty_config), env={}, timeout=3)
    assert time.monotonic() - began < 5
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"cannot reach Temporal at {address}")
    assert "--address" in message
    assert "Traceback" not in message and "tonic" not in message


@pytest.mark.asyncio
async def test_connect_error_never_leaks_api_key(empty_config: Path) -> None:
    opts = ConnectionOptions(address=f"127.0.0.1:{_closed_port()}", config_file=empty_config, api_key=SECRET)
    with pytest.raises(ConnectError) as info:
        await connect(opts, env={}, timeout=3)
    assert SECRET not in str(info.value)


def test_click_options_round_trip(tmp_path: Path) -> None:
    seen: list[ConnectionOptions] = []

    @click.command()
    @add_connection_options
    def cmd(**kwargs: Any) -> None:
        seen.append(options_from_click(kwargs))

    runner = CliRunner()
    result = runner.invoke(cmd, [], env={"TEMPORAL_API_KEY": "from-env"})
    assert result.exit_code == 0, result.output
    # Nothing given -> all None (env vars are left for envconfig to read).
    assert seen[-1] == ConnectionOptions()

    cfg = tmp_path / "c.toml"
    args = [
        "--address", "h:1", "-n", "ns", "--profile", "p", "--config-file", str(cfg),
        "--no-tls", "--tls-cert-path", "c.pem", "--tls-key-path", "k.pem",
        "--tls-ca-path", "ca.pem", "--tls-server-name", "sni", "--api-key", "key",
    ]  # fmt: skip
    result = runner.invoke(cmd, args)
    assert result.exit_code == 0, result.output
    assert seen[-1] == ConnectionOptions(
        address="h:1",
        namespace="ns",
        profile="p",
        config_file=cfg,
        tls=False,
        tls_cert_path=Path("c.pem"),
        tls_key_path=Path("k.pem"),
        tls_ca_path=Path("ca.pem"),
        tls_server_name="sni",
        api_key="key",
    )

    result = runner.invoke(cmd, ["--tls"])
    assert seen[-1].tls is True


def test_connect_error_is_the_connection_layers_own_and_the_cli_prints_it_in_one_line() -> None:
    """The connection layer knows nothing of click; only the CLI turns its errors into ``Error:`` exits."""
    assert not isinstance(ConnectError("x"), click.ClickException)

    @click.command()
    def cmd() -> None:
        with click_errors():
            raise ConnectError("cannot reach Temporal at x:1\n(details)")

    result = CliRunner().invoke(cmd, [])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: cannot reach Temporal at x:1 (details)"


# --- a running `wfwatch demo` ------------------------------------------------------------


@pytest.fixture
def demo_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningDemo]:
    """A demo's state file naming this (live) process, under a private WFWATCH_HOME."""
    monkeypatch.setenv("WFWATCH_HOME", str(tmp_path / "home"))
    demo = RunningDemo(address="127.0.0.1:45678", namespace="default", pid=os.getpid())
    with advertise(demo):
        yield demo


def test_a_running_demo_is_used_when_nothing_says_where(demo_running: RunningDemo) -> None:
    resolved = resolve(ConnectionOptions(), env={})
    assert (resolved.address, resolved.namespace, resolved.demo_pid) == ("127.0.0.1:45678", "default", os.getpid())
    assert resolved.tls is False and resolved.api_key is None
    assert f"wfwatch-demo-pid={os.getpid()}" in describe(resolved)
    # A namespace alone does not name a server: the demo's, in that namespace.
    assert resolve(ConnectionOptions(namespace="other"), env={}).namespace == "other"
    assert resolve(ConnectionOptions(), env={"TEMPORAL_NAMESPACE": "env-ns"}).namespace == "env-ns"


def test_explicit_flags_and_environment_win_over_a_running_demo(
    demo_running: RunningDemo, config_file: Path, empty_config: Path
) -> None:
    assert resolve(ConnectionOptions(address="h:1"), env={}).address == "h:1"
    assert resolve(ConnectionOptions(config_file=empty_config), env={"TEMPORAL_ADDRESS": "env:2"}).address == "env:2"
    assert resolve(ConnectionOptions(config_file=empty_config), env={}).demo_pid is None
    assert resolve(ConnectionOptions(profile="prod", config_file=config_file), env={}).address == "prod.example:7233"
    prod = resolve(ConnectionOptions(config_file=config_file), env={"TEMPORAL_PROFILE": "prod"})
    assert prod.address == "prod.example:7233" and prod.demo_pid is None
    assert resolve(ConnectionOptions(api_key="k"), env={}).demo_pid is None
    assert resolve(ConnectionOptions(tls=True), env={}).demo_pid is None
    assert resolve(ConnectionOptions(), env={}, find_demo=False).demo_pid is None


def test_a_demo_whose_process_is_gone_is_ignored_and_a_stopped_one_removes_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WFWATCH_HOME", str(tmp_path / "home"))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = RunningDemo(address="127.0.0.1:1", namespace="default", pid=int(gone.stdout))
    with advertise(dead) as path:
        assert path == paths.demo_server() and path.exists()
        assert running_demo() is None
        assert resolve(ConnectionOptions(), env={}).address == "localhost:7233"
    live = RunningDemo(address="127.0.0.1:2", namespace="default", pid=os.getpid())
    with advertise(live) as path:
        assert running_demo() == live
    assert not path.exists() and running_demo() is None
    path.write_text("{not json", encoding="utf-8")
    assert running_demo() is None
