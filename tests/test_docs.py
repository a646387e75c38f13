"""Every ``python`` code block in docs/ and README.md runs, page by page, so the docs cannot rot.

A block preceded by the line ``<!-- notest -->`` is skipped (it needs files or model weights a
reader has and the test machine does not). Blocks of one page share a namespace and run in
order, in a temporary working folder.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
_BLOCK = re.compile(r"(?P<skip><!-- notest -->\n)?```python\n(?P<code>.*?)```", re.S)


def _blocks(page: Path) -> list[tuple[int, str]]:
    text = page.read_text()
    out = []
    for m in _BLOCK.finditer(text):
        if not m.group("skip"):
            out.append((text[: m.start()].count("\n") + 1, m.group("code")))
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(page, tmp_path, monkeypatch):
    blocks = _blocks(page)
    if not blocks:
        pytest.skip(f"{page.name} has no runnable python blocks")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for line, code in blocks:
        try:
            exec(compile(code, f"{page}:{line}", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message is the point
            raise AssertionError(f"example at {page.relative_to(ROOT)}:{line} failed: {exc!r}") from exc
    import matplotlib.pyplot as plt

    plt.close("all")


def test_blocks_are_found():
    # the harness itself: the concepts page has runnable examples, the offline page a skipped one
    assert _blocks(ROOT / "docs" / "concepts.md")
    offline = (ROOT / "docs" / "offline.md").read_text()
    assert "<!-- notest -->" in offline
