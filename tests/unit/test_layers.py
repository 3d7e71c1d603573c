"""Layers that don't leak: only wfwatch.tui may import Textual.

Checked by importing each non-UI module in a fresh interpreter and looking at
sys.modules, so indirect imports are caught too.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import wfwatch

NON_UI = sorted(
    name
    for module in pkgutil.walk_packages(wfwatch.__path__, "wfwatch.")
    if not (name := module.name).startswith("wfwatch.tui")
)
PURE = ["wfwatch.events", "wfwatch.reducer", "wfwatch.text"]


def _imported_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_non_ui_modules_never_import_textual() -> None:
    assert "wfwatch.cli" in NON_UI and "wfwatch.events" in NON_UI
    code = "import sys\n" + "".join(f"import {m}\n" for m in NON_UI) + "print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_event_model_and_reducer_import_neither_temporal_nor_textual() -> None:
    for module in PURE:
        loaded = _imported_after(module)
        assert not any(name.split(".")[0] in {"temporalio", "textual"} for name in loaded), module
