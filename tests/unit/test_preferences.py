from __future__ import annotations

from pathlib import Path

from wfwatch.preferences import Preferences, load, save


def test_round_trip(tmp_path: Path) -> None:
    prefs = Preferences(theme="nord", default_join="live", saved_queries={'odd "name"': "WorkflowId = 'a\\b'"})
    path = save(prefs, tmp_path / "p.toml")
    loaded = load(path)
    assert (loaded.theme, loaded.default_join, loaded.saved_queries) == ("nord", "live", prefs.saved_queries)
    assert loaded.problem == ""


def test_broken_file_falls_back_to_defaults_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("theme = [unclosed")
    prefs = load(path)
    assert prefs.theme == Preferences().theme
    assert "ignored" in prefs.problem


def test_unknown_join_mode_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('default_join = "sideways"\n')
    prefs = load(path)
    assert prefs.default_join == "start" and "sideways" in prefs.problem


def test_the_web_ui_url_round_trips_and_is_left_out_when_unset(tmp_path: Path) -> None:
    path = save(Preferences(ui_url="http://temporal.internal:8080"), tmp_path / "p.toml")
    assert load(path).ui_url == "http://temporal.internal:8080"
    assert "ui_url" not in Preferences().to_toml()
