"""Textual's footer, rebuilt only when the keys it shows change, and trimmed to fit.

Textual's ``Footer`` recomposes all its keys whenever the screen's bindings
are updated, and they are updated on every focus change. Moving the focus
between panes changes no key, yet the rebuild (a dozen widgets mounted and
styled) was a third of what a focus change cost on a busy dashboard
(``benchmarks/tui_load.py``).

On a narrow terminal the footer goes compact and leaves out the keys a
screen names as optional (help lists them all), so the ones that remain are
never cut off at the right edge.
"""

from __future__ import annotations

from collections.abc import Collection

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: Below this many columns the footer is compact and drops its optional keys.
NARROW = 120


class StableFooter(Footer):
    """A footer that skips the rebuild when the shown keys are the same as before."""

    _shown: tuple[object, ...] | None = None

    def __init__(self, *, optional: Collection[str] = ()) -> None:
        super().__init__()
        #: Actions left out when the terminal is narrow.
        self._optional = frozenset(optional)
        self._narrow = False

    def _signature(self, screen: Screen[object]) -> tuple[object, ...]:
        return (
            self._narrow,
            *(
                (binding.key, binding.description, binding.action, enabled)
                for _, binding, enabled, _ in screen.active_bindings.values()
                if binding.show or binding.key == self.app.COMMAND_PALETTE_BINDING
            ),
        )

    def bindings_changed(self, screen: Screen[object]) -> None:
        signature = self._signature(screen)
        if signature == self._shown and self._bindings_ready:
            return
        super().bindings_changed(screen)
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._shown = signature  # a rebuild was scheduled for exactly these keys

    def on_resize(self) -> None:
        narrow = self.app.size.width < NARROW
        if narrow != self._narrow:
            self._narrow = narrow
            self.compact = narrow
            self._shown = None
            if self._bindings_ready:
                self.refresh(recompose=True)

    def compose(self) -> ComposeResult:
        keys = 0
        for widget in super().compose():
            if self._narrow and isinstance(widget, FooterKey) and widget.action in self._optional:
                continue
            if isinstance(widget, FooterKey) and "-command-palette" not in widget.classes:
                keys += 1
            yield widget
        if keys:
            self.styles.grid_size_columns = keys
