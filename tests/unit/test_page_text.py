"""The browser page marks invisible and bidi characters as the dashboard does.

``app.js`` runs in Node with a stub DOM (no browser needed): its ``visible()``
must replace exactly what :func:`wfwatch.text.sanitize` replaces, with the same
placeholders, for text without escape sequences (those the page shows as
``\\x1b`` plus the literal rest; the dashboard folds the whole sequence).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfwatch.text import sanitize

NODE = shutil.which("node")
APP_JS = Path(__file__).parents[2] / "src" / "wfwatch" / "bridge" / "static" / "app.js"
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")

RUNNER = r"""
const fs = require("fs"), vm = require("vm");
const node = () => ({ textContent: "", hidden: false, className: "", dataset: {}, tBodies: [{ replaceChildren() {} }],
  append() {}, replaceChildren() {}, addEventListener() {} });
const ctx = { window: {}, console, URLSearchParams, location: { search: "", hash: "", pathname: "/" },
  document: { getElementById: node, createElement: node, body: { dataset: {} } },
  sessionStorage: { getItem: () => null, setItem() {} }, history: { replaceState() {} },
  fetch: () => Promise.reject(new Error("offline")), setInterval: () => 0, setTimeout: () => 0, clearTimeout() {} };
vm.createContext(ctx);
vm.runInContext(fs.readFileSync(process.argv[1], "utf8"), ctx);
const input = JSON.parse(fs.readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(input.map((t) => ctx.window.wfwatch.visible(t))));
"""


def page_visible(texts: list[str]) -> list[str]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "-e", RUNNER, str(APP_JS)], input=json.dumps(texts), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: list[str] = json.loads(done.stdout)
    return result


def test_the_page_marks_bidi_zero_width_and_controls() -> None:
    texts = ["pay\u202e001\u2066x\u2069", "zw\u200b\u200d\ufeff\u061c", "lines\u2028\u2029", "tag\U000e0041", "ok\n\té"]
    assert page_visible(texts) == [
        "pay\\u202e001\\u2066x\\u2069",
        "zw\\u200b\\u200d\\ufeff\\u061c",
        "lines\\u2028\\u2029",
        "tag\\U000e0041",
        "ok\n\té",
    ]


_chars = st.characters(codec="utf-8", exclude_characters="\x1b\x9b\x9d") | st.sampled_from(
    ["\u202e", "\u2066", "\u200b", "\u2028", "\ufeff", "\U000e0041", "\x07", "\x85", "\n", "\t", "<", "&"]
)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(alphabet=_chars, max_size=30), min_size=1, max_size=40))
def test_the_page_replaces_what_the_dashboard_replaces(texts: list[str]) -> None:
    assert page_visible(texts) == [sanitize(text) for text in texts]
