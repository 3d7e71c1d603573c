"""User preferences: theme, default join mode, saved visibility queries, the Temporal Web UI's URL.

Stored as TOML under the platformdirs config dir (``wfwatch info`` prints the
path). A missing or broken file never stops the dashboard: it falls back to
defaults and says what was wrong.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from wfwatch import paths

JOIN_MODES = ("start", "live", "resume")


@dataclass
class Preferences:
    theme: str = "textual-dark"
    default_join: str = "start"
    saved_queries: dict[str, str] = field(
        default_factory=lambda: {
            "running sessions": "WorkflowType = 'AgentSession' AND ExecutionStatus = 'Running'",
            "failed": "ExecutionStatus = 'Failed'",
        }
    )
    #: Base URL of the Temporal Web UI (e.g. http://localhost:8233); "" when not set (see :mod:`wfwatch.webui`).
    ui_url: str = ""
    problem: str = ""

    def to_toml(self) -> str:
        lines = [f"theme = {_quote(self.theme)}", f"default_join = {_quote(self.default_join)}"]
        if self.ui_url:
            lines.append(f"ui_url = {_quote(self.ui_url)}")
        lines += ["", "[saved_queries]"]
        lines += [f"{_quote(name)} = {_quote(query)}" for name, query in self.saved_queries.items()]
        return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def load(path: Path | None = None) -> Preferences:
    path = path or paths.preferences()
    prefs = Preferences()
    if not path.exists():
        return prefs
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        prefs.problem = f"ignored {path}: {err}"
        return prefs
    theme = data.get("theme")
    if isinstance(theme, str):
        prefs.theme = theme
    join = data.get("default_join")
    if isinstance(join, str):
        if join in JOIN_MODES:
            prefs.default_join = join
        else:
            prefs.problem = f"default_join {join!r} is not one of {', '.join(JOIN_MODES)}"
    ui_url = data.get("ui_url")
    if isinstance(ui_url, str):
        prefs.ui_url = ui_url
    queries = data.get("saved_queries")
    if isinstance(queries, dict):
        prefs.saved_queries = {str(k): str(v) for k, v in queries.items()}
    return prefs


def save(prefs: Preferences, path: Path | None = None) -> Path:
    path = path or paths.preferences()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(prefs.to_toml(), encoding="utf-8")
    tmp.replace(path)
    return path
