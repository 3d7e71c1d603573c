"""Textual's footer, rebuilt only when the keys it shows change.

Textual's ``Footer`` recomposes all its keys whenever the screen's bindings
are updated, and they are updated on every focus change. Moving the focus
between panes changes no key, yet the rebuild (a dozen widgets mounted and
styled) was a third of what a focus change cost on a busy dashboard
(``benchmarks/tui_load.py``).
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class StableFooter(Footer):
    """A footer that skips the rebuild when the shown keys are the same as before."""

    _shown: tuple[tuple[str, str, str, bool], ...] | None = None

    def _signature(self, screen: Screen[object]) -> tuple[tuple[str, str, str, bool], ...]:
        return tuple(
            (binding.key, binding.description, binding.action, enabled)
            for _, binding, enabled, _ in screen.active_bindings.values()
            if binding.show or binding.key == self.app.COMMAND_PALETTE_BINDING
        )

    def bindings_changed(self, screen: Screen[object]) -> None:
        signature = self._signature(screen)
        if signature == self._shown and self._bindings_ready:
            return
        super().bindings_changed(screen)
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._shown = signature  # a rebuild was scheduled for exactly these keys
