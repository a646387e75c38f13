"""The README's and the tutorials' Python examples run the way a user runs them: as a script.

tests/test_docs.py runs every block inside pytest, where the caller is an importable module;
some bugs only show in a plain script (a process pool that re-imports ``__main__``, a missing
``if __name__ == "__main__":`` guard, a relative path). Here the runnable blocks of each page
are written, in order, into one ``.py`` file — exactly as printed, no main guard added — and
run by a fresh interpreter (``python page.py``) in an empty temporary folder. Blocks marked
``<!-- notest: REASON -->`` are left out (they cannot run offline), and are listed with their
reasons in the test's output. The pages are also run in-process by tests/test_docs.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_docs import _blocks, _missing, _skipped

ROOT = Path(__file__).resolve().parents[1]
PAGES = [p for p in [ROOT / "README.md", *sorted((ROOT / "docs" / "tutorials").glob("*.md"))] if _blocks(p)]


def script_of(page: Path) -> str:
    """The page's runnable blocks as one script, each headed by a comment naming its line."""
    rel = page.relative_to(ROOT)
    parts = [f"# {rel}:{line}\n{code}" for line, code in _blocks(page)]
    return "\n".join(parts)


def run_script(script: Path, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, str(script)], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow  # about 2 min for all pages: `make test-slow`, run by CI (.ci/run)
@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_runs_as_a_plain_script(page, tmp_path):
    missing = _missing(page)
    if missing:
        pytest.skip(f"{page.name} needs {', '.join(missing)} (see the page's install section)")
    for line, reason in _skipped(page):
        print(f"not run offline: {page.relative_to(ROOT)}:{line}: {reason}")
    script = tmp_path / f"{page.stem.replace('-', '_')}_example.py"
    script.write_text(script_of(page))
    work = tmp_path / "work"
    work.mkdir()
    run = run_script(script, work)
    assert run.returncode == 0, (
        f"{page.relative_to(ROOT)} as a script ({script}) exited {run.returncode}:\n{run.stderr[-4000:]}"
    )


def test_a_script_failure_is_caught(tmp_path):
    """The harness can fail: a block that only works as an importable module fails here."""
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nimport __main__\nassert hasattr(__main__, '__spec__') and __main__.__spec__\n```\n"
    )
    script = tmp_path / "page_example.py"
    script.write_text("\n".join(code for _, code in _blocks(page)))
    assert run_script(script, tmp_path, timeout=60).returncode != 0
