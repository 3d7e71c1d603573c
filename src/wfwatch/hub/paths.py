"""Where the hub keeps its files when the caller does not say.

Device positions are *state* (small, worth keeping, safe to lose); the event
cache is *data* (possibly large, rebuildable from Temporal while the
workflows exist). Both follow :mod:`wfwatch.paths`, so ``WFWATCH_HOME`` moves
them with everything else.
"""

from __future__ import annotations

from pathlib import Path

from wfwatch import paths


def positions_path(state_dir: Path | None) -> Path:
    return state_dir / paths.device_positions().name if state_dir is not None else paths.device_positions()


def cache_path(cache_dir: Path | None) -> Path:
    return cache_dir / paths.event_cache().name if cache_dir is not None else paths.event_cache()
