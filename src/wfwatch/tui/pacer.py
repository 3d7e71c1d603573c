"""How often the watch screen redraws: less often while other programs hold the CPU.

Each redraw of a streaming dashboard re-renders every lane that scrolled,
and at 2,000 tokens/s a pane that is every lane. When other programs keep
the cores busy, that work takes longer than the CPU it uses (the process
waits its turn), key presses wait behind it, and the dashboard feels stuck
(``benchmarks/tui_load.py --busy 2``). Redrawing less often then leaves the
process idle more of the time, and a woken process is scheduled first.
Nothing is lost: a flush draws everything that arrived since the last one.
"""

from __future__ import annotations

import statistics
from collections import deque

#: Flushes the pacer judges by (about a second at 12 per second).
WINDOW = 12
#: Below this share of its wall time on the CPU, a flush was kept waiting: redraw every other tick.
CONTENDED = 0.7
#: Below this, every third tick.
STARVED = 0.45


class FramePacer:
    """Decides, tick by tick, whether the screen flushes; fed the wall and CPU time each flush took."""

    def __init__(self) -> None:
        self._shares: deque[float] = deque(maxlen=WINDOW)
        self._ticks = 0
        #: Redraw on every n-th tick (1: every tick).
        self.every = 1
        #: Flushes so far (a benchmark reads the frame rate off it).
        self.flushes = 0

    def due(self) -> bool:
        """A tick of the flush timer: whether to flush now."""
        self._ticks += 1
        if self._ticks >= self.every:
            self._ticks = 0
            self.flushes += 1
            return True
        return False

    def took(self, wall: float, cpu: float) -> None:
        """A flush took ``wall`` seconds, ``cpu`` of them on the CPU."""
        if wall <= 0:
            return
        self._shares.append(min(1.0, cpu / wall))
        if len(self._shares) < WINDOW:
            return
        share = statistics.median(self._shares)
        self.every = 3 if share < STARVED else 2 if share < CONTENDED else 1
