"""Settling CPython's cyclic collector once a long-running process is up.

Both long-running front ends — ``wfwatch serve`` and the dashboard — start by
loading a great many objects that live as long as the process (modules,
Starlette or Textual internals, the widget tree). Left in the collector's
oldest generation, every full pass walks all of them again: measured in the
dashboard under load (``benchmarks/tui_load.py``), full passes took up to
180 ms and were the key presses that took 200+ ms. :func:`gc.freeze` moves
them out of the collector's sight; it still collects everything created
afterwards.
"""

from __future__ import annotations

import gc


def settle_gc(gen0_threshold: int | None = None) -> None:
    """Collect once, freeze what survived, and optionally raise the young-generation threshold.

    A higher ``gen0_threshold`` (CPython's default is 700 allocations) suits
    code that allocates many short-lived containers that refcounting frees
    anyway, like fanning one event out to a thousand streams.
    """
    gc.collect()
    gc.freeze()
    if gen0_threshold is not None:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0_threshold, gen1, gen2)
