"""Where wfwatch keeps its files (platformdirs), in one place.

``WFWATCH_HOME`` overrides all of them (tests and CI point it at a temp dir).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import platformdirs

APP = "wfwatch"


def _base(kind: str) -> Path:
    home = os.environ.get("WFWATCH_HOME")
    if home:
        return Path(home) / kind
    getters: dict[str, Callable[[str], str]] = {
        "data": platformdirs.user_data_dir,
        "state": platformdirs.user_state_dir,
        "config": platformdirs.user_config_dir,
        "log": platformdirs.user_log_dir,
    }
    return Path(getters[kind](APP))


def data_dir() -> Path:
    return _base("data")


def state_dir() -> Path:
    return _base("state")


def config_dir() -> Path:
    return _base("config")


def log_dir() -> Path:
    return _base("log")


def server_db() -> Path:
    """The embedded server's SQLite file: sessions survive a restart."""
    return data_dir() / "temporal-dev.db"


def demo_server() -> Path:
    """Where a running ``wfwatch demo`` says which server it runs (removed when it stops)."""
    return data_dir() / "demo-server.json"


def server_log() -> Path:
    path = log_dir() / "temporal-server.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def event_cache() -> Path:
    return data_dir() / "events.sqlite"


def device_positions() -> Path:
    return state_dir() / "devices.sqlite"


def preferences() -> Path:
    return config_dir() / "preferences.toml"


def all_paths() -> dict[str, Path]:
    return {
        "config": config_dir(),
        "preferences": preferences(),
        "data": data_dir(),
        "server db": server_db(),
        "event cache": event_cache(),
        "state": state_dir(),
        "device positions": device_positions(),
        "logs": log_dir(),
    }
