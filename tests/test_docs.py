"""Every ``python`` code block in docs/ and README.md runs, page by page, so the docs cannot rot.

A block preceded by the line ``<!-- notest: REASON -->`` is skipped (it needs files or model
weights a reader has and the test machine does not); the reason is required and shown on the
page (docs/_hooks/notest.py). Blocks of one page share a namespace and run in
order, in a temporary working folder. A page that needs an optional extra or a program says
so in a comment, ``<!-- requires: essentia -->`` (module names or executables, comma
separated); without them the page is skipped with that reason.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"(?P<skip><!-- notest(?:: (?P<reason>[^>]*?))? -->\n)?```python\n(?P<code>.*?)```", re.S)
_REQUIRES = re.compile(r"<!-- requires: (?P<names>[^>]*?) -->")


def _missing(page: Path) -> list[str]:
    """What a page's ``<!-- requires: ... -->`` comments name and this machine lacks."""
    missing = []
    for m in _REQUIRES.finditer(page.read_text()):
        for name in (n.strip() for n in m.group("names").split(",")):
            if name == "essentia" and os.environ.get("XMTAG_ESSENTIA_PYTHON"):
                continue
            if importlib.util.find_spec(name) is None and shutil.which(name) is None:
                missing.append(name)
    return missing


def _blocks(page: Path) -> list[tuple[int, str]]:
    text = page.read_text()
    out = []
    for m in _BLOCK.finditer(text):
        if not m.group("skip"):
            out.append((text[: m.start()].count("\n") + 1, m.group("code")))
    return out


# pages with at least one runnable block (a page of notest blocks only, e.g. offline.md, has none)
PAGES = [p for p in [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"] if _blocks(p)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(page, tmp_path, monkeypatch):
    blocks = _blocks(page)
    missing = _missing(page)
    if missing:
        pytest.skip(f"{page.name} needs {', '.join(missing)} (see the page's install section)")
    monkeypatch.chdir(tmp_path)
    # pages may register taggers: keep the global registry as it was for the tests after us
    import xmtag.taggers

    monkeypatch.setattr(xmtag.taggers, "_REGISTRY", dict(xmtag.taggers._REGISTRY))
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for line, code in blocks:
        try:
            exec(compile(code, f"{page}:{line}", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message is the point
            raise AssertionError(f"example at {page.relative_to(ROOT)}:{line} failed: {exc!r}") from exc
    import matplotlib.pyplot as plt

    plt.close("all")


def _skipped(page: Path) -> list[tuple[int, str | None]]:
    """(line, reason) of each ``notest`` block of a page."""
    text = page.read_text()
    return [
        (text[: m.start()].count("\n") + 1, m.group("reason"))
        for m in _BLOCK.finditer(text)
        if m.group("skip")
    ]


def test_blocks_are_found():
    # the harness itself: the concepts page has runnable examples, the offline page a skipped one
    assert _blocks(ROOT / "docs" / "concepts.md")
    assert _skipped(ROOT / "docs" / "offline.md")


def test_every_skipped_block_says_why():
    """A block the tests cannot run offline is marked ``<!-- notest: REASON -->``, never bare."""
    pages = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
    bare = [
        f"{p.relative_to(ROOT)}:{line}" for p in pages for line, why in _skipped(p) if not (why or "").strip()
    ]
    assert not bare, f"notest blocks without a reason: {bare}"
    assert not [p for p in pages if "<!-- notest -->" in p.read_text()]


def _hook():
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_hook_benchmarks", ROOT / "docs/_hooks/benchmarks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_benchmarks_page_renders_results(tmp_path, monkeypatch):
    pytest.importorskip("mkdocs")
    import json

    hook = _hook()
    monkeypatch.setattr(hook, "RESULTS", tmp_path)
    assert "No benchmark results" in hook.render_results()
    rows = [{"method": "exact", "rows": 32, "err": 0.0}, {"method": "lime", "rows": 1000, "err": 0.125}]
    payload = {
        "benchmark": "cost",
        "environment": {"quick": True, "git_commit": "abc1234"},
        "results": {"rows": rows},
    }
    (tmp_path / "cost_quick.json").write_text(json.dumps(payload))
    (tmp_path / "cost_quick.png").write_bytes(b"\x89PNG")
    (tmp_path / "cost_speed.png").write_bytes(b"\x89PNG")  # another benchmark's name prefix: not cost's
    text = hook.render_results()
    assert "### `cost` (quick run)" in text and "commit `abc1234`" in text
    assert "| method | rows | err |" in text and "| lime | 1000 | 0.125 |" in text
    assert "](benchmarks/results/cost_quick.png)" in text
    # a full run replaces the quick one
    payload["environment"]["quick"] = False
    (tmp_path / "cost.json").write_text(json.dumps(payload))
    text = hook.render_results()
    assert "(quick run)" not in text and "cost_quick.png" not in text


def test_benchmarks_readme_links_are_rewritten():
    pytest.importorskip("mkdocs")
    hook = _hook()
    text = hook._rewrite_readme("# T\n\nsee [the script](cost.py) and [site](https://x.org)\n")
    assert text == "see the script (`benchmarks/cost.py`) and [site](https://x.org)\n"


def test_site_builds_strict(tmp_path):
    """The documentation site builds with warnings as errors (broken references fail)."""
    pytest.importorskip("mkdocstrings")
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    index = (tmp_path / "site" / "index.html").read_text()
    assert "fonts.googleapis.com" not in index  # offline: no web fonts
    assert (tmp_path / "site" / "img" / "demo.png").is_file()
