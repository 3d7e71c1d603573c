"""Where the hub keeps its files when the caller does not say.

Device positions are *state* (small, worth keeping, safe to lose):
``platformdirs.user_state_dir("wfwatch")``. The event cache is *data*
(possibly large, rebuildable from Temporal while the workflows exist):
``platformdirs.user_data_dir("wfwatch")``.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "wfwatch"
POSITIONS_FILE = "devices.sqlite"
CACHE_FILE = "events.sqlite"


def default_state_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP_NAME))


def default_cache_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def positions_path(state_dir: Path | None) -> Path:
    return (state_dir if state_dir is not None else default_state_dir()) / POSITIONS_FILE


def cache_path(cache_dir: Path | None) -> Path:
    return (cache_dir if cache_dir is not None else default_cache_dir()) / CACHE_FILE
