"""The watch screen's frame pacer: fewer redraws only while a flush waits for the CPU."""

from __future__ import annotations

from wfwatch.tui.pacer import WINDOW, FramePacer


def ticks(pacer: FramePacer, n: int) -> list[bool]:
    return [pacer.due() for _ in range(n)]


def test_a_flush_that_has_the_cpu_redraws_on_every_tick() -> None:
    pacer = FramePacer()
    for _ in range(WINDOW * 2):
        pacer.took(wall=0.006, cpu=0.0058)
    assert pacer.every == 1 and ticks(pacer, 6) == [True] * 6


def test_flushes_kept_waiting_redraw_every_other_then_every_third_tick_and_recover() -> None:
    pacer = FramePacer()
    for _ in range(WINDOW - 1):
        pacer.took(wall=0.010, cpu=0.006)
    assert pacer.every == 1, "judged on a window, not on one slow flush"
    pacer.took(wall=0.010, cpu=0.006)
    assert pacer.every == 2 and ticks(pacer, 6) == [False, True] * 3
    for _ in range(WINDOW):
        pacer.took(wall=0.020, cpu=0.006)
    assert pacer.every == 3 and ticks(pacer, 6) == [False, False, True] * 2
    for _ in range(WINDOW // 2 + 1):
        pacer.took(wall=0.006, cpu=0.006)
    assert pacer.every == 1, "the median moves back once most of the window had the CPU"
    assert pacer.flushes == 3 + 2 + 0


def test_nothing_timed_changes_nothing() -> None:
    pacer = FramePacer()
    for _ in range(WINDOW * 2):
        pacer.took(wall=0.0, cpu=0.0)
    assert pacer.every == 1
