"""Fixtures of the browser tests: a headless Chromium, and pages written from small explanations.

Every test here is marked ``browser``; without Playwright or Chromium they are skipped with the
reason (``.ci/run`` installs both).
"""

from __future__ import annotations

import pytest
from browser.chromium import browser, missing


def pytest_collection_modifyitems(config, items):
    reason = missing()
    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=f"browser test: {reason}"))


@pytest.fixture(scope="session")
def chromium():
    reason = missing()
    if reason:
        pytest.skip(f"browser test: {reason}")
    with browser() as ctx:
        yield ctx
