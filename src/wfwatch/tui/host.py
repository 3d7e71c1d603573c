"""The dashboard app as its screens and widgets see it: typed, so no ``# type: ignore``.

Textual types ``widget.app`` as a plain :class:`~textual.app.App`; the
dashboard's screens need what :class:`~wfwatch.tui.app.WfwatchApp` adds
(its services, preferences, steering). :func:`dashboard` checks the type
once instead of each caller silencing mypy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.dom import DOMNode

if TYPE_CHECKING:
    from wfwatch.tui.app import WfwatchApp


def dashboard(node: DOMNode) -> WfwatchApp:
    """The :class:`WfwatchApp` ``node`` runs in (a ``TypeError`` in any other app)."""
    from wfwatch.tui.app import WfwatchApp  # here, not at the top: app.py imports the screens

    app = node.app
    if not isinstance(app, WfwatchApp):
        raise TypeError(f"{type(node).__name__} runs only in the wfwatch dashboard, not in {type(app).__name__}")
    return app
